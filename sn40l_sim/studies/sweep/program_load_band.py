"""The SN40L program-load band of an SLO search: the same searches at half and double its program load.

The SN40L's program load per router/expert alternation is fitted on one row of P1 (T5-A100) and
decides much of an SN40L-vs-GPU answer (:mod:`sn40l_sim.studies.program_load`). So when a sweep
searches on a platform that pays a program load *and* on one that does not, every search of the
first is repeated with ``costs.program_load_scale`` at 0.5 and 2 (relative to the base scenario's
own scale), unless the sweep already sets that field or says ``search.program_load_band: false``.

The extra searches are ordinary searches (their points have their own ids, so an interrupted sweep
resumes them); ``search.parquet`` marks each search with ``program_load_scale`` (1 for the base).
The capacity table keeps one row per platform and load, chosen from the base searches, and adds the
band's answers as columns (``nodes_program_load_half``, ...; empty for platforms without one).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from sn40l_sim.errors import InputError
from sn40l_sim.present.band_columns import FACTORS, band_column, band_factors
from sn40l_sim.studies.sweep.grid import Overrides, apply_overrides, canonical
from sn40l_sim.studies.sweep.spec import PROGRAM_LOAD_SCALE, SweepSpec

SCALE_AXIS = PROGRAM_LOAD_SCALE  # the override the extra searches set
MARKER = "program_load_scale"  # search.parquet's column: the factor on the base (1 for the base)
# Capacity-table figures copied per factor (``<key>_program_load_<label>``).
BAND_KEYS = ("status", "nodes", "devices", "tensor_parallel", "price_usd_per_hour",
             "cost_per_million_output_tokens_usd")


def _axes(spec: SweepSpec) -> set[str]:
    return {*spec.set, *spec.grid} | {k for case in spec.cases for k in case}


def band_wanted(spec: SweepSpec) -> bool:
    """Whether the spec asks for the band: a search, not switched off, the scale not set already."""
    search = spec.search
    return search is not None and search.program_load_band and SCALE_AXIS not in _axes(spec)


def _platform_key(combo: Overrides) -> str:
    """The overrides that decide a combination's platform (the rest cannot change its stack)."""
    return canonical({k: v for k, v in combo.items()
                      if k == "platform" or k.startswith(("platform.", "costs."))})


def _pays(base: dict[str, Any], combo: Overrides, source: Path, units: dict[str, str]) -> bool | None:
    """Whether the combination's platform pays a program load (None: its scenario is invalid; the
    point itself will say why, once)."""
    from sn40l_sim.config.load import validate
    from sn40l_sim.config.resolve import platform_of
    from sn40l_sim.config.scenario import Scenario
    from sn40l_sim.studies.program_load import pays_program_load
    from sn40l_sim.studies.sweep.task import with_units

    try:
        data = apply_overrides(base, with_units(combo, units))
        return pays_program_load(platform_of(validate(Scenario, data, None, str(source)), source))
    except (InputError, KeyError):
        return None


def _base_scale(base: dict[str, Any]) -> float:
    """The base scenario's own ``costs.program_load_scale`` (1 when it sets none)."""
    costs = base.get("costs")
    value = costs.get("program_load_scale") if isinstance(costs, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 1.0


def expand_band(combos: list[Overrides], spec: SweepSpec, base: dict[str, Any], source: Path,
                units: dict[str, str]) -> tuple[list[Overrides], list[float]]:
    """The combinations with the band's appended (each paying combination at every factor), and
    each one's factor on the program load (1 for the base searches)."""
    plain = [1.0] * len(combos)
    if not band_wanted(spec):
        return combos, plain
    seen: dict[str, bool | None] = {}
    pays = []
    for combo in combos:
        key = _platform_key(combo)
        if key not in seen:
            seen[key] = _pays(base, combo, source, units)
        pays.append(seen[key])
    if not any(p is True for p in pays) or not any(p is False for p in pays):
        return combos, plain  # nothing is compared: only SN40L, or only GPUs
    scale = _base_scale(base)
    extra = [({**combo, SCALE_AXIS: scale * factor}, factor)
             for factor in FACTORS for combo, p in zip(combos, pays, strict=True) if p]
    _check_size(len(combos) + len(extra))
    return [*combos, *(c for c, _ in extra)], [*plain, *(f for _, f in extra)]


def _check_size(n: int) -> None:
    from sn40l_sim.studies.sweep.checks import MAX_SWEEP_POINTS

    if n > MAX_SWEEP_POINTS:
        raise InputError(f"the program-load band makes more than {MAX_SWEEP_POINTS:,} searches; "
                         "set search.program_load_band: false or search fewer combinations",
                         field="search.program_load_band")


def split_band(search: pd.DataFrame) -> tuple[pd.DataFrame, dict[float, pd.DataFrame]]:
    """The base searches and, per factor, the band's (each without the band's own columns)."""
    if MARKER not in search.columns:
        return search, {}
    own = [c for c in (MARKER, SCALE_AXIS) if c in search.columns]
    scale = pd.to_numeric(search[MARKER], errors="coerce").fillna(1.0)
    parts = {f: search[scale == f].drop(columns=own) for f in sorted(set(scale)) if f != 1.0}
    return search[scale == 1.0].drop(columns=own), {f: p for f, p in parts.items() if len(p)}


def _key(row: pd.Series, axes: list[str]) -> tuple[str, ...]:
    return tuple(str(row[a]) for a in axes)


def add_band(table: pd.DataFrame, variants: dict[float, pd.DataFrame]) -> pd.DataFrame:
    """The base capacity table with each factor's answer (from that factor's own capacity table,
    same axes) as ``<key>_program_load_<label>`` columns; rows without a band stay empty."""
    axes: list[str] = list(table.attrs.get("axes") or [])
    out = table.copy()
    for factor, variant in variants.items():
        found = {_key(r, axes): r for _, r in variant.iterrows()}
        keys = [_key(r, axes) for _, r in table.iterrows()]
        for key in BAND_KEYS:
            values = pd.Series([found[k].get(key) if k in found else None for k in keys],
                               index=out.index, dtype=object)
            textual = key in ("status", "tensor_parallel")  # a per-group TP reads '1/1/4'
            out[band_column(key, factor)] = values if textual else pd.to_numeric(values, errors="coerce")
    out.attrs["axes"] = axes
    return out


def band_mean(part: pd.DataFrame) -> dict[str, Any]:
    """Over seeds: each factor's mean nodes and $/M tokens (of the seeds with an answer) and its
    status ('none' when no seed found one; empty for a platform without a band)."""
    from sn40l_sim.studies.sweep.intervals import mean_ci95

    out: dict[str, Any] = {}
    for factor in band_factors(part):
        status = part[band_column("status", factor)]
        known = status[status.notna() & (status.astype(str) != "nan")]
        answered = known[known != "none"]
        found = part.loc[answered.index]
        out[band_column("status", factor)] = (None if known.empty else "none" if found.empty
                                              else "at_bound" if (answered == "at_bound").all()
                                              else "found")
        for key in ("nodes", "cost_per_million_output_tokens_usd"):
            column = band_column(key, factor)
            mean, half = mean_ci95(found[column].tolist()) if len(found) else (math.nan, math.nan)
            out[column], out[f"{column}_ci95"] = mean, half
    return out
