"""Same seed, same rows: a refactor must not move a single simulated number.

The digests pin two small runs (SN40L with FCFS, DGX A100 with expert affinity). A change that is
*meant* to change the model updates them with ``python tests/test_behaviour_digest.py`` and says so in
its commit message; any other change that breaks this test changed behaviour by accident.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from sn40l_sim.config.resolve import load_scenario
from sn40l_sim.runner import run_scenario

HERE = Path(__file__).parent / "data"
DIGESTS = HERE / "behaviour_digests.json"
SCENARIOS = ("digest_small.yaml", "digest_small_dgx.yaml")


def run_digest(scenario: Path, output: Path) -> str:
    """SHA-256 over the requests and events tables as text (9 significant digits per float)."""
    result = run_scenario(load_scenario(scenario), output=output, plots=False)
    h = hashlib.sha256()
    for name in ("requests", "events"):
        frame = pd.read_parquet(result.run_dir / f"{name}.parquet")
        h.update(frame.to_csv(index=False, float_format="%.9g").encode())
    return h.hexdigest()


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_seed_same_rows(name: str, tmp_path: Path) -> None:
    expected = json.loads(DIGESTS.read_text())[name]
    assert run_digest(HERE / name, tmp_path) == expected, (
        f"{name}: the simulated rows changed; if on purpose, run `python {Path(__file__).name}` "
        "from tests/ to update the digests and say why in the commit")


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        digests = {name: run_digest(HERE / name, Path(tmp) / name) for name in SCENARIOS}
    DIGESTS.write_text(json.dumps(digests, indent=2) + "\n")
    print(json.dumps(digests, indent=2), file=sys.stderr)
