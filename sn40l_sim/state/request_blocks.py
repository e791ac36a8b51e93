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
        # Inputs as arrays (for vectorised checks and the written rows) ...
        self.arrival_s = frame["arrival_s"].to_numpy(dtype=np.float64)
        self.prompt_tokens = frame["prompt_tokens"].to_numpy(dtype=np.int64)
        self.output_tokens = frame["output_tokens"].to_numpy(dtype=np.int64)
        self.expert = expert.astype(np.int64, copy=False)
        self.category = category
        self.fallback = fallback
        self.group = group.astype(np.int64, copy=False)
        # ... and as lists for the engine's per-request reads.
        self.prompt_list: list[int] = self.prompt_tokens.tolist()
        self.output_list: list[int] = self.output_tokens.tolist()
        self.expert_list: list[int] = self.expert.tolist()
        # Outputs, written by the engine one request at a time.
        nan = math.nan
        self.routed_s: list[float] = [nan] * n
        self.start_s: list[float] = [nan] * n
        self.switch_wait_s: list[float] = [0.0] * n
        self.first_token_s: list[float] = [nan] * n
        self.end_s: list[float] = [nan] * n
        self.outcome: list[int] = [PENDING] * n
        self.reason: list[str | None] = [None] * n
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

    def output_arrays(self) -> dict[str, np.ndarray]:
        """The engine's outputs as numpy columns, built in one pass each."""
        as_float = np.float64
        return {"routed_s": np.array(self.routed_s, dtype=as_float),
                "start_s": np.array(self.start_s, dtype=as_float),
                "switch_wait_s": np.array(self.switch_wait_s, dtype=as_float),
                "first_token_s": np.array(self.first_token_s, dtype=as_float),
                "end_s": np.array(self.end_s, dtype=as_float),
                "outcome": np.array(self.outcome, dtype=np.int8)}
