"""Which experts are in a serving group's HBM: a cache with an explicit capacity invariant.

Pure state (no SimPy): the serving group asks for room, the eviction policy picks victims, and
every mutation re-checks ``used_bytes <= capacity_bytes``. An expert being loaded holds its bytes
from the start of the copy; an expert in use (computing) or loading is never evicted.
"""

from __future__ import annotations

from sn40l_sim.policy.eviction import EvictionPolicy


class CapacityError(RuntimeError):
    """An internal invariant broke: the cache would exceed its capacity."""


class HbmCache:
    """Expert weights resident in the HBM region left after router weights and KV reservation."""

    def __init__(self, capacity_bytes: float, policy: EvictionPolicy) -> None:
        self.capacity_bytes = capacity_bytes
        self.used_bytes = 0.0
        self.policy = policy
        self.resident: dict[int, float] = {}
        self.loading: set[int] = set()
        self.in_use: dict[int, int] = {}
        self.peak_used_bytes = 0.0

    @property
    def free_bytes(self) -> float:
        return self.capacity_bytes - self.used_bytes

    def is_resident(self, expert: int) -> bool:
        return expert in self.resident and expert not in self.loading

    def _check(self) -> None:
        if self.used_bytes > self.capacity_bytes * (1 + 1e-12):
            raise CapacityError(f"HBM over capacity: {self.used_bytes} > {self.capacity_bytes}")
        self.peak_used_bytes = max(self.peak_used_bytes, self.used_bytes)

    def victims_for(self, n_bytes: float, *, protect: frozenset[int] = frozenset()) -> list[int] | None:
        """Experts to evict so ``n_bytes`` fit, in the policy's order; None if it cannot be done."""
        free = self.free_bytes
        if free >= n_bytes:
            return []
        evictable = [e for e in self.resident
                     if e not in self.loading and e not in self.in_use and e not in protect]
        chosen: list[int] = []
        while free < n_bytes:
            victim = self.policy.victim(evictable)
            if victim is None:
                return None
            evictable.remove(victim)
            chosen.append(victim)
            free += self.resident[victim]
        return chosen

    def evict(self, expert: int) -> None:
        if expert in self.in_use or expert in self.loading:
            raise CapacityError(f"expert {expert} is busy and cannot be evicted")
        self.used_bytes -= self.resident.pop(expert)
        self.policy.on_evict(expert)

    def begin_load(self, expert: int, n_bytes: float) -> None:
        self.resident[expert] = n_bytes
        self.loading.add(expert)
        self.used_bytes += n_bytes
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
