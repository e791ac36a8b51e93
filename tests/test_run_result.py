"""A run's tables are read from its Parquet files when asked for, not by the run itself.

The CLI and a sweep only need the summary; reading a million-request run's tables back whole was
most of its peak memory (docs/benchmark.md).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import small_scenario

from sn40l_sim import runner
from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.present.results_dir import read_table


def test_tables_are_read_on_first_access_only(write_scenario, tmp_path, monkeypatch):
    reads: list[str] = []

    def counting_read(path: Path) -> pd.DataFrame:
        reads.append(path.name)
        return read_table(path)

    monkeypatch.setattr(runner, "read_table", counting_read)
    result = runner.run_scenario(load_scenario(write_scenario(small_scenario())),
                                 output=tmp_path / "out", plots=False)
    assert reads == []  # the run and its summary read columns, never a whole table
    requests = result.requests
    assert reads == ["requests.parquet"]
    assert result.requests is requests  # read once, then kept
    assert len(requests) == result.summary.n_requests == 300
    events = result.events
    assert reads == ["requests.parquet", "events.parquet"]
    pd.testing.assert_frame_equal(events, read_table(result.run_dir / "events.parquet"))
    assert int((events["kind"] == "switch").sum()) == result.summary.n_switches


def test_plots_read_the_tables_they_draw(write_scenario, tmp_path):
    data = small_scenario(plots="auto")
    data["workload"]["generator"]["requests"] = 40
    result = runner.run_scenario(load_scenario(write_scenario(data)), output=tmp_path / "out",
                                 plots=True)
    assert any((result.run_dir / "plots").iterdir())
    assert len(result.requests) == 40
