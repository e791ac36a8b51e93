"""Checks of a sweep file that need more than its schema: the grid's size, the SLO's metric, the
searched field's unit and the platforms it names, all before anything is written or simulated.

Each failure is an InputError at the sweep file's line and field, like a scenario's; an unknown
metric gets the closest known one as a "did you mean".
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from sn40l_sim.config.load import validate
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import CombinedInputError, InputError, unknown_name_error
from sn40l_sim.studies.sweep.grid import apply_overrides, expand
from sn40l_sim.studies.sweep.spec import SweepSpec, located

# Points of one sweep: each is a row of points.parquet and a simulation; a grid past this is a
# typo (an axis of 10^6 values), and is refused before it is expanded in memory.
MAX_SWEEP_POINTS = 100_000
# Probes one search may make: (high - low) / resolution past 2^40 is a resolution below any
# meaningful step (a denormal), refused rather than bisected for ever.
MAX_SEARCH_STEPS = 2.0**40
# Columns of a point's row that are numbers besides the summary's (sweep/task.py).
ROW_METRICS = ("n_devices", "n_devices_per_node", "tensor_parallel", "point_wall_s")


def slo_metrics() -> list[str]:
    """The metrics an SLO may bound: the summary's numeric figures and the row's own numbers."""
    from sn40l_sim.metrics.run_summary import RunSummary

    numeric = [f.name for f in fields(RunSummary)
               if str(f.type).split("|")[0].strip() in ("float", "int")]
    return sorted({*numeric, *ROW_METRICS})


def n_points(spec: SweepSpec) -> int:
    """How many grid combinations the spec spans (the product of the axes, times the cases)."""
    return max(len(spec.cases), 1) * math.prod(len(v) for v in spec.grid.values())


def check_points(spec: SweepSpec, path: Path, node: Any) -> None:
    """The grid's size and the SLO's metric, before any point is expanded or run."""
    count = n_points(spec)
    if count > MAX_SWEEP_POINTS:
        raise located(f"the grid spans {count:,} points; the limit is {MAX_SWEEP_POINTS:,} "
                      "(see docs/limits.md)", path, node, ["grid"])
    search = spec.search
    if search is None:
        return
    known = slo_metrics()
    if search.slo.metric not in known:
        error = unknown_name_error("metric", search.slo.metric, known)
        raise located(error.message, path, node, ["search", "slo", "metric"])
    if search.low is not None and search.high is not None and search.resolution is not None:
        steps = (search.high - search.low) / search.resolution
        if not math.isfinite(steps) or steps > MAX_SEARCH_STEPS:
            raise located(f"resolution {search.resolution:g} splits the range into more than "
                          f"{MAX_SEARCH_STEPS:.3g} steps; give a coarser one", path, node,
                          ["search", "resolution"])


def _dotted(field: str | None) -> str:
    """A located error's field as a sweep path: ``experts[0].count`` -> ``experts.0.count``."""
    return (field or "").replace("[", ".").replace("]", "")


def _problem_at(base: dict[str, Any], overrides: dict[str, Any], path: str, source: str) -> str | None:
    """Why the base scenario with ``overrides`` is invalid at ``path`` (None: valid there)."""
    try:
        data = apply_overrides(base, overrides)
    except KeyError as exc:
        return f"cannot apply override: {exc.args[0]}"
    try:
        validate(Scenario, data, None, source)
    except InputError as exc:
        problems = exc.problems if isinstance(exc, CombinedInputError) else [exc]
        for problem in problems:
            where = _dotted(problem.field)
            if where == path or where.startswith(path + ".") or path.startswith(where + "."):
                return problem.message
    return None


def check_values(spec: SweepSpec, base: dict[str, Any], source: Path, path: Path, node: Any) -> None:
    """The searched field's range with its unit, applied to the base scenario (with the first
    combination of the other axes), must be valid values of the field, and each platform the sweep
    names a known profile: a wrong unit, a unit on a count, or an unknown platform is one located
    error now, not a search of error rows that exits 0 with no answer. (An invalid grid value is
    an error row of its point: one bad combination does not stop the others.)"""
    from sn40l_sim.studies.sweep.task import with_units

    first = expand(spec.set, spec.cases[:1], {k: v[:1] for k, v in spec.grid.items()})[0]
    search = spec.search
    if search is not None:
        units = {search.field: search.unit} if search.unit else {}
        ends = [("low", search.low), ("high", search.high)] if search.values is None else [
            ("values", v) for v in search.values]
        for key, value in ends:
            probe = int(value) if search.is_integer and value is not None else value
            problem = _problem_at(base, with_units({**first, search.field: probe}, units), search.field,
                                  str(source))
            if problem:
                where = "unit" if search.unit else key
                raise located(f"{search.field} = {probe!r}{' ' + search.unit if search.unit else ''}: "
                              f"{problem}", path, node, ["search", where])
    _check_platforms(spec, source, path, node)


def _check_platforms(spec: SweepSpec, source: Path, path: Path, node: Any) -> None:
    from sn40l_sim.config.profiles import load_platform_config

    places: list[tuple[Any, list[str | int]]] = []
    places += [(spec.set["platform"], ["set", "platform"])] if "platform" in spec.set else []
    places += [(c["platform"], ["cases", i, "platform"]) for i, c in enumerate(spec.cases) if "platform" in c]
    places += [(v, ["grid", "platform", i]) for i, v in enumerate(spec.grid.get("platform", []))]
    for value, loc in places:
        if not isinstance(value, str):
            continue  # an inline mapping: validated with each point
        try:
            load_platform_config(value, source.parent)
        except InputError as exc:
            raise located(exc.message, path, node, loc) from None
