"""Requests in flight as a struct of arrays, one block per workload chunk.

The engine touches millions of requests; a Python object each would cost memory and time. A block
holds one chunk's inputs and outputs as numpy arrays; a request is a ``(block, index)`` pair. When
every request of a block has ended, the recorder writes it to disk and the block is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

PENDING, COMPLETED, REJECTED = 0, 1, 2
OUTCOMES = {PENDING: "pending", COMPLETED: "completed", REJECTED: "rejected"}


@dataclass(eq=False, slots=True)
class RequestBlock:
    """One chunk of requests: inputs from the workload and router, outputs from the engine.

    The inputs are given; the outputs start empty (NaN times, ``pending``) and the engine fills
    them in place. Compared by identity: two blocks are never the same requests.
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
    routed_s: np.ndarray = field(init=False)
    start_s: np.ndarray = field(init=False)  # its batch started (prefill)
    switch_wait_s: np.ndarray = field(init=False)
    first_token_s: np.ndarray = field(init=False)
    end_s: np.ndarray = field(init=False)
    outcome: np.ndarray = field(init=False)  # int8: PENDING, COMPLETED or REJECTED
    reason: list[str | None] = field(init=False)
    taken: np.ndarray = field(init=False)  # bool: out of its expert queue (into a batch)
    n_open: int = field(init=False)  # requests not yet completed or rejected

    def __post_init__(self) -> None:
        n = self.n = len(self.arrival_s)
        nan = np.full(n, np.nan)
        self.routed_s = nan.copy()
        self.start_s = nan.copy()
        self.switch_wait_s = np.zeros(n)
        self.first_token_s = nan.copy()
        self.end_s = nan
        self.outcome = np.zeros(n, dtype=np.int8)
        self.reason = [None] * n
        self.taken = np.zeros(n, dtype=bool)
        self.n_open = n

    @classmethod
    def from_chunk(cls, first_id: int, frame: pd.DataFrame, expert: np.ndarray, category: np.ndarray,
                   fallback: np.ndarray, group: np.ndarray) -> RequestBlock:
        """A block of one workload chunk (``arrival_s``, ``prompt_tokens``, ``output_tokens``) and
        the router's answers for it."""
        return cls(first_id, frame["arrival_s"].to_numpy(dtype=np.float64),
                   frame["prompt_tokens"].to_numpy(dtype=np.int64),
                   frame["output_tokens"].to_numpy(dtype=np.int64), expert.astype(np.int64, copy=False),
                   category, fallback, group.astype(np.int64, copy=False))

    def complete(self, i: int, end_s: float) -> None:
        self.end_s[i] = end_s
        self.outcome[i] = COMPLETED
        self.n_open -= 1

    def reject(self, i: int, now_s: float, reason: str) -> None:
        self.end_s[i] = now_s
        self.outcome[i] = REJECTED
        self.reason[i] = reason
        self.n_open -= 1
