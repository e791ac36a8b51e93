"""numpy arrays to Arrow arrays and back at the buffer level, so results never import pandas.

pyarrow's own conversions (``pa.array``, ``Array.to_numpy``, scalars, ``Schema.empty_table``) ask
its lazy pandas shim whether pandas is installed, and that imports pandas: about a quarter of a
CPU second, as much as the rest of a small run's start-up. Arrays made from buffers
(``Array.from_buffers``) and read back through ``np.frombuffer`` never touch the shim, and copy
no more than pyarrow's conversions would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import count

import numpy as np
import pyarrow as pa

_ARROW_TYPES = {np.dtype(np.int64): pa.int64(), np.dtype(np.float64): pa.float64(),
                np.dtype(np.int32): pa.int32(), np.dtype(np.int8): pa.int8()}
_NUMPY_TYPES = {pa.int64(): np.int64, pa.float64(): np.float64, pa.int32(): np.int32,
                pa.int8(): np.int8, pa.float32(): np.float32, pa.int16(): np.int16}


def _validity(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    """Arrow's validity bitmap of a boolean mask (None when every value is valid), null count."""
    n_null = int(len(valid) - np.count_nonzero(valid))
    return (pa.py_buffer(np.packbits(valid, bitorder="little")) if n_null else None), n_null


def numbers(values: np.ndarray, *, nan_as_null: bool = False) -> pa.Array:
    """An int64/int32/int8/float64 array; ``nan_as_null``: NaN as null, as pandas' conversion."""
    values = np.ascontiguousarray(values)
    validity, n_null = None, 0
    if nan_as_null and values.dtype.kind == "f":
        validity, n_null = _validity(~np.isnan(values))
    return pa.Array.from_buffers(_ARROW_TYPES[values.dtype], len(values),
                                 [validity, pa.py_buffer(values)], null_count=n_null)


def booleans(values: np.ndarray) -> pa.Array:
    """A boolean array (Arrow packs it into bits)."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def _large_strings(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    validity, n_null = _validity(valid) if valid is not None else (None, 0)
    return pa.Array.from_buffers(pa.large_string(), len(offsets) - 1,
                                 [validity, pa.py_buffer(offsets), pa.py_buffer(data)],
                                 null_count=n_null)


class Vocabulary:
    """A few distinct strings (expert names, outcomes, links) as UTF-8 bytes and offsets, from
    which text columns are gathered by index in numpy (``Array.take`` would import
    ``pyarrow.compute``, 30 ms of start-up)."""

    def __init__(self, names: Sequence[str]) -> None:
        encoded = [name.encode("utf-8") for name in names]
        self.offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=self.offsets[1:])
        self.data = np.frombuffer(b"".join(encoded), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def array(self) -> pa.Array:
        """Every name once, in order."""
        return _large_strings(self.offsets, self.data)

    def take(self, codes: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
        """``names[codes]`` as a large_string array; rows where ``valid`` is False are null."""
        codes = np.asarray(codes, dtype=np.int64)
        if valid is not None:
            codes = np.where(valid, codes, 0)
        starts = self.offsets[:-1][codes]
        lengths = self.offsets[1:][codes] - starts
        if valid is not None:
            lengths[~valid] = 0
        offsets = np.zeros(len(codes) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # byte j of row r comes from starts[r] + (j - offsets[r])
        source = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1] - starts, lengths)
        return _large_strings(offsets, self.data[source], valid)


def strings(names: Sequence[str]) -> pa.Array:
    """A large_string array of ``names``."""
    return Vocabulary(names).array()


def text(values: Sequence[str | None]) -> pa.Array:
    """A large_string array of Python strings (None: null); results repeat a few distinct
    strings (expert names, outcomes, links), so each distinct one is encoded once."""
    # Each row maps to the row where its value first appeared, in C (no Python frame per row);
    # those rows, in the dict's insertion order, are increasing, so a search gives the codes.
    first_row: dict[str | None, int] = {}
    rows = np.fromiter(map(first_row.setdefault, values, count()), np.int64, len(values))
    codes = np.searchsorted(np.fromiter(first_row.values(), np.int64, len(first_row)), rows)
    names = [name if name is not None else "" for name in first_row]
    valid = None
    if None in first_row:
        valid = rows != first_row[None]
    return Vocabulary(names).take(codes, valid)


def text_columns(schema: pa.Schema) -> list[str]:
    """The names of a schema's text columns (string or large_string): the ones read
    dictionary-encoded and compared as codes, and the only ones worth a dictionary when written."""
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def empty(kind: pa.DataType) -> pa.Array:
    """A zero-length array of a type these results use."""
    if kind == pa.large_string():
        return strings([])
    if kind == pa.bool_():
        return booleans(np.zeros(0, dtype=bool))
    return numbers(np.zeros(0, dtype=_NUMPY_TYPES[kind]))


def to_numpy(column: pa.ChunkedArray, dtype: type[np.generic]) -> np.ndarray:
    """A numeric column as ``dtype`` (float: nulls as NaN; int: no nulls allowed)."""
    parts = [_chunk_values(chunk) for chunk in column.chunks]
    values = np.concatenate(parts) if parts else np.zeros(0)
    return values.astype(dtype, copy=False)


def _chunk_values(chunk: pa.Array) -> np.ndarray:
    kind = chunk.type
    if kind not in _NUMPY_TYPES:
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                or pa.types.is_decimal(kind)):
            raise TypeError(f"not a numeric column: {kind}")
        # A type these results never write (a file rewritten by another tool): value by value,
        # slow but exact enough for a summary, and nothing here imports pandas.
        return np.array([math.nan if v is None else float(v) for v in chunk.to_pylist()],
                        dtype=np.float64)
    if len(chunk) == 0:
        return np.zeros(0, dtype=_NUMPY_TYPES[kind])
    itemsize = np.dtype(_NUMPY_TYPES[kind]).itemsize
    values = np.frombuffer(chunk.buffers()[1], dtype=_NUMPY_TYPES[kind], count=len(chunk),
                           offset=chunk.offset * itemsize)
    if chunk.null_count:
        values = values.astype(np.float64)
        values[~valid_mask(chunk)] = np.nan
    return values


def valid_mask(chunk: pa.Array) -> np.ndarray:
    """Which rows of one chunk are not null."""
    bitmap = chunk.buffers()[0]
    if bitmap is None or chunk.null_count == 0:
        return np.ones(len(chunk), dtype=bool)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[chunk.offset: chunk.offset + len(chunk)].astype(bool)


def dictionary_codes(chunk: pa.DictionaryArray) -> tuple[np.ndarray, list[str]]:
    """Codes (-1: null) into the chunk's dictionary (int32, as Arrow's indices), and its strings."""
    indices = chunk.indices
    if len(indices) == 0:
        codes = np.zeros(0, dtype=np.int32)
    else:
        codes = np.frombuffer(indices.buffers()[1], dtype=np.int32, count=len(indices),
                              offset=indices.offset * 4)
        if indices.null_count:
            codes = np.where(valid_mask(indices), codes, -1).astype(np.int32)
    names = [str(name) for name in chunk.dictionary.to_pylist()]
    return codes, names
