"""Requests in flight as a struct of columns, one block per workload chunk.

The engine touches millions of requests; a Python object each would cost memory and time. A block
holds one chunk's inputs and outputs column by column; a request is a ``(block, index)`` pair. The
engine reads and writes single requests, for which a Python list is about three times faster than a
numpy array (no scalar boxing), so the columns it uses are lists while the block is open; the
numpy arrays are built in bulk, once, when the block is written (:meth:`RequestBlock.output_arrays`).
When every request of a block has ended, the recorder writes it to disk and the block is dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sn40l_sim.workload.request_chunk import RequestChunk

PENDING, COMPLETED, REJECTED = 0, 1, 2
OUTCOMES = {PENDING: "pending", COMPLETED: "completed", REJECTED: "rejected"}


@dataclass(eq=False, slots=True)
class RequestBlock:
    """One chunk of requests: inputs from the workload and router, outputs from the engine.

    The inputs are given (arrays, for vectorised checks and the written rows; the engine reads the
    ``*_list`` copies); the outputs start empty (NaN times, ``pending``) and the engine fills them
    in place. Compared by identity: two blocks are never the same requests.
    """

    first_id: int  # request_id of the block's first request
    arrival_s: np.ndarray  # float64
    prompt_tokens: np.ndarray  # int64
    output_tokens: np.ndarray  # int64
    expert: np.ndarray  # int64 expert index (step 2 of the router)
    category: np.ndarray  # object: step 1's category
    fallback: np.ndarray  # bool: the router's fallback expert was used
    group: np.ndarray  # int64 serving group (a replica choice may change it)
    n: int = field(init=False)
    prompt_list: list[int] = field(init=False)
    output_list: list[int] = field(init=False)
    expert_list: list[int] = field(init=False)
    routed_s: list[float] = field(init=False)
    start_s: list[float] = field(init=False)  # its batch started (prefill)
    switch_wait_s: list[float] = field(init=False)
    first_token_s: list[float] = field(init=False)
    last_token_s: list[float] = field(init=False)
    end_s: list[float] = field(init=False)  # completed (after the stack's end-of-request work) or rejected
    outcome: list[int] = field(init=False)  # PENDING, COMPLETED or REJECTED
    reason: list[str | None] = field(init=False)
    n_open: int = field(init=False)  # requests not yet completed or rejected

    def __post_init__(self) -> None:
        n = self.n = len(self.arrival_s)
        self.prompt_list = self.prompt_tokens.tolist()
        self.output_list = self.output_tokens.tolist()
        self.expert_list = self.expert.tolist()
        nan = math.nan
        self.routed_s = [nan] * n
        self.start_s = [nan] * n
        self.switch_wait_s = [0.0] * n
        self.first_token_s = [nan] * n
        self.last_token_s = [nan] * n
        self.end_s = [nan] * n
        self.outcome = [PENDING] * n
        self.reason = [None] * n
        self.n_open = n

    @classmethod
    def from_chunk(cls, first_id: int, frame: RequestChunk, expert: np.ndarray, category: np.ndarray,
                   fallback: np.ndarray, group: np.ndarray) -> RequestBlock:
        """A block of one workload chunk (``arrival_s``, ``prompt_tokens``, ``output_tokens``) and
        the router's answers for it."""
        return cls(first_id, np.asarray(frame["arrival_s"], dtype=np.float64),
                   np.asarray(frame["prompt_tokens"], dtype=np.int64),
                   np.asarray(frame["output_tokens"], dtype=np.int64), expert.astype(np.int64, copy=False),
                   category, fallback, group.astype(np.int64, copy=False))

    def complete(self, i: int, last_token_s: float, end_s: float) -> None:
        self.last_token_s[i] = last_token_s
        self.end_s[i] = end_s
        self.outcome[i] = COMPLETED
        self.n_open -= 1

    def reject(self, i: int, now_s: float, reason: str) -> None:
        self.end_s[i] = now_s
        self.outcome[i] = REJECTED
        self.reason[i] = reason
        self.n_open -= 1

    def output_arrays(self) -> dict[str, np.ndarray]:
        """The engine's outputs as numpy columns, built in one pass each."""
        return {"routed_s": np.array(self.routed_s, dtype=np.float64),
                "start_s": np.array(self.start_s, dtype=np.float64),
                "switch_wait_s": np.array(self.switch_wait_s, dtype=np.float64),
                "first_token_s": np.array(self.first_token_s, dtype=np.float64),
                "last_token_s": np.array(self.last_token_s, dtype=np.float64),
                "end_s": np.array(self.end_s, dtype=np.float64),
                "outcome": np.array(self.outcome, dtype=np.int8)}
