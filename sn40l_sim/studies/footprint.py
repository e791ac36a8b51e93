"""Machine footprint: the fewest nodes that serve a set of experts, and at what latency.

Two ways to host a catalogue (DESIGN.md decision 8):

* ``all_in_hbm`` — every expert resident in some serving group's HBM (no switching): groups are
  packed first-fit-decreasing with the HBM left after the router weights and the KV reservation.
* ``backed`` — every expert in the backing store (SN40L DDR, DGX host DRAM), HBM a cache over it:
  nodes are packed by backing capacity; a request pays a model switch when its expert is cold.

Latencies are batch-1 estimates from the pure cost model: router + (switch) + expert, which is the
quantity P1 Table V compares. The router is priced by the run plan's
:class:`~sn40l_sim.plan.run_plan.RouterPlan` (its HBM and its inference, generated tokens included),
the same one ``run`` charges; :func:`plan_footprint` reads a whole scenario's plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost import memory
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.plan.run_plan import RouterPlan, RunPlan


@dataclass(frozen=True, slots=True)
class FootprintOption:
    """One way to host the experts on one platform."""

    platform: str
    strategy: str  # all_in_hbm | backed
    n_nodes: int | None  # None: impossible (an expert does not fit a group at all)
    n_devices: int | None
    experts_per_node: float | None
    latency_s: float | None  # batch-1 request latency with a cold expert (backed) / warm (all_in_hbm)
    switch_s: float | None
    router_s: float | None = None  # the batch-1 router step inside latency_s
    note: str = ""


def _first_fit_decreasing(sizes: Sequence[float], capacity: float) -> int | None:
    """Bins of ``capacity`` needed for ``sizes``; None if one item alone exceeds a bin."""
    if not sizes:
        return 0
    if max(sizes) > capacity:
        return None
    bins: list[float] = []
    for size in sorted(sizes, reverse=True):
        for k, free in enumerate(bins):
            if size <= free:
                bins[k] = free - size
                break
        else:
            bins.append(capacity - size)
    return len(bins)


@dataclass(frozen=True)
class RequestShape:
    """The batch-1 request footprint latencies are quoted for."""

    prompt_tokens: int = 256
    output_tokens: int = 20


def router_s(platform: PlatformSpec, router: RouterPlan, tp: int, prompt_tokens: int) -> float:
    """One prompt's router step at batch 1: the router model's inference on a TP-``tp`` group
    (as the engine charges it, less a program load), or the fixed routing latency."""
    if router.model is None:
        return router.latency_s
    return router.inference_s(StepCostTable(platform, router.model, tp), 1, prompt_tokens)


def request_latency_s(platform: PlatformSpec, expert: ModelSpec, router: RouterPlan,
                      tp: int, shape: RequestShape, *, cold: bool) -> tuple[float, float]:
    """(latency, switch) of one request at batch 1: router + switch (if cold) + expert."""
    table = StepCostTable(platform, expert, tp)
    expert_s = table.inference_s(1, shape.prompt_tokens, shape.output_tokens)
    switch_s = memory.switch_s(platform, expert.weight_bytes, tp)
    routing_s = router_s(platform, router, tp, shape.prompt_tokens)
    return routing_s + expert_s + (switch_s if cold else 0.0), switch_s


def plan_footprint(plan: RunPlan, shape: RequestShape = RequestShape()) -> list[FootprintOption]:
    """Both hosting strategies for a scenario's experts, router and KV floor (its run plan)."""
    return footprint(plan.platform, [e.model for e in plan.experts],
                     tp=plan.serving_groups[0].tensor_parallel, router=plan.router,
                     kv_reservation_bytes=plan.memory.kv_reservation_bytes, shape=shape)


def footprint(platform: PlatformSpec, experts: Sequence[ModelSpec], *, tp: int,
              router: RouterPlan, kv_reservation_bytes: float,
              shape: RequestShape = RequestShape()) -> list[FootprintOption]:
    """Both hosting strategies for ``experts`` on nodes of ``platform``."""
    sizes = [e.weight_bytes for e in experts]
    per_node_groups = max(1, platform.n_devices_per_node // tp)
    devices_per_group = tp
    largest = max(experts, key=lambda e: e.weight_bytes)
    options = []
    group_bytes = memory.expert_cache_bytes(platform, tp, router.hbm_bytes, kv_reservation_bytes)
    routing_s = router_s(platform, router, tp, shape.prompt_tokens)
    n_groups = _first_fit_decreasing(sizes, group_bytes) if group_bytes > 0 else None
    latency, switch = request_latency_s(platform, largest, router, tp, shape, cold=False)
    if n_groups is None:
        options.append(FootprintOption(platform.name, "all_in_hbm", None, None, None, None, None,
                                       note="an expert does not fit one group's HBM"))
    else:
        nodes = math.ceil(n_groups / per_node_groups)
        options.append(FootprintOption(platform.name, "all_in_hbm", nodes, n_groups * devices_per_group,
                                       len(experts) / nodes, latency, 0.0, routing_s))
    backing = platform.backing_capacity_bytes()
    n_backed = _first_fit_decreasing(sizes, backing) if backing > 0 else None
    cold, switch = request_latency_s(platform, largest, router, tp, shape, cold=True)
    if n_backed is None or group_bytes < largest.weight_bytes:
        options.append(FootprintOption(platform.name, "backed", None, None, None, None, None,
                                       note="an expert does not fit the backing store or HBM"))
    else:
        options.append(FootprintOption(platform.name, "backed", max(1, n_backed),
                                       max(1, n_backed) * platform.n_devices_per_node,
                                       len(experts) / max(1, n_backed), cold, switch, routing_s))
    return options


@dataclass(frozen=True, slots=True)
class GroupFootprint:
    """One expert group (or, with ``group`` None, the catalogue's total) on one platform: the
    serving groups of its TP degree that hold all its experts in HBM, and their devices."""

    platform: str
    group: int | None
    model: str
    count: int
    tensor_parallel: int | None
    hbm_groups: int | None  # None: one expert does not fit a group's HBM at this TP
    hbm_devices: int | None
    hbm_nodes: int | None  # the total row: nodes that hold every group's serving groups
    backed_nodes: int | None  # the total row: nodes whose backing store holds every expert
    latency_s: float | None  # batch-1 warm latency of one request to this group's model


def catalogue_footprint(platform: PlatformSpec, groups: Sequence[tuple[ModelSpec, int, int]], *,
                        router: RouterPlan, kv_reservation_bytes: float,
                        shape: RequestShape = RequestShape()) -> list[GroupFootprint]:
    """A mixed catalogue, each expert group ``(model, count, tp)`` at its own TP degree.

    All in HBM: each group's experts packed first-fit-decreasing into serving groups of its TP
    (HBM less router and KV floor), and the nodes that hold all those devices (TP degrees that
    divide the node pack without waste, so the total is ``ceil(devices / devices per node)``).
    Backed: the nodes whose backing store holds every expert, and at least one serving group of
    each TP degree (as ``run`` places them).
    """
    rows: list[GroupFootprint] = []
    per_node = platform.n_devices_per_node
    for index, (model, count, tp) in enumerate(groups):
        cache = memory.expert_cache_bytes(platform, tp, router.hbm_bytes, kv_reservation_bytes)
        n = _first_fit_decreasing([model.weight_bytes] * count, cache) if cache > 0 else None
        latency = (request_latency_s(platform, model, router, tp, shape, cold=False)[0]
                   if n is not None else None)
        rows.append(GroupFootprint(platform.name, index, model.name, count, tp, n,
                                   n * tp if n is not None else None, None, None, latency))
    devices = [r.hbm_devices for r in rows]
    total = None if any(d is None for d in devices) else sum(d for d in devices if d is not None)
    sizes = [model.weight_bytes for model, count, _ in groups for _ in range(count)]
    backing = platform.backing_capacity_bytes()
    n_backed = _first_fit_decreasing(sizes, backing) if backing > 0 else None
    fits_hbm = all(r.hbm_groups is not None for r in rows)
    degrees = sum({tp for _, _, tp in groups})
    backed = (max(n_backed, math.ceil(degrees / per_node), 1)
              if n_backed is not None and fits_hbm else None)
    rows.append(GroupFootprint(platform.name, None, "total", len(sizes), None,
                               sum(r.hbm_groups or 0 for r in rows) if total is not None else None,
                               total, math.ceil(total / per_node) if total is not None else None,
                               backed, None))
    return rows
