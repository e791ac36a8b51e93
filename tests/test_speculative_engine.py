"""Speculative decoding in the engine: hand calculations of tokens per step, the draft's HBM, every
platform, sweeps and compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import small_scenario

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.load import load_model
from sn40l_sim.config.resolve import load_scenario, resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.cost.speculative import draw_steps
from sn40l_sim.errors import InputError
from sn40l_sim.plan.planner import plan_run
from sn40l_sim.runner import run_scenario

REPO = Path(__file__).resolve().parents[1]


def _scenario(tmp_path: Path, *, platform: str = "sn40l_node", acceptance: object = 0.7, lookahead: int = 4,
              output_tokens: int = 200, requests: int = 60) -> Path:
    data = small_scenario(
        name="spec", platform=platform,
        experts=[{"model": "llama-2-7b", "count": 4, "name_prefix": "expert"}],
        router={"latency": "5 ms"},
        workload={"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 2.0},
                                "prompt_tokens": 128, "output_tokens": output_tokens, "requests": requests}})
    data["serving"] = {"tensor_parallel": 8, "max_batch": 8,
                       "speculative": {"draft": "llama-3.2-1b", "lookahead": lookahead,
                                       "acceptance": acceptance}}
    path = tmp_path / f"spec_{platform}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _summary(path: Path, out: Path) -> dict:
    result = run_scenario(load_scenario(path), output=out, plots=False)
    return json.loads((result.run_dir / "summary.json").read_text())


def test_draw_steps_at_the_extremes_by_hand() -> None:
    rng = np.random.default_rng(0)
    assert draw_steps(rng, 37, 0.0, 4) == 37  # nothing accepted: one token a step
    assert draw_steps(rng, 37, 1.0, 4) == 8  # all accepted: 5 a step, ceil(37 / 5)
    assert draw_steps(rng, 0, 0.5, 4) == 0


def test_draw_steps_mean_is_the_truncated_geometric_expectation() -> None:
    # a = 0.6, k = 3: E = 1 + 0.6 + 0.36 + 0.216 = 2.176 tokens a step. Over 20,000 tokens the
    # last step's surplus (under k tokens) is negligible; the standard error of the mean of
    # ~9,200 steps (variance under 1.2) is about 0.011 tokens, so 0.05 is over 4 sigma.
    rng = np.random.default_rng(1)
    steps = draw_steps(rng, 20_000, 0.6, 3)
    assert 20_000 / steps == pytest.approx(2.176, abs=0.05)


def test_run_tokens_per_step_matches_the_hand_calculation(tmp_path: Path) -> None:
    # a = 0.7, k = 4: E = (1 - 0.7^5) / (1 - 0.7) = (1 - 0.16807) / 0.3 = 2.7731 tokens a step.
    # 60 requests x 199 decode tokens ~ 4,300 steps: standard error ~0.02; each request's last
    # step drops on average under one token of surplus (~60 of 12,000 tokens: -0.5 %).
    summary = _summary(_scenario(tmp_path), tmp_path / "out")
    assert summary["n_completed"] == 60
    assert summary["speculative_tokens_per_step"] == pytest.approx(2.7731, rel=0.04)
    draft, verify = summary["speculative_draft_share"], summary["speculative_verify_share"]
    assert draft > 0 and verify > 0 and draft + verify < 1  # prefill and router time are the rest


def test_zero_acceptance_gives_one_token_a_step_and_is_slower(tmp_path: Path) -> None:
    none = _summary(_scenario(tmp_path, acceptance=0.0), tmp_path / "a")
    high = _summary(_scenario(tmp_path, acceptance=0.9), tmp_path / "b")
    assert none["speculative_tokens_per_step"] == 1.0
    assert high["tpot_mean_s"] < none["tpot_mean_s"]


def test_plain_runs_report_no_speculation(tmp_path: Path) -> None:
    data = yaml.safe_load(_scenario(tmp_path).read_text())
    del data["serving"]["speculative"]
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(data))
    summary = _summary(path, tmp_path / "out")
    assert summary["speculative_tokens_per_step"] is None
    assert summary["speculative_draft_share"] is None


def test_gpu_platform_runs_speculation(tmp_path: Path) -> None:
    summary = _summary(_scenario(tmp_path, platform="dgx_h100"), tmp_path / "out")
    assert summary["n_completed"] == 60
    assert summary["speculative_tokens_per_step"] == pytest.approx(2.7731, rel=0.04)


def test_draft_weights_and_kv_are_pinned_next_to_the_router(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    with_draft = plan_run(resolve(load_model(Scenario, path), path))
    data = yaml.safe_load(path.read_text())
    del data["serving"]["speculative"]
    plain_path = tmp_path / "plain.yaml"
    plain_path.write_text(yaml.safe_dump(data))
    plain = plan_run(resolve(load_model(Scenario, plain_path), plain_path))
    draft = get_model("llama-3.2-1b")
    serving = resolve(load_model(Scenario, path), path).serving
    kv_bytes = serving.max_batch * serving.max_context_tokens * draft.kv_bytes_per_token()
    expected = draft.weight_bytes + kv_bytes
    assert with_draft.speculative is not None and with_draft.speculative.hbm_bytes == expected
    assert with_draft.memory.router_bytes - plain.memory.router_bytes == pytest.approx(expected)
    assert all(g.draft_model == draft for g in with_draft.expert_groups)
    assert with_draft.speculative.acceptance == (0.7,) * 4


def test_acceptance_per_expert_with_default(tmp_path: Path) -> None:
    path = _scenario(tmp_path, acceptance={"expert-0": 0.9, "default": 0.5})
    plan = plan_run(resolve(load_model(Scenario, path), path))
    assert plan.speculative is not None and plan.speculative.acceptance == (0.9, 0.5, 0.5, 0.5)


@pytest.mark.parametrize(("spec", "field"), [
    ({"draft": "no-such-model"}, "serving.speculative.draft"),
    ({"draft": "llama-3.2-1b", "acceptance": 1.5}, "serving.speculative"),
    ({"draft": "llama-3.2-1b", "lookahead": 0}, "serving.speculative.lookahead"),
    ({"draft": "llama-3.2-1b", "acceptance": {"nobody": 0.5}}, "serving.speculative.acceptance"),
])
def test_bad_speculative_options_are_located(tmp_path: Path, spec: dict, field: str) -> None:
    data = yaml.safe_load(_scenario(tmp_path).read_text())
    data["serving"]["speculative"] = spec
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(InputError) as info:
        resolve(load_model(Scenario, path), path)
    assert field in str(info.value)


def test_sweep_over_lookahead(tmp_path: Path) -> None:
    from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep

    _scenario(tmp_path, output_tokens=60, requests=20)
    sweep = {"name": "spec-k", "scenario": "spec_sn40l_node.yaml",
             "grid": {"serving.speculative.lookahead": [1, 4]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    assert result.n_ran == 2 and not result.failures
    assert len(result.points) == 2


def test_compare_runs_speculation_on_sn40l_and_a_gpu(tmp_path: Path) -> None:
    from sn40l_sim.studies.compare import run_comparison

    path = _scenario(tmp_path, output_tokens=60, requests=20)
    table = run_comparison(load_model(Scenario, path), path, ["sn40l_node", "dgx_h100"],
                           output=tmp_path / "out").ratios
    assert (table["key"] == "e2e_latency_mean_s").any()


def test_example_scenario_resolves() -> None:
    path = REPO / "scenarios" / "speculative_70b.yaml"
    plan = plan_run(resolve(load_model(Scenario, path), path))
    assert plan.speculative is not None and plan.speculative.lookahead == 4


def test_a_category_rate_wins_over_the_expert_rate(tmp_path: Path) -> None:
    # Every request is 'coding' (one category): its rate 0.0 gives exactly one token a step,
    # although each expert's own rate (default) is 0.9.
    data = yaml.safe_load(_scenario(tmp_path, acceptance={"coding": 0.0, "default": 0.9},
                                    output_tokens=40, requests=20).read_text())
    data["router"]["categories"] = {"coding": 1.0}
    path = tmp_path / "cat.yaml"
    path.write_text(yaml.safe_dump(data))
    plan = plan_run(resolve(load_model(Scenario, path), path))
    assert plan.speculative is not None and plan.speculative.by_category == (("coding", 0.0),)
    assert _summary(path, tmp_path / "out")["speculative_tokens_per_step"] == 1.0


def test_events_carry_draft_and_verify_time_only_with_speculation(tmp_path: Path) -> None:
    import pandas as pd

    path = _scenario(tmp_path, output_tokens=60, requests=20)
    result = run_scenario(load_scenario(path), output=tmp_path / "a", plots=False)
    events = pd.read_parquet(result.run_dir / "events.parquet")
    summary = json.loads((result.run_dir / "summary.json").read_text())
    busy = (events["end_s"] - events["start_s"])[events["kind"] == "batch"].sum()
    assert events["draft_s"].sum() / busy == pytest.approx(summary["speculative_draft_share"])
    assert events["verify_s"].sum() / busy == pytest.approx(summary["speculative_verify_share"])
    iteration = events[events["phase"] == "iteration"]
    # An iteration's draft and verify time never exceed its duration (prefill is the rest).
    assert ((iteration["draft_s"] + iteration["verify_s"])
            <= (iteration["end_s"] - iteration["start_s"]) * (1 + 1e-9) + 1e-12).all()
    data = yaml.safe_load(path.read_text())
    del data["serving"]["speculative"]
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(data))
    plain_run = run_scenario(load_scenario(plain), output=tmp_path / "b", plots=False)
    assert "draft_s" not in pd.read_parquet(plain_run.run_dir / "events.parquet").columns
