"""Memoised step-cost look-ups for the engine (serving-stack costs included, ``cost/serving.py``).

The engine asks for the same (batch, tokens) points over and over; one operator-level evaluation
costs ~60 us, a memoised hit well under 10 us (``benchmarks/step_cost_lookup.py``). Keys are bucketed
*before* the look-up, so that a trace with thousands of distinct lengths still hits the table: decode
contexts are rounded up to a multiple of ``CONTEXT_BUCKET`` tokens (a decode step's cost moves by under
0.5 % per 16 tokens of context, e.g. Llama-2-7B batch 8 on one A100); prompt lengths are exact below
128 tokens and above it rounded up to one of 64 steps per power of two (at most 1.6 % more tokens).
"""

from __future__ import annotations

from collections.abc import Callable

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost.launch import program_load_s
from sn40l_sim.cost.serving import served_prefill_s, served_step_s
from sn40l_sim.cost.speculative import draft_s, verify_s
from sn40l_sim.cost.step import decode_cost, prefill_cost

CONTEXT_BUCKET = 16


def bucket_prompt_tokens(n_tokens: int) -> int:
    """``n_tokens`` rounded up to a multiple of 2^(bits - 7): exact below 128, then 64 steps per octave."""
    n_tokens = int(n_tokens)
    step = 1 << max(0, n_tokens.bit_length() - 7)
    return -(-n_tokens // step) * step


def bucket_context_tokens(n_tokens: int) -> int:
    """``n_tokens`` rounded up to a multiple of ``CONTEXT_BUCKET`` (at least one bucket)."""
    return max(CONTEXT_BUCKET, -(-int(n_tokens) // CONTEXT_BUCKET) * CONTEXT_BUCKET)


class StepCostTable:
    """Memoised prefill/decode times of one (platform, model, tp)."""

    def __init__(self, platform: PlatformSpec, model: ModelSpec, tp: int) -> None:
        self.platform, self.model, self.tp = platform, model, tp
        # Plain dicts, not lru_cache: the keys are bounded by the buckets (batch x bucket, a few
        # hundred thousand at most), and a dict hit skips lru_cache's recency bookkeeping.
        self._prefill_memo: dict[tuple[int, int], float] = {}
        self._decode_memo: dict[tuple[int, int], float] = {}
        # The engine's own keys, before bucketing: a hit skips the bucket arithmetic (the values
        # are those of the bucketed keys, so results are the same bit for bit). Bounded by batch
        # sizes x distinct prompt lengths.
        self._prefill_raw: dict[tuple[int, int], float] = {}
        self._inference_raw: dict[tuple[int, int, int], float] = {}

    def _prefill_cached(self, n_batch: int, n_prompt_tokens: int) -> float:
        key = (n_batch, n_prompt_tokens)
        value = self._prefill_memo.get(key)
        if value is None:
            value = self._prefill_memo[key] = self._prefill_s(n_batch, n_prompt_tokens)
        return value

    def _decode_cached(self, n_batch: int, n_context_tokens: int) -> float:
        key = (n_batch, n_context_tokens)
        value = self._decode_memo.get(key)
        if value is None:
            value = self._decode_memo[key] = self._decode_s(n_batch, n_context_tokens)
        return value

    def prefill_s(self, n_batch: int, n_prompt_tokens: int) -> float:
        """Seconds to prefill ``n_batch`` prompts of ``n_prompt_tokens`` (bucketed as in
        :func:`bucket_prompt_tokens`, inlined: the engine calls this once per prefill)."""
        raw = (n_batch, n_prompt_tokens)
        value = self._prefill_raw.get(raw)
        if value is None:
            n_tokens = int(n_prompt_tokens)
            step = 1 << max(0, n_tokens.bit_length() - 7)
            value = self._prefill_raw[raw] = self._prefill_cached(n_batch, -(-n_tokens // step) * step)
        return value

    def decode_s(self, n_batch: int, n_context_tokens: int) -> float:
        """Seconds of one decode step of ``n_batch`` sequences at ``n_context_tokens`` (bucketed)."""
        return self._decode_cached(n_batch, bucket_context_tokens(n_context_tokens))

    def _prefill_s(self, n_batch: int, n_prompt_tokens: int) -> float:
        device = prefill_cost(self.platform, self.model, n_batch=n_batch,
                              n_prompt_tokens=n_prompt_tokens, tp=self.tp).total_s
        return served_prefill_s(self.platform.stack, self.model, device, n_batch, n_prompt_tokens)

    def _decode_s(self, n_batch: int, n_context_tokens: int) -> float:
        device = decode_cost(self.platform, self.model, n_batch=n_batch, n_context_tokens=n_context_tokens,
                             tp=self.tp).total_s
        return served_step_s(self.platform.stack, self.model, device, n_batch)

    def decode_run_s(self, n_batch: int, n_context_tokens: int, n_steps: int) -> float:
        """``n_steps`` decode steps, each costed at the run's mean context (bucketed as in
        :func:`bucket_context_tokens`, inlined: the engine calls this once per iteration)."""
        context = n_context_tokens + n_steps // 2
        key = (n_batch, max(CONTEXT_BUCKET, -(-context // CONTEXT_BUCKET) * CONTEXT_BUCKET))
        value = self._decode_memo.get(key)
        if value is None:
            value = self._decode_memo[key] = self._decode_s(*key)
        return n_steps * value


    def inference_s(self, n_batch: int, n_prompt_tokens: int, n_output_tokens: int) -> float:
        """A whole batch inference: prefill, then ``n_output_tokens - 1`` decode steps (a router
        that generates its answer; 1 output token is the prefill alone, a classifier head)."""
        raw = (n_batch, n_prompt_tokens, n_output_tokens)
        total = self._inference_raw.get(raw)
        if total is None:
            total = self.prefill_s(n_batch, n_prompt_tokens)
            if n_output_tokens > 1:
                total += self.decode_run_s(n_batch, n_prompt_tokens + 1, n_output_tokens - 1)
            self._inference_raw[raw] = total
        return total

    @property
    def program_load_s(self) -> float:
        """Loading this model's program when the group last ran another model (serving stack)."""
        return program_load_s(self.platform.stack, self.model)

    @property
    def request_end_s(self) -> float:
        """The serving stack's work after a request's last token (:func:`cost.serving.completed_s`)."""
        return self.platform.stack.request_end_s

class SpeculativeStepTable:
    """Memoised speculative steps of one (target, draft) pair: ``lookahead`` draft decode steps
    and the target's ``lookahead + 1``-token verify pass (:mod:`sn40l_sim.cost.speculative`),
    keyed by (batch, context bucket) like :meth:`StepCostTable.decode_run_s`."""

    def __init__(self, target: StepCostTable, draft: StepCostTable, lookahead: int) -> None:
        self.target, self.draft, self.lookahead = target, draft, lookahead
        self._memo: dict[tuple[int, int], tuple[float, float]] = {}

    def step_s(self, n_batch: int, n_context_tokens: int) -> tuple[float, float]:
        """(draft seconds, verify seconds) of one speculative step at the bucketed context."""
        key = (n_batch, bucket_context_tokens(n_context_tokens))
        value = self._memo.get(key)
        if value is None:
            target = self.target
            value = self._memo[key] = (
                draft_s(target.platform, self.draft.model, n_batch=n_batch, n_context_tokens=key[1],
                        tp=self.draft.tp, lookahead=self.lookahead),
                verify_s(target.platform, target.model, n_batch=n_batch, n_context_tokens=key[1],
                         tp=target.tp, lookahead=self.lookahead))
        return value

    def run_s(self, n_batch: int, n_context_tokens: int, n_steps: int) -> tuple[float, float]:
        """(draft, verify) seconds of ``n_steps`` steps, each at the run's mean context."""
        d, v = self.step_s(n_batch, n_context_tokens + n_steps // 2)
        return n_steps * d, n_steps * v


StepCostFactory = Callable[[PlatformSpec, ModelSpec, int], StepCostTable]
"""Builds the step-cost table of one (platform, model, tp): :class:`StepCostTable` in every run;
a test may pass another (e.g. :class:`FixedStepCost`) to take the cost model out of the engine."""


class FixedStepCost(StepCostTable):
    """Every prefill costs ``prefill_s`` and every decode step ``decode_step_s``, whatever the
    batch, tokens, model or platform.

    It takes the cost model out and leaves the engine's queueing alone, which queueing theory then
    predicts exactly: with batch 1 a request's service time is ``prefill_s + (output_tokens - 1) x
    decode_step_s`` (``tests/test_engine_theory.py`` checks M/D/1, M/M/1 and D/D/1 mean waits).
    """

    def __init__(self, platform: PlatformSpec, model: ModelSpec, tp: int, *, prefill_s: float,
                 decode_step_s: float, request_end_s: float = 0.0) -> None:
        if prefill_s <= 0 or decode_step_s <= 0 or request_end_s < 0:
            raise ValueError(f"fixed step costs must be > 0 s (end of request >= 0 s), got {prefill_s}, "
                             f"{decode_step_s} and {request_end_s}")
        self.fixed_prefill_s, self.fixed_decode_step_s = prefill_s, decode_step_s
        self.fixed_request_end_s = request_end_s
        super().__init__(platform, model, tp)

    def _prefill_s(self, n_batch: int, n_prompt_tokens: int) -> float:
        return self.fixed_prefill_s

    def _decode_s(self, n_batch: int, n_context_tokens: int) -> float:
        return self.fixed_decode_step_s

    @property
    def program_load_s(self) -> float:
        """No serving-stack program load either: the service time is the fixed steps alone."""
        return 0.0

    @property
    def request_end_s(self) -> float:
        """The fixed end-of-request time (0 unless given): not the platform's stack."""
        return self.fixed_request_end_s
