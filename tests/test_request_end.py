"""The serving stack's end-of-request cost: paid after a request's last token, by that request only.

A request completes ``request_end`` after its last token; its first token, the batch's iterations
(and so the batch's throughput) and every other request's timing stay as they were.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sn40l_sim.catalogue.hardware import PlatformSpec, ServingStackSpec
from sn40l_sim.catalogue.models import ModelSpec, get_model
from sn40l_sim.config.load import validate
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.cost.cache import FixedStepCost, StepCostTable
from sn40l_sim.cost.serving import completed_s, inference_s
from sn40l_sim.runner import RunResult, run_scenario

A100 = load_platform("dgx_a100")
LLAMA7 = get_model("llama-2-7b")
END_S = 0.0125


def test_completed_by_hand():
    stack = ServingStackSpec("x", iteration_s=1e-3, request_end_s=0.004)
    assert completed_s(stack, 2.5) == 2.5 + 0.004
    assert completed_s(ServingStackSpec(), 2.5) == 2.5


def test_whole_request_pays_the_end_once():
    """inference_s: prefill + 19 steps + the end cost, once per batch whatever its size or length."""
    bare = replace(A100, stack=replace(A100.stack, request_end_s=0.0))
    ended = replace(A100, stack=replace(A100.stack, request_end_s=END_S))
    for batch, output in ((1, 1), (1, 20), (8, 200)):
        kwargs: dict[str, Any] = {"tp": 8, "n_batch": batch, "n_prompt_tokens": 128,
                                  "n_output_tokens": output}
        assert inference_s(ended, LLAMA7, **kwargs) - inference_s(bare, LLAMA7, **kwargs) == pytest.approx(
            END_S, rel=1e-9)


def _run(tmp_path: Path, name: str, max_batch: int, rate_per_s: float, step_costs: Any,
         platform: str = "sn40l_node") -> RunResult:
    data = {"name": name, "platform": platform, "experts": [{"model": "llama-2-7b"}],
            "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": rate_per_s},
                                       "prompt_tokens": 64, "requests": 300,
                                       "output_tokens": {"kind": "geometric", "mean": 20}}},
            "serving": {"tensor_parallel": 8, "max_batch": max_batch}, "seed": 7, "plots": "none"}
    resolved = resolve(validate(Scenario, data, None, "request-end"))
    return run_scenario(resolved, plots=False, run_dir=tmp_path / name, step_costs=step_costs)


def _assert_only_the_end_moves(base: RunResult, ended: RunResult, end_s: float) -> None:
    a, b = base.requests, ended.requests
    assert (a["outcome"] == "completed").all() and (b["outcome"] == "completed").all()
    for column in ("ttft_s", "tpot_s", "queue_wait_s", "last_token_s"):
        pd.testing.assert_series_equal(a[column], b[column])
    np.testing.assert_allclose(b["e2e_latency_s"] - a["e2e_latency_s"], end_s, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b["end_s"] - b["last_token_s"], end_s, rtol=0, atol=1e-12)
    # The batch's iterations, so its tokens per second of device time, are the same rows.
    pd.testing.assert_frame_equal(base.events, ended.events)
    assert base.summary.token_gap_p99_mean_s == ended.summary.token_gap_p99_mean_s


@pytest.mark.parametrize("max_batch, rate_per_s", [(1, 4.0), (8, 60.0)])
def test_engine_charges_the_end_after_the_last_token(tmp_path, max_batch, rate_per_s):
    """Batch 1 (a queue forms behind each request) and batch 8 (members finish mid-batch): the next
    request or iteration never waits for another's end-of-request work."""
    def fixed(end_s: float) -> Any:
        return functools.partial(FixedStepCost, prefill_s=0.02, decode_step_s=0.004, request_end_s=end_s)

    base = _run(tmp_path, "base", max_batch, rate_per_s, fixed(0.0))
    ended = _run(tmp_path, "ended", max_batch, rate_per_s, fixed(END_S))
    assert base.requests["queue_wait_s"].max() > END_S  # requests do queue behind each other
    if max_batch > 1:
        assert base.events["n_batch"].max() > 1
    _assert_only_the_end_moves(base, ended, END_S)


def test_engine_reads_the_end_from_the_profile_stack(tmp_path):
    """With the cost model in: a DGX A100 run whose stack's ``request_end`` is set vs zero."""
    def tables(end_s: float) -> Any:
        def build(platform: PlatformSpec, model: ModelSpec, tp: int) -> StepCostTable:
            return StepCostTable(replace(platform, stack=replace(platform.stack, request_end_s=end_s)),
                                 model, tp)
        return build

    base = _run(tmp_path, "a100-base", 4, 20.0, tables(0.0), "dgx_a100")
    ended = _run(tmp_path, "a100-ended", 4, 20.0, tables(END_S), "dgx_a100")
    _assert_only_the_end_moves(base, ended, END_S)
