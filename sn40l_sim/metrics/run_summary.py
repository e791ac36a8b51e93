"""A run's headline figures as one typed record, computed from its results folder alone.

:meth:`RunSummary.from_run_dir` reads ``requests.parquet`` and ``events.parquet`` one column at a
time (a million requests cost a few 8 MB arrays, never a whole DataFrame), the scenario's name from
``scenario.resolved.yaml`` and what only the live run knew from ``run_info.json``. The runner writes
the result as ``summary.json``; ``sn40l-sim summarize RUN_DIR`` recomputes it. Every field carries
its description, which ``docs/metrics.md`` is tested against.

To add a figure: a field with ``doc(...)`` here, and its value in one of the ``_part`` functions
(or a new one listed in :meth:`RunSummary.from_run_dir`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from sn40l_sim.catalogue.hardware import PowerSpec, PriceSpec
from sn40l_sim.config.limits import MAX_NAME_CHARS
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.economics import Fleet, RequestColumns, Slo, economics
from sn40l_sim.metrics.overload import backlog
from sn40l_sim.metrics.parquet_columns import ParquetColumns
from sn40l_sim.metrics.run_info import MemoryUse, RunInfo, doc
from sn40l_sim.metrics.token_gaps import gap_percentile_s
from sn40l_sim.safe_load import read_yaml_data
from sn40l_sim.workload.workload_stats import WorkloadStats

LATENCY_METRICS = {
    "ttft": "time to first token (`ttft_s`)",
    "e2e_latency": "end-to-end latency (`e2e_latency_s`)",
    "tpot": "time per output token after the first (`tpot_s`)",
    "queue_wait": "wait in queue (`queue_wait_s`)",
    "switch_wait": "wait for a model switch (`switch_wait_s`)",
    "router": "routing time (`router_s`)",
}
STATS = {"mean": "mean", "p50": "median", "p90": "90th percentile", "p99": "99th percentile"}


def _stat(metric: str, stat: str) -> Any:
    return doc(f"{STATS[stat]} over completed requests of their {LATENCY_METRICS[metric]}")


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """The headline figures of one run (``summary.json``); NaN where a figure has no data."""

    scenario: str = doc("the scenario's `name`")
    platform: str = doc("the platform profile's name")
    n_experts: int = doc("experts in the composition")
    n_servable_experts: int = doc("experts the backing store holds; the rest are out of memory")
    out_of_memory_at_experts: int | None = doc(
        "the expert count at which the platform ran out of memory (`n_servable_experts + 1`), or "
        "null when all fit")
    expert_cache_bytes: float = doc("the most HBM expert weights can hold in a group (HBM less "
                                    "router and KV reservation)")
    memory: MemoryUse = doc("capacities and peak use of each memory, fields below")
    interrupted: bool = doc("the run was stopped (Ctrl-C, SIGTERM) before its workload ended")
    complete: bool = doc("every result file is in place (true here, as this summary is computed from "
                         "them); the `summary.json` a run writes when it starts says false, so a "
                         "killed run keeps false, with its rows in `*.parquet.parts/`")
    n_requests: int = doc("requests in `requests.parquet`")
    n_completed: int = doc("requests that completed")
    n_rejected: int = doc("requests rejected (see `rejection_reasons`)")
    rejection_reasons: dict[str, int] = doc("number of rejected requests by `reason`")
    makespan_s: float = doc("first arrival to last completion")
    throughput_req_per_s: float = doc("completed requests / `makespan_s`")
    output_tokens_per_s: float = doc("output tokens of completed requests / `makespan_s`")
    ttft_mean_s: float = _stat("ttft", "mean")
    ttft_p50_s: float = _stat("ttft", "p50")
    ttft_p90_s: float = _stat("ttft", "p90")
    ttft_p99_s: float = _stat("ttft", "p99")
    e2e_latency_mean_s: float = _stat("e2e_latency", "mean")
    e2e_latency_p50_s: float = _stat("e2e_latency", "p50")
    e2e_latency_p90_s: float = _stat("e2e_latency", "p90")
    e2e_latency_p99_s: float = _stat("e2e_latency", "p99")
    tpot_mean_s: float = _stat("tpot", "mean")
    tpot_p50_s: float = _stat("tpot", "p50")
    tpot_p90_s: float = _stat("tpot", "p90")
    tpot_p99_s: float = _stat("tpot", "p99")
    token_gap_p99_mean_s: float = doc("each completed request's p99 gap between output tokens (what "
                                      "the time-between-tokens SLO judges; metrics/token_gaps.py), "
                                      "mean over requests")
    token_gap_p99_p50_s: float = doc("the same per-request p99 gap, median over requests")
    token_gap_p99_p99_s: float = doc("the same per-request p99 gap, 99th percentile over requests")
    queue_wait_mean_s: float = _stat("queue_wait", "mean")
    queue_wait_p50_s: float = _stat("queue_wait", "p50")
    queue_wait_p90_s: float = _stat("queue_wait", "p90")
    queue_wait_p99_s: float = _stat("queue_wait", "p99")
    switch_wait_mean_s: float = _stat("switch_wait", "mean")
    switch_wait_p50_s: float = _stat("switch_wait", "p50")
    switch_wait_p90_s: float = _stat("switch_wait", "p90")
    switch_wait_p99_s: float = _stat("switch_wait", "p99")
    router_mean_s: float = _stat("router", "mean")
    router_p50_s: float = _stat("router", "p50")
    router_p90_s: float = _stat("router", "p90")
    router_p99_s: float = _stat("router", "p99")
    n_switches: int = doc("model switches (weight copies into HBM)")
    switch_bytes: float = doc("bytes all switches copied")
    switch_time_s: float = doc("link-busy time of all switches")
    switch_time_mean_s: float = doc("mean duration of one switch's copy")
    switch_share_of_latency: float = doc("mean switch wait / mean end-to-end latency")
    switch_share_mean: float = doc("mean over completed requests of their own `switch_share`")
    switch_share_p90: float = doc("90th percentile over completed requests of their `switch_share`")
    switch_bytes_by_link: dict[str, float] = doc("bytes each copy link moved (the sum of its "
                                                 "switches)")
    n_batches: int = doc("expert batch iterations (events of phase `iteration`)")
    mean_batch_size: float = doc("mean sequences per expert batch iteration")
    average_active_params: float = doc("mean over completed requests of `active_params` (router "
                                       "model + expert)")
    hbm_hit_rate: float | None = doc("share of expert batches whose expert was already in HBM "
                                     "(null without any)")
    workload: dict[str, Any] = doc(
        "what the workload reader counted: `n_requests`, `n_bad_rows_skipped`, "
        "`n_zero_prompt_clipped`, `n_zero_output_clipped`, `n_trace_passes`, `skipped_examples`")
    wall_s: float = doc("wall-clock seconds the simulation took")
    sim_requests_per_wall_s: float | None = doc("simulator speed: requests / `wall_s`")
    window_s: float = doc("first arrival to the last completion or rejection: how long the fleet "
                          "was held (energy and cost are over it)")
    device_busy_s: float = doc("device-seconds computing: batch events (router batches included) x "
                               "their serving group's `tensor_parallel`")
    energy_j: float = doc("every provisioned device and node at idle power for `window_s`, plus "
                          "(busy - idle) power while a device computes; a node's non-device part "
                          "rises from idle to busy with its devices' busy share; weight copies add "
                          "nothing (NaN without a profile `power:`)")
    mean_power_w: float = doc("`energy_j` / `window_s`")
    peak_power_w: float = doc("every device busy at once: the power to provision")
    energy_per_request_j: float = doc("`energy_j` per completed request")
    tokens_per_j: float = doc("output tokens of completed requests per joule")
    price_usd_per_hour: float = doc("nodes x the profile's (or `costs:`) price per node-hour")
    cost_usd: float = doc("`price_usd_per_hour` x `window_s`")
    cost_per_million_output_tokens_usd: float = doc("`cost_usd` per million output tokens of "
                                                    "completed requests")
    goodput_requests_per_s: float = doc(
        "completed requests with `ttft_s` <= `slo.ttft` and their p99 gap between tokens <= "
        "`slo.time_between_tokens` (a one-token answer passes) per second of `window_s`")
    goodput_share: float = doc("those requests over all requests (a rejection is a miss): an SLO "
                               "target for sweep searches")
    slo_ttft_s: float = doc("the TTFT bound goodput used (`slo.ttft`)")
    slo_tbt_s: float = doc("the time-between-tokens bound goodput used (`slo.time_between_tokens`)")
    speculative_tokens_per_step: float | None = doc(
        "speculative decoding: tokens a sequence gained per speculative step (accepted drafts plus "
        "the target's own token; the last step's surplus beyond the request's output is not "
        "counted), over every decoding sequence (null without `serving.speculative`)")
    speculative_draft_share: float | None = doc(
        "speculative decoding: the draft's passes as a share of the groups' busy time (batch "
        "events, router batches included); null without `serving.speculative`")
    speculative_verify_share: float | None = doc(
        "speculative decoding: the target's verify passes as a share of the groups' busy time; "
        "null without `serving.speculative`")
    overloaded: bool = doc("the backlog (requests arrived, not finished) grew through the arrivals "
                           "(metrics/overload.py): latency and cost then depend on the trace's length")
    backlog_at_quarters: list[int] = doc("requests waiting or running at 1/4, 1/2, 3/4 and the end of "
                                         "the arrival window")
    warnings: list[str] = doc("one line per default limit (`max_context_tokens`, a default "
                              "`kv_reservation`) that rejected requests, with the count, and one if "
                              "the run was overloaded")

    @classmethod
    def from_run_dir(cls, run_dir: Path | str) -> RunSummary:
        """Recompute the summary of a results folder from its files alone."""
        if not isinstance(run_dir, str | Path):
            raise InputError(f"run_dir is a path, not {type(run_dir).__name__}", field="run_dir")
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise InputError("no such results folder", file=str(run_dir))
        if (run_dir / "requests.parquet.parts").is_dir() or (run_dir / "events.parquet.parts").is_dir():
            raise InputError("the run did not finish (it was killed, or is still running): its rows so "
                             "far are the Parquet parts in requests.parquet.parts/ and "
                             "events.parquet.parts/; rerun the scenario for a summary", file=str(run_dir))
        info = RunInfo.read(run_dir)
        requests = ParquetColumns(run_dir / "requests.parquet")
        events = ParquetColumns(run_dir / "events.parquet")
        values: dict[str, Any] = {"scenario": _scenario_name(run_dir)}
        values.update(_identity_part(info))
        timing = _EventTiming.read(events)
        columns = _request_columns(requests, events, timing)
        values.update(_requests_part(requests, columns))
        values.update(_switch_part(events, timing))
        values.update(_batch_part(events, timing))
        values.update(_run_part(info, requests.n_rows))
        values.update(_economics_part(info, columns, timing, events))
        values.update(_speculative_part(info, timing))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` mapping (nested records as mappings)."""
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        """A figure by its ``summary.json`` name, for code that names metrics in data (a sweep's
        SLO ``metric``, a comparison's list of rows)."""
        if key not in _FIELD_NAMES:
            raise KeyError(key)
        value = getattr(self, key)
        return asdict(value) if key == "memory" else value


_FIELD_NAMES = frozenset(f.name for f in fields(RunSummary))


def _scenario_name(run_dir: Path) -> str:
    path = run_dir / "scenario.resolved.yaml"
    if not path.exists() and not path.is_symlink():
        raise InputError("no such file: not a results folder", file=str(path))
    data = read_yaml_data(path)  # untrusted: bounded, no alias bombs
    if not isinstance(data, dict) or "name" not in data:
        raise InputError("no scenario name in it", file=str(path))
    name = data["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InputError(f"the scenario name is not a name of 1 to {MAX_NAME_CHARS} characters",
                         file=str(path), field="name")
    return name


def _mean(values: np.ndarray) -> float:
    kept = values[~np.isnan(values)]
    return float(kept.mean()) if len(kept) else math.nan


def _pcts(values: np.ndarray, qs: list[float]) -> list[float]:
    """Percentiles of the non-NaN values, all from one partition of the array."""
    kept = values[~np.isnan(values)]
    if not len(kept):
        return [math.nan] * len(qs)
    return [float(v) for v in np.percentile(kept, qs)]


def _request_columns(requests: ParquetColumns, events: ParquetColumns,
                     timing: _EventTiming) -> RequestColumns:
    """The request columns both the latency figures and the economics read, read once; with each
    request's p99 inter-token gap derived from its group's iterations (metrics/token_gaps.py)."""
    arrival, end = requests.floats("arrival_s"), requests.floats("end_s")
    completed = requests.equals("outcome", "completed")
    output, ttft = requests.floats("output_tokens"), requests.floats("ttft_s")
    if not (requests.has("group") and events.has("n_steps")):  # a hand-made table: the mean gap
        return RequestColumns(arrival_s=arrival, end_s=end, completed=completed, output_tokens=output,
                              ttft_s=ttft, tpot_s=requests.floats("tpot_s"))
    iteration = timing.batch & events.equals("phase", "iteration")
    last_token = requests.floats("last_token_s") if requests.has("last_token_s") else end
    gap = gap_percentile_s(requests.ints("group"), arrival + ttft, last_token, completed & (output > 1),
                           events.ints("group")[iteration], events.floats("end_s")[iteration],
                           events.ints("n_steps")[iteration])
    return RequestColumns(arrival_s=arrival, end_s=end, completed=completed, output_tokens=output,
                          ttft_s=ttft, tpot_s=requests.floats("tpot_s"), gap_s=gap)


@dataclass(frozen=True)
class _EventTiming:
    """Which events are switches and batches, and every event's duration: read once, used by
    the switch, batch and energy figures."""

    switch: np.ndarray  # bool
    batch: np.ndarray  # bool
    duration_s: np.ndarray

    @classmethod
    def read(cls, events: ParquetColumns) -> _EventTiming:
        duration = events.floats("end_s")
        duration -= events.floats("start_s")
        return cls(events.equals("kind", "switch"), events.equals("kind", "batch"), duration)


def _identity_part(info: RunInfo) -> dict[str, Any]:
    n, n_ok = info.n_experts, info.n_servable_experts
    return {"platform": info.platform, "n_experts": n, "n_servable_experts": n_ok,
            "out_of_memory_at_experts": n_ok + 1 if n_ok < n else None,
            "expert_cache_bytes": info.expert_cache_bytes, "memory": info.memory,
            "interrupted": info.interrupted, "complete": True}


def _requests_part(requests: ParquetColumns, columns: RequestColumns) -> dict[str, Any]:
    """Counts, throughput and the latency distributions, over completed requests."""
    done = columns.completed
    n_done = int(done.sum())
    arrival = columns.arrival_s
    first_arrival = float(arrival.min()) if len(arrival) else 0.0
    last_end = float(columns.end_s[done].max()) if n_done else first_arrival
    makespan = max(last_end - first_arrival, 0.0)
    output_tokens = int(columns.output_tokens[done].sum())  # whole numbers: exact in float64
    out: dict[str, Any] = {
        "n_requests": requests.n_rows,
        "n_completed": n_done,
        "n_rejected": int(requests.equals("outcome", "rejected").sum()),
        "rejection_reasons": requests.value_counts("reason"),
        "makespan_s": makespan,
        "throughput_req_per_s": n_done / makespan if makespan > 0 else math.nan,
        "output_tokens_per_s": output_tokens / makespan if makespan > 0 else math.nan,
    }
    read = {"ttft_s": columns.ttft_s, "tpot_s": columns.tpot_s}
    for metric in LATENCY_METRICS:
        name = f"{metric}_s"
        values = (read[name] if name in read else requests.floats(name))[done]
        out[f"{metric}_mean_s"] = _mean(values)
        for q, value in zip((50, 90, 99), _pcts(values, [50, 90, 99]), strict=True):
            out[f"{metric}_p{q}_s"] = value
    gaps = columns.gap_s[done] if columns.gap_s is not None else np.array([])
    out["token_gap_p99_mean_s"] = _mean(gaps)
    out["token_gap_p99_p50_s"], out["token_gap_p99_p99_s"] = _pcts(gaps, [50, 99])
    share = requests.floats("switch_share")[done]
    out.update(switch_share_mean=_mean(share), switch_share_p90=_pcts(share, [90])[0],
               average_active_params=_mean(requests.floats("active_params")[done]))
    mean_e2e = out["e2e_latency_mean_s"]
    out["switch_share_of_latency"] = (out["switch_wait_mean_s"] / mean_e2e
                                      if mean_e2e and not math.isnan(mean_e2e) else math.nan)
    return out


def _switch_part(events: ParquetColumns, timing: _EventTiming) -> dict[str, Any]:
    """Model switches: how many, bytes, link time, and the bytes of each link."""
    switch = timing.switch
    n_bytes = events.floats("bytes")[switch]
    duration = timing.duration_s[switch]
    links = events.strings("link", switch)
    by_link = {str(link): float(n_bytes[links == link].sum()) for link in sorted(set(links.tolist()))}
    return {"n_switches": int(switch.sum()), "switch_bytes": float(n_bytes.sum()),
            "switch_time_s": float(duration.sum()), "switch_time_mean_s": _mean(duration),
            "switch_bytes_by_link": by_link}


def _batch_part(events: ParquetColumns, timing: _EventTiming) -> dict[str, Any]:
    """Expert batch iterations (router batches left out)."""
    iteration = timing.batch & events.equals("phase", "iteration")
    return {"n_batches": int(iteration.sum()),
            "mean_batch_size": _mean(events.floats("n_batch")[iteration])}


def _run_part(info: RunInfo, n_requests: int) -> dict[str, Any]:
    n_access = info.hbm_hits + info.hbm_misses
    workload = {f.name: info.workload.get(f.name) for f in fields(WorkloadStats)}
    return {"hbm_hit_rate": info.hbm_hits / n_access if n_access else None,
            "workload": workload, "wall_s": info.wall_s,
            "sim_requests_per_wall_s": n_requests / info.wall_s if info.wall_s else None}


def _busy_device_s(info: RunInfo, timing: _EventTiming, events: ParquetColumns) -> float:
    """Device-seconds computing: each batch event's duration x its serving group's TP degree."""
    if not info.group_tensor_parallel:
        return float(timing.duration_s[timing.batch].sum()) * info.tensor_parallel
    degree = np.asarray(info.group_tensor_parallel, dtype=np.float64)
    groups = events.ints("group")[timing.batch]
    return float((timing.duration_s[timing.batch] * degree[groups]).sum())


def _economics_part(info: RunInfo, columns: RequestColumns, timing: _EventTiming,
                    events: ParquetColumns) -> dict[str, Any]:
    """Energy, cost and goodput (``metrics/economics.py``), from the columns they need."""
    power = PowerSpec(**{f"{k}_w": v for k, v in info.power_w.items()}) if info.power_w else None
    price = PriceSpec(info.node_usd_per_hour) if info.node_usd_per_hour else None
    fleet = Fleet(info.n_nodes, info.n_devices_per_node, info.tensor_parallel)
    out: dict[str, Any] = economics(columns, _busy_device_s(info, timing, events), fleet, power, price,
                                    Slo(info.slo_ttft_s, info.slo_tbt_s))
    grew = backlog(columns.arrival_s, columns.end_s)
    out.update(overloaded=grew.overloaded, backlog_at_quarters=list(grew.at_quarters))
    out["warnings"] = [*info.warnings, *([grew.warning()] if grew.overloaded else [])]
    return out


def _speculative_part(info: RunInfo, timing: _EventTiming) -> dict[str, Any]:
    """Tokens per speculative step and the draft and verify shares of busy time (null without)."""
    spec = info.speculative
    if spec is None:
        return {"speculative_tokens_per_step": None, "speculative_draft_share": None,
                "speculative_verify_share": None}
    busy = float(timing.duration_s[timing.batch].sum())
    steps = spec.get("n_sequence_steps", 0.0)
    return {"speculative_tokens_per_step": spec.get("n_tokens", 0.0) / steps if steps else None,
            "speculative_draft_share": spec.get("draft_s", 0.0) / busy if busy else None,
            "speculative_verify_share": spec.get("verify_s", 0.0) / busy if busy else None}


def field_docs() -> list[tuple[str, str]]:
    """``(summary.json key, description)`` of every figure, nested records as ``memory.<key>``."""
    rows: list[tuple[str, str]] = []
    for f in fields(RunSummary):
        rows.append((f.name, f.metadata["doc"]))
        if f.name == "memory":
            rows += [(f"memory.{m.name}", m.metadata["doc"]) for m in fields(MemoryUse)]
    return rows


def glossary_markdown() -> str:
    """The ``summary.json`` table of ``docs/metrics.md``, generated from the fields above."""
    lines = ["| key | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in field_docs()]
    return "\n".join(lines) + "\n"
