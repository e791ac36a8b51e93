"""Memory arithmetic, in one place: a model switch's copy time and how a group's HBM is split.

The engine (copy links, the HBM cache), ``footprint`` and ``validate`` all ask these functions, so a
switch costs the same seconds and a group holds the same bytes wherever it is computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.errors import InputError


def copy_s(n_bytes: float, bw_bytes_per_s: float, latency_s: float) -> float:
    """Seconds to copy ``n_bytes`` over a link: a fixed latency plus bytes over bandwidth."""
    return latency_s + n_bytes / bw_bytes_per_s


def switch_s(platform: PlatformSpec, weight_bytes: float, tp: int) -> float:
    """An uncontended model switch of a TP-``tp`` group: weights from DDR / host DRAM into HBM."""
    return copy_s(weight_bytes, platform.weight_load_bw_bytes_per_s(tp), platform.weight_load.latency_s)


def group_hbm_bytes(platform: PlatformSpec, tp: int) -> float:
    """One serving group's HBM: per-device capacity times the devices of the group."""
    return platform.device.hbm.capacity_bytes * tp


def expert_cache_bytes(platform: PlatformSpec, tp: int, router_bytes: float,
                       kv_reservation_bytes: float) -> float:
    """The most HBM expert weights can ever hold in a group: HBM less router and KV floor."""
    return group_hbm_bytes(platform, tp) - router_bytes - kv_reservation_bytes


def backing_bytes_per_group(platform: PlatformSpec, tp: int) -> float:
    """A group's share of the backing store: its sockets' DDR, or host DRAM split by groups."""
    if platform.weight_load.source == "ddr" and platform.device.ddr is not None:
        return platform.device.ddr.capacity_bytes * tp
    groups_per_node = max(1, platform.n_devices_per_node // tp)
    return platform.backing_capacity_bytes() / groups_per_node


def kv_reservation_bytes(*, configured_bytes: float | None, kv_growth: bool, max_batch: int,
                         max_context_tokens: int, largest_kv_bytes_per_token: float) -> float:
    """The KV floor: configured, else 0 with growth, else max_batch x max_context x KV/token."""
    if configured_bytes is not None:
        return float(configured_bytes)
    if kv_growth:
        return 0.0
    return max_batch * max_context_tokens * largest_kv_bytes_per_token


@dataclass(frozen=True)
class MemoryPlan:
    """How a group's HBM is split, and which experts the backing store can hold."""

    hbm_bytes: float  # one group's HBM: per-device capacity x tensor_parallel
    router_bytes: float
    kv_reservation_bytes: float  # floor set aside for KV (also its cap when kv_growth is off)
    kv_growth: bool
    expert_cache_bytes: float  # most HBM expert weights can ever hold (HBM - router - floor)
    backing_bytes: float  # one group's share of DDR / host DRAM
    n_servable: int  # experts that fit in the backing store (the rest are out of memory)


def plan_memory(platform: PlatformSpec, tp: int, *, router_bytes: float, kv_reservation_bytes: float,
                kv_growth: bool, n_servable: int) -> MemoryPlan:
    """Split one serving group's HBM; a router and KV floor that do not fit are an input error."""
    hbm = group_hbm_bytes(platform, tp)
    if router_bytes + kv_reservation_bytes > hbm:
        raise InputError(f"router weights ({router_bytes / 1e9:.3g} GB) and the KV reservation "
                         f"({kv_reservation_bytes / 1e9:.3g} GB) exceed the HBM of a TP{tp} group "
                         f"({hbm / 1e9:.3g} GB)", field="serving.kv_reservation")
    return MemoryPlan(hbm, router_bytes, kv_reservation_bytes, kv_growth,
                      expert_cache_bytes(platform, tp, router_bytes, kv_reservation_bytes),
                      backing_bytes_per_group(platform, tp), n_servable)
