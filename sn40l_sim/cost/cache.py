"""Memoised step-cost look-ups for the engine.

The engine asks for the same (batch, tokens) points over and over; one operator-level evaluation
costs ~60 us, a memoised hit well under 10 us (``benchmarks/step_cost_lookup.py``). Decode contexts
are rounded up to a multiple of ``CONTEXT_BUCKET`` tokens (a decode step's cost moves by under 0.5 %
per 16 tokens of context, e.g. Llama-2-7B batch 8 on one A100), which bounds the table; prefill keys are
exact.
"""

from __future__ import annotations

from functools import lru_cache

from sn40l_sim.cost.step import decode_cost, prefill_cost
from sn40l_sim.hardware.specs import PlatformSpec
from sn40l_sim.workload.models import ModelSpec

CONTEXT_BUCKET = 16


class StepCostTable:
    """Memoised prefill/decode times of one (platform, model, tp)."""

    def __init__(self, platform: PlatformSpec, model: ModelSpec, tp: int) -> None:
        self.platform, self.model, self.tp = platform, model, tp
        self.prefill_s = lru_cache(maxsize=65536)(self._prefill_s)
        self.decode_s = lru_cache(maxsize=65536)(self._decode_s)

    def _prefill_s(self, n_batch: int, n_prompt_tokens: int) -> float:
        return prefill_cost(self.platform, self.model, n_batch=n_batch,
                            n_prompt_tokens=n_prompt_tokens, tp=self.tp).total_s

    def _decode_s(self, n_batch: int, n_context_tokens: int) -> float:
        ctx = max(CONTEXT_BUCKET, (n_context_tokens + CONTEXT_BUCKET - 1) // CONTEXT_BUCKET * CONTEXT_BUCKET)
        return decode_cost(self.platform, self.model, n_batch=n_batch, n_context_tokens=ctx,
                           tp=self.tp).total_s

    def decode_run_s(self, n_batch: int, n_context_tokens: int, n_steps: int) -> float:
        return n_steps * self.decode_s(n_batch, n_context_tokens + n_steps // 2)
