"""A serving group's memory: HBM (router weights, KV cache, expert cache) and the backing store.

Pure state (no SimPy). :class:`HbmCache` is the memory manager of one serving group's HBM. It holds
three claims on one capacity, and every mutation re-checks the invariant

    router_bytes + max(kv_floor_bytes, kv_used_bytes) + expert_bytes <= capacity_bytes

* the router's weights (always resident, fixed at construction);
* the KV cache of the requests in the running batch: a floor set aside up front
  (``serving.kv_reservation``) that the KV in use may grow past (``serving.kv_growth``), taking
  room from the expert cache by evicting idle experts; without growth the floor is also the cap;
* a cache of expert weights, with a pluggable eviction policy. An expert being loaded holds its
  bytes from the start of the copy; an expert in use (computing) or loading is never evicted.

:class:`BackingStore` is the per-group share of DDR (SN40L) or host DRAM (DGX) that holds every
servable expert; HBM caches a subset of it (an inclusive cache, as P1 describes Samba-CoE).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Protocol


class EvictionPolicy(Protocol):
    """What the HBM cache asks of an eviction policy (``sn40l_sim.policy.eviction`` implements it).

    A Protocol here keeps state below policy: the cache owns capacity and busy state and only asks
    the policy to rank, and to hear what happened to each expert.
    """

    def on_load(self, expert: int, now_s: float) -> None: ...

    def on_use(self, expert: int, now_s: float) -> None: ...

    def on_evict(self, expert: int) -> None: ...

    def victim(self, evictable: Collection[int]) -> int | None: ...

_SLACK = 1 + 1e-12  # float sums of byte counts may round up by an ulp


class CapacityError(RuntimeError):
    """An internal invariant broke: a memory would exceed its capacity."""


class HbmCache:
    """One serving group's HBM: router weights + KV cache in use + a cache of expert weights.

    ``capacity_bytes`` is the group's whole HBM (per-device capacity x devices in the group).
    Peaks of each claim are recorded so tests and summaries can check them after a run.
    """

    def __init__(self, capacity_bytes: float, policy: EvictionPolicy, *, router_bytes: float = 0.0,
                 kv_floor_bytes: float = 0.0, kv_growth: bool = True) -> None:
        self.capacity_bytes = capacity_bytes
        self.router_bytes = router_bytes
        self.kv_floor_bytes = kv_floor_bytes
        self.kv_cap_bytes = math.inf if kv_growth else kv_floor_bytes
        self.kv_used_bytes = 0.0
        self.expert_bytes = 0.0
        self.policy = policy
        self.resident: dict[int, float] = {}
        self.loading: set[int] = set()
        self.in_use: dict[int, int] = {}
        self.peak_used_bytes = 0.0
        self.peak_kv_bytes = 0.0
        if router_bytes + kv_floor_bytes > capacity_bytes * _SLACK:
            raise CapacityError(f"router weights {router_bytes:.4g} B and KV reservation "
                                f"{kv_floor_bytes:.4g} B exceed HBM {capacity_bytes:.4g} B")

    # --- accounting ---------------------------------------------------------------------------
    @property
    def kv_region_bytes(self) -> float:
        """HBM the KV cache occupies now: the reservation, or more while the batch needs it."""
        return max(self.kv_floor_bytes, self.kv_used_bytes)

    @property
    def used_bytes(self) -> float:
        return self.router_bytes + self.kv_region_bytes + self.expert_bytes

    @property
    def free_bytes(self) -> float:
        return self.capacity_bytes - self.used_bytes

    @property
    def expert_region_bytes(self) -> float:
        """Largest room expert weights can ever have: HBM minus router weights and the floor."""
        return self.capacity_bytes - self.router_bytes - self.kv_floor_bytes

    def is_resident(self, expert: int) -> bool:
        return expert in self.resident and expert not in self.loading

    def _check(self) -> None:
        used = self.used_bytes
        if used > self.capacity_bytes * _SLACK or self.kv_used_bytes > self.kv_cap_bytes * _SLACK:
            raise CapacityError(f"HBM over capacity: {used} > {self.capacity_bytes} "
                                f"(KV {self.kv_used_bytes}, cap {self.kv_cap_bytes})")
        if used > self.peak_used_bytes:
            self.peak_used_bytes = used
        if self.kv_used_bytes > self.peak_kv_bytes:
            self.peak_kv_bytes = self.kv_used_bytes

    # --- expert cache -------------------------------------------------------------------------
    def victims_for(self, n_bytes: float, *, protect: frozenset[int] = frozenset()) -> list[int] | None:
        """Experts to evict so ``n_bytes`` fit, in the policy's order; None if it cannot be done."""
        # free_bytes, inlined (the same sum in the same order): this runs for every admission
        free = self.capacity_bytes - (self.router_bytes + max(self.kv_floor_bytes, self.kv_used_bytes)
                                      + self.expert_bytes)
        if free >= n_bytes:
            return []
        # A set built in C: a policy ranks candidates, so their order does not matter.
        evictable = set(self.resident).difference(self.loading, self.in_use, protect)
        chosen: list[int] = []
        while free < n_bytes:
            victim = self.policy.victim(evictable)
            if victim is None:
                return None
            evictable.discard(victim)
            chosen.append(victim)
            free += self.resident[victim]
        return chosen

    def evict(self, expert: int) -> None:
        if expert in self.in_use or expert in self.loading:
            raise CapacityError(f"expert {expert} is busy and cannot be evicted")
        self.expert_bytes -= self.resident.pop(expert)
        self.policy.on_evict(expert)

    def begin_load(self, expert: int, n_bytes: float) -> None:
        self.resident[expert] = n_bytes
        self.loading.add(expert)
        self.expert_bytes += n_bytes
        self._check()

    def end_load(self, expert: int, now_s: float) -> None:
        self.loading.discard(expert)
        self.policy.on_load(expert, now_s)

    def preload(self, expert: int, n_bytes: float) -> bool:
        """Place an expert at time 0 if it fits without eviction (warm start)."""
        if self.free_bytes < n_bytes:
            return False
        self.begin_load(expert, n_bytes)
        self.end_load(expert, 0.0)
        return True

    def acquire(self, expert: int, now_s: float) -> None:
        self.in_use[expert] = self.in_use.get(expert, 0) + 1
        self.policy.on_use(expert, now_s)

    def release(self, expert: int) -> None:
        count = self.in_use[expert] - 1
        if count:
            self.in_use[expert] = count
        else:
            del self.in_use[expert]

    # --- KV cache -----------------------------------------------------------------------------
    def kv_victims(self, n_bytes: float, *, protect: frozenset[int] = frozenset()) -> list[int] | None:
        """Experts to evict so a request's ``n_bytes`` of KV fit; None if they cannot now."""
        if self.kv_used_bytes + n_bytes > self.kv_cap_bytes * _SLACK:
            return None
        grow = max(self.kv_floor_bytes, self.kv_used_bytes + n_bytes) - self.kv_region_bytes
        return self.victims_for(grow, protect=protect)

    def claim_kv(self, n_bytes: float) -> None:
        """A request joined the batch: its KV (prompt + output tokens) is held until it ends."""
        self.kv_used_bytes += n_bytes
        self._check()

    def release_kv(self, n_bytes: float) -> None:
        self.kv_used_bytes = max(0.0, self.kv_used_bytes - n_bytes)


class BackingStore:
    """Where a group's servable experts live: its share of DDR (SN40L) or host DRAM (DGX)."""

    def __init__(self, capacity_bytes: float) -> None:
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0.0
        self.experts: set[int] = set()

    def place(self, expert: int, n_bytes: float) -> bool:
        """Store an expert if it fits; False (and nothing changes) when it does not."""
        if self.used_bytes + n_bytes > self.capacity_bytes * _SLACK:
            return False
        self.used_bytes += n_bytes
        self.experts.add(expert)
        return True
