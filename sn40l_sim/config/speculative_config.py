"""``serving.speculative``: speculative decoding of every expert with a draft model.

``{draft: llama-3.2-1b, lookahead: 4, acceptance: 0.7}``; ``acceptance`` is a per-token rate, a rate
per router category or expert name (``{coding: 0.8, writing: 0.6, default: 0.7}``), or left out for
the catalogue's rate for each (target, draft) pair (``sn40l_sim/catalogue/acceptance.yaml``, from
public literature). The cost functions are in :mod:`sn40l_sim.cost.speculative`.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field, field_validator

from sn40l_sim.config.quantities import STRICT, Count

MAX_LOOKAHEAD = 64
DEFAULT_KEY = "default"


class SpeculativeConfig(BaseModel):
    """A draft model proposes ``lookahead`` tokens; the target verifies them in one pass."""

    model_config = STRICT
    draft: str
    """Catalogue model that drafts (e.g. llama-3.2-1b); held in HBM and switched like any model."""
    lookahead: Count = Field(default=4, ge=1, le=MAX_LOOKAHEAD)
    """Tokens drafted per step (k); the target's verify pass covers k + 1 tokens."""
    acceptance: float | dict[str, float] | None = None
    """Per-token acceptance rate in [0, 1]; a rate per router category or expert name (the key
    'default' for the rest); or omitted for the catalogue's rate of each (target, draft) pair."""

    @field_validator("acceptance")
    @classmethod
    def _rates(cls, value: float | dict[str, float] | None) -> float | dict[str, float] | None:
        if value is None:
            return value
        rates = value.items() if isinstance(value, dict) else [("acceptance", value)]
        for key, rate in rates:
            if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not math.isfinite(rate) \
                    or not 0.0 <= rate <= 1.0:
                raise ValueError(f"{key}: an acceptance rate is a probability in [0, 1], got {rate!r}")
        if isinstance(value, dict) and not value:
            raise ValueError("an empty acceptance mapping; give rates or leave 'acceptance' out")
        return value
