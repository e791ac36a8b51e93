"""The frozen specs resolve hands down carry every field of the validated sections, by the same name.

A field added to a pydantic section but not to its spec would be silently dropped at the config
boundary; these checks fail first.
"""

from __future__ import annotations

import dataclasses

import pytest

from sn40l_sim.config import workload_config as wc
from sn40l_sim.config import workload_spec as ws
from sn40l_sim.config.router_config import RouterConfig
from sn40l_sim.config.router_spec import RouterSpec, router_spec

PAIRS = [(RouterConfig, RouterSpec), (wc.WorkloadConfig, ws.WorkloadSpec),
         (wc.GeneratorConfig, ws.GeneratorSpec), (wc.PromptSetConfig, ws.PromptSetSpec),
         (wc.WeightsPopularity, ws.WeightsPopularitySpec),
         *ws._SPEC_OF.items()]


@pytest.mark.parametrize(("model", "spec"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_a_spec_has_its_models_fields(model: type, spec: type) -> None:
    model_fields = set(model.model_fields) - {"kind"}  # type: ignore[attr-defined]
    assert {f.name for f in dataclasses.fields(spec)} == model_fields


def test_router_spec_by_hand() -> None:
    config = RouterConfig(mapping={"code": "e1", "math": "e0"}, categories={"code": 1, "math": 3},
                          confusion={"code": {"code": 0.9, "math": 0.1}}, latency="2 ms")
    spec = router_spec(config)
    assert spec.mapping == (("code", "e1"), ("math", "e0")) and spec.table == {"code": "e1", "math": "e0"}
    assert spec.mix() == config.mix() == {"code": 0.25, "math": 0.75}
    assert spec.confusion == (("code", (("code", 0.9), ("math", 0.1))),)
    assert spec.latency == pytest.approx(0.002) and router_spec(RouterConfig()).table is None


def test_workload_spec_by_hand() -> None:
    config = wc.WorkloadConfig.model_validate({
        "trace": "t.csv", "columns": {"prompt_tokens": "in", "output_tokens": "out"},
        "arrivals": {"kind": "on_off", "rate_per_s": 4, "on_duration": "3 s", "off_duration": "1 s"},
        "prompts": {"file": "mt-bench", "popularity": {"kind": "zipf", "count": 3, "s": 2}},
        "expert": {"kind": "weights", "weights": {"a": 1, "b": 3}}})
    spec = ws.workload_spec(config)
    assert spec.columns == (("prompt_tokens", "in"), ("output_tokens", "out"))
    assert spec.arrivals == ws.OnOffArrivalsSpec(4.0, 3.0, 1.0, False)
    assert spec.prompts is not None and spec.prompts.file == wc.PROMPT_SETS["mt-bench"]
    assert spec.prompts.popularity == ws.ZipfPopularitySpec(count=3, s=2.0)
    assert spec.prompts.popularity.resolved_names("p") == ["p-0", "p-1", "p-2"]
    assert spec.expert == ws.WeightsPopularitySpec((("a", 1.0), ("b", 3.0)))
    assert hash(spec) == hash(ws.workload_spec(config))  # immutable all the way down
