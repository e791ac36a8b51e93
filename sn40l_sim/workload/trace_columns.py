"""Trace files as chunks of clean requests: columns converted, bad rows located, time from 0.

:func:`iter_trace` turns raw chunks (pandas DataFrames: pandas is the CSV parser, imported only
when a trace is read) into :class:`RequestChunk` columns ``arrival_s`` (seconds from the trace's
first request; absent when the trace has no timestamps), ``prompt_tokens`` and
``output_tokens`` (int64 >= 0) and any mapped optional columns (str). A row with a missing or
invalid value either stops the run with its file and line, or is skipped and counted.
Arrival times must not decrease: a trace is replayed in file order, never re-sorted.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from sn40l_sim.config.limits import MAX_TIME_S, MAX_TOKENS
from sn40l_sim.errors import InputError
from sn40l_sim.workload.request_chunk import RequestChunk
from sn40l_sim.workload.trace_formats import TraceSpec
from sn40l_sim.workload.trace_reader import RawChunk, read_raw_chunks
from sn40l_sim.workload.workload_stats import WorkloadStats

# Datetimes pandas holds as int64 nanoseconds (1677-09-21 .. 2262-04-11), a little inside.
_FIRST_STAMP = pd.Timestamp("1678-01-01", tz="UTC")
_LAST_STAMP = pd.Timestamp("2262-01-01", tz="UTC")
_UNIT_S = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
TEXT_FIELDS = ("category", "expert", "prompt_text")


def _tokens(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whole numbers >= 0 as int64, and a mask of rows that are not."""
    if (pd.api.types.is_integer_dtype(series.dtype) and not series.hasnans
            and not isinstance(series.dtype, pd.CategoricalDtype)):
        values = series.to_numpy()  # int64 or uint64: compared before any conversion
        bad = (values < 0) | (values > MAX_TOKENS)
        return np.where(bad, 0, values).astype(np.int64), bad
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = (~np.isfinite(numbers) | (numbers < 0) | (numbers != np.floor(numbers))
               | (numbers > MAX_TOKENS))
    return np.where(bad, 0, numbers).astype(np.int64), bad


def _arrival(series: pd.Series, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times as int64 ns (datetime) or float64 seconds, and a mask of invalid rows."""
    if unit == "datetime":
        stamps = pd.to_datetime(series, format="ISO8601", errors="coerce", utc=True)
        stamps = stamps.where((stamps >= _FIRST_STAMP) & (stamps < _LAST_STAMP))  # year 0001, 9999
        stamps = stamps.astype("datetime64[ns, UTC]")
        return stamps.array.asi8.copy(), stamps.isna().to_numpy()
    numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return numbers * _UNIT_S[unit], ~np.isfinite(numbers)


def _text(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Labels and prompt texts as str (numbers such as expert ids too); missing is invalid, and
    so is a value that is not text: bytes that are not UTF-8 (a binary Parquet column) or a lone
    surrogate (JSON ``"\\ud800"``), which no results file could hold."""
    missing = series.isna().to_numpy()
    try:
        return series.astype(str).to_numpy(dtype=object), missing
    except UnicodeError:
        pass
    values = series.to_numpy(dtype=object)
    texts = np.empty(len(values), dtype=object)
    wrong = missing.copy()
    for k, value in enumerate(values):
        texts[k] = ""
        if wrong[k]:
            continue
        try:
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            text.encode("utf-8")
        except UnicodeError:
            wrong[k] = True
        else:
            texts[k] = text
    return texts, wrong


class TraceReader:
    """Reads one pass over a trace file; ``iter_trace`` is the usual entry point."""

    def __init__(self, spec: TraceSpec, *, skip_bad: bool, stats: WorkloadStats) -> None:
        self.spec = spec
        self.skip_bad = skip_bad
        self.stats = stats
        self.t0: float | int | None = None  # first arrival (ns for datetime, else seconds)
        self.last_s = -np.inf
        self.last_line = 0

    def chunks(self, chunk_rows: int) -> Iterator[RequestChunk]:
        for raw in read_raw_chunks(self.spec, chunk_rows):
            frame = self._convert(raw)
            if len(frame):
                yield frame

    def _convert(self, raw: RawChunk) -> RequestChunk:
        spec, src = self.spec, raw.frame
        out: dict[str, np.ndarray] = {}
        checks: list[tuple[np.ndarray, str, str]] = []  # (invalid rows, field, what was expected)
        if spec.has_arrival:
            assert spec.arrival_unit is not None
            out["arrival"], wrong = _arrival(src[spec.columns["arrival"]], spec.arrival_unit)
            expected = ("a date-time from 1678 to 2261" if spec.arrival_unit == "datetime"
                        else "a number")
            checks.append((wrong, "arrival", expected))
        for field in ("prompt_tokens", "output_tokens"):
            out[field], wrong = _tokens(src[spec.columns[field]])
            checks.append((wrong, field, f"a whole number from 0 to {MAX_TOKENS:,}"))
        for field in TEXT_FIELDS:
            if field in spec.columns:
                out[field], wrong = _text(src[spec.columns[field]])
                checks.append((wrong, field, "a value"))
        bad = np.logical_or.reduce([wrong for wrong, _, _ in checks])
        lines = raw.lines
        if bad.any() or raw.broken:
            self._bad_rows(raw, bad, checks)
            keep = ~bad
            lines = lines[keep]
            out = {k: v[keep] for k, v in out.items()}
        return self._frame(out, lines)

    def _where(self, line: int) -> tuple[str, int | None]:
        """(prefix for a message, line for InputError): Parquet has rows, not lines."""
        if self.spec.file_type == "parquet":
            return f"row {line}: ", None
        return "", line

    def _bad_rows(self, raw: RawChunk, bad: np.ndarray,
                  checks: list[tuple[np.ndarray, str, str]]) -> None:
        """Stop at the chunk's first bad line (in file order), or count its bad rows."""
        problems = list(raw.broken)
        rows = np.flatnonzero(bad)
        if rows.size:
            first = int(rows[0])
            _, field, expected = next(c for c in checks if c[0][first])
            column = self.spec.columns[field]
            value = raw.frame[column].iloc[first]
            value = value.item() if isinstance(value, np.generic) else value
            problems.append((int(raw.lines[first]),
                             f"{field} (column {column!r}): expected {expected}, got {value!r}"))
        line, why = min(problems)
        prefix, located = self._where(line)
        if not self.skip_bad:
            raise InputError(f"{prefix}malformed row: {why}", file=str(self.spec.path),
                             line=located)
        where = f"{self.spec.path}:{prefix.rstrip(': ') or line}"
        self.stats.skipped(where, why, int(rows.size) + len(raw.broken))

    def _frame(self, out: dict[str, np.ndarray], lines: np.ndarray) -> RequestChunk:
        frame: dict[str, np.ndarray] = {}
        if "arrival" in out:
            frame["arrival_s"] = self._relative_s(out.pop("arrival"), lines)
        frame.update(out)
        return RequestChunk(frame)

    def _relative_s(self, arrival: np.ndarray, lines: np.ndarray) -> np.ndarray:
        """Seconds since the trace's first request; raise where time goes backwards."""
        if len(arrival) == 0:
            return arrival.astype(np.float64)
        if self.t0 is None:
            self.t0 = arrival[0]
        if arrival.dtype == np.int64:  # datetime ns: subtract in integers, exact
            with np.errstate(over="ignore"):
                seconds = (arrival - np.int64(self.t0)).astype(np.float64) * 1e-9
            # Centuries apart the int64 difference wraps; the float one is then exact enough to
            # be reported as beyond MAX_TIME_S below.
            approx = (arrival.astype(np.float64) - float(self.t0)) * 1e-9
            seconds = np.where(np.abs(approx) > 2 * MAX_TIME_S, approx, seconds)
        else:
            seconds = arrival - float(self.t0)
        late = np.flatnonzero(np.abs(seconds) > MAX_TIME_S)
        if late.size:
            prefix, line = self._where(int(lines[late[0]]))
            raise InputError(f"{prefix}arrival {seconds[late[0]]:.4g} s after the trace's first "
                             f"request is beyond the simulator's limit of {MAX_TIME_S:g} s "
                             "(see docs/limits.md)", file=str(self.spec.path), line=line)
        previous = np.concatenate(([self.last_s], seconds[:-1]))
        back = np.flatnonzero(seconds < previous)
        if back.size:
            i = int(back[0])
            before = self.last_line if i == 0 else int(lines[i - 1])
            prefix, line = self._where(int(lines[i]))
            raise InputError(f"{prefix}arrival times must not decrease: this row is "
                             f"{previous[i] - seconds[i]:.6g} s earlier than the row at "
                             f"{'row' if line is None else 'line'} {before}; sort the trace "
                             "by time", file=str(self.spec.path), line=line)
        self.last_s, self.last_line = float(seconds[-1]), int(lines[-1])
        return seconds


def iter_trace(spec: TraceSpec, *, chunk_rows: int, skip_bad: bool,
               stats: WorkloadStats) -> Iterator[RequestChunk]:
    """One pass over a trace file as clean chunks (see the module docstring)."""
    return TraceReader(spec, skip_bad=skip_bad, stats=stats).chunks(chunk_rows)


def read_lengths(spec: TraceSpec, *, skip_bad: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All (prompt_tokens, output_tokens) of a trace, for empirical length distributions."""
    prompts: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    for frame in iter_trace(spec, chunk_rows=1 << 18, skip_bad=skip_bad, stats=WorkloadStats()):
        prompts.append(frame["prompt_tokens"])
        outputs.append(frame["output_tokens"])
    if not prompts:
        raise InputError("the trace has no valid rows", file=str(spec.path))
    return np.concatenate(prompts), np.concatenate(outputs)
