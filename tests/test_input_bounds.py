"""Input bounds at the edges of scenario files: file size before parsing, trace column names and
types, CSV lines too long to be a row, and profile fields that do not apply to the platform.
Each is one located stderr line and exit 2, and leaves no results folder."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO
from fuzz_cases import base_scenario

from sn40l_sim.cli import main
from sn40l_sim.safe_load import MAX_INPUT_BYTES

AZURE = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]


def _run(tmp_path: Path, capsys, **overrides) -> tuple[int, list[str]]:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(yaml.safe_dump(base_scenario(**overrides)))
    code = main(["run", str(scenario), "--output", str(tmp_path / "out"), "--no-plots", "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    return code, err.strip().splitlines()


def _trace(tmp_path: Path, capsys, name: str) -> tuple[int, list[str]]:
    return _run(tmp_path, capsys, workload={"trace": name})


def test_parquet_trace_with_a_repeated_column_name(tmp_path, capsys):
    table = pa.table(
        [pa.array([0.0]), pa.array([10]), pa.array([5]), pa.array([6])], names=[*AZURE, "ContextTokens"]
    )
    pq.write_table(table, tmp_path / "t.parquet")
    code, lines = _trace(tmp_path, capsys, "t.parquet")
    assert code == 2 and len(lines) == 1 and "'ContextTokens' appears twice" in lines[0]


def test_csv_trace_with_a_repeated_column_name_names_line_1(tmp_path, capsys):
    (tmp_path / "t.csv").write_text(",".join([*AZURE, "GeneratedTokens"]) + "\n0,5,5,5\n")
    code, lines = _trace(tmp_path, capsys, "t.csv")
    assert code == 2 and lines[0].split(": error: ")[1].startswith(f"{tmp_path / 't.csv'}:1: ")


def test_boolean_token_column_is_refused(tmp_path, capsys):
    pq.write_table(
        pa.table({"TIMESTAMP": [0.0, 1.0], "ContextTokens": [True, False], "GeneratedTokens": [3, 4]}),
        tmp_path / "t.parquet",
    )
    code, lines = _trace(tmp_path, capsys, "t.parquet")
    assert code == 2 and "workload.columns.prompt_tokens" in lines[0] and "bool" in lines[0]


def test_a_megabyte_header_ends_at_once_on_line_1(tmp_path, capsys):
    (tmp_path / "t.csv").write_text(",".join(AZURE) + ",x" * 500_000 + "\n0,5,5\n")
    code, lines = _trace(tmp_path, capsys, "t.csv")
    assert code == 2 and ":1: the header line is longer" in lines[0]


def test_a_ten_megabyte_field_names_its_line(tmp_path, capsys):
    (tmp_path / "t.csv").write_text(",".join(AZURE) + "\n0," + "1" * 10_000_000 + ",5\n")
    code, lines = _trace(tmp_path, capsys, "t.csv")
    assert code == 2 and f"{tmp_path / 't.csv'}:2: malformed row" in lines[0]


@pytest.mark.parametrize("what", ["big", "dev_zero"])
def test_scenario_file_bounded_before_parsing(tmp_path, capsys, what):
    path = tmp_path / "s.yaml"
    if what == "big":
        path.write_text("# a comment line\n" * (MAX_INPUT_BYTES // 16))
    source = "/dev/zero" if what == "dev_zero" else str(path)
    code = main(["run", source, "--output", str(tmp_path / "out"), "--no-progress"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert (
        (code == 2
        and len(lines) == 1
        and "bytes" in lines[0]
        and "limit" in lines[0])
        or "more than" in lines[0]
    )


def test_gpu_profile_with_ddr_weight_source_is_refused(tmp_path, capsys):
    profile = (REPO / "hw_profiles" / "dgx_h100.yaml").read_text().replace("source: host_dram", "source: ddr")
    (tmp_path / "gpu.yaml").write_text(profile)
    code, lines = _run(tmp_path, capsys, platform="gpu.yaml")
    assert code == 2 and len(lines) == 1 and "gpu.yaml:" in lines[0] and "device.ddr" in lines[0]


def test_billion_laughs_scenario_ends_at_once(tmp_path, capsys):
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "s.yaml").write_text("\n".join(levels) + "\n")
    code = main(["run", str(tmp_path / "s.yaml"), "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "billion laughs" in err
