"""HBM cache: capacity invariant and eviction order, by hand."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.policy.eviction import EVICTION_POLICIES
from sn40l_sim.state.residency import CapacityError, HbmCache


def _cache(capacity=30.0, policy="lru", pinned=frozenset()):
    return HbmCache(capacity, EVICTION_POLICIES.get(policy)(pinned=pinned))


def test_preload_fills_until_full():
    cache = _cache()
    assert [cache.preload(e, 10.0) for e in range(4)] == [True, True, True, False]
    assert cache.used_bytes == 30.0


def test_lru_victim_is_least_recently_used():
    cache = _cache()
    for e in range(3):
        cache.preload(e, 10.0)
    cache.acquire(0, 1.0)
    cache.release(0)
    assert cache.victims_for(10.0) == [1]
    assert cache.victims_for(20.0) == [1, 2]


def test_in_use_and_loading_never_evicted():
    cache = _cache()
    cache.preload(0, 10.0)
    cache.preload(1, 10.0)
    cache.acquire(0, 1.0)
    cache.begin_load(2, 10.0)
    assert cache.victims_for(10.0) == [1]
    assert cache.victims_for(20.0) is None
    with pytest.raises(CapacityError):
        cache.evict(0)


def test_pinned_never_victim():
    cache = _cache(pinned=frozenset({0}))
    for e in range(3):
        cache.preload(e, 10.0)
    assert 0 not in cache.victims_for(20.0)
    assert cache.victims_for(30.0) is None


def test_over_capacity_load_raises():
    cache = _cache()
    cache.preload(0, 25.0)
    with pytest.raises(CapacityError):
        cache.begin_load(1, 10.0)


# --- the memory manager: router weights + KV in use + expert cache on one capacity ----------------

def _memory(kv_floor=20.0, growth=True, pinned=frozenset()):
    """100 B of HBM: 10 router + a 20 B KV floor leave 70 B for experts (7 of 10 B)."""
    policy = EVICTION_POLICIES.get("lru")(pinned=pinned)
    memory = HbmCache(100.0, policy, router_bytes=10.0, kv_floor_bytes=kv_floor, kv_growth=growth)
    for e in range(8):
        memory.preload(e, 10.0)
    return memory


def test_router_and_kv_floor_are_set_aside():
    memory = _memory()
    assert memory.expert_region_bytes == 70.0
    assert len(memory.resident) == 7 and memory.used_bytes == 100.0


def test_kv_within_the_floor_evicts_nothing():
    memory = _memory()
    assert memory.kv_victims(15.0) == []
    memory.claim_kv(15.0)
    assert memory.kv_victims(5.0) == []
    assert memory.used_bytes == 100.0


def test_kv_growing_past_the_floor_evicts_idle_experts_in_lru_order():
    memory = _memory()
    memory.acquire(0, 1.0)  # expert 0 computes: never a victim; 1 is now least recently used
    memory.claim_kv(15.0)
    # 15 + 12 = 27 B of KV: the region grows from 20 to 27 B, so one 10 B expert must go.
    assert memory.kv_victims(12.0, protect=frozenset({0})) == [1]
    memory.evict(1)
    memory.claim_kv(12.0)
    assert memory.used_bytes == 10.0 + 27.0 + 60.0
    memory.release_kv(27.0)
    assert memory.kv_region_bytes == 20.0 and memory.peak_kv_bytes == 27.0


def test_kv_without_growth_is_capped_by_the_reservation():
    memory = _memory(growth=False)
    memory.claim_kv(15.0)
    assert memory.kv_victims(5.0) == []
    assert memory.kv_victims(6.0) is None
    with pytest.raises(CapacityError):
        memory.claim_kv(6.0)


def test_kv_that_would_need_pinned_or_busy_experts_is_refused():
    memory = _memory(kv_floor=0.0, pinned=frozenset(range(10)))
    memory.preload(7, 10.0)
    memory.preload(8, 10.0)  # 10 router + 90 experts: full
    assert memory.kv_victims(1.0) is None
    with pytest.raises(CapacityError):
        memory.claim_kv(1.0)


def test_router_and_floor_larger_than_hbm_is_an_error():
    with pytest.raises(CapacityError):
        HbmCache(100.0, EVICTION_POLICIES.get("lru")(), router_bytes=60.0, kv_floor_bytes=50.0)


memory_op = st.tuples(st.sampled_from(["load", "use", "done", "kv", "free_kv"]), st.integers(0, 9),
                      st.integers(1, 30))


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(memory_op, min_size=10, max_size=120), floor=st.integers(0, 40),
       growth=st.booleans(), router=st.integers(0, 30))
def test_random_operations_never_exceed_capacity(ops, floor, growth, router):
    """Loads, uses and KV claims that follow the manager's answers keep every claim in bounds."""
    memory = HbmCache(100.0, EVICTION_POLICIES.get("lru")(), router_bytes=float(router),
                      kv_floor_bytes=float(floor), kv_growth=growth)
    claims: list[float] = []
    for now, (op, expert, size) in enumerate(ops):
        if op == "load" and expert not in memory.resident:
            victims = memory.victims_for(10.0)
            if victims is not None:
                for v in victims:
                    memory.evict(v)
                memory.begin_load(expert, 10.0)
                memory.end_load(expert, float(now))
        elif op == "use" and memory.is_resident(expert):
            memory.acquire(expert, float(now))
        elif op == "done" and expert in memory.in_use:
            memory.release(expert)
        elif op == "kv":
            victims = memory.kv_victims(float(size))
            if victims is not None:
                for v in victims:
                    memory.evict(v)
                memory.claim_kv(float(size))
                claims.append(float(size))
        elif op == "free_kv" and claims:
            memory.release_kv(claims.pop(0))
        assert memory.used_bytes <= memory.capacity_bytes
        assert memory.kv_used_bytes == pytest.approx(sum(claims))
    assert memory.peak_used_bytes <= memory.capacity_bytes
    if not growth:
        assert memory.peak_kv_bytes <= floor
