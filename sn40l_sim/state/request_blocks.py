"""Requests in flight as a struct of arrays, one block per workload chunk.

The engine touches millions of requests; a Python object each would cost memory and time. A block
holds one chunk's inputs and outputs as numpy arrays; a request is a ``(block, index)`` pair. When
every request of a block has ended, the recorder writes it to disk and the block is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PENDING, COMPLETED, REJECTED = 0, 1, 2
OUTCOMES = {PENDING: "pending", COMPLETED: "completed", REJECTED: "rejected"}


class RequestBlock:
    """One chunk of requests: inputs from the workload and router, outputs from the engine."""

    def __init__(self, first_id: int, frame: pd.DataFrame, expert: np.ndarray,
                 category: np.ndarray, fallback: np.ndarray, group: np.ndarray) -> None:
        n = len(frame)
        self.first_id = first_id
        self.n = n
        self.arrival_s = frame["arrival_s"].to_numpy(dtype=np.float64)
        self.prompt_tokens = frame["prompt_tokens"].to_numpy(dtype=np.int64)
        self.output_tokens = frame["output_tokens"].to_numpy(dtype=np.int64)
        self.expert = expert.astype(np.int64, copy=False)
        self.category = category
        self.fallback = fallback
        self.group = group.astype(np.int64, copy=False)
        nan = np.full(n, np.nan)
        self.routed_s = nan.copy()
        self.start_s = nan.copy()
        self.switch_wait_s = np.zeros(n)
        self.first_token_s = nan.copy()
        self.end_s = nan
        self.outcome = np.zeros(n, dtype=np.int8)
        self.reason: list[str | None] = [None] * n
        self.taken = np.zeros(n, dtype=bool)
        self.n_open = n

    def complete(self, i: int, end_s: float) -> None:
        self.end_s[i] = end_s
        self.outcome[i] = COMPLETED
        self.n_open -= 1

    def reject(self, i: int, now_s: float, reason: str) -> None:
        self.end_s[i] = now_s
        self.outcome[i] = REJECTED
        self.reason[i] = reason
        self.n_open -= 1
