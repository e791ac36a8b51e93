"""Column names of the SN40L program-load band in capacity tables, and how the tables show them.

The band (:mod:`sn40l_sim.studies.sweep.program_load_band`) reruns the SN40L's SLO searches with its
fitted program load scaled by each of :data:`FACTORS`; the capacity table carries each factor's
answer as ``<figure>_program_load_<label>`` columns. Kept here, below the studies, so the tables
that print them need not import a study.
"""

from __future__ import annotations

import pandas as pd

FACTORS = (0.5, 2.0)  # half and double the profile's program load (studies/program_load.py)
_LABELS = {0.5: "half", 2.0: "double"}
_SHOWN = {0.5: "½x", 2.0: "2x"}


def band_label(factor: float) -> str:
    """A column-name word for a factor (no '.', which marks a sweep axis in a capacity table)."""
    return _LABELS.get(factor, f"{factor:g}x".replace(".", "p"))


def band_column(key: str, factor: float) -> str:
    """The capacity table's column of ``key`` at ``factor`` x the program load."""
    return f"{key}_program_load_{band_label(factor)}"


def shown_factor(factor: float) -> str:
    """A factor as the tables print it: ``½x``, ``2x``."""
    return _SHOWN.get(factor, f"{factor:g}x")


def band_factors(table: pd.DataFrame) -> list[float]:
    """The factors whose columns a capacity table has (none: the sweep had no band)."""
    return [f for f in FACTORS if band_column("nodes", f) in table.columns]
