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


@pytest.fixture
def with_transcribed(tiny, tmp_path, monkeypatch) -> Path:
    """Adds 'table' (hand-transcribed, no upstream URL) beside 'tiny'; returns a mirror holding it."""
    content = b"model,ms\nx,16\n"
    entry = DatasetFile("t.csv", None, len(content), hashlib.sha256(content).hexdigest())
    registry = dict(datasets.known_datasets())
    registry["table"] = Dataset("table", "hand table", "docs", (entry,), "a web page, p. 3")
    monkeypatch.setattr(datasets, "known_datasets", lambda: registry)
    mirror = tmp_path / "mirror"
    (mirror / "table").mkdir(parents=True)
    (mirror / "table" / "t.csv").write_bytes(content)
    return mirror


def test_a_transcribed_table_cannot_be_downloaded_by_name(with_transcribed, tmp_path, capsys):
    data = tmp_path / "data"
    assert not datasets.get_dataset("table").fetchable and datasets.get_dataset("tiny").fetchable
    with pytest.raises(datasets.NotFetchableError,
                       match=r"table/t\.csv: transcribed by hand from a web page, p\. 3; there is "
                             r"no upstream file"):
        fetch_dataset("table", data)
    assert _run("data", "fetch", "table", "--data-dir", str(data)) == cli_data.EXIT_FETCH_FAILED
    err = capsys.readouterr().err
    assert "transcribed by hand" in err and "--base-url" in err
    assert not (data / "table").exists()


def test_a_transcribed_table_comes_from_a_mirror_checked(with_transcribed, tmp_path):
    data = tmp_path / "data"
    report = fetch_dataset("table", data, base_url=with_transcribed.as_uri())
    assert [o for _, o in report] == ["fetched"]
    assert [o for _, o in fetch_dataset("table", data)] == ["already present"]  # no URL needed
    (data / "table" / "t.csv").write_bytes(b"model,ms\nx,61\n")  # same size, wrong bytes
    with pytest.raises(datasets.NotFetchableError):
        fetch_dataset("table", data)
    (with_transcribed / "table" / "t.csv").write_bytes(b"model,ms\nx,99\n")
    with pytest.raises(FetchError, match="checksum mismatch"):
        fetch_dataset("table", data, base_url=with_transcribed.as_uri())


def test_fetch_all_skips_a_transcribed_table_and_list_says_why(with_transcribed, tmp_path, capsys):
    data = tmp_path / "data"
    assert _run("data", "fetch", "all", "--data-dir", str(data)) == 0
    out = capsys.readouterr().out
    assert "skipped table/t.csv: transcribed by hand" in out.replace("\n", " ")
    assert (data / "tiny" / "a.csv").read_bytes() == FILES["a.csv"]
    assert not (data / "table").exists()
    assert _run("data", "list", "--data-dir", str(data)) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "fetch with: sn40l-sim data fetch" not in out  # 'tiny' is complete, 'table' not fetchable
    assert "table: transcribed by hand from a web page, p. 3" in out


@pytest.mark.data
def test_fetch_calibration_datasets_from_a_file_mirror(real_data, tmp_path):
    """The GPU calibration sets (measured operator tables, transcribed first-token/NeMo tables)."""
    data = tmp_path / "data"
    for name in ("aiconfigurator-perf", "trtllm-first-token-a100", "nemo-llama2-inference"):
        if not (real_data / name).is_dir():
            pytest.skip(f"{name} not in the data directory")
        report = fetch_dataset(name, data, base_url=real_data.as_uri())
        assert {outcome for _, outcome in report} == {"fetched"}
        for entry in datasets.get_dataset(name).files:
            assert (data / name / entry.file).read_bytes() == \
                (real_data / name / entry.file).read_bytes()
