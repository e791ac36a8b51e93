"""The Arrow schemas of ``requests.parquet`` and ``events.parquet``, pandas metadata included.

The recorder builds its tables from numpy arrays, without pandas (about a quarter of a CPU
second to import). The files keep the schema the earlier DataFrame route gave them, down to the
``pandas`` metadata that tells ``to_pandas()`` which dtype each text column had (``string`` for
the requests' columns, ``str`` for the events'; an empty events file had ``string``), so a
reader sees the same types as before. That metadata names the pandas and pyarrow versions, read
from the installed packages' metadata, not by importing pandas. The types and metadata are pandas
3's (its ``str``/``string`` dtypes are stored as Arrow large strings; pandas 2 wrote ``string``
columns and other metadata), which is why ``pyproject.toml`` asks for pandas >= 3.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import pyarrow as pa

TEXT = pa.large_string()  # pandas' "string" and "str" dtypes (pyarrow storage) as Arrow writes them

REQUEST_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("request_id", pa.int64()), ("arrival_s", pa.float64()), ("category", TEXT), ("expert", TEXT),
    ("fallback", pa.bool_()), ("group", pa.int64()), ("prompt_tokens", pa.int64()),
    ("output_tokens", pa.int64()), ("router_s", pa.float64()), ("queue_wait_s", pa.float64()),
    ("switch_wait_s", pa.float64()), ("switch_share", pa.float64()), ("ttft_s", pa.float64()),
    ("tpot_s", pa.float64()), ("e2e_latency_s", pa.float64()), ("last_token_s", pa.float64()),
    ("end_s", pa.float64()),
    ("active_params", pa.float64()), ("outcome", TEXT), ("reason", TEXT))

EVENT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("kind", TEXT), ("group", pa.int64()), ("expert", TEXT), ("phase", TEXT), ("link", TEXT),
    ("bytes", pa.float64()), ("queued_s", pa.float64()), ("start_s", pa.float64()),
    ("end_s", pa.float64()), ("n_batch", pa.int64()), ("n_steps", pa.int64()))

# Only in a run with ``serving.speculative``: each iteration's time in draft and verify passes (0
# for switches and router batches), so the files of plain runs keep their columns.
SPECULATIVE_EVENT_FIELDS: tuple[tuple[str, pa.DataType], ...] = (
    ("draft_s", pa.float64()), ("verify_s", pa.float64()))

_NUMPY_NAMES = {pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool"}


def _pandas_version() -> str:
    try:
        return version("pandas")
    except PackageNotFoundError:  # pragma: no cover - pandas is a dependency
        return "unknown"


def _schema(fields: tuple[tuple[str, pa.DataType], ...], text_dtype: str) -> pa.Schema:
    """``fields`` with the metadata ``pa.Table.from_pandas`` writes for a DataFrame whose text
    columns have the pandas dtype ``text_dtype`` (key order and JSON layout as pyarrow's)."""
    columns = [{"name": name, "field_name": name,
                "pandas_type": "object" if kind == TEXT else _NUMPY_NAMES[kind],
                "numpy_type": text_dtype if kind == TEXT else _NUMPY_NAMES[kind], "metadata": None}
               for name, kind in fields]
    pandas = {"index_columns": [], "column_indexes": [], "columns": columns, "attributes": {},
              "creator": {"library": "pyarrow", "version": pa.__version__},
              "pandas_version": _pandas_version()}
    return pa.schema([pa.field(name, kind) for name, kind in fields],
                     metadata={b"pandas": json.dumps(pandas).encode("utf8")})


@cache
def requests_schema() -> pa.Schema:
    """``requests.parquet``: one row per request (docs/metrics.md)."""
    return _schema(REQUEST_FIELDS, "string")


@cache
def events_schema(*, empty: bool = False, speculative: bool = False) -> pa.Schema:
    """``events.parquet``: one row per switch or batch; ``empty``: the schema of a run without
    events, whose text columns were typed ``string``, not inferred as ``str``; ``speculative``:
    with the draft and verify time of each iteration."""
    return _schema(EVENT_FIELDS + (SPECULATIVE_EVENT_FIELDS if speculative else ()),
                   "string" if empty else "str")
