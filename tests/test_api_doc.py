"""docs/api.md's example runs as written, and the API is exported lazily from ``sn40l_sim``."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO, small_scenario

import sn40l_sim

API_MD = REPO / "docs" / "api.md"


def test_api_doc_example_runs(tmp_path):
    """The example saved as a script and run with python, in an empty folder."""
    blocks = re.findall(r"```python\n(.*?)```", API_MD.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1, "docs/api.md should hold one runnable python block"
    (tmp_path / "example.py").write_text(blocks[0])
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "200 requests, p99 TTFT" in out
    assert len(list((tmp_path / "results" / "api-demo").iterdir())) == 1
    assert (tmp_path / "results" / "api-demo-sweep" / "points.parquet").exists()


def test_import_is_cheap_and_names_resolve_on_use():
    code = ("import sys, sn40l_sim\n"
            "heavy = [m for m in ('simpy', 'pandas', 'pydantic', 'numpy', 'pyarrow') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert callable(sn40l_sim.run) and 'simpy' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert {"run", "compare", "sweep", "Result", "RunSummary"} <= set(dir(sn40l_sim))
    assert set(sn40l_sim.__all__) == set(sn40l_sim._LAZY) | {"__version__"}
    assert sn40l_sim.RunSummary.__module__ == "sn40l_sim.metrics.run_summary"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sn40l_sim.nope  # noqa: B018


def test_run_accepts_every_form_of_scenario(tmp_path, write_scenario):
    data = small_scenario()
    data["workload"]["generator"]["requests"] = 20
    path = write_scenario(data)
    loaded = sn40l_sim.load(path)
    for form in (path, str(path), data, loaded, loaded.scenario):
        result = sn40l_sim.run(form, output=tmp_path / "out")
        assert result.summary.n_requests == 20 and len(result.requests) == 20
    with pytest.raises(sn40l_sim.InputError, match="max_batch"):
        sn40l_sim.run({**data, "serving": {"max_batch": 0}})
    with pytest.raises(sn40l_sim.InputError, match="not int"):
        sn40l_sim.load(3)  # type: ignore[arg-type]
