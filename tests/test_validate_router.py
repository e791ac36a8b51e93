"""Validate rows R1: the keyword router against MT-Bench's labels (real data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sn40l_sim.studies.validate_router import MT_BENCH, router_validation_rows


@pytest.mark.data
def test_r1_rows_measure_the_classifier_on_mt_bench(real_data: Path) -> None:
    if not (real_data / MT_BENCH).is_file():
        pytest.skip(f"{real_data / MT_BENCH} not found")
    rows = {r.id: r for r in router_validation_rows(real_data)}
    assert set(rows) == {"R1", "R1-sure"}
    # 48 of the 80 first turns are classified right (measured; see test_policy_classifier.py).
    assert rows["R1"].simulated == pytest.approx(48 / 80)
    assert rows["R1"].low == pytest.approx(3 / 8) and rows["R1"].passed
    assert rows["R1-sure"].passed  # confident answers are right more often than unsure ones
    assert "coding" in rows["R1"].note


def test_no_data_no_rows(tmp_path: Path) -> None:
    assert router_validation_rows(None) == []
    assert router_validation_rows(tmp_path) == []
