"""Copy links that model switches contend for (SN40L: DDR->HBM per socket; DGX: host->GPU)."""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from sn40l_sim.cost.memory import copy_s


@dataclass
class CopyLink:
    """One link (or a set of parallel per-device links used together), FIFO-shared by copies.

    ``bw_bytes_per_s`` is the aggregate bandwidth a switch sees on it; ``bytes_moved`` lets tests
    check that the bytes on a link equal the sum of the switches that used it.
    """

    name: str
    bw_bytes_per_s: float
    latency_s: float
    resource: simpy.Resource
    bytes_moved: float = field(default=0.0)

    def copy_s(self, n_bytes: float) -> float:
        return copy_s(n_bytes, self.bw_bytes_per_s, self.latency_s)
