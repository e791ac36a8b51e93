"""Read a trace file in chunks, with the physical line number of every row.

CSV goes through pandas' C parser (``chunksize``), JSONL line by line (so a bad line is found
exactly), Parquet through pyarrow record batches; none needs the whole file in memory. Rows that
cannot even be split into fields (wrong field count, invalid JSON) are handled here; bad values
in well-formed rows are found later, when the columns are converted.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from sn40l_sim.errors import InputError
from sn40l_sim.workload.trace_formats import TraceSpec, open_text

_LINE = re.compile(r"line (\d+)")
_SKIPPED = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Source columns of some rows as read, and where each row is (line, or row for Parquet).

    ``broken`` lists (line, why) of lines up to this chunk's last row that could not be split
    into fields at all; the caller reports them in line order with the rows' own problems.
    """

    frame: pd.DataFrame
    lines: np.ndarray  # int64, 1-based
    broken: list[tuple[int, str]] = field(default_factory=list)


def read_raw_chunks(spec: TraceSpec, chunk_rows: int) -> Iterator[RawChunk]:
    """Chunks of the spec's source columns, in file order."""
    columns = list(dict.fromkeys(spec.columns.values()))
    if spec.file_type == "csv":
        return _csv_chunks(spec, columns, chunk_rows)
    if spec.file_type == "jsonl":
        return _jsonl_chunks(spec, columns, chunk_rows)
    return _parquet_chunks(spec, columns, chunk_rows)


def _csv_chunks(spec: TraceSpec, columns: list[str], chunk_rows: int) -> Iterator[RawChunk]:
    # Blank lines are kept as all-empty rows (then dropped) so row numbers map to lines; no
    # usecols, because with it pandas stops noticing rows that have too many fields. pandas
    # skips (and warns about) lines with too many fields, so rows and lines stay aligned.
    pending = _leading_long_lines(spec)
    # Only an empty field is missing: a line such as "NaN" or "null,null,null" is a bad row to
    # report, not a blank line to drop silently.
    reader = pd.read_csv(spec.path, chunksize=chunk_rows, skip_blank_lines=False,
                         on_bad_lines="warn", skiprows=[line - 1 for line, _ in pending],
                         keep_default_na=False, na_values=[""])
    skipped_at = [line - 2 - k for k, (line, _) in enumerate(pending)]  # data-row positions
    with reader:
        while True:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = _next_csv_chunk(reader, spec)
            for w in caught:  # lines pandas skipped (reported even by the call that ends)
                for match in _SKIPPED.finditer(str(w.message)):
                    line = int(match.group(1))
                    skipped_at.append(line - 2 - len(skipped_at))
                    pending.append((line, f"expected {match.group(2)} fields, saw "
                                          f"{match.group(3)}"))
            if frame is None:
                if pending:
                    yield RawChunk(pd.DataFrame({c: [] for c in columns}),
                                   np.empty(0, np.int64), pending)
                return
            rows = frame.index.to_numpy(dtype=np.int64)
            shift = np.searchsorted(np.asarray(skipped_at, dtype=np.int64), rows, side="right")
            lines = rows + 2 + shift
            last = int(lines[-1]) if len(lines) else 0
            broken = [b for b in pending if b[0] < last]
            pending = [b for b in pending if b[0] >= last]
            blank = frame.isna().all(axis=1).to_numpy()
            if blank.any():
                frame, lines = frame.loc[~blank], lines[~blank]
            yield RawChunk(frame[columns], lines, broken)


def _next_csv_chunk(reader: Iterator[pd.DataFrame], spec: TraceSpec) -> pd.DataFrame | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        match = _LINE.search(str(exc))
        raise InputError(f"malformed row: {_short(exc)}", file=str(spec.path),
                         line=int(match.group(1)) if match else None) from None


def _leading_long_lines(spec: TraceSpec) -> list[tuple[int, str]]:
    """Lines at the top with more fields than the header.

    pandas would silently read the extra leading fields of the first data row as an index, so
    such rows are found here (later ones pandas reports itself).
    """
    long_lines: list[tuple[int, str]] = []
    with open_text(spec.path) as handle:
        reader = csv.reader(handle)
        try:
            n_header = len(next(reader, []))
            for fields in reader:
                if len(fields) <= n_header:
                    break
                long_lines.append((reader.line_num,
                                   f"expected {n_header} fields, saw {len(fields)}"))
        except (UnicodeDecodeError, csv.Error) as exc:  # as pandas' own errors, below
            raise InputError(f"malformed row: {_short(exc)}", file=str(spec.path)) from None
    return long_lines


def _short(exc: Exception) -> str:
    return str(exc).replace("Error tokenizing data. C error: ", "").strip()


def _jsonl_chunks(spec: TraceSpec, columns: list[str], chunk_rows: int) -> Iterator[RawChunk]:
    values: list[list[object]] = [[] for _ in columns]
    lines: list[int] = []
    broken: list[tuple[int, str]] = []
    with open_text(spec.path) as handle:
        for line_no, text in enumerate(handle, 1):
            if not text.strip():
                continue
            record = _json_record(text)
            if record is None:
                broken.append((line_no, "expected one JSON object on the line"))
                continue
            for column, out in zip(columns, values, strict=True):
                out.append(record.get(column))
            lines.append(line_no)
            if len(lines) == chunk_rows:
                yield _chunk_of(columns, values, lines, broken)
                values, lines, broken = [[] for _ in columns], [], []
    if lines or broken:
        yield _chunk_of(columns, values, lines, broken)


def _json_record(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):  # the json module recurses: a line nested 5,000 deep
        return None
    return record if isinstance(record, dict) else None


def _chunk_of(columns: list[str], values: list[list[object]], lines: list[int],
              broken: list[tuple[int, str]]) -> RawChunk:
    frame = pd.DataFrame({c: _series(v) for c, v in zip(columns, values, strict=True)})
    return RawChunk(frame, np.asarray(lines, dtype=np.int64), broken)


def _series(values: list[object]) -> pd.Series:
    """One column of JSON values; strings that cannot be UTF-8 (a lone surrogate, ``"\\ud800"``)
    stay Python objects, so the column converter reports their rows instead of pandas failing."""
    try:
        return pd.Series(values, dtype=_infer(values))
    except UnicodeError:
        return pd.Series(values, dtype=object)


def _infer(values: list[object]) -> str | None:
    """Keep whole-number JSON columns as int64 (fast path); anything else is inferred."""
    if values and all(type(v) is int for v in values):
        return "int64"
    return None


def _parquet_chunks(spec: TraceSpec, columns: list[str], chunk_rows: int) -> Iterator[RawChunk]:
    try:
        source = pq.ParquetFile(spec.path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the Parquet file: {exc}", file=str(spec.path)) from None
    first = 1
    for batch in source.iter_batches(batch_size=chunk_rows, columns=columns):
        frame = batch.to_pandas()
        yield RawChunk(frame, np.arange(first, first + len(frame), dtype=np.int64))
        first += len(frame)
