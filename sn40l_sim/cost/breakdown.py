"""The time and traffic breakdown of a group of operators (a layer, a graph, a step)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupCost:
    """Seconds by cause, FLOP, HBM bytes and kernel launches; ``total_s`` is not their sum but how
    they combine (serial for unfused kernels, overlapped inside a fused graph)."""

    compute_s: float
    memory_s: float
    network_s: float
    launch_s: float
    total_s: float
    flop: float
    hbm_bytes: float
    n_launches: int

    def times(self, count: int) -> GroupCost:
        """``count`` identical groups one after another."""
        return GroupCost(count * self.compute_s, count * self.memory_s, count * self.network_s,
                         count * self.launch_s, count * self.total_s, count * self.flop,
                         count * self.hbm_bytes, count * self.n_launches)

    def __add__(self, other: GroupCost) -> GroupCost:
        return GroupCost(self.compute_s + other.compute_s, self.memory_s + other.memory_s,
                         self.network_s + other.network_s, self.launch_s + other.launch_s,
                         self.total_s + other.total_s, self.flop + other.flop,
                         self.hbm_bytes + other.hbm_bytes, self.n_launches + other.n_launches)


ZERO = GroupCost(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
