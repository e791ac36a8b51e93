"""Two-step CoE routing over a chunk of requests: prompt -> category -> expert, vectorised.

Step 1 (category), first source that applies:
  1. an ``expert`` column in the trace fixes the expert outright (step 2 and the threshold skipped);
  2. ``classifier: keyword`` with a ``prompt_text`` column classifies the text (an explicit opt-in,
     so it wins over a ``category`` column, which then stays available as ground truth);
  3. a ``category`` column;
  4. the configured mix (``categories``). With no mix, the mapping table's categories are equally
     likely; with no table, every expert is its own category and equally likely (``round_robin``)
     or drawn Zipf (``zipf``).
Trace and sampled categories pass through the configured noise (``accuracy``: a wrong answer is a
uniformly drawn *other* known category; ``confusion``: row = true category, columns = predicted).

Step 2 (expert): a table maps names; ``round_robin`` sends the i-th known category to expert
i mod n; ``zipf`` draws each request's expert Zipf(s) over the expert list (rank 1 = the first
expert), so expert popularity is skewed and the category only labels the request. Finally requests
with a confidence below ``confidence_threshold`` (classifier output or a ``confidence`` column), and
categories a table lacks, go to ``fallback_expert``.

Known categories have a fixed order: configured mix, classifier table, mapping table, confusion
matrix, then categories first seen in the trace (sorted within their chunk). That order is stable
across chunks, so round-robin assignments never change mid-run. Randomness comes from one
generator per router, so a run is deterministic for a seed and a chunk sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sn40l_sim.config.router_spec import RouterSpec
from sn40l_sim.errors import InputError, did_you_mean
from sn40l_sim.policy.classifier import KeywordClassifier, keyword_classifier
from sn40l_sim.workload.request_chunk import RequestChunk


@dataclass(frozen=True)
class RoutedChunk:
    """Routing decisions for one chunk, aligned with its rows."""

    category: np.ndarray  # object array of str: the category step 1 produced (after noise)
    expert: np.ndarray  # int64 index into the router's expert names
    fallback: np.ndarray  # bool: sent to the fallback expert (low confidence or unmapped category)
    confidence: np.ndarray | None = None  # float in [0, 1] where step 1 gave one, else None


def _unknown_names(unknown: Sequence[str], known: Sequence[str], what: str,
                   field: str) -> InputError:
    first = str(unknown[0])
    hint = did_you_mean(first, known)
    shown = ", ".join(repr(str(u)) for u in list(unknown)[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    return InputError(f"unknown {what} {shown}{more}{hint}", field=field)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _factorize(values: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
    """Codes of a label column into its distinct values as text, in order of first appearance
    (what ``pandas.factorize`` gives; a chunk has a few distinct labels, so one dict pass)."""
    index: dict[object, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values.tolist()), np.int64,
                        len(values))
    if any(_missing(k) for k in index):
        n_missing = sum(1 for v in values.tolist() if _missing(v))
        raise InputError(f"{n_missing} request(s) have no value", field=name)
    if not all(type(k) is str for k in index):  # numbers such as expert ids: compared as text
        return _factorize(np.array([str(v) for v in values.tolist()], dtype=object), name)
    return codes, [str(k) for k in index]


def _text(values: np.ndarray) -> np.ndarray:
    """A label column as an object array of str."""
    if values.dtype == object and all(type(v) is str for v in values.tolist()):
        return values
    return np.array([str(v) for v in values.tolist()], dtype=object)


def zipf_pmf(n_experts: int, s: float,
             group_shares: Sequence[tuple[int, float]] | None = None) -> np.ndarray:
    """P(expert) under ``mapping: zipf``: Zipf(s) over the list, or, with expert-group shares,
    each group's share spread Zipf(s) over the group's own ranks (rank 1 = its first expert)."""
    if not group_shares:
        weights = np.arange(1, n_experts + 1, dtype=np.float64) ** -s
        single: np.ndarray = weights / weights.sum()
        return single
    parts = []
    for count, share in group_shares:
        weights = np.arange(1, count + 1, dtype=np.float64) ** -s
        parts.append(share * weights / weights.sum())
    pmf: np.ndarray = np.concatenate(parts)
    out: np.ndarray = pmf / pmf.sum()
    return out


class Router:
    """Routes chunks of requests to experts; see the module docstring for the rules.

    ``group_shares`` ((count, share) per expert group, in list order) makes ``mapping: zipf`` draw
    a group by its share first (a scenario's ``experts: [{..., share: 0.3}]``).
    """

    def __init__(self, config: RouterSpec, expert_names: Sequence[str], *,
                 seed: int | np.random.SeedSequence,
                 group_shares: Sequence[tuple[int, float]] | None = None) -> None:
        if not expert_names:
            raise InputError("a router needs at least one expert", field="experts")
        self.config = config
        self.expert_names = [str(n) for n in expert_names]
        self._expert_index = {name: i for i, name in enumerate(self.expert_names)}
        self._rng = np.random.default_rng(seed)
        if group_shares and sum(c for c, _ in group_shares) != len(self.expert_names):
            raise ValueError("group_shares must cover the expert list exactly")
        self._group_shares = list(group_shares) if group_shares else None
        self._classifier: KeywordClassifier | None = (
            keyword_classifier() if config.classifier == "keyword" else None)
        self._categories: list[str] = []
        self._category_index: dict[str, int] = {}
        self._add_categories(self._initial_categories())
        self._fallback = self._expert(config.fallback_expert, "router.fallback_expert")
        table = config.table
        self._table = ({c: self._expert(e, f"router.mapping.{c}") for c, e in table.items()}
                       if table is not None else None)
        self._zipf_cdf = self._make_zipf_cdf() if config.mapping == "zipf" else None
        self._mix_codes, self._mix_cdf = self._make_mix()

    # --- set-up -------------------------------------------------------------------------------

    def _initial_categories(self) -> list[str]:
        config = self.config
        names = [name for name, _ in config.categories or ()]
        if self._classifier is not None:
            names += self._classifier.categories
        if config.table is not None:
            names += list(config.table)
        for true, row in config.confusion or ():
            names += [true, *(name for name, _ in row)]
        return names

    def _add_categories(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in self._category_index:
                self._category_index[name] = len(self._categories)
                self._categories.append(name)

    def _expert(self, name: str | None, field: str) -> int | None:
        if name is None:
            return None
        if name not in self._expert_index:
            raise _unknown_names([name], self.expert_names, "expert", field)
        return self._expert_index[name]

    def _make_zipf_cdf(self) -> np.ndarray:
        if self._group_shares:
            by_group: np.ndarray = np.cumsum(zipf_pmf(len(self.expert_names), self.config.zipf_s,
                                                      self._group_shares))
            out: np.ndarray = by_group / by_group[-1]
            return out
        ranks = np.arange(1, len(self.expert_names) + 1, dtype=np.float64)
        weights = ranks ** -self.config.zipf_s
        cdf: np.ndarray = np.cumsum(weights) / weights.sum()
        return cdf

    def _make_mix(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Category codes and cumulative probabilities of the sampled mix (None: experts as mix)."""
        mix, table = self.config.mix(), self.config.table
        if mix is None and table is not None:
            mix = dict.fromkeys(table, 1.0 / len(table))
        if mix is None:
            return None, None
        codes = np.array([self._category_index[c] for c in mix], dtype=np.int64)
        cdf = np.cumsum(list(mix.values()))
        return codes, cdf / cdf[-1]

    # --- step 1 -------------------------------------------------------------------------------

    def route(self, requests: RequestChunk) -> RoutedChunk:
        """Route every row of ``requests`` (see the module docstring for which columns count)."""
        n = len(requests)
        if "expert" in requests:
            return self._route_by_expert(requests)
        confidence: np.ndarray | None = None
        if self._classifier is not None:
            if "prompt_text" not in requests:
                raise InputError("classifier 'keyword' needs a 'prompt_text' column in the trace",
                                 field="router.classifier")
            labels, confidence = self._classifier.classify(requests["prompt_text"])
            codes = self._codes_of_column(labels, "category")
        elif "category" in requests:
            codes = self._noisy(self._codes_of_column(requests["category"], "category"))
        elif self._mix_codes is not None:
            codes = self._noisy(self._sample(self._mix_codes, self._mix_cdf, n))
        else:
            return self._route_experts_as_categories(n)
        if confidence is None and "confidence" in requests:
            confidence = np.asarray(requests["confidence"], dtype=np.float64)
        expert, fallback = self._map(codes)
        self._apply_threshold(expert, fallback, confidence)
        return RoutedChunk(self._labels(codes), expert, fallback, confidence)

    def _route_by_expert(self, requests: RequestChunk) -> RoutedChunk:
        codes, uniques = _factorize(requests["expert"], "expert")
        lookup = np.array([self._expert_index.get(u, -1) for u in uniques], dtype=np.int64)
        if (lookup < 0).any():
            unknown = [u for u, i in zip(uniques, lookup, strict=True) if i < 0]
            raise _unknown_names(unknown, self.expert_names, "expert", "expert")
        expert = lookup[codes]
        if "category" in requests:
            category = _text(requests["category"])
        else:
            category = np.asarray(self.expert_names, dtype=object)[expert]
        return RoutedChunk(category, expert, np.zeros(len(expert), dtype=bool))

    def _route_experts_as_categories(self, n: int) -> RoutedChunk:
        """No category anywhere: each expert is its own category (uniform or Zipf popularity)."""
        if self._zipf_cdf is not None:
            expert = self._sample(None, self._zipf_cdf, n)
        else:
            expert = self._rng.integers(0, len(self.expert_names), size=n, dtype=np.int64)
        category = np.asarray(self.expert_names, dtype=object)[expert]
        return RoutedChunk(category, expert, np.zeros(n, dtype=bool))

    def _sample(self, values: np.ndarray | None, cdf: np.ndarray | None, n: int) -> np.ndarray:
        assert cdf is not None
        drawn = np.searchsorted(cdf, self._rng.random(n), side="right")
        drawn = np.minimum(drawn, len(cdf) - 1).astype(np.int64)  # guard cdf[-1] rounding
        return drawn if values is None else values[drawn]

    def _codes_of_column(self, column: np.ndarray, name: str) -> np.ndarray:
        codes, uniques = _factorize(column, name)
        self._add_categories(sorted(u for u in uniques if u not in self._category_index))
        lookup = np.array([self._category_index[u] for u in uniques], dtype=np.int64)
        mapped: np.ndarray = lookup[codes]
        return mapped

    def _noisy(self, codes: np.ndarray) -> np.ndarray:
        """Apply the configured step-1 error model to true category codes."""
        if self.config.accuracy is not None:
            k = len(self._categories)
            wrong = self._rng.random(len(codes)) >= self.config.accuracy
            if k > 1 and wrong.any():
                shift = self._rng.integers(1, k, size=int(wrong.sum()), dtype=np.int64)
                codes = codes.copy()
                codes[wrong] = (codes[wrong] + shift) % k
            return codes
        if self.config.confusion:
            codes = codes.copy()
            u = self._rng.random(len(codes))
            for true, row in self.config.confusion:
                rows = codes == self._category_index[true]
                if rows.any():
                    predicted = np.array([self._category_index[c] for c, _ in row], dtype=np.int64)
                    cdf = np.cumsum([p for _, p in row])
                    codes[rows] = self._pick(predicted, cdf / cdf[-1], u[rows])
        return codes

    @staticmethod
    def _pick(values: np.ndarray, cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
        drawn = np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)
        return values[drawn]

    def _labels(self, codes: np.ndarray) -> np.ndarray:
        labels: np.ndarray = np.asarray(self._categories, dtype=object)[codes]
        return labels

    # --- step 2 -------------------------------------------------------------------------------

    def _map(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Category codes -> expert indices, and where the fallback expert took an unmapped one."""
        n = len(codes)
        fallback = np.zeros(n, dtype=bool)
        if self._zipf_cdf is not None:
            return self._sample(None, self._zipf_cdf, n), fallback
        if self._table is None:
            return codes % len(self.expert_names), fallback
        lookup = np.array([self._table.get(c, -1) for c in self._categories], dtype=np.int64)
        expert = lookup[codes]
        unmapped = expert < 0
        if unmapped.any():
            if self._fallback is None:
                missing = sorted({str(c) for c in self._labels(codes[unmapped])})
                raise InputError(f"categories {missing} have no expert in the mapping table; add "
                                 "them or set a fallback_expert", field="router.mapping")
            expert[unmapped] = self._fallback
            fallback |= unmapped
        return expert, fallback

    def _apply_threshold(self, expert: np.ndarray, fallback: np.ndarray,
                         confidence: np.ndarray | None) -> None:
        threshold = self.config.confidence_threshold
        if threshold is None:
            return
        if confidence is None:
            raise InputError("confidence_threshold needs a confidence: use 'classifier: keyword' "
                             "with prompt text, or give the trace a 'confidence' column",
                             field="router.confidence_threshold")
        low = confidence < threshold
        assert self._fallback is not None  # the config requires it with a threshold
        expert[low] = self._fallback
        fallback |= low
