"""Plots drawn from a run's DataFrames (never from live simulation objects)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from sn40l_sim.units import format_seconds

TIMELINE_MAX_BARS = 300  # a window a person can read bar by bar


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
    fig.savefig(path, dpi=120)
    plt.close(fig)


def timeline(events: pd.DataFrame, title: str, path: Path) -> None:
    """Switches (copies) and compute per serving group over the first events of the run."""
    ev = events.sort_values("start_s").head(TIMELINE_MAX_BARS)
    groups = sorted(ev["group"].unique()) if len(ev) else [0]
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.9 * len(groups)))
    styles = {("switch", "copy"): ("tab:red", "model switch (copy)"),
              ("batch", "iteration"): ("tab:blue", "expert compute"),
              ("batch", "router"): ("tab:green", "router")}
    for (kind, phase), (color, label) in styles.items():
        sel = ev[(ev["kind"] == kind) & (ev["phase"] == phase)]
        for k, g in enumerate(groups):
            rows = sel[sel["group"] == g]
            if len(rows):
                spans = list(zip(rows["start_s"], rows["end_s"] - rows["start_s"], strict=True))
                offset = {"copy": 0.3, "iteration": 0.0, "router": -0.3}[phase]
                ax.broken_barh(spans, (k + offset - 0.12, 0.24), color=color,
                               label=label if k == 0 else None)
    ax.set_yticks(range(len(groups)), [f"group {g}" for g in groups])
    ax.set_xlabel("simulated time (s)")
    shown = f"first {len(ev):,} events" if len(events) > len(ev) else "all events"
    ax.set_title(f"{title}: switches and compute per serving group ({shown})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
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
