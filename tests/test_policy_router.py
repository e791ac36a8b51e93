"""Router: config validation, step-1 sources and noise, step-2 mappings, fallback, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.router_spec import router_spec
from sn40l_sim.errors import InputError
from sn40l_sim.policy.prompt_router import Router
from sn40l_sim.workload.request_chunk import RequestChunk

EXPERTS = [f"expert-{i}" for i in range(6)]
N = 100_000


def _frame(n: int = N, **columns: object) -> RequestChunk:
    return RequestChunk.of(arrival_s=np.arange(n, dtype=float), **columns)


def _route(config: dict, frame: RequestChunk, seed: int = 1, experts: list[str] = EXPERTS):
    return Router(router_spec(RouterConfig(**config)), experts, seed=seed).route(frame)


# --- config ----------------------------------------------------------------------------------

def test_default_config_and_units() -> None:
    assert RouterConfig().mapping == "round_robin"
    assert RouterConfig(latency="5 ms").latency == pytest.approx(0.005)
    assert RouterConfig(categories={"a": 1, "b": 3}).mix() == {"a": 0.25, "b": 0.75}


@pytest.mark.parametrize("config, message", [
    ({"model": "llama-2-7b", "latency": "1 ms"}, "not both"),
    ({"zipf_s": 1.2}, "zipf_s"),
    ({"accuracy": 0.9, "confusion": {"a": {"a": 1.0}}}, "not both"),
    ({"confusion": {"a": {"a": 0.5, "b": 0.3}}}, "sum to 1"),
    ({"categories": {"a": -1.0}}, ">= 0"),
    ({"categories": {"a": 0.0}}, "all be zero"),
    ({"confidence_threshold": 0.5}, "fallback_expert"),
    ({"categories": {"a": 1, "b": 1}, "mapping": {"a": "expert-0"}}, "no expert"),
    ({"accuracy": 1.5}, "less than or equal"),
    ({"mix": {"a": 1}}, "Extra inputs"),
])
def test_bad_configs_are_refused(config: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RouterConfig(**config)


def test_unknown_expert_names_in_config_fail_at_construction() -> None:
    with pytest.raises(InputError, match="did you mean 'expert-1'") as info:
        Router(router_spec(RouterConfig(mapping={"a": "expert-01"})), EXPERTS, seed=0)
    assert info.value.field == "router.mapping.a"
    with pytest.raises(InputError, match="fallback"):
        Router(router_spec(RouterConfig(fallback_expert="generalist")), EXPERTS, seed=0)


# --- step 1 ----------------------------------------------------------------------------------

def test_sampled_mix_matches_configured_proportions() -> None:
    out = _route({"categories": {"a": 1, "b": 2, "c": 7}}, _frame())
    share = pd.Series(out.category).value_counts(normalize=True)
    assert share["a"] == pytest.approx(0.1, abs=0.006)
    assert share["b"] == pytest.approx(0.2, abs=0.008)
    assert share["c"] == pytest.approx(0.7, abs=0.008)
    # round robin: known categories in configured order -> experts 0, 1, 2
    expected = pd.Series(out.category).map({"a": 0, "b": 1, "c": 2}).to_numpy()
    np.testing.assert_array_equal(out.expert, expected)
    assert out.expert.dtype == np.int64 and not out.fallback.any()


def test_no_category_source_spreads_uniformly_over_experts() -> None:
    out = _route({}, _frame())
    share = np.bincount(out.expert, minlength=6) / N
    np.testing.assert_allclose(share, 1 / 6, atol=0.006)
    np.testing.assert_array_equal(out.category, np.asarray(EXPERTS, dtype=object)[out.expert])


def test_zipf_mapping_draws_experts_with_zipf_popularity() -> None:
    out = _route({"mapping": "zipf", "zipf_s": 1.0}, _frame(), experts=EXPERTS[:3])
    share = np.bincount(out.expert, minlength=3) / N
    np.testing.assert_allclose(share, [6 / 11, 3 / 11, 2 / 11], atol=0.008)


def test_zipf_with_a_mix_keeps_the_category_as_a_label_only() -> None:
    out = _route({"mapping": "zipf", "categories": {"a": 1, "b": 1}}, _frame(), experts=EXPERTS[:2])
    a = out.category == "a"
    # expert popularity is 2/3 : 1/3 for both categories: independent of the label
    assert out.expert[a].mean() == pytest.approx(1 / 3, abs=0.01)
    assert out.expert[~a].mean() == pytest.approx(1 / 3, abs=0.01)


def test_table_mapping_is_exact() -> None:
    table = {"code": "expert-4", "math": "expert-2", "chat": "expert-0"}
    categories = np.array(["code", "math", "chat", "math"] * 50, dtype=object)
    out = _route({"mapping": table}, _frame(200, category=categories))
    np.testing.assert_array_equal(out.expert, [4, 2, 0, 2] * 50)
    np.testing.assert_array_equal(out.category, categories)


def test_labels_are_compared_as_text_in_order_of_appearance() -> None:
    """Expert ids given as numbers name the experts '0', '1', ...; a missing label is an error
    that says how many requests lack one."""
    names = ["0", "1", "2", "3"]
    out = _route({}, _frame(4, expert=np.array([3, 0, 3, 1], dtype=object)), experts=names)
    np.testing.assert_array_equal(out.expert, [3, 0, 3, 1])
    np.testing.assert_array_equal(out.category, ["3", "0", "3", "1"])
    with pytest.raises(InputError, match=r"unknown expert '7', '9'"):  # first seen, first named
        _route({}, _frame(3, expert=[7, 9, 7]), experts=names)
    with pytest.raises(InputError, match="2 request") as info:
        _route({}, _frame(3, category=np.array(["a", None, np.nan], dtype=object)))
    assert info.value.field == "category"


def test_expert_column_wins_and_unknown_experts_fail() -> None:
    frame = _frame(4, expert=["expert-3", "expert-0", "expert-3", "expert-5"],
                   category=list("abcd"))
    out = _route({"mapping": "zipf"}, frame)
    np.testing.assert_array_equal(out.expert, [3, 0, 3, 5])
    np.testing.assert_array_equal(out.category, list("abcd"))
    with pytest.raises(InputError, match=r"unknown expert 'expert-9'.*did you mean"):
        _route({}, _frame(2, expert=["expert-1", "expert-9"]))


def test_accuracy_noise_rate_and_uniform_wrong_answers() -> None:
    truth = np.array(["a", "b", "c", "d"] * (N // 4), dtype=object)
    out = _route({"categories": dict.fromkeys("abcd", 1), "accuracy": 0.8}, _frame(category=truth))
    wrong = out.category != truth
    assert wrong.mean() == pytest.approx(0.2, abs=0.006)
    # a wrong answer for 'a' is one of the three others, equally often
    shares = pd.Series(out.category[wrong & (truth == "a")]).value_counts(normalize=True)
    assert set(shares.index) == {"b", "c", "d"}
    np.testing.assert_allclose(shares.to_numpy(), 1 / 3, atol=0.02)


def test_confusion_matrix_rates() -> None:
    truth = np.array(["a", "b"] * (N // 2), dtype=object)
    config = {"confusion": {"a": {"a": 0.7, "b": 0.2, "c": 0.1}},
              "mapping": {"a": "expert-0", "b": "expert-1", "c": "expert-2"}}
    out = _route(config, _frame(category=truth))
    from_a = pd.Series(out.category[truth == "a"]).value_counts(normalize=True)
    assert from_a["a"] == pytest.approx(0.7, abs=0.01)
    assert from_a["b"] == pytest.approx(0.2, abs=0.01)
    assert from_a["c"] == pytest.approx(0.1, abs=0.006)
    assert (out.category[truth == "b"] == "b").all()  # no row for 'b': always right


def test_low_confidence_goes_to_the_fallback_expert() -> None:
    confidence = np.linspace(0.0, 1.0, 1001)
    frame = _frame(1001, category=["a"] * 1001, confidence=confidence)
    config = {"mapping": {"a": "expert-1"}, "confidence_threshold": 0.3,
              "fallback_expert": "expert-5"}
    out = _route(config, frame)
    low = confidence < 0.3
    np.testing.assert_array_equal(out.fallback, low)
    np.testing.assert_array_equal(out.expert, np.where(low, 5, 1))


def test_unmapped_trace_category_needs_a_fallback() -> None:
    frame = _frame(3, category=["a", "zz", "a"])
    with pytest.raises(InputError, match="zz"):
        _route({"mapping": {"a": "expert-0"}}, frame)
    out = _route({"mapping": {"a": "expert-0"}, "fallback_expert": "expert-5"}, frame)
    np.testing.assert_array_equal(out.expert, [0, 5, 0])
    np.testing.assert_array_equal(out.fallback, [False, True, False])


def test_missing_inputs_for_classifier_or_threshold_are_errors() -> None:
    with pytest.raises(InputError, match="prompt_text"):
        _route({"classifier": "keyword"}, _frame(3))
    with pytest.raises(InputError, match="confidence"):
        _route({"categories": {"a": 1}, "confidence_threshold": 0.5,
                "fallback_expert": "expert-0"}, _frame(3))


def test_classifier_routes_text_and_low_confidence_falls_back() -> None:
    texts = ["Write a Python function that reverses a linked list.", "Hello there."]
    config = {"classifier": "keyword", "confidence_threshold": 0.5, "fallback_expert": "expert-5",
              "mapping": {"coding": "expert-2"}}
    out = _route(config, _frame(2, prompt_text=texts, category=["coding", "writing"]))
    assert list(out.category) == ["coding", "writing"]  # 'Hello there.' has no keyword: default
    np.testing.assert_array_equal(out.expert, [2, 5])
    np.testing.assert_array_equal(out.fallback, [False, True])
    assert out.confidence is not None and out.confidence[1] == 0.0


def test_round_robin_assignment_is_stable_across_chunks() -> None:
    router = Router(router_spec(RouterConfig()), EXPERTS, seed=0)
    first = router.route(_frame(2, category=["y", "x"]))  # new categories sorted: x -> 0, y -> 1
    second = router.route(_frame(3, category=["w", "y", "x"]))  # w is new: -> 2
    np.testing.assert_array_equal(first.expert, [1, 0])
    np.testing.assert_array_equal(second.expert, [2, 1, 0])


@pytest.mark.parametrize("config", [
    {"categories": {"a": 1, "b": 2}, "accuracy": 0.7},
    {"mapping": "zipf"},
    {},
])
def test_same_seed_same_routes_other_seed_other_routes(config: dict) -> None:
    frame = _frame(5000)
    one, two, other = (_route(config, frame, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(one.expert, two.expert)
    np.testing.assert_array_equal(one.category, two.category)
    assert (one.expert != other.expert).any()
