"""Eviction policies: victim order by hand; a simulated cache checked against a naive reference."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.errors import InputError
from sn40l_sim.policy.eviction import EVICTION_POLICIES, EvictionPolicy, Lfu, Lru, PinnedLru


def _loaded(policy: EvictionPolicy, experts: list[int]) -> EvictionPolicy:
    for t, expert in enumerate(experts):
        policy.on_load(expert, float(t))
    return policy


def test_registry_has_the_three_policies() -> None:
    assert EVICTION_POLICIES.names() == ["lfu", "lru", "pinned"]
    assert EVICTION_POLICIES.get("lru") is Lru
    with pytest.raises(InputError, match="did you mean 'lru'"):
        EVICTION_POLICIES.get("lur")


def test_lru_evicts_least_recently_used_first() -> None:
    lru = _loaded(Lru(), [0, 1, 2])  # loaded at t = 0, 1, 2
    lru.on_use(0, 3.0)  # order by recency now: 1, 2, 0
    assert lru.victim([0, 1, 2]) == 1
    assert lru.victim([0, 2]) == 2  # 1 is busy: next in line
    assert lru.victim([0]) == 0
    lru.on_evict(1)
    lru.on_use(2, 4.0)  # order: 0, 2
    assert lru.victim([0, 2]) == 0


def test_lru_ties_go_to_lowest_index_and_unknown_experts_go_first() -> None:
    lru = Lru()
    for expert in (5, 3, 4):
        lru.on_load(expert, 1.0)
    assert lru.victim([5, 4, 3]) == 3
    lru.on_use(3, 2.0)
    assert lru.victim([5, 4, 3]) == 4
    assert lru.victim([5, 4, 9, 8]) == 8  # never reported to the policy: ranks first


def test_lfu_evicts_least_used_then_least_recent() -> None:
    lfu = _loaded(Lfu(), [0, 1, 2, 3])
    for t, expert in enumerate([0, 0, 0, 1, 2, 2, 3], start=10):
        lfu.on_use(expert, float(t))
    # uses: 0 x3 (last 12), 1 x1 (last 13), 2 x2 (last 15), 3 x1 (last 16)
    assert lfu.victim([0, 1, 2, 3]) == 1  # count 1, less recent than 3
    assert lfu.victim([0, 2, 3]) == 3
    assert lfu.victim([0, 2]) == 2
    lfu.on_use(1, 20.0)  # 1 now has 2 uses, most recent of the twos
    assert lfu.victim([0, 1, 2]) == 2


def test_lfu_counts_survive_eviction() -> None:
    lfu = _loaded(Lfu(), [0, 1])
    for t in range(5):
        lfu.on_use(0, 10.0 + t)
    lfu.on_use(1, 20.0)
    lfu.on_evict(0)
    lfu.on_load(0, 30.0)  # back in HBM, still the most used
    assert lfu.victim([0, 1]) == 1


def test_pinned_experts_are_never_victims() -> None:
    pinned = PinnedLru(pinned=frozenset({0, 2}))
    _loaded(pinned, [0, 1, 2, 3])
    assert pinned.victim([0, 1, 2, 3]) == 1
    assert pinned.victim([0, 2, 3]) == 3
    assert pinned.victim([0, 2]) is None
    assert pinned.victim([]) is None
    lfu = _loaded(Lfu(pinned=frozenset({0})), [0, 1])
    lfu.on_use(1, 5.0)
    assert lfu.victim([0, 1]) == 1  # pinning works with any policy


def test_pinned_policy_needs_a_hot_set() -> None:
    with pytest.raises(InputError, match="pinned"):
        PinnedLru()


def test_heap_stays_bounded_under_many_uses() -> None:
    lru = _loaded(Lru(), list(range(10)))
    for t in range(10_000):
        lru.on_use(t % 10, 100.0 + t)
    assert len(lru._heap) <= 2 * 10 + 64
    assert lru.victim(list(range(10))) == 0  # 0 was used at 100 + 9990, the oldest of the last ten


# --- a simulated cache driven by random operations --------------------------------------------

def _reference_victim(name: str, candidates: set[int], last: dict[int, float],
                      uses: dict[int, int]) -> int | None:
    """The definition of each policy, by brute force."""
    if not candidates:
        return None
    if name == "lfu":
        return min(candidates, key=lambda e: (uses.get(e, 0), last[e], e))
    return min(candidates, key=lambda e: (last[e], e))


operation = st.tuples(st.sampled_from(["request", "finish", "finish"]), st.integers(0, 11))


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from(["lru", "lfu", "pinned"]),
       sizes=st.lists(st.integers(1, 5), min_size=12, max_size=12),
       capacity=st.integers(5, 15),
       pinned=st.frozensets(st.integers(0, 11), min_size=1, max_size=3),
       ops=st.lists(operation, min_size=40, max_size=150))
def test_simulated_cache_respects_capacity_pins_and_busy_experts(
        name: str, sizes: list[int], capacity: int, pinned: frozenset[int],
        ops: list[tuple[str, int]]) -> None:
    """Experts are requested (loaded if absent, then busy) and finished; evictions use the policy.

    Invariants: used <= capacity; a victim is never pinned or busy; and every victim equals the
    brute-force definition of the policy.
    """
    policy = EVICTION_POLICIES.get(name)(pinned=pinned if name == "pinned" else frozenset())
    pins = policy.pinned
    resident: dict[int, int] = {}
    busy: set[int] = set()
    last: dict[int, float] = {}
    uses: dict[int, int] = {}
    loaded: set[int] = set()
    for now, (op, expert) in enumerate(ops):
        if op == "finish":
            busy.discard(expert)
            continue
        if expert not in resident:
            free = capacity - sum(resident.values())
            evictable = [e for e in resident if e not in busy]
            while free < sizes[expert]:
                choice = policy.victim(evictable)
                expected = _reference_victim(name, set(evictable) - pins, last, uses)
                assert choice == expected
                if choice is None:
                    break
                assert choice not in pins and choice not in busy
                evictable.remove(choice)
                free += resident.pop(choice)
                policy.on_evict(choice)
                del last[choice]
            if free < sizes[expert]:
                continue  # refused: nothing (more) may be evicted
            resident[expert] = sizes[expert]
            loaded.add(expert)
            policy.on_load(expert, float(now))
            last[expert] = float(now)
        busy.add(expert)
        policy.on_use(expert, float(now))
        last[expert] = float(now)
        uses[expert] = uses.get(expert, 0) + 1
        assert sum(resident.values()) <= capacity
        assert pins & loaded <= set(resident)  # a pinned expert, once loaded, never leaves
