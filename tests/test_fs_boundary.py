"""The file-system boundary: concurrent runs into one ``--output``, full disks and full or closed
stdout, ``~`` never expanded, paths checked before work, temporary files of interrupted work.

The subprocess tests run the installed CLI (``python -m sn40l_sim.cli``) as a user would.
"""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from fuzz_cases import base_scenario

from sn40l_sim.errors import InputError, Interrupted, MachineFaultError
from sn40l_sim.present import fs_boundary
from sn40l_sim.present.fs_boundary import check_output_file, check_writable_dir, make_unique_dir, os_error

IS_ROOT = os.geteuid() == 0


def _scenario(folder: Path, **overrides) -> Path:
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump(base_scenario(**overrides)))
    return path


def _cli(args: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "HOME": str(cwd / "home")}
    (cwd / "home").mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "sn40l_sim.cli", *args],
        cwd=cwd,
        env=env,
        stdout=kwargs.pop("stdout", subprocess.PIPE),
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


@pytest.mark.parametrize("command", ["run", "compare"])
def test_two_runs_started_together_into_one_output_both_succeed(tmp_path, command):
    """Started in the same second, into the same --output: two folders, both complete."""
    _scenario(tmp_path)
    args = [command, "s.yaml", "--output", "out", "--no-plots", "--no-progress"]
    if command == "compare":
        args += ["--platforms", "sn40l_node,dgx_h100"]
    procs = [_cli(args, tmp_path) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in results]
    folder = tmp_path / "out" / ("fuzz" if command == "run" else "fuzz-compare")
    runs = sorted(folder.iterdir())
    assert len(runs) == 3
    for run in runs:
        done = (run / "summary.json",) if command == "run" else (run / "ratios.csv", run / "summaries.json")
        assert all(p.is_file() for p in done), list(run.iterdir())


def test_make_unique_dir_suffixes_on_collision(tmp_path):
    first = make_unique_dir(tmp_path / "a", "20260101T000000Z")
    second = make_unique_dir(tmp_path / "a", "20260101T000000Z")
    assert first.name == "20260101T000000Z" and second.name == "20260101T000000Z-2"


def test_output_tilde_is_a_folder_named_tilde_and_nothing_lands_in_home(tmp_path):
    _scenario(tmp_path)
    proc = _cli(["run", "s.yaml", "--output", "~", "--no-plots", "--no-progress"], tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert list((tmp_path / "home").iterdir()) == []
    (run,) = (tmp_path / "~" / "fuzz").iterdir()
    assert (run / "requests.parquet").is_file() and (run / "events.parquet").is_file()


@pytest.mark.parametrize("limit_bytes", [300, 3_000])
def test_a_full_disk_is_exit_1_one_line_and_no_partial_folder(tmp_path, limit_bytes):
    """``ulimit -f``: a write fails with EFBIG; one located line, exit 1, and no results folder."""
    _scenario(tmp_path)

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    proc = _cli(
        ["run", "s.yaml", "--output", "out", "--no-plots", "--no-progress"], tmp_path, preexec_fn=small_files
    )
    _, err = proc.communicate(timeout=120)
    lines = err.strip().splitlines()
    assert proc.returncode == 1, err
    assert len(lines) == 1 and lines[0].startswith("sn40l-sim: error: ") and "file too large" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_stdout_on_a_full_device_is_one_line_and_exit_1(tmp_path):
    if not IS_ROOT:
        pytest.skip("needs a private /dev/full (mknod)")
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    with full.open("w") as sink:
        proc = _cli(["schema", "scenario"], tmp_path, stdout=sink)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines() == [
        "sn40l-sim: error: cannot write to standard output: No space left on device"
    ]


def test_a_closed_pipe_ends_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write gets EPIPE
    with os.fdopen(write, "w") as sink:
        proc = _cli(["schema", "scenario"], tmp_path, stdout=sink)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err == "", err


def test_json_to_a_device_writes_through_it_and_never_replaces_it(tmp_path):
    if not IS_ROOT:
        pytest.skip("needs a private null device (mknod)")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    fs_boundary.write_user_file(check_output_file(null, "--json"), "[]\n")
    assert stat.S_ISCHR(null.stat().st_mode)
    full = tmp_path / "full"
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    with pytest.raises(OSError) as caught:
        fs_boundary.write_user_file(full, "x" * 100_000)
    assert isinstance(os_error(caught.value, "--json"), MachineFaultError)
    assert stat.S_ISCHR(full.stat().st_mode)


@pytest.mark.parametrize(
    "setup, problem",
    [
        (lambda d: (d / "f").write_text("x"), "is a file"),
        (lambda d: Path(d / "f").symlink_to("x") or Path(d / "x").symlink_to("f"), "symbolic link loop"),
        (lambda d: Path(d / "f").symlink_to("missing/y"), "symbolic link to nothing"),
        (lambda d: os.mkfifo(d / "f"), "not a folder"),
    ],
)
def test_check_writable_dir_names_the_problem(tmp_path, setup, problem):
    setup(tmp_path)
    for target in (tmp_path / "f", tmp_path / "f" / "sub"):
        with pytest.raises(InputError, match=problem) as caught:
            check_writable_dir(target, "--output")
        assert caught.value.field == "--output"
    assert check_writable_dir(tmp_path / "new" / "deeper", "--output") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checked, not created


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders")
def test_read_only_output_is_refused_before_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable"):
            check_writable_dir(folder / "out", "--output")
    finally:
        folder.chmod(0o755)


def test_deleted_working_folder_is_one_line(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    _scenario(tmp_path)
    code = (
        "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "from sn40l_sim.cli import main; sys.exit(main(['run', sys.argv[2], '--output', 'out', "
        "'--no-progress']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(gone), str(tmp_path / "s.yaml")],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "current folder no longer exists" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_interrupted_compare_says_which_platforms_finished(tmp_path, monkeypatch):
    """A compare stopped during its second platform names the first as finished and says that no
    ratios.csv was written."""
    from sn40l_sim.config.load import load_model
    from sn40l_sim.config.scenario import Scenario
    from sn40l_sim.studies import compare

    real = compare.run_scenario
    calls = []

    def second_interrupted(resolved, **kwargs):
        calls.append(resolved.platform.name)
        if len(calls) == 2:
            raise Interrupted("interrupted at simulated time 1.0 s", signum=15)
        return real(resolved, **kwargs)

    monkeypatch.setattr(compare, "run_scenario", second_interrupted)
    path = _scenario(tmp_path)
    with pytest.raises(Interrupted) as caught:
        compare.run_comparison(
            load_model(Scenario, path), path, ["sn40l_node", "dgx_h100"], output=tmp_path / "out"
        )
    message = str(caught.value)
    assert "finished platform(s): SN40L node" in message and "no ratios.csv was written" in message
    assert caught.value.exit_status == 143
    (root,) = (tmp_path / "out" / "fuzz-compare").iterdir()
    assert not (root / "ratios.csv").exists()


def test_sweep_scratch_folders_are_swept(tmp_path, monkeypatch):
    """Points run in <sweep>/scratch/<id>/, removed after each point and on every start; the temp
    directory is never used by a local sweep."""
    from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep
    from sn40l_sim.studies.sweep.store import SCRATCH_DIR, PointStore

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _scenario(tmp_path)
    (tmp_path / "sweep.yaml").write_text(
        yaml.safe_dump({"name": "sw", "scenario": "s.yaml", "grid": {"serving.max_batch": [1, 2]}})
    )
    leftover = tmp_path / "out" / "sw" / SCRATCH_DIR / "0123456789abcdef"
    leftover.mkdir(parents=True)
    (leftover / "requests.parquet.parts").mkdir()
    result = run_sweep(
        tmp_path / "sweep.yaml", SweepOptions(workers=1, output=tmp_path / "out", progress=False)
    )
    assert len(result.points) == 2 and (result.points["status"] == "ok").all()
    assert not (tmp_path / "out" / "sw" / SCRATCH_DIR).exists()
    assert list((tmp_path / "tmp").glob("sn40l-point-*")) == []
    leftover.mkdir(parents=True)
    PointStore(tmp_path / "out" / "sw").open_for_writing()
    assert not leftover.exists()


def test_two_sweeps_started_together_into_one_output_both_succeed(tmp_path):
    """A sweep's folder is named by the sweep (a rerun resumes it): the second of two sweeps started
    at once waits for the first's lock, then finds every point done; each point is simulated once."""
    _scenario(tmp_path)
    (tmp_path / "sweep.yaml").write_text(
        yaml.safe_dump({"name": "sw", "scenario": "s.yaml", "grid": {"serving.max_batch": [1, 2, 4]}})
    )
    args = ["sweep", "sweep.yaml", "--output", "out", "--workers", "1", "--no-progress"]
    procs = [_cli(args, tmp_path) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    said = sorted(out.split(" point(s): ")[1].split(" already")[0] for out, _ in outs)
    assert said == ["0 simulated now, 3", "3 simulated now, 0"], said
    assert len(list((tmp_path / "out" / "sw" / "points").glob("*.parquet"))) == 3
