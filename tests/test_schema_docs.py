"""Every field of the scenario and profile JSON Schemas carries a description (from the pydantic
models' attribute docstrings), so an editor shows what a field means, not just its name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sn40l_sim.cli.app import main
from sn40l_sim.config.platform_config import PlatformConfig
from sn40l_sim.config.scenario import Scenario


def _undocumented(schema: dict[str, Any]) -> list[str]:
    missing = []
    for name, model in [("(root)", schema), *schema.get("$defs", {}).items()]:
        for field, spec in model.get("properties", {}).items():
            if not spec.get("description", "").strip():
                missing.append(f"{name}.{field}")
    return missing


@pytest.mark.parametrize("model", [Scenario, PlatformConfig])
def test_every_schema_field_is_described(model):
    schema = model.model_json_schema()
    assert len(schema["properties"]) >= 9
    assert _undocumented(schema) == []


def test_schema_command_prints_the_descriptions(capsys):
    assert main(["schema", "scenario"]) == 0
    schema = json.loads(capsys.readouterr().out)
    serving = schema["$defs"]["ServingConfig"]["properties"]
    assert "Devices" in serving["tensor_parallel"]["description"]
    zipf = schema["$defs"]["ZipfPopularity"]["properties"]
    assert zipf["count"]["description"]  # inherited from the shared names base
