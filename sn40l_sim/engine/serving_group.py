"""A serving group: ``tensor_parallel`` devices that run one expert batch at a time.

One SimPy process per group. Its loop: run the router over routed-but-unclassified requests
(when the router is a model on the platform), else ask the scheduler for an expert, make it
resident (evict + copy over the contended link), and run iterations of its batch. An iteration
is at most two timeouts: the prefill of newly admitted requests, then one decode run until the
first member finishes (at most ``max_steps_per_iteration`` steps); newcomers join at iteration
boundaries. A newcomer that could join the running batch, or that the router must classify, cuts
the decode run short at the end of the step in progress, so it waits at most one decode step (as
under continuous batching) at the price of one timeout per such arrival, never one per token. A
switch is one timeout too (the copy link is a next-free time, see :mod:`engine.links`).

Events are the engine's cost: each SimPy event is about a microsecond of SimPy's own time, and the
work around it is per-iteration Python, so nothing here walks the waiting requests (see
:mod:`state.expert_queues`) or the batch (see :mod:`state.running_batch`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from sn40l_sim.cost.cache import SpeculativeStepTable, StepCostTable
from sn40l_sim.cost.speculative import draw_steps
from sn40l_sim.engine.clock import move_waiters, timeout_at
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.metrics.event_rows import ITERATION, ROUTER, ROUTER_EXPERT
from sn40l_sim.metrics.recorder import Recorder
from sn40l_sim.plan.run_plan import GroupLimits, Prefetch, RouterPlan
from sn40l_sim.policy.scheduler import Scheduler
from sn40l_sim.state.expert_queues import ExpertQueues, Handle
from sn40l_sim.state.request_blocks import RequestBlock
from sn40l_sim.state.residency import HbmCache
from sn40l_sim.state.running_batch import Member, RunningBatch

Process = Generator[simpy.Event, object, None]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """What one serving group is built from: its place in the plan and its parts."""

    index: int
    cache: HbmCache
    link: CopyLink
    scheduler: Scheduler
    tables: dict[int, StepCostTable]  # by expert index
    expert_bytes: dict[int, float]
    kv_bytes_per_token: dict[int, float]
    router_table: StepCostTable | None  # None: no router model runs on the devices
    router: RouterPlan
    limits: GroupLimits
    speculative: Speculation | None = None  # None: plain decoding


@dataclass(slots=True)
class Speculation:
    """A group's speculative decoding: each expert's step table and acceptance rate, the run's
    seeded stream for the accepted-token draws, and the totals the run reports."""

    tables: dict[int, SpeculativeStepTable]  # by expert index
    acceptance: tuple[float, ...]  # by expert index
    lookahead: int
    rng: np.random.Generator
    by_category: dict[str, float]  # a request's category rate, where given, wins over its expert's
    n_tokens: int = 0  # tokens the speculative steps produced (after the prefill's first)
    n_sequence_steps: int = 0  # speculative steps summed over sequences
    draft_s: float = 0.0  # group time in draft passes
    verify_s: float = 0.0  # group time in verify passes


class _DecodeRun:
    """A multi-step decode in progress, which a newcomer may cut at a step boundary."""

    __slots__ = ("cut_for", "end_s", "n_steps", "run_s", "start_s", "steps_done", "timer")

    def __init__(self, start_s: float, run_s: float, n_steps: int, timer: simpy.Timeout,
                 cut_for: int | None) -> None:
        self.start_s, self.run_s, self.n_steps, self.timer = start_s, run_s, n_steps, timer
        self.cut_for = cut_for  # the expert whose newcomers may cut it (None: the batch is full)
        self.steps_done = n_steps  # fewer after a cut
        self.end_s = start_s + run_s  # the time SimPy scheduled the timer at


class ServingGroup:
    """Devices that hold a cache of experts and serve their queues."""

    def __init__(self, env: simpy.Environment, spec: GroupSpec, recorder: Recorder) -> None:
        self.env = env
        self.index = spec.index
        self.cache = spec.cache
        self.link = spec.link
        self.scheduler = spec.scheduler
        self.tables = spec.tables
        self.expert_bytes = spec.expert_bytes
        self.kv_bytes_per_token = spec.kv_bytes_per_token
        self.router_table = spec.router_table
        self.router = spec.router
        self.limits = spec.limits
        self.recorder = recorder
        self.queues = ExpertQueues()
        self.unrouted: deque[Handle] = deque()
        self.current: int | None = None
        self.loads: dict[int, simpy.Timeout] = {}  # expert -> the end of its copy in flight
        self._wake: simpy.Event | None = None  # set while idle: any arrival wakes the group
        self._run: _DecodeRun | None = None  # the decode run a newcomer may cut (one cut per run)
        self._admitted_at = -1.0  # when the running batch last took waiting requests in
        self._protect_current: frozenset[int] = frozenset()  # the expert being served, never evicted
        self._program: int | None = None  # model whose program the devices hold (-1: the router)
        self.n_outstanding = 0  # sent here, not yet past their last token nor rejected (replica choice)
        self._prefetch_on_route = spec.limits.prefetch is Prefetch.ON_ROUTE
        self.speculative = spec.speculative
        self._spec_step = (0.0, 0.0)  # (draft, verify) seconds of the decode run's steps
        self.process = env.process(self.run())

    # --- arrivals -------------------------------------------------------------------------
    def _wake_for(self, can_use_it_now: bool) -> None:
        """Wake an idle group, or cut a running decode short when the newcomer can be served at
        the next step boundary (it joins the batch, or the router classifies it)."""
        if self._wake is not None:
            if not self._wake.triggered:
                self._wake.succeed()
        elif self._run is not None and can_use_it_now:
            self._cut()

    def submit_unrouted(self, handle: Handle) -> None:
        """A request whose router step must still run on this group's devices."""
        self.unrouted.append(handle)
        self._wake_for(self.scheduler.router_between_iterations)

    def submit_routed(self, handle: Handle) -> None:
        block, i = handle
        block.routed_s[i] = self.env.now
        expert = block.expert_list[i]
        self.queues.push(handle, expert)
        if self._prefetch_on_route:
            self._prefetch(expert)
        run = self._run
        self._wake_for(run is not None and expert == run.cut_for and self._head_can_join(expert))

    # --- main loop ------------------------------------------------------------------------
    def run(self) -> Process:
        env = self.env
        while True:
            if self.unrouted:
                batch, start = self._router_batch()
                yield env.timeout(self._router_s(batch))
                self._router_done(batch, start)
                continue
            expert = self.scheduler.choose(self.queues, self.cache, self.current, env.now)
            if expert is None:
                self._wake = env.event()
                yield self._wake
                self._wake = None
                continue
            yield from self._serve(expert)

    # Step 1 of routing: the router model classifies a batch of prompts on these devices. Three
    # plain calls around one timeout that the caller yields itself (a sub-generator per router
    # step would cost a generator and a delegation on every resume).
    def _router_batch(self) -> tuple[list[Handle], float]:
        """Take the next router batch off the unrouted queue; returns it and the start time."""
        unrouted = self.unrouted
        if len(unrouted) <= self.router.batch:  # the usual case: take them all
            batch = list(unrouted)
            unrouted.clear()
        else:
            batch = [unrouted.popleft() for _ in range(self.router.batch)]
        return batch, self.env.now

    def _router_s(self, batch: list[Handle]) -> float:
        """The router step's duration: its program load (after an expert ran) and inference."""
        table = self.router_table
        assert table is not None
        n_tokens = sum(b.prompt_list[i] for b, i in batch) / len(batch)
        return self._load_program(-1, table) + self.router.inference_s(
            table, len(batch), max(1, round(n_tokens)))

    def _router_done(self, batch: list[Handle], start_s: float) -> None:
        self.recorder.batch(self.index, ROUTER_EXPERT, ROUTER, start_s, self.env.now, len(batch), 1)
        for handle in batch:
            self.submit_routed(handle)

    def _load_program(self, model: int, table: StepCostTable) -> float:
        """Seconds to load ``model``'s program when the devices last ran another (serving stack)."""
        if self._program == model:
            return 0.0
        self._program = model
        return table.program_load_s

    # --- switching ------------------------------------------------------------------------
    def _start_copy(self, expert: int) -> simpy.Timeout:
        """Claim the expert's HBM room and its place in the link's queue now, and return the
        event that ends the copy (the caller made room). Claiming synchronously matters: a
        second prefetch decided at the same instant must already see this copy. The copy is one
        timeout whose first callback books it; whoever needs the expert waits on that event."""
        env = self.env
        n_bytes = self.expert_bytes[expert]
        queued = env.now
        self.cache.begin_load(expert, n_bytes)
        start, end = self.link.reserve(queued, n_bytes)
        done = timeout_at(env, end)
        self.loads[expert] = done

        def booked(_: simpy.Event) -> None:
            self.link.bytes_moved += n_bytes
            self.cache.end_load(expert, env.now)
            self.recorder.switch(self.index, expert, n_bytes, self.link.name, queued, start, env.now)
            del self.loads[expert]

        assert done.callbacks is not None
        done.callbacks.append(booked)
        return done

    def _make_resident(self, expert: int) -> Generator[simpy.Event, object, bool]:
        """Wait for an in-flight copy, or evict and copy. False when no room can ever be made
        (the rest of HBM is pinned)."""
        while not self.cache.is_resident(expert):
            if expert in self.loads:
                yield self.loads[expert]
                continue
            victims = self.cache.victims_for(self.expert_bytes[expert])
            if victims is None:
                if not self.loads:
                    return False
                # Room is held by copies in flight (prefetch); wait for one and retry.
                yield simpy.AnyOf(self.env, list(self.loads.values()))
                continue
            for victim in victims:
                self.cache.evict(victim)
            yield self._start_copy(expert)
        return True

    def _prefetch(self, expert: int | None) -> None:
        """Start copying ``expert`` now if it is cold and HBM has room: free room, or idle experts
        that no waiting request needs (never the one computing, never one being loaded)."""
        if expert is None or expert in self.cache.resident:
            return
        protect = frozenset(self.queues.by_expert)
        if self.current is not None:
            protect |= {self.current}
        victims = self.cache.victims_for(self.expert_bytes[expert], protect=protect)
        if victims is None:
            return
        for victim in victims:
            self.cache.evict(victim)
        self._start_copy(expert)

    # --- serving --------------------------------------------------------------------------
    def _admit(self, expert: int, n_members: int, limit: int, join_before_s: float) -> list[Member]:
        """Take waiting requests of ``expert`` into the batch while batch size and HBM allow.

        Each newcomer claims its whole KV cache (prompt + output tokens) up front, so a batch
        never runs out of KV mid-decode; the claim may evict idle experts (never this one).
        """
        new: list[Member] = []
        kv_per_token = self.kv_bytes_per_token[expert]
        queues, cache = self.queues, self.cache
        protect = self._protect_current
        while n_members + len(new) < limit:
            head = queues.peek(expert)
            if head is None:
                break
            block, i = head
            if block.routed_s[i] > join_before_s:
                break
            need = float(block.prompt_list[i] + block.output_list[i]) * kv_per_token
            victims = cache.kv_victims(need, protect=protect)
            if victims is None:
                break  # waits for members to finish, or (empty batch) see _admit_first
            for victim in victims:
                cache.evict(victim)
            cache.claim_kv(need)
            queues.take(expert)
            new.append(Member(block, i, need))
        return new

    def _admit_first(self, expert: int, limit: int) -> Generator[simpy.Event, object, list[Member]]:
        """Admit into an empty batch. If even the head's KV does not fit next to the expert, copies
        in flight (prefetch) may be holding the room: wait for them; if none are, pinned experts
        hold it for good and the head is rejected with that reason."""
        while True:
            new = self._admit(expert, 0, limit, float("inf"))
            if new or not self.queues.has_waiting(expert):
                return new
            if self.loads:
                yield simpy.AnyOf(self.env, list(self.loads.values()))
                continue
            block, i = self.queues.take(expert)
            self._reject(block, i, "no room in HBM for the KV cache: the rest is pinned")

    def _serve(self, expert: int) -> Process:
        """Serve one expert until its batch drains: make it resident, admit its waiting requests,
        then run iterations (prefill of newcomers, one decode run, maybe a router step, admit)."""
        env = self.env
        switch_start = env.now
        resident_before = self._begin(expert)
        if not (yield from self._make_resident(expert)):
            self._reject_waiting(expert, "no room in HBM: the rest is pinned")
            return
        switch_s = env.now - switch_start
        self.cache.acquire(expert, env.now)
        table = self.tables[expert]
        limit = self._batch_limit()
        new = yield from self._admit_first(expert, limit)
        self._opened(new, switch_start, switch_s, resident_before)
        batch = RunningBatch()
        while new or batch.size:
            start = env.now
            n_steps = 0
            n_in_batch = batch.size + len(new)
            # The expert's program is reloaded whenever the router ran on these devices since the
            # last iteration, whether this iteration prefills or only decodes.
            load_s = self._load_program(expert, table)
            if new:
                yield env.timeout(load_s + self._prefill_s(table, new))
                self._prefilled(new, batch, start, table.request_end_s)
            elif load_s:
                yield env.timeout(load_s)
            if batch.size:
                # The decode run: ``n_steps`` steps in ``run_s``, or fewer when a newcomer cuts it
                # (see _cut). Inline, not a sub-generator: it is resumed once per iteration.
                run_s, n_steps, cut_for = self._decode_run(expert, table, batch, limit)
                timer = env.timeout(run_s)
                if n_steps == 1:
                    yield timer
                else:
                    run = self._run = _DecodeRun(env.now, run_s, n_steps, timer, cut_for)
                    yield timer  # or, after a cut, the timeout at the step boundary
                    self._run = None
                    n_steps = run.steps_done
                self._decoded(batch, n_steps, table.request_end_s)
            self.recorder.batch(self.index, expert, ITERATION, start, env.now, n_in_batch, n_steps)
            if self.unrouted and self.scheduler.router_between_iterations:
                # Classify newcomers now rather than after the batch drains (the router's
                # weights stay resident); those routed to this expert may join below.
                routing, routing_start = self._router_batch()
                yield env.timeout(self._router_s(routing))
                self._router_done(routing, routing_start)
            new = self._admit_next(expert, batch, limit)
        self.cache.release(expert)

    # The steps of ``_serve``: plain calls around the timeouts it yields itself.
    def _begin(self, expert: int) -> bool:
        """Make ``expert`` the one being served (never evicted meanwhile); whether it was resident."""
        self.current = expert
        self._protect_current = frozenset((expert,))
        return self.cache.is_resident(expert)

    def _reject_waiting(self, expert: int, reason: str) -> None:
        while self.queues.has_waiting(expert):
            block, i = self.queues.take(expert)
            self._reject(block, i, reason)

    def _batch_limit(self) -> int:
        """``max_batch``, or the scheduler's own cap when it is lower."""
        limit = self.limits.max_batch
        if self.scheduler.batch_limit is not None:
            limit = min(limit, self.scheduler.batch_limit)
        return limit

    def _opened(self, new: list[Member], switch_start: float, switch_s: float,
                resident_before: bool) -> None:
        """After the first admission: each newcomer's part of the switch (it may have been routed
        mid-copy), the HBM hit or miss, and a prefetch of the expert the scheduler would pick next."""
        self._admitted_at = self.env.now
        switch_end = switch_start + switch_s
        for m in new:
            m.block.switch_wait_s[m.i] = max(0.0, min(switch_s, switch_end - m.block.routed_s[m.i]))
        self.recorder.hbm_access(hit=resident_before)
        if self.limits.prefetch is Prefetch.NEXT:
            self._prefetch(self.scheduler.choose(self.queues, self.cache, None, self.env.now))

    @staticmethod
    def _prefill_s(table: StepCostTable, new: list[Member]) -> float:
        """The newcomers' prefill, at their mean prompt length."""
        n_prompt = sum(m.block.prompt_list[m.i] for m in new) / len(new)
        return table.prefill_s(len(new), max(1, round(n_prompt)))

    def _prefilled(self, new: list[Member], batch: RunningBatch, start_s: float,
                   request_end_s: float) -> None:
        """Newcomers have their first token: one-token requests complete (``request_end_s`` later: the
        stack's end-of-request work), the rest join the batch."""
        now = self.env.now
        cache = self.cache
        for m in new:
            block, i = m.block, m.i
            block.start_s[i] = start_s
            block.first_token_s[i] = now
            remaining = block.output_list[i] - 1
            if remaining <= 0:
                cache.release_kv(m.kv_bytes)
                self._complete(block, i, now, request_end_s)
            else:
                batch.join(m, self._steps_for(m, remaining), block.prompt_list[i] + 1)

    def _steps_for(self, m: Member, remaining: int) -> int:
        """Batch steps ``m`` needs for its ``remaining`` tokens: one each, or with speculation the
        seeded draw of speculative steps (a member's context then grows one token per step)."""
        spec = self.speculative
        if spec is None:
            return remaining
        block, i = m.block, m.i
        rate = spec.by_category.get(block.category[i]) if spec.by_category else None
        if rate is None:
            rate = spec.acceptance[block.expert_list[i]]
        n_steps = draw_steps(spec.rng, remaining, rate, spec.lookahead)
        spec.n_tokens += remaining
        spec.n_sequence_steps += n_steps
        return n_steps

    def _decode_run(self, expert: int, table: StepCostTable, batch: RunningBatch,
                    limit: int) -> tuple[float, int, int | None]:
        """The next decode run: ``(run_s, n_steps, cut_for)``. It runs until the first member
        finishes (at most ``max_steps_per_iteration`` steps), one step when a newcomer already
        waits; ``cut_for`` is the expert whose newcomers may cut it (None: the batch is full)."""
        n_members = batch.size
        n_steps = min(batch.steps_to_next_finish(), self.limits.max_steps_per_iteration)
        context = batch.total_context_tokens() / n_members
        if self.speculative is None:
            run_s = table.decode_run_s(n_members, max(1, round(context)), n_steps)
        else:
            run_s = self._speculative_run_s(expert, n_members, max(1, round(context)), n_steps)
        has_room = n_members < limit
        if n_steps > 1 and self._newcomer_waiting(expert, has_room):
            run_s, n_steps = run_s / n_steps, 1  # it came during the prefill or router step
        return run_s, n_steps, expert if has_room else None

    def _speculative_run_s(self, expert: int, n_members: int, context: int, n_steps: int) -> float:
        """``n_steps`` speculative steps (k draft passes and one verify pass each); books draft
        and verify time per step run, so a cut run books only the steps it ran."""
        spec = self.speculative
        assert spec is not None
        d, v = spec.tables[expert].run_s(n_members, context, n_steps)
        self._spec_step = (d / n_steps, v / n_steps)
        return d + v

    def _decoded(self, batch: RunningBatch, n_steps: int, request_end_s: float) -> None:
        """``n_steps`` decode steps ran: members with no tokens left leave the batch now and complete
        ``request_end_s`` later (the stack's end-of-request work, which the batch does not wait for)."""
        now = self.env.now
        spec = self.speculative
        if spec is not None:
            d, v = n_steps * self._spec_step[0], n_steps * self._spec_step[1]
            spec.draft_s += d
            spec.verify_s += v
            self.recorder.speculative_times(d, v)  # the iteration's row follows with no yield between
        for m in batch.advance(n_steps):
            self.cache.release_kv(m.kv_bytes)
            self._complete(m.block, m.i, now, request_end_s)

    def _admit_next(self, expert: int, batch: RunningBatch, limit: int) -> list[Member]:
        """Newcomers that join at this iteration boundary (none when the batch is full)."""
        queues = self.queues
        if batch.size < limit and queues.has_waiting(expert):
            join_before = self.scheduler.join_before_s(queues, expert, self.env.now)
            new = self._admit(expert, batch.size, limit, join_before)
        else:
            new = []
        self._admitted_at = self.env.now
        return new

    def _cut(self) -> None:
        """A newcomer cuts the running decode: the step in progress ends the run (a wake exactly
        on a step boundary ends it there). One timeout at that boundary takes over the run's
        waiters; a newcomer at the very end of the run changes nothing."""
        run, env = self._run, self.env
        assert run is not None
        self._run = None  # one cut per run
        if run.timer.processed or env.now >= run.end_s:
            return  # the run ends now anyway, uncut
        step_s = run.run_s / run.n_steps  # the steps of one run cost the same (context bucketed)
        done = min(run.n_steps, max(1, math.ceil((env.now - run.start_s) / step_s - 1e-9)))
        run.steps_done = done
        rest_s = run.start_s + done * step_s - env.now
        move_waiters(run.timer, env.timeout(max(0.0, rest_s)))

    def _newcomer_waiting(self, expert: int, has_room: bool) -> bool:
        """A request that came after the batch last admitted (so nothing but time kept it out) and
        could be served at the next step boundary: the router must classify it, or it may join."""
        if self.unrouted and self.scheduler.router_between_iterations:
            return True
        head = self.queues.peek(expert) if has_room else None
        return (head is not None and head[0].routed_s[head[1]] > self._admitted_at and
                self._head_can_join(expert))

    def _head_can_join(self, expert: int) -> bool:
        """Whether ``_admit`` would take the head of the expert's queue now: routed before the
        scheduler's join limit, and its KV fits (evicting idle experts if need be). A cut for a
        request that cannot join would be an event for nothing."""
        head = self.queues.peek(expert)
        if head is None:
            return False
        block, i = head
        if block.routed_s[i] > self.scheduler.join_before_s(self.queues, expert, self.env.now):
            return False
        protect = self._protect_current if expert == self.current else frozenset((expert,))
        return self.cache.kv_victims(self._kv(block, i, expert), protect=protect) is not None

    def _complete(self, block: RequestBlock, i: int, now_s: float, request_end_s: float) -> None:
        """The request's last token came now; it completes ``request_end_s`` later, with no event:
        nothing in the engine waits for it (its KV cache and batch slot are already free)."""
        self.n_outstanding -= 1
        self.recorder.complete(block, i, now_s, now_s + request_end_s)

    def _reject(self, block: RequestBlock, i: int, reason: str) -> None:
        self.n_outstanding -= 1
        self.recorder.reject(block, i, self.env.now, reason)

    def _kv(self, block: RequestBlock, i: int, expert: int) -> float:
        return float(block.prompt_list[i] + block.output_list[i]) * self.kv_bytes_per_token[expert]
