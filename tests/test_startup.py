"""Start-up: ``sn40l-sim run --no-plots`` imports nothing it does not use.

matplotlib alone costs about half a CPU second and pandas about a quarter; ray, hypothesis and the
studies (compare, sweep, validation) are for other commands, the dataset registry and urllib for
``data fetch`` only. A run of a generated workload imports no pandas at all (its requests, the
router and the Parquet results are numpy and Arrow); a trace replay does, as its CSV parser.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from sn40l_sim.cli import main
status = main(["run", sys.argv[1], "--no-plots", "--no-progress", "--output", sys.argv[2]])
unwanted = ("matplotlib", "urllib.request", "ray", "hypothesis", "scipy", "numba", "IPython",
            "sn40l_sim.studies", "sn40l_sim.workload.datasets", "sn40l_sim.present.run_plots",
            *sys.argv[3:])
heavy = sorted(m for m in unwanted if m in sys.modules)
print("imported:", heavy)
sys.exit(status or (3 if heavy else 0))
"""


def _run(scenario: Path, out: Path, *unwanted: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(scenario), str(out), *unwanted],
                          capture_output=True, text=True, timeout=120, check=False)


def test_run_without_plots_imports_nothing_heavy(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    scenario.write_text(text.replace("requests: 2000", "requests: 20"))
    done = _run(scenario, tmp_path / "out", "pandas", "sn40l_sim.workload.trace_columns")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_trace_run_reads_its_csv_with_pandas(tmp_path: Path) -> None:
    """The same scenario replaying a CSV trace: it runs, and pandas (its parser) is imported then."""
    trace = tmp_path / "trace.csv"
    trace.write_text("arrival,prompt_tokens,output_tokens,category\n"
                     + "".join(f"{i * 0.25},{100 + i},{1 + i % 5},{'ab'[i % 2]}\n" for i in range(20)))
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    head, _, _ = text.partition("workload:")
    _, _, tail = text.partition("serving:")
    scenario = tmp_path / "trace.yaml"
    scenario.write_text(head + f"workload:\n  trace: {trace}\n  format: generic\n"
                        "  columns: {arrival: arrival, prompt_tokens: prompt_tokens, "
                        "output_tokens: output_tokens, category: category}\nserving:" + tail)
    done = _run(scenario, tmp_path / "out")
    assert done.returncode == 0, done.stdout + done.stderr
    check = subprocess.run([sys.executable, "-c", SCRIPT, str(scenario), str(tmp_path / "again"),
                            "pandas"], capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 3 and "'pandas'" in check.stdout, check.stdout + check.stderr
    runs = list((tmp_path / "out").rglob("requests.parquet"))
    assert len(runs) == 1 and pq.read_metadata(runs[0]).num_rows == 20
