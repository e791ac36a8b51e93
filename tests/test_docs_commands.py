"""Every command README and docs/ show a user runs as written.

A fenced block marked ``bash`` or ``sh`` is a list of commands (one a line, ``# comments`` dropped);
in a ``console`` block only the lines that start with ``$ `` are (the rest is output). The commands of
one page run in order in one folder that holds links to the repository's scenarios, profiles, scripts
and benchmarks, so a later command can read what an earlier one wrote (a sweep, then its plot).

A block that cannot run here says why in an HTML comment on the line before it:

* ``<!-- docs-test: skip: why -->``: never run (a placeholder, a Ray cluster, the network, a results
  folder this page does not make);
* ``<!-- docs-test: long: why -->``: run only with ``SN40L_SIM_DOCS_LONG=1`` (a benchmark, a capacity
  sweep, and what reads its output), otherwise a skip that shows the reason.

README's two set-up commands are CI's own steps (tests/test_ci_command.py): here only what they run
after the install is run. Test ids are ``page:line`` (``docs/sweeps.md:124``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, data_dir

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINKED = ("scenarios", "hw_profiles", "scripts", "benchmarks")
INSTALL = re.compile(
    r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install -e (\.|'\.\[test\]') && ")
COMMAND_TIMEOUT_S = 900
LONG_ENV = "SN40L_SIM_DOCS_LONG"
RUN_LONG = os.environ.get(LONG_ENV) == "1"
MARKER = re.compile(r"<!--\s*docs-test:(.*?)-->", re.DOTALL)
MARKER_FORM = re.compile(r"<!-- docs-test: (skip|long): (\S[^\n]*?) -->")
BLOCK = re.compile(r"(?:<!-- docs-test: (skip|long): (\S[^\n]*?) -->[ \t]*\n)?```(bash|sh|console)\n(.*?)```",
                   re.DOTALL)


@dataclass(frozen=True)
class Command:
    page: Path
    line: int
    text: str
    mode: str = "run"  # run | skip | long
    why: str = ""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(REPO).as_posix()}:{self.line}"


def _commands(page: Path) -> list[Command]:
    text = page.read_text(encoding="utf-8")
    found = []
    for block in BLOCK.finditer(text):
        mode, why, kind, body = block.group(1) or "run", block.group(2) or "", block.group(3), block.group(4)
        first_line = text[: block.start(4)].count("\n") + 1
        for offset, raw in enumerate(body.splitlines()):
            line = raw.strip()
            if kind == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            line = _without_comment(line)
            if not line:
                continue
            install = INSTALL.match(line)
            if install:
                if install.group(1) != ".":
                    continue  # the test command: what CI runs around this test
                line = line[install.end():]
            found.append(Command(page, first_line + offset, line, mode, why.strip()))
    return found


def _without_comment(line: str) -> str:
    """The command without a trailing ``# comment`` (a ``#`` inside quotes or a word is kept)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def _param(command: Command) -> object:
    if command.mode == "skip":
        return pytest.param(command, id=command.id, marks=pytest.mark.skip(reason=f"skip: {command.why}"))
    if command.mode == "long":
        reason = f"long: {command.why} (set {LONG_ENV}=1 to run it)"
        return pytest.param(command, id=command.id, marks=pytest.mark.skipif(not RUN_LONG, reason=reason))
    return pytest.param(command, id=command.id)


ALL = [c for page in PAGES for c in _commands(page)]


def test_the_pages_show_commands():
    pages = {c.page.name for c in ALL}
    assert {"README.md", "sweeps.md"} <= pages, pages


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_marker_is_well_formed_and_stands_before_a_block(page: Path) -> None:
    """A misspelt marker, one without a reason, or one not right above a command block would
    silently run (or skip) the wrong thing."""
    text = page.read_text(encoding="utf-8")
    used = {block.start() for block in BLOCK.finditer(text) if block.group(1)}
    for marker in MARKER.finditer(text):
        line = text[: marker.start()].count("\n") + 1
        assert MARKER_FORM.fullmatch(marker.group(0)), (
            f"{page.name}:{line}: write <!-- docs-test: skip: why --> or <!-- docs-test: long: why -->")
        assert marker.start() in used, f"{page.name}:{line}: a docs-test marker must be right above a block"


def test_a_marker_says_how_its_block_runs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- docs-test: long: a capacity sweep -->\n"
                    "```bash\nsn40l-sim sweep x.yaml  # note\n```\n"
                    "<!-- docs-test: skip: a placeholder -->\n"
                    "```sh\nsn40l-sim sweep ...\n```\n"
                    "```console\n$ sn40l-sim models\nllama-2-7b ...\n```\n", encoding="utf-8")
    found = _commands(page)
    assert [(c.line, c.text, c.mode, c.why) for c in found] == [
        (3, "sn40l-sim sweep x.yaml", "long", "a capacity sweep"),
        (7, "sn40l-sim sweep ...", "skip", "a placeholder"),
        (10, "sn40l-sim models", "run", ""),
    ]


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    dirs = {}
    for page in PAGES:
        folder = tmp_path_factory.mktemp(page.stem)
        for name in LINKED:
            (folder / name).symlink_to(REPO / name)
        dirs[page.name] = folder
    return dirs


@pytest.mark.slow
@pytest.mark.parametrize("command", [_param(c) for c in ALL])
def test_documented_command_runs(command: Command, workdirs: dict[str, Path]) -> None:
    data = data_dir()
    if data is None and "data" in command.text:
        pytest.skip("real-data directory not available (set SN40L_SIM_DATA)")
    env = dict(os.environ, MPLBACKEND="Agg")
    if data is not None:
        env["SN40L_SIM_DATA"] = str(data)
    bin_dir = str(Path(sys.executable).parent)  # sn40l-sim and python of this environment
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    done = subprocess.run(["bash", "-c", f"set -o pipefail; {command.text}"],
                          cwd=workdirs[command.page.name], env=env, capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, (f"{command.id}: {command.text}\nexit {done.returncode}\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
