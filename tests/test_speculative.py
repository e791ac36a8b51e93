"""Speculative decoding cost functions, the acceptance catalogue and the config, against hand calculations."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from sn40l_sim.catalogue.acceptance import default_acceptance, size_rule_rate
from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.config.speculative_config import SpeculativeConfig
from sn40l_sim.cost.operators import head_operators, layer_operators, verify_shape
from sn40l_sim.cost.speculative import (
    best_lookahead,
    expected_tokens_mixture,
    expected_tokens_per_step,
    speculative_step_cost,
)
from sn40l_sim.cost.step import decode_cost


def test_expected_tokens_by_hand() -> None:
    # (1 - 0.7^5) / 0.3 = (1 - 0.16807) / 0.3
    assert expected_tokens_per_step(0.7, 4) == pytest.approx(0.83193 / 0.3)
    assert expected_tokens_per_step(0.9, 2) == pytest.approx(1 + 0.9 + 0.81)
    assert expected_tokens_per_step(1.0, 4) == 5.0
    assert expected_tokens_per_step(0.0, 4) == 1.0
    assert expected_tokens_per_step(0.5, 0) == 1.0
    with pytest.raises(ValueError):
        expected_tokens_per_step(1.5, 4)


def test_mixture_is_the_share_weighted_mean_of_expectations() -> None:
    # E(0.5, 2) = 1.75, E(0.9, 2) = 2.71: 0.25 * 1.75 + 0.75 * 2.71 = 2.47
    got = expected_tokens_mixture({"a": 0.5, "b": 0.9}, {"a": 0.25, "b": 0.75}, 2)
    assert got == pytest.approx(2.47)
    assert got > expected_tokens_per_step(0.25 * 0.5 + 0.75 * 0.9, 2)  # E is convex in a


def test_verify_shape_costs_k_plus_one_causal_tokens_with_logits_for_each() -> None:
    model = get_model("llama-3.1-8b")
    shape = verify_shape(n_batch=2, n_context_tokens=1000, n_draft_tokens=4, tp=8)
    attention = next(op for op in layer_operators(model, shape) if op.kind == "attention")
    assert attention.attended_keys == pytest.approx(1000 + 6 / 2)  # causal over the 5 new tokens
    lm_head = head_operators(model, shape)[-1]
    assert lm_head.m == 2 * 5
    assert lm_head.flop == pytest.approx(2.0 * 10 * math.ceil(128256 / 8) * 4096)


def test_step_is_k_draft_decodes_plus_one_verify_pass() -> None:
    platform = load_platform("sn40l_node")
    target, draft = get_model("llama-3.1-70b"), get_model("llama-3.2-1b")
    step = speculative_step_cost(platform, target, draft, n_batch=1, n_context_tokens=4096, tp=8, lookahead=3,
                                 acceptance=0.6)
    drafts = sum(decode_cost(platform, draft, n_batch=1, n_context_tokens=4096 + i, tp=8).total_s
                 for i in range(3))
    assert step.draft_s == pytest.approx(drafts)  # the SN40L stack adds no per-iteration host time
    assert step.tokens_per_step == pytest.approx(1 + 0.6 + 0.36 + 0.216)
    assert step.tokens_per_s == pytest.approx(step.tokens_per_step / (step.draft_s + step.verify_s))
    # Batch-1 decode of a 70B model is memory-bound: verifying 4 tokens costs about one decode step.
    plain = decode_cost(platform, target, n_batch=1, n_context_tokens=4096, tp=8).total_s
    assert plain < step.verify_s < 1.1 * plain


def test_best_lookahead_beats_every_other_k() -> None:
    platform = load_platform("sn40l_node")
    target, draft = get_model("llama-3.1-70b"), get_model("llama-3.2-1b")
    best = best_lookahead(platform, target, draft, n_batch=1, n_context_tokens=2048, tp=8, acceptance=0.7,
                          max_lookahead=8)
    for k in range(1, 9):
        other = speculative_step_cost(platform, target, draft, n_batch=1, n_context_tokens=2048, tp=8,
                                      lookahead=k, acceptance=0.7)
        assert other.tokens_per_s <= best.tokens_per_s + 1e-9


def test_size_rule_interpolates_the_lamda_series() -> None:
    points = [(-3.1367, 0.61), (-1.8357, 0.71), (-1.2336, 0.75)]
    assert size_rule_rate(-1.8357, points) == pytest.approx(0.71)
    assert size_rule_rate((-3.1367 - 1.8357) / 2, points) == pytest.approx(0.66)
    assert size_rule_rate(-5.0, points) == 0.61 and size_rule_rate(0.0, points) == 0.75
    # Llama-3.2-1B for Llama-3.1-70B: log10(1.2358e9 / 70.554e9) = -1.7566, 0.1314 of the 2B -> 8B step
    got = default_acceptance(get_model("llama-3.1-70b"), get_model("llama-3.2-1b"))
    assert got.rate == pytest.approx(0.71 + 0.04 * (1.8357 - 1.7566) / (1.8357 - 1.2336), abs=1e-3)
    assert "LKM23" in got.basis


@pytest.mark.parametrize("acceptance", [1.2, -0.1, {"coding": 2.0}, {}, float("nan")])
def test_config_rejects_rates_that_are_not_probabilities(acceptance: object) -> None:
    with pytest.raises(ValidationError):
        SpeculativeConfig.model_validate({"draft": "llama-3.2-1b", "acceptance": acceptance})


def test_config_accepts_a_rate_or_rates_per_category() -> None:
    one = SpeculativeConfig.model_validate({"draft": "llama-3.2-1b", "lookahead": 4, "acceptance": 0.7})
    assert one.lookahead == 4 and one.acceptance == 0.7
    rates = {"coding": 0.8, "default": 0.6}
    spec = SpeculativeConfig.model_validate({"draft": "llama-3.2-1b", "acceptance": rates})
    assert spec.acceptance == {"coding": 0.8, "default": 0.6}
    with pytest.raises(ValidationError):
        SpeculativeConfig.model_validate({"draft": "llama-3.2-1b", "lookahead": 0})


def test_acceptance_for_rate_inverts_the_best_lookahead() -> None:
    # Two lookaheads with hand-picked costs: k=1 takes 1 s, k=2 takes 1.2 s. At a = 0.5:
    # E(0.5,1) = 1.5 -> 1.5 tok/s; E(0.5,2) = 1.75 -> 1.458 tok/s; the best is k=1 at 1.5 tok/s.
    from sn40l_sim.cost.speculative import acceptance_for_rate, best_of

    steps = [(1, 0.1, 0.9), (2, 0.3, 0.9)]
    assert best_of(steps, 0.5).lookahead == 1
    assert best_of(steps, 0.5).tokens_per_s == pytest.approx(1.5)
    assert acceptance_for_rate(steps, 1.5) == pytest.approx(0.5, abs=1e-9)
    assert acceptance_for_rate(steps, 3.0) is None  # a = 1 gives at most 3 / 1.2 = 2.5 tok/s
