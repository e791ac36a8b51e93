"""Copy links that model switches contend for (SN40L: DDR->HBM per socket; DGX: host->GPU)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sn40l_sim.cost.memory import copy_s


@dataclass
class CopyLink:
    """One link (or a set of parallel per-device links used together), FIFO-shared by copies.

    A FIFO server of capacity one whose jobs are never cancelled needs no queue object: a copy
    starts when it is asked for or when the copy before it ends, whichever is later, so the link
    is just the time it is next free (``free_at_s``). ``bw_bytes_per_s`` is the aggregate bandwidth
    a switch sees on it; ``bytes_moved`` lets tests check that the bytes on a link equal the sum of
    the switches that used it.
    """

    name: str
    bw_bytes_per_s: float
    latency_s: float
    free_at_s: float = field(default=0.0)
    bytes_moved: float = field(default=0.0)

    def copy_s(self, n_bytes: float) -> float:
        return copy_s(n_bytes, self.bw_bytes_per_s, self.latency_s)

    def reserve(self, now_s: float, n_bytes: float) -> tuple[float, float]:
        """Queue a copy of ``n_bytes`` asked for at ``now_s``; returns its (start, end) times."""
        start_s = max(now_s, self.free_at_s)
        end_s = start_s + self.copy_s(n_bytes)
        self.free_at_s = end_s
        return start_s, end_s
