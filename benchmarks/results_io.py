"""CPU seconds of writing and summarising a run's results: ``Recorder.close`` and
``RunSummary.from_run_dir``, in the ``coe`` case of ``benchmarks/speed.py``.

    python benchmarks/results_io.py                    # coe, 100,000 requests
    python benchmarks/results_io.py --requests 1000000

Both are wrapped with ``time.process_time`` (every thread of the process) for one run of the
case; prints one JSON line with their CPU seconds and the whole run's. A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.metrics.run_summary import RunSummary
from sn40l_sim.runner import run_scenario
from sn40l_sim.workload.data_dir import resolve_data_dir


def timed(spent: dict[str, float], key: str, function: Any) -> Any:
    """``function`` that adds its CPU seconds to ``spent[key]``."""
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[key] += time.process_time() - started
    return wrapper


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args(argv)
    spent = {"recorder_close_cpu_s": 0.0, "summary_cpu_s": 0.0}
    Recorder.close = timed(spent, "recorder_close_cpu_s", Recorder.close)  # type: ignore[method-assign]
    from_run_dir = RunSummary.from_run_dir.__func__  # type: ignore[attr-defined]
    RunSummary.from_run_dir = classmethod(timed(spent, "summary_cpu_s", from_run_dir))  # type: ignore[method-assign]
    data = resolve_data_dir(None)
    doc = speed.scenario_document("coe", args.requests, (data / speed.AZURE_CONV).exists())
    resolved = resolve(validate(Scenario, doc, None, "<benchmark coe>"))
    with tempfile.TemporaryDirectory(prefix="sn40l-bench-") as tmp:
        started = time.process_time()
        run_scenario(resolved, data_dir=data, plots=False, run_dir=Path(tmp) / "run")
        total = time.process_time() - started
    out = {k: round(v, 3) for k, v in spent.items()}
    print(json.dumps({"case": "coe", "requests": args.requests, **out,
                      "together_cpu_s": round(sum(spent.values()), 3), "run_cpu_s": round(total, 2)}))


if __name__ == "__main__":
    main()
