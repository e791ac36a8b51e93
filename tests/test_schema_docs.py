"""Every field of the scenario and profile JSON Schemas carries a description (from the pydantic
models' attribute docstrings), so an editor shows what a field means, not just its name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from sn40l_sim.cli.app import main
from sn40l_sim.config.platform_config import PlatformConfig
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.config.schema_docs import attribute_docstrings


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


def _config_models() -> list[type[BaseModel]]:
    from sn40l_sim.config import platform_config, router_config, scenario, speculative_config, workload_config

    modules = (platform_config, router_config, scenario, speculative_config, workload_config)
    return [value for module in modules
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseModel)
            and value.__module__ == module.__name__]


def test_descriptions_match_what_pydantic_would_extract():
    """The docstrings are read when a schema is made, not while the models are built (that cost
    every ``run`` about 70 ms); they must be the ones pydantic's ``use_attribute_docstrings``
    gives (its extractor is private, hence only here)."""
    from pydantic._internal._docs_extraction import extract_docstrings_from_cls

    models = _config_models()
    assert len(models) >= 30
    for model in models:
        assert not model.model_config.get("use_attribute_docstrings"), model
        expected: dict[str, str] = {}
        for cls in reversed(model.__mro__):
            if issubclass(cls, BaseModel) and cls.__module__.startswith("sn40l_sim"):
                expected.update(extract_docstrings_from_cls(cls, use_inspect=True))
        assert attribute_docstrings(model) == expected, model.__name__
        assert set(expected) <= set(model.model_fields), model.__name__


@pytest.mark.parametrize("model", [Scenario, PlatformConfig])
def test_each_property_shows_its_own_docstring(model):
    """A field's docstring wins over the generic description its type brings (a quantity's
    "a quantity with its unit, e.g. ..."), as with pydantic's ``use_attribute_docstrings``."""
    schema = model.model_json_schema()
    by_name = {cls.__name__: cls for cls in _config_models()}
    checked = 0
    for name, spec in [(model.__name__, schema), *schema.get("$defs", {}).items()]:
        docs = attribute_docstrings(by_name[name])
        for field, prop in spec.get("properties", {}).items():
            if field in docs:
                assert prop["description"] == docs[field], f"{name}.{field}"
                checked += 1
    assert checked >= 40
