"""The data directory: where it is, how scenario paths resolve, and the dataset registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sn40l_sim.errors import InputError
from sn40l_sim.workload.data_dir import resolve_data_dir, resolve_data_path
from sn40l_sim.workload.datasets import file_status, find_known_file, known_datasets

SHARED_NAMES = {"azure-llm-2023", "mooncake-traces", "mt-bench", "arena-hard", "vidur-profiling",
                "llmcompass-a100-kernels", "vidur-traces", "aiconfigurator-perf",
                "trtllm-first-token-a100", "nemo-llama2-inference"}
TRANSCRIBED = {"trtllm-first-token-a100", "nemo-llama2-inference"}
SHORT_COMMIT = {"aiconfigurator-perf"}  # its source names only an abbreviated commit


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SN40L_SIM_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(str(tmp_path / "cli")) == tmp_path / "cli"
    assert resolve_data_dir(None) == tmp_path / "env"
    monkeypatch.delenv("SN40L_SIM_DATA")
    assert resolve_data_dir() == tmp_path / "xdg" / "sn40l-sim" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "sn40l-sim" / "data"


def test_relative_env_value_is_relative_to_the_current_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SN40L_SIM_DATA", "../shared/data")
    assert resolve_data_dir() == tmp_path / ".." / "shared" / "data"


def test_path_resolution_order(tmp_path):
    data, scenario_dir = tmp_path / "data", tmp_path / "scenarios"
    for folder in (data / "set", scenario_dir / "set"):
        folder.mkdir(parents=True)
    (data / "set" / "a.csv").write_text("data")
    assert resolve_data_path("set/a.csv", data, scenario_dir) == data / "set" / "a.csv"
    (scenario_dir / "set" / "a.csv").write_text("mine")
    assert resolve_data_path("set/a.csv", data, scenario_dir) == scenario_dir / "set" / "a.csv"
    absolute = data / "set" / "a.csv"
    assert resolve_data_path(str(absolute), tmp_path / "elsewhere") == absolute
    with pytest.raises(InputError, match="not found"):
        resolve_data_path(str(tmp_path / "nope.csv"), data)


def test_missing_files_say_what_to_fetch(tmp_path):
    with pytest.raises(InputError, match="sn40l-sim data fetch mooncake-traces"):
        resolve_data_path("mooncake-traces/conversation_trace.jsonl", tmp_path, tmp_path)
    with pytest.raises(InputError, match=r"'azure-llm-2023/AzureLLMInferenceTrace_code\.csv'"):
        resolve_data_path("AzureLLMInferenceTrace_code.csv", tmp_path, None)
    with pytest.raises(InputError, match="data directory does not exist"):
        resolve_data_path("mine.csv", tmp_path / "absent", None)


def test_registry_shape():
    datasets = known_datasets()
    assert set(datasets) == SHARED_NAMES
    for dataset in datasets.values():
        assert dataset.files and dataset.license
        assert dataset.fetchable == (dataset.name not in TRANSCRIBED), dataset.name
        assert (dataset.transcribed_from is not None) == (dataset.name in TRANSCRIBED)
        digits = "{9,40}" if dataset.name in SHORT_COMMIT else "{40}"
        for f in dataset.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256) and f.size_bytes > 0
            if f.url is None:
                continue
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]"
                                + digits + r"/\S+", f.url), f.url
    assert find_known_file("vidur-traces/arxiv_summarization_stats_llama2_tokenizer_filtered_v2"
                           ".csv") == ("vidur-traces", "vidur-traces/arxiv_summarization_stats_"
                                       "llama2_tokenizer_filtered_v2.csv")
    assert find_known_file("unknown.csv") is None


@pytest.mark.data
def test_registry_matches_the_data_directory(real_data: Path):
    """Each dataset folder present holds registry files only, with the recorded checksums.

    (In CI the data directory is the team's byte-for-byte copies, so every file is checked.)
    """
    present = [d for d in known_datasets().values() if (real_data / d.name).is_dir()]
    if not present:
        pytest.skip("no known dataset in the data directory")
    for dataset in present:
        on_disk = {p.relative_to(real_data / dataset.name).as_posix()
                   for p in (real_data / dataset.name).rglob("*")
                   if p.is_file() and p.name != "README.md"}
        assert on_disk <= {f.file for f in dataset.files}, dataset.name
        for entry in dataset.files:
            if entry.file in on_disk:
                assert file_status(real_data, dataset, entry) == "ok", entry.file
