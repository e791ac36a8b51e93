"""RunSummary: by hand on a tiny results folder, recomputed by ``summarize``, small for big runs,
and docs/metrics.md's table in step with its fields.

``python tests/test_run_summary.py`` rewrites the generated table of docs/metrics.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, small_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.cli.app import main
from sn40l_sim.metrics.run_info import RUN_INFO, MemoryUse, RunInfo
from sn40l_sim.metrics.run_summary import RunSummary, field_docs, glossary_markdown
from sn40l_sim.workload.workload_stats import WorkloadStats

METRICS_MD = REPO / "docs" / "metrics.md"
BEGIN = "<!-- summary fields: generated from RunSummary, do not edit by hand -->\n"
END = "<!-- end of summary fields -->\n"
NAN = math.nan

MEMORY = MemoryUse(hbm_capacity_bytes_per_group=100.0, router_bytes=10.0, kv_reservation_bytes=5.0,
                   peak_hbm_used_bytes=90.0, peak_kv_bytes=3.0, backing_capacity_bytes_per_group=1e3,
                   backing_used_bytes_max=500.0, n_expert_replicas=0)


def _write(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def _tiny_run(run_dir: Path, n_servable: int = 3) -> Path:
    """Two completed and two rejected requests; three switches on two links; two expert batches."""
    run_dir.mkdir()
    text = lambda values: pd.array(values, dtype="string")  # noqa: E731
    _write(pd.DataFrame({
        "arrival_s": [0.0, 1.0, 1.5, 2.0], "end_s": [2.0, 4.0, 1.5, 2.0],
        "output_tokens": [3, 1, 7, 7],
        "ttft_s": [0.5, 1.0, NAN, NAN], "e2e_latency_s": [2.0, 3.0, NAN, NAN],
        "tpot_s": [0.75, NAN, NAN, NAN], "queue_wait_s": [0.1, 0.3, NAN, NAN],
        "switch_wait_s": [0.4, 0.0, NAN, NAN], "router_s": [0.0, 0.1, 0.0, 0.0],
        "switch_share": [0.2, 0.0, NAN, NAN], "active_params": [7e9, 9e9, 7e9, 7e9],
        "outcome": text(["completed", "completed", "rejected", "rejected"]),
        "reason": text([None, None, "out of memory: x", "out of memory: x"]),
    }), run_dir / "requests.parquet")
    _write(pd.DataFrame({
        "kind": text(["switch", "switch", "switch", "batch", "batch", "batch"]),
        "phase": text(["copy", "copy", "copy", "iteration", "iteration", "router"]),
        "link": text(["a", "a", "b", "", "", ""]),
        "bytes": [10.0, 20.0, 5.0, 0.0, 0.0, 0.0],
        "start_s": [0.0, 1.0, 2.0, 0.4, 2.0, 0.0], "end_s": [0.4, 1.2, 2.1, 2.0, 4.0, 0.1],
        "n_batch": [0, 0, 0, 2, 1, 4],
    }), run_dir / "events.parquet")
    (run_dir / "scenario.resolved.yaml").write_text("name: tiny\nseed: 1\n")
    info = RunInfo(platform="P", n_experts=4, n_servable_experts=n_servable, expert_cache_bytes=85.0,
                   memory=MEMORY, hbm_hits=3, hbm_misses=1,
                   workload=dataclasses.asdict(WorkloadStats(n_requests=4)), interrupted=False,
                   wall_s=2.0)
    (run_dir / RUN_INFO).write_text(json.dumps(info.to_dict()))
    return run_dir


def test_summary_by_hand(tmp_path):
    s = RunSummary.from_run_dir(_tiny_run(tmp_path / "run"))
    assert (s.scenario, s.platform, s.n_experts, s.n_servable_experts) == ("tiny", "P", 4, 3)
    assert s.out_of_memory_at_experts == 4 and s.memory == MEMORY
    assert (s.n_requests, s.n_completed, s.n_rejected) == (4, 2, 2)
    assert s.rejection_reasons == {"out of memory: x": 2}
    assert s.makespan_s == 4.0  # first arrival 0 to last completion 4
    assert s.throughput_req_per_s == 0.5 and s.output_tokens_per_s == 1.0  # (3 + 1) tokens / 4 s
    assert s.ttft_mean_s == 0.75 and s.ttft_p50_s == 0.75
    assert s.ttft_p90_s == pytest.approx(0.95)  # 0.5 + 0.9 x (1.0 - 0.5), linear interpolation
    assert s.tpot_mean_s == 0.75 and s.tpot_p99_s == 0.75  # the NaN of a 1-token request left out
    assert s.e2e_latency_mean_s == 2.5 and s.router_mean_s == pytest.approx(0.05)
    assert s.switch_share_of_latency == pytest.approx(0.2 / 2.5)
    assert s.switch_share_mean == 0.1
    assert (s.n_switches, s.switch_bytes) == (3, 35.0)
    assert s.switch_bytes_by_link == {"a": 30.0, "b": 5.0}
    assert s.switch_time_s == pytest.approx(0.7) and s.switch_time_mean_s == pytest.approx(0.7 / 3)
    assert (s.n_batches, s.mean_batch_size) == (2, 1.5)  # the router batch is not an expert batch
    assert s.average_active_params == 8e9
    assert s.hbm_hit_rate == 0.75 and s.sim_requests_per_wall_s == 2.0
    assert s.workload["n_requests"] == 4 and s.interrupted is False
    assert s["ttft_p50_s"] == 0.75 and s["memory"]["router_bytes"] == 10.0
    with pytest.raises(KeyError):
        s["average_active_parameters"]


def test_all_fit_and_no_completions(tmp_path):
    run_dir = _tiny_run(tmp_path / "run", n_servable=4)
    requests = pq.read_table(run_dir / "requests.parquet").to_pandas()
    requests["outcome"] = pd.array(["rejected"] * 4, dtype="string")
    _write(requests, run_dir / "requests.parquet")
    s = RunSummary.from_run_dir(run_dir)
    assert s.out_of_memory_at_experts is None
    assert s.n_completed == 0 and s.makespan_s == 0.0
    assert math.isnan(s.throughput_req_per_s) and math.isnan(s.ttft_p99_s)
    assert math.isnan(s.switch_share_of_latency)


@st.composite
def _requests(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 40))
    times = st.floats(0, 100, allow_nan=False)
    maybe = st.one_of(st.just(NAN), times)
    arrival = np.array(draw(st.lists(times, min_size=n, max_size=n)))
    return pd.DataFrame({
        "arrival_s": arrival,
        "end_s": arrival + np.array(draw(st.lists(times, min_size=n, max_size=n))),
        "output_tokens": draw(st.lists(st.integers(1, 500), min_size=n, max_size=n)),
        **{c: draw(st.lists(maybe, min_size=n, max_size=n))
           for c in ("ttft_s", "e2e_latency_s", "tpot_s", "queue_wait_s", "switch_wait_s", "router_s",
                     "switch_share")},
        "active_params": draw(st.lists(st.sampled_from([7e9, 1.4e10]), min_size=n, max_size=n)),
        "outcome": pd.array(draw(st.lists(st.sampled_from(["completed", "rejected", "pending"]),
                                          min_size=n, max_size=n)), dtype="string"),
        "reason": pd.array(draw(st.lists(st.sampled_from([None, "a", "b"]), min_size=n, max_size=n)),
                           dtype="string"),
    })


@settings(max_examples=40, deadline=None)
@given(_requests())
def test_summary_agrees_with_pandas_on_any_requests(frame):
    """Column by column from files gives what pandas gives on the whole DataFrame."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = _tiny_run(Path(tmp) / "run")
        _write(frame, run_dir / "requests.parquet")
        s = RunSummary.from_run_dir(run_dir)
    done = frame[frame["outcome"] == "completed"]
    assert (s.n_requests, s.n_completed) == (len(frame), len(done))
    assert s.n_rejected == int((frame["outcome"] == "rejected").sum())
    assert s.rejection_reasons == frame["reason"].dropna().value_counts().to_dict()
    first = frame["arrival_s"].min()
    makespan = max((done["end_s"].max() if len(done) else first) - first, 0.0)
    assert s.makespan_s == pytest.approx(makespan)
    for column in ("ttft_s", "e2e_latency_s", "tpot_s", "queue_wait_s", "switch_wait_s", "router_s"):
        values = done[column].dropna()
        name = column.removesuffix("_s")
        expected = values.mean() if len(values) else NAN
        assert s[f"{name}_mean_s"] == pytest.approx(expected, nan_ok=True)
        expected = float(np.percentile(values, 90)) if len(values) else NAN
        assert s[f"{name}_p90_s"] == pytest.approx(expected, nan_ok=True)


def test_summarize_recomputes_what_the_run_wrote(write_scenario, tmp_path, capsys):
    from sn40l_sim.config.resolve import load_scenario
    from sn40l_sim.runner import run_scenario

    data = small_scenario()
    data["workload"]["generator"]["requests"] = 80
    result = run_scenario(load_scenario(write_scenario(data)), output=tmp_path / "out", plots=False)
    written = json.loads((result.run_dir / "summary.json").read_text())
    assert result.summary.n_requests == 80 == len(result.requests)
    done = result.requests[result.requests["outcome"] == "completed"]
    assert result.summary.ttft_mean_s == pytest.approx(done["ttft_s"].mean(), rel=1e-12)
    assert result.summary.e2e_latency_p99_s == pytest.approx(np.percentile(done["e2e_latency_s"], 99))
    (result.run_dir / "summary.json").unlink()
    assert main(["summarize", str(result.run_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == written == json.loads((result.run_dir / "summary.json").read_text())


def test_summarize_without_run_info_is_an_input_error(tmp_path, capsys):
    run_dir = _tiny_run(tmp_path / "run")
    (run_dir / RUN_INFO).unlink()
    assert main(["summarize", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert RUN_INFO in err and "Traceback" not in err


@pytest.mark.slow
def test_a_million_requests_summarize_in_little_memory(tmp_path):
    """Column by column: a 1M-request run (and 1.2M events) is summarised within 400 MB above what
    the interpreter and its imports take."""
    run_dir = _tiny_run(tmp_path / "run")
    n, rng = 1_000_000, np.random.default_rng(0)
    arrival = np.cumsum(rng.exponential(1e-3, n))
    e2e = rng.exponential(1.0, n)
    names = pd.array(np.array([f"expert-{i}" for i in range(150)])[np.arange(n) % 150], dtype="string")
    _write(pd.DataFrame({
        "arrival_s": arrival, "expert": names, "output_tokens": np.full(n, 20), "end_s": arrival + e2e,
        **{c: e2e * k for c, k in (("ttft_s", 0.5), ("e2e_latency_s", 1.0), ("tpot_s", 0.02),
                                   ("queue_wait_s", 0.2), ("switch_wait_s", 0.1), ("router_s", 0.1),
                                   ("switch_share", 0.0))},
        "active_params": np.full(n, 1.4e10), "outcome": pd.array(["completed"] * n, dtype="string"),
        "reason": pd.array([None] * n, dtype="string")}), run_dir / "requests.parquet")
    m = 1_200_000
    kinds = np.where(np.arange(m) % 60 == 0, "switch", "batch")
    _write(pd.DataFrame({"kind": pd.array(kinds, dtype="string"),
                         "phase": pd.array(np.where(kinds == "switch", "copy", "iteration"), dtype="string"),
                         "link": pd.array(np.where(kinds == "switch", "ddr", ""), dtype="string"),
                         "bytes": np.ones(m), "start_s": np.zeros(m), "end_s": np.ones(m),
                         "n_batch": np.full(m, 4)}), run_dir / "events.parquet")
    code = ("import resource, sys\nfrom pathlib import Path\n"
            "from sn40l_sim.metrics.run_summary import RunSummary\n"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "s = RunSummary.from_run_dir(Path(sys.argv[1]))\n"
            "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(s.n_completed, s.n_switches, (peak - base) / 1024)")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True,
                         check=True).stdout.split()
    assert (int(out[0]), int(out[1])) == (n, m // 60)
    assert float(out[2]) < 400, f"{out[2]} MB"


def _generated_section(text: str) -> str:
    assert BEGIN in text and END in text, "docs/metrics.md lost its generated-table markers"
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


def test_metrics_doc_matches_run_summary():
    """docs/metrics.md's summary table is RunSummary's fields, each described; regenerate with
    ``python tests/test_run_summary.py``."""
    assert all(text.strip() for _, text in field_docs())
    assert _generated_section(METRICS_MD.read_text()) == glossary_markdown()


def test_every_key_of_summary_json_is_documented(tmp_path):
    documented = {name for name, _ in field_docs()}
    data = RunSummary.from_run_dir(_tiny_run(tmp_path / "run")).to_dict()
    keys = set(data) | {f"memory.{k}" for k in data["memory"]}
    assert keys == documented
    workload_doc = dict(field_docs())["workload"]
    assert all(f"`{f.name}`" in workload_doc for f in dataclasses.fields(WorkloadStats))


if __name__ == "__main__":
    text = METRICS_MD.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    METRICS_MD.write_text(text[:start] + glossary_markdown() + text[end:])
    print(f"rewrote the summary table of {METRICS_MD}")
