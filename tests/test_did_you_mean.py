"""One "did you mean" helper, one message format, wherever a name is unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.errors import InputError, did_you_mean, unknown_name_error

PACKAGE = Path(__file__).resolve().parents[1] / "sn40l_sim"


def test_the_closest_name_or_nothing():
    assert did_you_mean("fcsf", ["expert_affinity", "fcfs"]) == "; did you mean 'fcfs'?"
    assert did_you_mean("zzzz", ["expert_affinity", "fcfs"]) == ""


def test_one_format_for_every_unknown_name():
    assert str(unknown_name_error("model", "lama-2-7b", ["llama-2-7b", "qwen2-7b"])) == (
        "unknown model 'lama-2-7b'; did you mean 'llama-2-7b'? (known: llama-2-7b, qwen2-7b)")
    for lookup, bad in ((get_model, "llama-2-7c"), (load_platform, "dgx_a10")):
        with pytest.raises(InputError, match=r"^unknown \w+ '[^']+'; did you mean '[^']+'\? \(known: "):
            lookup(bad)


def test_the_words_are_written_once():
    """Every module asks :func:`did_you_mean` rather than writing its own hint."""
    writers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                     if 'f"; did you mean' in p.read_text() or "(did you mean" in p.read_text())
    assert writers == ["errors.py"]
