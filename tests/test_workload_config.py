"""The workload section's schema: the YAML shapes it accepts and the mistakes it names."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from sn40l_sim.config.load import parse_yaml_text, validate
from sn40l_sim.config.workload_config import (
    GammaArrivals,
    OnOffArrivals,
    PromptSetConfig,
    WorkloadConfig,
)
from sn40l_sim.errors import InputError

TRACE_YAML = """
trace: azure-llm-2023/AzureLLMInferenceTrace_conv.csv
rate_multiplier: 2
loop: true
max_requests: 100000
on_bad_row: skip
expert: {kind: zipf, s: 1.1, count: 150, prefix: expert}
"""

GENERATOR_YAML = """
generator:
  requests: 1000
  arrivals: {kind: on_off, rate_per_s: 5, on_duration: 30 s, off_duration: 2 min}
  prompt_tokens: {kind: text}
  output_tokens: {kind: lognormal, median: 200, sigma: 0.8}
  prompts: {file: arena-hard, popularity: {kind: zipf, s: 1}}
"""


def test_yaml_shapes_parse_to_si_values():
    trace = WorkloadConfig.model_validate(yaml.safe_load(TRACE_YAML))
    assert trace.rate_multiplier == 2.0 and trace.expert is not None
    gen = WorkloadConfig.model_validate(yaml.safe_load(GENERATOR_YAML)).generator
    assert gen is not None and isinstance(gen.arrivals, OnOffArrivals)
    assert gen.arrivals.off_duration == 120.0
    assert isinstance(gen.prompts, PromptSetConfig)
    assert gen.prompts.file == "arena-hard/arena-hard-v0.1_question.jsonl"  # short name
    short = WorkloadConfig.model_validate({"generator": {
        "requests": 5, "arrivals": {"kind": "gamma", "rate_per_s": 2, "cv": 3},
        "prompt_tokens": 10, "output_tokens": 3, "prompts": "mt-bench"}})
    assert isinstance(short.generator.arrivals, GammaArrivals)
    assert short.generator.prompts.file == "mt-bench/question.jsonl"
    WorkloadConfig.model_json_schema()  # editors get a schema


BASE_GEN = {"requests": 5, "arrivals": {"kind": "poisson", "rate_per_s": 1},
            "prompt_tokens": 10, "output_tokens": 3}


@pytest.mark.parametrize(("data", "message"), [
    ({}, "exactly one of 'trace'"),
    ({"trace": "x.csv", "generator": BASE_GEN}, "exactly one of 'trace'"),
    ({"generator": BASE_GEN, "loop": True}, "only for a 'trace' workload"),
    ({"trace": "x.csv", "loop": True}, "needs 'max_requests'"),
    ({"trace": "x.csv", "format": "generic"}, "needs 'columns'"),
    ({"trace": "x.csv", "format": "csv"}, "Input should be"),
    ({"trace": "x.csv", "rate_multiplier": 0}, "greater than or equal to 0.000001"),
    ({"generator": {**BASE_GEN, "prompt_tokens": {"kind": "text"}}}, "needs 'prompts'"),
    ({"generator": {**BASE_GEN, "output_tokens": {"kind": "text"}}}, "cannot be of kind"),
    ({"generator": {**BASE_GEN, "prompt_tokens": 0}}, "greater than or equal to 1"),
    ({"generator": {**BASE_GEN, "prompt_tokens": {"kind": "uniform", "low": 9, "high": 2}}},
     "must be <= high"),
    ({"generator": {**BASE_GEN, "arrivals": {"kind": "poisson", "rate": 1}}}, "Field required"),
    ({"generator": {**BASE_GEN, "arrivals": {"kind": "weibull"}}}, "does not match any"),
    ({"generator": {**BASE_GEN, "expert": {"kind": "zipf"}}}, "give 'names' or 'count'"),
    ({"generator": {**BASE_GEN, "prompts": "mt-bench", "category": {"kind": "uniform",
                                                                    "names": ["a"]}}},
     "drop 'category'"),
    ({"generator": {**BASE_GEN, "category": {"kind": "weights", "weights": {"a": 0}}}},
     "must not all be zero"),
])
def test_mistakes_are_named(data, message):
    with pytest.raises(ValidationError, match=message):
        WorkloadConfig.model_validate(data)


def test_errors_point_at_the_yaml_line():
    text = "generator:\n  requests: 10\n  arrivals: {kind: gamma, rate_per_s: 1, cv: -2}\n" \
           "  prompt_tokens: 5\n  output_tokens: 5\n"
    data, node = parse_yaml_text(text, "w.yaml")
    with pytest.raises(InputError) as info:
        validate(WorkloadConfig, data, node, "w.yaml")
    assert info.value.line == 3 and "arrivals" in (info.value.field or "")
