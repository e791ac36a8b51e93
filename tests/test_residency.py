"""HBM cache: capacity invariant and eviction order, by hand."""

import pytest

from sn40l_sim.engine.residency import CapacityError, HbmCache
from sn40l_sim.policy.eviction import EVICTION_POLICIES


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
