"""A results table read one column at a time, so a summary of a million requests stays small.

A whole ``requests.parquet`` of a million requests is hundreds of MB as a DataFrame (its text columns
most of all); one float column is 8 MB. Text columns are read dictionary-encoded and compared as
integer codes, never turned into a million Python strings. Columns become numpy arrays through
their buffers (:mod:`.arrow_buffers`), which keeps pandas unimported. The file is opened, and its
footer parsed, once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sn40l_sim.errors import InputError
from sn40l_sim.metrics import arrow_buffers as ab


class ParquetColumns:
    """Typed column reads of one Parquet file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            schema = pq.read_schema(path)
            self._file = pq.ParquetFile(path, read_dictionary=ab.text_columns(schema))
        except FileNotFoundError:
            raise InputError("no such file: not a finished results folder", file=str(path)) from None
        except IsADirectoryError:
            raise InputError("is a folder, not a Parquet file", file=str(path)) from None
        except PermissionError:
            raise InputError("cannot read the file (permission denied)", file=str(path)) from None
        except (OSError, pa.ArrowException, ValueError) as exc:  # empty, truncated, not Parquet
            raise InputError(f"not a readable Parquet file ({_short(exc)})", file=str(path)) from None
        self.n_rows: int = self._file.metadata.num_rows
        # the last text column's codes: equals() on one column twice in a row reads it once
        self._last: tuple[str, list[tuple[np.ndarray, list[str]]]] | None = None

    def has(self, name: str) -> bool:
        """Whether the file has column ``name`` (results of older versions may lack one)."""
        return name in self._file.schema_arrow.names

    def _column(self, name: str) -> pa.ChunkedArray:
        try:
            table = self._file.read(columns=[name], use_threads=False)
        except (KeyError, pa.ArrowInvalid) as exc:
            raise InputError(f"no column {name!r} ({_short(exc)})", file=str(self.path)) from None
        except (OSError, pa.ArrowException, ValueError) as exc:  # a damaged page
            raise InputError(f"cannot read column {name!r}: {_short(exc)}", file=str(self.path)) from None
        if table.num_columns != 1:
            raise InputError(f"no column {name!r}", file=str(self.path))
        return table.column(0)

    def floats(self, name: str) -> np.ndarray:
        """A numeric column as float64, nulls as NaN."""
        return self._numbers(name, np.float64)

    def ints(self, name: str) -> np.ndarray:
        """An integer column without nulls as int64."""
        return self._numbers(name, np.int64)

    def _numbers(self, name: str, dtype: type[np.generic]) -> np.ndarray:
        column = self._column(name)
        try:
            return ab.to_numpy(column, dtype)
        except TypeError:
            raise InputError(f"column {name!r} is {column.type}, expected numbers",
                             file=str(self.path)) from None

    def _codes(self, name: str) -> list[tuple[np.ndarray, list[str]]]:
        """Per chunk: dictionary codes of a text column (-1: null) and the dictionary."""
        if self._last is not None and self._last[0] == name:
            return self._last[1]
        column = self._column(name)
        if not pa.types.is_dictionary(column.type):
            raise InputError(f"column {name!r} is not text", file=str(self.path))
        codes = [ab.dictionary_codes(chunk) for chunk in column.chunks]
        self._last = (name, codes)
        return codes

    def equals(self, name: str, value: str) -> np.ndarray:
        """Where a text column equals ``value`` (null: False), as a boolean array."""
        parts = [codes == (names.index(value) if value in names else -2)
                 for codes, names in self._codes(name)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)

    def strings(self, name: str, where: np.ndarray) -> np.ndarray:
        """The rows ``where`` is True of a text column, as Python strings (null: None)."""
        parts, start = [], 0
        for codes, names in self._codes(name):
            kept = codes[where[start: start + len(codes)]]
            start += len(codes)
            lookup = np.asarray([*names, None], dtype=object)
            parts.append(lookup[np.where(kept < 0, len(names), kept)])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=object)

    def value_counts(self, name: str, where: np.ndarray | None = None) -> dict[str, int]:
        """How often each non-null value of a text column occurs (in the rows ``where`` is True,
        if given), most frequent first (ties by value, so the order is the same on every run)."""
        counts: dict[str, int] = {}
        start = 0
        for codes, names in self._codes(name):
            kept = codes if where is None else codes[where[start: start + len(codes)]]
            start += len(codes)
            for code, n in enumerate(np.bincount(kept[kept >= 0], minlength=len(names)).tolist()):
                counts[names[code]] = counts.get(names[code], 0) + n
        pairs = sorted(counts.items(), key=lambda p: (-p[1], p[0]))
        return {value: n for value, n in pairs if n}


def _short(exc: BaseException) -> str:
    """An Arrow error's message on one line, at most 200 characters."""
    return " ".join(str(exc).split())[:200] or type(exc).__name__
