"""Energy, cost and goodput of a run, from its request columns and the platform's data.

Kept apart from :mod:`sn40l_sim.metrics.summary` (one function per metric, units in the names) so
they can move into a typed run summary unchanged. The model, and why:

* **Energy.** Every provisioned device and node draws its idle power for the whole window (first
  arrival to last completion: capacity is paid for whether used or not). A device computing a batch
  (batch events, router batches included) draws its busy power instead; the rest of a node moves
  from idle to busy in proportion to its devices' busy time. Weight copies are DMA: not counted.
* **Cost.** Price per node-hour x nodes x window.
* **Goodput.** Requests per second that completed within both a TTFT bound and a time-between-tokens
  bound on the request's p99 gap between output tokens (``gap_s``, see
  :mod:`sn40l_sim.metrics.token_gaps`; its mean gap ``tpot_s`` when no gaps were derived; a one-token
  answer has none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sn40l_sim.catalogue.hardware import PowerSpec, PriceSpec

if TYPE_CHECKING:  # the DataFrame helpers are for notebooks and tests; a run passes arrays
    import pandas as pd


@dataclass(frozen=True)
class Fleet:
    """What was provisioned: nodes, devices per node, devices per serving group."""

    n_nodes: int
    n_devices_per_node: int
    tensor_parallel: int

    @property
    def n_devices(self) -> int:
        return self.n_nodes * self.n_devices_per_node


@dataclass(frozen=True)
class Slo:
    """The bounds a request must meet to count towards goodput (seconds)."""

    ttft_s: float
    tbt_s: float


@dataclass(frozen=True)
class RequestColumns:
    """The request columns these metrics read, as arrays (one entry per request)."""

    arrival_s: np.ndarray
    end_s: np.ndarray
    completed: np.ndarray  # bool
    output_tokens: np.ndarray
    ttft_s: np.ndarray
    tpot_s: np.ndarray
    gap_s: np.ndarray | None = None  # the gap the TBT bound judges (p99 per request); None: tpot_s

    @classmethod
    def from_frame(cls, requests: pd.DataFrame) -> RequestColumns:
        def col(name: str) -> np.ndarray:
            values: np.ndarray = requests[name].to_numpy(dtype=np.float64)
            return values

        return cls(col("arrival_s"), col("end_s"), (requests["outcome"] == "completed").to_numpy(bool),
                   col("output_tokens"), col("ttft_s"), col("tpot_s"))


def window_s(requests: RequestColumns) -> float:
    """First arrival to last completion (or rejection): how long the fleet was held."""
    if not len(requests.arrival_s):
        return 0.0
    return max(float(np.nanmax(requests.end_s) - np.nanmin(requests.arrival_s)), 0.0)


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


def n_good(requests: RequestColumns, slo: Slo) -> int:
    """Completed requests within both bounds (a NaN gap, a one-token answer, passes TBT)."""
    gap = requests.gap_s if requests.gap_s is not None else requests.tpot_s
    with np.errstate(invalid="ignore"):
        tbt_ok = np.isnan(gap) | (gap <= slo.tbt_s)
        return int((requests.completed & (requests.ttft_s <= slo.ttft_s) & tbt_ok).sum())


def economics(requests: RequestColumns, busy_device_s: float, fleet: Fleet,
              power: PowerSpec | None, price: PriceSpec | None, slo: Slo) -> dict[str, float]:
    """The summary figures of this module, named with their units."""
    span = window_s(requests)
    energy = energy_from_busy_j(busy_device_s, span, fleet, power)
    tokens = float(requests.output_tokens[requests.completed].sum())
    n_completed = int(requests.completed.sum())
    n_requests = len(requests.completed)
    per_hour = price_usd_per_hour(fleet, price)
    cost = per_hour * span / 3600.0
    good = n_good(requests, slo)
    return {
        "window_s": span,
        "device_busy_s": busy_device_s,
        "energy_j": energy,
        "mean_power_w": energy / span if span > 0 else math.nan,
        "peak_power_w": peak_power_w(fleet, power),
        "energy_per_request_j": energy / n_completed if n_completed else math.nan,
        "tokens_per_j": tokens / energy if energy and energy == energy else math.nan,
        "price_usd_per_hour": per_hour,
        "cost_usd": cost,
        "cost_per_million_output_tokens_usd": cost / tokens * 1e6 if tokens else math.nan,
        "goodput_requests_per_s": good / span if span > 0 else math.nan,
        "goodput_share": good / n_requests if n_requests else math.nan,
        "slo_ttft_s": slo.ttft_s,
        "slo_tbt_s": slo.tbt_s,
    }
