"""Trace readers: real files read unchanged, chunking, formats, bad rows located by line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sn40l_sim.config.workload_config import WorkloadConfig
from sn40l_sim.config.workload_spec import workload_spec
from sn40l_sim.errors import InputError
from sn40l_sim.workload.request_chunk import RequestChunk
from sn40l_sim.workload.request_stream import (
    OPTIONAL_COLUMNS,
    REQUEST_COLUMNS,
    count_hint,
    iter_request_chunks,
)

AZURE_CONV = "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
AZURE_CODE = "azure-llm-2023/AzureLLMInferenceTrace_code.csv"
VIDUR = "vidur-traces/arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv"


def read_all(workload: dict, data_dir: Path, chunk_rows: int = 65536, seed: int = 1):
    stream = iter_request_chunks(workload_spec(WorkloadConfig(**workload)), seed=seed,
                                 data_dir=data_dir, base_dir=data_dir, chunk_rows=chunk_rows)
    chunks = list(stream)
    frame = pd.concat([c.to_frame() for c in chunks], ignore_index=True) if chunks else pd.DataFrame()
    return frame, chunks, stream.stats


def check_contract(chunks: list[RequestChunk]) -> None:
    """What the engine relies on, for every chunk and across chunks."""
    last = 0.0
    for chunk in chunks:
        assert isinstance(chunk, RequestChunk)
        assert tuple(chunk.names[:3]) == REQUEST_COLUMNS
        assert set(chunk.names[3:]) <= set(OPTIONAL_COLUMNS)
        assert chunk["arrival_s"].dtype == np.float64
        assert chunk["prompt_tokens"].dtype == np.int64
        assert chunk["output_tokens"].dtype == np.int64
        assert all(chunk[name].dtype == object for name in chunk.names[3:])
        arrival = chunk["arrival_s"]
        assert arrival[0] >= last and (np.diff(arrival) >= 0).all()
        assert (chunk["prompt_tokens"] >= 1).all() and (chunk["output_tokens"] >= 1).all()
        last = arrival[-1]


# --- real traces, unchanged ----------------------------------------------------------------------


@pytest.mark.data
@pytest.mark.parametrize(("name", "rows"), [(AZURE_CONV, 19_366), (AZURE_CODE, 8_819)])
def test_azure_trace_reads_unchanged(real_data, name, rows):
    frame, chunks, stats = read_all({"trace": name}, real_data, chunk_rows=4096)
    raw = pd.read_csv(real_data / name)
    assert len(frame) == len(raw) == rows
    stamps = pd.to_datetime(raw["TIMESTAMP"]).astype("datetime64[ns]").astype("int64")
    expected_s = (stamps - stamps.iloc[0]).to_numpy() / 1e9
    np.testing.assert_allclose(frame["arrival_s"], expected_s, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(frame["prompt_tokens"], raw["ContextTokens"])
    np.testing.assert_array_equal(frame["output_tokens"], raw["GeneratedTokens"])
    assert frame["arrival_s"].iloc[0] == 0.0
    assert stats.n_requests == rows and stats.n_bad_rows_skipped == 0
    check_contract(chunks)


@pytest.mark.data
@pytest.mark.parametrize(("name", "rows"), [("mooncake-traces/conversation_trace.jsonl", 12_031),
                                            ("mooncake-traces/synthetic_trace.jsonl", 3_993)])
def test_mooncake_traces_read_unchanged(real_data, name, rows):
    frame, chunks, _ = read_all({"trace": name}, real_data, chunk_rows=5000)
    records = [json.loads(line) for line in (real_data / name).read_text().splitlines()]
    assert len(frame) == len(records) == rows
    stamps_ms = np.array([r["timestamp"] for r in records], dtype=np.float64)
    np.testing.assert_allclose(frame["arrival_s"], (stamps_ms - stamps_ms[0]) / 1000.0, atol=1e-9)
    np.testing.assert_array_equal(frame["prompt_tokens"], [r["input_length"] for r in records])
    np.testing.assert_array_equal(frame["output_tokens"], [r["output_length"] for r in records])
    check_contract(chunks)


@pytest.mark.data
def test_chunks_concatenate_to_the_full_trace(real_data):
    whole, _, _ = read_all({"trace": AZURE_CONV}, real_data, chunk_rows=1 << 20)
    pieces, chunks, _ = read_all({"trace": AZURE_CONV}, real_data, chunk_rows=777)
    assert len(chunks) == -(-19_366 // 777)
    assert all(len(c) <= 777 for c in chunks)
    pd.testing.assert_frame_equal(whole, pieces)


@pytest.mark.data
def test_vidur_lengths_with_generated_arrivals(real_data):
    workload = {"trace": VIDUR, "arrivals": {"kind": "poisson", "rate_per_s": 4.0}}
    frame, chunks, _ = read_all(workload, real_data)
    raw = pd.read_csv(real_data / VIDUR)
    assert len(frame) == 28_257
    np.testing.assert_array_equal(frame["prompt_tokens"], raw["num_prefill_tokens"])
    np.testing.assert_array_equal(frame["output_tokens"], raw["num_decode_tokens"])
    assert len(frame) / frame["arrival_s"].iloc[-1] == pytest.approx(4.0, rel=0.03)
    check_contract(chunks)


@pytest.mark.data
def test_vidur_without_arrivals_is_an_error(real_data):
    with pytest.raises(InputError, match=r"no arrival times.*arrivals"):
        iter_request_chunks(workload_spec(WorkloadConfig(trace=VIDUR)), seed=1, data_dir=real_data,
                            base_dir=real_data)


@pytest.mark.data
def test_rate_multiplier_loop_and_max_requests(real_data):
    base, _, _ = read_all({"trace": AZURE_CODE}, real_data)
    fast, _, _ = read_all({"trace": AZURE_CODE, "rate_multiplier": 2.0}, real_data)
    np.testing.assert_allclose(fast["arrival_s"], base["arrival_s"] / 2.0)
    n = len(base)
    looped, chunks, stats = read_all({"trace": AZURE_CODE, "loop": True,
                                      "max_requests": 2 * n + 100}, real_data, chunk_rows=3000)
    assert len(looped) == 2 * n + 100 and stats.n_trace_passes == 3
    span = base["arrival_s"].iloc[-1]
    period = span + span / (n - 1)  # each pass starts one mean gap after the last one ended
    np.testing.assert_allclose(looped["arrival_s"].iloc[n:2 * n], base["arrival_s"] + period)
    np.testing.assert_array_equal(looped["prompt_tokens"].iloc[2 * n:], base["prompt_tokens"][:100])
    check_contract(chunks)
    cut, _, _ = read_all({"trace": AZURE_CODE, "max_requests": 10}, real_data)
    pd.testing.assert_frame_equal(cut, base.iloc[:10])
    assert count_hint(workload_spec(WorkloadConfig(trace=AZURE_CODE)), data_dir=real_data,
                      base_dir=real_data) == n


def test_missing_trace_names_the_dataset_to_fetch(tmp_path):
    with pytest.raises(InputError, match="sn40l-sim data fetch azure-llm-2023"):
        iter_request_chunks(workload_spec(WorkloadConfig(trace=AZURE_CONV)), seed=1, data_dir=tmp_path,
                            base_dir=tmp_path)


# --- formats on small files written here ---------------------------------------------------------


BURSTGPT = """Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type
5,ChatGPT,472,18,490,Conversation log
5,GPT-4,1087,0,1087,Conversation log
7.5,ChatGPT,0,12,12,API log
12,ChatGPT,300,200,500,Conversation log
"""


def test_burstgpt(tmp_path):
    (tmp_path / "burst.csv").write_text(BURSTGPT)
    frame, chunks, stats = read_all({"trace": "burst.csv"}, tmp_path)
    np.testing.assert_array_equal(frame["arrival_s"], [0.0, 0.0, 2.5, 7.0])
    np.testing.assert_array_equal(frame["prompt_tokens"], [472, 1087, 1, 300])
    np.testing.assert_array_equal(frame["output_tokens"], [18, 1, 12, 200])  # 0 -> 1, counted
    assert stats.n_zero_prompt_clipped == 1 and stats.n_zero_output_clipped == 1
    assert list(frame.columns) == list(REQUEST_COLUMNS)
    labelled, _, _ = read_all({"trace": "burst.csv", "format": "burstgpt",
                               "columns": {"category": "Model"}}, tmp_path)
    assert labelled["category"].tolist() == ["ChatGPT", "GPT-4", "ChatGPT", "ChatGPT"]
    check_contract(chunks)


def _generic_rows() -> pd.DataFrame:
    return pd.DataFrame({"t_ms": [0, 250, 250, 4000], "inp": [10, 20, 30, 40],
                         "out": [1, 2, 3, 4], "topic": ["a", "b", "a", "c"],
                         "who": [3, 1, 3, 2], "text": ["x", "yy", "zzz", "w"]})


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".csv.gz"])
def test_generic_reader_with_column_mapping(tmp_path, suffix):
    rows = _generic_rows()
    path = tmp_path / f"trace{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), path)
    elif suffix == ".jsonl":
        rows.to_json(path, orient="records", lines=True)
    else:
        rows.to_csv(path, index=False)
    workload = {"trace": path.name, "format": "generic", "arrival_unit": "ms",
                "columns": {"arrival": "t_ms", "prompt_tokens": "inp", "output_tokens": "out",
                            "category": "topic", "expert": "who", "prompt_text": "text"}}
    frame, chunks, _ = read_all(workload, tmp_path, chunk_rows=3)
    np.testing.assert_allclose(frame["arrival_s"], [0.0, 0.25, 0.25, 4.0])
    assert frame["prompt_tokens"].tolist() == [10, 20, 30, 40]
    assert frame["category"].tolist() == ["a", "b", "a", "c"]
    assert frame["expert"].tolist() == ["3", "1", "3", "2"]
    assert frame["prompt_text"].tolist() == ["x", "yy", "zzz", "w"]
    assert [len(c) for c in chunks] == [3, 1]
    check_contract(chunks)
    hint = count_hint(workload_spec(WorkloadConfig(**workload)), data_dir=tmp_path, base_dir=tmp_path)
    assert hint == (None if suffix == ".csv.gz" else 4)


def test_unrecognised_columns_and_misspelt_column(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="cannot recognise the trace format"):
        read_all({"trace": "x.csv"}, tmp_path)
    (tmp_path / "y.csv").write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n")
    with pytest.raises(InputError, match="did you mean 'ContextTokens'"):
        read_all({"trace": "y.csv", "columns": {"prompt_tokens": "ContextToken"}}, tmp_path)
    with pytest.raises(InputError, match="no valid requests"):
        read_all({"trace": "y.csv"}, tmp_path)


# --- malformed rows ------------------------------------------------------------------------------


AZURE_HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def _azure_row(i: int) -> str:
    return f"2023-11-16 18:15:{i:02d}.5000000,{100 + i},{10 + i}\n"


@pytest.mark.parametrize(("bad", "why"), [
    ("2023-11-16 18:15:09.5,abc,5\n", "prompt_tokens.*'abc'"),
    ("2023-11-16 18:15:09.5,12,-3\n", "output_tokens.*expected a whole number"),
    ("2023-11-16 18:15:09.5,12.5,3\n", "prompt_tokens"),
    ("not a time,12,3\n", "arrival.*date-time"),
    ("2023-11-16 18:15:09.5,12,3,99\n", "expected 3 fields, saw 4"),
    ("2023-11-16 18:15:09.5,,3\n", "prompt_tokens"),
])
def test_bad_csv_row_is_located_by_line(tmp_path, bad, why):
    lines = [AZURE_HEADER] + [_azure_row(i) for i in range(5)] + ["\n"] + [bad] + \
            [_azure_row(i) for i in range(10, 14)]
    (tmp_path / "t.csv").write_text("".join(lines))
    with pytest.raises(InputError, match=why) as info:
        read_all({"trace": "t.csv"}, tmp_path, chunk_rows=2)
    assert info.value.line == 8 and info.value.file.endswith("t.csv")
    frame, _, stats = read_all({"trace": "t.csv", "on_bad_row": "skip"}, tmp_path, chunk_rows=2)
    assert len(frame) == 9 and stats.n_bad_rows_skipped == 1
    assert ":8" in stats.skipped_examples[0]


def test_bad_jsonl_and_parquet_rows(tmp_path):
    good = [json.dumps({"timestamp": i, "input_length": 5, "output_length": 2}) for i in range(4)]
    (tmp_path / "m.jsonl").write_text("\n".join([*good[:2], "", "{oops", *good[2:]]) + "\n")
    with pytest.raises(InputError) as info:
        read_all({"trace": "m.jsonl"}, tmp_path)
    assert info.value.line == 4
    frame, _, stats = read_all({"trace": "m.jsonl", "on_bad_row": "skip"}, tmp_path)
    assert len(frame) == 4 and stats.n_bad_rows_skipped == 1
    table = pa.table({"t": [0.0, 1.0, 2.0], "p": [1, None, 3], "o": [1, 1, 1]})
    pq.write_table(table, tmp_path / "p.parquet")
    workload = {"trace": "p.parquet", "format": "generic",
                "columns": {"arrival": "t", "prompt_tokens": "p", "output_tokens": "o"}}
    with pytest.raises(InputError, match="row 2: malformed row"):
        read_all(workload, tmp_path)


def test_time_going_backwards_is_an_error(tmp_path):
    rows = [_azure_row(5), _azure_row(6), _azure_row(2), _azure_row(7)]
    (tmp_path / "t.csv").write_text(AZURE_HEADER + "".join(rows))
    with pytest.raises(InputError, match=r"must not decrease.*line 3") as info:
        read_all({"trace": "t.csv"}, tmp_path, chunk_rows=2)
    assert info.value.line == 4


ROW_KINDS = st.sampled_from([
    "good", "good", "good", "blank", "value", "fields", "fields2", "missing"])


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(ROW_KINDS, min_size=1, max_size=25), chunk_rows=st.integers(1, 6))
def test_bad_rows_found_and_counted_for_any_layout(tmp_path_factory, kinds, chunk_rows):
    """Stop names the first bad line; skip keeps exactly the good rows and counts the rest."""
    folder = tmp_path_factory.mktemp("rows")
    text = {"blank": "\n", "value": "2023-11-16 18:15:09.5,x,1\n",
            "fields": "2023-11-16 18:15:09.5,1,1,1\n", "fields2": "x,1,1,1,1\n",
            "missing": "2023-11-16 18:15:09.5,4\n"}
    lines, good = [AZURE_HEADER], []
    for i, kind in enumerate(kinds):
        lines.append(_azure_row(i) if kind == "good" else text[kind])
        if kind == "good":
            good.append(100 + i)
    (folder / "t.csv").write_text("".join(lines))
    bad_lines = [i + 2 for i, k in enumerate(kinds) if k not in ("good", "blank")]
    workload = {"trace": "t.csv", "on_bad_row": "skip"}
    if not good:
        with pytest.raises(InputError, match="no valid requests"):
            read_all(workload, folder, chunk_rows=chunk_rows)
    else:
        frame, _, stats = read_all(workload, folder, chunk_rows=chunk_rows)
        assert frame["prompt_tokens"].tolist() == good
        assert stats.n_bad_rows_skipped == len(bad_lines)
    if bad_lines:
        with pytest.raises(InputError) as info:
            read_all({"trace": "t.csv"}, folder, chunk_rows=chunk_rows)
        assert info.value.line == bad_lines[0]


JSON_KINDS = st.sampled_from(["good", "good", "good", "blank", "json", "value", "missing", "list"])


@settings(max_examples=40, deadline=None)
@given(kinds=st.lists(JSON_KINDS, min_size=1, max_size=25), chunk_rows=st.integers(1, 6))
def test_bad_jsonl_rows_found_and_counted_for_any_layout(tmp_path_factory, kinds, chunk_rows):
    folder = tmp_path_factory.mktemp("rows")
    text = {"blank": "   ", "json": '{"timestamp": 1, "input_length": ', "list": "[1, 2]",
            "value": json.dumps({"timestamp": 9, "input_length": "many", "output_length": 1}),
            "missing": json.dumps({"timestamp": 9, "output_length": 1})}
    lines, good = [], []
    for i, kind in enumerate(kinds):
        row = {"timestamp": i, "input_length": 100 + i, "output_length": 1}
        lines.append(json.dumps(row) if kind == "good" else text[kind])
        if kind == "good":
            good.append(100 + i)
    (folder / "t.jsonl").write_text("\n".join(lines) + "\n")
    bad_lines = [i + 1 for i, k in enumerate(kinds) if k not in ("good", "blank")]
    if good:
        frame, _, stats = read_all({"trace": "t.jsonl", "on_bad_row": "skip"}, folder,
                                   chunk_rows=chunk_rows)
        assert frame["prompt_tokens"].tolist() == good
        assert stats.n_bad_rows_skipped == len(bad_lines)
    if bad_lines and good:  # (with no good row the file may lack a column altogether)
        with pytest.raises(InputError) as info:
            read_all({"trace": "t.jsonl", "format": "mooncake"}, folder, chunk_rows=chunk_rows)
        assert info.value.line == bad_lines[0]
