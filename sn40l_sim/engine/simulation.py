"""Build the SimPy model of one run plan and run it: arrivals -> router -> groups -> recorder.

The only module that wires SimPy processes together, from a :class:`~sn40l_sim.plan.run_plan.RunPlan`
(placement, memory, links and pricing were decided there): each serving group gets its HBM cache,
its copy link and its step-cost tables, and requests that can never be served (their expert is not
in the backing store, or they do not fit HBM or the context limit) are rejected with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import numpy as np
import simpy
from simpy.core import EmptySchedule

from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost.cache import StepCostFactory, StepCostTable
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.engine.serving_group import GroupSpec, ServingGroup
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.metrics.run_info import MemoryUse
from sn40l_sim.plan.run_plan import RunPlan
from sn40l_sim.policy.eviction import EVICTION_POLICIES
from sn40l_sim.policy.prompt_router import Router
from sn40l_sim.policy.scheduler import make_scheduler
from sn40l_sim.state.request_blocks import RequestBlock
from sn40l_sim.state.residency import HbmCache
from sn40l_sim.workload.request_chunk import RequestChunk


def _group_specs(plan: RunPlan, links: list[CopyLink], step_costs: StepCostFactory) -> list[GroupSpec]:
    """Each serving group's parts: its HBM cache, its link, its scheduler and its step-cost tables
    (one table per model and TP degree, shared by the groups that run it)."""
    tables: dict[tuple[str, int], StepCostTable] = {}

    def table(model: ModelSpec, tp: int) -> StepCostTable:
        key = (model.name, tp)
        if key not in tables:
            tables[key] = step_costs(plan.platform, model, tp)
        return tables[key]

    limits = plan.limits
    eviction_cls = EVICTION_POLICIES.get(limits.eviction)
    expert_bytes = {e.index: e.weight_bytes for e in plan.experts}
    kv_per_token = {e.index: e.kv_bytes_per_token for e in plan.experts}
    expert_tables = {e.index: table(e.model, e.tensor_parallel) for e in plan.experts}
    router_model = plan.router.model
    specs = []
    for group in plan.serving_groups:
        memory = group.memory
        cache = HbmCache(memory.hbm_bytes, eviction_cls(pinned=limits.pinned),
                         router_bytes=memory.router_bytes,
                         kv_floor_bytes=memory.kv_reservation_bytes, kv_growth=memory.kv_growth)
        specs.append(GroupSpec(
            index=group.index, cache=cache, link=links[group.link],
            scheduler=make_scheduler(limits.scheduler, limits.scheduler_settings), tables=expert_tables,
            expert_bytes=expert_bytes, kv_bytes_per_token=kv_per_token,
            router_table=table(router_model, group.tensor_parallel) if router_model else None,
            router=plan.router, limits=limits))
    return specs


class Simulation:
    """One run of one plan."""

    def __init__(self, plan: RunPlan, recorder: Recorder, chunks: Iterator[RequestChunk], *,
                 step_costs: StepCostFactory = StepCostTable) -> None:
        """``step_costs`` builds each model's step-cost table once, before the run (a test passes
        :class:`~sn40l_sim.cost.cache.FixedStepCost` to check the engine against queueing theory)."""
        self.plan = plan
        self.recorder = recorder
        self.chunks = chunks
        self.env = simpy.Environment()
        self.placement = plan.placement
        self.backing = plan.placement.stores
        self.n_groups = len(plan.serving_groups)
        # Each random source gets its own stream spawned from the scenario seed: child 0 feeds
        # the workload generator, child 1 the router.
        router_seed = np.random.SeedSequence(plan.seed).spawn(2)[1]
        self.router = Router(plan.router_config, plan.expert_names, seed=router_seed,
                             group_shares=plan.group_shares)
        self.links = [CopyLink(link.name, link.bw_bytes_per_s, link.latency_s) for link in plan.links]
        self.groups = [ServingGroup(self.env, spec, recorder)
                       for spec in _group_specs(plan, self.links, step_costs)]
        self._rejections = plan.rejections
        if plan.limits.preload:
            self._preload()
        self.n_ingested = 0
        self.env.process(self._arrivals())

    def _preload(self) -> None:
        """Warm start: fill each group's expert cache with its first experts that fit (primaries
        in the plan's preload order, then replicas)."""
        groups_of = self.placement.groups_of
        experts = self.plan.experts
        for k in range(max((len(g) for g in groups_of), default=0)):
            for index in self.plan.preload_order:
                if k < len(groups_of[index]):
                    group = self.groups[groups_of[index][k]]
                    group.cache.preload(index, experts[index].weight_bytes)

    def memory_summary(self) -> MemoryUse:
        """Each memory's capacity and its peak use over the run (largest over groups), in bytes."""
        caches = [g.cache for g in self.groups]
        plan = self.plan.memory
        return MemoryUse(
            hbm_capacity_bytes_per_group=plan.hbm_bytes,
            router_bytes=plan.router_bytes,
            kv_reservation_bytes=plan.kv_reservation_bytes,
            peak_hbm_used_bytes=max(c.peak_used_bytes for c in caches),
            peak_kv_bytes=max(c.peak_kv_bytes for c in caches),
            backing_capacity_bytes_per_group=plan.backing_bytes,
            backing_used_bytes_max=max(b.used_bytes for b in self.backing),
            n_expert_replicas=self.placement.n_replicas,
        )

    # --- arrivals -------------------------------------------------------------------------
    def _arrivals(self) -> Generator[simpy.Event, object, None]:
        env, recorder, rejections = self.env, self.recorder, self._rejections
        next_id = 0
        primary = rejections.primary
        router_latency_s = self.plan.router.latency_s
        has_router_model = self.plan.router.model is not None
        groups_of = self.placement.groups_of
        for frame in self.chunks:
            if frame.empty:
                continue
            routed = self.router.route(frame)
            expert = routed.expert.astype(np.int64)
            block = RequestBlock.from_chunk(next_id, frame, expert, routed.category, routed.fallback,
                                            primary[expert])
            next_id += block.n
            recorder.open_block(block)
            codes = rejections.codes(expert, block).tolist()
            # Python floats and ints: a numpy scalar per request costs more than the event.
            arrival = (block.arrival_s + router_latency_s).tolist()
            for i, expert_i in enumerate(expert.tolist()):
                delay = arrival[i] - env.now
                if delay > 0:
                    yield env.timeout(delay)
                self.n_ingested += 1
                if codes[i]:
                    block.routed_s[i] = env.now
                    recorder.reject(block, i, env.now, rejections.reason(codes[i]))
                    continue
                choices = groups_of[expert_i]
                group = self.groups[choices[0]] if len(choices) == 1 else self._dispatch_group(block, i)
                group.n_outstanding += 1
                if has_router_model:
                    group.submit_unrouted((block, i))
                else:
                    group.submit_routed((block, i))

    def _dispatch_group(self, block: RequestBlock, i: int) -> ServingGroup:
        """The expert's group; with replicas, the one with the fewest outstanding requests (ties:
        the first in placement order, so runs stay deterministic). Requests, not tokens, and not
        residency: a simple join-the-shortest-queue rule."""
        choices = self.placement.groups_of[block.expert_list[i]]
        if len(choices) == 1:
            return self.groups[choices[0]]
        best = min(choices, key=lambda g: self.groups[g].n_outstanding)
        block.group[i] = best
        return self.groups[best]

    def run(self, on_tick: Callable[[], None] | None = None, *,
            stop: StopRequest | None = None) -> bool:
        """Run to the end of the workload (every request completed or rejected).

        With ``stop``, the run ends early, between two events, once ``stop.requested`` is set
        (a Ctrl-C handler sets it), so no record is ever half-written. Returns True when the
        workload ran to its end, False when it was stopped.
        """
        try:
            finished = self._advance(stop)
        except InputError as exc:
            # SimPy re-raises a failed process's exception as a copy built from its args alone,
            # which drops an InputError's file, line and field (a bad trace row found mid-run).
            if isinstance(exc.__cause__, InputError):
                raise exc.__cause__ from None
            raise
        if finished and on_tick is not None:
            on_tick()
        return finished

    def _advance(self, stop: StopRequest | None) -> bool:
        if stop is None:
            self.env.run()
            return True
        step = self.env.step
        try:
            while not stop.requested:
                step()
        except EmptySchedule:
            return True
        return False


class StopRequest:
    """A flag that ends a run at the next event boundary (set from a signal handler)."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False
