"""The one task both backends run: simulate one point of a sweep and return its result row.

A point is a :class:`SweepPoint` of plain values (picklable), so a process pool and Ray ship it the
same way. A user error in a point (an invalid value on an axis) is returned as an ``error`` row, so
one bad combination never stops the sweep.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.studies.sweep.grid import apply_overrides

# Summary entries that are not one number per point (kept out of the table, or flattened).
_NESTED = ("workload",)
_RENAMED = {"platform": "platform_name", "scenario": "scenario_name"}


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    """One scenario of a sweep: the base scenario with ``overrides`` applied."""

    point_id: str  # the hash of the overrides (see grid.point_id): a rerun finds it on disk
    order: int  # its grid combination, in planning order (SLO searches: the search it belongs to)
    overrides: dict[str, Any]  # dotted scenario paths -> values
    base: dict[str, Any]  # the base scenario file's mapping
    source: str  # the base scenario's path: relative traces and profiles resolve next to it
    probe: int = 0  # which probe of its SLO search (0 without a search)
    sweep_file: str | None = None  # where errors point (default: the base scenario)
    data_dir: str | None = None  # the data directory (default: as the CLI resolves it)
    run_dir: str | None = None  # keep the run's folder here (``keep_runs``); else a temp folder
    units: dict[str, str] = field(default_factory=dict)  # override path -> unit its value is written with
    # the run's folder when not kept: inside the sweep folder, so a sweep killed mid-point leaves its
    # leftovers where the next run of the sweep removes them (None: a folder in the temp directory)
    scratch_dir: str | None = None


def _row_base(point: SweepPoint) -> dict[str, Any]:
    return {"point_id": point.point_id, "order": point.order, "probe": point.probe,
            **point.overrides}


def _metrics(summary: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key in _NESTED:
            continue
        out[_RENAMED.get(key, key)] = value
    workload = summary.get("workload") or {}
    for key in ("n_bad_rows_skipped", "n_zero_prompt_clipped", "n_zero_output_clipped"):
        if key in workload:
            out[f"workload_{key}"] = workload[key]
    return out


def with_units(overrides: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    """The overrides as the scenario must read them: a value of a dimensioned field with its unit."""
    return {path: f"{value!r} {units[path]}" if path in units else value
            for path, value in overrides.items()}


def run_point(point: SweepPoint) -> dict[str, Any]:
    """Simulate one point; never raises for a user error (the row says ``status: error``)."""
    from sn40l_sim.runner import run_scenario  # the runner pulls in SimPy and matplotlib

    started = time.perf_counter()
    row = _row_base(point)
    source = Path(point.source)
    where = f"{point.sweep_file or source} (point {point.point_id})"
    keep = point.run_dir is not None
    if point.run_dir is not None:
        run_dir = Path(point.run_dir)
    elif point.scratch_dir is not None:
        run_dir = Path(point.scratch_dir)
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="sn40l-point-"))
    try:
        try:
            data = apply_overrides(point.base, with_units(point.overrides, point.units))
        except KeyError as exc:
            raise InputError(f"cannot apply override: {exc.args[0]}", file=where) from None
        scenario = validate(Scenario, data, None, where)
        resolved = resolve(scenario, source)
        result = run_scenario(resolved, data_dir=Path(point.data_dir) if point.data_dir
                              else None, plots=False, progress=False, run_dir=run_dir)
        row.update(_metrics(result.summary.to_dict()))
        row.update(status="ok", error=None, n_devices=resolved.platform.n_devices,
                   n_devices_per_node=resolved.platform.n_devices_per_node,
                   tensor_parallel=resolved.serving.tensor_parallel)
        if any(g.tensor_parallel is not None for g in scenario.experts):  # each group's own TP
            row["group_tensor_parallel"] = "/".join(map(str, resolved.group_tensor_parallel))
    except InputError as exc:
        if exc.file == str(source):  # resolve blames the base file; the value came from the sweep
            exc = InputError(exc.message, file=where, field=exc.field)
        row.update(status="error", error=str(exc))
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    row["point_wall_s"] = time.perf_counter() - started
    return row
