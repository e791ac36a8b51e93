"""Which expert a serving group serves next, and which waiting requests may join a running batch.

A scheduler sees the group's queues, its HBM cache and the current expert, and answers two
questions: ``choose`` (the next expert to serve when the group is free) and ``join_before_s``
(requests of the running expert routed before this time may join the batch at its next iteration).
Policies are registered by name; a new one is a class with these two methods. A class's
``settings`` names the serving settings its constructor takes (``ServingSpec`` field names), so
each scheduler is given only its own (see :func:`make_scheduler`).
"""

from __future__ import annotations

import math
from typing import Protocol

from sn40l_sim.policy.registry import Registry
from sn40l_sim.state.expert_queues import ExpertQueues, Handle
from sn40l_sim.state.residency import HbmCache


class Scheduler(Protocol):
    batch_limit: int | None  # cap on batch size below serving.max_batch (None: no extra cap)
    # Whether the router model may run between two iterations of a running expert batch. A
    # serving system keeps the router resident and classifies newcomers as they come, so their
    # TTFT does not wait for a long decode to drain; P1's batch semantics route once per batch.
    router_between_iterations: bool

    def choose(self, queues: ExpertQueues, cache: HbmCache, current: int | None, now_s: float) -> int | None:
        ...

    def join_before_s(self, queues: ExpertQueues, expert: int, now_s: float) -> float:
        ...


SCHEDULERS: Registry[type] = Registry("scheduler")


def scheduler_settings(name: str, values: object) -> tuple[tuple[str, float], ...]:
    """The settings scheduler ``name`` takes, read from ``values`` (a serving spec) by name."""
    keys: tuple[str, ...] = getattr(SCHEDULERS.get(name), "settings", ())
    return tuple((key, getattr(values, key)) for key in keys)


def make_scheduler(name: str, settings: tuple[tuple[str, float], ...] = ()) -> Scheduler:
    """A new scheduler ``name`` with its own settings (see :func:`scheduler_settings`)."""
    made: Scheduler = SCHEDULERS.get(name)(**dict(settings))
    return made


def _routed_s(handle: Handle) -> float:
    block, i = handle
    return block.routed_s[i]


@SCHEDULERS.register("fcfs")
class Fcfs:
    """First come, first served at batch granularity (what P1 ran).

    The next expert is the one of the oldest waiting request; newcomers of the running expert join
    only if they were routed before the oldest request of any other expert.
    """

    batch_limit: int | None = None
    router_between_iterations: bool = True
    settings: tuple[str, ...] = ()

    def choose(self, queues: ExpertQueues, cache: HbmCache, current: int | None, now_s: float) -> int | None:
        head = queues.oldest()
        if head is None:
            return None
        block, i = head
        return block.expert_list[i]

    def join_before_s(self, queues: ExpertQueues, expert: int, now_s: float) -> float:
        other = queues.oldest_other(expert)
        return math.inf if other is None else _routed_s(other)


@SCHEDULERS.register("expert_affinity")
class ExpertAffinity:
    """Serve the resident expert's queue first to cut switches, bounded by a maximum wait.

    Keeps serving the current expert while it has work, then prefers experts already in HBM
    (oldest request first); but once any request has waited longer than ``max_wait_s`` since it
    was routed, its expert goes next (FCFS), so no request starves.
    """

    batch_limit: int | None = None
    router_between_iterations: bool = True
    settings: tuple[str, ...] = ("affinity_max_wait_s",)

    def __init__(self, affinity_max_wait_s: float = 2.0) -> None:
        self.max_wait_s = affinity_max_wait_s

    def _overdue(self, queues: ExpertQueues, now_s: float) -> int | None:
        head = queues.oldest()
        if head is not None and now_s - _routed_s(head) > self.max_wait_s:
            block, i = head
            return block.expert_list[i]
        return None

    def choose(self, queues: ExpertQueues, cache: HbmCache, current: int | None, now_s: float) -> int | None:
        overdue = self._overdue(queues, now_s)
        if overdue is not None:
            return overdue
        if current is not None and queues.has_waiting(current):
            return current
        best = self._oldest_resident(queues, cache)
        if best is not None:
            return best
        head = queues.oldest()
        if head is None:
            return None
        block, i = head
        return block.expert_list[i]

    @staticmethod
    def _oldest_resident(queues: ExpertQueues, cache: HbmCache) -> int | None:
        """The resident expert whose waiting head was routed first (ties: the queue created
        first). Scans the smaller of the resident set and the waiting experts, so the cost is
        bounded by what HBM holds, never by the number of requests."""
        waiting = queues.by_expert
        resident = cache.resident
        pool = resident if len(resident) < len(waiting) else waiting
        best, best_key = None, (math.inf, 0)
        for expert in pool:
            if expert in waiting and cache.is_resident(expert):
                head = queues.peek(expert)
                assert head is not None
                key = (_routed_s(head), queues.created[expert])
                if key < best_key:
                    best, best_key = expert, key
        return best

    def join_before_s(self, queues: ExpertQueues, expert: int, now_s: float) -> float:
        head = queues.oldest_other(expert)
        if head is not None and now_s - _routed_s(head) > self.max_wait_s:
            return -math.inf
        return math.inf


@SCHEDULERS.register("paper_batch")
class PaperBatch(Fcfs):
    """P1's CoE batch semantics: the router runs once on up to ``max_batch`` prompts, then each
    (prompt, expert) pair runs in turn at batch 1, in arrival order."""

    batch_limit: int | None = 1
    router_between_iterations: bool = False

    def join_before_s(self, queues: ExpertQueues, expert: int, now_s: float) -> float:
        return -math.inf
