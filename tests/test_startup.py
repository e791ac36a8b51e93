"""Start-up: ``sn40l-sim run --no-plots`` never imports matplotlib (about half a CPU second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from sn40l_sim.cli import main
status = main(["run", sys.argv[1], "--no-plots", "--no-progress", "--output", sys.argv[2]])
heavy = sorted(m for m in ("matplotlib", "urllib.request") if m in sys.modules)
print("imported:", heavy)
sys.exit(status or (3 if heavy else 0))
"""


def test_run_without_plots_imports_no_matplotlib(tmp_path: Path) -> None:
    scenario = tmp_path / "tiny.yaml"
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    scenario.write_text(text.replace("requests: 2000", "requests: 20"))
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(scenario), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
