"""Energy, cost and goodput of a run, from its requests/events DataFrames and the platform's data.

Kept apart from :mod:`sn40l_sim.metrics.summary` (one function per metric, units in the names) so
they can move into a typed run summary unchanged. The model, and why:

* **Energy.** Every provisioned device and node draws its idle power for the whole window (first
  arrival to last completion: capacity is paid for whether used or not). A device computing a batch
  (batch events, router batches included) draws its busy power instead; the rest of a node moves
  from idle to busy in proportion to its devices' busy time. Weight copies are DMA: not counted.
* **Cost.** Price per node-hour x nodes x window.
* **Goodput.** Requests per second that completed within both a TTFT bound and a time-between-tokens
  bound (the request's mean gap between output tokens, ``tpot_s``; a one-token answer has none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from sn40l_sim.catalogue.hardware import PowerSpec, PriceSpec


@dataclass(frozen=True)
class Fleet:
    """What was provisioned: nodes, devices per node, devices per serving group."""

    n_nodes: int
    n_devices_per_node: int
    tensor_parallel: int

    @property
    def n_devices(self) -> int:
        return self.n_nodes * self.n_devices_per_node


def window_s(requests: pd.DataFrame) -> float:
    """First arrival to last completion (or rejection): how long the fleet was held."""
    if requests.empty:
        return 0.0
    return max(float(requests["end_s"].max() - requests["arrival_s"].min()), 0.0)


def device_busy_s(events: pd.DataFrame, tensor_parallel: int) -> float:
    """Device-seconds spent computing: each batch event keeps its group's ``tp`` devices busy."""
    batches = events[events["kind"] == "batch"]
    return float((batches["end_s"] - batches["start_s"]).sum()) * tensor_parallel


def energy_j(events: pd.DataFrame, span_s: float, fleet: Fleet, power: PowerSpec | None) -> float:
    """Joules over the window (see the module docstring); NaN without a power model."""
    return energy_from_busy_j(device_busy_s(events, fleet.tensor_parallel), span_s, fleet, power)


def energy_from_busy_j(busy_device_s: float, span_s: float, fleet: Fleet,
                       power: PowerSpec | None) -> float:
    """Joules of a fleet held ``span_s`` whose devices computed ``busy_device_s`` in all: linear in
    every power figure, so a sensitivity to them needs no new simulation."""
    if power is None or span_s <= 0:
        return math.nan
    busy = min(busy_device_s, fleet.n_devices * span_s)
    devices = (fleet.n_devices * power.device_idle_w * span_s
               + (power.device_busy_w - power.device_idle_w) * busy)
    rest = (fleet.n_nodes * power.node_idle_w * span_s
            + (power.node_busy_w - power.node_idle_w) * busy / fleet.n_devices_per_node)
    return devices + rest


def peak_power_w(fleet: Fleet, power: PowerSpec | None) -> float:
    """Every device busy at once: the power a data centre must provision."""
    return fleet.n_nodes * power.peak_node_w(fleet.n_devices_per_node) if power else math.nan


def price_usd_per_hour(fleet: Fleet, price: PriceSpec | None) -> float:
    return fleet.n_nodes * price.node_usd_per_hour if price else math.nan


def output_tokens(requests: pd.DataFrame) -> float:
    """Output tokens of completed requests."""
    return float(requests.loc[requests["outcome"] == "completed", "output_tokens"].sum())


def n_good(requests: pd.DataFrame, ttft_s: float, tbt_s: float) -> int:
    """Completed requests within both bounds (``tpot_s`` NaN, a one-token answer, passes TBT)."""
    done = requests[requests["outcome"] == "completed"]
    tbt_ok = done["tpot_s"].isna() | (done["tpot_s"] <= tbt_s)
    return int(((done["ttft_s"] <= ttft_s) & tbt_ok).sum())


def economics(requests: pd.DataFrame, events: pd.DataFrame, fleet: Fleet, power: PowerSpec | None,
              price: PriceSpec | None, *, ttft_slo_s: float, tbt_slo_s: float) -> dict[str, float]:
    """The summary keys of this module, named with their units."""
    span = window_s(requests)
    energy = energy_j(events, span, fleet, power)
    tokens = output_tokens(requests)
    n_completed = int((requests["outcome"] == "completed").sum())
    per_hour = price_usd_per_hour(fleet, price)
    cost = per_hour * span / 3600.0
    good = n_good(requests, ttft_slo_s, tbt_slo_s)
    return {
        "window_s": span,
        "device_busy_s": device_busy_s(events, fleet.tensor_parallel),
        "energy_j": energy,
        "mean_power_w": energy / span if span > 0 else math.nan,
        "peak_power_w": peak_power_w(fleet, power),
        "energy_per_request_j": energy / n_completed if n_completed else math.nan,
        "tokens_per_j": tokens / energy if energy and energy == energy else math.nan,
        "price_usd_per_hour": per_hour,
        "cost_usd": cost,
        "cost_per_million_output_tokens_usd": cost / tokens * 1e6 if tokens else math.nan,
        "goodput_requests_per_s": good / span if span > 0 else math.nan,
        "goodput_share": good / len(requests) if len(requests) else math.nan,
        "slo_ttft_s": ttft_slo_s,
        "slo_tbt_s": tbt_slo_s,
    }
