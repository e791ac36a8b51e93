"""Expert placement with replicas: by hand, and a replicated expert served by two groups."""

from __future__ import annotations

import pytest
from conftest import small_scenario

from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.runner import run_scenario
from sn40l_sim.state.placement import place, replica_count

GB = 1e9


def test_primaries_then_replicas_on_distinct_spread_groups():
    p = place([10 * GB, 10 * GB], n_groups=4, capacity_bytes=100 * GB, replicas=2)
    assert p.groups_of == [(0, 2), (1, 3)] and p.n_servable == 2 and p.n_replicas == 2
    p = place([10 * GB] * 3, n_groups=6, capacity_bytes=100 * GB, replicas=3)
    assert p.groups_of == [(0, 2, 4), (1, 3, 5), (2, 4, 0)]


def test_replicas_never_make_an_expert_unservable():
    # Room for 3 experts per group: primaries fill group 0 with experts 0, 2, 4 first.
    sizes = [10 * GB] * 7
    alone = place(sizes, n_groups=2, capacity_bytes=30 * GB, replicas=1)
    both = place(sizes, n_groups=2, capacity_bytes=30 * GB, replicas=2)
    assert alone.n_servable == both.n_servable == 6
    assert both.n_replicas == 0  # no room left for copies
    assert all(store.used_bytes <= store.capacity_bytes for store in both.stores)


def test_replica_count():
    assert replica_count(1, 150, 128) == 1
    assert replica_count(4, 2, 3) == 3  # at most one copy per group
    assert replica_count("auto", 150, 128) == 1
    assert replica_count("auto", 10, 64) == 6


@pytest.mark.parametrize("replicas", [1, 2])
def test_a_replicated_hot_expert_is_served_by_both_groups(write_scenario, tmp_path, replicas):
    data = small_scenario(
        experts=[{"model": "llama-2-7b", "count": 1, "name": "hot"}],
        router={"latency": "1 ms"},
        workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 40.0},
                                "prompt_tokens": 512, "output_tokens": 64, "requests": 200}},
        serving={"tensor_parallel": 4, "max_batch": 2, "replicas": replicas})
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path / "out", plots=False)
    req = result.requests
    assert (req["outcome"] == "completed").all() and len(req) == 200
    assert set(req["group"]) == ({0, 1} if replicas == 2 else {0})
    assert result.summary["memory"]["n_expert_replicas"] == replicas - 1
    if replicas == 2:  # each group takes a fair share of a load one group alone cannot keep up with
        assert req["group"].value_counts().min() >= 60


# --- load-aware placement: by hand, and its invariants ---------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sn40l_sim.policy.placement_rules import (  # noqa: E402
    PlacementInput,
    copies_wanted,
    group_loads,
    place_by_load,
)


def test_copies_in_proportion_to_load():
    # 4 groups: ideal load 1/4 each; a half-share expert needs 2 copies, a tenth needs 1.
    assert copies_wanted([0.5, 0.3, 0.1, 0.1], 4) == [2, 2, 1, 1]
    assert copies_wanted([1.0], 3) == [3]
    assert copies_wanted([0.0, 0.0], 5) == [1, 1]


def test_hot_expert_replicated_and_cold_ones_packed_by_hand():
    # 3 groups, experts of 10 GB, 100 GB backing and 25 GB of HBM cache (two experts) per group.
    # Loads 0.6/0.2/0.1/0.1: expert 0 wants ceil(1.8) = 2 copies of 0.3; the rest one each.
    # Primaries, heaviest copy first: e0 -> g0 (0.3), e1 -> g1 (0.2), e2 -> g2 (0.1),
    # e3 -> g2 (0.2, least loaded; ties broken by bytes). Replica of e0 -> g1 (0.2 < g2's 0.2 by
    # bytes: g1 holds 10 GB, g2 20 GB, and g2 has no HBM room left anyway).
    p = place_by_load(PlacementInput([10 * GB] * 4, [0.6, 0.2, 0.1, 0.1], 3, 100 * GB, 25 * GB))
    assert p.groups_of == [(0, 1), (1,), (2,), (2,)]
    assert p.n_servable == 4 and p.n_replicas == 1
    assert list(group_loads(p, [0.6, 0.2, 0.1, 0.1], 3)) == pytest.approx([0.3, 0.5, 0.2])


def test_no_room_means_not_servable_and_replicas_stay_within_hbm():
    p = place_by_load(PlacementInput([10 * GB] * 5, [5, 1, 1, 1, 1], 2, 20 * GB, 10 * GB))
    assert p.n_servable == 4 and sum(1 for g in p.groups_of if not g) == 1
    assert p.n_replicas == 0  # the HBM cache holds one expert: a replica would only be switched


sizes_st = st.lists(st.sampled_from([13.5 * GB, 27 * GB, 140 * GB]), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(sizes=sizes_st, data=st.data(), n_groups=st.integers(1, 24),
       backing=st.floats(10 * GB, 2000 * GB), hbm=st.floats(0, 600 * GB))
def test_load_aware_never_over_capacity_and_places_what_fits(sizes, data, n_groups, backing, hbm):
    loads = data.draw(st.lists(st.floats(0, 100), min_size=len(sizes), max_size=len(sizes)))
    p = place_by_load(PlacementInput(sizes, loads, n_groups, backing, hbm))
    assert all(s.used_bytes <= s.capacity_bytes * (1 + 1e-9) for s in p.stores)
    for e, held_by in enumerate(p.groups_of):
        assert len(set(held_by)) == len(held_by)  # copies on distinct groups
        if not held_by:  # unservable only when no group has room for it even now
            assert all(s.capacity_bytes - s.used_bytes < sizes[e] for s in p.stores)
    room = min(backing, hbm) * (1 + 1e-9)
    for s in p.stores:  # a group holding a replica stays within its HBM expert cache
        replicas_here = [e for e in s.experts if p.groups_of[e].index(p.stores.index(s)) > 0]
        if replicas_here:
            assert s.used_bytes <= room
    assert p.n_servable == sum(1 for g in p.groups_of if g)


@settings(max_examples=200, deadline=None)
@given(loads=st.lists(st.floats(0.001, 100), min_size=1, max_size=60), n_groups=st.integers(1, 40))
def test_load_aware_within_one_copy_of_ideal_when_memory_does_not_bind(loads, n_groups):
    sizes = [13.5 * GB] * len(loads)
    ample = len(loads) * 13.5 * GB * 2
    p = place_by_load(PlacementInput(sizes, loads, n_groups, ample, ample))
    assert p.n_servable == len(loads)  # every expert placed
    ideal = sum(loads) / n_groups
    heaviest_copy = max(load / len(g) for load, g in zip(loads, p.groups_of, strict=True))
    assert group_loads(p, loads, n_groups).max() <= (ideal + heaviest_copy) * (1 + 1e-9)
    if n_groups < len(loads):  # packing: a copy carries at most the ideal (copies_wanted)
        assert heaviest_copy <= ideal * (1 + 1e-9)
    else:  # dedicated: one copy per group, and no seat moved elsewhere lightens the heaviest copy
        copies = [len(g) for g in p.groups_of]
        assert sum(copies) == n_groups and all(len(set(g)) == 1 for g in group_members(p))
        for src in range(len(loads)):
            for dst in range(len(loads)):
                if src != dst and copies[src] > 1:
                    moved = copies.copy()
                    moved[src] -= 1
                    moved[dst] += 1
                    assert max(x / c for x, c in zip(loads, moved, strict=True)) >= \
                        heaviest_copy * (1 - 1e-9)


def group_members(p):
    return [s.experts for s in p.stores]


def test_dedicated_groups_when_groups_outnumber_experts():
    # 5 groups, 2 experts of loads 3 and 1 (D'Hondt): seats 2, 3 and 4 go to the first (3/1,
    # 3/2 > 1/1, then 3/3 = 1/1 ties to the first expert): 4 copies of 0.75 and 1 of 1.
    p = place_by_load(PlacementInput([10 * GB] * 2, [3.0, 1.0], 5, 100 * GB, 50 * GB))
    assert p.groups_of == [(0, 1, 2, 3), (4,)]
    # An expert too large for a group's HBM cache alone: packing, not dedicated groups.
    p = place_by_load(PlacementInput([10 * GB, 60 * GB], [3.0, 1.0], 5, 100 * GB, 50 * GB))
    assert len(p.groups_of[1]) == 1 and all(len(s.experts) >= 1 for s in p.stores[:2])
