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

scenarios = st.fixed_dictionaries({
    "platform": st.sampled_from(["sn40l_node", "dgx_a100", "dgx_h100"]),
    "n_experts": st.integers(1, 160),
    "tp": st.sampled_from([1, 2, 4, 8]),
    "max_batch": st.integers(1, 8),
    "scheduler": st.sampled_from(["fcfs", "expert_affinity", "paper_batch"]),
    "eviction": st.sampled_from(["lru", "lfu"]),
    "prefetch": st.booleans(),
    "preload": st.booleans(),
    "rate": st.floats(0.5, 60.0),
    "output_tokens": st.integers(1, 80),
    "router": st.sampled_from([None, "llama-2-7b", "fixed"]),
    "seed": st.integers(0, 2**16),
})


def _scenario(p: dict) -> Scenario:
    router: dict = {"mapping": "zipf", "zipf_s": 0.8}
    if p["router"] == "fixed":
        router["latency"] = "5 ms"
    elif p["router"]:
        router["model"] = p["router"]
    return Scenario.model_validate({
        "name": "prop", "platform": p["platform"],
        "experts": [{"model": "llama-2-7b", "count": p["n_experts"], "name_prefix": "e"}],
        "router": router,
        "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": p["rate"]},
                                   "prompt_tokens": 128, "output_tokens": p["output_tokens"],
                                   "requests": 60}},
        "serving": {"tensor_parallel": p["tp"], "max_batch": p["max_batch"], "scheduler": p["scheduler"],
                    "eviction": p["eviction"], "prefetch": p["prefetch"], "preload": p["preload"],
                    "max_steps_per_iteration": 16},
        "seed": p["seed"], "plots": "none"})


def _simulate(p: dict, out):
    from sn40l_sim.workload.requests import iter_request_chunks

    resolved = resolve(_scenario(p))
    recorder = Recorder(out, [e.name for e in resolved.experts], [1.0] * len(resolved.experts), 0.0)
    chunks = iter_request_chunks(resolved.workload, seed=resolved.seed, data_dir=out, base_dir=out,
                                 chunk_rows=16)
    sim = Simulation(resolved, recorder, chunks)
    sim.run()
    recorder.close()
    return sim, pd.read_parquet(out / "requests.parquet"), pd.read_parquet(out / "events.parquet")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=scenarios)
def test_invariants(tmp_path_factory, p):
    out = tmp_path_factory.mktemp("prop")
    sim, req, ev = _simulate(p, out)
    # Conservation: every request completed or rejected with a reason, exactly once.
    assert len(req) == 60 and req["request_id"].is_unique
    assert set(req["outcome"]) <= {"completed", "rejected"}
    assert req.loc[req["outcome"] == "rejected", "reason"].notna().all()
    # Capacity: no group's HBM expert region ever held more than its capacity.
    for group in sim.groups:
        assert group.cache.peak_used_bytes <= group.cache.capacity_bytes * (1 + 1e-12)
        assert not group.cache.in_use and not group.cache.loading
    # Time never goes backwards for a request or an event.
    done = req[req["outcome"] == "completed"]
    assert (done["ttft_s"] >= 0).all() and (done["e2e_latency_s"] >= done["ttft_s"] - 1e-12).all()
    assert (ev["end_s"] >= ev["start_s"]).all() and (ev["start_s"] >= ev["queued_s"]).all()
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
