"""A run's output folder: paths, atomic writes, and reading results back as DataFrames."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml


def new_run_dir(output: Path, scenario_name: str) -> Path:
    """``<output>/<scenario>/<UTC timestamp>/``, unique even for runs started in the same second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = output / scenario_name
    path = base / stamp
    n = 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return _jsonable(value.item())
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")


def write_yaml(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, yaml.safe_dump(data, sort_keys=False))


def read_run(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Requests, events and summary of a finished run."""
    requests = pd.read_parquet(run_dir / "requests.parquet")
    events = pd.read_parquet(run_dir / "events.parquet")
    summary = json.loads((run_dir / "summary.json").read_text())
    return requests, events, summary
