"""SIGTERM and SIGKILL of a run and of a sweep: readable or clearly marked files, no live process.

SIGTERM (what ``timeout`` and batch schedulers send) stops a run like Ctrl-C: exit 143, every file
complete. SIGKILL cannot be caught: what it leaves must be readable (each Parquet part is a complete
file) and marked (``summary.json`` says ``"complete": false``), and the next run into that folder
must not trip over it. A sweep's workers die with the sweep, whichever signal ends it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, default_sigint, small_scenario
from test_interrupt import _check_run_dir, _long_scenario, _start, _wait_for
from test_sweep_run import _copy_sweep

from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.runner import run_scenario

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
    pytest.mark.slow,  # starts processes and sends them signals
]

EXIT_TIMEOUT_S = 60.0
START_TIMEOUT_S = 90.0


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children of all its threads, recursively), from /proc."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _start_long_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(yaml.safe_dump(_long_scenario(), sort_keys=False))
    out = tmp_path / "results"
    proc = _start(["run", str(scenario), "--no-plots", "--output", str(out)], REPO)
    _wait_for("long/*/scenario.resolved.yaml", out, proc)
    return proc, out


def test_sigterm_during_run_keeps_complete_results(tmp_path):
    proc, out = _start_long_run(tmp_path)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=EXIT_TIMEOUT_S)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "interrupted" in err and "kept" in err
    (run_dir,) = list((out / "long").iterdir())
    summary = _check_run_dir(run_dir)
    assert summary["complete"] is True
    assert not list(run_dir.glob("*.parts")), "the part files are joined and removed"


def test_sigkill_during_run_leaves_readable_marked_files(tmp_path):
    proc, out = _start_long_run(tmp_path)
    (run_dir,) = list((out / "long").iterdir())
    _wait_for("long/*/events.parquet.parts/part-*.parquet", out, proc)  # a flush has happened
    proc.kill()
    proc.communicate(timeout=EXIT_TIMEOUT_S)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is False, "a killed run is marked incomplete"
    for path in run_dir.rglob("*.parquet"):  # every file under its final name reads
        pq.read_metadata(path)
    events = pq.read_table(run_dir / "events.parquet.parts")  # the parts as one dataset
    assert events.num_rows >= 50_000
    assert not (run_dir / "requests.parquet").exists(), "no file looks complete when it is not"
    from sn40l_sim.cli import main

    assert main(["summarize", str(run_dir)]) == 2  # says the run did not finish, no traceback

    # The next run in that folder (a sweep's kept run folder is reused) starts clean.
    resolved = resolve(Scenario.model_validate(small_scenario(name="long")))
    result = run_scenario(resolved, run_dir=run_dir, plots=False, data_dir=tmp_path)
    assert result.summary["complete"] is True and len(result.requests) == 300
    assert not list(run_dir.glob("*.parts")) and not list(run_dir.rglob("*.partial"))
    assert json.loads((run_dir / "summary.json").read_text())["complete"] is True


def _start_sweep(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    path = _copy_sweep(tmp_path, "tiny_grid.yaml", requests=3000)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
    # Not a new session and no kill of the group: only the driver gets the signal, as when an OOM
    # killer or a parent process kills it.
    proc = subprocess.Popen([sys.executable, "-m", "sn40l_sim.cli", "sweep", str(path), "--workers",
                             "2", "--output", str(out), "--no-progress"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    points = out / "tiny-grid" / "points"
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(list(points.glob("*.parquet"))) < 2:
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended early:\n{proc.communicate()[1]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the sweep made no progress")
        time.sleep(0.05)
    return proc, out


def _assert_gone(pids: set[int], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    survivors = [p for p in pids if _alive(p)]
    for pid in survivors:  # do not leave them running after a failure
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"{len(survivors)} worker process(es) outlived the sweep"


def test_sweep_killed_with_sigkill_leaves_no_worker(tmp_path):
    proc, _ = _start_sweep(tmp_path)
    workers = _descendants(proc.pid)
    assert len(workers) >= 2, "expected the worker processes (and the resource tracker)"
    proc.kill()
    proc.wait(timeout=EXIT_TIMEOUT_S)
    _assert_gone(workers)
    # Nobody holds the output pipes any more: reading them to the end does not hang.
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read()
    proc.stderr.read()


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["sigterm", "sigint"])
def test_sweep_stopped_by_signal_keeps_points_and_stops_workers(tmp_path, signum, status):
    proc, out = _start_sweep(tmp_path)
    workers = _descendants(proc.pid)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=EXIT_TIMEOUT_S)
    assert proc.returncode == status, err
    assert "kept" in err and "Traceback" not in err
    assert (out / "tiny-grid" / "points.parquet").exists()
    _assert_gone(workers)


def test_sweep_folder_leftovers_of_a_kill_are_cleared_on_rerun(tmp_path):
    """A SIGKILL mid-write leaves temporary files (a point, or points.parquet being compacted);
    the next sweep into that folder removes them before it writes."""
    from sn40l_sim.studies.sweep.store import PointStore

    store = PointStore(tmp_path)
    store.points_dir.mkdir(parents=True)
    stale = [store.points_dir / "abc.parquet.99.partial", tmp_path / "points.parquet.99.partial",
             tmp_path / "search.parquet.7.partial"]
    for path in stale:
        path.write_bytes(b"PAR1 half a file")
    store.open_for_writing()
    assert not any(path.exists() for path in stale)
    assert store.done_ids() == set()
