"""``sn40l-sim compare``: one request stream, several platforms, ratios against the first.

Ratios of latencies are computed on the **same requests**: those every platform completed (a
platform that rejects the long prompts would otherwise look faster for serving only short ones).
Each platform's completed and rejected counts, and the reasons, are shown next to them. Switch
time, throughput, energy and cost are properties of a whole run and are compared over all of it.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from sn40l_sim.config.load import load_model, read_yaml, validate
from sn40l_sim.config.overrides import apply_overrides
from sn40l_sim.config.resolve import ResolvedScenario, resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError, Interrupted
from sn40l_sim.present.console import fmt_ratio
from sn40l_sim.present.fs_boundary import check_writable_dir, os_error
from sn40l_sim.present.results_dir import new_run_dir, write_json
from sn40l_sim.runner import RunResult, run_scenario
from sn40l_sim.studies import program_load
from sn40l_sim.units import format_seconds
from sn40l_sim.workload.data_dir import resolve_data_dir

# (key, label, True when larger is better, computed on the common requests)
COMPARED = (
    ("e2e_latency_mean_s", "mean latency (common requests)", False, True),
    ("e2e_latency_p99_s", "p99 latency (common requests)", False, True),
    ("ttft_p50_s", "p50 TTFT (common requests)", False, True),
    ("tpot_p50_s", "p50 time per output token (common requests)", False, True),
    ("switch_time_mean_s", "model switch time (all)", False, False),
    ("throughput_req_per_s", "throughput (all)", True, False),
    ("tokens_per_j", "tokens per joule (all)", True, False),
    ("cost_per_million_output_tokens_usd", "cost per million output tokens (all)", False, False),
)


def common_request_ids(requests: dict[str, pd.DataFrame]) -> np.ndarray:
    """Request ids every platform completed (the same stream, so ids match across runs)."""
    sets = [frame.loc[frame["outcome"] == "completed", "request_id"].to_numpy()
            for frame in requests.values()]
    common = sets[0]
    for ids in sets[1:]:
        common = np.intersect1d(common, ids)
    return np.sort(common)


def common_metrics(frame: pd.DataFrame, ids: np.ndarray) -> dict[str, float]:
    """Latency figures of one platform over the given request ids only."""
    rows = frame[frame["request_id"].isin(ids)]

    def pct(column: str, q: float) -> float:
        values = rows[column].dropna().to_numpy(dtype=float)
        return float(np.percentile(values, q)) if len(values) else math.nan

    return {"e2e_latency_mean_s": float(rows["e2e_latency_s"].mean()) if len(rows) else math.nan,
            "e2e_latency_p99_s": pct("e2e_latency_s", 99), "ttft_p50_s": pct("ttft_s", 50),
            "tpot_p50_s": pct("tpot_s", 50)}


def ratio_rows(summaries: dict[str, dict[str, Any]],
               requests: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """For every platform after the first: how many times better the first one is.

    For times and costs the ratio is other / first (31x = the first switches 31 times faster); for
    rates it is first / other, so a ratio above 1 always favours the first platform.
    """
    names = list(summaries)
    ids = common_request_ids(requests)
    common = {name: common_metrics(requests[name], ids) for name in names}
    rows = []
    for other in names[1:]:
        for key, label, higher_better, on_common in COMPARED:
            source = common if on_common else summaries
            a, b = source[names[0]].get(key), source[other].get(key)
            value = None
            if a and b and a == a and b == b:
                value = (a / b) if higher_better else (b / a)
            rows.append({"baseline": names[0], "other": other, "metric": label, "key": key,
                         "n_common_requests": len(ids), "baseline_value": a, "other_value": b,
                         "advantage": value})
    return pd.DataFrame(rows)


def scenario_with_overrides(path: Path, overrides: dict[str, Any]) -> Scenario:
    """The scenario file validated with ``--set`` paths applied (none: the file as it is)."""
    if not overrides:
        return load_model(Scenario, path)
    data, node = read_yaml(path)
    if not isinstance(data, dict):
        raise InputError("the scenario is not a mapping", file=str(path))
    try:
        data = apply_overrides(data, overrides)
    except KeyError as exc:
        raise InputError(f"--set: cannot apply: {exc.args[0]}", file=str(path), field="--set") from None
    return validate(Scenario, data, node, str(path))


@dataclass
class Comparison:
    """One request stream replayed on several platforms: each run, and the ratios table."""

    run_dir: Path  # <output>/<scenario>-compare/<stamp>/: one folder per platform, ratios.csv
    results: dict[str, RunResult]  # by platform name, in the order given; the first is the baseline
    ratios: pd.DataFrame  # see ratio_rows


def run_comparison(scenario: Scenario, source: Path | None, platforms: Sequence[str], *,
                   output: Path | None = None, data_dir: Path | None = None, plots: bool = False,
                   progress: bool = False,
                   platform_overrides: dict[str, Any] | None = None) -> Comparison:
    """Run ``scenario`` once per platform (a profile name or YAML path) and write the ratios.

    ``platform_overrides``: ``platform.<field>`` paths set over every compared profile (``--set``).
    """
    if not platforms:
        raise InputError("compare needs at least one platform", field="platforms")

    def overridden(name: str) -> str | dict[str, Any]:
        if not platform_overrides:
            return name
        merged: str | dict[str, Any] = apply_overrides({"platform": name}, platform_overrides)["platform"]
        return merged

    # Every platform is resolved before anything is written, so a bad name leaves no folder.
    variants = [resolve(scenario.model_copy(update={"platform": overridden(p)}), source)
                for p in platforms]
    # Runs are keyed by profile name and written to a folder per file stem: two platforms that share
    # either would overwrite each other's results.
    for what, keys in (("profile name", [v.platform.name for v in variants]),
                       ("file name", [Path(p).stem for p in platforms])):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise InputError(f"two platforms share the {what} {', '.join(map(repr, repeated))}; "
                             "give each compared platform its own", field="platforms")
    out = check_writable_dir(output if output is not None else Path(scenario.output),
                             "--output" if output is not None else "output")
    made = [p for p in (out / f"{scenario.name}-compare", *out.parents, out) if not p.exists()]
    made.sort(key=lambda p: -len(p.parts))  # deepest first
    root = new_run_dir(out, f"{scenario.name}-compare")
    results: dict[str, RunResult] = {}
    try:
        for platform, resolved in zip(platforms, variants, strict=True):
            try:
                results[resolved.platform.name] = run_scenario(
                    resolved, data_dir=data_dir, plots=plots, progress=progress,
                    run_dir=root / Path(platform).stem)
            except Interrupted as exc:
                finished = ", ".join(results) or "none"
                raise Interrupted(f"compare interrupted while simulating {resolved.platform.name}: "
                                  f"finished platform(s): {finished}; no ratios.csv was written "
                                  f"(it needs every platform); {exc}", signum=exc.signum) from None
        summaries = {label: result.summary.to_dict() for label, result in results.items()}
        table = ratio_rows(summaries, {label: result.requests for label, result in results.items()})
        if len(variants) > 1 and any(program_load.has_program_load(v) for v in variants):
            table = _program_load_band(table, platforms, variants, results, root, data_dir)
        write_frame_csv_atomic(table, root / "ratios.csv")
        write_json(root / "summaries.json", summaries)
    except (InputError, OSError) as exc:  # a bad trace row, a full disk: no results folder
        shutil.rmtree(root, ignore_errors=True)
        for folder in made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise os_error(exc) from None
        raise
    if plots:
        from sn40l_sim.present.run_plots import compare_cdf

        compare_cdf({label: result.requests for label, result in results.items()}, scenario.name,
                    root / "latency_cdf.png")
    return Comparison(root, results, table)


def write_frame_csv_atomic(table: pd.DataFrame, path: Path) -> None:
    """``table`` as CSV through a temporary file and a rename (never half a file)."""
    tmp = path.with_name(path.name + ".partial")
    try:
        table.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _program_load_band(table: pd.DataFrame, platforms: Sequence[str], variants: list[ResolvedScenario],
                       results: dict[str, RunResult],
                       root: Path, data_dir: Path | None) -> pd.DataFrame:
    """Rerun the platforms that pay a program load with it halved and doubled (studies/program_load.py)."""
    tables = {}
    for factor in program_load.FACTORS:
        runs = dict(results)
        for platform, resolved in zip(platforms, variants, strict=True):
            if program_load.has_program_load(resolved):
                runs[resolved.platform.name] = run_scenario(
                    program_load.scaled(resolved, factor), data_dir=data_dir, plots=False, progress=False,
                    run_dir=root / f"{Path(platform).stem}-program-load-{factor:g}x")
        tables[factor] = ratio_rows({k: r.summary.to_dict() for k, r in runs.items()},
                                    {k: r.requests for k, r in runs.items()})
    return program_load.band_table(table, tables)


def compare_platforms(scenario_path: Path, platforms: list[str], *, output: Path | None,
                      data_dir: str | None, plots: bool, progress: bool,
                      overrides: dict[str, Any] | None = None) -> pd.DataFrame:
    """``sn40l-sim compare``: the comparison, printed as two tables.

    ``overrides`` (``--set``): scenario paths apply to the scenario, ``platform.<field>`` paths to
    every compared platform.
    """
    overrides = overrides or {}
    on_platform = {k: v for k, v in overrides.items() if k.startswith("platform.")}
    if "platform" in overrides:
        raise InputError("--set platform=... : compare takes its platforms from --platforms",
                         field="--set")
    scenario = scenario_with_overrides(scenario_path, {k: v for k, v in overrides.items()
                                                       if k not in on_platform})
    comparison = run_comparison(scenario, scenario_path, platforms, output=output,
                                data_dir=resolve_data_dir(data_dir), plots=plots, progress=progress,
                                platform_overrides=on_platform)
    console = Console()
    print_absolute({label: r.summary.to_dict() for label, r in comparison.results.items()}, console)
    print_ratios(comparison.ratios, comparison.run_dir, console)
    return comparison.ratios


def _reasons(s: dict[str, Any]) -> str:
    reasons = s.get("rejection_reasons") or {}
    return "; ".join(f"{n:,} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "-"


_ABSOLUTE = (
    ("requests completed / rejected", lambda s: f"{s['n_completed']:,} / {s['n_rejected']:,}"),
    ("rejected because", _reasons),
    ("experts servable / total", lambda s: f"{s['n_servable_experts']} / {s['n_experts']}"),
    ("mean model switch", lambda s: format_seconds(s["switch_time_mean_s"])),
    ("mean latency (own completed)", lambda s: format_seconds(s["e2e_latency_mean_s"])),
    ("p99 latency (own completed)", lambda s: format_seconds(s["e2e_latency_p99_s"])),
    ("HBM hit rate", lambda s: f"{100 * (s['hbm_hit_rate'] or 0):.1f} %"),
    ("goodput", lambda s: f"{s['goodput_requests_per_s']:.3g} req/s"),
    ("energy per request", lambda s: f"{s['energy_per_request_j']:.4g} J"),
    ("tokens per joule", lambda s: f"{s['tokens_per_j']:.3g}"),
    ("price", lambda s: f"${s['price_usd_per_hour']:.4g}/hour"),
    ("cost per million output tokens", lambda s: f"${s['cost_per_million_output_tokens_usd']:.4g}"),
)


def print_absolute(summaries: dict[str, dict[str, Any]], console: Console) -> None:
    view = Table(title="per platform")
    view.add_column("metric")
    for name in summaries:
        view.add_column(name, justify="right")
    for label, fn in _ABSOLUTE:
        cells = []
        for summary in summaries.values():
            try:
                cells.append(fn(summary).replace("nan", "n/a"))
            except (KeyError, TypeError, ValueError):
                cells.append("n/a")
        view.add_row(label, *cells)
    console.print(view)
    for name, summary in summaries.items():
        for line in summary.get("warnings") or []:
            console.print(f"[bold yellow]warning ({name}):[/] {line}")


def _cell(row: pd.Series) -> str:
    """A ratio, with its program-load band when the comparison has one."""
    text = fmt_ratio(row["advantage"])
    band = [row[c] for c in row.index if str(c).startswith("advantage_program_load_")]
    if band and all(b is not None and b == b for b in band):
        text += f" [{fmt_ratio(min(band))} - {fmt_ratio(max(band))}]"
    return text


def print_ratios(table: pd.DataFrame, root: Path, console: Console) -> None:
    if table.empty:
        console.print("only one platform: nothing to compare")
        return
    n_common = int(table["n_common_requests"].iloc[0])
    view = Table(title=f"{table['baseline'].iloc[0]} advantage (other / baseline for times); "
                       f"common requests = the {n_common:,} every platform completed")
    view.add_column("metric")
    others = list(dict.fromkeys(table["other"]))
    for other in others:
        view.add_column(f"vs {other}", justify="right")
    for label in dict.fromkeys(table["metric"]):
        cells = [_cell(table[(table["metric"] == label) & (table["other"] == o)].iloc[0]) for o in others]
        view.add_row(label, *cells)
    console.print(view)
    if any(c.startswith("advantage_program_load_") for c in table.columns):
        console.print("[ ]: the advantage with the SN40L program load (fitted on T5-A100) at half and at "
                      "double its value")
    console.print(f"results: {root}")
