"""The memory manager inside whole runs: KV that grows with the batch, OOM, prefetch, DGX links."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO, small_scenario

from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.config.serving_spec import Prefetch
from sn40l_sim.runner import run_scenario

LLAMA_BYTES = 13_476_831_232  # Llama-2-7B in BF16 (catalogue)
KV_PER_TOKEN = 2 * 32 * 4096 * 2  # K and V, 32 layers, hidden 4096, 2 bytes: 0.5 MiB


def _run(write_scenario, tmp_path, **overrides):
    path = write_scenario(small_scenario(**overrides))
    return run_scenario(load_scenario(path), output=tmp_path / "out", plots=False)


LONG = {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 20.0}, "prompt_tokens": 3900,
                      "output_tokens": 100, "requests": 200}}


def test_kv_grows_with_the_batch_into_the_expert_cache(write_scenario, tmp_path):
    """SN40L TP8: 512 GiB HBM - 13.48 GB router = 39 preloaded experts and 10.5 GB spare. A batch of
    8 requests of 4,000 tokens needs 8 x 4000 x 0.5 MiB = 16.8 GB of KV, so the KV must evict idle
    experts, and HBM must still never hold more than it has."""
    result = _run(write_scenario, tmp_path, workload=LONG, serving={"max_batch": 8})
    memory = result.summary["memory"]
    hbm = 8 * 64 * 2**30
    assert memory["hbm_capacity_bytes_per_group"] == hbm
    spare = hbm - LLAMA_BYTES - 39 * LLAMA_BYTES
    assert spare < memory["peak_kv_bytes"] <= 8 * 4000 * KV_PER_TOKEN
    assert memory["peak_hbm_used_bytes"] <= hbm
    assert result.summary["n_completed"] == 200


def test_static_kv_reservation_caps_the_batch_and_rejects_what_cannot_fit(write_scenario, tmp_path):
    # 5 GB without growth: two 4,000-token requests (2.1 GB each) at a time, never three.
    result = _run(write_scenario, tmp_path, workload=LONG,
                  serving={"max_batch": 8, "kv_growth": False, "kv_reservation": "5 GB"})
    memory = result.summary["memory"]
    assert memory["peak_kv_bytes"] == 2 * 4000 * KV_PER_TOKEN
    assert result.summary["expert_cache_bytes"] == pytest.approx(8 * 64 * 2**30 - LLAMA_BYTES - 5e9)
    small = _run(write_scenario, tmp_path, workload=LONG,
                 serving={"max_batch": 8, "kv_growth": False, "kv_reservation": "1 GB"})
    reasons = small.requests["reason"].dropna().unique()
    assert list(reasons) == ["out of memory: this request's KV cache exceeds serving.kv_reservation"]
    assert small.summary["n_rejected"] == 200


def test_summary_says_where_the_platform_runs_out_of_memory(write_scenario, tmp_path):
    """DGX A100: 90 % of 2 TB host DRAM holds floor(1.8e12 / 13.48e9) = 133 experts."""
    result = _run(write_scenario, tmp_path, platform="dgx_a100",
                  experts=[{"model": "llama-2-7b", "count": 200, "name_prefix": "e"}])
    assert result.summary["n_servable_experts"] == 133
    assert result.summary["out_of_memory_at_experts"] == 134
    fits = _run(write_scenario, tmp_path, platform="dgx_a100")
    assert fits.summary["out_of_memory_at_experts"] is None


def test_switch_share_per_request(write_scenario, tmp_path):
    req = _run(write_scenario, tmp_path).requests
    done = req[req["outcome"] == "completed"]
    assert done["switch_share"].to_numpy() == pytest.approx(
        (done["switch_wait_s"] / done["e2e_latency_s"]).to_numpy())
    assert (done.loc[done["switch_wait_s"] == 0, "switch_share"] == 0).all()


def test_prefetch_on_route_hides_switch_time(write_scenario, tmp_path):
    """With a fixed-latency router (it does not occupy the devices), copies started as soon as a
    request is routed overlap the compute of the experts ahead of it in the queue."""
    wait = {}
    for mode in ("none", "next", "on_route"):
        result = _run(write_scenario, tmp_path,
                      experts=[{"model": "llama-2-7b", "count": 120, "name_prefix": "e"}],
                      router={"latency": "20 ms", "mapping": "zipf", "zipf_s": 0.5},
                      serving={"max_batch": 4, "prefetch": mode},
                      workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 10.0},
                                              "prompt_tokens": 256, "output_tokens": 20,
                                              "requests": 300}})
        assert result.summary["n_completed"] == 300
        wait[mode] = result.summary["switch_wait_mean_s"]
    assert wait["on_route"] < wait["next"] < wait["none"]


def test_prefetch_true_still_means_next(write_scenario, tmp_path):
    path = write_scenario(small_scenario(serving={"prefetch": True}))
    assert load_scenario(path).serving.prefetch is Prefetch.NEXT


def test_per_gpu_host_link_divides_dgx_switch_time_by_the_group_size(write_scenario, tmp_path):
    """P1 models one 32 GB/s host link for the whole DGX A100 (scope node); with scope device each
    GPU copies its 1/8 shard over its own link, so a TP8 switch is 8x faster (less the 10 us)."""
    profile = yaml.safe_load((REPO / "hw_profiles" / "dgx_a100.yaml").read_text())
    profile["weight_load"]["scope"] = "device"
    node = _run(write_scenario, tmp_path, platform="dgx_a100").summary["switch_time_mean_s"]
    device = _run(write_scenario, tmp_path, platform=profile).summary["switch_time_mean_s"]
    assert node == pytest.approx(LLAMA_BYTES / 32e9 + 10e-6, rel=1e-6)
    assert device == pytest.approx(LLAMA_BYTES / (8 * 32e9) + 10e-6, rel=1e-6)
    assert node / device == pytest.approx(8.0, rel=2e-3)
