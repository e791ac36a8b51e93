"""Warnings a run's summary carries: requests rejected by a limit the user never set.

A default such as ``max_context_tokens: 4096`` silently turning away part of a trace changes every
number of a run; the user should hear it, with the setting that would change it.
"""

from __future__ import annotations

from sn40l_sim.config.serving_spec import ServingSpec
from sn40l_sim.metrics.parquet_columns import ParquetColumns

# (reason prefix in requests.parquet, the serving field whose default caused it, its spec name)
_DEFAULT_LIMITS = (
    ("context exceeds max_context_tokens", "max_context_tokens", "max_context_tokens"),
    ("out of memory: this request's KV cache exceeds serving.kv_reservation", "kv_reservation",
     "kv_reservation_bytes"),
)


def default_limit_warnings(requests: ParquetColumns, serving: ServingSpec) -> list[str]:
    """One line per default limit that rejected requests, naming the count and the field.

    Read column by column from ``requests.parquet``: the distinct reasons of rejected requests
    are counted in Arrow, never as one Python string per row."""
    reasons = requests.value_counts("reason", where=requests.equals("outcome", "rejected"))
    out = []
    for prefix, field, attribute in _DEFAULT_LIMITS:
        if field in serving.fields_set:
            continue
        n = sum(count for reason, count in reasons.items() if reason.startswith(prefix))
        if n:
            out.append(f"{n:,} of {requests.n_rows:,} requests rejected by the default "
                       f"serving.{field} ({getattr(serving, attribute)}); set it in the scenario "
                       "if the model serves longer contexts")
    return out
