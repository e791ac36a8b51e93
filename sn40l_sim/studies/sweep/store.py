"""A sweep's results on disk: one small Parquet file per finished point, compacted at the end.

Each point is written as ``<out>/points/<point id>.parquet`` by a temp-file-then-rename, the moment
it finishes, so a sweep killed at any instant (SIGKILL included) leaves only complete files and
loses at most the points still running. A rerun reads what is there and skips those points.
``points.parquet`` is the concatenation of all of them, rewritten (atomically) whenever a sweep
ends or is interrupted; it is a convenience for readers, the per-point files are the truth.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from sn40l_sim.errors import InputError

POINTS_DIR = "points"
POINTS_TABLE = "points.parquet"
SEARCH_TABLE = "search.parquet"
SCRATCH_DIR = "scratch"  # <out>/scratch/<point id>/: a running point's run folder, removed after it


def _cell(value: Any) -> Any:
    """Parquet-friendly cell: mappings and lists become JSON text, numpy scalars Python ones."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "item"):
        return value.item()
    return value


def write_frame_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.partial")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _coerce_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns mixing text and numbers (an axis like ``[8, auto]``) are stored as text."""
    for column in frame.columns:
        if frame[column].dtype == object:
            kinds = {type(v) for v in frame[column].dropna()}
            if str in kinds and len(kinds) > 1:
                frame[column] = frame[column].map(lambda v: v if v is None else str(v))
            elif kinds and kinds <= {int, float, bool} and len(kinds) > 1:
                frame[column] = frame[column].astype(float)
    return frame


class PointStore:
    """The finished points of one sweep folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.points_dir = out / POINTS_DIR

    def open_for_writing(self) -> None:
        """Create the folder and drop temporary files a killed writer left behind."""
        self.points_dir.mkdir(parents=True, exist_ok=True)
        # Per-point files, and points.parquet / search.parquet caught mid-rewrite by a SIGKILL.
        for stale in [*self.points_dir.glob("*.partial"), *self.out.glob("*.partial")]:
            stale.unlink(missing_ok=True)
        self.sweep_scratch()

    def sweep_scratch(self) -> None:
        """Remove the run folders of points that were running when a sweep stopped (their workers
        were killed before they could clean up): an interrupted sweep leaves no temporary files."""
        shutil.rmtree(self.out / SCRATCH_DIR, ignore_errors=True)

    def done_ids(self) -> set[str]:
        return {p.stem for p in self.points_dir.glob("*.parquet")}

    def read(self, pid: str) -> dict[str, Any] | None:
        path = self.points_dir / f"{pid}.parquet"
        if not path.exists():
            return None
        frame = read_frame(path)
        if frame.empty:
            raise InputError("a point file without a row (damaged; delete it to rerun the point)",
                             file=str(path))
        row = frame.iloc[0].to_dict()
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}

    def add(self, row: dict[str, Any]) -> None:
        """Write one finished point, atomically."""
        frame = _coerce_columns(pd.DataFrame([{k: _cell(v) for k, v in row.items()}]))
        write_frame_atomic(frame, self.points_dir / f"{row['point_id']}.parquet")

    def table(self) -> pd.DataFrame:
        """All finished points, one row each, sorted by the order they were planned in."""
        files = sorted(self.points_dir.glob("*.parquet"))
        if not files:
            return pd.DataFrame()
        frames = [read_frame(f) for f in files]
        frames = [f for f in frames if not f.empty]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if "order" in table.columns:
            table = table.sort_values(["order", "point_id"], kind="stable").reset_index(drop=True)
        return _coerce_columns(table)

    def compact(self) -> Path:
        """Rewrite ``points.parquet`` from the per-point files."""
        path = self.out / POINTS_TABLE
        write_frame_atomic(self.table(), path)
        return path


def read_points(out: Path) -> pd.DataFrame:
    """The points of a sweep folder: the per-point files if present, else ``points.parquet``."""
    if (out / POINTS_DIR).is_dir() and any((out / POINTS_DIR).glob("*.parquet")):
        return PointStore(out).table()
    if (out / POINTS_TABLE).exists():
        return read_frame(out / POINTS_TABLE)
    return pd.DataFrame()


def read_frame(path: Path) -> pd.DataFrame:
    """A Parquet table of a sweep folder, read as untrusted input: a damaged file is an InputError
    naming it and what is wrong (delete a damaged ``points/<id>.parquet`` and the rerun redoes it)."""
    try:
        return pd.read_parquet(path)
    except IsADirectoryError:
        raise InputError("is a folder, not a Parquet file", file=str(path)) from None
    except PermissionError:
        raise InputError("cannot read the file (permission denied)", file=str(path)) from None
    except (OSError, ValueError, TypeError, pa.ArrowException) as exc:
        text = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(f"not a readable Parquet table ({text}); delete it to recompute it",
                         file=str(path)) from None
