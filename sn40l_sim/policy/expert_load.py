"""Each expert's expected share of requests, known before the run: what load-aware placement plans on.

Read from the same settings that will route the requests, first source that applies:

1. workload expert labels (``workload.expert`` / ``workload.generator.expert``: a popularity law
   over expert names) - the router then takes the label as the expert;
2. ``router.mapping: zipf`` - Zipf(s) over the list, or over each group's ranks scaled by the
   group's ``share``;
3. a mapping table - the category mix (or the table's categories, equally likely) sent through it;
4. ``round_robin`` with a category mix - category i to expert i mod n;
5. otherwise every expert equally.

A trace's own labels (an ``expert`` or ``category`` column, or prompt text for the keyword classifier)
come first of all: the runner reads the trace ahead and routes it with a router of the run's seed
(:func:`label_shares`), as a planner would count last week's traffic by expert.

Step-1 noise (``accuracy``, ``confusion``) and the confidence fallback are not modelled here: they
move a few per cent of requests, and the engine's dispatch to the least-busy copy absorbs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from sn40l_sim.config.router_spec import RouterSpec
from sn40l_sim.config.workload_spec import WorkloadSpec
from sn40l_sim.policy.prompt_router import Router, zipf_pmf
from sn40l_sim.workload.labels import popularity_table
from sn40l_sim.workload.request_chunk import RequestChunk


def expected_shares(router: RouterSpec, workload: WorkloadSpec, expert_names: Sequence[str],
                    group_shares: Sequence[tuple[int, float]] | None = None) -> np.ndarray:
    """P(a request goes to expert i), summing to 1 over ``expert_names``."""
    n = len(expert_names)
    index = {name: i for i, name in enumerate(expert_names)}
    labels = workload.generator.expert if workload.generator is not None else workload.expert
    shares = np.zeros(n)
    if labels is not None:
        names, probs = popularity_table(labels, list(expert_names), "expert")
        for name, p in zip(names, probs, strict=True):
            if name in index:
                shares[index[name]] += p
    elif router.mapping == "zipf":
        shares = zipf_pmf(n, router.zipf_s, group_shares)
    elif (table := router.table) is not None:
        mix = router.mix() or dict.fromkeys(table, 1.0)
        for category, weight in mix.items():
            expert = table.get(category, router.fallback_expert)
            if expert in index:
                shares[index[expert]] += weight
    elif router.mix() is not None:
        for i, weight in enumerate((router.mix() or {}).values()):
            shares[i % n] += weight
    if shares.sum() <= 0:
        shares = np.ones(n)
    out: np.ndarray = shares / shares.sum()
    return out


def has_labels(frame: RequestChunk, router: RouterSpec) -> bool:
    """Whether requests carry what routes them (so their shares can be counted, not assumed)."""
    return ("expert" in frame or "category" in frame
            or (router.classifier == "keyword" and "prompt_text" in frame))


def label_shares(router: Router, chunks: Iterable[RequestChunk]) -> np.ndarray | None:
    """Each expert's share of the requests ``router`` sends it; None when they carry no labels."""
    counts = np.zeros(len(router.expert_names))
    for frame in chunks:
        if frame.empty:
            continue
        if not has_labels(frame, router.config):
            return None
        routed = router.route(frame)
        counts += np.bincount(routed.expert, minlength=len(counts))
    if counts.sum() <= 0:
        return None
    out: np.ndarray = counts / counts.sum()
    return out
