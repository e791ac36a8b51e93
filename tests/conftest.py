"""Shared fixtures: small scenarios written to temporary folders, and the data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path | None:
    """The real-data directory (SN40L_SIM_DATA), or None when it is not available."""
    value = os.environ.get("SN40L_SIM_DATA")
    if value and Path(value).is_dir():
        return Path(value).resolve()  # tests hand it to subprocesses that run in other folders
    sibling = REPO.parent / "shared" / "data"
    return sibling if sibling.is_dir() else None


@pytest.fixture
def real_data() -> Path:
    path = data_dir()
    if path is None:
        pytest.skip("real-data directory not available (set SN40L_SIM_DATA)")
    return path


def small_scenario(**overrides) -> dict:
    """A seconds-long CoE scenario; keyword overrides replace top-level sections."""
    scenario = {
        "name": "small",
        "platform": "sn40l_node",
        "experts": [{"model": "llama-2-7b", "count": 60, "name_prefix": "expert"}],
        "router": {"model": "llama-2-7b", "mapping": "zipf", "zipf_s": 0.5},
        "workload": {"generator": {"arrivals": {"kind": "poisson", "rate_per_s": 3.0},
                                   "prompt_tokens": 256, "output_tokens": 20, "requests": 300}},
        "serving": {"tensor_parallel": 8, "max_batch": 4},
        "seed": 7,
        "plots": "none",
    }
    scenario.update(overrides)
    return scenario


@pytest.fixture
def write_scenario(tmp_path):
    def write(data: dict | str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
        return path

    return write


def default_sigint() -> None:
    """``preexec_fn`` for subprocesses that tests interrupt: SIGINT back to Python's default even
    when pytest itself was started with SIGINT ignored (a background job, nohup), since a child
    inherits an ignored signal and the CLI rightly leaves an ignored SIGINT alone."""
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)

