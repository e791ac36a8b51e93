"""Labels attached to requests: popularity draws over names, and labelled prompt sets.

A CoE needs to know what each request is about. ``category`` and ``expert`` columns are drawn
from a popularity law (uniform, Zipf(s), or a weight table); a prompt set (MT-Bench's
``category``, Arena-Hard's ``cluster``) gives each request a real prompt, its label as
``category`` and its text as ``prompt_text``. Draws are vectorised; each sampler owns its RNG.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sn40l_sim.config.workload_spec import (
    PopularitySpec,
    PromptSetSpec,
    WeightsPopularitySpec,
    ZipfPopularitySpec,
)
from sn40l_sim.errors import InputError
from sn40l_sim.workload.data_dir import resolve_data_path
from sn40l_sim.workload.trace_formats import open_text


def popularity_table(pop: PopularitySpec, default_names: list[str] | None,
                     default_prefix: str) -> tuple[list[str], np.ndarray]:
    """(names, probabilities) of a popularity law; ``default_names`` when it names none."""
    if isinstance(pop, WeightsPopularitySpec):
        names = [name for name, _ in pop.weights]
        weights = np.array([weight for _, weight in pop.weights], dtype=np.float64)
    else:
        names = pop.resolved_names(default_prefix) or list(default_names or [])
        if not names:
            raise InputError("a popularity law needs 'names' or 'count'", field=default_prefix)
        ranks = np.arange(1, len(names) + 1, dtype=np.float64)
        weights = ranks ** -pop.s if isinstance(pop, ZipfPopularitySpec) else np.ones(len(names))
    return names, weights / weights.sum()


class PopularitySampler:
    """Draws names with fixed probabilities (inverse CDF on uniform doubles)."""

    def __init__(self, names: list[str], probs: np.ndarray, rng: np.random.Generator) -> None:
        self.names = np.asarray(names, dtype=object)
        self.cdf = np.cumsum(probs)
        self.cdf /= self.cdf[-1]
        self.rng = rng

    def codes(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1)

    def draw(self, n: int) -> np.ndarray:
        drawn: np.ndarray = self.names[self.codes(self.rng.random(n))]
        return drawn


def popularity_sampler(pop: PopularitySpec, field: str, rng: np.random.Generator) -> PopularitySampler:
    names, probs = popularity_table(pop, None, field)
    return PopularitySampler(names, probs, rng)


def _text_of(record: dict[str, Any], field: str) -> object:
    value = record.get(field)
    if isinstance(value, list):  # MT-Bench 'turns': the first user message opens the request
        value = value[0] if value else None
    return value


def load_prompt_set(cfg: PromptSetSpec, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, texts) of a JSONL prompt set, as object arrays of str, in file order."""
    labels: list[str] = []
    texts: list[str] = []
    label_field, text_field = cfg.label_field, cfg.text_field
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise InputError("invalid JSON", file=str(path), line=line_no) from None
            if not isinstance(record, dict):
                raise InputError("expected a JSON object", file=str(path), line=line_no)
            if label_field is None:
                label_field = "cluster" if "cluster" in record else "category"
            if text_field is None:
                text_field = next((f for f in ("prompt", "turns", "text") if f in record), "prompt")
            label, text = record.get(label_field), _text_of(record, text_field)
            if label is None or not isinstance(text, str):
                missing = label_field if label is None else text_field
                raise InputError(f"prompt set: no {missing!r} on this line (set label_field / "
                                 "text_field)", file=str(path), line=line_no)
            labels.append(str(label))
            texts.append(text)
    if not labels:
        raise InputError("the prompt set is empty", file=str(path))
    return np.asarray(labels, dtype=object), np.asarray(texts, dtype=object)


class PromptSampler:
    """Samples prompts: uniformly over prompts, or a label by popularity then a prompt in it."""

    def __init__(self, cfg: PromptSetSpec, rng: np.random.Generator, *, data_dir: Path,
                 base_dir: Path) -> None:
        path = resolve_data_path(cfg.file, data_dir, base_dir)
        self.labels, self.texts = load_prompt_set(cfg, path)
        self.rng = rng
        self.by_label: PopularitySampler | None = None
        if cfg.popularity is not None:
            self._group(cfg.popularity, path)

    def _group(self, pop: PopularitySpec, path: Path) -> None:
        order_seen = list(dict.fromkeys(self.labels.tolist()))
        names, probs = popularity_table(pop, order_seen, "prompts.popularity")
        unknown = sorted(set(names) - set(order_seen))
        if unknown:
            raise InputError(f"labels {unknown} are not in the prompt set (it has "
                             f"{order_seen[:8]}{'...' if len(order_seen) > 8 else ''})",
                             file=str(path), field="prompts.popularity")
        self.by_label = PopularitySampler(names, probs, self.rng)
        code_of = {name: i for i, name in enumerate(names)}
        codes = np.array([code_of.get(lab, -1) for lab in self.labels], dtype=np.int64)
        self._order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes[codes >= 0], minlength=len(names))
        self._counts = counts
        self._starts = np.searchsorted(codes[self._order], np.arange(len(names)), side="left")

    def draw(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(category, prompt_text) object arrays for ``n`` requests."""
        if self.by_label is None:
            rows = np.minimum((self.rng.random(n) * len(self.labels)).astype(np.int64),
                              len(self.labels) - 1)
        else:
            u = self.rng.random((n, 2))  # row by row: the stream does not depend on chunking
            label = self.by_label.codes(u[:, 0])
            within = np.minimum((u[:, 1] * self._counts[label]).astype(np.int64),
                                self._counts[label] - 1)
            rows = self._order[self._starts[label] + within]
        return self.labels[rows], self.texts[rows]

