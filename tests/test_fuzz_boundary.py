"""The boundary fuzz suite: output paths, damaged results folders, command arguments, sweep and
search files and the Python API (tests/fuzz_boundary_cases.py), each run in a worker subprocess with a
memory limit and a per-case time limit.

Every case must end clean: the exit status it expects (2 for an input error, with each stderr line
``sn40l-sim: error: <where>: <what>``; 0 where the use is valid); no traceback, no "internal error",
no hang; nothing new in the case folder outside what the case allows (its ``--output``), and nothing
under ``$HOME`` (``--output '~'`` is a folder named ``~``). By default a sample of every category
runs (tens of seconds); ``pytest -m fuzz_full`` runs them all.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fuzz_boundary_cases import BoundaryCase, all_boundary_cases, sample
from fuzz_cases import base_scenario

MEMORY_LIMIT_BYTES = 6 * 2**30
CASES = all_boundary_cases()
SAMPLE = sample(CASES)
WORKER = Path(__file__).with_name("fuzz_boundary_worker.py")
REPO = Path(__file__).resolve().parent.parent
CATEGORIES = ("output_paths", "damaged_results", "commands", "sweeps", "api")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One finished run folder (``template/run``) that damaged-results cases copy and break."""
    import yaml

    from sn40l_sim.cli import main

    root = tmp_path_factory.mktemp("template")
    (root / "s.yaml").write_text(yaml.safe_dump(base_scenario()))
    assert (
        main(["run", str(root / "s.yaml"), "--no-plots", "--no-progress", "--output", str(root / "o")]) == 0
    )
    (run,) = (root / "o" / "fuzz").iterdir()
    run.rename(root / "run")
    return root


def run_cases(cases: list[BoundaryCase], root: Path, template: Path) -> list[dict[str, Any]]:
    jobs = []
    befores = []
    for i, case in enumerate(cases):
        folder = root / f"{i:04d}"
        folder.mkdir()
        (folder / "home").mkdir()
        case.setup(folder, template)
        befores.append(_listing(folder))
        jobs.append({"dir": str(folder), "argv": case.argv, "api": case.api})
    (root / "jobs.json").write_text(json.dumps(jobs))
    results_path = root / "results.jsonl"
    # matplotlib's own caches (fonts, config) go to MPLCONFIGDIR, not the case's $HOME
    (root / "mpl").mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(root / "mpl")}
    proc = subprocess.run(
        [sys.executable, str(WORKER), str(root / "jobs.json"), str(results_path)],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=_limit_memory,
        timeout=300 + 65 * len(cases),
    )
    lines = results_path.read_text().splitlines() if results_path.exists() else []
    results = [json.loads(line) for line in lines]
    if len(results) < len(cases):
        results.append(
            {"code": None, "err": "", "crash": f"worker died ({proc.returncode}): {proc.stderr[-500:]}"}
        )
    results += [{"code": None, "err": "", "crash": "not run"}] * (len(cases) - len(results))
    for i, result in enumerate(results):
        folder = root / f"{i:04d}"
        result["new"] = sorted(_listing(folder) - befores[i])
        result["home"] = sorted(p.name for p in (folder / "home").iterdir())
    return results


def judge(case: BoundaryCase, result: dict[str, Any]) -> list[str]:
    if result["crash"]:
        return [f"crash: {result['crash'][-600:]}"]
    err = result["err"]
    expected = {"error": 2, "ok": 0, "fault": 1}[case.expect]
    problems = []
    if result["code"] != expected:
        problems.append(f"exit {result['code']} (expected {expected}): {err[-400:]}")
    if "Traceback" in err or "internal error" in err:
        problems.append(f"a traceback or internal error: {err[-400:]}")
    if case.expect == "error":
        lines = [ln for ln in err.splitlines() if ln.strip()]
        usage = any(ln.startswith("usage:") for ln in lines)  # argparse's own errors
        for line in lines:
            if usage:
                continue
            if not line.startswith("sn40l-sim: error: "):
                problems.append(f"not an error line: {line[:160]!r}")
            elif ": " not in line[len("sn40l-sim: error: ") :]:
                problems.append(f"an error without a location: {line[:160]!r}")
        if not 1 <= len(lines) <= 20:
            problems.append(f"{len(lines)} stderr lines")
    stray = [n for n in result["new"] if n not in case.allowed and n != "home"]
    if stray:
        problems.append(f"left {stray} (allowed: {case.allowed})")
    if result["home"]:
        problems.append(f"wrote under $HOME: {result['home']}")
    return problems


def _check(cases: list[BoundaryCase], root: Path, template: Path) -> None:
    results = run_cases(cases, root, template)
    failures = [f"{c.id}: {'; '.join(p)}" for c, r in zip(cases, results, strict=True) if (p := judge(c, r))]
    assert not failures, f"{len(failures)} of {len(cases)} failed:\n" + "\n".join(failures[:40])


def test_at_least_300_cases_in_the_five_categories():
    counts = {c: sum(1 for case in CASES if case.category == c) for c in CATEGORIES}
    assert sum(counts.values()) >= 300 and min(counts.values()) >= 30, counts
    assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"


def test_fuzz_boundary_sample(tmp_path, template):
    _check(SAMPLE, tmp_path, template)


@pytest.mark.fuzz_full
@pytest.mark.parametrize("category", CATEGORIES)
def test_fuzz_boundary_full(tmp_path, template, category):
    _check([c for c in CASES if c.category == category], tmp_path, template)
