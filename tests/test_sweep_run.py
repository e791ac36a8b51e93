"""Sweeps that simulate: resume after a kill, the Ray backend, error rows, SLO search, plots.

The resume test runs a real ``sn40l-sim sweep`` in a subprocess on the 50-point tiny grid (with
more requests per point, so it lasts a few seconds), kills it once some points are on disk (Ctrl-C,
or SIGKILL of the whole process group), reruns it and checks every planned point is in the table
exactly once and that the rerun simulated only the missing ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, default_sigint

from sn40l_sim.errors import InputError
from sn40l_sim.studies.sweep.driver import SweepOptions, SweepResult, run_sweep
from sn40l_sim.studies.sweep.grid import expand, point_id
from sn40l_sim.studies.sweep.spec import load_sweep
from sn40l_sim.studies.sweep.sweep_plots import plot_sweep

SWEEPS = REPO / "scenarios" / "sweeps"
START_TIMEOUT_S = 90.0


def _copy_sweep(tmp_path: Path, name: str, requests: int | None = None) -> Path:
    shutil.copy(SWEEPS / "tiny_base.yaml", tmp_path / "tiny_base.yaml")
    data = yaml.safe_load((SWEEPS / name).read_text())
    if requests is not None:
        data["set"]["workload.generator.requests"] = requests
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _planned_ids(path: Path) -> set[str]:
    spec, _ = load_sweep(path)
    return {point_id(o) for o in expand(spec.set, spec.cases, spec.grid)}


def _start(path: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "sn40l_sim.cli", "sweep", str(path), "--workers", "2",
                             "--output", str(out), "--no-progress"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=default_sigint)


def _wait_for_points(points_dir: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(list(points_dir.glob("*.parquet"))) < n:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended before it was killed:\n{proc.communicate()[1]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the sweep made no progress")
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_killed_sweep_reruns_to_every_point_exactly_once(tmp_path, how):
    path = _copy_sweep(tmp_path, "tiny_grid.yaml", requests=3000)
    planned = _planned_ids(path)
    assert len(planned) == 50
    out = tmp_path / "out"
    proc = _start(path, out)
    _wait_for_points(out / "tiny-grid" / "points", 8, proc)
    if how == "sigint":
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "kept" in err and "Traceback" not in err
        assert (out / "tiny-grid" / "points.parquet").exists()
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    n_kept = len(list((out / "tiny-grid" / "points").glob("*.parquet")))
    assert 8 <= n_kept < 50, "the kill should land half way"

    result = run_sweep(path, SweepOptions(workers=2, output=out, progress=False))
    assert result.n_skipped == n_kept and result.n_ran == 50 - n_kept
    table = pd.read_parquet(out / "tiny-grid" / "points.parquet")
    assert len(table) == 50 and set(table["point_id"]) == planned
    assert (table["status"] == "ok").all()
    assert not list((out / "tiny-grid" / "points").glob("*.partial"))


@pytest.mark.slow
def test_rerun_skips_everything_and_results_are_deterministic(tmp_path):
    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    first = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "a", progress=False))
    again = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "a", progress=False))
    assert first.n_ran == 50 and again.n_ran == 0 and again.n_skipped == 50
    other = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "b", progress=False))
    cols = ["point_id", "n_completed", "ttft_p99_s", "throughput_req_per_s", "n_switches"]
    pd.testing.assert_frame_equal(first.points[cols], other.points[cols])
    # Latency grows with load: p99 TTFT at 16 requests/s is above that at 1 request/s.
    rate = "workload.generator.arrivals.rate_per_s"
    p = first.points
    for platform in ("sn40l_node", "dgx_h100"):
        sel = p[(p["platform"] == platform) & (p["serving.max_batch"] == 1)]
        assert sel.loc[sel[rate] == 16, "ttft_p99_s"].iloc[0] > sel.loc[sel[rate] == 1, "ttft_p99_s"].iloc[0]
    written = plot_sweep(tmp_path / "a" / "tiny-grid")
    kinds = {(p.name.split("_")[0], p.suffix) for p in written}
    assert kinds == {("metric", ".png"), ("metric", ".svg"), ("speedup", ".png"), ("speedup", ".svg")}
    assert all(p.stat().st_size > 5_000 for p in written)
    assert b"<svg" in next(p for p in written if p.suffix == ".svg").read_bytes()[:400]


@pytest.mark.slow
def test_resume_refuses_points_of_another_base_scenario(tmp_path):
    """Point ids hash the overrides only: resuming after the base scenario changed would reuse
    stale results, so the sweep stops with a clear message until --restart."""
    from sn40l_sim.errors import InputError

    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    data = yaml.safe_load(path.read_text())
    data.update(cases=[], grid={"serving.max_batch": [1, 2]})
    path.write_text(yaml.safe_dump(data))
    first = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    assert first.n_ran == 2
    base = tmp_path / "tiny_base.yaml"
    assert "seed: 3" in base.read_text()
    base.write_text(base.read_text().replace("seed: 3", "seed: 9"))
    with pytest.raises(InputError, match="--restart"):
        run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))
    again = run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False, restart=True))
    assert again.n_ran == 2 and again.n_skipped == 0


def test_resume_compares_the_profiles_used_as_parsed_settings(tmp_path):
    """A profile given by path is part of the fingerprint: a changed number refuses the resume, a
    reworded comment does not; a folder without a fingerprint (older version) is refused."""
    import json

    from sn40l_sim.errors import InputError

    profile = tmp_path / "mybox.yaml"
    profile.write_text((REPO / "hw_profiles" / "sn40l_node.yaml").read_text())
    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    data = yaml.safe_load(path.read_text())
    data.update(cases=[{"platform": "mybox.yaml"}], grid={"serving.max_batch": [1, 2]})
    path.write_text(yaml.safe_dump(data))
    options = SweepOptions(workers=1, output=tmp_path / "out", progress=False)
    assert run_sweep(path, options).n_ran == 2
    profile.write_text(profile.read_text().replace("# [P1 Table II]", "# [P1, Table II]"))
    assert run_sweep(path, options).n_skipped == 2  # comments are not settings
    text = profile.read_text()
    assert "flop_efficiency: 0.9 " in text
    profile.write_text(text.replace("flop_efficiency: 0.9 ", "flop_efficiency: 0.5 ", 1))
    with pytest.raises(InputError, match="--restart"):
        run_sweep(path, options)
    meta = tmp_path / "out" / "tiny-grid" / "sweep.json"
    record = json.loads(meta.read_text())
    del record["fingerprint"]
    meta.write_text(json.dumps(record))
    with pytest.raises(InputError, match="--restart"):
        run_sweep(path, options)


def test_a_dot_name_cannot_reach_the_parent_folder(tmp_path, capsys):
    from sn40l_sim.cli import main

    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    data = yaml.safe_load(path.read_text())
    data["name"] = ".."
    path.write_text(yaml.safe_dump(data))
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    code = main(["sweep", str(path), "--output", str(tmp_path / "out"), "--restart", "--no-progress"])
    assert code == 2 and keep.exists()
    assert "name" in capsys.readouterr().err


def test_invalid_values_become_error_rows(tmp_path):
    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    data = yaml.safe_load(path.read_text())
    data.update(cases=[], grid={"serving.max_batch": [0, 2], "serving.scheduler": ["fcfs", "fifo"]})
    path.write_text(yaml.safe_dump(data))
    result = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "out", progress=False))
    table = result.points.set_index(["serving.max_batch", "serving.scheduler"])
    assert table.loc[(2, "fcfs"), "status"] == "ok"
    assert table.loc[(0, "fcfs"), "status"] == "error"
    assert "serving.max_batch" in table.loc[(0, "fcfs"), "error"]
    assert "fifo" in table.loc[(2, "fifo"), "error"]
    assert str(path) in table.loc[(2, "fifo"), "error"]


@pytest.mark.slow
def test_slo_search_on_a_real_scenario(tmp_path):
    path = _copy_sweep(tmp_path, "tiny_search.yaml")
    result = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "out", progress=False))
    assert result.search is not None
    # SN40L vs DGX: the SN40L searches also ran at half and double its program load
    assert sorted(result.search["program_load_scale"]) == [0.5, 0.5, 1, 1, 1, 1, 2, 2]
    by_scale = result.search[result.search["platform"] == "sn40l_node"].pivot_table(
        index="workload.generator.arrivals.rate_per_s", columns="program_load_scale", values="answer")
    assert (by_scale[0.5] <= by_scale[1.0]).all() and (by_scale[1.0] <= by_scale[2.0]).all()
    search = result.search[result.search["program_load_scale"] == 1]
    points = result.points[result.points["costs.program_load_scale"].isna()]
    assert len(search) == 4 and set(search["status"]) <= {"found", "at_bound"}
    assert (search["answer_metric"] <= 0.5).all()
    assert (search["answer_n_devices"] == search["answer"] * 8).all()
    for _, row in search.iterrows():  # the answer passes; one node fewer (when tried) fails
        combo = points[(points["platform"] == row["platform"])
                       & (points["workload.generator.arrivals.rate_per_s"]
                          == row["workload.generator.arrivals.rate_per_s"])]
        below = combo[combo["nodes"] == row["answer"] - 1]
        assert below.empty or (below["ttft_p99_s"] > 0.5).all()
    # More load never needs fewer nodes.
    for platform in ("sn40l_node", "dgx_h100"):
        answers = search[search["platform"] == platform].sort_values(
            "workload.generator.arrivals.rate_per_s")["answer"]
        assert answers.is_monotonic_increasing
    again = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "out", progress=False))
    assert again.n_ran == 0
    pd.testing.assert_frame_equal(again.search, result.search)
    written = plot_sweep(tmp_path / "out" / "tiny-search")
    assert sorted(p.suffix for p in written) == [".png", ".svg"] and "capacity" in written[0].name


@pytest.mark.slow
@pytest.mark.ray
def test_ray_backend_gives_the_same_points(tmp_path, monkeypatch):
    ray = pytest.importorskip("ray")
    path = _copy_sweep(tmp_path, "tiny_grid.yaml")
    local = run_sweep(path, SweepOptions(workers=2, output=tmp_path / "local", progress=False))
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH") or str(REPO))  # Ray workers import it
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_sweep(path, SweepOptions(backend="ray", output=tmp_path / "ray", progress=False))
    finally:
        ray.shutdown()
    assert remote.n_ran == 50 and not remote.failures
    cols = ["point_id", "status", "n_completed", "ttft_p99_s", "e2e_latency_p99_s", "n_switches"]
    pd.testing.assert_frame_equal(local.points[cols], remote.points[cols])


@pytest.mark.data
def test_example_capacity_sweeps_are_valid_and_their_scenario_runs(real_data):
    from sn40l_sim.config.load import read_yaml
    from sn40l_sim.studies.sweep.driver import check_paths
    from sn40l_sim.studies.sweep.task import SweepPoint, run_point

    for name in ("capacity_azure_conv.yaml", "capacity_azure_conv_curve.yaml",
                 "capacity_azure_conv_uniform.yaml", "capacity_azure_conv_sn40l_ring.yaml"):
        spec, node = load_sweep(SWEEPS / name)
        check_paths(spec, SWEEPS / name, node)
        assert (SWEEPS / spec.scenario).resolve() == REPO / "scenarios" / "azure_conv_coe.yaml"
    source = REPO / "scenarios" / "azure_conv_coe.yaml"
    base, _ = read_yaml(source)
    overrides = {"workload.max_requests": 300, "platform": "dgx_h100", "nodes": 2,
                 "workload.rate_multiplier": 2}
    row = run_point(SweepPoint(point_id=point_id(overrides), order=0, overrides=overrides, base=base,
                               source=str(source), data_dir=str(real_data)))
    assert row["status"] == "ok", row["error"]
    assert row["n_requests"] == 300 and row["n_devices"] == 16 and row["platform_name"] == "DGX H100"


def _router_latency_search(tmp_path: Path, unit: str | None) -> SweepResult:
    """The largest fixed router latency whose p99 TTFT stays under 0.3 s (a dimensioned field)."""
    path = _copy_sweep(tmp_path, "tiny_search.yaml")
    data = yaml.safe_load(path.read_text())
    search = {"field": "router.latency", "low": 1, "high": 400, "resolution": 10, "goal": "max",
              "slo": {"metric": "ttft_p99_s", "max": 0.3}}
    if unit is not None:
        search["unit"] = unit
    data.update(cases=[{"platform": "sn40l_node"}], grid={}, search=search)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return run_sweep(path, SweepOptions(workers=1, output=tmp_path / "out", progress=False))


def test_search_over_a_dimensioned_field_writes_its_unit(tmp_path):
    """A probe of a field with a dimension is written '<value> <unit>' (a bare number is an error)."""
    result = _router_latency_search(tmp_path, "ms")
    assert (result.points["status"] == "ok").all()
    answer = float(result.search["answer"].iloc[0])
    # 0.3 s of TTFT less a prefill leaves a router latency of a few hundred ms, found within 10 ms
    assert 100 < answer < 300
    within = result.points.loc[result.points["router.latency"] <= answer, "ttft_p99_s"]
    assert (within <= 0.3).all()


def test_search_over_a_dimensioned_field_without_unit_says_which(tmp_path):
    """A search whose probes cannot be valid values is one located error before anything runs
    (not a search of error rows that exits 0 with no answer), and leaves no sweep folder."""
    with pytest.raises(InputError, match="unit") as caught:
        _router_latency_search(tmp_path, None)
    assert caught.value.line is not None and caught.value.field == "search.low"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("unit", ["GB", "W"])
def test_search_unit_of_the_wrong_dimension_is_located(tmp_path, unit):
    with pytest.raises(InputError) as caught:
        _router_latency_search(tmp_path, unit)
    assert caught.value.field == "search.unit" and caught.value.line is not None
    assert not (tmp_path / "out").exists()
