"""Which resident expert leaves HBM when a new one needs room.

An eviction policy is told what happens to experts (``on_load``, ``on_use``, ``on_evict``) and
answers one question, ``victim(evictable)``: which of these experts should go first. The HBM cache
(:mod:`sn40l_sim.state.residency`) owns capacity and busy state; the policy only ranks.

Extension point: subclass :class:`EvictionPolicy`, override :meth:`EvictionPolicy.rank` (a smaller
rank is evicted first; it must end with the expert index so ranks are unique and ties go to the
lowest index), override ``on_*`` if the rank needs more state (call ``super()``), and register the
class: ``@EVICTION_POLICIES.register("name")``.

Pinning is part of the base class: an expert in ``pinned`` is never a victim, whatever the policy
(so ``lfu`` with a hot set works too). ``pinned`` is the LRU policy that insists on a hot set.

Why a heap: with a 1,000-expert catalogue that switches constantly, sorting the residents per
eviction would dominate the run. Ranks live in a min-heap with lazy deletion (an entry is valid
while it equals the expert's current rank), so updates cost O(log n) and a victim is found by
popping stale or busy entries only.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection

from sn40l_sim.errors import InputError
from sn40l_sim.policy.registry import Registry

Rank = tuple[float, ...]


class EvictionPolicy:
    """Base class: each resident expert's rank in a lazy min-heap; subclasses define ``rank``."""

    def __init__(self, *, pinned: frozenset[int] = frozenset()) -> None:
        self.pinned = frozenset(pinned)
        self._last_use_s: dict[int, float] = {}  # resident experts the policy knows about
        self._rank: dict[int, Rank] = {}  # current rank of each resident, unpinned expert
        self._heap: list[tuple[Rank, int]] = []

    def rank(self, expert: int, last_use_s: float) -> Rank:
        """Eviction order key, smallest first; default: least recent, ties to the lowest index."""
        return (last_use_s, expert)

    def on_load(self, expert: int, now_s: float) -> None:
        """``expert`` became resident (its copy into HBM finished) at ``now_s``."""
        self._touch(expert, now_s)

    def on_use(self, expert: int, now_s: float) -> None:
        """A batch of ``expert`` was scheduled or ran at ``now_s``."""
        self._touch(expert, now_s)

    def on_evict(self, expert: int) -> None:
        """``expert`` left HBM; its heap entries become stale."""
        self._last_use_s.pop(expert, None)
        self._rank.pop(expert, None)

    def victim(self, evictable: Collection[int]) -> int | None:
        """The expert among ``evictable`` to evict first; None if none may go (empty or all pinned).

        ``evictable`` are resident experts that are neither running nor being loaded. An expert the
        policy has never been told about ranks before all others (lowest index first).
        """
        candidates = set(evictable)
        candidates.difference_update(self.pinned)
        if not candidates:
            return None
        unknown = candidates.difference(self._rank)
        if unknown:
            return min(unknown)
        return self._pop_first(candidates)

    def _touch(self, expert: int, now_s: float) -> None:
        self._last_use_s[expert] = now_s
        self._refresh(expert)

    def _refresh(self, expert: int) -> None:
        """Recompute ``expert``'s rank and push it when it changed (the old entry goes stale)."""
        if expert in self.pinned:
            return
        rank = self.rank(expert, self._last_use_s[expert])
        if self._rank.get(expert) == rank:
            return
        self._rank[expert] = rank
        heapq.heappush(self._heap, (rank, expert))
        if len(self._heap) > 2 * len(self._rank) + 64:
            self._compact()

    def _pop_first(self, candidates: set[int]) -> int | None:
        """Smallest valid heap entry whose expert is a candidate; busy ones are put back."""
        kept: list[tuple[Rank, int]] = []
        found: int | None = None
        while self._heap:
            entry = heapq.heappop(self._heap)
            rank, expert = entry
            if self._rank.get(expert) != rank:
                continue  # stale: the expert was used again or evicted
            kept.append(entry)
            if expert in candidates:
                found = expert
                break
        for entry in kept:
            heapq.heappush(self._heap, entry)
        return found

    def _compact(self) -> None:
        self._heap = [(rank, expert) for expert, rank in self._rank.items()]
        heapq.heapify(self._heap)


EVICTION_POLICIES: Registry[type[EvictionPolicy]] = Registry("eviction policy")


@EVICTION_POLICIES.register("lru")
class Lru(EvictionPolicy):
    """Least recently used (loaded or used) goes first; equal times go to the lowest index."""


@EVICTION_POLICIES.register("lfu")
class Lfu(EvictionPolicy):
    """Least frequently used goes first; equal counts go to the least recent, then lowest index.

    Use counts are kept for the whole run, not reset on eviction ("perfect" LFU): a popular expert
    that was pushed out keeps its count when it comes back, which is what skewed expert popularity
    needs (in-cache LFU would make every freshly loaded expert the next victim).
    """

    def __init__(self, *, pinned: frozenset[int] = frozenset()) -> None:
        super().__init__(pinned=pinned)
        self.n_uses: dict[int, int] = {}

    def rank(self, expert: int, last_use_s: float) -> Rank:
        return (self.n_uses.get(expert, 0), last_use_s, expert)

    def on_use(self, expert: int, now_s: float) -> None:
        self.n_uses[expert] = self.n_uses.get(expert, 0) + 1
        super().on_use(expert, now_s)


@EVICTION_POLICIES.register("pinned")
class PinnedLru(EvictionPolicy):
    """A configured hot set stays in HBM for the whole run; the other experts are LRU."""

    def __init__(self, *, pinned: frozenset[int] = frozenset()) -> None:
        if not pinned:
            raise InputError("eviction 'pinned' needs a non-empty list of pinned experts",
                             field="serving.pinned")
        super().__init__(pinned=pinned)
