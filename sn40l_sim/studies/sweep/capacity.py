"""The capacity table of an SLO search: per platform and load, the cheapest configuration that meets it.

Built from ``search.parquet`` alone (one row per searched combination). Axes named in
``search.cheapest_over`` (e.g. ``serving.tensor_parallel``) are chosen over, not reported: per
combination of the other axes the row with the lowest price per hour wins (then fewest devices,
then the lower p99 TTFT).
An answer at the bottom of the range is a bound (``<= N``: fewer might do); a search that failed
even at the top says ``> N``.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

# Summary numbers of the answering point copied into search.parquet as ``answer_<key>``.
ANSWER_KEYS = ("tensor_parallel", "price_usd_per_hour", "mean_power_w", "peak_power_w",
               "cost_per_million_output_tokens_usd", "ttft_p99_s", "goodput_requests_per_s",
               "goodput_share", "energy_per_request_j", "tokens_per_j", "n_rejected", "n_requests")
_SEARCH_COLUMNS = {"order", "search_field", "goal", "slo", "answer", "status", "n_probes", "probes"}


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


def _tried(rows: pd.DataFrame, choose: list[str]) -> str:
    parts = []
    for _, r in rows.iterrows():
        label = ",".join(f"{a.rsplit('.', 1)[-1]}={r[a]}" for a in choose)
        n = _num(r.get("answer_n_devices"))
        answer = (f"{n:.0f}" if r["status"] == "found" else f"<={n:.0f}" if r["status"] == "at_bound"
                  else f">{_num(r.get('best_end_n_devices')):.0f}")
        parts.append(f"{label}: {answer}")
    return "; ".join(parts)


def capacity_table(search: pd.DataFrame, cheapest_over: list[str]) -> pd.DataFrame:
    """One row per combination of the axes not chosen over (see the module docstring)."""
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
                       tensor_parallel=math.nan)
        else:
            row.update(status=best["status"], devices=_num(best.get("answer_n_devices")),
                       nodes=_num(best.get("answer")))
            row.update({k: _num(best.get(f"answer_{k}")) for k in ANSWER_KEYS})
        if cheapest_over:
            row["tried"] = _tried(part, cheapest_over)
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: Any, pattern: str) -> str:
    number = _num(value)
    return "-" if math.isnan(number) else pattern.format(number)


def _devices(row: pd.Series) -> str:
    n = _num(row.get("devices"))
    if math.isnan(n):
        return "-"
    return {"at_bound": f"<= {n:,.0f}", "none": f"none up to {n:,.0f}"}.get(str(row["status"]),
                                                                           f"{n:,.0f}")


def capacity_markdown(table: pd.DataFrame, slo: str) -> str:
    """The table as Markdown, for the console, docs and the sweep folder."""
    axes = [c for c in table.columns if ("." in c or c == "platform")
            and (c == "platform" or table[c].astype(str).nunique() > 1)]
    head = [a.rsplit(".", 1)[-1] for a in axes] + [
        "devices", "TP", "$/hour", "kW mean (peak)", "$/M output tokens", "p99 TTFT",
        "goodput req/s (share)"]
    lines = [f"SLO: {slo}. `<= N`: the bottom of the search range already met it.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r[a]) for a in axes] + [
            _devices(r), _fmt(r.get("tensor_parallel"), "{:.0f}"),
            _fmt(r.get("price_usd_per_hour"), "{:,.0f}"),
            f"{_fmt(_num(r.get('mean_power_w')) / 1e3, '{:,.1f}')} "
            f"({_fmt(_num(r.get('peak_power_w')) / 1e3, '{:,.0f}')})",
            _fmt(r.get("cost_per_million_output_tokens_usd"), "{:,.2f}"),
            _fmt(r.get("ttft_p99_s"), "{:.2f} s"),
            f"{_fmt(r.get('goodput_requests_per_s'), '{:.2f}')} "
            f"({_fmt(100 * _num(r.get('goodput_share')), '{:.1f}')} %)"]
        lines.append("| " + " | ".join(cells) + " |")
    if "tried" in table.columns:
        lines += ["", "Devices at each choice (the cheapest is shown above):", ""]
        lines += [f"* {' '.join(str(r[a]) for a in axes)}: {r['tried']}" for _, r in table.iterrows()]
    return "\n".join(lines) + "\n"
