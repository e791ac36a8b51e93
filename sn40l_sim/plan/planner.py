"""Plan a run: a resolved scenario in, a frozen :class:`RunPlan` out (pure: no SimPy, no I/O).

Experts are placed on serving groups by the ``serving.placement`` rule (``uniform``: expert ``i``
on group ``i mod n_groups`` plus ``serving.replicas`` copies; ``load_aware``: copies in proportion
to expected load, see :mod:`sn40l_sim.policy.placement_rules`); each group's HBM holds the router,
a KV-cache reservation and a cache of expert weights; every expert lives in the backing store
(SN40L: the sockets' DDR; DGX: host DRAM), and experts beyond its capacity are out of memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sn40l_sim.catalogue.acceptance import default_acceptance
from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.config.resolve import Expert, ResolvedScenario
from sn40l_sim.config.serving_spec import SpeculativeSpec
from sn40l_sim.config.speculative_config import DEFAULT_KEY
from sn40l_sim.cost import memory
from sn40l_sim.plan.run_plan import (
    ExpertGroupPlan,
    ExpertPlan,
    GroupLimits,
    LinkPlan,
    Rejections,
    RouterPlan,
    RunPlan,
    ServingGroupPlan,
    SpeculativePlan,
)
from sn40l_sim.policy.expert_load import expected_shares
from sn40l_sim.policy.placement_rules import PLACEMENTS, PlacementInput
from sn40l_sim.policy.scheduler import scheduler_settings
from sn40l_sim.state.placement import Placement


def kv_reservation_bytes(resolved: ResolvedScenario) -> float:
    """The scenario's KV floor (see :func:`sn40l_sim.cost.memory.kv_reservation_bytes`)."""
    serving = resolved.serving
    return memory.kv_reservation_bytes(
        configured_bytes=serving.kv_reservation_bytes, kv_growth=serving.kv_growth,
        max_batch=serving.max_batch, max_context_tokens=serving.max_context_tokens,
        largest_kv_bytes_per_token=max(e.model.kv_bytes_per_token() for e in resolved.experts))


def expected_loads(resolved: ResolvedScenario) -> tuple[float, ...]:
    """Each expert's expected work: its share of requests x its weight bytes (decode streams the
    weights once a step, so a 70B request costs about ten 7B ones)."""
    shares = (np.array(resolved.planned_shares) if resolved.planned_shares is not None else
              expected_shares(resolved.router, resolved.workload,
                              [e.name for e in resolved.experts], resolved.group_shares))
    return tuple(float(p) * e.model.weight_bytes
                 for p, e in zip(shares, resolved.experts, strict=True))


def router_plan(model: ModelSpec | None, *, output_tokens: int, max_batch: int,
                max_context_tokens: int, latency_s: float = 0.0) -> RouterPlan:
    """The router's pricing: HBM for its weights, plus, for a router that generates its answer
    (``output_tokens`` > 1), the KV cache of a full router batch at the longest context."""
    if model is None:
        return RouterPlan(None, output_tokens, max_batch, 0.0, latency_s)
    kv = max_batch * max_context_tokens * model.kv_bytes_per_token() if output_tokens > 1 else 0.0
    return RouterPlan(model, output_tokens, max_batch, model.weight_bytes + kv, latency_s)


def _router(resolved: ResolvedScenario) -> RouterPlan:
    serving = resolved.serving
    return router_plan(resolved.router_model, output_tokens=resolved.router.output_tokens,
                       max_batch=serving.max_batch, max_context_tokens=serving.max_context_tokens,
                       latency_s=float(resolved.router.latency or 0.0))


def expert_acceptance(spec: SpeculativeSpec, experts: tuple[Expert, ...],
                      draft: ModelSpec) -> tuple[float, ...]:
    """Each expert's acceptance rate: the single rate; else its own key, else ``default``; else the
    catalogue's rate for its (target, draft) pair. (A request's category key, when given, wins in
    the engine: :attr:`SpeculativePlan.by_category`.)"""
    rates = dict(spec.rates) if spec.acceptance is None else {DEFAULT_KEY: spec.acceptance}
    out = []
    for e in experts:
        rate = rates.get(e.name, rates.get(DEFAULT_KEY))
        out.append(rate if rate is not None else default_acceptance(e.model, draft).rate)
    return tuple(out)


def speculative_plan(resolved: ResolvedScenario) -> SpeculativePlan | None:
    """The draft pinned next to the router: its weights and a full batch's KV at the longest
    context; each expert's acceptance rate, and the rates keyed by router category."""
    serving = resolved.serving
    spec = serving.speculative
    if spec is None:
        return None
    draft = resolved.model(spec.draft)
    kv = serving.max_batch * serving.max_context_tokens * draft.kv_bytes_per_token()
    names = {e.name for e in resolved.experts} | {DEFAULT_KEY}
    by_category = tuple((k, v) for k, v in spec.rates if k not in names)
    return SpeculativePlan(draft, spec.lookahead, expert_acceptance(spec, resolved.experts, draft),
                           draft.weight_bytes + kv, by_category)


def _experts(resolved: ResolvedScenario) -> tuple[tuple[ExpertPlan, ...], tuple[ExpertGroupPlan, ...]]:
    """Each expert with the ``experts:`` entry it came from (entries expand in order) and its TP."""
    replicas = resolved.serving.replicas
    spec = resolved.serving.speculative
    draft = resolved.model(spec.draft) if spec is not None else None
    experts: list[ExpertPlan] = []
    groups: list[ExpertGroupPlan] = []
    it = iter(resolved.experts)
    for g, (count, tp) in enumerate(zip(resolved.expert_group_sizes, resolved.group_tensor_parallel,
                                        strict=True)):
        members = [next(it) for _ in range(count)]
        experts += [ExpertPlan(e.index, e.name, e.model, g, tp) for e in members]
        groups.append(ExpertGroupPlan(g, members[0].model, tuple(e.index for e in members), tp,
                                      replicas, draft))
    return tuple(experts), tuple(groups)


@dataclass(frozen=True, slots=True)
class DegreePlan:
    """The serving groups of one TP degree: the experts at that degree and the devices they get."""

    tensor_parallel: int
    experts: tuple[int, ...]  # expert indices, catalogue order
    n_groups: int
    first_group: int
    first_device: int


def groups_per_degree(n_devices: int, degrees: Sequence[int], loads: Sequence[float]) -> list[int]:
    """Serving groups per TP degree: one each, then one group at a time to the degree furthest
    below its share of the devices (its share of expected load), while a group still fits."""
    total = float(sum(loads))
    targets = [n_devices * (load / total if total > 0 else 1 / len(loads)) for load in loads]
    n = [1] * len(degrees)
    free = n_devices - sum(degrees)
    while True:
        fits = [c for c, tp in enumerate(degrees) if tp <= free]
        if not fits:
            return n
        c = max(fits, key=lambda c: (targets[c] - n[c] * degrees[c] - degrees[c] / 2, degrees[c]))
        n[c] += 1
        free -= degrees[c]


def plan_degrees(resolved: ResolvedScenario, loads: tuple[float, ...]) -> tuple[DegreePlan, ...]:
    """The device split between TP degrees, largest degree first so every group stays aligned
    (powers of two dividing the node never straddle a node). One degree: all devices, as ever."""
    tp_of = [tp for count, tp in zip(resolved.expert_group_sizes, resolved.group_tensor_parallel,
                                     strict=True) for _ in range(count)]
    degrees = sorted(set(tp_of), reverse=True)
    n_devices = resolved.platform.n_devices
    members = [tuple(i for i, t in enumerate(tp_of) if t == tp) for tp in degrees]
    if len(degrees) == 1:
        counts = [n_devices // degrees[0]]
    else:
        counts = groups_per_degree(n_devices, degrees, [sum(loads[i] for i in m) for m in members])
    out, group, device = [], 0, 0
    for tp, experts, n_groups in zip(degrees, members, counts, strict=True):
        out.append(DegreePlan(tp, experts, n_groups, group, device))
        group, device = group + n_groups, device + n_groups * tp
    return tuple(out)


def _links(platform: PlatformSpec,
           groups: Sequence[tuple[int, int]]) -> tuple[tuple[LinkPlan, ...], list[int]]:
    """The copy links and each serving group's link: one per group (``scope: device``, the SN40L's
    per-socket DDR) or one per node (a DGX's host link, shared by the node's groups).
    ``groups``: each serving group's (tensor_parallel, first_device)."""
    wl = platform.weight_load
    if wl.scope == "device":  # the same bandwidth cost.memory.switch_s uses
        links = [LinkPlan(f"{wl.source}->hbm group {g}", platform.weight_load_bw_bytes_per_s(tp),
                          wl.latency_s) for g, (tp, _) in enumerate(groups)]
        return tuple(links), list(range(len(groups)))
    bw = platform.weight_load_bw_bytes_per_s(1)
    links = [LinkPlan(f"{wl.source}->hbm node {n}", bw, wl.latency_s) for n in range(platform.n_nodes)]
    return tuple(links), [min(first // platform.n_devices_per_node, platform.n_nodes - 1)
                          for _, first in groups]


def place_experts(resolved: ResolvedScenario, n_groups: int, router_bytes: float,
                  loads: tuple[float, ...], degree: DegreePlan | None = None) -> Placement:
    """Experts (and their copies) on the groups' backing stores by the ``serving.placement`` rule;
    with ``degree``, only that degree's experts on its groups (indices local to both)."""
    serving = resolved.serving
    tp = degree.tensor_parallel if degree is not None else serving.tensor_parallel
    members = degree.experts if degree is not None else tuple(range(len(resolved.experts)))
    spec = PlacementInput(
        expert_bytes=[resolved.experts[i].model.weight_bytes for i in members],
        loads=[loads[i] for i in members],
        n_groups=n_groups, backing_bytes=memory.backing_bytes_per_group(resolved.platform, tp),
        hbm_cache_bytes=memory.expert_cache_bytes(resolved.platform, tp, router_bytes,
                                                  kv_reservation_bytes(resolved)),
        replicas=serving.replicas)
    return PLACEMENTS.get(serving.placement).place(spec)


def place_by_degree(resolved: ResolvedScenario, degrees: tuple[DegreePlan, ...], router_bytes: float,
                    loads: tuple[float, ...]) -> tuple[Placement, np.ndarray]:
    """Each degree's experts placed on its own groups, merged into one placement by global index;
    and each expert's default group (where a request for an unservable expert is judged)."""
    n_experts = len(resolved.experts)
    if len(degrees) == 1:
        n_groups = degrees[0].n_groups
        return (place_experts(resolved, n_groups, router_bytes, loads, degrees[0]),
                np.arange(n_experts, dtype=np.int64) % n_groups)
    stores = []
    groups_of: list[tuple[int, ...]] = [()] * n_experts
    default = np.zeros(n_experts, dtype=np.int64)
    n_servable = 0
    for d in degrees:
        local = place_experts(resolved, d.n_groups, router_bytes, loads, d)
        stores += local.stores
        n_servable += local.n_servable
        for j, i in enumerate(d.experts):
            groups_of[i] = tuple(d.first_group + g for g in local.groups_of[j])
            default[i] = d.first_group + j % d.n_groups
    return Placement(stores, groups_of, n_servable), default


def preload_order(resolved: ResolvedScenario, loads: tuple[float, ...]) -> tuple[int, ...]:
    """The order a warm start fills HBM: catalogue order, or the heaviest expected load first for
    a rule that places by load."""
    order = [e.index for e in resolved.experts]
    if PLACEMENTS.get(resolved.serving.placement).uses_loads:
        order.sort(key=lambda i: (-loads[i], i))
    return tuple(order)


def rejections(experts: tuple[ExpertPlan, ...], groups: list[ServingGroupPlan],
               placement: Placement, max_context_tokens: int,
               default_group: np.ndarray | None = None) -> Rejections:
    """The arrays that reject requests no group can ever serve (see :class:`Rejections`);
    ``default_group``: where an unservable expert's requests are judged (default ``i mod n_groups``)."""
    n_groups = len(groups)
    default = (default_group if default_group is not None else
               np.arange(len(experts), dtype=np.int64) % n_groups)
    return Rejections(
        servable=np.array([bool(g) for g in placement.groups_of]),
        primary=np.array([g[0] if g else int(default[i]) for i, g in enumerate(placement.groups_of)],
                         dtype=np.int64),
        kv_bytes_per_token=np.array([e.kv_bytes_per_token for e in experts]),
        weight_bytes=np.array([e.weight_bytes for e in experts]),
        room_bytes=np.array([g.memory.hbm_bytes - g.memory.router_bytes for g in groups]),
        kv_floor_bytes=np.array([g.memory.kv_reservation_bytes for g in groups]),
        kv_fixed=np.array([not g.memory.kv_growth for g in groups]),
        max_context_tokens=max_context_tokens, n_servable=placement.n_servable)


def plan_run(resolved: ResolvedScenario) -> RunPlan:
    """Decide everything about a run that does not need the simulation; an input error (a router
    and KV floor that do not fit HBM) surfaces here, before any file is written."""
    platform, serving = resolved.platform, resolved.serving
    router = _router(resolved)
    speculative = speculative_plan(resolved)
    pinned_bytes = router.hbm_bytes + (speculative.hbm_bytes if speculative else 0.0)
    loads = expected_loads(resolved)
    degrees = plan_degrees(resolved, loads)
    placement, default_group = place_by_degree(resolved, degrees, pinned_bytes, loads)
    kv_floor = kv_reservation_bytes(resolved)
    shapes = [(d.tensor_parallel, d.first_device + k * d.tensor_parallel)
              for d in degrees for k in range(d.n_groups)]
    links, link_of = _links(platform, shapes)
    groups = []
    for g, (tp, first) in enumerate(shapes):
        plan = memory.plan_memory(platform, tp, router_bytes=pinned_bytes,
                                  kv_reservation_bytes=kv_floor, kv_growth=serving.kv_growth,
                                  n_servable=placement.n_servable)
        groups.append(ServingGroupPlan(g, tp, first, link_of[g], plan))
    experts, expert_groups = _experts(resolved)
    names = {e.name: e.index for e in experts}
    limits = GroupLimits(
        max_batch=serving.max_batch, max_steps_per_iteration=serving.max_steps_per_iteration,
        max_context_tokens=serving.max_context_tokens, prefetch=serving.prefetch,
        scheduler=serving.scheduler,
        scheduler_settings=scheduler_settings(serving.scheduler, serving),
        eviction=serving.eviction, pinned=frozenset(names[n] for n in serving.pinned if n in names),
        preload=serving.preload)
    return RunPlan(
        name=resolved.name, seed=resolved.seed, platform=platform, experts=experts,
        expert_groups=expert_groups, serving_groups=tuple(groups), links=links,
        placement=placement, expected_loads=loads, preload_order=preload_order(resolved, loads),
        limits=limits,
        rejections=rejections(experts, groups, placement, serving.max_context_tokens, default_group),
        router=router, router_config=resolved.router,
        group_shares=resolved.group_shares, speculative=speculative)


def fitting_degrees(resolved: ResolvedScenario, candidates: Sequence[int]) -> list[list[int]]:
    """Per ``experts:`` entry, the candidate TP degrees at which its model fits one serving group's
    HBM next to the router (and draft) and the KV floor, and which divide the node (what a search
    over per-group TP tries). An entry that fits none keeps the largest candidate, so its search
    answers "does not fit in memory at any size" instead of vanishing."""
    platform = resolved.platform
    router = _router(resolved)
    speculative = speculative_plan(resolved)
    pinned = router.hbm_bytes + (speculative.hbm_bytes if speculative else 0.0)
    floor = kv_reservation_bytes(resolved)
    usable = [tp for tp in sorted(set(candidates))
              if tp <= platform.n_devices_per_node and platform.n_devices_per_node % tp == 0]
    models = {e.index: e.model for e in resolved.experts}
    out, first = [], 0
    for count in resolved.expert_group_sizes:
        model = models[first]
        first += count
        fits = [tp for tp in usable
                if memory.expert_cache_bytes(platform, tp, pinned, floor) >= model.weight_bytes]
        out.append(fits or usable[-1:] or [max(candidates)])
    return out
