"""``search.per_group_tp``: a capacity search chooses each expert group's TP degree.

The base: 16 Llama-2-7B experts (70 % of requests) and one Llama-2-70B (30 %) on SN40L, 20
requests/s, p99 TTFT <= 1 s. Candidates 1, 4 and 8: the 7B fits a group at every degree (no router
model: 12.6 GiB in 64 GiB), the 70B (128.5 GiB of BF16 weights) only at TP4 or TP8 (a TP1 socket
holds 64 GiB), so six combinations are searched, none with the 70B at TP1.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sn40l_sim.cli import main
from sn40l_sim.studies.sweep.driver import SweepOptions, run_sweep

BASE = {
    "name": "gt-base", "platform": "sn40l_node",
    "experts": [{"model": "llama-2-7b", "count": 16, "name_prefix": "small", "share": 0.7},
                {"model": "llama-2-70b", "count": 1, "name": "large", "share": 0.3}],
    "router": {"latency": "5 ms", "mapping": "zipf"},
    "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 20},
                               "prompt_tokens": 256, "output_tokens": 20, "requests": 120}},
    "serving": {"tensor_parallel": 8, "max_batch": 4}, "seed": 3, "plots": "none"}
SEARCH = {"field": "nodes", "low": 1, "high": 4, "goal": "min", "per_group_tp": [1, 4, 8],
          "slo": {"metric": "ttft_p99_s", "max": 1.0}}


def _write(tmp_path: Path, **search) -> Path:
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"name": "gt-search", "scenario": "base.yaml",
                                    "search": {**SEARCH, **search}}, sort_keys=False))
    return path


def test_search_picks_a_smaller_tp_for_the_small_experts(tmp_path):
    result = run_sweep(_write(tmp_path), SweepOptions(workers=1, output=tmp_path / "out",
                                                      progress=False))
    search = result.search
    assert search is not None
    tried = set(zip(search["experts.0.tensor_parallel"], search["experts.1.tensor_parallel"],
                    strict=True))
    assert tried == {(a, b) for a in (1, 4, 8) for b in (4, 8)}  # never the 70B at TP1
    answer = {(int(r["experts.0.tensor_parallel"]), int(r["experts.1.tensor_parallel"])): r["answer"]
              for _, r in search.iterrows()}
    # Every group at TP8 shares one group per node between 17 experts: it needs 2 nodes; the 7B
    # experts on four TP1 sockets and the 70B on a TP4 group meet the SLO on one node.
    assert answer[(8, 8)] == 2 and answer[(1, 4)] == 1
    capacity = (tmp_path / "out" / "gt-search" / "capacity.csv").read_text()
    assert "1/4" in capacity
    md = (tmp_path / "out" / "gt-search" / "capacity.md").read_text()
    assert "TP=1/4: <=1" in md and "TP=8/8: 2" in md  # the choices tried, per expert group


@pytest.mark.parametrize(("search", "words"), [
    ({"per_group_tp": [1, 3]}, "not powers of two"),
])
def test_bad_per_group_tp_is_located(tmp_path, capsys, search, words):
    code = main(["sweep", str(_write(tmp_path, **search)), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "search.per_group_tp" in err and words in err and "sweep.yaml:" in err


def test_per_group_tp_and_a_group_tp_axis_clash(tmp_path, capsys):
    path = _write(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["grid"] = {"experts.0.tensor_parallel": [1, 2]}
    path.write_text(yaml.safe_dump(data))
    code = main(["sweep", str(path), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "per_group_tp" in err and "experts.0.tensor_parallel" in err


def test_plots_draw_the_cheapest_choice_per_seed():
    """The capacity curve of a per-group search draws one answer per platform and seed: the
    cheapest TP combination's, not the mean over every combination tried."""
    import pandas as pd

    from sn40l_sim.studies.sweep.capacity import capacity_mean, capacity_table, cheapest_searches

    rows = []
    for seed, (cheap, dear) in {1: (3, 5), 2: (4, 6)}.items():
        for tps, nodes in (("1/4", cheap), ("4/4", dear)):
            a, b = tps.split("/")
            rows.append({"order": len(rows), "platform": "sn40l_node", "seed": seed,
                         "experts.0.tensor_parallel": int(a), "experts.1.tensor_parallel": int(b),
                         "answer": nodes, "status": "found", "answer_price_usd_per_hour": 10.0 * nodes,
                         "answer_n_devices": 8 * nodes, "answer_group_tensor_parallel": tps})
    search = pd.DataFrame(rows)
    choose = ["experts.0.tensor_parallel", "experts.1.tensor_parallel"]
    best = cheapest_searches(search, choose)
    assert best["answer"].tolist() == [3, 4]
    table = capacity_table(search, choose)
    assert table["tensor_parallel"].tolist() == ["1/4", "1/4"] and table["nodes"].tolist() == [3, 4]
    assert capacity_mean(table)["tensor_parallel"].iloc[0] == "1/4"
    table.loc[1, "tensor_parallel"] = "4/4"  # seeds that chose differently: each choice, listed
    assert capacity_mean(table)["tensor_parallel"].iloc[0] == "1/4, 4/4"
