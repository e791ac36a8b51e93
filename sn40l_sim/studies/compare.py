"""``sn40l-sim compare``: one request stream, several platforms, ratios against the first."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from sn40l_sim.config.load import load_model
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.present.console import fmt_ratio
from sn40l_sim.present.results_dir import new_run_dir, write_json
from sn40l_sim.runner import RunResult, run_scenario
from sn40l_sim.units import format_seconds
from sn40l_sim.workload.data_dir import resolve_data_dir

# (summary key, label, True when larger is better)
COMPARED = (
    ("switch_time_mean_s", "model switch time", False),
    ("e2e_latency_mean_s", "mean latency", False),
    ("e2e_latency_p99_s", "p99 latency", False),
    ("ttft_p50_s", "p50 TTFT", False),
    ("tpot_p50_s", "p50 time per output token", False),
    ("throughput_req_per_s", "throughput", True),
)


def ratio_rows(summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """For every platform after the first: how many times better the first one is.

    For times the ratio is other / first (31x = the first switches 31 times faster); for
    throughput it is first / other, so a ratio above 1 always favours the first platform.
    """
    names = list(summaries)
    base = summaries[names[0]]
    rows = []
    for other in names[1:]:
        for key, label, higher_better in COMPARED:
            a, b = base.get(key), summaries[other].get(key)
            value = None
            if a and b and a == a and b == b:
                value = (a / b) if higher_better else (b / a)
            rows.append({"baseline": names[0], "other": other, "metric": label, "key": key,
                         "baseline_value": a, "other_value": b, "advantage": value})
    return pd.DataFrame(rows)


@dataclass
class Comparison:
    """One request stream replayed on several platforms: each run, and the ratios table."""

    run_dir: Path  # <output>/<scenario>-compare/<stamp>/: one folder per platform, ratios.csv
    results: dict[str, RunResult]  # by platform name, in the order given; the first is the baseline
    ratios: pd.DataFrame  # see ratio_rows


def run_comparison(scenario: Scenario, source: Path | None, platforms: Sequence[str], *,
                   output: Path | None = None, data_dir: Path | None = None, plots: bool = False,
                   progress: bool = False) -> Comparison:
    """Run ``scenario`` once per platform (a profile name or YAML path) and write the ratios."""
    if not platforms:
        raise InputError("compare needs at least one platform", field="platforms")
    # Every platform is resolved before anything is written, so a bad name leaves no folder.
    variants = [resolve(scenario.model_copy(update={"platform": p}), source) for p in platforms]
    out = output if output is not None else Path(scenario.output)
    made = [p for p in (out / f"{scenario.name}-compare", out) if not p.exists()]
    root = new_run_dir(out, f"{scenario.name}-compare")
    results: dict[str, RunResult] = {}
    try:
        for platform, resolved in zip(platforms, variants, strict=True):
            results[resolved.platform.name] = run_scenario(
                resolved, data_dir=data_dir, plots=plots, progress=progress,
                run_dir=root / Path(platform).stem)
    except InputError:  # a bad trace row: a failed comparison leaves no results folder
        shutil.rmtree(root, ignore_errors=True)
        for folder in made:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    summaries = {label: result.summary.to_dict() for label, result in results.items()}
    table = ratio_rows(summaries)
    table.to_csv(root / "ratios.csv", index=False)
    write_json(root / "summaries.json", summaries)
    return Comparison(root, results, table)


def compare_platforms(scenario_path: Path, platforms: list[str], *, output: Path | None,
                      data_dir: str | None, plots: bool, progress: bool) -> pd.DataFrame:
    """``sn40l-sim compare``: the comparison, printed as two tables."""
    scenario = load_model(Scenario, scenario_path)
    comparison = run_comparison(scenario, scenario_path, platforms, output=output,
                                data_dir=resolve_data_dir(data_dir), plots=plots, progress=progress)
    _print_absolute({label: r.summary.to_dict() for label, r in comparison.results.items()})
    _print(comparison.ratios, comparison.run_dir)
    return comparison.ratios


_ABSOLUTE = (
    ("requests completed / rejected", lambda s: f"{s['n_completed']:,} / {s['n_rejected']:,}"),
    ("experts servable / total", lambda s: f"{s['n_servable_experts']} / {s['n_experts']}"),
    ("mean model switch", lambda s: format_seconds(s["switch_time_mean_s"])),
    ("mean latency", lambda s: format_seconds(s["e2e_latency_mean_s"])),
    ("p99 latency", lambda s: format_seconds(s["e2e_latency_p99_s"])),
    ("HBM hit rate", lambda s: f"{100 * (s['hbm_hit_rate'] or 0):.1f} %"),
)


def _print_absolute(summaries: dict[str, dict[str, Any]]) -> None:
    view = Table(title="per platform")
    view.add_column("metric")
    for name in summaries:
        view.add_column(name, justify="right")
    for label, fn in _ABSOLUTE:
        cells = []
        for summary in summaries.values():
            try:
                cells.append(fn(summary))
            except (KeyError, TypeError, ValueError):
                cells.append("n/a")
        view.add_row(label, *cells)
    Console().print(view)


def _print(table: pd.DataFrame, root: Path) -> None:
    console = Console()
    if table.empty:
        console.print("only one platform: nothing to compare")
        return
    view = Table(title=f"{table['baseline'].iloc[0]} advantage (other / baseline for times)")
    view.add_column("metric")
    others = list(dict.fromkeys(table["other"]))
    for other in others:
        view.add_column(f"vs {other}", justify="right")
    for label in dict.fromkeys(table["metric"]):
        cells = [fmt_ratio(table[(table["metric"] == label) & (table["other"] == o)]["advantage"].iloc[0])
                 for o in others]
        view.add_row(label, *cells)
    console.print(view)
    console.print(f"results: {root}")
