"""Issue 13's cases, one test each: hostile names, out-of-range numbers, bare units, duplicate keys,
every problem at once, and failed runs that leave nothing behind.

Each runs ``sn40l-sim run`` in this process (``sn40l_sim.cli.main``) and checks the exit status,
the located stderr lines and what is on disk afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO

from sn40l_sim.cli import main
from sn40l_sim.config.limits import MAX_TIME_S, MAX_TOKENS
from sn40l_sim.config.load import validate
from sn40l_sim.config.scenario import Scenario


def tiny(**overrides) -> dict:
    """A scenario of 12 requests on 4 experts: milliseconds to simulate."""
    data = {"name": "tiny", "platform": "sn40l_node",
            "experts": [{"model": "llama-2-7b", "count": 4, "name_prefix": "expert"}],
            "router": {"latency": "1 ms"},
            "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 5.0},
                                       "prompt_tokens": 64, "output_tokens": 4, "requests": 12}},
            "serving": {"tensor_parallel": 8, "max_batch": 4}, "plots": "none"}
    data.update(overrides)
    return data


def run(tmp_path: Path, capsys, data: dict | str, *, files: dict[str, str] | None = None
        ) -> tuple[int, list[str]]:
    """Write the scenario (and other files) into ``tmp_path/case``, run it with ``--output``."""
    case = tmp_path / "case"
    case.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (case / name).write_text(text)
    path = case / "scenario.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    code = main(["run", str(path), "--no-plots", "--no-progress", "--output",
                 str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.splitlines()


def _nothing_written(tmp_path: Path) -> None:
    """Only the case folder exists: no results folder, nothing outside ``--output`` either."""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"], list(tmp_path.iterdir())


def _one_error(code: int, lines: list[str], field: str, *words: str) -> str:
    assert code == 2, lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("sn40l-sim: error: ") and f": {field}: " in line, line
    for word in words:
        assert word in line, line
    return line


# --- names ---------------------------------------------------------------------------------------


def test_name_longer_than_255_characters(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, tiny(name="n" * 300))
    _one_error(code, lines, "name", "1 to 100 characters")
    _nothing_written(tmp_path)


def test_name_etc_passwd(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, tiny(name="/etc/passwd"))
    _one_error(code, lines, "name", "not a valid name")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("name", ["../../..", "..", ".", "a/../../b", "../escape"])
def test_name_dot_dot_cannot_leave_output(tmp_path, capsys, name):
    code, lines = run(tmp_path, capsys, tiny(name=name))
    _one_error(code, lines, "name", "not a valid name")
    _nothing_written(tmp_path)


def test_run_dir_is_checked_inside_output_even_without_validation(tmp_path):
    """A Scenario built in Python skips nothing: new_run_dir refuses a name that is a path."""
    from sn40l_sim.errors import InputError
    from sn40l_sim.present.results_dir import new_run_dir

    with pytest.raises(InputError, match="inside"):
        new_run_dir(tmp_path / "out", "../../..")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("name", ["ok-name_1.2", "a" * 100, "UPPER.case"])
def test_slug_names_are_accepted(name):
    assert validate(Scenario, tiny(name=name), None, "s.yaml").name == name


def test_sweep_name_is_a_slug(tmp_path, capsys):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(tiny()))
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({"name": "../../x", "scenario": "base.yaml",
                                     "grid": {"serving.max_batch": [1, 2]}}))
    code = main(["sweep", str(sweep), "--output", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "sweep.yaml:" in err and ": name: " in err and "not a valid name" in err
    assert not (tmp_path / "out").exists()


# --- traces --------------------------------------------------------------------------------------

CSV_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
GOOD_ROWS = "".join(f"2023-11-16 18:15:{i:02d}.5,{100 + i},{10 + i}\n" for i in range(1, 5))


def _trace_scenario(trace: str) -> dict:
    return tiny(workload={"trace": trace})


@pytest.mark.parametrize("stamp", ["9999-11-16 18:15:07.5", "0001-01-01 00:00:00"],
                         ids=["year-9999", "year-0001"])
def test_trace_timestamp_in_year_9999_or_0001(tmp_path, capsys, stamp):
    trace = CSV_HEADER + GOOD_ROWS + f"{stamp},100,10\n"
    code, lines = run(tmp_path, capsys, _trace_scenario("trace.csv"), files={"trace.csv": trace})
    assert code == 2 and len(lines) == 1, lines
    assert "trace.csv:6: " in lines[0] and "date-time from 1678 to 2261" in lines[0]
    _nothing_written(tmp_path)


def test_trace_dates_centuries_apart_are_beyond_the_time_limit(tmp_path, capsys):
    trace = CSV_HEADER + "1700-01-01 00:00:00,100,10\n" + GOOD_ROWS
    code, lines = run(tmp_path, capsys, _trace_scenario("trace.csv"), files={"trace.csv": trace})
    assert code == 2 and "trace.csv:3: " in lines[0] and f"{MAX_TIME_S:g} s" in lines[0], lines
    _nothing_written(tmp_path)


def test_mooncake_json_nested_5000_deep(tmp_path, capsys):
    good = '{"timestamp": 1000, "input_length": 100, "output_length": 5}\n'
    deep = '{"a":' * 5000 + "1" + "}" * 5000 + "\n"
    code, lines = run(tmp_path, capsys, _trace_scenario("trace.jsonl"),
                      files={"trace.jsonl": good + deep + good})
    assert code == 2 and len(lines) == 1, lines
    assert "trace.jsonl:2: " in lines[0] and "one JSON object" in lines[0]
    _nothing_written(tmp_path)


def _labelled_trace(trace: str) -> dict:
    return tiny(workload={"trace": trace, "format": "generic", "columns": {
        "arrival": "t", "prompt_tokens": "n_in", "output_tokens": "n_out", "category": "topic"}})


def test_json_label_with_a_lone_surrogate_is_a_bad_row(tmp_path, capsys):
    """JSON allows ``"\\ud800"``; no UTF-8 file can hold it (it crashed the JSONL reader)."""
    rows = ['{"t": 0.0, "n_in": 10, "n_out": 3, "topic": "ok"}',
            '{"t": 0.5, "n_in": 10, "n_out": 3, "topic": "bad\\ud800x"}',
            '{"t": 1.0, "n_in": 10, "n_out": 3, "topic": "ok"}']
    code, lines = run(tmp_path, capsys, _labelled_trace("trace.jsonl"),
                      files={"trace.jsonl": "\n".join(rows) + "\n"})
    assert code == 2 and len(lines) == 1, lines
    assert "trace.jsonl:2: " in lines[0] and "category (column 'topic')" in lines[0], lines
    _nothing_written(tmp_path)


def test_binary_parquet_label_that_is_not_utf8_is_a_bad_row(tmp_path, capsys):
    import pyarrow as pa

    case = tmp_path / "case"
    case.mkdir()
    pq.write_table(pa.table({"t": [0.0, 0.5], "n_in": [10, 10], "n_out": [3, 3],
                             "topic": pa.array([b"ok", b"\xff\xfe"], type=pa.binary())}),
                   case / "trace.parquet")
    code, lines = run(tmp_path, capsys, _labelled_trace("trace.parquet"))
    assert code == 2 and len(lines) == 1, lines
    assert "trace.parquet: row 2: " in lines[0] and "category (column 'topic')" in lines[0], lines
    _nothing_written(tmp_path)


def test_prompt_of_int64_max_tokens_vs_max_context(tmp_path, capsys):
    """9223372036854775807 tokens overflowed the context check and "completed" with TTFT 7e27 s."""
    trace = CSV_HEADER + GOOD_ROWS + "2023-11-16 18:15:09.5,9223372036854775807,10\n"
    code, lines = run(tmp_path, capsys, _trace_scenario("trace.csv"), files={"trace.csv": trace})
    assert code == 2 and "trace.csv:6: " in lines[0] and f"{MAX_TOKENS:,}" in lines[0], lines
    _nothing_written(tmp_path)


def test_prompt_over_max_context_is_rejected_not_completed(tmp_path, capsys):
    """Within the token limit but over max_context_tokens: the request is rejected, with finite
    times, and the others complete."""
    trace = CSV_HEADER + GOOD_ROWS + f"2023-11-16 18:15:09.5,{MAX_TOKENS},10\n"
    code, lines = run(tmp_path, capsys, _trace_scenario("trace.csv"), files={"trace.csv": trace})
    assert code == 0, lines
    (run_dir,) = (tmp_path / "out" / "tiny").iterdir()
    requests = pq.read_table(run_dir / "requests.parquet").to_pandas()
    big = requests[requests["prompt_tokens"] == MAX_TOKENS]
    assert list(big["outcome"]) == ["rejected"] and "context" in big["reason"].iloc[0]
    assert (requests["outcome"] == "completed").sum() == 4


def test_failed_run_leaves_no_results_folder(tmp_path, capsys):
    """A bad row found after the simulation started (rows are read lazily) removes the folder."""
    rows = "".join(f"2023-11-16 18:{i // 60:02d}:{i % 60:02d}.5,100,10\n" for i in range(3000))
    trace = CSV_HEADER + rows + "2023-11-16 19:00:00.5,many,10\n"
    data = _trace_scenario("trace.csv")
    code, lines = run(tmp_path, capsys, data, files={"trace.csv": trace})
    assert code == 2 and "trace.csv:3002: " in lines[0], lines
    _nothing_written(tmp_path)


# --- numbers beyond the limits ---------------------------------------------------------------------


@pytest.mark.parametrize(("path", "value", "field"), [
    (("nodes",), 10**12, "nodes"),
    (("workload", "generator", "requests"), 1e30, "workload.generator.requests"),
    (("workload", "generator", "prompt_tokens"), 10**30, "workload.generator.prompt_tokens"),
    (("workload", "generator", "prompt_tokens"), 1e30, "workload.generator.prompt_tokens"),
], ids=["nodes-10**12", "requests-1e30", "prompt_tokens-10**30", "prompt_tokens-1e30"])
def test_huge_counts_are_errors_before_any_allocation(tmp_path, capsys, path, value, field):
    data = tiny()
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    started = time.perf_counter()
    code, lines = run(tmp_path, capsys, data)
    assert time.perf_counter() - started < 10, "the check must come before any allocation"
    _one_error(code, lines, field, "limit")
    _nothing_written(tmp_path)


def test_prompt_tokens_1e30_as_yaml_integer(tmp_path, capsys):
    text = yaml.safe_dump(tiny()).replace("prompt_tokens: 64", "prompt_tokens: " + "1" + "0" * 30)
    code, lines = run(tmp_path, capsys, text)
    _one_error(code, lines, "workload.generator.prompt_tokens", "10000000")


def test_devices_per_node_10_pow_9(tmp_path, capsys):
    profile = yaml.safe_load((REPO / "hw_profiles" / "sn40l_node.yaml").read_text())
    profile["devices_per_node"] = 10**9
    code, lines = run(tmp_path, capsys, tiny(platform="box.yaml"),
                      files={"box.yaml": yaml.safe_dump(profile)})
    assert code == 2 and len(lines) == 1 and "box.yaml:" in lines[0], lines
    assert "devices_per_node" in lines[0] and "limit" in lines[0]
    _nothing_written(tmp_path)


def test_nodes_times_devices_beyond_the_device_limit(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, tiny(nodes=1024))  # 1024 x 8 SN40L sockets
    line = _one_error(code, lines, "nodes", "8,192 devices", "limit")
    assert "scenario.yaml:" in line and "scenario.yaml:None" not in line
    _nothing_written(tmp_path)


@pytest.mark.parametrize("rate", [1e-308, 5e-324, 0.0])
def test_rate_per_s_1e_minus_308(tmp_path, capsys, rate):
    """Gave completed requests with NaN latency (1/rate overflowed to inf)."""
    data = tiny()
    data["workload"]["generator"]["arrivals"]["rate_per_s"] = rate
    code, lines = run(tmp_path, capsys, data)
    _one_error(code, lines, "workload.generator.arrivals.rate_per_s", "0.000001")
    _nothing_written(tmp_path)


def test_slow_rate_within_limits_but_too_long_a_span(tmp_path, capsys):
    data = tiny()
    data["workload"]["generator"].update(requests=1000, arrivals={"kind": "poisson",
                                                                   "rate_per_s": 1e-6})
    code, lines = run(tmp_path, capsys, data)
    _one_error(code, lines, "workload.generator", "span about 1e+09 s")


# --- units ----------------------------------------------------------------------------------------


def test_bare_bandwidth_in_a_profile(tmp_path, capsys):
    """``bandwidth: 1.8`` was 1.8 B/s, silently (TTFT 1e11 s)."""
    text = (REPO / "hw_profiles" / "sn40l_node.yaml").read_text()
    text = text.replace("bandwidth: 1.8 TB/s", "bandwidth: 1.8")
    line_no = next(i for i, line in enumerate(text.splitlines(), 1) if "bandwidth: 1.8 " in line
                   or line.strip().startswith("bandwidth: 1.8"))
    code, lines = run(tmp_path, capsys, tiny(platform="box.yaml"), files={"box.yaml": text})
    line = _one_error(code, lines, "device.hbm.bandwidth", "missing unit", "B/s")
    assert f"box.yaml:{line_no}: " in line
    _nothing_written(tmp_path)


@pytest.mark.parametrize("latency", [5, "5", 5.0, 0])
def test_router_latency_bare_5_and_string_5_are_both_errors(tmp_path, capsys, latency):
    """``router.latency: 5`` meant 5 s while ``"5"`` was an error; now both name the unit."""
    code, lines = run(tmp_path, capsys, tiny(router={"latency": latency}))
    _one_error(code, lines, "router.latency", "missing unit", "'5 ms'")
    _nothing_written(tmp_path)


def test_router_latency_with_unit_runs(tmp_path, capsys):
    code, lines = run(tmp_path, capsys, tiny(router={"latency": "5 ms"}))
    assert code == 0, lines
    (run_dir,) = (tmp_path / "out" / "tiny").iterdir()
    requests = pq.read_table(run_dir / "requests.parquet").to_pandas()
    assert requests["router_s"].min() >= 5e-3 - 1e-12


def test_resolved_scenario_keeps_units(tmp_path, capsys):
    """scenario.resolved.yaml writes quantities in SI with their unit, so each reads back."""
    from pydantic import TypeAdapter

    from sn40l_sim.config.quantities import Bytes, Seconds

    code, _ = run(tmp_path, capsys, tiny(router={"latency": "5 ms"},
                                         serving={"kv_reservation": "1 GiB", "tensor_parallel": 8}))
    assert code == 0
    (run_dir,) = (tmp_path / "out" / "tiny").iterdir()
    dumped = yaml.safe_load((run_dir / "scenario.resolved.yaml").read_text())
    assert dumped["router"]["latency"] == "0.005 s"
    assert TypeAdapter(Seconds).validate_python(dumped["router"]["latency"]) == 0.005
    assert TypeAdapter(Bytes).validate_python(dumped["serving"]["kv_reservation"]) == 2**30
    assert TypeAdapter(Seconds).validate_python(dumped["serving"]["affinity_max_wait"]) == 2.0


# --- duplicate keys and every problem at once -------------------------------------------------------


def test_duplicate_yaml_keys_name_both_lines(tmp_path, capsys):
    text = yaml.safe_dump(tiny(), sort_keys=False).replace("  max_batch: 4\n",
                                                          "  max_batch: 4\n  max_batch: 16\n")
    lines_of = text.splitlines()
    first = lines_of.index("  max_batch: 4") + 1
    code, lines = run(tmp_path, capsys, text)
    line = _one_error(code, lines, "serving.max_batch", "duplicate key 'max_batch'")
    assert f"scenario.yaml:{first + 1}: " in line
    assert f"line {first} and again at line {first + 1}" in line


def test_duplicate_keys_in_a_profile(tmp_path, capsys):
    text = (REPO / "hw_profiles" / "sn40l_node.yaml").read_text().replace(
        "devices_per_node: 8", "devices_per_node: 8\ndevices_per_node: 16")
    code, lines = run(tmp_path, capsys, tiny(platform="box.yaml"), files={"box.yaml": text})
    assert code == 2 and "box.yaml:" in lines[0] and "duplicate key 'devices_per_node'" in lines[0]


def test_first_problem_only_is_now_every_problem(tmp_path, capsys):
    """``namex:`` for ``name:`` said only 'name: required field is missing (and 1 more)'."""
    data = tiny()
    data["namex"] = data.pop("name")
    data["serving"]["max_bacth"] = 4
    data["router"]["latency"] = 5
    code, lines = run(tmp_path, capsys, data)
    assert code == 2 and len(lines) == 4, lines
    text = "\n".join(lines)
    assert "name: required field is missing" in text
    assert "namex: unknown field; did you mean 'name'?" in text
    assert "serving.max_bacth: unknown field; did you mean 'max_batch'?" in text
    assert "router.latency: missing unit" in text
    for line in lines:
        assert line.startswith("sn40l-sim: error: ") and "scenario.yaml:" in line
        assert line.split("scenario.yaml:")[1].split(":")[0].isdigit(), line  # every one has a line
    numbers = [int(line.split("scenario.yaml:")[1].split(":")[0]) for line in lines]
    assert numbers == sorted(numbers), "problems are listed in file order"


def test_problems_after_validation_are_all_listed_with_lines(tmp_path, capsys):
    data = tiny(platform="sn40l_nod")
    data["experts"][0]["model"] = "llama-2-7c"
    data["serving"]["scheduler"] = "fcsf"
    code, lines = run(tmp_path, capsys, data)
    assert code == 2 and len(lines) == 3, lines
    assert all("did you mean" in line for line in lines)
    assert all(line.split("scenario.yaml:")[1].split(":")[0].isdigit() for line in lines)


def test_problems_are_capped_at_20(tmp_path, capsys):
    data = tiny()
    for i in range(30):
        data[f"unknown_{i}"] = i
    code, lines = run(tmp_path, capsys, data)
    assert code == 2 and len(lines) == 20, lines
    assert lines[-1].endswith("(and 10 more problem(s) not shown)")


def test_summary_json_is_strict_json(tmp_path, capsys):
    code, _ = run(tmp_path, capsys, tiny())
    assert code == 0
    (run_dir,) = (tmp_path / "out" / "tiny").iterdir()

    def no_constants(name: str) -> None:
        raise AssertionError(f"summary.json holds {name}")

    summary = json.loads((run_dir / "summary.json").read_text(), parse_constant=no_constants)
    assert summary["complete"] is True and summary["interrupted"] is False


@pytest.mark.parametrize("workload", [
    {"trace": "missing.csv"},
    {"generator": {"requests": 5, "arrivals": {"kind": "poisson", "rate_per_s": 1.0},
                   "prompt_tokens": {"kind": "empirical", "trace": "missing.csv"},
                   "output_tokens": 4}},
], ids=["trace", "empirical-lengths"])
def test_missing_data_file_names_the_scenario_file_and_line(tmp_path, capsys, workload):
    """Issue 13: such errors named the field but not the file."""
    code, lines = run(tmp_path, capsys, tiny(workload=workload))
    assert code == 2 and len(lines) == 1, lines
    assert "scenario.yaml:" in lines[0] and "missing.csv" in lines[0]
    assert lines[0].split("scenario.yaml:")[1].split(":")[0].isdigit(), lines[0]
    _nothing_written(tmp_path)


def test_failed_compare_leaves_no_results_folder(tmp_path, capsys):
    trace = CSV_HEADER + GOOD_ROWS + "2023-11-16 18:15:09.5,many,10\n"
    case = tmp_path / "case"
    case.mkdir()
    (case / "trace.csv").write_text(trace)
    (case / "scenario.yaml").write_text(yaml.safe_dump(_trace_scenario("trace.csv")))
    code = main(["compare", str(case / "scenario.yaml"), "--platforms", "sn40l_node,dgx_h100",
                 "--no-plots", "--no-progress", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "trace.csv:6: " in err and "Traceback" not in err, err
    _nothing_written(tmp_path)
    code = main(["compare", str(case / "scenario.yaml"), "--platforms", "sn40l_node,dgx-h100",
                 "--no-plots", "--no-progress", "--output", str(tmp_path / "out")])
    assert code == 2 and "did you mean 'dgx_h100'" in capsys.readouterr().err
    _nothing_written(tmp_path)


@pytest.mark.parametrize("text", ["nodes: true", "seed: yes"])
def test_a_boolean_is_not_a_count(tmp_path, capsys, text):
    """pydantic read ``true`` (YAML 1.1 also ``yes``) as 1 for an int: ``count: yes`` ran 1 expert."""
    body = yaml.safe_dump(tiny(), sort_keys=False) + text + "\n"
    code, lines = run(tmp_path, capsys, body)
    _one_error(code, lines, text.split(":")[0], "expected a whole number")
