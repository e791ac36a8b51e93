"""Per-group tensor parallelism: ``experts[i].tensor_parallel`` from the file to the engine.

Hand calculation used throughout: one SN40L node (8 sockets of 64 GiB HBM) serving 12 x Llama-2-7B
at TP1 and 1 x Llama-2-70B at TP4, the two groups taking half the requests each. Expected loads
(share x weight bytes) put ~91 % of the work on the 70B, so after one group of each degree (5
devices) the 3 devices left can only take TP1 groups: one TP4 group on sockets 0-3, four TP1 groups
on sockets 4, 5, 6 and 7.
"""

from __future__ import annotations

import pytest
from conftest import small_scenario

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.cli import main
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.engine.simulation import _group_specs
from sn40l_sim.plan.planner import groups_per_degree, plan_run
from sn40l_sim.studies.footprint import catalogue_footprint

SEVEN, SEVENTY = get_model("llama-2-7b"), get_model("llama-2-70b")
GIB = 2**30


def mixed(**serving) -> dict:
    return small_scenario(
        experts=[{"model": "llama-2-7b", "count": 12, "name_prefix": "small", "tensor_parallel": 1,
                  "share": 0.5},
                 {"model": "llama-2-70b", "count": 1, "name": "large", "tensor_parallel": 4,
                  "share": 0.5}],
        workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 2.0},
                                "prompt_tokens": 128, "output_tokens": 8, "requests": 60}},
        serving={"tensor_parallel": 8, "max_batch": 4, **serving})


def test_groups_without_their_own_tp_inherit_the_serving_one(write_scenario):
    data = mixed()
    del data["experts"][0]["tensor_parallel"]
    data["serving"]["tensor_parallel"] = 4
    resolved = load_scenario(write_scenario(data))
    assert resolved.group_tensor_parallel == (4, 4)


def test_plan_builds_each_degree_on_its_own_devices(write_scenario):
    plan = plan_run(load_scenario(write_scenario(mixed())))
    shapes = [(g.tensor_parallel, g.first_device) for g in plan.serving_groups]
    assert shapes == [(4, 0), (1, 4), (1, 5), (1, 6), (1, 7)]  # all 8 sockets, none shared
    assert [g.memory.hbm_bytes for g in plan.serving_groups] == [4 * 64 * GIB] + [64 * GIB] * 4
    # The SN40L copies over each group's own sockets' DDR: TP4 copies at 4x one socket's rate.
    assert plan.links[0].bw_bytes_per_s == pytest.approx(4 * plan.links[1].bw_bytes_per_s)
    # Each expert runs at its group's TP, and only on serving groups of that degree.
    assert {e.tensor_parallel for e in plan.experts if e.model is SEVEN} == {1}
    assert plan.experts[-1].tensor_parallel == 4
    assert plan.placement.groups_of[-1] == (0,)
    assert {g for e in plan.experts[:-1] for g in plan.placement.groups_of[e.index]} == {1, 2, 3, 4}
    assert [g.tensor_parallel for g in plan.expert_groups] == [1, 4]


def test_groups_per_degree_follows_load():
    # 16 devices, TP4 carrying 3/4 of the load: 12 devices target -> 3 groups of 4; TP1 gets 4.
    assert groups_per_degree(16, [4, 1], [3.0, 1.0]) == [3, 4]
    # Every degree keeps one group even with no load; leftovers too small for TP4 go to TP1.
    assert groups_per_degree(8, [4, 1], [0.0, 1.0]) == [1, 4]


def test_cost_tables_are_built_once_per_model_and_tp(write_scenario):
    plan = plan_run(load_scenario(write_scenario(mixed())))
    calls: list[tuple[str, int]] = []

    def factory(platform, model, tp):
        calls.append((model.name, tp))
        return StepCostTable(platform, model, tp)

    links = [CopyLink(link.name, link.bw_bytes_per_s, link.latency_s) for link in plan.links]
    specs = _group_specs(plan, links, factory)
    # The 7B experts at TP1, the 70B at TP4, the 7B router at each group's degree: four tables.
    assert sorted(calls) == sorted({("llama-2-7b", 1), ("llama-2-70b", 4), ("llama-2-7b", 4)})
    assert specs[0].router_table is not None and specs[0].router_table.tp == 4
    assert specs[1].router_table is not None and specs[1].router_table.tp == 1
    assert specs[0].tables[12].tp == 4 and specs[0].tables[0].tp == 1


def test_run_serves_each_expert_on_its_degree_and_weighs_busy_time(write_scenario, tmp_path):
    from sn40l_sim.runner import run_scenario

    result = run_scenario(load_scenario(write_scenario(mixed())), output=tmp_path, plots=False)
    requests, events = result.requests, result.events
    done = requests[requests["status"] == "completed"] if "status" in requests else requests
    assert len(done) == 60
    on_large = done["expert"] == "large"
    assert set(done.loc[on_large, "group"]) == {0}
    assert set(done.loc[~on_large, "group"]) <= {1, 2, 3, 4}
    batches = events[events["kind"] == "batch"]
    degree = batches["group"].map({0: 4, 1: 1, 2: 1, 3: 1, 4: 1})
    by_hand = float(((batches["end_s"] - batches["start_s"]) * degree).sum())
    assert result.summary.device_busy_s == pytest.approx(by_hand, rel=1e-9)


@pytest.mark.parametrize(("tp", "words"), [(3, "not a power of two"), (16, "does not divide the 8")])
def test_a_bad_group_tp_is_located_and_exits_2(write_scenario, capsys, tp, words):
    data = mixed()
    data["experts"][1]["tensor_parallel"] = tp
    code = main(["check", str(write_scenario(data))])
    err = capsys.readouterr().err
    assert code == 2
    assert "experts[1].tensor_parallel" in err and words in err and "scenario.yaml:" in err
    assert "Traceback" not in err


def test_too_few_devices_for_one_group_of_each_degree(write_scenario, capsys):
    data = mixed()
    data["experts"][0]["tensor_parallel"] = 8  # 8 + 4 devices > one node's 8
    code = main(["check", str(write_scenario(data))])
    err = capsys.readouterr().err
    assert code == 2 and "needs 12 devices" in err and "nodes" in err


def test_check_shows_each_degree(write_scenario, capsys):
    assert main(["check", str(write_scenario(mixed()))]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "5 serving group(s): 1 of TP4, 4 of TP1" in out
    assert "TP4 TP1" in out  # the memory table's columns, one per degree


def test_footprint_of_a_mixed_catalogue_by_hand(write_scenario, capsys):
    from sn40l_sim.config.profiles import load_platform
    from sn40l_sim.plan.planner import router_plan

    sn40l = load_platform("sn40l_node")
    router = router_plan(SEVEN, output_tokens=1, max_batch=4, max_context_tokens=4096)
    rows = catalogue_footprint(sn40l, [(SEVEN, 60, 1), (SEVENTY, 4, 4)], router=router,
                               kv_reservation_bytes=0.0)
    # A TP1 group holds floor((64 GiB - 7B router) / 7B) = 4 experts: 15 groups, 15 sockets.
    per_group = int((64 * GIB - SEVEN.weight_bytes) // SEVEN.weight_bytes)
    assert per_group == 4
    assert (rows[0].hbm_groups, rows[0].hbm_devices) == (15, 15)
    # A TP4 group (256 GiB) holds one 70B (128 GiB) next to the router: 4 groups, 16 sockets.
    assert (rows[1].hbm_groups, rows[1].hbm_devices) == (4, 16)
    total = rows[-1]
    assert total.hbm_devices == 31 and total.hbm_nodes == 4  # ceil(31 / 8)
    assert total.backed_nodes == 1  # 60 x 12.6 GiB + 4 x 128 GiB fit one node's 12 TiB of DDR
    path = write_scenario(mixed())
    assert main(["footprint", "--scenario", str(path), "--platforms", "sn40l_node"]) == 0
    out = capsys.readouterr().out
    assert "12 x llama-2-7b" in out and "1 x llama-2-70b" in out and "total" in out
    assert max(len(line) for line in out.splitlines()) <= 80
