"""Which serving groups hold which experts: the static placement, with optional replicas.

Pure state (no SimPy). Every servable expert has a primary group, ``i mod n_groups``, filled in
catalogue order until a group's backing store (its DDR, or its share of host DRAM) is full; the
experts placed so are the servable ones (a prefix of the list, so adding replicas never makes an
expert unservable). Replicas then go where they still fit, ``replica k`` of expert ``i`` on group
``(i + k * n_groups // r) mod n_groups``, so the r copies of an expert land on r distinct groups,
spread evenly. A request is sent to the replica group with the fewest outstanding requests (see
``Simulation``), which is what lets a capacity plan grow past one group per expert.
"""

from __future__ import annotations

from dataclasses import dataclass

from sn40l_sim.state.residency import BackingStore


@dataclass(frozen=True)
class Placement:
    """Each group's backing store, each expert's groups (primary first), and how many are servable."""

    stores: list[BackingStore]
    groups_of: list[tuple[int, ...]]  # by expert index; () when the expert is not servable
    n_servable: int

    @property
    def n_replicas(self) -> int:
        """Expert copies placed beyond the primaries."""
        return sum(max(0, len(g) - 1) for g in self.groups_of)


def replica_count(replicas: int | str, n_experts: int, n_groups: int) -> int:
    """Copies per expert: a number (at most one per group), or ``auto``: as many as the groups
    allow when every expert gets the same number (at least one)."""
    if replicas == "auto":
        return max(1, n_groups // max(1, n_experts))
    return max(1, min(int(replicas), n_groups))


def place(expert_bytes: list[float], n_groups: int, capacity_bytes: float, replicas: int) -> Placement:
    """Primaries in catalogue order until one does not fit, then replicas where they fit."""
    stores = [BackingStore(capacity_bytes) for _ in range(n_groups)]
    groups_of: list[list[int]] = [[] for _ in expert_bytes]
    n_servable = 0
    for i, n_bytes in enumerate(expert_bytes):
        if not stores[i % n_groups].place(i, n_bytes):
            break
        groups_of[i].append(i % n_groups)
        n_servable += 1
    stride = n_groups // replicas
    for k in range(1, replicas):
        for i in range(n_servable):
            g = (i + k * stride) % n_groups
            if stores[g].place(i, expert_bytes[i]):
                groups_of[i].append(g)
    return Placement(stores, [tuple(g) for g in groups_of], n_servable)
