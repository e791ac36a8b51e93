"""Headline metrics of a run, computed from the written DataFrames only (see docs/metrics.md)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def _pct(series: pd.Series, q: float) -> float:
    values = series.dropna().to_numpy(dtype=float)
    return float(np.percentile(values, q)) if len(values) else math.nan


def _mean(series: pd.Series) -> float:
    values = series.dropna()
    return float(values.mean()) if len(values) else math.nan


def summarize(requests: pd.DataFrame, events: pd.DataFrame) -> dict[str, Any]:
    """Throughput, latency percentiles, switching and memory figures of one run."""
    done = requests[requests["outcome"] == "completed"]
    n_total = len(requests)
    first_arrival = float(requests["arrival_s"].min()) if n_total else 0.0
    last_end = float(done["end_s"].max()) if len(done) else first_arrival
    makespan = max(last_end - first_arrival, 0.0)
    switches = events[events["kind"] == "switch"]
    batches = events[(events["kind"] == "batch") & (events["phase"] == "iteration")]
    out: dict[str, Any] = {
        "n_requests": n_total,
        "n_completed": len(done),
        "n_rejected": int((requests["outcome"] == "rejected").sum()),
        "rejection_reasons": {str(k): int(v) for k, v in
                              requests["reason"].dropna().value_counts().items() if v},
        "makespan_s": makespan,
        "throughput_req_per_s": len(done) / makespan if makespan > 0 else math.nan,
        "output_tokens_per_s": float(done["output_tokens"].sum()) / makespan if makespan > 0
        else math.nan,
    }
    for metric in ("ttft_s", "e2e_latency_s", "tpot_s", "queue_wait_s", "switch_wait_s", "router_s"):
        out[f"{metric.removesuffix('_s')}_mean_s"] = _mean(done[metric])
        for q in (50, 90, 99):
            out[f"{metric.removesuffix('_s')}_p{q}_s"] = _pct(done[metric], q)
    mean_e2e = _mean(done["e2e_latency_s"])
    out.update({
        "n_switches": len(switches),
        "switch_bytes": float(switches["bytes"].sum()),
        "switch_time_s": float((switches["end_s"] - switches["start_s"]).sum()),
        "switch_time_mean_s": _mean(switches["end_s"] - switches["start_s"]),
        "switch_share_of_latency": (_mean(done["switch_wait_s"]) / mean_e2e
                                    if mean_e2e and not math.isnan(mean_e2e) else math.nan),
        "switch_share_mean": _mean(done["switch_share"]),
        "switch_share_p90": _pct(done["switch_share"], 90),
        "switch_bytes_by_link": {str(k): float(v) for k, v in
                                 switches.groupby("link", sort=True)["bytes"].sum().items()},
        "n_batches": len(batches),
        "mean_batch_size": _mean(batches["n_batch"]),
        "average_active_params": _mean(done["active_params"]),
    })
    return out
