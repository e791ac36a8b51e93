"""The composition root: one scenario in, one results folder out, in DESIGN.md's order."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sn40l_sim.config.resolve import ResolvedScenario
from sn40l_sim.engine.simulation import Simulation
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.metrics.summary import summarize
from sn40l_sim.report.plots import draw_run_plots
from sn40l_sim.report.results import new_run_dir, write_json, write_yaml
from sn40l_sim.workload.data_dir import resolve_data_dir
from sn40l_sim.workload.requests import count_hint, iter_request_chunks


@dataclass
class RunResult:
    """What a run produced: its folder, summary and DataFrames."""

    run_dir: Path
    summary: dict[str, Any]
    requests: pd.DataFrame
    events: pd.DataFrame
    wall_s: float


class _Progress:
    """A rich progress bar over requests, shown only for runs that take a while."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.bar: Any = None
        self.task: Any = None
        self.started = time.perf_counter()

    def update(self, n_done: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < 2.0:
                return
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("simulating requests", total=self.total)
        self.bar.update(self.task, completed=n_done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def run_scenario(resolved: ResolvedScenario, *, output: Path | None = None,
                 data_dir: Path | None = None, plots: bool = True, progress: bool = False,
                 run_dir: Path | None = None) -> RunResult:
    """Simulate a scenario and write requests/events Parquet, summary.json, plots."""
    scenario = resolved.scenario
    data = data_dir if data_dir is not None else resolve_data_dir(None)
    chunks = iter_request_chunks(scenario.workload, seed=scenario.seed, data_dir=data,
                                 base_dir=resolved.base_dir)
    if run_dir is None:
        # A relative output folder is relative to where the user runs the command.
        out = output if output is not None else Path(scenario.output)
        run_dir = new_run_dir(out, scenario.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_yaml(run_dir / "scenario.resolved.yaml", scenario.model_dump(mode="json"))
    bar = _Progress(count_hint(scenario.workload, data_dir=data, base_dir=resolved.base_dir),
                    progress)
    recorder = Recorder(run_dir, [e.name for e in resolved.experts],
                        [float(e.model.n_params) for e in resolved.experts],
                        float(resolved.router_model.n_params) if resolved.router_model else 0.0,
                        on_progress=bar.update)
    started = time.perf_counter()
    sim = Simulation(resolved, recorder, chunks)
    interrupted = False
    try:
        sim.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        recorder.close()
    wall_s = time.perf_counter() - started
    requests = pd.read_parquet(run_dir / "requests.parquet")
    events = pd.read_parquet(run_dir / "events.parquet")
    summary = {"scenario": scenario.name, "platform": resolved.platform.name,
               "n_experts": len(resolved.experts), "n_servable_experts": sim.plan.n_servable,
               "expert_cache_bytes": sim.plan.expert_cache_bytes,
               "interrupted": interrupted, **summarize(requests, events),
               "hbm_hit_rate": (recorder.hbm_hits / (recorder.hbm_hits + recorder.hbm_misses)
                                if recorder.hbm_hits + recorder.hbm_misses else None),
               "workload": dataclasses.asdict(chunks.stats),
               "wall_s": wall_s, "sim_requests_per_wall_s": len(requests) / wall_s if wall_s else None}
    write_json(run_dir / "summary.json", summary)
    if interrupted:
        raise KeyboardInterrupt(f"interrupted: kept {len(requests):,} requests in {run_dir}")
    if plots and scenario.plots == "auto":
        draw_run_plots(requests, events, scenario.name, run_dir / "plots")
    return RunResult(run_dir, summary, requests, events, wall_s)
