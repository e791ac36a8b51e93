"""Each request's inter-token gaps, derived from its group's batch iterations, and their percentile.

The engine has one event per batch iteration, not per token: an iteration ending at ``end_s`` that
ran ``n_steps`` decode steps gave every request in the batch ``n_steps`` tokens. So a request's
gaps are, for each iteration of its serving group between its first token and its end,
``n_steps`` gaps of ``(end_s - the previous iteration's end, or its first token) / n_steps``. Time
the group spent between iterations (a newcomer's prefill, the router, a program load) lands in the
first gap of the next iteration, spread over its steps: what a reader sees as a stall is kept, at
the resolution of one iteration. The SLO judges each request's ``GAP_PERCENTILE`` gap; all of it is
numpy over (request, iteration) pairs, a few per request.
"""

from __future__ import annotations

import math

import numpy as np

GAP_PERCENTILE = 99.0  # the gap the time-between-tokens SLO judges: each request's p99


def gap_percentile_s(req_group: np.ndarray, first_token_s: np.ndarray, end_s: np.ndarray,
                     decoding: np.ndarray, ev_group: np.ndarray, ev_end_s: np.ndarray,
                     ev_steps: np.ndarray, q: float = GAP_PERCENTILE) -> np.ndarray:
    """Per request, the ``q``-th percentile (nearest rank) of its gaps; NaN where ``decoding`` is
    false (not completed, or a one-token answer) or no iteration covers it."""
    n = len(req_group)
    out = np.full(n, math.nan)
    if not n or not len(ev_end_s):
        return out
    order = np.lexsort((ev_end_s, ev_group))
    g_sorted, e_sorted, k_sorted = ev_group[order], ev_end_s[order], ev_steps[order].astype(np.float64)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.zeros(n, dtype=np.int64)
    which = np.flatnonzero(decoding)
    for group in np.unique(req_group[which]):
        start, stop = np.searchsorted(g_sorted, [group, group + 1])
        mine = which[req_group[which] == group]
        ends = e_sorted[start:stop]
        lo[mine] = start + np.searchsorted(ends, first_token_s[mine], side="right")
        hi[mine] = start + np.searchsorted(ends, end_s[mine], side="right")
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if not total:
        return out
    rid = np.repeat(np.arange(n), counts)
    first = np.cumsum(counts) - counts
    j = np.repeat(lo, counts) + (np.arange(total) - np.repeat(first, counts))
    previous = np.where(j == np.repeat(lo, counts), first_token_s[rid], e_sorted[np.maximum(j - 1, 0)])
    weight = k_sorted[j]
    gap = (e_sorted[j] - previous) / np.maximum(weight, 1.0)
    by = np.lexsort((gap, rid))
    gap, weight, rid = gap[by], weight[by], rid[by]
    cumulative = np.cumsum(weight)
    per_request = np.bincount(rid, weights=weight, minlength=n)
    base = np.cumsum(per_request) - per_request
    has = counts > 0
    target = base[has] + np.ceil(q / 100.0 * per_request[has] - 1e-9)
    index = np.minimum(np.searchsorted(cumulative, target - 1e-9, side="left"), total - 1)
    out[has] = gap[index]
    return out
