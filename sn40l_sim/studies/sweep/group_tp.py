"""``search.per_group_tp``: every expert group's TP degree chosen by the search, cheapest wins.

Each grid combination is crossed with the TP degrees each expert group may take: the candidates at
which its model fits one serving group's HBM next to the router and KV floor on that combination's
platform, and which divide the node (:func:`sn40l_sim.plan.planner.fitting_degrees`). A 70B on SN40L
never gets TP1 or TP2 (its weights exceed two sockets' HBM), so no search is spent on them. The
axes are ``experts.<i>.tensor_parallel``; the capacity table chooses over them like
``cheapest_over`` and shows the winner as ``TP 1/1/4`` (one degree per group, in file order).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sn40l_sim.config.load import validate
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.plan.planner import fitting_degrees
from sn40l_sim.studies.sweep.checks import MAX_SWEEP_POINTS
from sn40l_sim.studies.sweep.grid import Overrides, apply_overrides, canonical
from sn40l_sim.studies.sweep.spec import SearchConfig, is_group_tp_axis

SEED = "seed"


def group_tp_axes(columns: list[str]) -> list[str]:
    """The per-group TP axes among ``columns``, by group index."""
    return sorted((c for c in columns if is_group_tp_axis(c)), key=lambda c: int(c.split(".")[1]))


def _choices(base: dict[str, Any], combo: Overrides, source: Path, search: SearchConfig,
             units: dict[str, str]) -> list[list[int]]:
    """Each group's fitting candidates under ``combo`` (at the top of the searched range)."""
    from sn40l_sim.studies.sweep.task import with_units

    candidates = list(search.per_group_tp or [])
    top = search.values[-1] if search.values is not None else search.high
    probe = int(top) if search.is_integer and top is not None else top
    try:
        data = apply_overrides(base, with_units({**combo, search.field: probe}, units))
        resolved = resolve(validate(Scenario, data, None, str(source)), source)
    except (InputError, KeyError):  # the point itself will say what is wrong, once
        n_groups = len(base.get("experts") or [None])
        return [[max(candidates)]] * n_groups
    return fitting_degrees(resolved, candidates)


def expand_group_tp(combos: list[Overrides], base: dict[str, Any], source: Path,
                    search: SearchConfig, units: dict[str, str]) -> list[Overrides]:
    """Every combination crossed with its groups' fitting TP degrees (seeds share one answer)."""
    if search.per_group_tp is None:
        return combos
    seen: dict[str, list[list[int]]] = {}
    out: list[Overrides] = []
    for combo in combos:
        key = canonical({k: v for k, v in combo.items() if k != SEED})
        if key not in seen:
            seen[key] = _choices(base, combo, source, search, units)
        out.extend({**combo, **{f"experts.{i}.tensor_parallel": tp for i, tp in enumerate(degrees)}}
                   for degrees in itertools.product(*seen[key]))
        if len(out) > MAX_SWEEP_POINTS:
            raise InputError(f"per_group_tp makes more than {MAX_SWEEP_POINTS:,} searches (the product "
                             "of each group's fitting degrees, per combination); give fewer candidates",
                             field="search.per_group_tp")
    return out
