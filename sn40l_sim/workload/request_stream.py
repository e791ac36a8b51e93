"""The request stream the engine consumes: chunks of requests from a trace or a generator.

Each chunk is a :class:`RequestChunk` (numpy columns, no pandas) with ``REQUEST_COLUMNS``
(float64 seconds, int64, int64) and whichever ``OPTIONAL_COLUMNS`` the source provides, in
non-decreasing ``arrival_s`` order across chunks, starting at or after 0. Token counts of 0 are
raised to 1 and counted (``stream.stats``). A generated workload imports no pandas (unless its
lengths are an ``empirical`` law, which reads a trace); a trace's reader does (pandas is its CSV
parser and column converter).

Randomness: every random source is its own ``numpy.random.Generator`` on a fixed branch of the
scenario seed, ``SeedSequence(seed, spawn_key=(0, stream))`` (the children of
``SeedSequence(seed).spawn(2)[0]``; the engine's router uses child 1). A source keeps its stream
when another source's settings change, and the same seed gives the same requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sn40l_sim.config.limits import MAX_TIME_S
from sn40l_sim.config.workload_spec import RequestLabelsSpec, WorkloadSpec
from sn40l_sim.errors import InputError
from sn40l_sim.workload.data_dir import resolve_data_path
from sn40l_sim.workload.generators import LengthPair, make_arrivals
from sn40l_sim.workload.labels import PromptSampler, popularity_sampler
from sn40l_sim.workload.request_chunk import RequestChunk
from sn40l_sim.workload.trace_formats import TraceSpec, file_type_of, spec_for_workload
from sn40l_sim.workload.workload_stats import WorkloadStats

REQUEST_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
OPTIONAL_COLUMNS = ("category", "expert", "prompt_text")

T = TypeVar("T")
_ARRIVALS, _PROMPT_TOKENS, _OUTPUT_TOKENS, _PROMPTS, _CATEGORY, _EXPERT, _PERIODS = range(7)

__all__ = ["OPTIONAL_COLUMNS", "REQUEST_COLUMNS", "RequestStream", "WorkloadStats",
           "count_hint", "iter_request_chunks"]


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """The generator of one workload random source (see the module docstring)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, stream)))


def _located(make: Callable[..., T], field: str, *args: Any) -> T:
    """Call ``make``; an InputError without a field gets ``field`` (for a missing file)."""
    try:
        return make(*args)
    except InputError as exc:
        if exc.field is not None:
            raise
        raise InputError(exc.message, file=exc.file, line=exc.line, field=field) from None


class _Labeler:
    """Adds prompt-set, category and expert columns to a chunk."""

    def __init__(self, labels: RequestLabelsSpec, seed: int, data_dir: Path, base_dir: Path) -> None:
        self.prompts = (PromptSampler(labels.prompts, stream_rng(seed, _PROMPTS),
                                      data_dir=data_dir, base_dir=base_dir)
                        if labels.prompts is not None else None)
        self.category = (popularity_sampler(labels.category, "category",
                                            stream_rng(seed, _CATEGORY))
                         if labels.category is not None else None)
        self.expert = (popularity_sampler(labels.expert, "expert", stream_rng(seed, _EXPERT))
                       if labels.expert is not None else None)

    def apply(self, columns: dict[str, np.ndarray], n: int) -> None:
        if self.prompts is not None:
            columns["category"], columns["prompt_text"] = self.prompts.draw(n)
        if self.category is not None:
            columns["category"] = self.category.draw(n)
        if self.expert is not None:
            columns["expert"] = self.expert.draw(n)


class RequestStream(Iterator[RequestChunk]):
    """An iterator of request chunks that also counts what it read (``stats``).

    Files are found and their format checked when the stream is made, so a bad path fails
    before the simulation starts; rows are read lazily, chunk by chunk.
    """

    def __init__(self, config: WorkloadSpec, *, seed: int, data_dir: Path, base_dir: Path,
                 chunk_rows: int = 65536) -> None:
        if chunk_rows < 1:
            raise ValueError("chunk_rows must be >= 1")
        self.config = config
        self.chunk_rows = chunk_rows
        self.stats = WorkloadStats()
        gen = config.generator
        if gen is None:  # the trace first: the file most worth an early, clear error
            assert config.trace is not None
            path = _located(resolve_data_path, "workload.trace", config.trace, data_dir, base_dir)
            self.spec: TraceSpec = spec_for_workload(config, path)
        labels: RequestLabelsSpec = gen if gen is not None else config
        self._labeler = _located(_Labeler, "workload.prompts" if gen is None else
                                 "workload.generator.prompts", labels, seed, data_dir, base_dir)
        arrivals = gen.arrivals if gen is not None else config.arrivals
        self._arrivals = (make_arrivals(arrivals, stream_rng(seed, _ARRIVALS),
                                        stream_rng(seed, _PERIODS)) if arrivals else None)
        if gen is not None:
            rngs = (stream_rng(seed, _PROMPT_TOKENS), stream_rng(seed, _OUTPUT_TOKENS))
            self._lengths = _located(lambda: LengthPair(gen.prompt_tokens, gen.output_tokens,
                                                        rngs, data_dir=data_dir,
                                                        base_dir=base_dir), "workload.generator")
            self._chunks = self._generate()
        else:
            self._chunks = self._replay()

    def __next__(self) -> RequestChunk:
        return next(self._chunks)

    def _generate(self) -> Iterator[RequestChunk]:
        gen = self.config.generator
        assert gen is not None and self._arrivals is not None
        for start in range(0, gen.requests, self.chunk_rows):
            n = min(self.chunk_rows, gen.requests - start)
            columns = {"arrival_s": self._arrivals.next(n)}
            self._labeler.apply(columns, n)
            columns["prompt_tokens"], columns["output_tokens"] = self._lengths.draw(
                n, columns.get("prompt_text"))
            yield self._finish(columns)

    def _replay(self) -> Iterator[RequestChunk]:
        """Passes over the trace (one, or looped) until it ends or ``max_requests`` is met."""
        from sn40l_sim.workload.trace_columns import iter_trace  # pandas: only a trace needs it

        cfg = self.config
        remaining = cfg.max_requests  # None: no limit
        offset_s = 0.0  # start of this pass in trace time (looping)
        while True:
            self.stats.n_trace_passes += 1
            n_pass, last_s = 0, 0.0
            for frame in iter_trace(self.spec, chunk_rows=self.chunk_rows,
                                    skip_bad=cfg.on_bad_row == "skip", stats=self.stats):
                if remaining is not None:
                    frame = frame.head(remaining)
                n = len(frame)
                columns = dict(frame.columns)
                if self._arrivals is not None:
                    columns["arrival_s"] = self._arrivals.next(n)
                else:
                    last_s = float(columns["arrival_s"][-1])
                    columns["arrival_s"] = columns["arrival_s"] + offset_s
                columns["arrival_s"] = columns["arrival_s"] / cfg.rate_multiplier
                self._labeler.apply(columns, n)
                yield self._finish(columns)
                n_pass += n
                if remaining is not None:
                    remaining -= n
                    if remaining == 0:
                        return
            if n_pass == 0:
                raise InputError("the trace has no valid requests", file=str(self.spec.path))
            if not cfg.loop:
                return
            # The next pass starts one mean inter-arrival gap after this one's last request.
            offset_s += last_s + (last_s / (n_pass - 1) if n_pass > 1 else 0.0)

    def _beyond_time_limit(self, arrival_s: float) -> None:
        """Arrivals past MAX_TIME_S (a slow rate, a small rate_multiplier, many loops) stop the
        run with the setting that made them, before a request with an imprecise time is made."""
        cfg = self.config
        field = ("workload.generator.arrivals" if cfg.generator is not None
                 else "workload.arrivals" if cfg.arrivals is not None
                 else "workload.rate_multiplier")
        raise InputError(f"request {self.stats.n_requests:,} or a later one arrives at "
                         f"{arrival_s:.4g} s, beyond the simulator's limit of {MAX_TIME_S:g} s of "
                         "simulated time (see docs/limits.md)",
                         file=str(self.spec.path) if cfg.generator is None else None, field=field)

    def _finish(self, columns: dict[str, np.ndarray]) -> RequestChunk:
        """Order and type the columns; raise 0-token counts to 1, counting them."""
        out: dict[str, np.ndarray] = {"arrival_s": np.asarray(columns["arrival_s"], np.float64)}
        if len(out["arrival_s"]) and not out["arrival_s"][-1] <= MAX_TIME_S:
            self._beyond_time_limit(float(out["arrival_s"][-1]))
        for name, counter in (("prompt_tokens", "n_zero_prompt_clipped"),
                              ("output_tokens", "n_zero_output_clipped")):
            tokens = np.asarray(columns[name], dtype=np.int64)
            zero = tokens < 1
            if zero.any():
                setattr(self.stats, counter, getattr(self.stats, counter) + int(zero.sum()))
                tokens = np.where(zero, 1, tokens)
            out[name] = tokens
        for name in OPTIONAL_COLUMNS:
            if name in columns:
                out[name] = columns[name]
        self.stats.n_requests += len(out["arrival_s"])
        return RequestChunk(out)


def iter_request_chunks(config: WorkloadSpec, *, seed: int, data_dir: Path, base_dir: Path,
                        chunk_rows: int = 65536) -> RequestStream:
    """The workload's requests as :class:`RequestChunk` chunks (see the module docstring).

    The returned iterator's ``stats`` (a :class:`WorkloadStats`) counts requests, skipped bad
    rows and clipped 0-token rows so far.
    """
    return RequestStream(config, seed=seed, data_dir=data_dir, base_dir=base_dir,
                         chunk_rows=chunk_rows)


def count_hint(config: WorkloadSpec, *, data_dir: Path, base_dir: Path) -> int | None:
    """About how many requests the workload has (for progress bars); None when unknown."""
    if config.generator is not None:
        return config.generator.requests
    if config.loop:
        return config.max_requests
    try:
        assert config.trace is not None
        path = resolve_data_path(config.trace, data_dir, base_dir)
        n_rows = _count_rows(path)
    except (InputError, OSError):
        return None
    if n_rows is None or config.max_requests is None:
        return n_rows if n_rows is not None else config.max_requests
    return min(n_rows, config.max_requests)


def _count_rows(path: Path) -> int | None:
    """Data rows of a file: Parquet metadata, or newlines of a plain CSV / JSONL file."""
    kind = file_type_of(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix.lower() == ".gz":
        return None  # compressed: counting would mean decompressing
    n_lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            n_lines += block.count(b"\n")
            last = block[-1:]
    n_lines += last != b"\n"  # a last line without a newline
    return max(0, n_lines - (1 if kind == "csv" else 0))
