"""The Python API: ``run``, ``compare`` and ``sweep``, what the CLI commands do, returning data.

Each takes a scenario as a YAML path, a mapping of the scenario file's shape, or a scenario already
loaded (:class:`~sn40l_sim.config.scenario.Scenario` or
:func:`~sn40l_sim.config.resolve.load_scenario`'s result), and returns the run's tables as
DataFrames with its :class:`~sn40l_sim.metrics.run_summary.RunSummary`; the results folder is
written as by the CLI. Nothing is printed and, unless asked, no plot drawn. See docs/api.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import ResolvedScenario, load_scenario, resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.runner import RunResult, run_scenario
from sn40l_sim.studies.compare import Comparison, run_comparison
from sn40l_sim.studies.sweep.driver import SweepOptions, SweepResult, run_sweep
from sn40l_sim.workload.data_dir import resolve_data_dir

Result = RunResult
ScenarioLike = str | Path | Mapping[str, Any] | Scenario | ResolvedScenario

__all__ = ["Comparison", "Result", "ScenarioLike", "SweepResult", "compare", "load", "run", "sweep"]


def load(scenario: ScenarioLike) -> ResolvedScenario:
    """A scenario in any accepted form, validated and resolved (an invalid one raises InputError).

    A mapping is validated as a scenario file would be; relative paths in it (traces, profiles)
    resolve against the current folder.
    """
    if isinstance(scenario, ResolvedScenario):
        return scenario
    if isinstance(scenario, Scenario):
        return resolve(scenario)
    if isinstance(scenario, str | os.PathLike) and not isinstance(scenario, bytes):
        path = _path(scenario, "scenario", optional=False)
        assert path is not None
        return load_scenario(path)
    if isinstance(scenario, Mapping):
        return resolve(validate(Scenario, dict(scenario), None, "<scenario mapping>"))
    raise InputError(f"a scenario is a path, a mapping or a loaded scenario, not {type(scenario).__name__}",
                     field="scenario")


def _path(value: object, name: str, *, optional: bool = True) -> Path | None:
    """An argument that names a file or folder: a str or a path (None where optional)."""
    if value is None and optional:
        return None
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text)
    raise InputError(f"expected a path (str or pathlib.Path), got {_shown(value)}", field=name)


def _flag(value: object, name: str) -> bool:
    """A yes/no argument: True or False only (``plots="no"`` is not taken as true)."""
    if isinstance(value, bool):
        return value
    raise InputError(f"expected True or False, got {_shown(value)}", field=name)


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


def _platforms(value: object) -> list[str]:
    """Platform names: a sequence of strings, or one comma-separated string as on the command line."""
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if not isinstance(value, Sequence) or not all(isinstance(p, str) and p.strip() for p in value):
        raise InputError(f"expected a list of profile names or YAML paths, got {_shown(value)}",
                         field="platforms")
    if not value:
        raise InputError("compare needs at least one platform", field="platforms")
    return [p.strip() for p in value]


def _data_dir(data_dir: object) -> Path:
    path = _path(data_dir, "data_dir")
    return resolve_data_dir(str(path) if path is not None else None)


def run(scenario: ScenarioLike, *, output: str | Path | None = None, data_dir: str | Path | None = None,
        plots: bool = False, progress: bool = False) -> Result:
    """Simulate one scenario: ``sn40l-sim run``.

    Returns a :data:`Result`: ``requests`` and ``events`` (DataFrames, one row per request / per switch
    or batch, docs/metrics.md; read from ``run_dir`` on first access), ``summary`` (a ``RunSummary``),
    ``run_dir`` and ``wall_s``. Results go to ``<output>/<scenario name>/<UTC stamp>/`` (``output``
    defaults to the scenario's, ``results``).
    """
    out, plots, progress = _path(output, "output"), _flag(plots, "plots"), _flag(progress, "progress")
    data = _data_dir(data_dir)
    return run_scenario(load(scenario), output=out, data_dir=data, plots=plots, progress=progress)


def compare(scenario: ScenarioLike, platforms: Sequence[str] = ("sn40l_node", "dgx_a100", "dgx_h100"), *,
            output: str | Path | None = None, data_dir: str | Path | None = None,
            plots: bool = False) -> Comparison:
    """Replay one request stream on several platforms: ``sn40l-sim compare``.

    Returns a ``Comparison``: ``results`` (a ``Result`` per platform name, the first the baseline),
    ``ratios`` (a DataFrame: how many times better the baseline is, per metric) and ``run_dir``.
    """
    names, out, plots = _platforms(platforms), _path(output, "output"), _flag(plots, "plots")
    data = _data_dir(data_dir)
    resolved = load(scenario)
    return run_comparison(resolved.scenario, resolved.source, names, output=out, data_dir=data,
                          plots=plots)


def sweep(sweep_file: str | Path, *, workers: int = 2, backend: str = "local",
          output: str | Path | None = None, data_dir: str | Path | None = None,
          restart: bool = False, ray_address: str | None = None) -> SweepResult:
    """Run a sweep file's grid or SLO search, resuming a folder it already started: ``sn40l-sim sweep``.

    Returns a ``SweepResult``: ``points`` (a DataFrame, one row per point with its summary figures),
    ``search`` (one row per SLO search, or None), ``out`` (the sweep folder), ``n_ran``, ``n_skipped``
    and ``failures`` (internal errors, not recorded; a rerun retries them).
    """
    path = _path(sweep_file, "sweep_file", optional=False)
    assert path is not None
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise InputError(f"expected an integer, got {_shown(workers)}", field="workers")
    if not isinstance(backend, str):
        raise InputError(f"expected 'local' or 'ray', got {_shown(backend)}", field="backend")
    if ray_address is not None and not isinstance(ray_address, str):
        raise InputError(f"expected an address such as 'host:6379', got {_shown(ray_address)}",
                         field="ray_address")
    options = SweepOptions(backend=backend, workers=workers, output=_path(output, "output"),
                           data_dir=_data_dir(data_dir), restart=_flag(restart, "restart"),
                           progress=False, ray_address=ray_address)
    return run_sweep(path, options)
