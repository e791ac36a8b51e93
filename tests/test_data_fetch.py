"""``data fetch`` / ``data list``: file:// downloads, checksums, atomic writes, exit codes."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest

from sn40l_sim.cli import cmd_data as cli_data
from sn40l_sim.errors import InputError
from sn40l_sim.workload import datasets
from sn40l_sim.workload.datasets import Dataset, DatasetFile, FetchError, fetch_dataset

FILES = {"a.csv": b"x,y\n1,2\n", "sub/b.jsonl": b'{"k": 1}\n' * 1000}


@pytest.fixture
def tiny(tmp_path, monkeypatch) -> Path:
    """A registry with one dataset 'tiny' whose upstream is a file:// folder; returns it."""
    upstream = tmp_path / "upstream" / "tiny"
    entries = []
    for name, content in FILES.items():
        (upstream / name).parent.mkdir(parents=True, exist_ok=True)
        (upstream / name).write_bytes(content)
        entries.append(DatasetFile(name, (upstream / name).as_uri(), len(content),
                                   hashlib.sha256(content).hexdigest()))
    registry = {"tiny": Dataset("tiny", "test data", "CC0", tuple(entries))}
    monkeypatch.setattr(datasets, "known_datasets", lambda: registry)  # cmd_data imports it per call
    return upstream.parent


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn40l-sim")
    cli_data.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return args.func(args)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def test_fetch_from_upstream_urls_then_skip(tiny, tmp_path):
    data = tmp_path / "data"
    report = fetch_dataset("tiny", data)
    assert [outcome for _, outcome in report] == ["fetched", "fetched"]
    for name, content in FILES.items():
        assert (data / "tiny" / name).read_bytes() == content
    stamp = (data / "tiny" / "a.csv").stat().st_mtime_ns
    assert [o for _, o in fetch_dataset("tiny", data)] == ["already present"] * 2
    assert (data / "tiny" / "a.csv").stat().st_mtime_ns == stamp


def test_fetch_from_a_mirror_base_url(tiny, tmp_path, capsys):
    data = tmp_path / "data"
    (tiny / "tiny" / "a.csv").rename(tiny / "tiny" / "moved.csv")  # upstream URL now broken
    mirror = tmp_path / "mirror"
    (mirror / "tiny" / "sub").mkdir(parents=True)
    for name, content in FILES.items():
        (mirror / "tiny" / name).write_bytes(content)
    assert _run("data", "fetch", "tiny", "--base-url", mirror.as_uri(), "--data-dir",
                str(data)) == 0
    assert (data / "tiny" / "a.csv").read_bytes() == FILES["a.csv"]
    assert "tiny/a.csv: fetched" in capsys.readouterr().out
    assert _run("data", "list", "--data-dir", str(data)) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "missing" not in out


def test_corrupted_download_is_rejected_and_not_kept(tiny, tmp_path, capsys):
    data = tmp_path / "data"
    (tiny / "tiny" / "sub" / "b.jsonl").write_bytes(b'{"k": 2}\n' * 1000)  # same size
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch_dataset("tiny", data)
    assert not (data / "tiny" / "sub" / "b.jsonl").exists()
    assert (data / "tiny" / "a.csv").exists()  # the good file before it was kept
    assert _leftovers(data) == []
    assert _run("data", "fetch", "tiny", "--data-dir", str(data)) == 1
    assert "checksum mismatch" in capsys.readouterr().err


def test_a_damaged_local_file_is_fetched_again(tiny, tmp_path, capsys):
    data = tmp_path / "data"
    fetch_dataset("tiny", data)
    (data / "tiny" / "a.csv").write_bytes(b"x,y\n1,3\n")
    assert _run("data", "list", "--data-dir", str(data)) == 0
    assert "bad checksum" in capsys.readouterr().out
    assert [o for _, o in fetch_dataset("tiny", data)] == ["fetched", "already present"]
    assert (data / "tiny" / "a.csv").read_bytes() == FILES["a.csv"]


def test_unknown_dataset_and_missing_source(tiny, tmp_path):
    with pytest.raises(InputError, match="did you mean 'tiny'"):
        _run("data", "fetch", "tinny", "--data-dir", str(tmp_path))
    with pytest.raises(FetchError, match="download failed"):
        fetch_dataset("tiny", tmp_path / "data", base_url=(tmp_path / "nowhere").as_uri())
    assert _leftovers(tmp_path) == []


@pytest.mark.data
def test_fetch_real_datasets_from_a_file_mirror(real_data, tmp_path):
    data = tmp_path / "data"
    for name in ("mt-bench", "llmcompass-a100-kernels"):
        report = fetch_dataset(name, data, base_url=real_data.as_uri())
        assert {outcome for _, outcome in report} == {"fetched"}
        for entry in datasets.get_dataset(name).files:
            assert (data / name / entry.file).read_bytes() == \
                (real_data / name / entry.file).read_bytes()
