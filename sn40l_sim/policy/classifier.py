"""Prompt classifiers for step 1 of CoE routing, when the trace carries prompt text.

The keyword classifier is a deliberately cheap stand-in for a router model: a project-authored table
of regular expressions per category (``sn40l_sim/catalogue/router_keywords.yaml``), scored per
prompt, with a confidence (the top category's share of all keyword evidence) that a threshold can
use to send unsure prompts to a generalist expert. Its accuracy on MT-Bench is measured in the tests
and is far below a trained router's; it exists so a simulation can route real text at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from sn40l_sim.errors import InputError

KEYWORDS_FILE = "router_keywords.yaml"


@dataclass(frozen=True)
class CategoryRules:
    """One category's patterns, joined per tier into one alternation for a single pass."""

    name: str
    tiers: tuple[tuple[float, str], ...]  # (weight, case-insensitive regex)


@dataclass(frozen=True)
class KeywordClassifier:
    """Scores each prompt against every category's keyword patterns; the best category wins."""

    rules: tuple[CategoryRules, ...]
    default: str

    @property
    def categories(self) -> list[str]:
        """Category names in table order (also the tie-break order)."""
        return [rule.name for rule in self.rules]

    def scores(self, texts: Iterable[object]) -> np.ndarray:
        """Keyword evidence per prompt and category, shape (n_prompts, n_categories).

        Matching runs in Arrow's RE2 engine (about 30x faster than Python's ``re`` on long
        prompts); a missing prompt scores zero everywhere.
        """
        import pyarrow.compute as pc  # 30 ms to import: only a run that classifies pays it

        text = pa.array([_text_or_empty(t) for t in texts], type=pa.large_string())
        out = np.zeros((len(text), len(self.rules)))
        for j, rule in enumerate(self.rules):
            for weight, pattern in rule.tiers:
                counts = pc.count_substring_regex(text, pattern).to_numpy(zero_copy_only=False)
                out[:, j] += weight * counts
        return out

    def classify(self, texts: Iterable[object]) -> tuple[np.ndarray, np.ndarray]:
        """(category per prompt as an object array, confidence in [0, 1] per prompt)."""
        scores = self.scores(texts)
        best = scores.argmax(axis=1)  # first maximum: ties go to the table's order
        top = scores[np.arange(len(scores)), best] if len(scores) else np.zeros(0)
        total = scores.sum(axis=1)
        confidence = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
        names = np.asarray(self.categories, dtype=object)
        category = names[best] if len(best) else np.zeros(0, dtype=object)
        category[total <= 0] = self.default
        return category, confidence


def _text_or_empty(text: object) -> str:
    """A prompt as str; a missing one (None, NaN) as the empty string, which scores zero."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return text if type(text) is str else str(text)


def _tier_pattern(patterns: Any, where: str, source: str) -> str:
    if not (isinstance(patterns, list) and patterns and all(isinstance(p, str) for p in patterns)):
        raise InputError("expected a non-empty list of regular expressions", file=source,
                         field=where)
    joined = "(?i)(?:" + "|".join(f"(?:{p})" for p in patterns) + ")"
    import pyarrow.compute as pc  # as in KeywordClassifier.scores

    try:
        pc.count_substring_regex(pa.array([""]), joined)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"not a valid RE2 regular expression: {exc}", file=source,
                         field=where) from None
    return joined


def parse_keywords(raw: Any, source: str = KEYWORDS_FILE) -> KeywordClassifier:
    """Build a classifier from the keyword table's YAML data (validated here, once)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("categories"), dict):
        raise InputError("expected a mapping with 'weights', 'default' and 'categories'",
                         file=source)
    weights = raw.get("weights", {})
    rules = []
    for name, tiers in raw["categories"].items():
        if not isinstance(tiers, dict) or not tiers:
            raise InputError("expected tiers such as 'strong:' and 'weak:'", file=source,
                             field=f"categories.{name}")
        compiled = []
        for tier, patterns in tiers.items():
            if tier not in weights:
                raise InputError(f"tier {tier!r} has no weight in 'weights'", file=source,
                                 field=f"categories.{name}.{tier}")
            pattern = _tier_pattern(patterns, f"categories.{name}.{tier}", source)
            compiled.append((float(weights[tier]), pattern))
        rules.append(CategoryRules(name=str(name), tiers=tuple(compiled)))
    default = raw.get("default", rules[0].name if rules else None)
    if default not in {rule.name for rule in rules}:
        raise InputError(f"default category {default!r} is not in the table", file=source,
                         field="default")
    return KeywordClassifier(rules=tuple(rules), default=str(default))


@cache
def keyword_classifier() -> KeywordClassifier:
    """The packaged keyword classifier (read once per process)."""
    table = resources.files("sn40l_sim.catalogue").joinpath(KEYWORDS_FILE)
    text = table.read_text(encoding="utf-8")
    return parse_keywords(yaml.safe_load(text))
