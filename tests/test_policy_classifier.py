"""Keyword classifier: hand examples, table validation, and its accuracy on MT-Bench (real data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sn40l_sim.errors import InputError
from sn40l_sim.policy.classifier import keyword_classifier, parse_keywords

MT_BENCH_CATEGORIES = ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem",
                       "humanities"]


def test_table_covers_the_mt_bench_categories() -> None:
    assert keyword_classifier().categories == MT_BENCH_CATEGORIES


@pytest.mark.parametrize("text, category", [
    ("Implement a function in C++ that finds the longest common subsequence.", "coding"),
    ("Solve the equation 3x + 7 = 22 and give the value of x.", "math"),
    ("Pretend you are a pirate captain and greet your crew.", "roleplay"),
    ("Explain how photosynthesis converts light energy in plant cells.", "stem"),
    ("Discuss the economic causes of the French Revolution.", "humanities"),
    ("Extract the dates from the following passage and return them as JSON.", "extraction"),
    ("Draft a persuasive email to your team about a new blog post schedule.", "writing"),
])
def test_hand_examples(text: str, category: str) -> None:
    labels, confidence = keyword_classifier().classify(pd.Series([text]))
    assert labels[0] == category
    assert 0.0 < confidence[0] <= 1.0


def test_no_keyword_gives_the_default_with_zero_confidence() -> None:
    labels, confidence = keyword_classifier().classify(pd.Series(["", None, "ok"], dtype=object))
    assert list(labels) == ["writing"] * 3
    np.testing.assert_array_equal(confidence, 0.0)


def test_bad_tables_are_refused() -> None:
    with pytest.raises(InputError, match="no weight"):
        parse_keywords({"weights": {"strong": 3}, "categories": {"a": {"weak": ["x"]}}})
    with pytest.raises(InputError, match="default category"):
        parse_keywords({"weights": {"w": 1}, "default": "b", "categories": {"a": {"w": ["x"]}}})
    with pytest.raises(InputError, match="list of regular expressions"):
        parse_keywords({"weights": {"w": 1}, "categories": {"a": {"w": "x"}}})


@pytest.mark.data
def test_accuracy_on_mt_bench_first_turns(real_data: Path) -> None:
    """The keyword table was written from the category descriptions, not tuned on these prompts.

    Measured: 48/80 = 0.60 (chance is 1/8). The bound below is three times chance, and confident
    answers must be more often right than unsure ones (else the threshold would be useless).
    """
    path = real_data / "mt-bench" / "question.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    truth = np.array([row["category"] for row in rows], dtype=object)
    labels, confidence = keyword_classifier().classify(pd.Series([r["turns"][0] for r in rows]))
    right = labels == truth
    assert len(rows) == 80
    assert right.mean() >= 3 / 8
    sure = confidence >= 0.6
    assert right[sure].mean() > right[~sure].mean()


def test_patterns_must_be_valid_re2() -> None:
    with pytest.raises(InputError, match="RE2"):
        parse_keywords({"weights": {"w": 1}, "categories": {"a": {"w": ["(?=look)ahead"]}}})
