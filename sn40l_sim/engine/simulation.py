"""Build the SimPy model of one scenario and run it: arrivals -> router -> groups -> recorder.

The only module that wires SimPy processes together. Experts are placed on serving groups
statically by the ``serving.placement`` rule (``uniform``: expert ``i`` on group ``i mod n_groups``
plus ``serving.replicas`` copies; ``load_aware``: copies in proportion to expected load, see
:mod:`sn40l_sim.policy.placement_rules`); each group's HBM holds the router weights,
a KV-cache reservation and a cache of expert weights; every expert lives in the backing store
(SN40L: the sockets' DDR; DGX: host DRAM), and experts beyond its capacity are out of memory:
their requests are rejected with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy
from simpy.core import EmptySchedule

from sn40l_sim.config.resolve import ResolvedScenario
from sn40l_sim.cost import memory
from sn40l_sim.cost.cache import StepCostFactory, StepCostTable
from sn40l_sim.cost.memory import MemoryPlan
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.engine.serving_group import GroupLimits, ServingGroup
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.metrics.run_info import MemoryUse
from sn40l_sim.policy.eviction import EVICTION_POLICIES
from sn40l_sim.policy.expert_load import expected_shares
from sn40l_sim.policy.placement_rules import PLACEMENTS, PlacementInput
from sn40l_sim.policy.prompt_router import Router
from sn40l_sim.policy.scheduler import SCHEDULERS
from sn40l_sim.state.placement import Placement
from sn40l_sim.state.request_blocks import RequestBlock
from sn40l_sim.state.residency import HbmCache
from sn40l_sim.workload.request_chunk import RequestChunk


def kv_reservation_bytes(resolved: ResolvedScenario) -> float:
    """The scenario's KV floor (see :func:`sn40l_sim.cost.memory.kv_reservation_bytes`)."""
    serving = resolved.serving
    return memory.kv_reservation_bytes(
        configured_bytes=serving.kv_reservation, kv_growth=serving.kv_growth,
        max_batch=serving.max_batch, max_context_tokens=serving.max_context_tokens,
        largest_kv_bytes_per_token=max(e.model.kv_bytes_per_token() for e in resolved.experts))


def expected_loads(resolved: ResolvedScenario) -> list[float]:
    """Each expert's expected work: its share of requests x its weight bytes (decode streams the
    weights once a step, so a 70B request costs about ten 7B ones)."""
    shares = (np.array(resolved.planned_shares) if resolved.planned_shares is not None else
              expected_shares(resolved.router, resolved.workload,
                              [e.name for e in resolved.experts], resolved.group_shares))
    return [float(p) * e.model.weight_bytes for p, e in zip(shares, resolved.experts, strict=True)]


def router_hbm_bytes(resolved: ResolvedScenario) -> float:
    """The router's HBM: its weights, and for a router that generates its answer
    (``output_tokens`` > 1) the KV cache of a full router batch at the longest context."""
    model = resolved.router_model
    if model is None:
        return 0.0
    kv = 0.0
    if resolved.router.output_tokens > 1:
        serving = resolved.serving
        kv = serving.max_batch * serving.max_context_tokens * model.kv_bytes_per_token()
    return model.weight_bytes + kv


def place_experts(resolved: ResolvedScenario, n_groups: int) -> Placement:
    """Experts (and their copies) on the groups' backing stores by the ``serving.placement`` rule."""
    serving, tp = resolved.serving, resolved.serving.tensor_parallel
    router_bytes = router_hbm_bytes(resolved)
    spec = PlacementInput(
        expert_bytes=[e.model.weight_bytes for e in resolved.experts],
        loads=expected_loads(resolved) if serving.placement != "uniform" else
        [1.0] * len(resolved.experts),
        n_groups=n_groups,
        backing_bytes=memory.backing_bytes_per_group(resolved.platform, tp),
        hbm_cache_bytes=memory.expert_cache_bytes(resolved.platform, tp, router_bytes,
                                                  kv_reservation_bytes(resolved)),
        replicas=serving.replicas)
    return PLACEMENTS.get(serving.placement)(spec)


def plan_memory(resolved: ResolvedScenario, placement: Placement) -> MemoryPlan:
    """Split one serving group's HBM and count the experts the platform can hold at all."""
    serving = resolved.serving
    return memory.plan_memory(
        resolved.platform, serving.tensor_parallel,
        router_bytes=router_hbm_bytes(resolved),
        kv_reservation_bytes=kv_reservation_bytes(resolved), kv_growth=serving.kv_growth,
        n_servable=placement.n_servable)


class Simulation:
    """One run of one scenario."""

    def __init__(self, resolved: ResolvedScenario, recorder: Recorder,
                 chunks: Iterator[RequestChunk], *, step_costs: StepCostFactory = StepCostTable) -> None:
        """``step_costs`` builds each model's step-cost table once, before the run (a test passes
        :class:`~sn40l_sim.cost.cache.FixedStepCost` to check the engine against queueing theory)."""
        self.resolved = resolved
        self.recorder = recorder
        self.chunks = chunks
        self.env = simpy.Environment()
        platform, serving = resolved.platform, resolved.serving
        tp = serving.tensor_parallel
        self.n_groups = platform.n_devices // tp
        self.placement = place_experts(resolved, self.n_groups)
        self.backing = self.placement.stores
        self.plan = plan_memory(resolved, self.placement)
        self._servable = np.array([bool(g) for g in self.placement.groups_of])
        # A request's group before dispatch: the expert's primary (i mod n_groups when unservable).
        self._primary = np.array([g[0] if g else i % self.n_groups
                                  for i, g in enumerate(self.placement.groups_of)], dtype=np.int64)
        # Each random source gets its own stream spawned from the scenario seed: child 0 feeds
        # the workload generator, child 1 the router.
        router_seed = np.random.SeedSequence(resolved.seed).spawn(2)[1]
        self.router = Router(resolved.router, [e.name for e in resolved.experts], seed=router_seed,
                             group_shares=resolved.group_shares)
        self.router_latency_s = float(resolved.router.latency or 0.0)
        tables: dict[str, StepCostTable] = {}
        expert_tables: dict[int, StepCostTable] = {}
        for expert in resolved.experts:
            name = expert.model.name
            if name not in tables:
                tables[name] = step_costs(platform, expert.model, tp)
            expert_tables[expert.index] = tables[name]
        router_table = None
        if resolved.router_model is not None:
            router_table = tables.get(resolved.router_model.name) or step_costs(
                platform, resolved.router_model, tp)
        self.links = self._make_links()
        kv_per_token = {e.index: e.model.kv_bytes_per_token() for e in resolved.experts}
        expert_bytes = {e.index: e.model.weight_bytes for e in resolved.experts}
        self._kv_per_token = np.array([kv_per_token[e.index] for e in resolved.experts])
        self._sizes = np.array([expert_bytes[e.index] for e in resolved.experts])
        limits = GroupLimits(
            max_batch=serving.max_batch,
            max_steps_per_iteration=serving.max_steps_per_iteration,
            router_batch=serving.max_batch,
            prefetch=serving.prefetch,
            router_output_tokens=resolved.router.output_tokens,
        )
        scheduler_cls = SCHEDULERS.get(serving.scheduler)
        eviction_cls = EVICTION_POLICIES.get(serving.eviction)
        names = {e.name: e.index for e in resolved.experts}
        pinned = frozenset(names[n] for n in serving.pinned if n in names)
        self.groups = []
        for g in range(self.n_groups):
            cache = HbmCache(self.plan.hbm_bytes, eviction_cls(pinned=pinned),
                             router_bytes=self.plan.router_bytes,
                             kv_floor_bytes=self.plan.kv_reservation_bytes,
                             kv_growth=self.plan.kv_growth)
            group = ServingGroup(
                self.env, g, cache=cache, link=self.links[self._link_index(g)],
                scheduler=scheduler_cls(serving.affinity_max_wait), tables=expert_tables,
                expert_bytes=expert_bytes, kv_bytes_per_token=kv_per_token,
                router_table=router_table, limits=limits, recorder=recorder)
            self.groups.append(group)
        if serving.preload:
            self._preload()
        self.n_ingested = 0
        self.env.process(self._arrivals())

    def _make_links(self) -> list[CopyLink]:
        platform, tp = self.resolved.platform, self.resolved.serving.tensor_parallel
        wl = platform.weight_load
        bw = platform.weight_load_bw_bytes_per_s(tp)  # the same bandwidth cost.memory.switch_s uses
        if wl.scope == "device":
            return [CopyLink(f"{wl.source}->hbm group {g}", bw, wl.latency_s)
                    for g in range(self.n_groups)]
        return [CopyLink(f"{wl.source}->hbm node {n}", bw, wl.latency_s) for n in range(platform.n_nodes)]

    def _link_index(self, group: int) -> int:
        platform, tp = self.resolved.platform, self.resolved.serving.tensor_parallel
        if platform.weight_load.scope == "device":
            return group
        return min(group * tp // platform.n_devices_per_node, platform.n_nodes - 1)

    def _preload(self) -> None:
        """Warm start: fill each group's expert cache with its first experts that fit (primaries
        in catalogue order, then replicas; load-aware placement: the heaviest expected load first)."""
        groups_of = self.placement.groups_of
        experts = list(self.resolved.experts)
        if self.resolved.serving.placement != "uniform":
            loads = expected_loads(self.resolved)
            experts.sort(key=lambda e: (-loads[e.index], e.index))
        for k in range(max((len(g) for g in groups_of), default=0)):
            for expert in experts:
                if k < len(groups_of[expert.index]):
                    group = self.groups[groups_of[expert.index][k]]
                    group.cache.preload(expert.index, expert.model.weight_bytes)

    def memory_summary(self) -> MemoryUse:
        """Each memory's capacity and its peak use over the run (largest over groups), in bytes."""
        caches = [g.cache for g in self.groups]
        return MemoryUse(
            hbm_capacity_bytes_per_group=self.plan.hbm_bytes,
            router_bytes=self.plan.router_bytes,
            kv_reservation_bytes=self.plan.kv_reservation_bytes,
            peak_hbm_used_bytes=max(c.peak_used_bytes for c in caches),
            peak_kv_bytes=max(c.peak_kv_bytes for c in caches),
            backing_capacity_bytes_per_group=self.plan.backing_bytes,
            backing_used_bytes_max=max(b.used_bytes for b in self.backing),
            n_expert_replicas=self.placement.n_replicas,
        )

    # --- arrivals -------------------------------------------------------------------------
    def _rejection(self, expert: np.ndarray, block: RequestBlock) -> np.ndarray:
        """Reason codes for requests that can never be served (0 = servable); see ``_reason``."""
        serving, plan = self.resolved.serving, self.plan
        code = np.zeros(block.n, dtype=np.int8)
        code[~self._servable[expert]] = 1
        tokens = block.prompt_tokens + block.output_tokens
        code[(code == 0) & (tokens > serving.max_context_tokens)] = 2
        kv_bytes = tokens * self._kv_per_token[expert]
        room = plan.hbm_bytes - plan.router_bytes
        alone = self._sizes[expert] + np.maximum(kv_bytes, plan.kv_reservation_bytes)
        code[(code == 0) & (alone > room)] = 3
        if not plan.kv_growth:
            code[(code == 0) & (kv_bytes > plan.kv_reservation_bytes)] = 4
        return code

    def _reason(self, code: int) -> str:
        plan, n = self.plan, len(self.resolved.experts)
        if code == 1:
            return (f"out of memory: the backing store holds {plan.n_servable} of {n} experts")
        if code == 2:
            return f"context exceeds max_context_tokens {self.resolved.serving.max_context_tokens}"
        if code == 3:
            return "out of memory: the expert's weights and this request's KV cache exceed HBM"
        return "out of memory: this request's KV cache exceeds serving.kv_reservation"

    def _arrivals(self) -> Generator[simpy.Event, Any, None]:
        env, recorder = self.env, self.recorder
        next_id = 0
        for frame in self.chunks:
            if frame.empty:
                continue
            routed = self.router.route(frame)
            expert = routed.expert.astype(np.int64)
            block = RequestBlock.from_chunk(next_id, frame, expert, routed.category, routed.fallback,
                                            self._primary[expert])
            next_id += block.n
            recorder.open_block(block)
            codes = self._rejection(expert, block).tolist()
            # Python floats and ints: a numpy scalar per request costs more than the event.
            arrival = (block.arrival_s + self.router_latency_s).tolist()
            has_router_model = self.resolved.router_model is not None
            groups_of = self.placement.groups_of
            for i, expert_i in enumerate(expert.tolist()):
                delay = arrival[i] - env.now
                if delay > 0:
                    yield env.timeout(delay)
                self.n_ingested += 1
                if codes[i]:
                    block.routed_s[i] = env.now
                    recorder.reject(block, i, env.now, self._reason(codes[i]))
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
