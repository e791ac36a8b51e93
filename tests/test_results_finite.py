"""Invariant: within the documented limits, no result is NaN where it must be a number, and nothing
anywhere is infinite or overflowed (issue 13: ``rate_per_s: 1e-308`` gave completed requests with
NaN latency; a 2^63-token prompt "completed" with TTFT 7e27 s).

Hypothesis draws scenarios across the whole accepted range (rates from 1e-6 to 1e6 per second,
tokens up to the 10^7 limit, router latencies up to the 1e8 s time limit, platforms, experts,
batch sizes) and runs each. NaN is allowed only where docs/metrics.md defines it as "not
applicable" (e.g. TPOT of a one-token answer, latencies of a rejected request).
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sn40l_sim.config.limits import MAX_TIME_S, MAX_TOKENS
from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.runner import run_scenario

# Columns that must be a finite number on every row, and on every completed row.
ALWAYS_FINITE = ("arrival_s", "router_s", "active_params")
FINITE_WHEN_COMPLETED = ("queue_wait_s", "switch_wait_s", "ttft_s", "e2e_latency_s", "end_s")


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(low), math.log10(high)).map(lambda x: 10.0**x)


ARRIVALS = st.one_of(
    st.builds(lambda r: {"kind": "poisson", "rate_per_s": r}, _log_uniform(1e-6, 1e6)),
    st.builds(lambda r, cv: {"kind": "gamma", "rate_per_s": r, "cv": cv},
              _log_uniform(1e-6, 1e6), st.floats(0.1, 100)),
    st.builds(lambda r: {"kind": "constant", "rate_per_s": r}, _log_uniform(1e-6, 1e6)),
    st.builds(lambda r, on, off: {"kind": "on_off", "rate_per_s": r, "on_duration": f"{on!r} s",
                                  "off_duration": f"{off!r} s"},
              _log_uniform(1e-3, 1e6), _log_uniform(1e-3, 1e3), _log_uniform(1e-3, 1e3)),
)
SCENARIOS = st.fixed_dictionaries({
    "platform": st.sampled_from(["sn40l_node", "dgx_a100", "dgx_h100"]),
    "nodes": st.integers(1, 2),
    "experts": st.lists(st.fixed_dictionaries({
        "model": st.sampled_from(["llama-2-7b", "mistral-7b", "llama-3.1-8b"]),
        "count": st.integers(1, 20)}), min_size=1, max_size=2),
    "router": st.one_of(st.builds(lambda s: {"latency": f"{s!r} s"}, _log_uniform(1e-6, 1e6)),
                        st.just({"model": "llama-2-7b"}), st.just({})),
    "workload": st.fixed_dictionaries({"generator": st.fixed_dictionaries({
        "requests": st.integers(1, 25), "arrivals": ARRIVALS,
        "prompt_tokens": st.one_of(st.integers(1, 2048), st.integers(1, MAX_TOKENS)),
        "output_tokens": st.integers(1, 64)})}),
    "serving": st.fixed_dictionaries({
        "tensor_parallel": st.sampled_from([1, 2, 8]), "max_batch": st.integers(1, 64),
        "max_context_tokens": st.one_of(st.integers(2, 4096), st.integers(2, MAX_TOKENS)),
        "scheduler": st.sampled_from(["fcfs", "expert_affinity"]),
        "eviction": st.sampled_from(["lru", "lfu"]),
        "prefetch": st.sampled_from(["none", "next", "on_route"])}),
    "seed": st.integers(0, 2**32),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(data=SCENARIOS)
def test_results_are_finite_for_any_scenario_within_the_limits(tmp_path_factory, data):
    for i, group in enumerate(data["experts"]):
        group["name_prefix"] = f"g{i}"
    data.update(name="finite", plots="none")
    generator = data["workload"]["generator"]
    assume(generator["requests"] / generator["arrivals"]["rate_per_s"] < MAX_TIME_S / 10)
    try:
        resolved = resolve(validate(Scenario, data, None, "random.yaml"))
    except InputError:  # e.g. tensor_parallel above the devices of one node: not this test's case
        assume(False)
        return
    folder = tmp_path_factory.mktemp("finite")
    result = run_scenario(resolved, run_dir=folder / "run", plots=False, data_dir=folder)
    requests, events = result.requests, result.events
    assert len(requests) == generator["requests"]
    for column in ALWAYS_FINITE:
        assert np.isfinite(requests[column].to_numpy(dtype=float)).all(), column
    completed = requests[requests["outcome"] == "completed"]
    for column in FINITE_WHEN_COMPLETED:
        values = completed[column].to_numpy(dtype=float)
        assert np.isfinite(values).all(), column
        assert (values >= -1e-9).all(), column
    for column in requests.select_dtypes("number").columns:  # NaN may mark n/a; never infinity
        assert not np.isinf(requests[column].to_numpy(dtype=float)).any(), column
    for column in events.select_dtypes("number").columns:
        assert np.isfinite(events[column].to_numpy(dtype=float)).all(), column
    assert (requests["prompt_tokens"] <= MAX_TOKENS).all()

    def refuse(name: str) -> None:
        raise AssertionError(f"summary.json holds {name}")

    summary = json.loads((folder / "run" / "summary.json").read_text(), parse_constant=refuse)
    assert summary["complete"] is True
