"""Simulator speed benchmark: four cases, each one JSON line, each next to raw SimPy.

A script, not a test (timings do not belong in the test suite). Pinned to ONE core, since the
targets are per core:

    python benchmarks/speed.py                       # every case
    python benchmarks/speed.py --case coe            # one case (coe | single_model | multi_node | scaling)
    python benchmarks/speed.py --case coe --requests 1000000   # the peak-RSS check
    python benchmarks/speed.py --case coe --profile  # cProfile, top functions by own time

Cases (the workload is the Azure 2023 conversation trace from the data directory, looped, or a
Poisson generator with its fitted lengths when the trace is absent):

* ``coe``: 150 Llama-2-7B experts behind a Llama-2-7B router, TP8 on one SN40L node, Zipf, FCFS,
  ``max_batch`` 8, at the trace's rate (100,000 requests).
* ``single_model``: the run Vidur is built for: Llama-2-70B on a DGX A100 at TP2, ``max_batch``
  128, FCFS, the trace's 19,366 requests (overloaded: queues grow all run long).
* ``multi_node``: ``coe`` on 8 SN40L nodes with 2 replicas of each expert, at 8x the rate.
* ``scaling``: ``single_model`` at 2k, 4k, 8k and 16k requests (time per request should stay flat).
* ``coe_scaling``: ``coe`` at 1M and 10M requests, each in its own process (its own peak RSS):
  CPU per request and peak memory of each against the first (``--requests`` sets the sizes, comma
  separated). Minutes of CPU: run it alone, niced.

Each line: ``case, requests, requests_per_s`` (simulated requests per CPU second of this process
over the whole ``run_scenario`` call: trace, simulation, Parquet, summary; on a quiet machine the
same as per wall second, on a shared one it leaves out the time other jobs held the core;
``requests_per_wall_s`` is the wall-clock figure), ``events_per_s`` and
``events_per_request`` (SimPy's own event counter), ``peak_rss_bytes``, and
``raw_simpy_events_per_s`` / ``ratio_to_raw_simpy``: a trivial SimPy model (arrival -> store ->
server, the same number of events per request) run in the same process right after, so the ratio
does not depend on the machine.

Imports are start-up, measured by ``benchmarks/startup.py``, not simulation: everything a case's
run imports is imported before its clock starts, including pandas, which only the CSV trace
reader needs (a generated workload's run does not import it).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas  # noqa: F401 - the CSV trace reader's import, paid before the clock (see above)
import simpy

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.engine import simulation as simulation_module
from sn40l_sim.runner import run_scenario
from sn40l_sim.workload.data_dir import resolve_data_dir

AZURE_CONV = "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
AZURE_CONV_REQUESTS = 19_366
AZURE_CONV_RATE_PER_S = 5.53  # data README: 19,366 requests over 3,502 s
# Lognormal fits of the Azure conversation lengths (data README: mean / median / max):
# prompts 1155 / 1020 / 14050 -> sigma = sqrt(2 ln(1155/1020)) ~ 0.50;
# outputs  211 /  129 /  1000 -> sigma = sqrt(2 ln(211/129))   ~ 0.99.
POISSON_PROMPT = {"kind": "lognormal", "median": 1020, "sigma": 0.50, "max_tokens": 14050}
POISSON_OUTPUT = {"kind": "lognormal", "median": 129, "sigma": 0.99, "max_tokens": 1000}
CASES = ("coe", "single_model", "multi_node", "scaling", "coe_scaling")
DEFAULT_REQUESTS = {"coe": 100_000, "single_model": AZURE_CONV_REQUESTS, "multi_node": 100_000}
SCALING_REQUESTS = (2_000, 4_000, 8_000, 16_000)
COE_SCALING_REQUESTS = (1_000_000, 10_000_000)
# The raw-SimPy reference runs at most this many requests: its rate does not depend on the length
# (a 10M reference would add a minute of CPU and say nothing new).
RAW_MAX_REQUESTS = 1_000_000


def _workload(n_requests: int, rate_multiplier: float, has_trace: bool) -> dict[str, Any]:
    if has_trace:
        return {"trace": AZURE_CONV, "loop": True, "max_requests": n_requests,
                "rate_multiplier": rate_multiplier}
    return {"generator": {
        "requests": n_requests,
        "arrivals": {"kind": "poisson", "rate_per_s": AZURE_CONV_RATE_PER_S * rate_multiplier},
        "prompt_tokens": POISSON_PROMPT, "output_tokens": POISSON_OUTPUT}}


def scenario_document(case: str, n_requests: int, has_trace: bool, seed: int = 1) -> dict[str, Any]:
    """The case's scenario as the mapping a scenario YAML file would hold."""
    if case in ("single_model", "scaling"):
        return {
            "name": "bench-single-model", "platform": "dgx_a100",
            "experts": [{"model": "llama-2-70b", "count": 1, "name_prefix": "llama"}],
            "router": {"mapping": "round_robin"},  # no router cost: one model
            "workload": _workload(n_requests, 1.0, has_trace),
            "serving": {"tensor_parallel": 2, "max_batch": 128, "max_context_tokens": 16384,
                        "scheduler": "fcfs"},
            "seed": seed, "plots": "none"}
    nodes, replicas, rate = (8, 2, 8.0) if case == "multi_node" else (1, 1, 1.0)
    return {
        "name": f"bench-{case}", "platform": "sn40l_node", "nodes": nodes,
        "experts": [{"model": "llama-2-7b", "count": 150, "name_prefix": "expert"}],
        "router": {"model": "llama-2-7b", "mapping": "zipf"},
        "workload": _workload(n_requests, rate, has_trace),
        # The longest Azure conversation (14,050 prompt + 1,000 output tokens) must fit.
        "serving": {"tensor_parallel": 8, "max_batch": 8, "max_context_tokens": 16384,
                    "scheduler": "fcfs", "eviction": "lru", "replicas": replicas},
        "seed": seed, "plots": "none"}


class _EventCount:
    """Reads how many SimPy events a run scheduled (SimPy's ``Environment._eid`` counter) by
    capturing the Simulation the runner builds; nothing touches the engine's hot loop."""

    def __init__(self) -> None:
        self.sims: list[Any] = []
        sims = self.sims

        class Captured(simulation_module.Simulation):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                sims.append(self)

        import sn40l_sim.runner as runner_module

        runner_module.Simulation = Captured  # type: ignore[attr-defined]

    def last(self) -> int:
        return int(next(self.sims[-1].env._eid))  # noqa: SLF001 - SimPy's only event counter


def raw_simpy_events_per_s(n_requests: int, events_per_request: float, min_cpu_s: float = 3.0) -> float:
    """Events per CPU second of a trivial SimPy model with ``events_per_request`` events per
    request: arrivals (one timeout per job) put jobs in a Store, one server gets each job and
    serves it in a number of timeouts. A job is one request, or a few when the engine needs
    fewer than the 3 events (arrival, put, get) a job costs at least. Repeated until it has run
    ``min_cpu_s`` CPU seconds (a run of a fraction of a second is at the mercy of a busy machine);
    the rate is all events over all that CPU time, the same basis as the engine's."""
    n_events, cpu_s = 0, 0.0
    while cpu_s < min_cpu_s:
        events, seconds = _raw_simpy_run(n_requests, events_per_request)
        n_events, cpu_s = n_events + events, cpu_s + seconds
    return n_events / cpu_s


def _raw_simpy_run(n_requests: int, events_per_request: float) -> tuple[int, float]:
    per_job = max(1, math.ceil(3.0 / events_per_request))  # requests per job
    n_jobs = max(1, n_requests // per_job)
    service_events = events_per_request * per_job - 3.0  # mean timeouts per job
    env = simpy.Environment()
    store: simpy.Store = simpy.Store(env)

    def arrivals() -> Any:
        for _ in range(n_jobs):
            yield env.timeout(1.0)
            yield store.put(None)

    def server() -> Any:
        owed = 0.0
        while True:
            yield store.get()
            owed += service_events
            while owed >= 1.0:
                owed -= 1.0
                yield env.timeout(0.1)

    env.process(arrivals())
    env.process(server())
    started = time.process_time()
    env.run()
    return int(next(env._eid)), time.process_time() - started  # noqa: SLF001 - as above


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def pin_one_core() -> int | None:
    """Run on a single CPU (the targets are per core); returns the core, None if unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def machine() -> str:
    """The CPU model name (as ``lscpu`` says it) and how many cores this machine has."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} cores"


def run_case(case: str, n_requests: int, data_dir: Path, has_trace: bool,
             profile: int) -> dict[str, Any]:
    """Simulate one case and its raw-SimPy reference; returns the JSON line's fields."""
    doc = scenario_document(case, n_requests, has_trace)
    resolved = resolve(validate(Scenario, doc, None, f"<benchmark {case}>"))
    counter = _EventCount()
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix="sn40l-bench-") as tmp:
        started, started_cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        result = run_scenario(resolved, data_dir=data_dir, plots=False, progress=False,
                              run_dir=Path(tmp) / "run")
        if profiler is not None:
            profiler.disable()
        wall_s, cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(profile)
        print(out.getvalue(), file=sys.stderr)
    n_events = counter.last()
    n_done = int(result.summary["n_requests"])
    events_per_request = n_events / n_done
    raw = raw_simpy_events_per_s(min(n_done, RAW_MAX_REQUESTS), events_per_request)
    events_per_s = n_events / cpu_s
    return {"case": case, "requests": n_done, "requests_per_s": round(n_done / cpu_s, 1),
            "events_per_s": round(events_per_s, 1),
            "events_per_request": round(events_per_request, 3),
            "peak_rss_bytes": peak_rss_bytes(),
            "raw_simpy_events_per_s": round(raw, 1),
            "ratio_to_raw_simpy": round(events_per_s / raw, 3),
            "cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3),
            "requests_per_wall_s": round(n_done / wall_s, 1),
            "mean_batch": round(float(result.summary["mean_batch_size"]), 2),
            "workload": "trace" if has_trace else "poisson", "machine": machine()}


def coe_scaling(args: argparse.Namespace) -> int:
    """``coe`` at each size in a process of its own; each line adds CPU per request and peak RSS
    against the first size's (linear time: a ratio near 1)."""
    sizes = ([int(n) for n in str(args.requests).split(",")] if args.requests
             else list(COE_SCALING_REQUESTS))
    first: dict[str, Any] | None = None
    for n in sizes:
        command = [sys.executable, __file__, "--case", "coe", "--requests", str(n)]
        if args.data_dir:
            command += ["--data-dir", args.data_dir]
        if args.poisson:
            command.append("--poisson")
        if args.all_cores:
            command.append("--all-cores")
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        line = json.loads(out.strip().splitlines()[-1])
        line["case"] = "coe_scaling"
        line["cpu_us_per_request"] = round(line["cpu_s"] / line["requests"] * 1e6, 2)
        line["peak_rss_mib"] = round(line["peak_rss_bytes"] / 2**20)
        first = first or line
        line["cpu_per_request_vs_first"] = round(
            line["cpu_us_per_request"] / first["cpu_us_per_request"], 3)
        line["peak_rss_vs_first"] = round(line["peak_rss_bytes"] / first["peak_rss_bytes"], 3)
        print(json.dumps(line), flush=True)
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=(*CASES, "all"), default="all")
    p.add_argument("--requests", help="requests (default per case; not for scaling; coe_scaling: "
                   "sizes, comma separated)")
    p.add_argument("--data-dir", help="data directory (default $SN40L_SIM_DATA)")
    p.add_argument("--poisson", action="store_true", help="ignore the trace, use the generator")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="cProfile the run and print the N functions with most own time")
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.all_cores:
        pin_one_core()
    if args.case == "all":
        # One process per case, so that each line's peak RSS is that case's own.
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:])
                     if a not in ("--case", "all") and not a.startswith("--case=")]
        for case in CASES[:-1]:  # coe_scaling takes minutes: only when asked for by name
            subprocess.run([sys.executable, __file__, "--case", case, *forwarded], check=True)
        return 0
    if args.case == "coe_scaling":
        return coe_scaling(args)
    data_dir = resolve_data_dir(args.data_dir)
    has_trace = not args.poisson and (data_dir / AZURE_CONV).is_file()
    for case in (args.case,):
        sizes = (SCALING_REQUESTS if case == "scaling"
                 else (int(args.requests or DEFAULT_REQUESTS[case]),))
        first_s_per_request = None
        for n in sizes:
            line = run_case(case, n, data_dir, has_trace, args.profile)
            if case == "scaling":
                s_per_request = 1.0 / line["requests_per_s"]
                first_s_per_request = first_s_per_request or s_per_request
                line["time_per_request_vs_first"] = round(s_per_request / first_s_per_request, 3)
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
