"""A serving group's waiting requests: per-expert FIFO queues plus a heap of the queues' heads.

Every request pushed gets a sequence number (routing order). The oldest waiting request is the
head of the queue whose head has the smallest number, so a min-heap of ``(head number, expert)``
answers FCFS's two questions in O(log n) amortised: the oldest request of any expert, and the
oldest of any expert *but* the running one (the heap's second-best when the best is the running
expert). Heap entries go stale when their head is taken; they are dropped lazily when they reach
the top. Nothing here ever walks the requests waiting behind a head, so the cost per request
stays flat however long the queues grow (an overloaded run).
"""

from __future__ import annotations

import heapq
from collections import deque

from sn40l_sim.state.request_blocks import RequestBlock

Handle = tuple[RequestBlock, int]


class ExpertQueues:
    """Routed requests waiting for their expert, in routing order."""

    def __init__(self) -> None:
        self.by_expert: dict[int, deque[tuple[int, Handle]]] = {}
        # When each non-empty queue was (re)created: the order ``by_expert`` iterates in, so a
        # policy that scans a subset of experts can break ties exactly as a scan of all would.
        self.created: dict[int, int] = {}
        self._heads: list[tuple[int, int]] = []  # (sequence number of a head, expert), lazy
        self._seq = 0
        self.n_waiting = 0

    def push(self, handle: Handle, expert: int) -> None:
        seq = self._seq
        self._seq = seq + 1
        queue = self.by_expert.get(expert)
        if queue is None:
            queue = self.by_expert[expert] = deque()
            self.created[expert] = seq
            heapq.heappush(self._heads, (seq, expert))
        queue.append((seq, handle))
        self.n_waiting += 1

    def _top(self) -> tuple[int, int] | None:
        """The valid heap entry with the smallest head number (stale entries dropped)."""
        heads, by_expert = self._heads, self.by_expert
        while heads:
            seq, expert = heads[0]
            queue = by_expert.get(expert)
            if queue is not None and queue[0][0] == seq:
                return heads[0]
            heapq.heappop(heads)
        return None

    def oldest(self) -> Handle | None:
        """The longest-waiting request of any expert."""
        top = self._top()
        return None if top is None else self.by_expert[top[1]][0][1]

    def oldest_other(self, expert: int) -> Handle | None:
        """The longest-waiting request of an expert other than ``expert``."""
        top = self._top()
        if top is None:
            return None
        if top[1] != expert:
            return self.by_expert[top[1]][0][1]
        held = heapq.heappop(self._heads)
        second = self._top()
        heapq.heappush(self._heads, held)
        return None if second is None else self.by_expert[second[1]][0][1]

    def has_waiting(self, expert: int) -> bool:
        return expert in self.by_expert

    def peek(self, expert: int) -> Handle | None:
        queue = self.by_expert.get(expert)
        return queue[0][1] if queue else None

    def take(self, expert: int) -> Handle:
        queue = self.by_expert[expert]
        _, handle = queue.popleft()
        if queue:
            heapq.heappush(self._heads, (queue[0][0], expert))
            if len(self._heads) > 2 * len(self.by_expert) + 64:
                self._compact()
        else:
            del self.by_expert[expert]
            del self.created[expert]
        self.n_waiting -= 1
        return handle

    def _compact(self) -> None:
        """Drop every stale entry at once (O(experts), after more than that many pushes)."""
        self._heads = [(queue[0][0], expert) for expert, queue in self.by_expert.items()]
        heapq.heapify(self._heads)

