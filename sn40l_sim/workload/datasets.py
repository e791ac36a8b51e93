"""Known public datasets: where each file comes from, its checksum, and fetching it.

The registry is data (``datasets.yaml``): a folder name per dataset, and per file its upstream
repository path at a fixed commit, size and SHA-256. ``fetch_dataset`` downloads with urllib (so
``file://`` mirrors work too), verifies the checksum while streaming, and renames a finished
temporary file into place, so a crash never leaves a half-written file under the final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from sn40l_sim.errors import unknown_name_error

RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
BLOCK_BYTES = 1 << 20

FileStatus = Literal["ok", "missing", "bad checksum"]
ProgressFn = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


class FetchError(Exception):
    """A download failed or gave the wrong bytes (not the user's input; exit status 1)."""


@dataclass(frozen=True, slots=True)
class DatasetFile:
    """One file of a dataset: its name in the dataset folder and its upstream copy."""

    file: str
    url: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    description: str
    license: str
    files: tuple[DatasetFile, ...]


@cache
def known_datasets() -> dict[str, Dataset]:
    """The registry, by name (the folder name in the data directory)."""
    text = resources.files("sn40l_sim.workload").joinpath("datasets.yaml").read_text()
    out: dict[str, Dataset] = {}
    for name, entry in yaml.safe_load(text).items():
        files = tuple(
            DatasetFile(
                file=f["file"],
                url=RAW_URL.format(repo=entry["repo"], commit=f.get("commit", entry["commit"]),
                                   path=f["path"]),
                size_bytes=int(f["size_bytes"]),
                sha256=str(f["sha256"]).lower(),
            )
            for f in entry["files"]
        )
        out[name] = Dataset(name, entry["description"], entry["license"], files)
    return out


def get_dataset(name: str) -> Dataset:
    datasets = known_datasets()
    if name not in datasets:
        raise unknown_name_error("dataset", name, list(datasets))
    return datasets[name]


def find_known_file(relative: str) -> tuple[str, str] | None:
    """(dataset, 'dataset/file') for a path naming a registry file, by full path or file name."""
    wanted = relative.strip("/")
    by_name: tuple[str, str] | None = None
    for dataset in known_datasets().values():
        for f in dataset.files:
            stored = f"{dataset.name}/{f.file}"
            if wanted == stored:
                return dataset.name, stored
            if by_name is None and Path(wanted).name == Path(f.file).name:
                by_name = (dataset.name, stored)
    return by_name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def file_status(data_dir: Path, dataset: Dataset, entry: DatasetFile) -> FileStatus:
    """Whether a registry file is in the data directory with the right bytes."""
    path = data_dir / dataset.name / entry.file
    if not path.is_file():
        return "missing"
    if path.stat().st_size != entry.size_bytes or sha256_of(path) != entry.sha256:
        return "bad checksum"
    return "ok"


def source_url(dataset: Dataset, entry: DatasetFile, base_url: str | None) -> str:
    """Upstream URL, or ``<base_url>/<dataset>/<file>`` for a mirror of a data directory."""
    if base_url is None:
        return entry.url
    return f"{base_url.rstrip('/')}/{dataset.name}/{entry.file}"


def download_verified(url: str, dest: Path, entry: DatasetFile,
                      progress: ProgressFn | None = None) -> None:
    """Download ``url`` to ``dest`` via a temporary file; raise FetchError on a bad checksum."""
    # urllib pulls in http, ssl and email (~60 ms): only a fetch pays for it, not every command.
    import urllib.error
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length else entry.size_bytes
            done = 0
            while block := response.read(BLOCK_BYTES):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
        if digest.hexdigest() != entry.sha256:
            raise FetchError(f"{url}: checksum mismatch (expected sha256 {entry.sha256}, "
                             f"got {digest.hexdigest()}); the file was not kept")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"{url}: download failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def fetch_dataset(name: str, data_dir: Path, *, base_url: str | None = None,
                  progress: Callable[[DatasetFile], ProgressFn | None] | None = None,
                  force: bool = False) -> list[tuple[DatasetFile, str]]:
    """Fetch every file of a dataset that is missing or wrong; return (file, what happened)."""
    dataset = get_dataset(name)
    report: list[tuple[DatasetFile, str]] = []
    for entry in dataset.files:
        dest = data_dir / dataset.name / entry.file
        if not force and file_status(data_dir, dataset, entry) == "ok":
            report.append((entry, "already present"))
            continue
        callback = progress(entry) if progress is not None else None
        download_verified(source_url(dataset, entry, base_url), dest, entry, callback)
        report.append((entry, "fetched"))
    return report
