"""A serving group's waiting requests: per-expert FIFO queues plus one arrival-ordered FIFO.

The global FIFO finds the oldest waiting request in O(1) amortised (entries already taken by a
batch are skipped lazily), which FCFS needs; the per-expert queues form batches.
"""

from __future__ import annotations

from collections import deque

from sn40l_sim.state.request_blocks import RequestBlock

Handle = tuple[RequestBlock, int]


class ExpertQueues:
    """Routed requests waiting for their expert, in routing order."""

    def __init__(self) -> None:
        self.by_expert: dict[int, deque[Handle]] = {}
        self.fifo: deque[Handle] = deque()
        self.n_waiting = 0

    def push(self, handle: Handle, expert: int) -> None:
        queue = self.by_expert.get(expert)
        if queue is None:
            queue = self.by_expert[expert] = deque()
        queue.append(handle)
        self.fifo.append(handle)
        self.n_waiting += 1

    def oldest(self) -> Handle | None:
        """The longest-waiting request of any expert (skips already-taken entries)."""
        fifo = self.fifo
        while fifo:
            block, i = fifo[0]
            if not block.taken[i]:
                return fifo[0]
            fifo.popleft()
        return None

    def oldest_other(self, expert: int) -> Handle | None:
        """The longest-waiting request of an expert other than ``expert``."""
        for block, i in self.fifo:
            if not block.taken[i] and block.expert[i] != expert:
                return block, i
        return None

    def has_waiting(self, expert: int) -> bool:
        queue = self.by_expert.get(expert)
        return bool(queue)

    def peek(self, expert: int) -> Handle | None:
        queue = self.by_expert.get(expert)
        return queue[0] if queue else None

    def take(self, expert: int) -> Handle:
        queue = self.by_expert[expert]
        handle = queue.popleft()
        if not queue:
            del self.by_expert[expert]
        block, i = handle
        block.taken[i] = True
        self.n_waiting -= 1
        return handle

    def experts_waiting(self) -> list[int]:
        return list(self.by_expert)
