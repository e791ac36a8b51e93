"""A run's output folder: paths, atomic writes, and reading results back as DataFrames."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import yaml

from sn40l_sim.errors import InputError
from sn40l_sim.metrics.arrow_buffers import text_columns
from sn40l_sim.present.fs_boundary import make_unique_dir

if TYPE_CHECKING:
    import pandas as pd


def new_run_dir(output: Path, scenario_name: str) -> Path:
    """``<output>/<scenario>/<UTC timestamp>/``, unique even for runs started in the same second
    (by this process or another: the folder is made with one atomic ``mkdir``, a suffix on collision).

    The scenario name is validated as a slug; this checks again that the folder is inside
    ``output`` (a name such as ``../../..`` or ``/etc/passwd`` must never place results elsewhere).
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = output / scenario_name
    if base.resolve().parent != output.resolve() or scenario_name in ("", ".", ".."):
        raise InputError(f"scenario name {scenario_name[:40]!r} does not name a folder inside "
                         f"{output}", field="name")
    return make_unique_dir(base, stamp)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename: a reader sees the old or the new file,
    never half of one; the temporary file is removed if the write fails (a full disk)."""
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: NaN and infinities become null, numpy scalars Python ones."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):
        return jsonable(value.item())
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))


def read_table(path: Path) -> pd.DataFrame:
    """A results table with its text columns (expert, outcome, kind, link, ...) as categoricals:
    a million-request run repeats a few hundred distinct strings millions of times, and Python
    string objects would make reading the results back the largest memory cost of the run.
    (pandas itself is imported here, by ``to_pandas``: a run that is not read back skips it.)"""
    return pq.read_table(path, read_dictionary=text_columns(pq.read_schema(path))).to_pandas()
