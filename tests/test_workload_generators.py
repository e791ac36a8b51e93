"""Generators: arrival-process statistics, length laws, popularity, prompt sets, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.config.workload_config import WorkloadConfig
from sn40l_sim.config.workload_spec import workload_spec
from sn40l_sim.workload.request_stream import REQUEST_COLUMNS, count_hint, iter_request_chunks


def generate(generator: dict, *, seed: int = 1, chunk_rows: int = 65536,
             data_dir: Path = Path(), requests: int = 20_000) -> pd.DataFrame:
    spec = {"requests": requests, "arrivals": {"kind": "poisson", "rate_per_s": 5.0},
            "prompt_tokens": 100, "output_tokens": 10, **generator}
    stream = iter_request_chunks(workload_spec(WorkloadConfig(generator=spec)), seed=seed,
                                 data_dir=data_dir, base_dir=data_dir, chunk_rows=chunk_rows)
    return pd.concat([chunk.to_frame() for chunk in stream], ignore_index=True)


def gaps_of(frame: pd.DataFrame) -> np.ndarray:
    return np.diff(frame["arrival_s"].to_numpy(), prepend=0.0)


# --- arrivals ------------------------------------------------------------------------------------


def test_poisson_mean_rate_and_cv():
    frame = generate({"arrivals": {"kind": "poisson", "rate_per_s": 8.0}}, requests=40_000)
    gaps = gaps_of(frame)
    # 40k exponential gaps: the mean's relative standard error is 1/sqrt(40k) = 0.5 %.
    assert 1.0 / gaps.mean() == pytest.approx(8.0, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.03)
    assert frame["arrival_s"].iloc[0] > 0.0


@pytest.mark.parametrize("cv", [0.5, 2.0, 4.0])
def test_gamma_rate_and_cv(cv):
    frame = generate({"arrivals": {"kind": "gamma", "rate_per_s": 3.0, "cv": cv}},
                     requests=60_000)
    gaps = gaps_of(frame)
    assert 1.0 / gaps.mean() == pytest.approx(3.0, rel=0.06)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.06)


def test_constant_arrivals_are_evenly_spaced():
    frame = generate({"arrivals": {"kind": "constant", "rate_per_s": 4.0}}, requests=9)
    np.testing.assert_allclose(frame["arrival_s"], np.arange(1, 10) * 0.25)


def test_on_off_fixed_periods():
    arrivals = {"kind": "on_off", "rate_per_s": 20.0, "on_duration": "2 s",
                "off_duration": "3 s"}
    frame = generate({"arrivals": arrivals}, requests=20_000, chunk_rows=999)
    t = frame["arrival_s"].to_numpy()
    assert (np.mod(t, 5.0) <= 2.0 + 1e-9).all()  # nothing while off
    assert len(t) / t[-1] == pytest.approx(20.0 * 2 / 5, rel=0.03)


def test_on_off_random_periods_mean_rate():
    arrivals = {"kind": "on_off", "rate_per_s": 10.0, "on_duration": "1 s",
                "off_duration": "1 s", "random_durations": True}
    t = generate({"arrivals": arrivals}, requests=40_000)["arrival_s"].to_numpy()
    assert len(t) / t[-1] == pytest.approx(5.0, rel=0.06)
    gaps = np.diff(t)
    assert gaps.std() / gaps.mean() > 1.2  # bursts and silences: burstier than Poisson


# --- lengths -------------------------------------------------------------------------------------


def test_length_laws():
    frame = generate({"prompt_tokens": {"kind": "uniform", "low": 3, "high": 7},
                      "output_tokens": {"kind": "lognormal", "median": 200, "sigma": 0.7,
                                        "max_tokens": 1500}})
    assert set(frame["prompt_tokens"]) == {3, 4, 5, 6, 7}
    counts = frame["prompt_tokens"].value_counts(normalize=True)
    assert counts.between(0.18, 0.22).all()
    out = frame["output_tokens"]
    assert out.median() == pytest.approx(200, rel=0.05)
    assert out.max() <= 1500 and out.min() >= 1


def test_geometric_length_is_memoryless():
    frame = generate({"output_tokens": {"kind": "geometric", "mean": 40}}, requests=40_000)
    out = frame["output_tokens"].to_numpy()
    assert out.min() == 1
    assert out.mean() == pytest.approx(40, rel=0.03)
    assert out.var() == pytest.approx(40 * 39, rel=0.06)  # (1 - p) / p^2 with p = 1/40
    # memoryless: past 30 tokens, the tokens still to come have the same law as from the start
    assert (out[out > 30] - 30).mean() == pytest.approx(40, rel=0.06)


@pytest.mark.data
def test_empirical_lengths_keep_rows_together(real_data):
    name = "azure-llm-2023/AzureLLMInferenceTrace_code.csv"
    law = {"kind": "empirical", "trace": name}
    frame = generate({"prompt_tokens": law, "output_tokens": law}, data_dir=real_data,
                     requests=5000)
    raw = pd.read_csv(real_data / name)
    pairs = set(zip(raw["ContextTokens"], raw["GeneratedTokens"], strict=True))
    drawn = set(zip(frame["prompt_tokens"], frame["output_tokens"], strict=True))
    assert drawn <= pairs and len(drawn) > 2000
    assert frame["prompt_tokens"].mean() == pytest.approx(raw["ContextTokens"].mean(), rel=0.05)


# --- popularity and prompt sets ------------------------------------------------------------------


def test_zipf_popularity_is_skewed_as_expected():
    s, n = 1.2, 20
    frame = generate({"expert": {"kind": "zipf", "s": s, "count": n, "prefix": "e"}},
                     requests=50_000)
    freq = frame["expert"].value_counts(normalize=True)
    expected = np.arange(1, n + 1) ** -s
    expected /= expected.sum()
    for rank in (1, 2, 5, 20):
        assert freq[f"e-{rank - 1}"] == pytest.approx(expected[rank - 1], rel=0.1)
    assert freq["e-0"] / freq["e-1"] == pytest.approx(2**s, rel=0.06)
    assert list(frame.columns) == [*REQUEST_COLUMNS, "expert"]


def test_uniform_and_weighted_popularity():
    frame = generate({"category": {"kind": "weights", "weights": {"a": 1, "b": 3, "c": 0}},
                      "expert": {"kind": "uniform", "names": ["x", "y"]}}, requests=20_000)
    freq = frame["category"].value_counts(normalize=True)
    assert set(freq.index) == {"a", "b"}
    assert freq["b"] == pytest.approx(0.75, abs=0.015)
    assert frame["expert"].value_counts(normalize=True)["x"] == pytest.approx(0.5, abs=0.015)


def _write_prompts(folder: Path) -> Path:
    rows = [{"question_id": i, "category": cat, "turns": [f"{cat} question {i}" + "!" * i,
                                                          "follow-up"]}
            for i, cat in enumerate(["math"] * 3 + ["code"] * 2 + ["chat"])]
    path = folder / "prompts.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_prompt_set_attaches_label_and_text(tmp_path):
    _write_prompts(tmp_path)
    frame = generate({"prompts": {"file": "prompts.jsonl"},
                      "prompt_tokens": {"kind": "text", "chars_per_token": 2}},
                     data_dir=tmp_path, requests=6000)
    assert all(text.startswith(cat) for cat, text in zip(frame["category"],
                                                         frame["prompt_text"], strict=True))
    freq = frame["category"].value_counts(normalize=True)  # each prompt equally likely
    assert freq["math"] == pytest.approx(0.5, abs=0.03)
    lengths = frame["prompt_text"].str.len().to_numpy()
    np.testing.assert_array_equal(frame["prompt_tokens"], np.maximum(1, np.rint(lengths / 2)))
    zipf = generate({"prompts": {"file": "prompts.jsonl", "popularity": {"kind": "zipf", "s": 1}}},
                    data_dir=tmp_path, requests=6000)
    freq = zipf["category"].value_counts(normalize=True)  # labels ranked by first appearance
    assert freq["math"] == pytest.approx(1 / (1 + 1 / 2 + 1 / 3), abs=0.03)
    assert freq["chat"] == pytest.approx((1 / 3) / (1 + 1 / 2 + 1 / 3), abs=0.03)


@pytest.mark.data
@pytest.mark.parametrize(("name", "n_labels"), [("mt-bench", 8), ("arena-hard", 250)])
def test_real_prompt_sets(real_data, name, n_labels):
    frame = generate({"prompts": name}, data_dir=real_data, requests=20_000)
    assert frame["category"].nunique() == n_labels
    assert frame["prompt_text"].str.len().min() > 0


# --- determinism ---------------------------------------------------------------------------------


FULL = {"arrivals": {"kind": "on_off", "rate_per_s": 9.0, "on_duration": "1.5 s",
                     "off_duration": "0.5 s", "random_durations": True},
        "prompt_tokens": {"kind": "lognormal", "median": 300, "sigma": 1.0},
        "output_tokens": {"kind": "uniform", "low": 1, "high": 50},
        "category": {"kind": "zipf", "s": 0.8, "names": ["a", "b", "c"]},
        "expert": {"kind": "uniform", "count": 7}}


def test_same_seed_same_requests_other_seed_other_requests():
    first = generate(FULL, seed=3, requests=3000)
    pd.testing.assert_frame_equal(first, generate(FULL, seed=3, requests=3000))
    other = generate(FULL, seed=4, requests=3000)
    assert not np.array_equal(first["arrival_s"], other["arrival_s"])


@settings(max_examples=20, deadline=None)
@given(chunk_rows=st.integers(5, 700), seed=st.integers(0, 2**32 - 1))
def test_stream_does_not_depend_on_chunk_size(chunk_rows, seed):
    whole = generate(FULL, seed=seed, requests=1000)
    pd.testing.assert_frame_equal(whole, generate(FULL, seed=seed, requests=1000,
                                                  chunk_rows=chunk_rows))


def test_sources_have_independent_streams():
    base = generate(FULL, seed=9, requests=2000)
    changed = generate({**FULL, "output_tokens": 7, "expert": {"kind": "zipf", "count": 3}},
                       seed=9, requests=2000)
    pd.testing.assert_series_equal(base["arrival_s"], changed["arrival_s"])
    pd.testing.assert_series_equal(base["prompt_tokens"], changed["prompt_tokens"])
    pd.testing.assert_series_equal(base["category"], changed["category"])


def test_count_hint_of_a_generator():
    config = WorkloadConfig(generator={"requests": 1234, "prompt_tokens": 1, "output_tokens": 1,
                                       "arrivals": {"kind": "poisson", "rate_per_s": 1}})
    assert count_hint(workload_spec(config), data_dir=Path(), base_dir=Path()) == 1234
