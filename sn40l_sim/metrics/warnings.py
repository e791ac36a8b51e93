"""Warnings a run's summary carries: requests rejected by a limit the user never set.

A default such as ``max_context_tokens: 4096`` silently turning away part of a trace changes every
number of a run; the user should hear it, with the setting that would change it.
"""

from __future__ import annotations

import pandas as pd

from sn40l_sim.config.scenario import ServingConfig

# (reason prefix in requests.parquet, the serving field whose default caused it)
_DEFAULT_LIMITS = (
    ("context exceeds max_context_tokens", "max_context_tokens"),
    ("out of memory: this request's KV cache exceeds serving.kv_reservation", "kv_reservation"),
)


def default_limit_warnings(requests: pd.DataFrame, serving: ServingConfig) -> list[str]:
    """One line per default limit that rejected requests, naming the count and the field."""
    reasons = requests.loc[requests["outcome"] == "rejected", "reason"].dropna().astype(str)
    out = []
    for prefix, field in _DEFAULT_LIMITS:
        if field in serving.model_fields_set:
            continue
        n = int(reasons.str.startswith(prefix).sum())
        if n:
            out.append(f"{n:,} of {len(requests):,} requests rejected by the default "
                       f"serving.{field} ({getattr(serving, field)}); set it in the scenario "
                       "if the model serves longer contexts")
    return out
