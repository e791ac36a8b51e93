"""Expected expert shares (what load-aware placement plans on), expert-group shares, and a
load-aware run end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import small_scenario

from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.router_spec import RouterSpec, router_spec
from sn40l_sim.config.workload_config import WorkloadConfig
from sn40l_sim.config.workload_spec import workload_spec
from sn40l_sim.errors import InputError
from sn40l_sim.policy.expert_load import expected_shares
from sn40l_sim.policy.prompt_router import Router, zipf_pmf
from sn40l_sim.runner import run_scenario
from sn40l_sim.workload.request_chunk import RequestChunk

TRACE = WorkloadConfig(generator={"arrivals": {"kind": "poisson", "rate_per_s": 1.0},
                                  "prompt_tokens": 8, "output_tokens": 2, "requests": 1})
NAMES = ["a", "b", "c", "d"]


def _router(**config: object) -> RouterSpec:
    return router_spec(RouterConfig.model_validate(config))


def test_shares_by_hand():
    zipf = expected_shares(_router(mapping="zipf", zipf_s=1.0), workload_spec(TRACE), NAMES)
    assert zipf == pytest.approx(np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12))
    table = expected_shares(_router(mapping={"x": "a", "y": "a", "z": "c"}), workload_spec(TRACE),
                            NAMES)
    assert table == pytest.approx([2 / 3, 0, 1 / 3, 0])
    mix = expected_shares(_router(categories={"p": 3, "q": 1}), workload_spec(TRACE), NAMES)
    assert mix == pytest.approx([0.75, 0.25, 0, 0])
    assert expected_shares(_router(), workload_spec(TRACE), NAMES) == pytest.approx([0.25] * 4)
    labelled = WorkloadConfig(generator={**TRACE.generator.model_dump(exclude_none=True),
                                         "expert": {"kind": "weights", "weights": {"b": 1, "d": 3}}})
    assert expected_shares(_router(), workload_spec(labelled), NAMES) == pytest.approx([0, 0.25, 0, 0.75])


def test_group_shares_split_zipf_by_group():
    pmf = zipf_pmf(4, 0.0, [(2, 0.3), (2, 0.7)])
    assert pmf == pytest.approx([0.15, 0.15, 0.35, 0.35])


def test_router_draws_groups_by_share():
    # 250 small + 50 large experts: without shares Zipf gives the large ones a few per cent.
    names = [f"s{i}" for i in range(250)] + [f"L{i}" for i in range(50)]
    frame = RequestChunk.of(arrival_s=np.zeros(20_000))
    router = Router(_router(mapping="zipf", zipf_s=1.0), names, seed=1,
                    group_shares=[(250, 0.7), (50, 0.3)])
    share = (router.route(frame).expert >= 250).mean()
    assert share == pytest.approx(0.3, abs=0.01)


def test_share_needs_zipf_and_consistent_sums(write_scenario):
    bad = small_scenario(experts=[{"model": "llama-2-7b", "count": 4, "share": 0.5},
                                  {"model": "llama-2-13b", "count": 2, "share": 0.7}])
    with pytest.raises(InputError, match=r"sum to 1\.2"):
        load_scenario(write_scenario(bad))
    rr = small_scenario(experts=[{"model": "llama-2-7b", "count": 4, "share": 0.5},
                                 {"model": "llama-2-13b", "count": 2}],
                        router={"latency": "1 ms"})
    with pytest.raises(InputError, match=r"mapping: zipf"):
        load_scenario(write_scenario(rr))
    ok = small_scenario(experts=[{"model": "llama-2-7b", "count": 4, "share": 0.5},
                                 {"model": "llama-2-13b", "count": 2}])
    assert load_scenario(write_scenario(ok)).group_shares == ((4, 0.5), (2, 0.5))


def test_replicas_only_with_uniform(write_scenario):
    data = small_scenario(serving={"placement": "load_aware", "replicas": 2})
    with pytest.raises(InputError, match="replicas"):
        load_scenario(write_scenario(data))


def test_load_aware_run_replicates_the_hot_expert(write_scenario, tmp_path):
    # One TP1 group per DGX GPU: 8 groups, 4 experts, Zipf 1.5 (the first takes about 60 %).
    data = small_scenario(
        platform="dgx_h100", experts=[{"model": "llama-2-7b", "count": 4, "name_prefix": "e"}],
        router={"latency": "1 ms", "mapping": "zipf", "zipf_s": 1.5},
        serving={"tensor_parallel": 1, "max_batch": 4, "placement": "load_aware"})
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path, plots=False)
    req = result.requests
    assert (req["outcome"] == "completed").all()
    # e-0 has ceil(0.6 x 8) = 5 copies; at this light load the least-busy copy is often the first.
    assert result.summary["memory"]["n_expert_replicas"] >= 4
    assert req[req["expert"] == "e-0"]["group"].nunique() >= 2


def test_load_aware_counts_a_labelled_trace(write_scenario, tmp_path):
    """A trace with an expert column: copies follow its own traffic (80 % to e-3), not Zipf."""
    from sn40l_sim.runner import with_label_shares

    n = 200
    experts = ["e-3"] * 160 + ["e-0"] * 20 + ["e-1"] * 10 + ["e-2"] * 10
    trace = pd.DataFrame({"arrival": np.arange(n) * 0.002, "prompt_tokens": 64, "output_tokens": 4,
                          "expert": experts})
    trace.to_csv(tmp_path / "labelled.csv", index=False)
    data = small_scenario(
        platform="dgx_h100", experts=[{"model": "llama-2-7b", "count": 4, "name_prefix": "e"}],
        router={"latency": "1 ms", "mapping": "zipf", "zipf_s": 1.5},
        workload={"trace": str(tmp_path / "labelled.csv"), "format": "generic",
                  "columns": {"arrival": "arrival", "prompt_tokens": "prompt_tokens",
                              "output_tokens": "output_tokens", "expert": "expert"}},
        serving={"tensor_parallel": 1, "max_batch": 4, "placement": "load_aware"})
    resolved = with_label_shares(load_scenario(write_scenario(data)), tmp_path)
    assert resolved.planned_shares == pytest.approx([0.1, 0.05, 0.05, 0.8])
    result = run_scenario(resolved, output=tmp_path / "out", plots=False)
    req = result.requests
    assert (req["outcome"] == "completed").all()
    # 8 groups: e-3 gets 5 copies (D'Hondt on 0.8/0.1/0.05/0.05); 500 requests/s keep them busy.
    assert req[req["expert"] == "e-3"]["group"].nunique() >= 3
