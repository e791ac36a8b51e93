"""The capacity table of an SLO search: per platform and load, the cheapest configuration that meets it.

Built from ``search.parquet`` alone (one row per searched combination). Axes named in
``search.cheapest_over`` (e.g. ``serving.tensor_parallel``) are chosen over, not reported: per
combination of the other axes the row with the lowest price per hour wins (then fewest devices,
then the lower p99 TTFT).
An answer at the bottom of the range is a bound (``<= N``: fewer might do); a search that failed
even at the top says ``> N``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

# Summary numbers of the answering point copied into search.parquet as ``answer_<key>``.
ANSWER_KEYS = ("tensor_parallel", "price_usd_per_hour", "mean_power_w", "peak_power_w",
               "cost_per_million_output_tokens_usd", "ttft_p99_s", "goodput_requests_per_s",
               "goodput_share", "energy_per_request_j", "tokens_per_j", "n_rejected", "n_requests")
_SEARCH_COLUMNS = {"order", "search_field", "goal", "slo", "answer", "status", "n_probes", "probes", "why"}
SEED = "seed"  # the axis ``seeds:``/``replicates:`` add; the mean table averages over it


def why_none(best: dict[str, Any] | None, metric: str, field: str, bound: Any) -> str:
    """Why a search found no answer, from the point at the easiest end of its range.

    A group that cannot hold its model fails at every size (more nodes add groups, not memory per
    group); an input error is a limit (TP above the devices, too many devices, ...); anything else
    ran and missed the SLO even at the top of the range.
    """
    if not best:
        return "no point finished"
    if best.get("status") == "error":
        message = str(best.get("error") or "").split(": ", 1)[-1]
        return f"rejected by a limit: {message}"
    n_experts, servable = best.get("n_experts"), best.get("n_servable_experts")
    if best.get("out_of_memory_at_experts") is not None or (
            isinstance(servable, int | float) and isinstance(n_experts, int | float)
            and servable < n_experts):
        return (f"does not fit in memory at any size ({servable:.0f} of {n_experts:.0f} experts fit "
                "one serving group)")
    reasons = best.get("rejection_reasons") or {}
    if isinstance(reasons, str):
        reasons = json.loads(reasons) if reasons.startswith("{") else {}
    memory = {r: n for r, n in reasons.items() if "memory" in r}
    if memory:  # rejected for memory even with the most nodes: more groups, not more memory each
        reason, n = max(memory.items(), key=lambda kv: kv[1])
        return f"does not fit in memory at any size ({n:,} requests: {reason})"
    value = best.get(metric)
    shown = f"{value:.3g}" if isinstance(value, int | float) and value == value else "n/a"
    return f"misses the SLO up to {field}={bound:g} ({metric} {shown} there)"


def combo_axes(search: pd.DataFrame) -> list[str]:
    """The grid and case axes of a search table (its remaining columns are results)."""
    return [c for c in search.columns if c not in _SEARCH_COLUMNS
            and not c.startswith(("answer_", "best_end_"))]


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _cheapest(rows: pd.DataFrame) -> pd.Series | None:
    ok = rows[rows["status"].isin(["found", "at_bound"])]
    if ok.empty:
        return None
    def key(r: pd.Series) -> tuple[float, float, float]:
        # NaN compares false both ways and would make the order arbitrary: unknown sorts last.
        values = (_num(r.get("answer_price_usd_per_hour")), _num(r.get("answer_n_devices")),
                  _num(r.get("answer_ttft_p99_s")))
        price, devices, ttft = (math.inf if math.isnan(v) else v for v in values)
        return price, devices, ttft

    order = sorted(ok.index, key=lambda i: key(ok.loc[i]))
    return ok.loc[order[0]]


def cheapest_searches(search: pd.DataFrame, choose: list[str]) -> pd.DataFrame:
    """The search table with the axes in ``choose`` chosen over: per combination of the other
    axes, the cheapest search with an answer (else the first, which says why none)."""
    keep = [a for a in combo_axes(search) if a not in choose]
    rows = []
    groups = search.groupby(keep, sort=False, dropna=False) if keep else [((), search)]
    for _, part in groups:
        best = _cheapest(part)
        rows.append(best if best is not None else part.iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def _short_why(why: Any) -> str:
    text = str(why) if isinstance(why, str) and why else "misses the SLO in the searched range"
    return text.split(" (")[0]  # the reason without the figures (they are in search.parquet)


def _why_of_choices(rows: pd.DataFrame, choose: list[str]) -> str:
    """Why none of the choices answered: each distinct reason once, with the choices it applies to."""
    from sn40l_sim.present.tables import short_axis

    by_reason: dict[str, list[str]] = {}
    for _, r in rows.iterrows():
        label = _choice_label(r, choose, short_axis)
        by_reason.setdefault(_short_why(r.get("why")) if choose else str(r.get("why") or
                             "misses the SLO in the searched range"), []).append(label)
    if not choose:
        return "; ".join(by_reason)
    return "; ".join(f"{'/'.join(labels)}: {reason}" for reason, labels in by_reason.items())


def _choice_label(r: pd.Series, choose: list[str], name: Any) -> str:
    """A choice's label: its axes, each expert group's own TP gathered into ``TP=1/1/4``."""
    from sn40l_sim.studies.sweep.group_tp import group_tp_axes

    per_group = group_tp_axes(choose)
    parts = [f"{name(a)}={r[a]}" for a in choose if a not in per_group]
    if per_group:
        parts.append("TP=" + "/".join(f"{_num(r[a]):.0f}" for a in per_group))
    return ",".join(parts)


def _tried(rows: pd.DataFrame, choose: list[str]) -> str:
    parts = []
    for _, r in rows.iterrows():
        label = _choice_label(r, choose, lambda a: a.rsplit('.', 1)[-1])
        n = _num(r.get("answer"))
        answer = (f"{n:g}" if r["status"] == "found" else f"<={n:g}" if r["status"] == "at_bound"
                  else "none")
        parts.append(f"{label}: {answer}")
    return "; ".join(parts)


def capacity_table(search: pd.DataFrame, cheapest_over: list[str]) -> pd.DataFrame:
    """One row per combination of the axes not chosen over (see the module docstring), from the
    base searches; a sweep with the SN40L program-load band adds each factor's answer as columns."""
    from sn40l_sim.studies.sweep.program_load_band import add_band, split_band

    base, variants = split_band(search)
    table = _capacity_rows(base, cheapest_over)
    if not variants:
        return table
    return add_band(table, {f: _capacity_rows(v, cheapest_over) for f, v in variants.items()})


def _capacity_rows(search: pd.DataFrame, cheapest_over: list[str]) -> pd.DataFrame:
    """The capacity table of one set of searches (the base, or one factor of the band)."""
    axes = combo_axes(search)
    keep = [a for a in axes if a not in cheapest_over]
    rows = []
    groups = search.groupby(keep, sort=False, dropna=False) if keep else [((), search)]
    for values, part in groups:
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = dict(zip(keep, values, strict=True))
        best = _cheapest(part)
        any_row = part.iloc[0]
        row["platform_name"] = (best if best is not None else any_row).get("answer_platform_name")
        if best is None:
            row.update(status="none", devices=_num(part["best_end_n_devices"].max())
                       if "best_end_n_devices" in part else math.nan,
                       tensor_parallel=math.nan, nodes=math.nan,
                       why=_why_of_choices(part, cheapest_over))
        else:
            row.update(status=best["status"], devices=_num(best.get("answer_n_devices")),
                       nodes=_num(best.get("answer")))
            row.update({k: _num(best.get(f"answer_{k}")) for k in ANSWER_KEYS})
            per_group = best.get("answer_group_tensor_parallel")
            if isinstance(per_group, str) and per_group:  # each expert group's TP, in file order
                row["tensor_parallel"] = per_group
            row["why"] = ""
        if cheapest_over:
            row["tried"] = _tried(part, cheapest_over)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["axes"] = keep
    return table


MEAN_KEYS = ("nodes", "devices", "price_usd_per_hour", "cost_per_million_output_tokens_usd",
             "ttft_p99_s", "goodput_share", "tokens_per_j")


def capacity_mean(table: pd.DataFrame) -> pd.DataFrame:
    """The capacity table averaged over seeds: per combination of the other axes, each figure's
    mean and 95 % t-interval half-width (``<key>_ci95``), the answers per seed, and how many seeds
    found one. Seeds without an answer are left out of the means and counted in ``n_none``."""
    from sn40l_sim.studies.sweep.intervals import mean_ci95
    from sn40l_sim.studies.sweep.program_load_band import band_mean

    if SEED not in table.columns:
        return table
    keep = [c for c in table.columns if ("." in c or c == "platform") and c != SEED]
    rows = []
    groups = table.groupby(keep, sort=False, dropna=False) if keep else [((), table)]
    for values, part in groups:
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = dict(zip(keep, values, strict=True))
        row["platform_name"] = part["platform_name"].dropna().iloc[0] if part[
            "platform_name"].notna().any() else None
        found = part[part["status"] != "none"]
        row.update(n_seeds=len(part), n_none=len(part) - len(found),
                   status="none" if found.empty else "at_bound" if (found["status"] == "at_bound").all()
                   else "found",
                   nodes_by_seed="/".join("-" if r["status"] == "none" else f"{_num(r['nodes']):.0f}"
                                          for _, r in part.iterrows()),
                   why="; ".join(dict.fromkeys(str(w) for w in part["why"] if isinstance(w, str) and w)))
        for key in MEAN_KEYS:
            mean, half = mean_ci95(found[key].tolist()) if key in found and len(found) else (math.nan,
                                                                                             math.nan)
            row[key], row[f"{key}_ci95"] = mean, half
        tps = sorted({t if isinstance(t, str) else f"{_num(t):.0f}"
                      for t in found.get("tensor_parallel", []) if isinstance(t, str) or _num(t) == _num(t)})
        # Several seeds may choose differently: "4/8" (one TP), "1/1/4, 1/4/4" (per expert group).
        row["tensor_parallel"] = (", " if any("/" in t for t in tps) else "/").join(tps) or "-"
        row.update(band_mean(part))
        rows.append(row)
    mean = pd.DataFrame(rows)
    mean.attrs["axes"] = keep
    return mean


def _fmt(value: Any, pattern: str) -> str:
    number = _num(value)
    return "-" if math.isnan(number) else pattern.format(number)


def capacity_markdown(table: pd.DataFrame, slo: str) -> str:
    """The table as Markdown, for docs and the sweep folder (chosen columns, see present/tables)."""
    from sn40l_sim.present.tables import capacity_markdown_cells

    text = capacity_markdown_cells(table, slo)
    if "tried" in table.columns:
        from sn40l_sim.present.tables import _axis_cell, table_axes

        axes = table_axes(table)
        text += "\nNodes at each choice (the cheapest is shown above):\n\n"
        text += "".join(f"* {' '.join(_axis_cell(r, a) for a in axes) + ': ' if axes else ''}"
                        f"{r['tried']}\n" for _, r in table.iterrows())
    return text


def capacity_table_of(sweep: Path) -> pd.DataFrame | None:
    """The capacity table a sweep folder shows: the mean over seeds when it has them."""
    for name in ("capacity_mean.csv", "capacity.csv"):
        if (sweep / name).exists():
            table = pd.read_csv(sweep / name, keep_default_na=True)
            if "why" in table.columns:
                table["why"] = table["why"].astype(object).where(table["why"].notna(), "")
            return table
    return None
