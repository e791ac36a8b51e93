"""The composition root: one scenario in, one results folder out, in DESIGN.md's order."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sn40l_sim.config.load import read_yaml, with_lines
from sn40l_sim.config.resolve import ResolvedScenario
from sn40l_sim.cost.cache import StepCostFactory, StepCostTable
from sn40l_sim.engine.collector import quiet_collector
from sn40l_sim.engine.simulation import Simulation, StopRequest
from sn40l_sim.errors import InputError, Interrupted
from sn40l_sim.metrics.parquet_columns import ParquetColumns
from sn40l_sim.metrics.recorder import PARTS_SUFFIX, Recorder
from sn40l_sim.metrics.run_info import RUN_INFO, RunInfo
from sn40l_sim.metrics.run_summary import RunSummary
from sn40l_sim.metrics.warnings import default_limit_warnings
from sn40l_sim.plan.planner import plan_run
from sn40l_sim.plan.run_plan import RunPlan
from sn40l_sim.policy.expert_load import label_shares
from sn40l_sim.policy.placement_rules import PLACEMENTS
from sn40l_sim.policy.prompt_router import Router
from sn40l_sim.present.fs_boundary import check_writable_dir, os_error
from sn40l_sim.present.results_dir import new_run_dir, read_table, write_json, write_yaml
from sn40l_sim.workload.data_dir import resolve_data_dir
from sn40l_sim.workload.request_stream import RequestStream, count_hint, iter_request_chunks

if TYPE_CHECKING:  # pandas is imported when a table is first read (by pyarrow's to_pandas)
    import pandas as pd


@dataclass
class RunResult:
    """What a run produced: its folder, its summary and its two tables as DataFrames.

    The tables are read from the run's Parquet files on first access, not by the run: a million
    requests are hundreds of MB as DataFrames, and the CLI and a sweep only need the summary.
    """

    run_dir: Path
    summary: RunSummary
    wall_s: float
    _requests: pd.DataFrame | None = field(default=None, repr=False)
    _events: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def requests(self) -> pd.DataFrame:
        """One row per request (docs/metrics.md), read from ``requests.parquet`` once."""
        if self._requests is None:
            self._requests = read_table(self.run_dir / "requests.parquet")
        return self._requests

    @property
    def events(self) -> pd.DataFrame:
        """One row per switch or batch (docs/metrics.md), read from ``events.parquet`` once."""
        if self._events is None:
            self._events = read_table(self.run_dir / "events.parquet")
        return self._events


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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signals_stop(stop: StopRequest, received: list[int]) -> Iterator[None]:
    """While a run simulates and writes its results, SIGINT (Ctrl-C) and SIGTERM (``timeout``,
    batch schedulers) set ``stop`` instead of raising or killing the process.

    A KeyboardInterrupt raised mid-write could leave a half-written file or a block written
    twice; the flag stops the run between two events instead, and further signals are ignored
    until the files are complete. ``received`` collects the signal numbers (the exit status is
    128 + the first). Only the main thread's default handlers are replaced (a caller that
    installed its own, or ignores a signal, keeps it).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    defaults: dict[signal.Signals, Any] = {signal.SIGINT: signal.default_int_handler,
                                           signal.SIGTERM: signal.SIG_DFL}
    mine = [s for s in STOP_SIGNALS if signal.getsignal(s) is defaults[s]]

    def request_stop(signum: int, frame: Any) -> None:
        received.append(signum)
        stop.requested = True

    for signum in mine:
        signal.signal(signum, request_stop)
    try:
        yield
    finally:
        for signum in mine:
            signal.signal(signum, defaults[signum])


def _prepare_run_dir(run_dir: Path) -> None:
    """Clear what a killed earlier run left in a reused folder (a sweep's ``runs/<point>``), so
    the new run never mixes with, or trips over, its leftovers."""
    for name in ("requests.parquet", "events.parquet", "summary.json", "scenario.resolved.yaml",
                 RUN_INFO):
        for leftover in (run_dir / name, run_dir / (name + ".partial")):
            leftover.unlink(missing_ok=True)
    for parts in run_dir.glob("*" + PARTS_SUFFIX):
        shutil.rmtree(parts, ignore_errors=True)
    shutil.rmtree(run_dir / "plots", ignore_errors=True)


def _remove_failed_run(run_dir: Path, made: list[Path]) -> None:
    """A run that stopped on an input error (a bad trace row) leaves no results folder, nor the
    empty ``<output>`` and ``<output>/<scenario>`` folders that only it had created."""
    shutil.rmtree(run_dir, ignore_errors=True)
    for folder in made:  # deepest first
        with contextlib.suppress(OSError):  # another run may have written into it meanwhile
            folder.rmdir()


def _kept_message(requests: ParquetColumns, n_events: int, now_s: float, run_dir: Path) -> str:
    """What an interrupted run kept, for the one line the CLI prints."""
    counts = requests.value_counts("outcome")
    return (f"interrupted at simulated time {now_s:,.1f} s: kept {requests.n_rows:,} requests "
            f"({int(counts.get('completed', 0)):,} completed, {int(counts.get('rejected', 0)):,} "
            f"rejected, {int(counts.get('pending', 0)):,} unfinished) and {n_events:,} events "
            f"in {run_dir}")


def _in_scenario_file(exc: InputError, resolved: ResolvedScenario) -> InputError:
    """A workload problem found while running (a missing trace, arrivals past the time limit)
    names its field; give it the scenario file and the field's line there."""
    if resolved.source is None or (exc.field or "").startswith("--"):
        return exc  # a command-line option's problem (--output) is not in the scenario file
    source = str(resolved.source)
    exc = exc.located(file=source)
    try:
        _, node = read_yaml(resolved.source)
    except InputError:
        return exc
    return with_lines(exc, node, source)


def group_degrees(plan: RunPlan) -> list[int] | None:
    """Each serving group's TP degree when they differ (None: one degree, ``tensor_parallel``)."""
    degrees = [g.tensor_parallel for g in plan.serving_groups]
    return degrees if len(set(degrees)) > 1 else None


def _economics_info(resolved: ResolvedScenario, requests: ParquetColumns) -> dict[str, Any]:
    """What the summary's energy, cost and goodput need (see :mod:`sn40l_sim.metrics.economics`),
    and the warnings only the live scenario can give (which limits were left at their defaults)."""
    platform, scenario = resolved.platform, resolved.scenario
    power = platform.power
    return {"n_nodes": platform.n_nodes, "n_devices_per_node": platform.n_devices_per_node,
            "tensor_parallel": resolved.serving.tensor_parallel,
            "power_w": ({"device_idle": power.device_idle_w, "device_busy": power.device_busy_w,
                         "node_idle": power.node_idle_w, "node_busy": power.node_busy_w}
                        if power else None),
            "node_usd_per_hour": platform.price.node_usd_per_hour if platform.price else None,
            "slo_ttft_s": scenario.slo.ttft, "slo_tbt_s": scenario.slo.time_between_tokens,
            "warnings": default_limit_warnings(requests, resolved.serving)}


def with_label_shares(resolved: ResolvedScenario, data_dir: Path) -> ResolvedScenario:
    """For a placement rule that uses loads, over a labelled trace: read it ahead and count where
    its requests go (the same router and seed as the run), so copies follow the trace's own traffic."""
    scenario = resolved.scenario
    if not PLACEMENTS.get(resolved.serving.placement).uses_loads or resolved.workload.trace is None:
        return resolved
    chunks = iter_request_chunks(resolved.workload, seed=scenario.seed, data_dir=data_dir,
                                 base_dir=resolved.base_dir)
    router = Router(resolved.router, [e.name for e in resolved.experts],
                    seed=np.random.SeedSequence(resolved.seed).spawn(2)[1],
                    group_shares=resolved.group_shares)
    shares = label_shares(router, chunks)
    if shares is None:
        return resolved
    return dataclasses.replace(resolved, planned_shares=tuple(float(x) for x in shares))


def run_scenario(resolved: ResolvedScenario, *, output: Path | None = None,
                 data_dir: Path | None = None, plots: bool = True, progress: bool = False,
                 run_dir: Path | None = None, step_costs: StepCostFactory = StepCostTable) -> RunResult:
    """Simulate a scenario and write requests/events Parquet, summary.json, plots.

    ``step_costs`` is the engine's cost hook (see :class:`sn40l_sim.cost.cache.FixedStepCost`).
    """
    try:
        return _run_scenario(resolved, output=output, data_dir=data_dir, plots=plots,
                             progress=progress, run_dir=run_dir, step_costs=step_costs)
    except InputError as exc:
        raise _in_scenario_file(exc, resolved) from None


def _run_scenario(resolved: ResolvedScenario, *, output: Path | None, data_dir: Path | None,
                  plots: bool, progress: bool, run_dir: Path | None,
                  step_costs: StepCostFactory) -> RunResult:
    scenario = resolved.scenario
    out: Path | None = None
    if run_dir is None:  # checked before any work: a bad folder costs nothing and leaves nothing
        # A relative output folder is relative to where the user runs the command.
        out = check_writable_dir(output if output is not None else Path(scenario.output),
                                 "--output" if output is not None else "output")
    data = data_dir if data_dir is not None else resolve_data_dir(None)
    chunks = iter_request_chunks(resolved.workload, seed=scenario.seed, data_dir=data,
                                 base_dir=resolved.base_dir)
    resolved = with_label_shares(resolved, data)
    plan = plan_run(resolved)
    made: list[Path] = []  # folders this run creates, removed again if it fails on its input
    if run_dir is None:
        assert out is not None
        made = [p for p in (out / scenario.name, *out.parents, out) if not p.exists()]
        made.sort(key=lambda p: -len(p.parts))  # deepest first
        run_dir = new_run_dir(out, scenario.name)
        created = True
    else:
        created = not run_dir.exists()
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            _prepare_run_dir(run_dir)
        except OSError as exc:
            raise os_error(exc) from None
    try:
        return _run_in(resolved, plan, run_dir, chunks, data, plots=plots, progress=progress,
                       step_costs=step_costs)
    except (InputError, OSError) as exc:  # a bad trace row, a full disk: no partial folder
        if created:
            _remove_failed_run(run_dir, made)
        if isinstance(exc, OSError):
            raise os_error(exc) from None
        raise


def _run_in(resolved: ResolvedScenario, plan: RunPlan, run_dir: Path, chunks: RequestStream, data: Path, *,
            plots: bool, progress: bool, step_costs: StepCostFactory) -> RunResult:
    """Simulate into ``run_dir``: ``summary.json`` says ``"complete": false`` from the start and
    is replaced by the full summary (``"complete": true``) once every file is in place."""
    scenario = resolved.scenario
    write_json(run_dir / "summary.json", {
        "scenario": scenario.name, "complete": False,
        "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "the run has not finished (or was killed): requests.parquet.parts/ and "
                "events.parquet.parts/ hold the rows written so far, each part a complete file"})
    write_yaml(run_dir / "scenario.resolved.yaml", scenario.model_dump(mode="json"))
    bar = _Progress(count_hint(resolved.workload, data_dir=data, base_dir=resolved.base_dir),
                    progress)
    recorder = Recorder(run_dir, [e.name for e in resolved.experts],
                        [float(e.model.n_params) for e in resolved.experts],
                        float(resolved.router_model.n_params) if resolved.router_model else 0.0,
                        on_progress=bar.update, speculative=plan.speculative is not None)
    started = time.perf_counter()
    stop = StopRequest()
    received: list[int] = []
    with _signals_stop(stop, received), quiet_collector():
        sim = Simulation(plan, recorder, chunks, step_costs=step_costs)
        interrupted = True  # until the run is known to have reached its end
        try:
            interrupted = not sim.run(stop=stop)
        except KeyboardInterrupt:
            pass  # a Ctrl-C that bypassed ``stop`` (the caller installed its own handler)
        finally:
            bar.close()
            recorder.close(n_arrived=sim.n_ingested if interrupted else None)
        wall_s = time.perf_counter() - started
        # Column by column from the files: the whole tables are read only if asked for.
        requests = ParquetColumns(run_dir / "requests.parquet")
        events = ParquetColumns(run_dir / "events.parquet")
        info = RunInfo(platform=resolved.platform.name, n_experts=len(resolved.experts),
                       n_servable_experts=plan.memory.n_servable,
                       expert_cache_bytes=plan.memory.expert_cache_bytes,
                       memory=sim.memory_summary(), hbm_hits=recorder.hbm_hits,
                       hbm_misses=recorder.hbm_misses, workload=dataclasses.asdict(chunks.stats),
                       interrupted=interrupted, wall_s=wall_s,
                       speculative=sim.speculative_summary(), **_economics_info(resolved, requests),
                       group_tensor_parallel=group_degrees(plan))
        write_json(run_dir / RUN_INFO, info.to_dict())
        summary = RunSummary.from_run_dir(run_dir)  # complete: the result files are in place
        write_json(run_dir / "summary.json", summary.to_dict())
    signum = received[0] if received else signal.SIGINT
    if interrupted:
        raise Interrupted(_kept_message(requests, events.n_rows, sim.env.now, run_dir), signum=signum)
    if stop.requested:
        raise Interrupted(f"interrupted after the simulation ended: results in {run_dir}",
                          signum=signum)
    if plots and scenario.plots == "auto":
        # matplotlib costs about half a CPU-second to import: only a run that draws pays it.
        from sn40l_sim.present.run_plots import draw_run_plots

        result = RunResult(run_dir, summary, wall_s)
        draw_run_plots(result.requests, result.events, scenario.name, run_dir / "plots")
        return result
    return RunResult(run_dir, summary, wall_s)
