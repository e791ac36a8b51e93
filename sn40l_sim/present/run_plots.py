"""Plots drawn from a run's DataFrames (never from live simulation objects)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from sn40l_sim.units import format_seconds


def latency_cdf(requests: pd.DataFrame, title: str, path: Path) -> None:
    """Empirical CDFs of TTFT and end-to-end latency of completed requests."""
    done = requests[requests["outcome"] == "completed"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for column, label in (("ttft_s", "time to first token"), ("e2e_latency_s", "end-to-end latency")):
        values = np.sort(done[column].dropna().to_numpy(dtype=float))
        if len(values):
            ax.plot(values, np.arange(1, len(values) + 1) / len(values), label=label)
    ax.set_xscale("log")
    # Readable ticks ("20 ms", "1 s") at 1-2-5 steps: matplotlib's log-scale minor labels overlap.
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency (log scale)")
    ax.set_ylabel("fraction of requests")
    ax.set_title(f"{title}: latency CDF ({len(done):,} completed requests)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def compare_cdf(requests: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    """Each platform's TTFT and end-to-end latency CDFs on one axis, named by platform."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for n, (name, frame) in enumerate(requests.items()):
        done = frame[frame["outcome"] == "completed"]
        for column, what, style in (("ttft_s", "time to first token", "-"),
                                    ("e2e_latency_s", "end-to-end latency", "--")):
            values = np.sort(done[column].dropna().to_numpy(dtype=float))
            if len(values):
                ax.plot(values, np.arange(1, len(values) + 1) / len(values), style,
                        color=colours[n % len(colours)], label=f"{name}: {what}")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency (log scale)")
    ax.set_ylabel("fraction of completed requests")
    ax.set_title(f"{title}: latency CDF per platform")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


TIMELINE_BINS = 200  # time bins over the whole run
TIMELINE_MAX_GROUPS = 64  # rows of the per-group panel; more groups are merged into bands

_KINDS = ((("switch", "copy"), "tab:red", "model switch (copy)"),
          (("batch", "iteration"), "tab:blue", "expert compute"),
          (("batch", "router"), "tab:green", "router"))


def busy_per_bin(start_s: np.ndarray, end_s: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Seconds of the intervals ``[start, end)`` that fall in each bin between ``edges``.

    Uses the running total B(t) = sum over intervals of clip(t - start, 0, end - start), evaluated
    at the edges with sorted starts and ends (no loop over intervals)."""
    s, e = np.sort(start_s), np.sort(end_s)
    cs, ce = np.concatenate(([0.0], np.cumsum(s))), np.concatenate(([0.0], np.cumsum(e)))
    ns, ne = np.searchsorted(s, edges, side="left"), np.searchsorted(e, edges, side="left")
    total = (ns * edges - cs[ns]) - (ne * edges - ce[ne])
    return np.diff(total)


def timeline(events: pd.DataFrame, title: str, path: Path) -> None:
    """Over the whole run, binned: the share of groups switching, computing and routing (top),
    and each group's compute share per bin (bottom; bands of groups when there are many)."""
    ev = events[events["end_s"] > events["start_s"]] if len(events) else events
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 2]})
    if ev.empty:
        top.set_title(f"{title}: no switches or batches")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return
    t0, t1 = float(ev["start_s"].min()), float(ev["end_s"].max())
    edges = np.linspace(t0, t1 if t1 > t0 else t0 + 1.0, TIMELINE_BINS + 1)
    width = edges[1] - edges[0]
    groups = np.sort(ev["group"].unique())
    for (kind, phase), color, label in _KINDS:
        sel = ev[(ev["kind"] == kind) & (ev["phase"] == phase)]
        share = busy_per_bin(sel["start_s"].to_numpy(float), sel["end_s"].to_numpy(float), edges)
        top.plot(edges[:-1] + width / 2, share / (width * len(groups)), color=color, label=label)
    top.set_ylabel("share of groups busy")
    top.set_ylim(bottom=0)
    top.legend(loc="upper right", fontsize=8)
    top.grid(True, alpha=0.3)
    compute = ev[(ev["kind"] == "batch")]
    bands = np.array_split(groups, min(len(groups), TIMELINE_MAX_GROUPS))
    grid = np.zeros((len(bands), TIMELINE_BINS))
    for row, band in enumerate(bands):
        sel = compute[compute["group"].isin(band)]
        grid[row] = busy_per_bin(sel["start_s"].to_numpy(float), sel["end_s"].to_numpy(float),
                                 edges) / (width * len(band))
    # Scaled to the busiest cell, so a lightly loaded run still shows its pattern.
    image = bottom.imshow(grid, aspect="auto", origin="lower", cmap="Blues", vmin=0,
                          vmax=max(float(grid.max()), 1e-9),
                          extent=(edges[0], edges[-1], -0.5, len(bands) - 0.5),
                          interpolation="nearest")
    # One colour bar for both panels, so both keep the same width and their time axes line up.
    fig.colorbar(image, ax=[top, bottom], label="compute share of the bin", pad=0.01)
    what = "group" if len(bands) == len(groups) else f"band of ~{len(groups) // len(bands)} groups"
    bottom.set_ylabel(what)
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(bands) <= 16:  # whole rows only: one group is row 0, not an axis from -0.5 to 0.5
        bottom.set_yticks(range(len(bands)))
    bottom.set_xlim(edges[0], edges[-1])
    bottom.set_xlabel("simulated time (s)")
    top.set_title(f"{title}: the whole run in {TIMELINE_BINS} bins of {format_seconds(width)} "
                  f"({len(ev):,} events, {len(groups)} groups)")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def draw_run_plots(requests: pd.DataFrame, events: pd.DataFrame, title: str, plot_dir: Path) -> list[Path]:
    plot_dir.mkdir(parents=True, exist_ok=True)
    paths = [plot_dir / "latency_cdf.png", plot_dir / "timeline.png"]
    latency_cdf(requests, title, paths[0])
    timeline(events, title, paths[1])
    return paths


def latency_vs_experts(sweep: pd.DataFrame, path: Path) -> None:
    """P1 Fig. 13-style: batch-1 CoE latency vs number of experts, one line per platform.

    Solid while every expert is servable; past the first out-of-memory point the line is dashed
    and its points crossed, since its mean covers only the requests whose experts fit (the rest
    were rejected). Grey lines mark P1's reference points (DGX knee ~50, DGX OOM 150, SN40L 850).
    """
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for k, x in enumerate((50, 150, 850)):
        ax.axvline(x, color="grey", lw=0.8, ls=":", zorder=1,
                   label="P1: DGX knee ~50, DGX OOM 150, SN40L 850" if k == 0 else None)
    for platform, rows in sweep.groupby("platform", sort=False):
        rows = rows.sort_values("n_experts")
        ok, oom = rows[~rows["oom"]], rows[rows["oom"]]
        line, = ax.plot(ok["n_experts"], ok["latency_mean_s"] * 1e3, marker="o", ms=4, label=platform)
        if len(oom):
            tail = pd.concat([ok.tail(1), oom])
            ax.plot(tail["n_experts"], tail["latency_mean_s"] * 1e3, ls="--", color=line.get_color())
            ax.scatter(oom["n_experts"], oom["latency_mean_s"] * 1e3, marker="x", s=60,
                       color=line.get_color(), zorder=3)
            first = oom.iloc[0]
            ax.annotate(f"OOM from {int(first['n_experts'])}\n({int(first['n_servable'])} fit)",
                        (first["n_experts"], first["latency_mean_s"] * 1e3), xytext=(-8, 10),
                        textcoords="offset points", fontsize=8, color=line.get_color(), ha="right")
    ax.scatter([], [], marker="x", color="black", label="out of memory: mean over served requests")
    ax.set_xscale("log")
    ax.set_ylim(0, float(sweep["latency_mean_s"].max()) * 1e3 * 1.25)  # room for the notes
    ax.set_xlabel("number of Llama-2-7B experts (log scale)")
    ax.set_ylabel("mean request latency, batch 1 (ms)")
    ax.set_title("CoE latency vs number of experts\n"
                 "(router generating 20 tokens + switch + expert, TP8, 128+20 tokens)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="center left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
