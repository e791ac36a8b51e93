"""Event rows: numbers in, events.parquet's columns out, in the order recorded."""

from __future__ import annotations

import pyarrow as pa

from sn40l_sim.metrics.event_rows import COPY, ITERATION, ROUTER, ROUTER_EXPERT, EventRows


def test_columns_of_mixed_rows_by_hand() -> None:
    rows = EventRows(["a", "b"])
    rows.rows.append((0, 1, ITERATION, 1.0, 1.5, 4, 7))
    rows.switch(1, 0, "ddr->hbm group 1", 2e9, 0.25, 0.5, 2.5)
    rows.rows.append((1, ROUTER_EXPERT, ROUTER, 2.5, 2.75, 3, 1))
    rows.switch(0, 1, "ddr->hbm group 0", 1e9, 3.0, 3.5, 4.0)
    cols = rows.columns()
    assert cols["kind"].to_pylist() == ["batch", "switch", "batch", "switch"]
    assert cols["phase"].to_pylist() == ["iteration", "copy", "router", "copy"]
    assert cols["expert"].to_pylist() == ["b", "a", "router", "b"]
    assert cols["link"].to_pylist() == ["", "ddr->hbm group 1", "", "ddr->hbm group 0"]
    assert cols["group"].to_pylist() == [0, 1, 1, 0] and cols["group"].type == pa.int64()
    assert cols["bytes"].to_pylist() == [0.0, 2e9, 0.0, 1e9]
    # A batch step is queued when it starts; a copy when it was asked for.
    assert cols["queued_s"].to_pylist() == [1.0, 0.25, 2.5, 3.0]
    assert cols["start_s"].to_pylist() == [1.0, 0.5, 2.5, 3.5]
    assert cols["end_s"].to_pylist() == [1.5, 2.5, 2.75, 4.0]
    assert cols["n_batch"].to_pylist() == [4, 0, 3, 0]
    assert cols["n_steps"].to_pylist() == [7, 0, 1, 0]
    assert COPY == 2
    assert all(cols[name].type == pa.large_string() for name in ("kind", "expert", "phase", "link"))


def test_flush_clears_in_place_and_times_stay_exact() -> None:
    rows = EventRows(["a"])
    held = rows.rows  # the recorder keeps this very list
    t = 0.1 + 0.2  # not a round binary number: must come back bit for bit
    held.append((3, 0, ITERATION, t, t + 1e-9, 2**40, 1))
    rows.switch(0, 0, "l", 1.0, t, t, t)
    cols = rows.columns()
    assert cols["start_s"].to_pylist() == [t, t] and cols["end_s"].to_pylist() == [t + 1e-9, t]
    assert cols["n_batch"].to_pylist() == [2**40, 0]
    assert len(held) == 0 and len(rows) == 0 and rows.switches == {}
    held.append((0, 0, ITERATION, 1.0, 2.0, 1, 1))
    assert len(rows) == 1
    again = rows.columns()
    assert again["link"].to_pylist() == [""] and again["bytes"].to_pylist() == [0.0]


def test_no_rows() -> None:
    cols = EventRows(["a"]).columns()
    assert all(len(v) == 0 for v in cols.values())
