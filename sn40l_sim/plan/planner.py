"""Plan a run: a resolved scenario in, a frozen :class:`RunPlan` out (pure: no SimPy, no I/O).

Experts are placed on serving groups by the ``serving.placement`` rule (``uniform``: expert ``i``
on group ``i mod n_groups`` plus ``serving.replicas`` copies; ``load_aware``: copies in proportion
to expected load, see :mod:`sn40l_sim.policy.placement_rules`); each group's HBM holds the router,
a KV-cache reservation and a cache of expert weights; every expert lives in the backing store
(SN40L: the sockets' DDR; DGX: host DRAM), and experts beyond its capacity are out of memory.
"""

from __future__ import annotations

import numpy as np

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.config.resolve import ResolvedScenario
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


def _experts(resolved: ResolvedScenario) -> tuple[tuple[ExpertPlan, ...], tuple[ExpertGroupPlan, ...]]:
    """Each expert with the ``experts:`` entry it came from (entries expand in order)."""
    tp, replicas = resolved.serving.tensor_parallel, resolved.serving.replicas
    experts: list[ExpertPlan] = []
    groups: list[ExpertGroupPlan] = []
    it = iter(resolved.experts)
    for g, entry in enumerate(resolved.scenario.experts):
        members = [next(it) for _ in range(entry.count)]
        experts += [ExpertPlan(e.index, e.name, e.model, g, tp) for e in members]
        groups.append(ExpertGroupPlan(g, members[0].model, tuple(e.index for e in members), tp,
                                      replicas))
    return tuple(experts), tuple(groups)


def _links(platform: PlatformSpec, tp: int, n_groups: int) -> tuple[tuple[LinkPlan, ...], list[int]]:
    """The copy links and each serving group's link: one per group (``scope: device``, the SN40L's
    per-socket DDR) or one per node (a DGX's host link, shared by the node's groups)."""
    wl = platform.weight_load
    bw = platform.weight_load_bw_bytes_per_s(tp)  # the same bandwidth cost.memory.switch_s uses
    if wl.scope == "device":
        links = [LinkPlan(f"{wl.source}->hbm group {g}", bw, wl.latency_s) for g in range(n_groups)]
        return tuple(links), list(range(n_groups))
    links = [LinkPlan(f"{wl.source}->hbm node {n}", bw, wl.latency_s) for n in range(platform.n_nodes)]
    return tuple(links), [min(g * tp // platform.n_devices_per_node, platform.n_nodes - 1)
                          for g in range(n_groups)]


def place_experts(resolved: ResolvedScenario, n_groups: int, router_bytes: float,
                  loads: tuple[float, ...]) -> Placement:
    """Experts (and their copies) on the groups' backing stores by the ``serving.placement`` rule."""
    serving, tp = resolved.serving, resolved.serving.tensor_parallel
    spec = PlacementInput(
        expert_bytes=[e.model.weight_bytes for e in resolved.experts], loads=loads,
        n_groups=n_groups, backing_bytes=memory.backing_bytes_per_group(resolved.platform, tp),
        hbm_cache_bytes=memory.expert_cache_bytes(resolved.platform, tp, router_bytes,
                                                  kv_reservation_bytes(resolved)),
        replicas=serving.replicas)
    return PLACEMENTS.get(serving.placement).place(spec)


def preload_order(resolved: ResolvedScenario, loads: tuple[float, ...]) -> tuple[int, ...]:
    """The order a warm start fills HBM: catalogue order, or the heaviest expected load first for
    a rule that places by load."""
    order = [e.index for e in resolved.experts]
    if PLACEMENTS.get(resolved.serving.placement).uses_loads:
        order.sort(key=lambda i: (-loads[i], i))
    return tuple(order)


def rejections(experts: tuple[ExpertPlan, ...], groups: list[ServingGroupPlan],
               placement: Placement, max_context_tokens: int) -> Rejections:
    """The arrays that reject requests no group can ever serve (see :class:`Rejections`)."""
    n_groups = len(groups)
    return Rejections(
        servable=np.array([bool(g) for g in placement.groups_of]),
        primary=np.array([g[0] if g else i % n_groups for i, g in enumerate(placement.groups_of)],
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
    tp = serving.tensor_parallel
    n_groups = platform.n_devices // tp
    router = _router(resolved)
    loads = expected_loads(resolved)
    placement = place_experts(resolved, n_groups, router.hbm_bytes, loads)
    kv_floor = kv_reservation_bytes(resolved)
    links, link_of = _links(platform, tp, n_groups)
    groups = []
    for g in range(n_groups):
        plan = memory.plan_memory(platform, tp, router_bytes=router.hbm_bytes,
                                  kv_reservation_bytes=kv_floor, kv_growth=serving.kv_growth,
                                  n_servable=placement.n_servable)
        groups.append(ServingGroupPlan(g, tp, g * tp, link_of[g], plan))
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
        limits=limits, rejections=rejections(experts, groups, placement, serving.max_context_tokens),
        router=router, router_config=resolved.router,
        group_shares=resolved.group_shares)
