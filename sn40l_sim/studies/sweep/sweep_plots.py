"""Curves from a sweep folder's tables (never re-simulated): metric, speedup and capacity curves.

* metric curve: one summary metric along a swept axis, one line per combination of the others;
* speedup curve: the same metric on each platform divided by the baseline platform's, along the axis
  (for times other / baseline, for rates baseline / other: above 1 the baseline is better);
* capacity curve: the answer of each SLO search (e.g. devices needed) along a swept load axis.

Every figure is written as PNG and SVG, with a title, axis units and a legend.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import pandas as pd

from sn40l_sim.errors import InputError
from sn40l_sim.present.band_columns import shown_factor
from sn40l_sim.studies.sweep.capacity import cheapest_searches
from sn40l_sim.studies.sweep.group_tp import group_tp_axes
from sn40l_sim.studies.sweep.program_load_band import split_band
from sn40l_sim.studies.sweep.store import SEARCH_TABLE, read_points

_WORDS = {"ttft": "time to first token", "e2e_latency": "end-to-end latency", "tpot": "time per output token",
          "queue_wait": "queue wait", "switch_wait": "switch wait", "router": "router time"}
_LABELS = {
    "throughput_req_per_s": "throughput (requests/s)", "output_tokens_per_s": "output tokens/s",
    "n_switches": "model switches (count)", "hbm_hit_rate": "HBM hit rate (fraction)",
    "n_rejected": "rejected requests (count)", "mean_batch_size": "mean batch size (sequences)",
    "switch_time_mean_s": "mean model switch time (s)", "n_devices": "devices (sockets or GPUs)",
    "answer_n_devices": "devices needed (SN40L sockets or GPUs)",
    "workload.rate_multiplier": "arrival rate (x the trace's own)", "nodes": "nodes",
    "serving.max_batch": "max batch (sequences)", "serving.tensor_parallel": "tensor-parallel degree",
}
_SHORT_AXES = {"serving.tensor_parallel": "TP", "workload.rate_multiplier": "rate x",
               "serving.max_batch": "max batch", "seed": "seed"}
HIGHER_IS_BETTER = ("throughput", "tokens_per_s", "hit_rate", "completed")


def label(column: str) -> str:
    """A readable axis label with its unit, e.g. ``ttft_p99_s`` -> ``p99 time to first token (s)``."""
    if column in _LABELS:
        return _LABELS[column]
    for stem, words in _WORDS.items():
        for stat in ("p50", "p90", "p99", "mean"):
            if column == f"{stem}_{stat}_s":
                return f"{stat} {words} (s)"
    if column.endswith("rate_per_s"):
        return "arrival rate (requests/s)"
    if column.endswith("_per_s"):
        return f"{column.removesuffix('_per_s')} (/s)"
    if column.endswith("_s"):
        return f"{column.removesuffix('_s')} (s)"
    return column


def _spec(sweep_dir: Path) -> dict[str, Any]:
    path = sweep_dir / "sweep.json"
    return json.loads(path.read_text())["spec"] if path.exists() else {}


def swept_axes(points: pd.DataFrame, spec: dict[str, Any]) -> list[str]:
    """The case and grid axes that take more than one value, in file order."""
    keys = [k for case in spec.get("cases", []) for k in case] + list(spec.get("grid", {}))
    keys = list(dict.fromkeys(k for k in keys if k in points.columns))
    return [k for k in keys if points[k].astype(str).nunique() > 1]


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    return bool(pd.api.types.is_numeric_dtype(frame[column]))


def _legend_name(frame: pd.DataFrame, hue: list[str], key: tuple[Any, ...]) -> str:
    parts = []
    for column, value in zip(hue, key, strict=True):
        if column == "platform" and "platform_name" in frame.columns:
            names = frame.loc[frame["platform"] == value, "platform_name"].dropna()
            value = names.iloc[0] if len(names) else value
            parts.append(str(value))
        else:
            name = _SHORT_AXES.get(column, column.rsplit(".", 1)[-1])
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    return ", ".join(parts) or "all points"


def _save(fig: Any, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    fig.tight_layout()
    for path in paths:
        fig.savefig(path, dpi=130, bbox_inches="tight")  # long legends outside the axes stay whole
    plt.close(fig)
    return paths


LINE_STYLES = ("-", "--", ":", "-.")


def _style_of(frame: pd.DataFrame, hue: list[str]) -> Any:
    """With two or more hue axes whose last takes few values, one colour per combination of the
    others and one line style per value of the last, so nine lines read as three families."""
    if len(hue) < 2 or frame[hue[-1]].nunique() > len(LINE_STYLES):
        return lambda key: {}
    families = list(dict.fromkeys(map(tuple, frame[hue[:-1]].itertuples(index=False, name=None))))
    last = list(dict.fromkeys(frame[hue[-1]]))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return lambda key: {"color": colours[families.index(tuple(key[:-1])) % len(colours)],
                           "linestyle": LINE_STYLES[last.index(key[-1])]}


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def _lines(frame: pd.DataFrame, x: str, y: str, hue: list[str], ax: Any, marker: str = "o") -> None:
    """One line per hue combination. No line may hide under another: each has its own marker,
    later ones are drawn smaller and hollow on top, and a line whose points equal an earlier
    one's says so in the legend ("= <the other>")."""
    groups = frame.groupby(hue, sort=False, dropna=False) if hue else [((), frame)]
    style = _style_of(frame, hue)
    drawn: dict[tuple[Any, ...], str] = {}
    for n, (key, part) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(x)
        name = _legend_name(frame, hue, key)
        points = tuple(zip(part[x].tolist(), part[y].round(12).tolist(), strict=True))
        same = drawn.get(points)
        drawn.setdefault(points, name)
        mark = MARKERS[n % len(MARKERS)] if len(groups) > 1 else marker
        size = max(3.0, 8.0 - 0.6 * n)
        ax.plot(part[x], part[y], marker=mark, markersize=size, zorder=2 + n,
                markerfacecolor="none" if n else None,
                label=f"{name} (= {same}, drawn over it)" if same else name, **style(key))
    if _numeric(frame, x) and frame[x].min() > 0 and frame[x].max() / frame[x].min() >= 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    values = frame[y].dropna()
    bounded = "share" in y or ("rate" in y and "per_s" not in y)  # a 0-1 share reads on a linear axis
    if not bounded and len(values) and values.min() > 0 and values.max() / values.min() >= 100:
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def metric_curve(points: pd.DataFrame, x: str, y: str, hue: list[str], title: str,
                 out_dir: Path, slo: float | None = None) -> list[Path]:
    ok = points[points["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    _lines(ok, x, y, hue, ax)
    if slo is not None:
        ax.axhline(slo, color="black", lw=1.0, ls="--")
        ax.annotate(f"SLO {slo:g}", (0.99, slo), xycoords=("axes fraction", "data"), fontsize=8,
                    va="bottom", ha="right")
    ax.set_xlabel(label(x))
    ax.set_ylabel(label(y))
    ax.set_title(f"{title}: {label(y)} vs {label(x)}", fontsize=10)
    return _save(fig, out_dir, f"metric_{y}_vs_{x}")


def speedup_table(points: pd.DataFrame, x: str, y: str, others: list[str], baseline: str) -> pd.DataFrame:
    """Per platform and x (and other axes): the metric relative to the baseline platform."""
    ok = points[points["status"] == "ok"]
    keys = [x, *others]
    base = ok[ok["platform"] == baseline][[*keys, y]].rename(columns={y: "baseline_value"})
    rows = ok[ok["platform"] != baseline].merge(base, on=keys, how="inner")
    higher = any(word in y for word in HIGHER_IS_BETTER)
    rows["advantage"] = (rows["baseline_value"] / rows[y]) if higher else (rows[y] / rows["baseline_value"])
    return rows


def speedup_curve(points: pd.DataFrame, x: str, y: str, others: list[str], baseline: str, title: str,
                  out_dir: Path) -> list[Path]:
    rows = speedup_table(points, x, y, others, baseline)
    if rows.empty:
        raise InputError(f"no points pair platform {baseline!r} with another platform at equal {x}")
    names = points.loc[points["platform"] == baseline, "platform_name"].dropna()
    base_name = names.iloc[0] if len(names) else baseline
    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    _lines(rows, x, "advantage", ["platform", *others], ax)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(label(x))
    ax.set_ylabel(f"{base_name} advantage in {label(y)} (x)")
    ax.set_title(f"{title}: {base_name} speedup vs {label(x)} (other / {base_name})", fontsize=10)
    return _save(fig, out_dir, f"speedup_{y}_vs_{x}")


def _reason_tag(why: Any) -> str:
    text = str(why or "")
    if text.startswith("does not fit"):
        return "does not fit in memory"
    if text.startswith("rejected"):
        return "rejected by a limit"
    return "misses the SLO up to the top of the range"


def _draw_band(ax: Any, band: dict[float, pd.DataFrame], x: str, y: str, keys: list[str]) -> None:
    """The program-load band: at each x, a shaded bar from the lowest to the highest answer of
    the searches at the band's factors (means over seeds), behind the base line it belongs to."""
    per = []
    for factor, part in band.items():
        found = part[part["answer"].notna()].copy()
        if len(found) and y in found:
            found[y] = pd.to_numeric(found[y], errors="coerce")
            per.append(found.groupby(keys, dropna=False)[y].mean().rename(factor))
    if not per:
        return
    joined = pd.concat(per, axis=1)
    spans = pd.DataFrame({"low": joined.min(axis=1), "high": joined.max(axis=1)}).reset_index()
    factors = " to ".join(shown_factor(f) for f in sorted(band))
    ax.vlines(spans[x], spans["low"], spans["high"], colors="tab:purple", alpha=0.3, linewidth=7,
              zorder=5, label=f"answer at {factors} the program load (SN40L)")


def capacity_curve(search: pd.DataFrame, x: str, y: str, hue: list[str], title: str,
                   out_dir: Path, band: dict[float, pd.DataFrame] | None = None) -> list[Path]:
    """Each search's answer along a load axis (never its probes). With seeds, the mean over them
    with its 95 % t-interval as an error bar. An answer at the bottom of the range is marked as a
    bound, a search with no answer as a cross at the top of the range with its reason, and the
    cheapest configuration per platform and x with a star; ``band``'s searches (the program load
    halved and doubled) as a shaded range."""
    from sn40l_sim.studies.sweep.intervals import mean_ci95

    fig, ax = plt.subplots(figsize=(9.5, 4.8))
    hue = [h for h in hue if h != "seed"]
    found = search[search["answer"].notna()].copy()
    keys = [x, *hue]
    if len(found):
        rows = []
        for key, part in found.groupby(keys, sort=False, dropna=False):
            key = key if isinstance(key, tuple) else (key,)
            mean, half = mean_ci95(part[y].astype(float).tolist())
            price = part["answer_price_usd_per_hour"].astype(float).mean() if \
                "answer_price_usd_per_hour" in part else math.nan
            rows.append({**dict(zip(keys, key, strict=True)), y: mean, "ci": half, "price": price,
                         "bound": (part["status"] == "at_bound").all(),
                         "platform_name": part["answer_platform_name"].iloc[0]
                         if "answer_platform_name" in part else None})
        curve = pd.DataFrame(rows)
        _lines(curve, x, y, hue, ax, marker="s")
        if band:
            _draw_band(ax, band, x, y, keys)
        with_ci = curve[curve["ci"].notna() & (curve["ci"] > 0)]
        if len(with_ci):
            ax.errorbar(with_ci[x], with_ci[y], yerr=with_ci["ci"], fmt="none", ecolor="grey",
                        capsize=3, zorder=40, label="95 % t-interval over seeds")
        bound = curve[curve["bound"]]
        if len(bound):
            ax.scatter(bound[x], bound[y], marker="v", s=140, facecolors="none", edgecolors="black",
                       zorder=50, label="at the bottom of the search range: the true answer may be lower")
        by = [x, "platform"] if "platform" in curve.columns else [x]
        cheapest = curve.loc[curve.groupby(by, dropna=False)["price"].idxmin().dropna()] \
            if curve["price"].notna().any() else curve.iloc[:0]
        if len(cheapest) and hue:
            ax.scatter(cheapest[x], cheapest[y], marker="*", s=220, color="gold", edgecolors="black",
                       zorder=60, label="cheapest configuration per platform ($/hour)")
    missing = search[search["answer"].isna()].drop_duplicates([x, *hue])
    if len(missing):
        top = float(search["answer"].max()) if search["answer"].notna().any() else 1.0
        top = max(top, float(missing.get("best_end_n_devices", pd.Series([top])).max()
                             if y == "answer_n_devices" else top))
        for reason, part in missing.groupby(missing.get("why", pd.Series("", index=missing.index))
                                            .map(_reason_tag)):
            ax.scatter(part[x], [top] * len(part), marker="x", s=80, color="tab:red", zorder=50,
                       label=f"no answer: {reason}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    slo = search["slo"].iloc[0] if len(search) else ""
    y_label = (f"{search['search_field'].iloc[0]} needed" if y == "answer" and len(search)
               else label(y))
    ax.set_xlabel(label(x))
    ax.set_ylabel(y_label)
    ax.set_title(f"{title}: {y_label} to keep {slo}", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    xs = pd.to_numeric(search[x], errors="coerce")
    if xs.notna().all() and (xs == xs.round()).all():  # seeds, node counts: whole-number ticks
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return _save(fig, out_dir, f"capacity_{y}_vs_{x}")


def plot_sweep(sweep_dir: Path, *, x: str | None = None, y: str | None = None, hue: list[str] | None = None,
               kind: str = "auto", baseline: str | None = None, slo: float | None = None) -> list[Path]:
    """Draw the curves a sweep folder supports (or the one ``kind`` asks for); returns the files."""
    points = read_points(sweep_dir)
    if points.empty:
        raise InputError("no finished points in this folder (is it a sweep output folder?)",
                         file=str(sweep_dir))
    spec = _spec(sweep_dir)
    title = spec.get("name", sweep_dir.name)
    axes = swept_axes(points, spec)
    search_path = sweep_dir / SEARCH_TABLE
    out_dir = sweep_dir / "plots"
    written: list[Path] = []
    if kind in ("auto", "capacity") and search_path.exists():
        search, band = split_band(pd.read_parquet(search_path))  # the base line; band shaded
        per_group = group_tp_axes(list(search.columns))
        if per_group:  # each expert group's TP was chosen by the search: draw the cheapest choice
            search = cheapest_searches(search, per_group)
            band = {f: cheapest_searches(part, per_group) for f, part in band.items()}
        sx = x or next((a for a in axes if a in search.columns and _numeric(search, a)), None)
        if sx is None:
            raise InputError("no numeric swept axis to draw the capacity curve along; pass --x")
        sy = y or "answer"  # the searched value (nodes), per search
        shue = hue if hue is not None else [a for a in axes if a != sx and a in search.columns]
        _check_columns(search, [sx, sy, *shue])
        # The other curves would mix points of different searched values: not drawn by default.
        return written + capacity_curve(search, sx, sy, shue, title, out_dir, band)
    if kind == "capacity":
        raise InputError("this sweep has no SLO search (no search.parquet)", file=str(sweep_dir))
    mx = x or next((a for a in axes if _numeric(points, a)), None)
    if mx is None:
        raise InputError("no numeric swept axis to draw along; pass --x", file=str(sweep_dir))
    my = y if (y and kind != "auto") or (y and not search_path.exists()) else "ttft_p99_s"
    others = [a for a in axes if a not in (mx, "platform")]
    mhue = hue if hue is not None else [a for a in axes if a != mx and not _same_axis(points, a, mx)]
    _check_columns(points, [mx, my, *mhue])
    if kind in ("auto", "metric"):
        written += metric_curve(points, mx, my, mhue, title, out_dir, slo)
    platforms = list(dict.fromkeys(points["platform"].astype(str))) if "platform" in points else []
    if kind in ("auto", "speedup") and len(platforms) > 1:
        written += speedup_curve(points, mx, my, others, baseline or platforms[0], title, out_dir)
    elif kind == "speedup":
        raise InputError("a speedup curve needs 'platform' as a swept axis with two or more values")
    return written


def _same_axis(frame: pd.DataFrame, a: str, b: str) -> bool:
    """True when two columns determine each other (``nodes`` and ``n_devices``): one line, not many."""
    pairs = frame[[a, b]].astype(str).drop_duplicates()
    return bool(len(pairs) == frame[a].astype(str).nunique() == frame[b].astype(str).nunique())


def _check_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"no column(s) {missing} in the sweep table; columns are: "
                         + ", ".join(map(str, frame.columns)))
