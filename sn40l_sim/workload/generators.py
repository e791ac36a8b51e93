"""Synthetic arrival processes and token-length samplers, drawn a chunk at a time with numpy.

Each sampler owns one ``numpy.random.Generator`` and keeps the state it needs between chunks
(the last arrival time, the current on/off period), so a stream drawn in chunks of any size is the
same stream: every draw consumes its generator element by element, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from sn40l_sim.config.limits import MAX_TOKENS
from sn40l_sim.config.workload_spec import (
    ArrivalSpec,
    ConstantArrivalsSpec,
    EmpiricalLengthSpec,
    FixedLengthSpec,
    GammaArrivalsSpec,
    GeometricLengthSpec,
    LengthsSpec,
    LognormalLengthSpec,
    OnOffArrivalsSpec,
    PoissonArrivalsSpec,
    TextLengthSpec,
    UniformLengthSpec,
)
from sn40l_sim.workload.data_dir import resolve_data_path
from sn40l_sim.workload.trace_formats import trace_spec

# --- arrivals ------------------------------------------------------------------------------------


class ArrivalProcess:
    """Renewal process: arrival times are the running sum of i.i.d. gaps, from t = 0."""

    def __init__(self, draw_gaps: Callable[[int], np.ndarray]) -> None:
        self._draw_gaps = draw_gaps
        self._last_s = 0.0

    def next(self, n: int) -> np.ndarray:
        """The next ``n`` arrival times in seconds (non-decreasing)."""
        times = self._last_s + np.cumsum(self._draw_gaps(n))
        if n:
            self._last_s = float(times[-1])
        return times


class OnOffProcess:
    """Poisson arrivals while on, none while off (fixed or exponential periods, starting on).

    Arrivals are drawn on an "on-time" axis (time counted only while on), then mapped to wall
    time through the cumulative on-durations, so the whole chunk is a few numpy operations.
    """

    def __init__(self, cfg: OnOffArrivalsSpec, rng: np.random.Generator,
                 periods_rng: np.random.Generator) -> None:
        self.cfg = cfg
        self._rng = rng  # arrivals
        self._periods_rng = periods_rng  # on/off durations: its own stream, chunk-independent
        self._u_s = 0.0  # on-time of the last arrival
        self._on_end_u = np.empty(0)  # on-time at which each known on-period ends
        self._on_end_t = np.empty(0)  # wall time at which each known on-period ends
        self._last_off = 0.0  # off-duration after the last known on-period

    def _extend(self, until_u: float) -> None:
        """Draw on/off periods until the known on-periods cover on-time ``until_u``."""
        while not self._on_end_u.size or self._on_end_u[-1] < until_u:
            k = max(16, self._on_end_u.size)
            if self.cfg.random_durations:  # (on, off) pairs, row by row: chunk-size independent
                pairs = self._periods_rng.exponential(size=(k, 2)) * (self.cfg.on_duration,
                                                              self.cfg.off_duration)
            else:
                pairs = np.tile((self.cfg.on_duration, self.cfg.off_duration), (k, 1))
            last_u = self._on_end_u[-1] if self._on_end_u.size else 0.0
            last_t = self._on_end_t[-1] + self._last_off if self._on_end_t.size else 0.0
            ends_u = last_u + np.cumsum(pairs[:, 0])
            ends_t = last_t + np.cumsum(pairs[:, 0] + np.concatenate(([0.0], pairs[:-1, 1])))
            self._on_end_u = np.concatenate((self._on_end_u, ends_u))
            self._on_end_t = np.concatenate((self._on_end_t, ends_t))
            self._last_off = float(pairs[-1, 1])

    def next(self, n: int) -> np.ndarray:
        u = self._u_s + np.cumsum(self._rng.exponential(1.0 / self.cfg.rate_per_s, size=n))
        if not n:
            return u
        self._u_s = float(u[-1])
        self._extend(self._u_s)
        period = np.searchsorted(self._on_end_u, u, side="left")
        times = self._on_end_t[period] - (self._on_end_u[period] - u)
        done = int(period[-1])  # periods before the current one are never needed again
        self._on_end_u, self._on_end_t = self._on_end_u[done:], self._on_end_t[done:]
        return times


def make_arrivals(cfg: ArrivalSpec, rng: np.random.Generator,
                  periods_rng: np.random.Generator) -> ArrivalProcess | OnOffProcess:
    """The arrival process a config describes (``periods_rng``: on/off durations)."""
    if isinstance(cfg, PoissonArrivalsSpec):
        return ArrivalProcess(lambda n: rng.exponential(1.0 / cfg.rate_per_s, size=n))
    if isinstance(cfg, GammaArrivalsSpec):
        shape = 1.0 / cfg.cv**2  # mean gap 1/rate, CV = 1/sqrt(shape)
        return ArrivalProcess(lambda n: rng.gamma(shape, 1.0 / (cfg.rate_per_s * shape), size=n))
    if isinstance(cfg, ConstantArrivalsSpec):
        return ArrivalProcess(lambda n: np.full(n, 1.0 / cfg.rate_per_s))
    return OnOffProcess(cfg, rng, periods_rng)


# --- token lengths -------------------------------------------------------------------------------


def _uniform_index(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Uniform indices in [0, size) from doubles (``integers`` buffers bits per call)."""
    return np.minimum((rng.random(n) * size).astype(np.int64), size - 1)


class LengthSampler:
    """Draws one length column (prompt or output tokens) from a LengthsSpec."""

    def __init__(self, spec: LengthsSpec, field: str, rng: np.random.Generator,
                 table: Callable[[EmpiricalLengthSpec], tuple[np.ndarray, np.ndarray]]) -> None:
        self.spec = spec
        self.field = field
        self.rng = rng
        self.values: np.ndarray | None = None
        if isinstance(spec, EmpiricalLengthSpec):
            prompts, outputs = table(spec)
            column = spec.column or field
            self.values = prompts if column == "prompt_tokens" else outputs

    def draw(self, n: int, *, texts: np.ndarray | None = None,
             rows: np.ndarray | None = None) -> np.ndarray:
        """``n`` lengths; ``rows`` forces empirical rows (joint draws), ``texts`` for kind text."""
        spec = self.spec
        if isinstance(spec, int):
            return np.full(n, spec, dtype=np.int64)
        if isinstance(spec, FixedLengthSpec):
            return np.full(n, spec.tokens, dtype=np.int64)
        if isinstance(spec, UniformLengthSpec):
            return spec.low + _uniform_index(self.rng, n, spec.high - spec.low + 1)
        if isinstance(spec, LognormalLengthSpec):
            drawn = np.rint(spec.median * np.exp(spec.sigma * self.rng.standard_normal(n)))
            upper = spec.max_tokens or MAX_TOKENS
            return np.clip(drawn, 1, upper).astype(np.int64)
        if isinstance(spec, GeometricLengthSpec):
            return self.rng.geometric(1.0 / spec.mean, n).astype(np.int64)
        if isinstance(spec, TextLengthSpec):
            assert texts is not None
            chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
            return np.clip(np.rint(chars / spec.chars_per_token), 1, MAX_TOKENS).astype(np.int64)
        assert self.values is not None
        if rows is None:
            rows = self.rows(n)
        values: np.ndarray = self.values[rows]  # may hold 0: clipped (and counted) with the others
        return values

    def rows(self, n: int) -> np.ndarray:
        assert self.values is not None
        return _uniform_index(self.rng, n, len(self.values))


class LengthPair:
    """Prompt and output lengths; two empirical specs on one trace share the row drawn."""

    def __init__(self, prompt: LengthsSpec, output: LengthsSpec, rngs: tuple[np.random.Generator,
                 np.random.Generator], *, data_dir: Path, base_dir: Path) -> None:
        cache: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}

        def table(spec: EmpiricalLengthSpec) -> tuple[np.ndarray, np.ndarray]:
            key = (spec.trace, spec.format, spec.on_bad_row)
            if key not in cache:
                path = resolve_data_path(spec.trace, data_dir, base_dir)
                tspec = trace_spec(path, spec.format, None, None, use_arrival=False)
                from sn40l_sim.workload.trace_columns import read_lengths  # imports pandas

                cache[key] = read_lengths(tspec, skip_bad=spec.on_bad_row == "skip")
            return cache[key]

        self.prompt = LengthSampler(prompt, "prompt_tokens", rngs[0], table)
        self.output = LengthSampler(output, "output_tokens", rngs[1], table)
        self.joint = (isinstance(prompt, EmpiricalLengthSpec) and isinstance(output, EmpiricalLengthSpec)
                      and (prompt.trace, prompt.format) == (output.trace, output.format))

    def draw(self, n: int, texts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.joint:
            rows = self.prompt.rows(n)
            return self.prompt.draw(n, rows=rows), self.output.draw(n, rows=rows)
        return self.prompt.draw(n, texts=texts), self.output.draw(n, texts=texts)
