"""Trace formats: which columns of a published trace file mean what, and recognising a file.

Every named format is a preset of the generic reader: a column map and an arrival-time unit.
``columns:`` in the scenario overrides or extends a preset (e.g. BurstGPT's ``Model`` column as
the request's ``category``), or fully describes a ``generic`` CSV / JSONL / Parquet file.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import pyarrow.parquet as pq

from sn40l_sim.config.workload_spec import WorkloadSpec
from sn40l_sim.errors import InputError, did_you_mean

FileType = Literal["csv", "jsonl", "parquet"]
Columns = tuple[tuple[str, str], ...]  # (field, source column): the scenario's 'columns:'
FIELDS = ("arrival", "prompt_tokens", "output_tokens", "category", "expert", "prompt_text")


@dataclass(frozen=True, slots=True)
class Preset:
    columns: dict[str, str]
    arrival_unit: str | None  # None: the format has no timestamps


PRESETS: dict[str, Preset] = {
    # Azure LLM inference 2023: TIMESTAMP is 'YYYY-MM-DD HH:MM:SS.fffffff'.
    "azure": Preset({"arrival": "TIMESTAMP", "prompt_tokens": "ContextTokens",
                     "output_tokens": "GeneratedTokens"}, "datetime"),
    # Vidur/Splitwise processed length traces: no timestamps.
    "vidur": Preset({"prompt_tokens": "num_prefill_tokens",
                     "output_tokens": "num_decode_tokens"}, None),
    # Mooncake FAST'25: timestamp in milliseconds from the start of the trace.
    "mooncake": Preset({"arrival": "timestamp", "prompt_tokens": "input_length",
                        "output_tokens": "output_length"}, "ms"),
    # BurstGPT: Timestamp in seconds from the start of the trace.
    "burstgpt": Preset({"arrival": "Timestamp", "prompt_tokens": "Request tokens",
                        "output_tokens": "Response tokens"}, "s"),
}

_SUFFIXES: dict[str, FileType] = {
    ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".parquet": "parquet", ".pq": "parquet",
}
_COMPRESSED = (".gz",)
_JSON_SAMPLE = 100


@dataclass(frozen=True, slots=True)
class TraceSpec:
    """A trace file and how to read it: canonical field -> source column, time unit."""

    path: Path
    file_type: FileType
    format: str
    columns: dict[str, str]
    arrival_unit: str | None  # None: take arrival times from a generated process

    @property
    def has_arrival(self) -> bool:
        return "arrival" in self.columns


def file_type_of(path: Path) -> FileType:
    """The file type from the name (``.csv``, ``.jsonl``, ``.parquet``, optionally ``.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise InputError("cannot tell the file type from the name; use .csv, .jsonl or .parquet "
                     "(optionally .gz)", file=str(path))


def open_text(path: Path) -> IO[str]:
    """Open a text file, decompressing ``.gz``."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open("r", encoding="utf-8")


def header_of(path: Path, file_type: FileType) -> list[str]:
    """Column names: a CSV header, a Parquet schema, or the keys of the first JSON objects.

    JSONL lines may differ in their keys, so the keys of the first ``_JSON_SAMPLE`` valid
    objects are pooled; invalid lines are left for the reader to report with their numbers.
    """
    try:
        if file_type == "csv":
            import pandas as pd  # the reader's CSV parser, so the header is read as it will be

            _check_csv_header(path)
            return [str(c) for c in pd.read_csv(path, nrows=0).columns]
        if file_type == "parquet":
            names = list(pq.ParquetFile(path).schema_arrow.names)
            _check_unique(path, names, None)
            return names
        return _json_keys(path)
    except (ValueError, OSError) as exc:  # pandas' ParserError is a ValueError
        text = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot read the header: {text}", file=str(path)) from None


MAX_HEADER_CHARS = 65_536  # a CSV header line: hundreds of columns, not a million


def _check_csv_header(path: Path) -> None:
    """The header line is read no further than MAX_HEADER_CHARS (a 1 MB header, or a file of
    one endless line, is one located error, not minutes of parsing), and names each column once."""
    import csv

    with open_text(path) as handle:
        line = handle.readline(MAX_HEADER_CHARS + 1)
    if len(line) > MAX_HEADER_CHARS and not line.endswith("\n"):
        raise InputError(f"the header line is longer than {MAX_HEADER_CHARS:,} characters (a header "
                         "names the columns; is this a CSV trace?)", file=str(path), line=1)
    names = next(csv.reader([line]), [])
    _check_unique(path, [n.strip() for n in names], 1)


def _check_unique(path: Path, names: list[str], line: int | None) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"the column name {name[:60]!r} appears twice; each column needs its own "
                             "name", file=str(path), line=line)
        seen.add(name)


def _shown(header: list[str], limit: int = 20) -> str:
    """At most ``limit`` column names, for a message that stays one readable line."""
    more = f" and {len(header) - limit:,} more" if len(header) > limit else ""
    return ", ".join(repr(h[:60]) for h in header[:limit]) + more


def _json_keys(path: Path) -> list[str]:
    keys: dict[str, None] = {}
    n_objects = 0
    with open_text(path) as handle:
        for text in handle:
            try:
                record = json.loads(text) if text.strip() else None
            except (ValueError, RecursionError):  # left for the reader to report with its line
                continue
            if isinstance(record, dict):
                keys.update(dict.fromkeys(record))
                n_objects += 1
                if n_objects == _JSON_SAMPLE:
                    break
    if not n_objects:
        raise InputError("no line holds a JSON object", file=str(path))
    return list(keys)


def _detect(header: list[str]) -> str | None:
    present = set(header)
    for name, preset in PRESETS.items():
        if set(preset.columns.values()) <= present:
            return name
    return None


def _overrides(columns: Columns | None) -> dict[str, str]:
    return dict(columns or ())


def trace_spec(path: Path, fmt: str, columns: Columns | None, arrival_unit: str | None,
               *, use_arrival: bool) -> TraceSpec:
    """Work out how to read ``path``; ``use_arrival=False`` ignores any timestamp column."""
    file_type = file_type_of(path)
    header = header_of(path, file_type)
    name = fmt
    if fmt == "auto":
        detected = _detect(header)
        if detected is None and columns is None:
            known = "; ".join(f"{n}: {', '.join(p.columns.values())}" for n, p in PRESETS.items())
            raise InputError(f"cannot recognise the trace format from its columns {_shown(header)}; "
                             f"set 'format' and/or 'columns' (known formats: {known})",
                             file=str(path), field="workload.format")
        name = detected or "generic"
    preset = PRESETS.get(name, Preset({}, "s"))
    mapping = {**preset.columns, **_overrides(columns)}
    unit = arrival_unit or preset.arrival_unit or "s"
    if not use_arrival:
        mapping.pop("arrival", None)
    _check_columns(path, name, mapping, header)
    if file_type == "parquet":
        _check_parquet_types(path, mapping)
    return TraceSpec(path, file_type, name, mapping, unit if "arrival" in mapping else None)


def _check_parquet_types(path: Path, mapping: dict[str, str]) -> None:
    """Token counts and arrival times are numbers: a boolean or text column is the wrong one."""
    import pyarrow as pa

    schema = pq.ParquetFile(path).schema_arrow
    for field, column in mapping.items():
        if field not in ("prompt_tokens", "output_tokens", "arrival"):
            continue
        kind = schema.field(column).type
        if pa.types.is_boolean(kind) or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                                             or pa.types.is_decimal(kind) or pa.types.is_temporal(kind)
                                             or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InputError(f"column {column!r} holds {kind} values; {field} needs numbers",
                             file=str(path), field=f"workload.columns.{field}")
        if pa.types.is_temporal(kind) and field != "arrival":
            raise InputError(f"column {column!r} holds {kind} values; {field} needs numbers",
                             file=str(path), field=f"workload.columns.{field}")


def _check_columns(path: Path, fmt: str, mapping: dict[str, str], header: list[str]) -> None:
    for field in ("prompt_tokens", "output_tokens"):
        if field not in mapping:
            raise InputError(f"format {fmt!r} needs a column for {field!r} (set 'columns')",
                             file=str(path), field=f"workload.columns.{field}")
    for field, column in mapping.items():
        if column not in header:
            raise InputError(f"{field}: no column {column!r} in the file{did_you_mean(column, header)}; "
                             f"it has {_shown(header)}",
                             file=str(path), field=f"workload.columns.{field}")


def spec_for_workload(config: WorkloadSpec, path: Path) -> TraceSpec:
    """The TraceSpec of a trace workload (timestamps ignored when ``arrivals`` replaces them)."""
    spec = trace_spec(path, config.format, config.columns, config.arrival_unit,
                      use_arrival=config.arrivals is None)
    if not spec.has_arrival and config.arrivals is None:
        raise InputError(f"the trace ({spec.format} format) has no arrival times; add "
                         "'arrivals' (e.g. {kind: poisson, rate_per_s: 5}) to generate them",
                         file=str(path), field="workload.arrivals")
    return spec
