"""Capacity and search tables that read in an 80-column terminal, and the same cells as Markdown.

A sweep's tables have many columns; a terminal has 80. So the console shows chosen columns (the
axes that vary, nodes, TP, price, cost per token, p99 TTFT, goodput, and why an answer is missing)
with short headers, and every cell folds onto more lines instead of being cut to "…". The full
tables stay in the sweep folder (CSV / Parquet); ``--markdown`` prints Markdown instead.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

_SHORT = {"workload.rate_multiplier": "rate x", "serving.tensor_parallel": "TP",
          "workload.generator.arrivals.rate_per_s": "req/s", "platform": "platform", "seed": "seed"}


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _fmt(value: Any, pattern: str) -> str:
    number = _num(value)
    return "-" if math.isnan(number) else pattern.format(number)


def short_axis(axis: str) -> str:
    """A column header for a sweep axis: ``serving.tensor_parallel`` -> ``TP``."""
    return _short(axis)


def _short(axis: str) -> str:
    parts = axis.split(".")
    if len(parts) == 3 and parts[0] == "experts" and parts[2] == "tensor_parallel":
        return f"TP grp {parts[1]}"  # an expert group's own TP (search.per_group_tp)
    return _SHORT.get(axis, parts[-1].replace("_", " "))


def table_axes(table: pd.DataFrame) -> list[str]:
    """The sweep axes of a capacity table that take more than one value (platform always)."""
    axes = table.attrs.get("axes") or [c for c in table.columns if "." in c or c in ("platform", "seed")]
    axes = [a for a in axes if a in table.columns and not a.endswith("_ci95")]
    return [a for a in axes if a == "platform" or table[a].astype(str).nunique() > 1]


def _axis_cell(row: pd.Series, axis: str) -> str:
    if axis == "platform" and isinstance(row.get("platform_name"), str):
        return str(row["platform_name"])
    value = row[axis]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _with_ci(row: pd.Series, key: str, pattern: str) -> str:
    text = _fmt(row.get(key), pattern)
    half = _num(row.get(f"{key}_ci95"))
    return text if math.isnan(half) or text == "-" else f"{text} ±{pattern.format(half).strip()}"


def _nodes(row: pd.Series) -> str:
    status = str(row.get("status"))
    if status == "none":
        return "none"
    text = _with_ci(row, "nodes", "{:,.3g}")
    if status == "at_bound":
        text = f"<= {text}"
    if isinstance(row.get("nodes_by_seed"), str):
        text += f" ({row['nodes_by_seed']})"
    return text


def _band_cell(row: pd.Series, factor: float, key: str, pattern: str) -> str:
    """One factor's answer of the program-load band ('-': the platform pays no program load)."""
    from sn40l_sim.present.band_columns import band_column

    status = row.get(band_column("status", factor))
    if not isinstance(status, str) or not status or status == "nan":
        return "-"
    if status == "none":
        return "none"
    text = _fmt(row.get(band_column(key, factor)), pattern)
    return f"<= {text}" if status == "at_bound" and key == "nodes" else text


def _band_cells(row: pd.Series, factors: list[float], key: str, pattern: str) -> str:
    """The band's answers side by side, ``12 / 19``; '-' for a platform without a band."""
    cells = [_band_cell(row, f, key, pattern) for f in factors]
    return "-" if all(c == "-" for c in cells) else " / ".join(cells)


def _band_heads(factors: list[float], cost: bool) -> list[str]:
    from sn40l_sim.present.band_columns import shown_factor

    at = " / ".join(shown_factor(f) for f in factors)
    return [f"nodes at {at} program load", *([f"$/M tokens at {at} program load"] if cost else [])]


def capacity_cells(table: pd.DataFrame, band_cost: bool = True) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of a capacity table (per seed, or the mean over seeds with intervals);
    with the SN40L program-load band, its nodes (and, if ``band_cost``, $/M tokens) at each factor."""
    from sn40l_sim.present.band_columns import band_factors

    axes = table_axes(table)
    factors = band_factors(table)
    band = _band_heads(factors, band_cost) if factors else []
    head = [_short(a) for a in axes] + ["nodes", *band[:1], "TP", "$/hour", "$/M tokens", *band[1:],
                                        "p99 TTFT", "goodput", "why none"]
    rows = []
    for _, r in table.iterrows():
        tp = r.get("tensor_parallel")
        nodes_band = [_band_cells(r, factors, "nodes", "{:,.3g}")] if factors else []
        cost_band = [_band_cells(r, factors, "cost_per_million_output_tokens_usd", "{:,.2f}")] \
            if factors and band_cost else []
        rows.append([_axis_cell(r, a) for a in axes] + [
            _nodes(r), *nodes_band, tp if isinstance(tp, str) else _fmt(tp, "{:.0f}"),
            _with_ci(r, "price_usd_per_hour", "{:,.0f}"),
            _with_ci(r, "cost_per_million_output_tokens_usd", "{:,.2f}"), *cost_band,
            _with_ci(r, "ttft_p99_s", "{:.2f}") + (" s" if _fmt(r.get("ttft_p99_s"), "{}") != "-" else ""),
            _fmt(100 * _num(r.get("goodput_share")), "{:.1f} %"),
            str(r.get("why") or "") or "-"])
    if all(row[-1] == "-" for row in rows):  # every answer exists: no column for reasons
        head, rows = head[:-1], [row[:-1] for row in rows]
    return head, rows


def capacity_note(slo: str, seeds: bool, band: bool = False, short: bool = False) -> str:
    """The table's title: what '<= N', the intervals and the program-load band (``short``: 'PL'
    in its headers) mean."""
    note = f"SLO: {slo}. '<= N': the bottom of the search range already met it."
    if seeds:
        note += " Means over seeds ±95 % t-interval; (answers per seed)."
    if band:
        name = "½x/2x PL" if short else "½x / 2x program load"
        note += (f" 'at {name}': the SN40L's searches with its program load (fitted, not "
                 "measured) halved and doubled ('-': the platform pays none).")
    return note


def capacity_rich(table: pd.DataFrame, slo: str) -> Group:
    """The capacity table for the console: cells fold, never cut; the reasons for missing answers
    are numbered notes under the table (they are the one long text), ``none [1]`` in the row."""
    from sn40l_sim.present.band_columns import band_factors

    head, rows = capacity_cells(table, band_cost=False)  # 80 columns: the band's nodes only
    # the note says what PL is; two header lines keep the column as narrow as its cells
    band = [i for i, h in enumerate(head) if "program load" in h]
    head = [h.replace("nodes at ", "nodes at\n").replace(" / ", "/").replace(" program load", " PL")
            if "program load" in h else h for h in head]
    for row in rows:  # '12/17': one line in a narrow column
        for i in band:
            row[i] = row[i].replace(" / ", "/")
    notes: list[str] = []
    if head[-1] == "why none":
        head = head[:-1]
        for row in rows:
            why = row.pop()
            if why != "-":
                notes.append(why)
                row[head.index("nodes")] = f"none [{len(notes)}]"
    title = capacity_note(slo, "n_seeds" in table.columns, bool(band_factors(table)), short=True)
    out = Table(title=title, box=box.SIMPLE_HEAD,
                title_justify="left", pad_edge=False, padding=(0, 1))
    for name in head:  # a platform's display name stays on one line; numbers fold instead
        platform = name == "platform"
        out.add_column(name, overflow="fold", justify="left" if platform else "right", no_wrap=platform)
    for row in rows:
        out.add_row(*row)
    return Group(out, *(Text(f"[{n}] {why}") for n, why in enumerate(notes, start=1)))


def capacity_markdown_cells(table: pd.DataFrame, slo: str) -> str:
    from sn40l_sim.present.band_columns import band_factors

    head, rows = capacity_cells(table)
    note = capacity_note(slo, "n_seeds" in table.columns, bool(band_factors(table)))
    lines = [note, "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def search_rich(search: pd.DataFrame) -> Table:
    """One row per search: the axes that vary, the answer, its status and why none (80 columns)."""
    field, slo = search["search_field"].iloc[0], search["slo"].iloc[0]
    goal = "fewest" if search["goal"].iloc[0] == "min" else "most"
    skip = {"order", "search_field", "goal", "slo", "probes", "answer", "status", "n_probes", "why"}
    if "program_load_scale" in search.columns:  # the band's marker says it; not its override too
        skip.add("costs.program_load_scale")
    axes = [c for c in search.columns if c not in skip and not c.startswith(("answer_", "best_end_"))
            and search[c].astype(str).nunique() > 1]
    out = Table(title=f"SLO searches: {goal} {field} with {slo}", box=box.SIMPLE_HEAD,
                title_justify="left", pad_edge=False, padding=(0, 1))
    for name in [*(_short(a) for a in axes), field, "status", "probes", "why none"]:
        out.add_column(name, overflow="fold")
    for _, r in search.iterrows():
        platform = r.get("answer_platform_name")
        cells = [str(platform) if a == "platform" and isinstance(platform, str)
                 else (f"{r[a]:g}" if isinstance(r[a], float) else str(r[a])) for a in axes]
        why = r.get("why")
        out.add_row(*cells, _fmt(r.get("answer"), "{:g}"), str(r.get("status")), str(r.get("n_probes")),
                    why if isinstance(why, str) and why else "-")
    return out
