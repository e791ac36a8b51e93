"""How an SN40L-vs-GPU answer moves with the SN40L's program load (a fitted, unmeasured cost).

The program load per router/expert alternation (``serving_stack.program_load`` in the SN40L
profile, P1 §IV-C: program load -> argument load -> kernel execute) is fitted on one row (T5-A100)
and decides much of a CoE comparison. Wherever SN40L is compared with a GPU, the comparison is rerun
with it at half and at double the profile's value, and each ratio is shown as a band.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.config.resolve import ResolvedScenario
from sn40l_sim.present.band_columns import FACTORS

__all__ = ["FACTORS", "band_table", "has_program_load", "pays_program_load", "scaled"]


def pays_program_load(platform: PlatformSpec) -> bool:
    """Whether the platform's serving stack loads a program per router/expert alternation."""
    stack = platform.stack
    return stack.program_load_s > 0 or stack.program_load_per_layer_s > 0


def has_program_load(resolved: ResolvedScenario) -> bool:
    return pays_program_load(resolved.platform)


def scaled(resolved: ResolvedScenario, factor: float) -> ResolvedScenario:
    return dataclasses.replace(resolved, platform=resolved.platform.with_program_load_scale(factor))


def band_table(base: pd.DataFrame, variants: dict[float, pd.DataFrame]) -> pd.DataFrame:
    """``base`` ratios with one column per program-load factor (``advantage_program_load_<f>x``)."""
    out = base.copy()
    for factor, table in variants.items():
        keyed = table.set_index(["other", "key"])["advantage"]
        pairs = zip(out["other"], out["key"], strict=True)
        out[f"advantage_program_load_{factor:g}x"] = [keyed.get((o, k)) for o, k in pairs]
    return out
