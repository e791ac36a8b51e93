"""README's test command is the one .ci/run runs (lint, types, tests), so the two stay in step."""

from __future__ import annotations

import re

from conftest import REPO


def test_readme_runs_what_ci_runs():
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    ci_command = re.search(r"^python -m pip install --quiet (-e '\.\[test\]' && .+)$", ci, flags=re.MULTILINE)
    assert ci_command, ".ci/run lost its test command"
    assert f"pip install {ci_command.group(1)}" in readme
    assert "ruff check . && mypy && python -m pytest" in ci_command.group(1)
