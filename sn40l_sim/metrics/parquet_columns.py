"""A results table read one column at a time, so a summary of a million requests stays small.

A whole ``requests.parquet`` of a million requests is hundreds of MB as a DataFrame (its text columns
most of all); one float column is 8 MB. Text columns are compared in Arrow, never turned into a
million Python strings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sn40l_sim.errors import InputError


class ParquetColumns:
    """Typed column reads of one Parquet file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.n_rows: int = pq.ParquetFile(path).metadata.num_rows
        except FileNotFoundError:
            raise InputError("no such file: not a finished results folder", file=str(path)) from None

    def _column(self, name: str) -> pa.ChunkedArray:
        try:
            table = pq.read_table(self.path, columns=[name])
        except (KeyError, pa.ArrowInvalid) as exc:
            raise InputError(f"no column {name!r} ({exc})", file=str(self.path)) from None
        return table.column(0)

    def floats(self, name: str) -> np.ndarray:
        """A numeric column as float64, nulls as NaN."""
        return np.asarray(self._column(name).to_numpy(), dtype=np.float64)

    def ints(self, name: str) -> np.ndarray:
        """An integer column without nulls as int64."""
        return np.asarray(self._column(name).to_numpy(), dtype=np.int64)

    def equals(self, name: str, value: str) -> np.ndarray:
        """Where a text column equals ``value`` (null: False), as a boolean array."""
        hit = pc.fill_null(pc.equal(self._column(name), value), False)
        return np.asarray(hit.to_numpy(), dtype=bool)

    def strings(self, name: str, where: np.ndarray) -> np.ndarray:
        """The rows ``where`` is True of a text column, as Python strings (keep ``where`` short)."""
        kept = pc.filter(self._column(name), pa.array(where))
        return np.asarray(kept.to_pylist(), dtype=object)

    def value_counts(self, name: str) -> dict[str, int]:
        """How often each non-null value of a text column occurs, most frequent first (ties by
        value, so the order is the same on every run)."""
        counts = pc.value_counts(self._column(name).drop_null()).to_pylist()
        pairs = sorted(((str(c["values"]), int(c["counts"])) for c in counts), key=lambda p: (-p[1], p[0]))
        return {value: n for value, n in pairs if n}
