"""The scenario's ``router:`` section: how a prompt becomes an expert (the CoE's two-step routing).

Step 1 finds a category: from the trace (an ``expert`` or ``category`` column), from a classifier of
the prompt text, or by sampling the configured mix; the router's cost is a model run on the platform
(``model``: a prefill of the prompt and ``output_tokens`` generated tokens, 1 for a classifier
head, more for a router that writes its answer; batched, its KV cache held in HBM), a fixed
``latency``, or nothing. Optional noise (``accuracy`` or a ``confusion``
matrix) makes step 1 wrong as often as a real router is. Step 2 maps the category to an expert.
The behaviour lives in :mod:`sn40l_sim.policy.prompt_router`; this module only validates.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from sn40l_sim.config.limits import MAX_TOKENS
from sn40l_sim.config.quantities import STRICT, Count, Seconds

ROW_SUM_TOLERANCE = 1e-3  # a confusion row's probabilities must sum to 1 within this


def _check_weights(weights: dict[str, float], what: str) -> None:
    if not weights:
        raise ValueError(f"{what} must name at least one category")
    for name, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{what}: weight of {name!r} must be a finite number >= 0, "
                             f"got {weight}")
    if sum(weights.values()) <= 0:
        raise ValueError(f"{what}: the weights must not all be zero")


class RouterConfig(BaseModel):
    """Validated ``router:`` section; every field is optional (the default routes uniformly).

    ``categories``: the mix sampled when the trace gives no category (weights, normalised).
    ``mapping``: ``round_robin`` (category i, in order of appearance, -> expert i mod n),
    ``zipf`` (each request's expert drawn Zipf(``zipf_s``) over the expert list; the category only
    labels the request) or a table ``{category: expert name}``.
    ``classifier``: ``keyword`` classifies the trace's ``prompt_text`` (see
    ``sn40l_sim/catalogue/router_keywords.yaml``).
    ``accuracy`` / ``confusion``: step-1 errors applied to trace or sampled categories.
    ``confidence_threshold``: requests whose classifier confidence is below it go to
    ``fallback_expert`` (a generalist), which also takes categories a mapping table lacks.
    """

    model_config = STRICT
    model: str | None = None
    """A catalogue model that routes: its prefill (and output_tokens) is simulated on the group's devices. Not
    with latency."""
    output_tokens: Count = Field(default=1, ge=1, le=MAX_TOKENS)
    """Tokens the router generates: 1 is a classifier head; more is a router that writes its answer."""
    latency: Seconds | None = None
    """A fixed routing delay that does not occupy the devices. Not with model."""
    categories: dict[str, float] | None = None
    """The category mix sampled when the trace gives no category (weights, normalised)."""
    mapping: Literal["round_robin", "zipf"] | dict[str, str] = "round_robin"
    """Category -> expert: round_robin (category i, in order of appearance, -> expert i mod n), zipf (each
    request's expert drawn Zipf(zipf_s) over the experts), or a table {category: expert name}."""
    zipf_s: float = Field(default=1.0, ge=0.0, le=10.0)
    """Exponent of the zipf mapping (only with mapping: zipf)."""
    classifier: Literal["none", "keyword"] = "none"
    """keyword classifies the trace's prompt_text (sn40l_sim/catalogue/router_keywords.yaml); none uses the
    trace's or sampled categories."""
    accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    """Share of requests step 1 classifies correctly; a wrong answer is a uniformly drawn other known
    category."""
    confusion: dict[str, dict[str, float]] | None = None
    """Step-1 errors as a matrix {true category: {routed category: probability}} (rows sum to 1)."""
    confidence_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    """Requests whose classifier confidence is below it go to fallback_expert."""
    fallback_expert: str | None = None
    """A generalist expert for low-confidence requests and categories the mapping table lacks."""

    @model_validator(mode="after")
    def _consistent(self) -> RouterConfig:
        if self.model is not None and self.latency is not None:
            raise ValueError("give the router either a 'model' (its cost is simulated) or a fixed "
                             "'latency', not both")
        if "output_tokens" in self.model_fields_set and self.model is None:
            raise ValueError("'output_tokens' is the router model's answer length: it needs a 'model'")
        if self.categories is not None:
            _check_weights(self.categories, "categories")
        if "zipf_s" in self.model_fields_set and self.mapping != "zipf":
            raise ValueError("'zipf_s' is used only with 'mapping: zipf'")
        if self.accuracy is not None and self.confusion is not None:
            raise ValueError("give either 'accuracy' or a 'confusion' matrix, not both")
        if self.confidence_threshold is not None and self.fallback_expert is None:
            raise ValueError("'confidence_threshold' needs a 'fallback_expert' to send "
                             "low-confidence requests to")
        self._check_confusion()
        self._check_table()
        return self

    def _check_confusion(self) -> None:
        for true, row in (self.confusion or {}).items():
            _check_weights(row, f"confusion[{true!r}]")
            total = sum(row.values())
            if abs(total - 1.0) > ROW_SUM_TOLERANCE:
                raise ValueError(f"confusion[{true!r}]: probabilities must sum to 1, "
                                 f"got {total:.6g}")

    def _check_table(self) -> None:
        if not isinstance(self.mapping, dict):
            return
        if not self.mapping:
            raise ValueError("a mapping table must map at least one category to an expert")
        if self.fallback_expert is not None:
            return
        needed = list(self.categories or {})
        for row in (self.confusion or {}).values():
            needed.extend(row)
        missing = [c for c in dict.fromkeys(needed) if c not in self.mapping]
        if missing:
            raise ValueError(f"categories {missing} have no expert in 'mapping'; add them or set "
                             "a 'fallback_expert'")

    def mix(self) -> dict[str, float] | None:
        """The configured category mix as probabilities summing to 1 (None when not configured)."""
        if self.categories is None:
            return None
        total = sum(self.categories.values())
        return {name: weight / total for name, weight in self.categories.items()}
