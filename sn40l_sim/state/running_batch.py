"""The requests of one running expert batch: typed members, the step clock and who ends when.

Pure state (no SimPy). Every member decodes one token per step of the batch, so instead of
counting down each member's remaining steps at every iteration (O(batch) per iteration, i.e.
O(batch) per request at large batches), the batch keeps one step clock: a member that joins at
step ``s`` with ``r`` steps to go ends at step ``s + r``, kept in a min-heap; its context at step
``t`` is ``context_at_join + (t - s)``, so the batch's total context is one integer updated on
join and leave. The next finish, the mean context and the finishers are O(1) / O(log batch).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from sn40l_sim.state.request_blocks import RequestBlock


@dataclass(slots=True)
class Member:
    """One request in (or being admitted to) a batch; ``kv_bytes`` is the KV it claimed."""

    block: RequestBlock
    i: int
    kv_bytes: float
    finish_step: int = 0  # batch step at which its last token is decoded (set on join)
    context_offset: int = 0  # context tokens minus the batch step, constant while it decodes
    order: int = field(default=0)  # join order: equal finishers leave in the order they joined


class RunningBatch:
    """Members decoding together; they leave when the step clock reaches their finish step."""

    __slots__ = ("_context_sum", "_heap", "_joined", "size", "steps_done")

    def __init__(self) -> None:
        self.steps_done = 0
        self.size = 0  # members now (an attribute: the engine reads it several times an iteration)
        self._heap: list[tuple[int, int, Member]] = []
        self._context_sum = 0  # sum over members of (context tokens - steps_done), exact
        self._joined = 0

    def __len__(self) -> int:
        return self.size

    def join(self, member: Member, remaining_steps: int, context_tokens: int) -> None:
        """``member`` decodes ``remaining_steps`` more steps, starting at ``context_tokens``."""
        member.finish_step = self.steps_done + remaining_steps
        member.context_offset = context_tokens - self.steps_done
        member.order = self._joined
        self._joined += 1
        self._context_sum += member.context_offset
        self.size += 1
        heapq.heappush(self._heap, (member.finish_step, member.order, member))

    def steps_to_next_finish(self) -> int:
        """Steps until the first member finishes (the batch must not be empty)."""
        return self._heap[0][0] - self.steps_done

    def total_context_tokens(self) -> int:
        """Sum of the members' current context lengths (an exact integer)."""
        return self._context_sum + self.size * self.steps_done

    def advance(self, n_steps: int) -> list[Member]:
        """Run the clock ``n_steps`` steps; returns the members that finished, in join order."""
        self.steps_done += n_steps
        done: list[Member] = []
        heap = self._heap
        while heap and heap[0][0] <= self.steps_done:
            member = heapq.heappop(heap)[2]
            self._context_sum -= member.context_offset
            done.append(member)
        self.size = len(heap)
        return done
