"""No superlinear path: the work per request of an overloaded run stays flat as the run grows.

Work is counted, not timed: the lines of ``sn40l_sim`` code executed while simulating (a tracer
that follows only this package's frames), and SimPy's events. A queue operation that walked every
waiting request (FCFS's oldest-other request once did) makes the lines per request grow with the
queue, i.e. with the run; a flat count is what amortised O(1) / O(log n) operations give.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pandas as pd
import pytest

import sn40l_sim
from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.engine.simulation import Simulation
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.plan.planner import plan_run
from sn40l_sim.workload.request_stream import iter_request_chunks

PACKAGE_DIR = str(Path(sn40l_sim.__file__).parent)


def overloaded_single_model(n_requests: int, scheduler: str) -> dict[str, Any]:
    """Llama-2-70B on a DGX A100 at TP2, max_batch 128, arrivals at several times its capacity:
    the queue grows for the whole run (the kind of run Vidur simulates)."""
    return {
        "name": "overloaded", "platform": "dgx_a100",
        "experts": [{"model": "llama-2-70b", "count": 2, "name_prefix": "llama"}],
        "router": {"mapping": "round_robin"},
        "workload": {"generator": {
            "requests": n_requests, "arrivals": {"kind": "poisson", "rate_per_s": 40},
            "prompt_tokens": {"kind": "lognormal", "median": 1020, "sigma": 0.5, "max_tokens": 4000},
            "output_tokens": {"kind": "lognormal", "median": 129, "sigma": 0.99, "max_tokens": 1000}}},
        "serving": {"tensor_parallel": 2, "max_batch": 128, "scheduler": scheduler,
                    "max_context_tokens": 8192},
        "seed": 3, "plots": "none"}


def work_per_request(n_requests: int, scheduler: str, tmp: Path) -> tuple[float, float]:
    """(lines of sn40l_sim executed, SimPy events) per request of one simulation."""
    resolved = resolve(validate(Scenario, overloaded_single_model(n_requests, scheduler), None, "<t>"))
    chunks = iter_request_chunks(resolved.workload, seed=resolved.scenario.seed,
                                 data_dir=tmp, base_dir=tmp)
    recorder = Recorder(tmp, [e.name for e in resolved.experts],
                        [float(e.model.n_params) for e in resolved.experts], 0.0)
    sim = Simulation(plan_run(resolved), recorder, chunks)
    lines = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal lines
        if event == "line":
            lines += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(PACKAGE_DIR) else None

    sys.settrace(tracer)
    try:
        sim.run()
    finally:
        sys.settrace(None)
    recorder.close()
    done = pd.read_parquet(tmp / "requests.parquet")
    assert (done["outcome"] == "completed").all()
    return lines / n_requests, next(sim.env._eid) / n_requests


@pytest.mark.slow
def test_work_per_request_is_flat_when_doubling(tmp_path: Path) -> None:
    """The work each doubling adds, per added request, stays flat (the fixed set-up work, such
    as filling the step-cost tables, cancels out in the difference). Quadratic work would double
    it at every step (the old FCFS queue: 1.0 / 1.44 / 2.29 times the first doubling's)."""
    for scheduler in ("fcfs", "expert_affinity"):
        sizes = (250, 500, 1000, 2000)  # doubled three times
        work = []
        for n in sizes:
            run_dir = tmp_path / f"{scheduler}-{n}"
            run_dir.mkdir()
            work.append(work_per_request(n, scheduler, run_dir))
        for k, label in ((0, "lines"), (1, "events")):
            total = [w[k] * n for w, n in zip(work, sizes, strict=True)]
            added = [(total[j + 1] - total[j]) / (sizes[j + 1] - sizes[j]) for j in range(3)]
            growth = [a / added[0] for a in added]
            assert max(growth) < 1.3, (scheduler, label, sizes, added)
