"""Start-up cost of ``sn40l-sim run --no-plots``: CPU seconds to import what a run imports.

A script, not a test (timings do not belong in the test suite):

    python benchmarks/startup.py                           # scenarios/quickstart.yaml, 9 rounds
    python benchmarks/startup.py SCENARIO --rounds 15

It runs the scenario once in a child process and lists the modules left in ``sys.modules``; then,
each round, a fresh ``python -c`` imports exactly those modules, and its CPU time (user + sys of
the child, interpreter start and shutdown included) is one sample. Prints one JSON line: the
number of modules, whether pandas is among them, and the samples' min / median / max. To compare
with another checkout, run it with ``PYTHONPATH=<that checkout>``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

LIST_MODULES = """
import json, sys
from sn40l_sim.cli import main
main(["run", sys.argv[1], "--no-plots", "--no-progress", "--output", sys.argv[2]])
print(json.dumps(sorted(m for m in sys.modules if not m.startswith("__"))))
"""


def run_modules(scenario: Path) -> list[str]:
    """The modules a run of ``scenario`` leaves imported."""
    with tempfile.TemporaryDirectory(prefix="sn40l-startup-") as tmp:
        done = subprocess.run([sys.executable, "-c", LIST_MODULES, str(scenario), tmp],
                              capture_output=True, text=True, check=True)
    modules: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return modules


def import_cpu_s(modules: list[str]) -> float:
    """CPU seconds of a fresh interpreter importing ``modules`` (a few may fail alone: skipped)."""
    code = (f"import importlib\nfor m in {modules!r}:\n    try:\n        importlib.import_module(m)\n"
            "    except Exception:\n        pass\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", nargs="?", default="scenarios/quickstart.yaml")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args(argv)
    modules = run_modules(Path(args.scenario))
    samples = sorted(import_cpu_s(modules) for _ in range(args.rounds))
    print(json.dumps({"scenario": args.scenario, "modules": len(modules),
                      "pandas": "pandas" in modules, "rounds": args.rounds,
                      "cpu_s_min": round(samples[0], 3),
                      "cpu_s_median": round(samples[len(samples) // 2], 3),
                      "cpu_s_max": round(samples[-1], 3)}))


if __name__ == "__main__":
    main()
