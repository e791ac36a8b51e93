"""Collectives by implementation, per-GPU profiles, and the DGX B200 profile in a run."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import yaml
from conftest import REPO, small_scenario

from sn40l_sim.catalogue.hardware import CustomAllReduceSpec
from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform, platform_from_mapping
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.cost.collectives import allreduce_call_s, allreduce_impl, custom_allreduce_s
from sn40l_sim.cost.network import allreduce_s
from sn40l_sim.errors import InputError
from sn40l_sim.plan.planner import router_plan
from sn40l_sim.runner import run_scenario
from sn40l_sim.studies.footprint import footprint


def test_custom_allreduce_by_hand():
    spec = CustomAllReduceSpec(bw_bytes_per_s=100e9, latency_s=4e-6, latency_per_doubling_s=1e-6)
    # 8 GPUs, 8 KiB: 4 us + 2 doublings x 1 us + 7 x 8192 B / 100 GB/s
    assert custom_allreduce_s(spec, 8192, 8) == pytest.approx(4e-6 + 2e-6 + 7 * 8192 / 100e9)
    assert custom_allreduce_s(spec, 8192, 2) == pytest.approx(4e-6 + 8192 / 100e9)
    assert custom_allreduce_s(spec, 8192, 1) == 0.0


def test_stack_picks_the_implementation_by_size():
    a100 = load_platform("dgx_a100")
    limit = a100.stack.custom_allreduce_max_bytes
    assert limit == 512 * 1024
    assert allreduce_impl(a100, limit) == "custom"
    assert allreduce_impl(a100, limit + 1) == "nccl"
    # the vLLM-era stack runs eager NCCL at every size, its kernel launch included
    vllm = a100.with_stack("vllm-2023")
    assert allreduce_impl(vllm, 8192) == "nccl"
    expected = allreduce_s(a100.interconnect, 8192, 8) + a100.execution.kernel_launch_s
    assert allreduce_call_s(vllm, 8192, 8) == pytest.approx(expected)
    custom = a100.interconnect.custom_allreduce
    assert custom is not None
    assert allreduce_call_s(a100, 8192, 8) == pytest.approx(custom_allreduce_s(custom, 8192, 8))


def test_each_gpu_has_its_own_small_message_latency():
    """H100 no longer borrows the A100's all-reduce: a decode's 8 KiB at TP8 differs per GPU."""
    calls = {p: allreduce_call_s(load_platform(p), 8192, 8) for p in ("dgx_a100", "dgx_h100", "dgx_b200")}
    assert len({round(v * 1e9) for v in calls.values()}) == 3
    assert all(2e-6 < v < 15e-6 for v in calls.values())  # the custom kernel: a few us, not ~37 us


def test_custom_allreduce_needs_the_interconnect_section():
    data = yaml.safe_load((REPO / "hw_profiles" / "dgx_h100.yaml").read_text())
    del data["interconnect"]["custom_allreduce"]
    with pytest.raises(InputError, match="custom_allreduce"):
        platform_from_mapping(data, "inline")


def test_b200_footprint_by_hand():
    """180 GB per GPU (1,440 GB per DGX B200): Llama-2-7B experts all in HBM."""
    b200 = load_platform("dgx_b200")
    llama = get_model("llama-2-7b")
    assert b200.device.hbm.capacity_bytes == pytest.approx(180e9)
    router = router_plan(llama, output_tokens=1, max_batch=1, max_context_tokens=4096)
    options = {o.strategy: o for o in footprint(b200, [llama] * 850, tp=8, router=router,
                                                kv_reservation_bytes=0.0)}
    # The router keeps its weights and the KV of one 4,096-token context in HBM.
    per_node = math.floor((8 * 180e9 - llama.weight_bytes - 4096 * llama.kv_bytes_per_token())
                          / llama.weight_bytes)
    assert options["all_in_hbm"].n_nodes == math.ceil(850 / per_node)


def test_small_scenario_runs_on_b200(write_scenario, tmp_path):
    path = write_scenario(small_scenario(platform="dgx_b200"))
    result = run_scenario(load_scenario(path), output=tmp_path / "out", plots=False)
    done = result.requests[result.requests["outcome"] == "completed"]
    assert len(done) > 0
    assert (done["ttft_s"] > 0).all() and (done["e2e_latency_s"] >= done["ttft_s"]).all()
    # The small scenario's experts switch on DGX H100 (tests/test_engine_e2e.py); B200's 1,440 GB
    # of HBM per node holds them all, so nothing is copied.
    assert result.summary["n_switches"] == 0


def test_b200_step_faster_than_h100():
    llama = get_model("llama-2-7b")
    from sn40l_sim.cost.step import decode_cost, prefill_cost
    for step in (lambda p: decode_cost(p, llama, n_batch=8, n_context_tokens=1024, tp=8),
                 lambda p: prefill_cost(p, llama, n_batch=1, n_prompt_tokens=2048, tp=8)):
        assert step(load_platform("dgx_b200")).total_s < step(load_platform("dgx_h100")).total_s


def test_no_stack_means_eager_nccl():
    a100 = load_platform("dgx_a100")
    bare = replace(a100, stack=replace(a100.stack, custom_allreduce_max_bytes=None))
    assert allreduce_impl(bare, 1024) == "nccl"
