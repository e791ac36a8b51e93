"""Speculative decoding as pure cost functions (Leviathan et al. 2023; Chen et al. 2023).

A step of a sequence: the draft model decodes ``k`` tokens one after another (``k`` decode steps of
the draft, context growing by one each), then the target runs one pass over the last accepted token
and the ``k`` drafted ones (causal among themselves, logits for all ``k + 1`` positions; the same
operator-level cost model as any prefill, :func:`sn40l_sim.cost.operators.verify_shape`). With each
drafted token accepted independently with probability ``a`` (the i.i.d. model), the accepted prefix
plus the target's own next token gives

    E[tokens per step] = (1 - a^(k+1)) / (1 - a)        (k + 1 when a = 1)

tokens, and a user sees ``E / (k * draft step + verify step)`` tokens per second. A batch verifies
all its sequences in one pass; every sequence drafts ``k`` tokens whatever was accepted before.
Serving-stack costs apply per pass (each draft step and the verify pass is an iteration of the
model that runs it, :func:`sn40l_sim.cost.serving.served_step_s`). Draft and target are taken to be
resident and compiled together: alternating them costs no program load (an assumption; a stack
that reloads programs between them would pay it 2 times per step and gain nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost.operators import verify_shape
from sn40l_sim.cost.serving import served_step_s
from sn40l_sim.cost.step import decode_cost, step_cost


def expected_tokens_per_step(acceptance: float, lookahead: int) -> float:
    """Tokens a sequence gains per speculative step: accepted drafts plus the target's own token."""
    if not 0.0 <= acceptance <= 1.0:
        raise ValueError(f"acceptance {acceptance} is not a probability")
    if lookahead < 0:
        raise ValueError(f"lookahead {lookahead} is negative")
    if acceptance == 1.0:
        return float(lookahead + 1)
    return (1.0 - acceptance ** (lookahead + 1)) / (1.0 - acceptance)


def expected_tokens_mixture(rates: Mapping[str, float], shares: Mapping[str, float], lookahead: int) -> float:
    """Expected tokens per step over requests whose acceptance depends on their category (or expert):
    the share-weighted mean of each category's expectation (not the expectation at the mean rate,
    which understates it: E = 1 + a + ... + a^k is convex in a)."""
    total = sum(shares[c] for c in rates)
    if total <= 0:
        raise ValueError("the categories with an acceptance rate have no share of the requests")
    return sum(shares[c] * expected_tokens_per_step(rates[c], lookahead) for c in rates) / total


@dataclass(frozen=True, slots=True)
class SpeculativeStepCost:
    """One speculative step of a batch: ``k`` draft passes, one verify pass, tokens gained per sequence."""

    lookahead: int
    acceptance: float
    draft_s: float  # all k draft passes
    verify_s: float
    tokens_per_step: float

    @property
    def total_s(self) -> float:
        return self.draft_s + self.verify_s

    @property
    def tokens_per_s(self) -> float:
        """Tokens per second each sequence of the batch sees."""
        return self.tokens_per_step / self.total_s


def draft_s(platform: PlatformSpec, draft: ModelSpec, *, n_batch: int, n_context_tokens: int, tp: int,
            lookahead: int) -> float:
    """``lookahead`` decode steps of the draft, the context growing by one token each."""
    stack = platform.stack
    return sum(served_step_s(stack, draft, decode_cost(platform, draft, n_batch=n_batch,
                                                        n_context_tokens=n_context_tokens + i, tp=tp).total_s,
                             n_batch) for i in range(lookahead))


def verify_s(platform: PlatformSpec, target: ModelSpec, *, n_batch: int, n_context_tokens: int, tp: int,
             lookahead: int) -> float:
    """The target's pass over ``lookahead + 1`` new tokens per sequence."""
    device = step_cost(platform, target, verify_shape(n_batch, n_context_tokens, lookahead, tp)).total_s
    return served_step_s(platform.stack, target, device, n_batch)


def speculative_step_cost(platform: PlatformSpec, target: ModelSpec, draft: ModelSpec, *, n_batch: int,
                          n_context_tokens: int, tp: int, lookahead: int, acceptance: float,
                          draft_tp: int | None = None) -> SpeculativeStepCost:
    """A speculative step of ``n_batch`` sequences at ``n_context_tokens``; the draft runs on
    ``draft_tp`` devices (default: the target's ``tp``)."""
    d = draft_s(platform, draft, n_batch=n_batch, n_context_tokens=n_context_tokens,
                tp=draft_tp or tp, lookahead=lookahead)
    v = verify_s(platform, target, n_batch=n_batch, n_context_tokens=n_context_tokens, tp=tp,
                 lookahead=lookahead)
    return SpeculativeStepCost(lookahead, acceptance, d, v, expected_tokens_per_step(acceptance, lookahead))


def lookahead_steps(platform: PlatformSpec, target: ModelSpec, draft: ModelSpec, *, n_batch: int,
                    n_context_tokens: int, tp: int, max_lookahead: int = 16,
                    draft_tp: int | None = None) -> list[tuple[int, float, float]]:
    """(k, draft seconds, verify seconds) for k = 1..``max_lookahead``: the part of a speculative
    step that does not depend on the acceptance rate (so a search over rates costs nothing more)."""
    out = []
    drafted = 0.0
    for k in range(1, max_lookahead + 1):
        drafted += draft_s(platform, draft, n_batch=n_batch, n_context_tokens=n_context_tokens + k - 1,
                           tp=draft_tp or tp, lookahead=1)
        out.append((k, drafted, verify_s(platform, target, n_batch=n_batch, n_context_tokens=n_context_tokens,
                                         tp=tp, lookahead=k)))
    return out


def best_of(steps: list[tuple[int, float, float]], acceptance: float) -> SpeculativeStepCost:
    """The lookahead of ``steps`` with the most tokens per second per sequence at ``acceptance``."""
    costs = [SpeculativeStepCost(k, acceptance, d, v, expected_tokens_per_step(acceptance, k))
             for k, d, v in steps]
    return max(costs, key=lambda s: s.tokens_per_s)


def best_lookahead(platform: PlatformSpec, target: ModelSpec, draft: ModelSpec, *, n_batch: int,
                   n_context_tokens: int, tp: int, acceptance: float, max_lookahead: int = 16,
                   draft_tp: int | None = None) -> SpeculativeStepCost:
    """The lookahead (1..``max_lookahead``) with the most tokens per second per sequence: how a
    deployment would pick ``k`` for a pair, given the acceptance rate and this cost model."""
    steps = lookahead_steps(platform, target, draft, n_batch=n_batch, n_context_tokens=n_context_tokens,
                            tp=tp, max_lookahead=max_lookahead, draft_tp=draft_tp)
    return best_of(steps, acceptance)


def acceptance_for_rate(steps: list[tuple[int, float, float]], tokens_per_s: float) -> float | None:
    """The acceptance rate at which the best lookahead of ``steps`` reaches ``tokens_per_s`` (bisection;
    tokens per second rise with the rate), or None when even a = 1 falls short."""
    if best_of(steps, 1.0).tokens_per_s < tokens_per_s:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if best_of(steps, mid).tokens_per_s < tokens_per_s:
            lo = mid
        else:
            hi = mid
    return hi


def draw_steps(rng: np.random.Generator, n_tokens: int, acceptance: float, lookahead: int) -> int:
    """Speculative steps a sequence needs for ``n_tokens`` more tokens: each step gains 1 + the
    accepted prefix of ``lookahead`` drafts (a truncated geometric draw, i.i.d. acceptance); the
    last step's surplus is dropped (the request needs no more). Drawn at once so that the engine
    keeps one event per batch iteration, not one per token."""
    if n_tokens <= 0:
        return 0
    steps = gained = 0
    while gained < n_tokens:
        # Enough steps for the rest at one token each at most; the accepted prefix of each step
        # is min(k, first rejection - 1): numpy's geometric counts trials to the first success.
        n = n_tokens - gained
        if acceptance >= 1.0:
            per_step = np.full(n, lookahead + 1)
        else:
            per_step = np.minimum(rng.geometric(1.0 - acceptance, size=n) - 1, lookahead) + 1
        reached = np.cumsum(per_step)
        k = int(np.searchsorted(reached, n))  # the step at which the rest is reached
        steps += k + 1
        gained += int(reached[k])
    return steps
