"""Results written and read through Arrow buffers: the same tables pandas' route gave, no pandas.

The recorder and the summary avoid pyarrow's conversions because they import pandas; these tests
hold the buffer-level helpers to what those conversions give (pandas is imported here, in the test
only), and pin the result schemas, pandas metadata included, to what ``Table.from_pandas`` writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sn40l_sim.errors import InputError
from sn40l_sim.metrics import arrow_buffers as ab
from sn40l_sim.metrics.parquet_columns import ParquetColumns
from sn40l_sim.metrics.result_schemas import EVENT_FIELDS, REQUEST_FIELDS, events_schema, requests_schema


def _frame_like_before(fields: tuple[tuple[str, pa.DataType], ...], text: str) -> pd.DataFrame:
    """One row per field list, typed as the recorder's DataFrames were (text: 'string' or str)."""
    data: dict[str, object] = {}
    for name, kind in fields:
        if kind == pa.large_string():
            data[name] = pd.array(["x"], dtype="string") if text == "string" else ["x"]
        elif kind == pa.bool_():
            data[name] = np.array([True])
        elif kind == pa.int64():
            data[name] = np.array([1], dtype=np.int64)
        else:
            data[name] = np.array([0.5])
    return pd.DataFrame(data)


def test_schemas_are_what_from_pandas_writes() -> None:
    requests = pa.Table.from_pandas(_frame_like_before(REQUEST_FIELDS, "string"), preserve_index=False)
    events = pa.Table.from_pandas(_frame_like_before(EVENT_FIELDS, "str"), preserve_index=False)
    empty_events = pa.Table.from_pandas(
        pd.DataFrame({name: pd.Series(dtype="string" if kind == pa.large_string() else kind.to_pandas_dtype())
                      for name, kind in EVENT_FIELDS}), preserve_index=False)
    assert requests.schema.equals(requests_schema(), check_metadata=True)
    assert events.schema.equals(events_schema(), check_metadata=True)
    assert empty_events.schema.equals(events_schema(empty=True), check_metadata=True)


def test_arrays_from_buffers_equal_pyarrows_conversions() -> None:
    floats = np.array([1.5, np.nan, -0.0, np.inf, np.nan])
    assert ab.numbers(floats, nan_as_null=True).equals(pa.array(floats, from_pandas=True))
    assert ab.numbers(floats).to_pylist()[0] == 1.5 and ab.numbers(floats).null_count == 0
    ints = np.arange(-3, 9, dtype=np.int64)
    assert ab.numbers(ints).equals(pa.array(ints))
    flags = np.array([True, False, True] * 5)
    assert ab.booleans(flags).equals(pa.array(flags))
    words = ["a", None, "ünï", "", "a", None]
    assert ab.text(words).equals(pa.array(words, type=pa.large_string()))
    names = ab.Vocabulary(["p", "qq", "", "ß"])
    taken = names.take(np.array([1, 7, 0, 2, 3, 1]), valid=np.array([1, 0, 1, 1, 1, 1], dtype=bool))
    assert taken.equals(pa.array(["qq", None, "p", "", "ß", "qq"], type=pa.large_string()))
    assert names.take(np.zeros(0, dtype=np.int64)).to_pylist() == []
    for kind in (pa.large_string(), pa.bool_(), pa.int64(), pa.float64()):
        assert len(ab.empty(kind)) == 0 and ab.empty(kind).type == kind


def test_columns_read_back_through_buffers() -> None:
    values = pa.chunked_array([pa.array([1.0, None, 3.0, 4.0]).slice(1), pa.array([5.0])])
    np.testing.assert_array_equal(ab.to_numpy(values, np.float64), [np.nan, 3.0, 4.0, 5.0])
    ints = pa.chunked_array([pa.array([7, 8, 9], pa.int64()).slice(1, 1), pa.array([], pa.int64())])
    np.testing.assert_array_equal(ab.to_numpy(ints, np.int64), [8])
    codes, names = ab.dictionary_codes(pa.array(["b", None, "a", "b"]).dictionary_encode().slice(1))
    assert [names[c] if c >= 0 else None for c in codes] == [None, "a", "b"]
    with pytest.raises(TypeError, match="not a numeric"):
        ab.to_numpy(pa.chunked_array([pa.array(["x"])]), np.float64)


def test_parquet_columns_across_row_groups(tmp_path: Path) -> None:
    """Each row group has its own dictionary; codes are compared per group, nulls never match."""
    path = tmp_path / "t.parquet"
    groups = [{"kind": ["a", "b", None], "x": [1.0, None, 3.0]},
              {"kind": ["c", "a", "a"], "x": [4.0, 5.0, 6.0]}]
    schema = pa.schema([("kind", pa.large_string()), ("x", pa.float64())])
    with pq.ParquetWriter(path, schema) as writer:
        for group in groups:
            writer.write_table(pa.table(group, schema=schema))
    table = ParquetColumns(path)
    assert table.n_rows == 6
    np.testing.assert_array_equal(table.equals("kind", "a"), [1, 0, 0, 0, 1, 1])
    assert not table.equals("kind", "zz").any()
    np.testing.assert_array_equal(table.floats("x"), [1.0, np.nan, 3.0, 4.0, 5.0, 6.0])
    assert table.value_counts("kind") == {"a": 3, "b": 1, "c": 1}
    assert table.value_counts("kind", where=np.array([0, 1, 1, 1, 0, 1], bool)) == {"a": 1, "b": 1, "c": 1}
    assert table.strings("kind", np.array([0, 1, 1, 1, 0, 0], bool)).tolist() == ["b", None, "c"]
    with pytest.raises(InputError, match="no column 'nope'"):
        table.floats("nope")
    with pytest.raises(InputError, match="not text"):
        table.equals("x", "a")


@pytest.mark.parametrize("budget", [0, 1 << 20])
def test_parts_join_the_same_kept_or_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               budget: int) -> None:
    """A file's parts are joined from memory while they fit the budget, else read back from
    disk; either way the file holds every part's rows in order, with the schema's metadata."""
    from sn40l_sim.metrics import recorder

    monkeypatch.setattr(recorder, "KEPT_PART_BYTES", budget)
    stream = recorder._ParquetStream(tmp_path / "events.parquet")
    schema = events_schema()
    parts = []
    for k in range(3):
        n = 5 + k
        columns = [ab.strings([f"{name}{i}" for i in range(n)]) if kind == pa.large_string()
                   else ab.numbers(np.arange(n, dtype=np.int64) + k) if kind == pa.int64()
                   else ab.numbers(np.linspace(0, 1, n)) for name, kind in EVENT_FIELDS]
        parts.append(pa.Table.from_arrays(columns, schema=schema))
        stream.write_table(parts[-1])
    assert (len(stream.kept) == 3) == (budget > 0)
    stream.close(events_schema(empty=True))
    joined = pq.read_table(tmp_path / "events.parquet")
    assert joined.equals(pa.concat_tables(parts))
    assert joined.schema.equals(schema, check_metadata=True)
    assert pq.ParquetFile(tmp_path / "events.parquet").metadata.num_row_groups == 3
    assert not (tmp_path / "events.parquet.parts").exists()


def test_numeric_types_these_results_never_write_still_read(tmp_path: Path) -> None:
    """A results file rewritten by another tool (uint, float16, decimal, bool columns) still
    summarises; a text column asked for as numbers is a located error, not a traceback."""
    from decimal import Decimal

    path = tmp_path / "requests.parquet"
    pq.write_table(pa.table({
        "u": pa.array([3, None, 5], type=pa.uint32()),
        "h": pa.array(np.array([0.5, 1.5, 2.5], dtype=np.float16)),
        "d": pa.array([Decimal("1.25"), Decimal("2.50"), None], type=pa.decimal128(5, 2)),
        "b": pa.array([True, False, True]),
        "t": pa.array(["x", "y", "z"])}), path)
    columns = ParquetColumns(path)
    np.testing.assert_array_equal(columns.floats("u"), [3.0, np.nan, 5.0])
    np.testing.assert_array_equal(columns.floats("h"), [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(columns.floats("d"), [1.25, 2.5, np.nan])
    np.testing.assert_array_equal(columns.floats("b"), [1.0, 0.0, 1.0])
    with pytest.raises(InputError, match=r"'t' is .*expected numbers") as caught:
        columns.floats("t")
    assert str(path) in str(caught.value)
