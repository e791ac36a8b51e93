"""Rich tables on the console: a run's summary and comparison ratios."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sn40l_sim.units import format_bytes, format_seconds

_ROWS = (
    ("requests completed / rejected", lambda s: f"{s['n_completed']:,} / {s['n_rejected']:,}"),
    ("throughput", lambda s: f"{s['throughput_req_per_s']:.3g} req/s, "
                             f"{s['output_tokens_per_s']:.4g} tok/s"),
    ("TTFT p50 / p90 / p99", lambda s: " / ".join(format_seconds(s[f"ttft_p{q}_s"]) for q in (50, 90, 99))),
    ("latency p50 / p90 / p99", lambda s: " / ".join(format_seconds(s[f"e2e_latency_p{q}_s"])
                                                    for q in (50, 90, 99))),
    ("time per output token p50", lambda s: format_seconds(s["tpot_p50_s"])),
    ("model switches", lambda s: f"{s['n_switches']:,} ({format_bytes(s['switch_bytes'])}, "
                                 f"mean {format_seconds(s['switch_time_mean_s'])})"),
    ("switch share of latency", lambda s: f"{100 * s['switch_share_of_latency']:.1f} %"),
    ("HBM hit rate", lambda s: f"{100 * s['hbm_hit_rate']:.1f} %"),
    ("average active parameters", lambda s: f"{s['average_active_params'] / 1e9:.2f} B"),
    ("experts servable / total", lambda s: f"{s['n_servable_experts']} / {s['n_experts']}"),
    ("goodput (TTFT and TBT SLO)", lambda s: f"{s['goodput_requests_per_s']:.3g} req/s "
                                            f"({100 * s['goodput_share']:.1f} % of requests)"),
    ("energy", lambda s: f"{s['energy_per_request_j']:.4g} J/request, "
                         f"{s['tokens_per_j']:.3g} tokens/J, mean {s['mean_power_w'] / 1e3:.3g} kW"),
    ("cost", lambda s: f"${s['price_usd_per_hour']:.4g}/hour, "
                       f"${s['cost_per_million_output_tokens_usd']:.4g} per million output tokens"),
)


def _speculative_row(s: dict[str, Any]) -> str:
    return (f"{s['speculative_tokens_per_step']:.3g} tokens/step; busy time: draft "
            f"{100 * s['speculative_draft_share']:.0f} %, verify {100 * s['speculative_verify_share']:.0f} %")


def _safe(fn: Any, summary: dict[str, Any]) -> str:
    try:
        text = fn(summary)
    except (KeyError, TypeError, ValueError):
        return "n/a"
    return text.replace("nan", "n/a") if isinstance(text, str) else text


def print_summary(summary: dict[str, Any], run_dir: Path, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{summary['scenario']} on {summary['platform']}", show_header=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    for label, fn in _ROWS:
        table.add_row(label, _safe(fn, summary))
    if summary.get("speculative_tokens_per_step") is not None:  # only a speculative run has the row
        table.add_row("speculative decoding", _safe(_speculative_row, summary))
    console.print(table)
    for line in summary.get("warnings") or []:
        console.print(f"[bold yellow]warning:[/] {line}")
    console.print(f"results: {run_dir}")


def fmt_ratio(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}x"
