"""Footprint: node counts by hand for P1's 850-expert question (T10)."""

import math

import pytest

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.plan.planner import router_plan
from sn40l_sim.studies.footprint import _first_fit_decreasing, footprint

LLAMA = get_model("llama-2-7b")
KV = 4096 * LLAMA.kv_bytes_per_token()
ROUTER = router_plan(LLAMA, output_tokens=1, max_batch=1, max_context_tokens=4096)


def test_first_fit_decreasing():
    assert _first_fit_decreasing([5, 5, 5, 5], 10) == 2
    assert _first_fit_decreasing([6, 6, 6], 10) == 3
    assert _first_fit_decreasing([11], 10) is None
    assert _first_fit_decreasing([], 10) == 0


@pytest.mark.parametrize("name", ["dgx_a100", "dgx_h100"])
def test_dgx_all_in_hbm_850_experts(name):
    platform = load_platform(name)
    per_node = 8 * 80e9 - LLAMA.weight_bytes - KV  # HBM left after router + KV
    expected = math.ceil(850 / math.floor(per_node / LLAMA.weight_bytes))
    options = {o.strategy: o for o in footprint(platform, [LLAMA] * 850, tp=8, router=ROUTER,
                                                kv_reservation_bytes=KV)}
    assert options["all_in_hbm"].n_nodes == expected == 19
    # Backed by host DRAM: 2 TB x 0.9 holds 133 experts per node.
    assert options["backed"].n_nodes == math.ceil(850 / math.floor(1.8e12 / LLAMA.weight_bytes))


def test_sn40l_one_node_backed_by_ddr():
    options = {o.strategy: o for o in footprint(load_platform("sn40l_node"), [LLAMA] * 850, tp=8,
                                                router=ROUTER, kv_reservation_bytes=KV)}
    assert options["backed"].n_nodes == 1
    assert options["backed"].switch_s == pytest.approx(LLAMA.weight_bytes / 1e12 + 10e-6)
    assert options["backed"].latency_s > options["all_in_hbm"].latency_s


@pytest.mark.parametrize("output_tokens", [1, 5])
def test_footprint_and_run_price_the_router_the_same(write_scenario, tmp_path, output_tokens):
    """One scenario, one request: the router step ``run`` records (less its program load, which
    the first step pays) is the router time ``footprint`` puts in its latency, and the router HBM
    the run reports is the one footprint packs experts around (weights, plus a router batch's KV
    when the router generates its answer)."""
    from conftest import small_scenario

    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.cost.cache import StepCostTable
    from sn40l_sim.plan.planner import plan_run
    from sn40l_sim.runner import run_scenario
    from sn40l_sim.studies.footprint import RequestShape, plan_footprint

    path = write_scenario(small_scenario(
        router={"model": "llama-2-7b", "mapping": "zipf", "zipf_s": 0.5, "output_tokens": output_tokens},
        workload={"generator": {"arrivals": {"kind": "constant", "rate_per_s": 1.0},
                                "prompt_tokens": 300, "output_tokens": 20, "requests": 1}}))
    resolved = load_scenario(path)
    plan = plan_run(resolved)
    options = plan_footprint(plan, RequestShape(prompt_tokens=300, output_tokens=20))
    result = run_scenario(resolved, output=tmp_path / "out", plots=False)
    router_rows = result.events[result.events["phase"] == "router"]
    assert len(router_rows) == 1
    ran_s = float((router_rows["end_s"] - router_rows["start_s"]).iloc[0])
    program_load_s = StepCostTable(plan.platform, LLAMA, 8).program_load_s
    for option in options:
        assert option.router_s == pytest.approx(ran_s - program_load_s, rel=1e-12)
    router_hbm = LLAMA.weight_bytes + (4 * 4096 * LLAMA.kv_bytes_per_token() if output_tokens > 1 else 0)
    assert result.summary.memory.router_bytes == pytest.approx(router_hbm)
    assert plan.router.hbm_bytes == pytest.approx(router_hbm)
