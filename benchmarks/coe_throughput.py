"""Simulator speed benchmark: a 150-expert Composition of Experts replaying >= 100,000 requests.

A script, not a test (timings do not belong in the test suite). It measures how fast the engine
turns requests into results on ONE core, since the speed target is per core:

    python benchmarks/coe_throughput.py                     # 100,000 requests
    python benchmarks/coe_throughput.py --requests 1000000  # the 2 GB peak-RSS check
    python benchmarks/coe_throughput.py --profile           # pyinstrument call tree

Scenario: 150 Llama-2-7B experts behind a Llama-2-7B router, TP8 on one node, Zipf expert
popularity. The workload is the Azure 2023 conversation trace (looped and rate-scaled) when the
data directory has it (``--data-dir`` or ``$SN40L_SIM_DATA``), else a Poisson generator with
Azure-conversation-like lengths. Results (Parquet, summary.json) go to a temporary folder that is
deleted afterwards unless ``--keep`` is given.

Reported: simulated requests per wall second, SimPy events processed per wall second, and peak
resident memory. The last output line is one JSON object with those figures, for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import ResolvedScenario, resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.engine import simulation as simulation_module
from sn40l_sim.runner import RunResult, run_scenario
from sn40l_sim.workload.data_dir import resolve_data_dir

AZURE_CONV = "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
AZURE_CONV_RATE_PER_S = 5.53  # data README: 19,366 requests over 3,502 s
# Lognormal fits of the Azure conversation lengths (data README: mean / median / max):
# prompts 1155 / 1020 / 14050 -> sigma = sqrt(2 ln(1155/1020)) ~ 0.50;
# outputs  211 /  129 /  1000 -> sigma = sqrt(2 ln(211/129))   ~ 0.99.
POISSON_PROMPT = {"kind": "lognormal", "median": 1020, "sigma": 0.50, "max_tokens": 14050}
POISSON_OUTPUT = {"kind": "lognormal", "median": 129, "sigma": 0.99, "max_tokens": 1000}


def scenario_document(n_requests: int, platform: str, workload: str, rate_multiplier: float,
                      seed: int) -> dict[str, Any]:
    """The benchmark scenario as the mapping a scenario YAML file would hold."""
    if workload == "trace":
        work: dict[str, Any] = {"trace": AZURE_CONV, "loop": True, "max_requests": n_requests,
                                "rate_multiplier": rate_multiplier}
    else:
        work = {"generator": {
            "requests": n_requests,
            "arrivals": {"kind": "poisson", "rate_per_s": AZURE_CONV_RATE_PER_S * rate_multiplier},
            "prompt_tokens": POISSON_PROMPT, "output_tokens": POISSON_OUTPUT}}
    return {
        "name": "bench-coe-150",
        "platform": platform,
        "experts": [{"model": "llama-2-7b", "count": 150, "name_prefix": "expert"}],
        "router": {"model": "llama-2-7b", "mapping": "zipf"},
        "workload": work,
        # The longest Azure conversation (14,050 prompt + 1,000 output tokens) must fit.
        "serving": {"tensor_parallel": 8, "max_batch": 8, "max_context_tokens": 16384,
                    "scheduler": "fcfs", "eviction": "lru"},
        "seed": seed,
        "plots": "none",
    }


def pick_workload(choice: str, data_dir: Path) -> str:
    """``trace`` when asked or when the data directory has the Azure trace, else ``poisson``."""
    has_trace = (data_dir / AZURE_CONV).is_file()
    if choice == "trace" and not has_trace:
        sys.exit(f"--workload trace: {AZURE_CONV} is not in the data directory {data_dir}")
    if choice == "auto":
        return "trace" if has_trace else "poisson"
    return choice


class _EventCount:
    """Reads how many SimPy events the run processed, without touching the engine's hot loop.

    SimPy numbers every scheduled event from one counter (``Environment._eid``); a run that ends
    with an empty queue has processed every event it scheduled. The Simulation the runner builds is
    captured by wrapping the class once, outside the timed loop.
    """

    def __init__(self) -> None:
        self.sims: list[Any] = []
        original = simulation_module.Simulation
        sims = self.sims

        class Captured(original):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                sims.append(self)

        import sn40l_sim.runner as runner_module

        runner_module.Simulation = Captured  # type: ignore[misc]

    def events(self) -> int | None:
        if not self.sims:
            return None
        eid = getattr(self.sims[-1].env, "_eid", None)
        return None if eid is None else next(eid)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def pin_one_core() -> int | None:
    """Run on a single CPU (the target is per core); returns the core, None if unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def run_once(resolved: ResolvedScenario, out_dir: Path, data_dir: Path,
             profile: bool) -> tuple[RunResult, float, Any]:
    """Run the scenario; returns the result, wall seconds of the whole call and the profiler."""
    profiler = None
    if profile:
        try:
            from pyinstrument import Profiler
        except ImportError:
            print("pyinstrument is not installed: running without --profile", file=sys.stderr)
        else:
            profiler = Profiler(interval=0.001)
            profiler.start()
    started = time.perf_counter()
    result = run_scenario(resolved, data_dir=data_dir, plots=False, progress=False,
                          run_dir=out_dir / "run")
    wall_s = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
    return result, wall_s, profiler


def _self_time_table(profiler: Any, top: int) -> str:
    """The functions with the most time in their own code (callees excluded), all frames."""
    session = profiler.last_session
    totals: dict[str, float] = {}
    stack = [session.root_frame(trim_stem=False)]
    while stack:
        frame = stack.pop()
        if frame is None:
            continue
        if not frame.is_synthetic:
            key = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
            totals[key] = totals.get(key, 0.0) + frame.total_self_time
        stack.extend(frame.children)
    duration = session.duration or sum(totals.values())
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:top]
    lines = [f"Top {len(rows)} functions by own time ({duration:.2f} s profiled):"]
    lines += [f"  {100 * t / duration:5.1f} %  {t:6.2f} s  {key}" for key, t in rows]
    return "\n".join(lines)


def _table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=100_000, help="requests to simulate")
    p.add_argument("--platform", default="sn40l_node", help="hardware profile (default sn40l_node)")
    p.add_argument("--workload", choices=("auto", "trace", "poisson"), default="auto",
                   help="auto: the Azure conversation trace if the data directory has it")
    p.add_argument("--rate-multiplier", type=float, default=1.0,
                   help="arrival rate relative to the Azure conversation trace (5.53 req/s)")
    p.add_argument("--data-dir", help="data directory (default $SN40L_SIM_DATA)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--profile", action="store_true", help="profile with pyinstrument")
    p.add_argument("--profile-top", type=int, default=15,
                   help="functions listed by own time after the call tree (default 15)")
    p.add_argument("--profile-html", help="also write the profile as HTML to this file")
    p.add_argument("--keep", help="keep the run's results in this folder")
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    core = None if args.all_cores else pin_one_core()
    data_dir = resolve_data_dir(args.data_dir)
    workload = pick_workload(args.workload, data_dir)
    doc = scenario_document(args.requests, args.platform, workload, args.rate_multiplier, args.seed)
    resolved = resolve(validate(Scenario, doc, None, "<benchmark scenario>"))
    counter = _EventCount()
    with tempfile.TemporaryDirectory(prefix="sn40l-bench-") as tmp:
        out_dir = Path(args.keep) if args.keep else Path(tmp)
        result, wall_s, profiler = run_once(resolved, out_dir, data_dir, args.profile)
    n_events = counter.events()
    s = result.summary
    n_requests = int(s["n_requests"])
    figures = {
        "requests": n_requests,
        "completed": int(s["n_completed"]),
        "rejected": int(s["n_rejected"]),
        "wall_s": round(wall_s, 3),
        "requests_per_s": round(n_requests / wall_s, 1),
        "events": n_events,
        "events_per_s": round(n_events / wall_s, 1) if n_events is not None else None,
        "peak_rss_bytes": peak_rss_bytes(),
        "simulated_s": round(float(s["makespan_s"]), 1),
        "platform": resolved.platform.name,
        "workload": workload,
        "rate_multiplier": args.rate_multiplier,
        "core": core,
    }
    if profiler is not None:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        print(_self_time_table(profiler, args.profile_top))
        if args.profile_html:
            Path(args.profile_html).write_text(profiler.output_html(), encoding="utf-8")
    print(_table([
        ("scenario", f"150 x llama-2-7b + router, TP8, zipf, {figures['platform']}"),
        ("workload", f"{workload}, {n_requests:,} requests "
                     f"({figures['completed']:,} completed, {figures['rejected']:,} rejected), "
                     f"{figures['simulated_s']:,} s simulated"),
        ("wall time", f"{wall_s:.2f} s" + ("" if core is None else f" on core {core}")),
        ("requests / s", f"{figures['requests_per_s']:,.0f}"),
        ("SimPy events / s", "n/a" if n_events is None else f"{figures['events_per_s']:,.0f} "
                                                           f"({n_events:,} events)"),
        ("peak RSS", f"{figures['peak_rss_bytes'] / 2**20:,.0f} MiB"),
        ("mean batch / switches", f"{s['mean_batch_size']:.2f} / {s['n_switches']:,}"),
    ]))
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
