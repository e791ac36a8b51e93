"""``sn40l-sim sweep``: plan the points, skip those already done, run the rest, write as they finish.

The output folder is ``<output>/<sweep name>/`` (no timestamp, so a rerun finds its points):
``points/<id>.parquet`` (one per finished point, written at once), ``points.parquet`` (all of them,
rewritten at the end or on Ctrl-C), ``search.parquet`` (one row per SLO search) and ``sweep.json``
(what was asked). A point's identity is the hash of its overrides, so a rerun of the same file
skips every finished point, including the probes an SLO search already made.
"""

from __future__ import annotations

import math
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sn40l_sim.config.load import read_yaml, validate
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError, Interrupted
from sn40l_sim.present.fs_boundary import absolute, check_writable_dir, os_error
from sn40l_sim.present.results_dir import write_json
from sn40l_sim.safe_load import read_json
from sn40l_sim.studies.sweep.backends import MAX_WORKERS, Backend, make_backend
from sn40l_sim.studies.sweep.capacity import (
    ANSWER_KEYS,
    SEED,
    capacity_markdown,
    capacity_mean,
    capacity_table,
    why_none,
)
from sn40l_sim.studies.sweep.checks import check_points, check_values
from sn40l_sim.studies.sweep.fingerprint import fingerprint
from sn40l_sim.studies.sweep.grid import Overrides, check_path, expand, point_id
from sn40l_sim.studies.sweep.group_tp import expand_group_tp, group_tp_axes
from sn40l_sim.studies.sweep.program_load_band import MARKER, expand_band
from sn40l_sim.studies.sweep.progress import SweepProgress
from sn40l_sim.studies.sweep.search import Bisection
from sn40l_sim.studies.sweep.spec import SweepSpec, load_sweep, located
from sn40l_sim.studies.sweep.store import SCRATCH_DIR, SEARCH_TABLE, PointStore, write_frame_atomic
from sn40l_sim.studies.sweep.task import SweepPoint


@dataclass
class SweepOptions:
    """How to run a sweep (command-line choices, not part of the sweep file)."""

    backend: str = "local"
    workers: int = 2
    output: Path | None = None
    data_dir: Path | None = None
    restart: bool = False
    progress: bool = True
    ray_address: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # ``--set``: added to the file's ``set``


@dataclass
class SweepResult:
    out: Path
    points: pd.DataFrame
    search: pd.DataFrame | None
    n_ran: int
    n_skipped: int
    failures: list[str] = field(default_factory=list)


def check_paths(spec: SweepSpec, path: Path, node: Any) -> None:
    """Every dotted path in the sweep file must name a scenario field."""
    places: list[tuple[str, list[str | int]]] = [(k, ["set", k]) for k in spec.set]
    places += [(k, ["cases", i, k]) for i, case in enumerate(spec.cases) for k in case]
    places += [(k, ["grid", k]) for k in spec.grid]
    if spec.search is not None:
        places.append((spec.search.field, ["search", "field"]))
    for key, loc in places:
        problem = check_path(key)
        if problem:
            raise located(problem, path, node, loc)


def _base_scenario(spec: SweepSpec, path: Path, node: Any) -> tuple[dict[str, Any], Path]:
    source = (path.parent / spec.scenario).resolve()
    if not source.exists():
        raise located(f"scenario file {spec.scenario!r} not found (relative to the sweep file)",
                      path, node, ["scenario"])
    data, scenario_node = read_yaml(source)
    validate(Scenario, data, scenario_node, str(source))  # a broken base fails once, not per point
    return data, source


def _check_base_trace(spec: SweepSpec, base: dict[str, Any], source: Path, data_dir: Path) -> None:
    """The base scenario's trace must exist, unless every point sets its own: a missing trace is
    one error now, not a sweep of error rows that exits 0."""
    axes = {*spec.set, *spec.grid} | {k for case in spec.cases for k in case}
    overridden = {"workload.trace", "workload"} & axes
    workload = base.get("workload")
    trace = workload.get("trace") if isinstance(workload, dict) else None
    if overridden or not isinstance(trace, str):
        return
    from sn40l_sim.config.load import with_lines
    from sn40l_sim.workload.data_dir import resolve_data_path

    try:
        resolve_data_path(trace, data_dir, source.parent)
    except InputError as exc:
        _, node = read_yaml(source)
        raise with_lines(InputError(exc.message, file=str(source), field="workload.trace"), node,
                         str(source)) from None


def _check_options(options: SweepOptions) -> None:
    """The command-line choices, checked before the sweep folder is made (``--workers 0`` leaves
    nothing behind)."""
    if options.backend not in ("local", "ray"):
        raise InputError(f"unknown backend {options.backend!r} (expected 'local' or 'ray')",
                         field="--backend")
    if isinstance(options.workers, bool) or not isinstance(options.workers, int):
        raise InputError(f"expected an integer, got {options.workers!r}", field="--workers")
    if not 1 <= options.workers <= MAX_WORKERS:
        raise InputError(f"expected 1 to {MAX_WORKERS} worker processes, got {options.workers}",
                         field="--workers")


class _Planner:
    """Turns the spec into points, one SLO search per grid combination when there is a search."""

    def __init__(self, spec: SweepSpec, base: dict[str, Any], source: Path, sweep_file: Path,
                 options: SweepOptions, out: Path) -> None:
        self.spec, self.base, self.source, self.sweep_file = spec, base, source, sweep_file
        self.options, self.out = options, out
        search = spec.search
        self.units = {search.field: search.unit} if search is not None and search.unit else {}
        self.combos = expand(spec.set, spec.cases, spec.grid)
        if search is not None:
            self.combos = expand_group_tp(self.combos, base, source, search, self.units)
        # each combination's factor on the SN40L program load: 1, or the band's 0.5 / 2
        self.combos, self.scales = expand_band(self.combos, spec, base, source, self.units)
        self.searches = [Bisection(spec.search) for _ in self.combos] if spec.search else []
        self.stalled: set[int] = set()  # searches whose last probe failed with an internal error

    def point(self, overrides: Overrides, order: int, probe: int = 0) -> SweepPoint:
        pid = point_id(overrides)
        run_dir = str(self.out / "runs" / pid) if self.spec.keep_runs else None
        # Ray workers may run on other machines: their points keep the temp folder of their own.
        local = self.options.backend == "local" and not self.spec.keep_runs
        scratch = str(self.out / SCRATCH_DIR / pid) if local else None
        return SweepPoint(point_id=pid, order=order, probe=probe, overrides=overrides, base=self.base,
                          source=str(self.source), sweep_file=str(self.sweep_file),
                          data_dir=str(self.options.data_dir) if self.options.data_dir else None,
                          run_dir=run_dir, scratch_dir=scratch, units=self.units)

    def probe(self, order: int) -> SweepPoint | None:
        """The next probe of search ``order`` (None when that search is over)."""
        value = self.searches[order].next_value()
        if value is None:
            return None
        overrides = {**self.combos[order], self.spec.search.field: value}  # type: ignore[union-attr]
        return self.point(overrides, order, probe=len(self.searches[order].probes))

    def remaining(self, order: int) -> int:
        """An upper bound on the points combination ``order`` still needs (for the progress bar)."""
        if not self.searches:
            return 1
        s = self.searches[order]
        if s.outcome is not None or order in self.stalled:
            return 0
        span = s.initial_steps()
        bound = 1 if span <= 0 else 2 + math.ceil(math.log2(max(span, 1)))
        return max(bound - len(s.probes), 1)


@contextmanager
def sweep_lock(root: Path, name: str) -> Iterator[None]:
    """Hold ``<output>/.<name>.lock`` (an advisory ``flock``) while a sweep uses its folder: a second
    sweep of the same name into the same output waits for the first, then resumes where it ended
    (every point already done), instead of both writing, and clearing, one folder at once."""
    import fcntl

    try:
        root.mkdir(parents=True, exist_ok=True)
        handle = (root / f".{name}.lock").open("a")
    except OSError as exc:
        raise os_error(exc) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``timeout``, a batch scheduler) stops a sweep as Ctrl-C does: workers stopped,
    finished points kept, exit 143. Only the main thread's default handler is replaced."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM waits for the cleanup
        raise Interrupted("terminated", signum=signum)

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _check_resumable(out: Path, stamp: str, sweep_file: Path) -> None:
    """A sweep folder resumes only under the base scenario, profiles and version it began with.
    Its ``sweep.json`` is untrusted input: a damaged one is named, never a traceback."""
    meta = out / "sweep.json"
    if not meta.exists() and not meta.is_symlink():
        return
    data = read_json(meta)
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, got {type(data).__name__} (damaged? rerun with "
                         "--restart)", file=str(meta))
    before = data.get("fingerprint")
    if before != stamp:  # a folder without one predates the check: its model is unknown
        raise InputError(f"{out} holds points simulated from another base scenario, hardware profile, "
                         "trace or sn40l-sim code; rerun with --restart (or --output elsewhere) so old "
                         "and new results are not mixed", file=str(sweep_file))


def with_seeds_and_set(spec: SweepSpec, base: dict[str, Any], overrides: dict[str, Any],
                       path: Path) -> SweepSpec:
    """The spec as it runs: ``--set`` paths joined to ``set``, and ``seeds``/``replicates`` as a
    last grid axis ``seed`` (replicates N: the base scenario's seed and the N-1 after it)."""
    clash = [k for k in overrides if k in spec.grid or any(k in c for c in spec.cases)]
    if clash:
        raise InputError(f"--set {', '.join(clash)}: already a grid or case axis of the sweep",
                         file=str(path), field="--set")
    for key in overrides:
        problem = check_path(key)
        if problem:
            raise InputError(problem, field="--set")
    seeds = spec.seeds
    if seeds is None and spec.replicates is not None:
        first = int(base.get("seed", 1)) if isinstance(base.get("seed", 1), int) else 1
        seeds = [first + i for i in range(spec.replicates)]
    grid = {**spec.grid, "seed": list(seeds)} if seeds is not None else spec.grid
    return spec.model_copy(update={"set": {**spec.set, **overrides}, "grid": grid})


def run_sweep(path: Path, options: SweepOptions) -> SweepResult:
    _check_options(options)
    path = absolute(path)
    spec, node = load_sweep(path)
    check_paths(spec, path, node)
    check_points(spec, path, node)
    base, source = _base_scenario(spec, path, node)
    check_values(spec, base, source, path, node)
    spec = with_seeds_and_set(spec, base, options.overrides, path)
    root = check_writable_dir(options.output if options.output is not None else Path(spec.output),
                              "--output" if options.output is not None else "output")
    out = root / spec.name
    if out.resolve().parent != root.resolve():  # the spec's name pattern should make this impossible
        raise InputError(f"sweep name {spec.name!r} does not name a folder inside {root}", file=str(path))
    from sn40l_sim.workload.data_dir import resolve_data_dir

    data_dir = resolve_data_dir(str(options.data_dir) if options.data_dir else None)
    _check_base_trace(spec, base, source, data_dir)
    stamp = fingerprint(spec, base, source, data_dir)
    backend = make_backend(options.backend, options.workers, options.ray_address)  # before any folder
    try:
        with sweep_lock(root, spec.name):  # a second sweep into this folder waits, then resumes
            return _run_in_folder(spec, path, base, source, out, stamp, options, backend)
    except BaseException:
        backend.close(cancel=True)  # idempotent: an interrupted sweep already closed it
        raise


def _run_in_folder(spec: SweepSpec, path: Path, base: dict[str, Any], source: Path, out: Path, stamp: str,
                   options: SweepOptions, backend: Backend) -> SweepResult:
    """Run the sweep in ``out``, holding its lock: resume, run the missing points, write the tables."""
    if options.restart and out.exists():
        shutil.rmtree(out)
    _check_resumable(out, stamp, path)
    created = not out.exists()
    store = PointStore(out)
    try:
        store.open_for_writing()
        write_json(out / "sweep.json", {"sweep_file": str(path), "scenario": str(source),
                                        "fingerprint": stamp, "spec": spec.model_dump(mode="json")})
        done = store.done_ids()
        for pid in done:  # every finished point is readable, or named now (not mid-sweep)
            store.read(pid)
    except (InputError, OSError) as exc:
        backend.close(cancel=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, OSError):
            raise os_error(exc) from None
        raise
    planner = _Planner(spec, base, source, path, options, out)
    bar = SweepProgress(sum(planner.remaining(i) for i in range(len(planner.combos))),
                        options.progress)
    stats = {"ran": 0, "skipped": 0}
    failures: list[str] = []
    with _sigterm_interrupts():  # still installed (ignoring repeats) while the cleanup runs
        try:
            _run(planner, store, done, backend, bar, stats, failures)
        except KeyboardInterrupt as exc:
            bar.close()
            backend.close(cancel=True)
            store.sweep_scratch()  # the running points' run folders, whose workers were stopped
            store.compact()
            n_kept = len(store.done_ids())
            raise Interrupted(f"sweep interrupted: kept {n_kept} finished point(s) in {out}; "
                              "run the same command again to finish the rest",
                              signum=getattr(exc, "signum", signal.SIGINT)) from None
    bar.close()
    backend.close(cancel=False)
    store.sweep_scratch()
    store.compact()
    search = _write_search(planner, store, out) if spec.search else None
    return SweepResult(out, store.table(), search, stats["ran"], stats["skipped"], failures)


def _run(planner: _Planner, store: PointStore, done: set[str], backend: Backend,
         bar: SweepProgress, stats: dict[str, int], failures: list[str]) -> None:
    """Submit every point not yet done; feed searches as their probes finish."""

    def feed(order: int) -> None:
        """Advance search ``order`` through probes already on disk; submit the first new one."""
        while (point := planner.probe(order)) is not None:
            if point.point_id not in done:
                backend.submit(point)
                return
            row = store.read(point.point_id) or {}
            search = planner.spec.search
            assert search is not None  # probes exist only for a search
            planner.searches[order].record(point.overrides[search.field], search.slo.met(row))
            stats["skipped"] += 1
            bar.advance(skipped=True)

    for order, overrides in enumerate(planner.combos):
        if planner.searches:
            feed(order)
            continue
        point = planner.point(overrides, order)
        if point.point_id in done:
            stats["skipped"] += 1
            bar.advance(skipped=True)
        else:
            backend.submit(point)
    while backend.n_running():
        point, row, exc = backend.wait_one()
        if exc is not None or row is None:
            failures.append(f"point {point.point_id} {point.overrides}: "
                            f"{type(exc).__name__}: {exc}")
            planner.stalled.add(point.order)
            bar.advance()
            continue
        store.add(row)
        done.add(point.point_id)
        stats["ran"] += 1
        bar.advance()
        if planner.searches:
            search = planner.spec.search
            assert search is not None
            planner.searches[point.order].record(point.overrides[search.field],
                                                    search.slo.met(row))
            feed(point.order)
            bar.set_total(stats["ran"] + stats["skipped"] + len(failures)
                          + sum(planner.remaining(i) for i in range(len(planner.combos))))


def _write_search(planner: _Planner, store: PointStore, out: Path) -> pd.DataFrame:
    """One row per grid combination: the searched value found, and the point that showed it."""
    search = planner.spec.search
    assert search is not None
    rows = []
    band = any(scale != 1.0 for scale in planner.scales)
    for order, (combo, state) in enumerate(zip(planner.combos, planner.searches, strict=True)):
        row: dict[str, Any] = {"order": order, **combo, "search_field": search.field,
                               "goal": search.goal, "slo": search.slo.describe()}
        if band:  # which searches are the program-load band's (program_load_band.py)
            row[MARKER] = planner.scales[order]
        outcome = state.outcome
        row.update(answer=outcome.answer if outcome else None,
                   status=outcome.status if outcome else "incomplete",
                   n_probes=len(state.probes),
                   probes=", ".join(f"{v:g}:{'ok' if ok else 'fail'}" for v, ok in state.probes))
        if outcome is not None and outcome.answer is not None:
            hit = store.read(point_id({**combo, search.field: outcome.answer})) or {}
            row.update(answer_n_devices=hit.get("n_devices"),
                       answer_metric=hit.get(search.slo.metric),
                       answer_platform_name=hit.get("platform_name"))
            row.update({f"answer_{k}": hit.get(k) for k in ANSWER_KEYS})
            if hit.get("group_tensor_parallel") is not None:
                row["answer_group_tensor_parallel"] = hit["group_tensor_parallel"]
        elif state.probes:  # none: what the best end of the range reached, and why it failed
            best = store.read(point_id({**combo, search.field: state.probes[0][0]})) or {}
            row["why"] = why_none(best, search.slo.metric, search.field, state.probes[0][0])
            row.update(best_end_n_devices=best.get("n_devices"),
                       best_end_metric=best.get(search.slo.metric),
                       answer_platform_name=best.get("platform_name"),
                       answer_tensor_parallel=best.get("tensor_parallel"))
        rows.append(row)
    frame = pd.DataFrame(rows)
    from sn40l_sim.studies.sweep.store import _coerce_columns

    frame = _coerce_columns(frame.map(lambda v: str(v) if isinstance(v, dict | list) else v))
    write_frame_atomic(frame, out / SEARCH_TABLE)
    choose = [*search.cheapest_over, *group_tp_axes(list(frame.columns))]
    table = capacity_table(frame, choose)
    table.to_csv(out / "capacity.csv", index=False)
    if SEED in table.columns and SEED not in choose:  # replicates: mean and interval
        table = capacity_mean(table)
        table.to_csv(out / "capacity_mean.csv", index=False)
    (out / "capacity.md").write_text(capacity_markdown(table, search.slo.describe()))
    return frame
