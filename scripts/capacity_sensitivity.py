"""Sensitivity of a capacity study's answers to the SN40L's unpublished price and power.

    python scripts/capacity_sensitivity.py results/sweeps/capacity-azure-conv

Reads the sweep folder's tables only (no new simulation): cost scales with the price per node-hour,
and energy is linear in every power figure (``metrics.economics.energy_from_busy_j``), so each
answer's cost per million output tokens and tokens per joule are recomputed for other values from
its window, busy device-seconds and output tokens. Prints Markdown: the SN40L node price at which
its cost per million tokens equals the other platform's, and tokens per joule for low / profile /
high SN40L power.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from sn40l_sim.catalogue.hardware import PowerSpec
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.metrics.economics import Fleet, energy_from_busy_j
from sn40l_sim.studies.sweep.store import read_points

RATE = "workload.rate_multiplier"
TP = "serving.tensor_parallel"


def answer_points(sweep: Path) -> pd.DataFrame:
    """The point behind each row of the capacity table (platform, rate -> its summary row)."""
    capacity = pd.read_csv(sweep / "capacity.csv")
    points = read_points(sweep)
    rows = []
    for _, c in capacity[capacity["status"] != "none"].iterrows():
        hit = points[(points["platform"] == c["platform"]) & (points[RATE] == c[RATE])
                     & (points["nodes"] == c["nodes"]) & (points["tensor_parallel"] == c["tensor_parallel"])]
        rows.append(hit.iloc[0])
    return pd.DataFrame(rows)


def tokens_per_j(row: pd.Series, power: PowerSpec) -> float:
    fleet = Fleet(int(row["nodes"]), int(row["n_devices_per_node"]), int(row["tensor_parallel"]))
    energy = energy_from_busy_j(float(row["device_busy_s"]), float(row["window_s"]), fleet, power)
    tokens = float(row["output_tokens_per_s"]) * float(row["makespan_s"])
    return tokens / energy if energy else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    args = parser.parse_args()
    rows = answer_points(args.sweep)
    sn40l = load_platform("sn40l_node")
    assert sn40l.power is not None and sn40l.price is not None
    price = sn40l.price.node_usd_per_hour
    print("| rate | SN40L $/M tokens at the profile's price | other platform $/M | "
          "break-even SN40L $/node-hour | SN40L tokens/J at 300 / 450 / 700 W a socket | "
          "other tokens/J |")
    print("|---|---|---|---|---|---|")
    for rate, part in rows.groupby(RATE):
        sn = part[part["platform"] == "sn40l_node"]
        other = part[part["platform"] != "sn40l_node"]
        if sn.empty or other.empty:
            continue
        s, o = sn.iloc[0], other.iloc[0]
        s_cost, o_cost = s["cost_per_million_output_tokens_usd"], o["cost_per_million_output_tokens_usd"]
        per_socket = [tokens_per_j(s, PowerSpec(sn40l.power.device_idle_w, w, sn40l.power.node_idle_w,
                                                sn40l.power.node_busy_w)) for w in (300.0, 450.0, 700.0)]
        print(f"| {rate:g}x | {s_cost:.2f} | {o_cost:.2f} | {price * o_cost / s_cost:.1f} | "
              f"{' / '.join(f'{v:.3f}' for v in per_socket)} | {o['tokens_per_j']:.3f} |")


if __name__ == "__main__":
    main()
