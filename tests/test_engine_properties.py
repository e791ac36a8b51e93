"""Invariants under random workloads: conservation, capacity, time order, link bytes, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.engine.simulation import Simulation
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.plan.planner import plan_run

scenarios = st.fixed_dictionaries({
    "platform": st.sampled_from(["sn40l_node", "dgx_a100", "dgx_h100"]),
    "n_experts": st.integers(1, 160),
    "tp": st.sampled_from([1, 2, 4, 8]),
    "max_batch": st.integers(1, 8),
    "scheduler": st.sampled_from(["fcfs", "expert_affinity", "paper_batch"]),
    "eviction": st.sampled_from(["lru", "lfu", "pinned"]),
    "prefetch": st.sampled_from(["none", "next", "on_route"]),
    "kv_growth": st.booleans(),
    "kv_reservation": st.sampled_from([None, "1 GB", "8 GB"]),
    "prompt_tokens": st.sampled_from([128, 1024, 3900]),
    "preload": st.booleans(),
    "rate": st.floats(0.5, 60.0),
    "output_tokens": st.integers(1, 80),
    "router": st.sampled_from([None, "llama-2-7b", "fixed"]),
    "replicas": st.sampled_from([1, 2, "auto"]),
    "placement": st.sampled_from(["uniform", "load_aware"]),
    "seed": st.integers(0, 2**16),
})


def _scenario(p: dict) -> Scenario:
    router: dict = {"mapping": "zipf", "zipf_s": 0.8}
    if p["router"] == "fixed":
        router["latency"] = "5 ms"
    elif p["router"]:
        router["model"] = p["router"]
    pinned = [f"e-{k}" if p["n_experts"] > 1 else "e" for k in range(min(2, p["n_experts"]))]
    return Scenario.model_validate({
        "name": "prop", "platform": p["platform"],
        "experts": [{"model": "llama-2-7b", "count": p["n_experts"], "name_prefix": "e"}],
        "router": router,
        "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": p["rate"]},
                                   "prompt_tokens": p["prompt_tokens"],
                                   "output_tokens": p["output_tokens"],
                                   "requests": 60}},
        "serving": {"tensor_parallel": p["tp"], "max_batch": p["max_batch"], "scheduler": p["scheduler"],
                    "eviction": p["eviction"], "prefetch": p["prefetch"], "preload": p["preload"],
                    "pinned": pinned if p["eviction"] == "pinned" else [],
                    "kv_growth": p["kv_growth"], "kv_reservation": p["kv_reservation"],
                    "max_steps_per_iteration": 16, "placement": p["placement"],
                    "replicas": p["replicas"] if p["placement"] == "uniform" else 1},
        "seed": p["seed"], "plots": "none"})


def _simulate(p: dict, out):
    from sn40l_sim.workload.request_stream import iter_request_chunks

    resolved = resolve(_scenario(p))
    recorder = Recorder(out, [e.name for e in resolved.experts], [1.0] * len(resolved.experts), 0.0)
    chunks = iter_request_chunks(resolved.workload, seed=resolved.seed, data_dir=out, base_dir=out,
                                 chunk_rows=16)
    sim = Simulation(plan_run(resolved), recorder, chunks)
    sim.run()
    recorder.close()
    return sim, pd.read_parquet(out / "requests.parquet"), pd.read_parquet(out / "events.parquet")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=scenarios)
def test_invariants(tmp_path_factory, p):
    out = tmp_path_factory.mktemp("prop")
    sim, req, ev = _simulate(p, out)
    # No request lost: every one completed or rejected with a reason, exactly once.
    assert len(req) == 60 and req["request_id"].is_unique
    assert set(req["outcome"]) <= {"completed", "rejected"}
    assert req.loc[req["outcome"] == "rejected", "reason"].notna().all()
    # Capacity: no group's HBM (router + KV + experts) or backing store ever held more than it has.
    for group in sim.groups:
        memory = group.cache
        assert memory.peak_used_bytes <= memory.capacity_bytes * (1 + 1e-12)
        assert memory.peak_kv_bytes <= memory.kv_cap_bytes * (1 + 1e-12)
        assert not memory.in_use and not memory.loading and memory.kv_used_bytes < 1.0
        assert set(memory.resident) <= sim.backing[group.index].experts  # an inclusive cache
        assert group.n_outstanding == 0  # every request sent to a group ended there
    # A request is served by a group that holds its expert (its primary or a replica).
    groups_of = sim.placement.groups_of
    names = {f"e-{k}" if p["n_experts"] > 1 else "e": k for k in range(p["n_experts"])}
    for expert, group in zip(req["expert"].astype(str), req["group"], strict=True):
        if groups_of[names[expert]]:
            assert group in groups_of[names[expert]]
    for store in sim.backing:
        assert store.used_bytes <= store.capacity_bytes * (1 + 1e-12)
    # Time never goes backwards: events are recorded as they end, so their end times ascend;
    # each request passes arrival <= routed <= first token <= end.
    assert ev["end_s"].is_monotonic_increasing
    assert (ev["end_s"] >= ev["start_s"]).all() and (ev["start_s"] >= ev["queued_s"]).all()
    done = req[req["outcome"] == "completed"]
    assert (done["router_s"] >= 0).all() and (done["queue_wait_s"] >= -1e-9).all()
    assert (done["ttft_s"] >= done["router_s"]).all()
    assert (done["e2e_latency_s"] >= done["ttft_s"] - 1e-12).all()
    assert ((done["switch_share"] >= 0) & (done["switch_share"] <= 1)).all()
    # Bytes over each link equal the sum of the switches that used it.
    switches = ev[ev["kind"] == "switch"]
    for link in sim.links:
        moved = switches.loc[switches["link"] == link.name, "bytes"].sum()
        assert np.isclose(moved, link.bytes_moved)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=scenarios)
def test_same_seed_identical(tmp_path_factory, p):
    _, a, ea = _simulate(p, tmp_path_factory.mktemp("a"))
    _, b, eb = _simulate(p, tmp_path_factory.mktemp("b"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ea, eb)
