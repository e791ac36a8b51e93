"""The engine's O(log n) state against naive references: expert queues, the running batch, the
copy link's FIFO clock and the two SimPy helpers (exact absolute timeouts, moved waiters)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.engine.clock import move_waiters, timeout_at
from sn40l_sim.engine.links import CopyLink
from sn40l_sim.state.expert_queues import ExpertQueues
from sn40l_sim.state.request_blocks import RequestBlock
from sn40l_sim.state.running_batch import Member, RunningBatch


def _block(n: int) -> RequestBlock:
    z = np.zeros(n)
    ints = np.zeros(n, dtype=np.int64)
    return RequestBlock(0, z, ints, ints, ints, np.zeros(n, dtype=object), np.zeros(n, dtype=bool), ints)


# (op, expert): push a new request of ``expert``, take the head of ``expert``, or ask oldest_other
ops = st.lists(st.tuples(st.sampled_from(["push", "push", "take", "other"]), st.integers(0, 4)),
               max_size=120)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_queues_match_a_naive_scan(sequence: list[tuple[str, int]]) -> None:
    """oldest / oldest_other / peek equal a scan of every request in push order (the old code)."""
    block = _block(len(sequence))
    queues = ExpertQueues()
    waiting: list[tuple[int, int]] = []  # (request index, expert) in push order, not yet taken
    n = 0
    for op, expert in sequence:
        if op == "push":
            queues.push((block, n), expert)
            waiting.append((n, expert))
            n += 1
        elif op == "take" and any(e == expert for _, e in waiting):
            i = next(i for i, e in waiting if e == expert)
            assert queues.take(expert) == (block, i)
            waiting.remove((i, expert))
        elif op == "other":
            want = next((i for i, e in waiting if e != expert), None)
            got = queues.oldest_other(expert)
            assert (got[1] if got else None) == want
        want_oldest = waiting[0][0] if waiting else None
        got_oldest = queues.oldest()
        assert (got_oldest[1] if got_oldest else None) == want_oldest
        assert queues.n_waiting == len(waiting)
        assert sorted(queues.by_expert) == sorted({e for _, e in waiting})
        # creation order of the non-empty queues is the dict order a full scan would use
        assert list(queues.by_expert) == sorted(queues.by_expert, key=queues.created.__getitem__)


def test_queue_heap_stays_bounded_under_one_hot_expert() -> None:
    """An overloaded single expert: every take pushes a new head; stale entries are compacted."""
    block = _block(5000)
    queues = ExpertQueues()
    for i in range(5000):
        queues.push((block, i), 0)
        if i % 2:
            queues.take(0)
            assert queues.oldest_other(0) is None
    assert len(queues._heads) <= 2 * len(queues.by_expert) + 65
    assert queues.oldest() == (block, 2500)


members = st.lists(st.tuples(st.integers(1, 40), st.integers(1, 5000)), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(members, st.lists(st.integers(0, 3), min_size=1, max_size=40), st.integers(1, 8))
def test_running_batch_matches_a_countdown(joins: list[tuple[int, int]], join_at: list[int],
                                           max_steps: int) -> None:
    """Finish steps, context sums and finishers equal the old per-member countdown lists."""
    block = _block(len(joins))
    batch = RunningBatch()
    naive: list[list[int]] = []  # [index, remaining, context]
    pending = list(enumerate(joins))
    k = 0
    while pending or naive:
        for _ in range(join_at[k % len(join_at)] if naive else 1):
            if pending:
                i, (remaining, context) = pending.pop(0)
                batch.join(Member(block, i, 0.0), remaining, context)
                naive.append([i, remaining, context])
        k += 1
        assert batch.size == len(naive)
        assert batch.total_context_tokens() == sum(m[2] for m in naive)
        assert batch.steps_to_next_finish() == min(m[1] for m in naive)
        n_steps = min(batch.steps_to_next_finish(), max_steps)
        done = [m.i for m in batch.advance(n_steps)]
        for m in naive:
            m[1] -= n_steps
            m[2] += n_steps
        assert done == [m[0] for m in naive if m[1] <= 0]
        naive = [m for m in naive if m[1] > 0]


def test_copy_link_is_a_fifo_by_hand() -> None:
    link = CopyLink("ddr->hbm", bw_bytes_per_s=100.0, latency_s=1.0)
    assert link.reserve(0.0, 200.0) == (0.0, 3.0)  # 1 s latency + 200 B / 100 B/s
    assert link.reserve(1.0, 100.0) == (3.0, 5.0)  # queued behind the first
    assert link.reserve(9.0, 0.0) == (9.0, 10.0)  # free again: starts when asked


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1e7, allow_nan=False), st.floats(0, 1e7, allow_nan=False))
def test_timeout_at_fires_at_exactly_that_time(now_s: float, ahead_s: float) -> None:
    env = simpy.Environment(initial_time=now_s)
    at_s = now_s + ahead_s
    fired: list[float] = []
    timeout_at(env, at_s).callbacks.append(lambda _: fired.append(env.now))
    env.run()
    assert fired == [at_s]


def test_timeout_at_refuses_the_past() -> None:
    env = simpy.Environment(initial_time=5.0)
    with pytest.raises(ValueError, match="past"):
        timeout_at(env, 4.0)


def test_move_waiters_wakes_the_process_at_the_new_time() -> None:
    env = simpy.Environment()
    woke: list[float] = []
    timers: list[simpy.Timeout] = []

    def sleeper() -> simpy.events.ProcessGenerator:
        timers.append(env.timeout(10.0))
        yield timers[0]
        woke.append(env.now)
        yield env.timeout(1.0)
        woke.append(env.now)

    def cutter() -> simpy.events.ProcessGenerator:
        yield env.timeout(2.5)
        move_waiters(timers[0], env.timeout(0.5))

    env.process(sleeper())
    env.process(cutter())
    env.run()
    assert woke == [3.0, 4.0]  # not 10: the old timer fired at 10 with nobody waiting
    assert math.isclose(env.now, 10.0)
