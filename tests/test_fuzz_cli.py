"""The CLI fuzz suite: hundreds of generated bad scenarios, traces and profiles (tests/fuzz_cases.py).

Every case runs through ``sn40l_sim.cli.main`` in a worker subprocess with a memory limit
(RLIMIT_AS) and a per-case time limit, and must end with: exit status 2; one stderr line per
problem, each naming a file of the case and a line or field; no traceback; no hang; nothing
written outside ``--output`` and, as every case fails validation, no results folder at all.

By default a third of every category runs (about a minute); ``pytest -m fuzz_full`` runs all.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fuzz_cases import Case, all_cases, fast_subset, write_case

MEMORY_LIMIT_BYTES = 6 * 2**30  # address space of the worker: the imports take ~2-3 GiB
CASES = all_cases()
FAST = fast_subset(CASES)
WORKER = Path(__file__).with_name("fuzz_worker.py")
REPO = Path(__file__).resolve().parent.parent

# Problems of a file as a whole, where no line or field can be named.
WHOLE_FILE = (": the file is empty", ": cannot read file: ", ": invalid YAML: collections nested",
              "codec can't decode", "no line holds a JSON object", "the trace has no valid",
              "cannot tell the file type")
_LINE = re.compile(r"^sn40l-sim: error: (?P<file>.+?\.(?:ya?ml|csv|jsonl|txt))(?P<line>:\d+)?: "
                   r"(?P<rest>.*)$")


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_batch(cases: list[Case], root: Path) -> list[dict[str, Any]]:
    """Write every case under ``root/<i>/`` and run them all in one worker; one result each."""
    jobs = []
    for i, case in enumerate(cases):
        scenario = write_case(case, root / f"{i:04d}")
        jobs.append({"dir": str(scenario.parent), "scenario": scenario.name,
                     "sweep": "sweep" in case.tags})
    before = _listing(root)
    (root / "jobs.json").write_text(json.dumps(jobs))
    results_path = root / "results.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(WORKER), str(root / "jobs.json"), str(results_path)],
                          env=env, capture_output=True, text=True, preexec_fn=_limit_memory,
                          timeout=120 + 25 * len(cases))
    lines = results_path.read_text().splitlines() if results_path.exists() else []
    results = [json.loads(line) for line in lines]
    for _ in range(len(cases) - len(results)):  # the worker died (memory limit) at this case
        results.append({"code": None, "err": "", "crash": f"worker died ({proc.returncode}): "
                                                         f"{proc.stderr[-500:]}"})
        break
    results += [{"code": None, "err": "", "crash": "not run"}] * (len(cases) - len(results))
    new = _listing(root) - before - {"jobs.json", "results.jsonl"}
    escaped = sorted(p for p in new if not re.match(r"\d{4}(/|$)", p))  # outside every case folder
    for i, result in enumerate(results):
        result["new_files"] = escaped + sorted(p for p in new if p.startswith(f"{i:04d}/"))
    return results


def judge(case: Case, result: dict[str, Any], root: Path) -> list[str]:
    """What is wrong with one case's outcome (empty: as required)."""
    if result["crash"]:
        return [f"crash: {result['crash']}"]
    problems = []
    err = result["err"]
    if result["code"] != 2:
        problems.append(f"exit {result['code']} (expected 2): {err[-300:]}")
    if "Traceback" in err:
        problems.append("traceback on stderr")
    lines = err.splitlines()
    names = set(case.files)
    for line in lines:
        match = _LINE.match(line)
        if not match:
            problems.append(f"not a located error line: {line[:200]!r}")
            continue
        if Path(match["file"]).name not in names:
            problems.append(f"names a file that is not the case's: {line[:200]!r}")
        located = match["line"] or re.match(r"[A-Za-z_(][\w.\[\]()\- ]*: ", match["rest"])
        if not located and not any(w in line for w in WHOLE_FILE):
            problems.append(f"neither a line nor a field: {line[:200]!r}")
    if case.n_problems is not None and len(lines) != case.n_problems:
        problems.append(f"{len(lines)} line(s) for {case.n_problems} problem(s): {err[-600:]}")
    if not 1 <= len(lines) <= 20:
        problems.append(f"{len(lines)} lines (expected 1 to 20)")
    if result.get("new_files"):
        problems.append(f"wrote {result['new_files'][:5]}")
    return problems


def _check(cases: list[Case], tmp_path: Path) -> None:
    results = run_batch(cases, tmp_path)
    failures = []
    for case, result in zip(cases, results, strict=True):
        problems = judge(case, result, tmp_path)
        if problems:
            failures.append(f"{case.id}: {'; '.join(problems)}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures[:40])


def test_generator_has_at_least_400_cases_in_every_category():
    by_category: dict[str, int] = {}
    for case in CASES:
        by_category[case.category] = by_category.get(case.category, 0) + 1
    assert len(CASES) >= 400, by_category
    assert min(by_category.values()) >= 10, by_category


def test_fuzz_fast_subset(tmp_path):
    _check(FAST, tmp_path)


@pytest.mark.fuzz_full
@pytest.mark.parametrize("category", sorted({c.category for c in CASES}))
def test_fuzz_full(tmp_path, category):
    _check([c for c in CASES if c.category == category], tmp_path)
