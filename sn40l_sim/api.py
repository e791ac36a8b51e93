"""The Python API: ``run``, ``compare`` and ``sweep``, what the CLI commands do, returning data.

Each takes a scenario as a YAML path, a mapping of the scenario file's shape, or a scenario already
loaded (:class:`~sn40l_sim.config.scenario.Scenario` or
:func:`~sn40l_sim.config.resolve.load_scenario`'s result), and returns the run's tables as
DataFrames with its :class:`~sn40l_sim.metrics.run_summary.RunSummary`; the results folder is
written as by the CLI. Nothing is printed and, unless asked, no plot drawn. See docs/api.md.
"""

from __future__ import annotations

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
    if isinstance(scenario, str | Path):
        return load_scenario(Path(scenario))
    if isinstance(scenario, Mapping):
        return resolve(validate(Scenario, dict(scenario), None, "<scenario mapping>"))
    raise InputError(f"a scenario is a path, a mapping or a loaded scenario, not {type(scenario).__name__}")


def _data_dir(data_dir: str | Path | None) -> Path:
    return resolve_data_dir(str(data_dir) if data_dir is not None else None)


def run(scenario: ScenarioLike, *, output: str | Path | None = None, data_dir: str | Path | None = None,
        plots: bool = False, progress: bool = False) -> Result:
    """Simulate one scenario: ``sn40l-sim run``.

    Returns a :data:`Result`: ``requests`` and ``events`` (DataFrames, one row per request / per switch
    or batch, docs/metrics.md), ``summary`` (a ``RunSummary``), ``run_dir`` and ``wall_s``. Results go
    to ``<output>/<scenario name>/<UTC stamp>/`` (``output`` defaults to the scenario's, ``results``).
    """
    return run_scenario(load(scenario), output=Path(output) if output is not None else None,
                        data_dir=_data_dir(data_dir), plots=plots, progress=progress)


def compare(scenario: ScenarioLike, platforms: Sequence[str] = ("sn40l_node", "dgx_a100", "dgx_h100"), *,
            output: str | Path | None = None, data_dir: str | Path | None = None,
            plots: bool = False) -> Comparison:
    """Replay one request stream on several platforms: ``sn40l-sim compare``.

    Returns a ``Comparison``: ``results`` (a ``Result`` per platform name, the first the baseline),
    ``ratios`` (a DataFrame: how many times better the baseline is, per metric) and ``run_dir``.
    """
    resolved = load(scenario)
    return run_comparison(resolved.scenario, resolved.source, list(platforms),
                          output=Path(output) if output is not None else None,
                          data_dir=_data_dir(data_dir), plots=plots)


def sweep(sweep_file: str | Path, *, workers: int = 2, backend: str = "local",
          output: str | Path | None = None, data_dir: str | Path | None = None,
          restart: bool = False, ray_address: str | None = None) -> SweepResult:
    """Run a sweep file's grid or SLO search, resuming a folder it already started: ``sn40l-sim sweep``.

    Returns a ``SweepResult``: ``points`` (a DataFrame, one row per point with its summary figures),
    ``search`` (one row per SLO search, or None), ``out`` (the sweep folder), ``n_ran``, ``n_skipped``
    and ``failures`` (internal errors, not recorded; a rerun retries them).
    """
    options = SweepOptions(backend=backend, workers=workers,
                           output=Path(output) if output is not None else None,
                           data_dir=_data_dir(data_dir), restart=restart, progress=False,
                           ray_address=ray_address)
    return run_sweep(Path(sweep_file), options)
