"""sn40l-sim: what it costs to serve a Composition of Experts on SN40L vs DGX A100/H100.

The Python API (docs/api.md) is imported on first use, so ``import sn40l_sim`` stays cheap (no
SimPy, pandas or pydantic until a function is asked for)::

    import sn40l_sim
    result = sn40l_sim.run("scenarios/samba_coe_150.yaml")
    result.summary.ttft_p99_s, result.requests.head()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "run": "sn40l_sim.api",
    "compare": "sn40l_sim.api",
    "sweep": "sn40l_sim.api",
    "load": "sn40l_sim.api",
    "Result": "sn40l_sim.api",
    "Comparison": "sn40l_sim.api",
    "SweepResult": "sn40l_sim.api",
    "RunSummary": "sn40l_sim.metrics.run_summary",
    "InputError": "sn40l_sim.errors",
}

__all__ = ["Comparison", "InputError", "Result", "RunSummary", "SweepResult", "__version__", "compare",
           "load", "run", "sweep"]

if TYPE_CHECKING:
    from sn40l_sim.api import Comparison, Result, SweepResult, compare, load, run, sweep
    from sn40l_sim.errors import InputError
    from sn40l_sim.metrics.run_summary import RunSummary


def __getattr__(name: str) -> Any:
    """Import an API name on first use (PEP 562) and keep it, so later lookups are plain."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sn40l_sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
