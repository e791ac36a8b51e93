"""Build the SimPy model of one scenario and run it: arrivals -> router -> groups -> recorder.

The only module that wires SimPy processes together. Experts are placed on serving groups
statically (expert ``i`` on group ``i mod n_groups``); each group's HBM holds the router weights,
a KV-cache reservation and a cache of expert weights; every expert lives in the backing store
(SN40L: the sockets' DDR; DGX: host DRAM), and experts beyond its capacity are out of memory:
their requests are rejected with that reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy
from simpy.core import EmptySchedule

from sn40l_sim.config.resolve import ResolvedScenario
from sn40l_sim.cost.cache import StepCostTable
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.engine.requests import RequestBlock
from sn40l_sim.engine.residency import HbmCache
from sn40l_sim.engine.serving_group import GroupLimits, ServingGroup
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.policy.eviction import EVICTION_POLICIES
from sn40l_sim.policy.router import Router
from sn40l_sim.policy.scheduler import SCHEDULERS


@dataclass(frozen=True)
class MemoryPlan:
    """How a group's HBM is split, and which experts the backing store can hold."""

    hbm_bytes: float
    router_bytes: float
    kv_reservation_bytes: float
    expert_cache_bytes: float
    backing_bytes: float
    n_servable: int  # experts that fit in the backing store (the rest are out of memory)


def plan_memory(resolved: ResolvedScenario) -> MemoryPlan:
    """Split one serving group's HBM and count the experts the platform can hold at all."""
    platform, serving = resolved.platform, resolved.serving
    tp = serving.tensor_parallel
    hbm = platform.device.hbm.capacity_bytes * tp
    router = resolved.router_model.weight_bytes if resolved.router_model else 0.0
    largest_kv = max(e.model.kv_bytes_per_token() for e in resolved.experts)
    kv = serving.kv_reservation if serving.kv_reservation is not None else (
        serving.max_batch * serving.max_context_tokens * largest_kv)
    cache = max(0.0, hbm - router - kv)
    n_groups = platform.n_devices // tp
    groups_per_node = max(1, platform.n_devices_per_node // tp)
    backing_per_group = platform.backing_capacity_bytes() / groups_per_node
    if platform.weight_load.source == "ddr" and platform.device.ddr is not None:
        backing_per_group = platform.device.ddr.capacity_bytes * tp
    # Experts fill the backing store in catalogue order, group by group.
    used = np.zeros(n_groups)
    n_servable = 0
    for expert in resolved.experts:
        g = expert.index % n_groups
        if used[g] + expert.model.weight_bytes > backing_per_group:
            break
        used[g] += expert.model.weight_bytes
        n_servable += 1
    return MemoryPlan(hbm, router, kv, cache, backing_per_group, n_servable)


class Simulation:
    """One run of one scenario."""

    def __init__(self, resolved: ResolvedScenario, recorder: Recorder,
                 chunks: Iterator[pd.DataFrame]) -> None:
        self.resolved = resolved
        self.recorder = recorder
        self.chunks = chunks
        self.env = simpy.Environment()
        self.plan = plan_memory(resolved)
        platform, serving = resolved.platform, resolved.serving
        tp = serving.tensor_parallel
        self.n_groups = platform.n_devices // tp
        # Each random source gets its own stream spawned from the scenario seed: child 0 feeds
        # the workload generator, child 1 the router.
        router_seed = np.random.SeedSequence(resolved.seed).spawn(2)[1]
        self.router = Router(resolved.router, [e.name for e in resolved.experts], seed=router_seed)
        self.router_latency_s = float(resolved.router.latency or 0.0)
        tables: dict[str, StepCostTable] = {}
        expert_tables: dict[int, StepCostTable] = {}
        for expert in resolved.experts:
            name = expert.model.name
            if name not in tables:
                tables[name] = StepCostTable(platform, expert.model, tp)
            expert_tables[expert.index] = tables[name]
        router_table = None
        if resolved.router_model is not None:
            router_table = tables.get(resolved.router_model.name) or StepCostTable(
                platform, resolved.router_model, tp)
        self.links = self._make_links()
        kv_per_token = {e.index: e.model.kv_bytes_per_token() for e in resolved.experts}
        expert_bytes = {e.index: e.model.weight_bytes for e in resolved.experts}
        limits = GroupLimits(
            max_batch=serving.max_batch,
            max_steps_per_iteration=serving.max_steps_per_iteration,
            kv_budget_bytes=self.plan.kv_reservation_bytes,
            router_batch=serving.max_batch,
            prefetch=serving.prefetch,
        )
        scheduler_cls = SCHEDULERS.get(serving.scheduler)
        eviction_cls = EVICTION_POLICIES.get(serving.eviction)
        names = {e.name: e.index for e in resolved.experts}
        pinned = frozenset(names[n] for n in serving.pinned if n in names)
        self.groups = []
        for g in range(self.n_groups):
            cache = HbmCache(self.plan.expert_cache_bytes, eviction_cls(pinned=pinned))
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
        if wl.scope == "device":
            return [CopyLink(f"{wl.source}->hbm group {g}", wl.bw_bytes_per_s * tp, wl.latency_s,
                             simpy.Resource(self.env, capacity=1)) for g in range(self.n_groups)]
        return [CopyLink(f"{wl.source}->hbm node {n}", wl.bw_bytes_per_s, wl.latency_s,
                         simpy.Resource(self.env, capacity=1)) for n in range(platform.n_nodes)]

    def _link_index(self, group: int) -> int:
        platform, tp = self.resolved.platform, self.resolved.serving.tensor_parallel
        if platform.weight_load.scope == "device":
            return group
        return min(group * tp // platform.n_devices_per_node, platform.n_nodes - 1)

    def _preload(self) -> None:
        """Warm start: fill each group's expert cache with its first experts that fit."""
        for expert in self.resolved.experts[: self.plan.n_servable]:
            group = self.groups[expert.index % self.n_groups]
            group.cache.preload(expert.index, expert.model.weight_bytes)

    # --- arrivals -------------------------------------------------------------------------
    def _rejection(self, expert: np.ndarray, block: RequestBlock) -> np.ndarray:
        """Reason codes for requests that cannot be served at all (0 = servable)."""
        serving = self.resolved.serving
        code = np.zeros(block.n, dtype=np.int8)
        code[expert >= self.plan.n_servable] = 1
        too_long = (block.prompt_tokens + block.output_tokens) > serving.max_context_tokens
        code[(code == 0) & too_long] = 2
        sizes = np.array([e.model.weight_bytes for e in self.resolved.experts])
        code[(code == 0) & (sizes[expert] > self.plan.expert_cache_bytes)] = 3
        return code

    def _reason(self, code: int) -> str:
        plan, n = self.plan, len(self.resolved.experts)
        if code == 1:
            return (f"out of memory: the backing store holds {plan.n_servable} of {n} experts")
        if code == 2:
            return f"context exceeds max_context_tokens {self.resolved.serving.max_context_tokens}"
        return "expert larger than the HBM expert region"

    def _arrivals(self) -> Iterator[simpy.Event]:
        env, recorder = self.env, self.recorder
        next_id = 0
        for frame in self.chunks:
            if frame.empty:
                continue
            routed = self.router.route(frame)
            expert = routed.expert.astype(np.int64)
            block = RequestBlock(next_id, frame, expert, routed.category, routed.fallback,
                                 expert % self.n_groups)
            next_id += block.n
            recorder.open_block(block)
            codes = self._rejection(expert, block)
            arrival = block.arrival_s + self.router_latency_s
            has_router_model = self.resolved.router_model is not None
            for i in range(block.n):
                delay = arrival[i] - env.now
                if delay > 0:
                    yield env.timeout(delay)
                self.n_ingested += 1
                if codes[i]:
                    block.routed_s[i] = env.now
                    recorder.reject(block, i, env.now, self._reason(int(codes[i])))
                    continue
                group = self.groups[block.group[i]]
                if has_router_model:
                    group.submit_unrouted((block, i))
                else:
                    group.submit_routed((block, i))

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
