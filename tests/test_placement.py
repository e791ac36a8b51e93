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
