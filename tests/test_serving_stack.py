"""Serving-stack costs, all-reduce by GPU count / in-network reduction, the generating router (issue 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from sn40l_sim.catalogue.hardware import ServingStackSpec
from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.cost.network import allreduce_s, device_allreduce_s, in_network_allreduce_s
from sn40l_sim.cost.serving import inference_s, served_prefill_s, served_step_s
from sn40l_sim.cost.step import prefill_cost

A100, H100, SN40L = (load_platform(p) for p in ("dgx_a100", "dgx_h100", "sn40l_node"))
LLAMA7 = get_model("llama-2-7b")


def test_served_step_by_hand():
    stack = ServingStackSpec("x", prefill_s=0.02, iteration_s=1e-3, sequence_s=2e-4, request_s=5e-4,
                             host_layer_s=1e-4)
    # device 1 ms, floor 32 x 0.1 ms = 3.2 ms: the host bounds the step
    assert served_step_s(stack, LLAMA7, 1e-3, 4) == pytest.approx(3.2e-3 + 1e-3 + 4 * 2e-4)
    assert served_step_s(stack, LLAMA7, 5e-3, 1) == pytest.approx(5e-3 + 1e-3 + 2e-4)
    assert served_prefill_s(stack, LLAMA7, 5e-3, 2) == pytest.approx(5e-3 + 1e-3 + 4e-4 + 0.02 + 1e-3)
    tokens = replace(stack, prompt_token_s=1e-5)
    assert served_prefill_s(tokens, LLAMA7, 5e-3, 2, 100) == pytest.approx(
        served_prefill_s(stack, LLAMA7, 5e-3, 2) + 2 * 100 * 1e-5)
    # the quadratic term counts the iteration's tokens (batch x prompt), not each prompt's
    pairs = replace(stack, prompt_token_pair_s=1e-9)
    assert served_prefill_s(pairs, LLAMA7, 5e-3, 4, 512) == pytest.approx(
        served_prefill_s(stack, LLAMA7, 5e-3, 4, 512) + (4 * 512) ** 2 * 1e-9)


def test_vllm_stack_quadratic_term_makes_long_prefills_grow_faster_than_tokens():
    """The vllm-2023 stack's prefill host cost per token rises with the iteration's tokens (the
    shape of Splitwise's long prefills); the tensorrt-llm-2024 stack has no such term."""
    vllm = A100.with_stack("vllm-2023").stack
    assert A100.stack.prompt_token_pair_s == 0.0
    model = get_model("llama-2-70b")
    host = [served_prefill_s(vllm, model, 1.0, 1, n) - served_prefill_s(vllm, model, 1.0, 1, 0)
            for n in (2048, 8192)]
    assert host[1] / 8192 > 1.5 * host[0] / 2048


def test_inference_is_prefill_plus_decode_steps():
    bare = replace(A100, stack=ServingStackSpec())
    one = inference_s(bare, LLAMA7, tp=8, n_batch=1, n_prompt_tokens=128, n_output_tokens=1)
    twenty = inference_s(A100, LLAMA7, tp=8, n_batch=1, n_prompt_tokens=128, n_output_tokens=20)
    assert 0 < one < twenty
    # NeMo's TP8 batch-1 row (136.5 ms) is one of the stack's fit rows, fitted jointly with T6-A100
    # and the first-token rows: it comes out 9 % fast (docs/cost_model.md section 6)
    assert twenty == pytest.approx(0.1365, rel=0.15)
    # TensorRT-LLM's published first token, Llama-2-7B, 128 tokens, one A100: 16 ms. The first token
    # is the served prefill; a whole one-token request also pays the end-of-request cost after it.
    device = prefill_cost(A100, LLAMA7, n_batch=1, n_prompt_tokens=128, tp=1).total_s
    first = served_prefill_s(A100.stack, LLAMA7, device, 1, 128)
    assert first == pytest.approx(0.016, rel=0.15)
    whole = inference_s(A100, LLAMA7, tp=1, n_batch=1, n_prompt_tokens=128, n_output_tokens=1)
    assert whole == pytest.approx(first + A100.stack.request_end_s, rel=1e-12)


def test_table_inference_matches_its_steps():
    table = StepCostTable(SN40L, LLAMA7, 8)
    assert table.inference_s(1, 128, 1) == pytest.approx(table.prefill_s(1, 128))
    expected = table.prefill_s(2, 128) + table.decode_run_s(2, 129, 19)
    assert table.inference_s(2, 128, 20) == pytest.approx(expected)
    # 32 layers x the profile's per-layer program load (cost/launch.py): the fitted 33.23 ms
    per_layer = SN40L.stack.program_load_per_layer_s
    assert table.program_load_s == pytest.approx(32 * per_layer) == pytest.approx(0.03323)


def test_program_load_grows_with_the_layers_of_the_model_switched_to():
    from sn40l_sim.catalogue.models import get_model
    from sn40l_sim.cost.launch import program_load_s

    stack = SN40L.stack
    assert program_load_s(stack, get_model("llama-3.1-70b")) == pytest.approx(80 / 32 * 0.03323)
    assert program_load_s(stack, get_model("llama-3.2-1b")) == pytest.approx(16 / 32 * 0.03323)
    half = SN40L.with_program_load_scale(0.5).stack
    assert program_load_s(half, LLAMA7) == pytest.approx(0.016615)


def test_allreduce_latency_grows_with_gpus_and_h100_reduces_in_network():
    small = 8192.0
    a = [allreduce_s(A100.interconnect, small, p) for p in (2, 4, 8)]
    assert a[0] < a[1] < a[2]
    assert A100.interconnect.in_network is None
    big = 64e6
    net = H100.interconnect
    assert in_network_allreduce_s(net, big) < device_allreduce_s(net, big, 8)
    assert allreduce_s(net, big, 8) == pytest.approx(in_network_allreduce_s(net, big))
    # small messages stay on the device protocol (lower latency), as NCCL's tuner chooses
    assert allreduce_s(net, small, 8) == pytest.approx(device_allreduce_s(net, small, 8))


def test_router_output_tokens_needs_a_model():
    assert RouterConfig(model="llama-2-7b", output_tokens=20).output_tokens == 20
    assert RouterConfig().output_tokens == 1
    with pytest.raises(ValueError, match="output_tokens"):
        RouterConfig(latency="5 ms", output_tokens=20)


def test_other_stack_by_name():
    assert A100.stack.name == "tensorrt-llm-2024"
    assert A100.with_stack("vllm-2023").stack.host_layer_s > 0
    with pytest.raises(KeyError):
        A100.with_stack("nope")


@pytest.mark.slow
def test_validate_json_is_only_json(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-m", "sn40l_sim.cli", "validate", "--json", "--only", "T13",
                          "--output", str(tmp_path)], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows and rows[0]["id"] == "T13" and rows[0]["usage"] == "prediction"


def test_engine_charges_the_generating_router_and_program_loads(write_scenario, tmp_path):
    """Sparse batch-1 requests: each router step is a 20-token inference plus a program load (the
    group last ran an expert), and the expert part pays one program load too."""
    from conftest import small_scenario

    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.runner import run_scenario

    data = small_scenario(
        router={"model": "llama-2-7b", "output_tokens": 20, "mapping": "zipf", "zipf_s": 0.5},
        workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 0.2}, "prompt_tokens": 128,
                                "output_tokens": 20, "requests": 20}},
        serving={"tensor_parallel": 8, "max_batch": 1, "scheduler": "paper_batch"})
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path / "out", plots=False)
    done = result.requests[result.requests["outcome"] == "completed"]
    table = StepCostTable(SN40L, LLAMA7, 8)
    router = table.program_load_s + table.inference_s(1, 128, 20)
    assert done["router_s"].iloc[1:].to_numpy() == pytest.approx(router, rel=1e-6)
    expert = done["e2e_latency_s"] - done["router_s"] - done["switch_wait_s"] - done["queue_wait_s"]
    assert expert.to_numpy() == pytest.approx(router, rel=1e-3)  # the same 128-in / 20-out inference
    assert result.summary["memory"]["router_bytes"] > LLAMA7.weight_bytes  # its KV cache is reserved in HBM


def test_a_decode_after_a_mid_batch_router_step_reloads_the_expert_program(write_scenario, tmp_path):
    """FCFS runs the router between a batch's iterations; the expert's next iteration, even one that
    only decodes, pays the program load again (it was skipped when nobody new joined)."""
    from conftest import small_scenario

    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.runner import run_scenario

    data = small_scenario(
        experts=[{"model": "llama-2-7b", "count": 1, "name_prefix": "expert"}],
        workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 2.0}, "prompt_tokens": 64,
                                "output_tokens": 100, "requests": 40}},
        serving={"tensor_parallel": 8, "max_batch": 1, "scheduler": "fcfs"})
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path / "out", plots=False)
    events = result.events
    steps = events[events["phase"].astype(str).isin(["iteration", "router"])].reset_index(drop=True)
    load_s = StepCostTable(SN40L, LLAMA7, 8).program_load_s
    phases = steps["phase"].astype(str).to_numpy()
    checked = 0
    for k in range(1, len(steps)):
        # an expert iteration right after a router step: with max_batch 1 nobody joined, it only decodes
        if phases[k] == "iteration" and phases[k - 1] == "router" and steps["start_s"].iloc[k] > 0:
            assert steps["end_s"].iloc[k] - steps["start_s"].iloc[k] >= load_s
            checked += 1
    assert checked >= 3


def test_costs_program_load_scale_multiplies_the_profile_program_load():
    from sn40l_sim.config.resolve import resolve
    from sn40l_sim.config.scenario import Scenario

    raw = {"name": "x", "platform": "sn40l_node", "experts": [{"model": "llama-2-7b"}],
           "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 1}, "prompt_tokens": 8,
                                      "output_tokens": 2, "requests": 1}},
           "costs": {"program_load_scale": 2.0}}
    platform = resolve(Scenario.model_validate(raw)).platform
    assert platform.stack.program_load_per_layer_s == pytest.approx(2 * SN40L.stack.program_load_per_layer_s)
