"""The scenario's ``workload:`` section: a trace file to replay, or a synthetic generator.

Two shapes, one model (exactly one of ``trace`` / ``generator``)::

    workload:                                  workload:
      trace: azure-llm-2023/AzureLLMInferenceTrace_conv.csv
      format: auto                               generator:
      rate_multiplier: 2.0                         requests: 1000
      max_requests: 50000                          arrivals: {kind: poisson, rate_per_s: 5}
      loop: true                                   prompt_tokens: 512
      on_bad_row: skip                             output_tokens: {kind: lognormal,
      prompts: mt-bench                                            median: 200, sigma: 0.8}
                                                   prompts: mt-bench

Labels (``prompts``, ``category``, ``expert``) sit beside ``trace`` for a trace and inside
``generator`` for a generator. Every choice with variants is a discriminated union on ``kind``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from sn40l_sim.config.limits import (
    MAX_RATE_PER_S,
    MAX_REQUESTS,
    MAX_TIME_S,
    MAX_TOKENS,
    MIN_RATE_PER_S,
)
from sn40l_sim.config.quantities import STRICT, Count, PositiveSeconds, Seconds

TraceFormat = Literal["auto", "azure", "vidur", "mooncake", "burstgpt", "generic"]
ArrivalUnit = Literal["s", "ms", "us", "ns", "datetime"]
Tokens = Annotated[Count, Field(ge=1, le=MAX_TOKENS)]
# Requests per second, and a trace's rate multiplier: bounded so arrivals stay inside MAX_TIME_S.
Rate = Annotated[float, Field(ge=MIN_RATE_PER_S, le=MAX_RATE_PER_S, allow_inf_nan=False)]

# --- arrival processes ---------------------------------------------------------------------------


class PoissonArrivals(BaseModel):
    """Exponential inter-arrival times: memoryless, CV 1."""

    model_config = STRICT
    kind: Literal["poisson"]
    """Selects this variant: poisson."""
    rate_per_s: Rate
    """Mean arrivals per second."""


class GammaArrivals(BaseModel):
    """Gamma inter-arrival times with a chosen coefficient of variation (cv > 1: bursty)."""

    model_config = STRICT
    kind: Literal["gamma"]
    """Selects this variant: gamma."""
    rate_per_s: Rate
    """Mean arrivals per second."""
    cv: float = Field(gt=0, le=100)  # beyond 100 a few gaps hold almost all of the time
    """Coefficient of variation of the gaps (1 is Poisson; above 1 bursty)."""


class ConstantArrivals(BaseModel):
    """Evenly spaced arrivals (CV 0): a deterministic load for queueing checks."""

    model_config = STRICT
    kind: Literal["constant"]
    """Selects this variant: constant."""
    rate_per_s: Rate
    """Arrivals per second, evenly spaced."""


class OnOffArrivals(BaseModel):
    """Poisson at ``rate_per_s`` while on, silence while off; starts on at t = 0.

    With ``random_durations`` the on and off periods are exponential with these means.
    """

    model_config = STRICT
    kind: Literal["on_off"]
    """Selects this variant: on_off."""
    rate_per_s: Rate
    """Poisson rate while on."""
    on_duration: PositiveSeconds
    """Length of an on period (its mean with random_durations)."""
    off_duration: Seconds
    """Length of an off period (its mean with random_durations)."""
    random_durations: bool = False
    """Draw on and off periods from exponentials with these means."""


ArrivalConfig = Annotated[
    PoissonArrivals | GammaArrivals | ConstantArrivals | OnOffArrivals, Field(discriminator="kind")
]

# --- token-length distributions ------------------------------------------------------------------


class FixedLength(BaseModel):
    model_config = STRICT
    kind: Literal["fixed"]
    """Selects this variant: fixed."""
    tokens: Tokens
    """Every request has this many tokens."""


class UniformLength(BaseModel):
    """Whole numbers from ``low`` to ``high``, both included, equally likely."""

    model_config = STRICT
    kind: Literal["uniform"]
    """Selects this variant: uniform."""
    low: Tokens
    """Fewest tokens."""
    high: Tokens
    """Most tokens."""

    @model_validator(mode="after")
    def _ordered(self) -> UniformLength:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self


class LognormalLength(BaseModel):
    """``median * exp(sigma * N(0, 1))`` rounded, at least 1, at most ``max_tokens``."""

    model_config = STRICT
    kind: Literal["lognormal"]
    """Selects this variant: lognormal."""
    median: float = Field(gt=0, le=MAX_TOKENS)
    """Median tokens."""
    sigma: float = Field(ge=0, le=10)  # exp(10 N) already spans 10^8; clipped to max_tokens
    """Standard deviation of the log."""
    max_tokens: Tokens | None = None
    """Longer draws are clipped to it."""


class GeometricLength(BaseModel):
    """Draws until the first success of probability ``1 / mean``: 1, 2, ... tokens, memoryless.

    The discrete exponential: with a constant cost per decode step a request's service time is
    (almost) exponential, which is how ``tests/test_engine_theory.py`` checks the engine on M/M/1.
    """

    model_config = STRICT
    kind: Literal["geometric"]
    """Selects this variant: geometric."""
    mean: float = Field(ge=1, le=MAX_TOKENS)
    """Mean tokens (the success probability is 1 / mean)."""


class EmpiricalLength(BaseModel):
    """Lengths drawn from the rows of a trace file (with replacement).

    ``column`` defaults to the field being drawn (prompt_tokens for prompt_tokens). When
    prompt_tokens and output_tokens name the same trace, each request takes both from one row,
    so their correlation is kept.
    """

    model_config = STRICT
    kind: Literal["empirical"]
    """Selects this variant: empirical."""
    trace: str
    """A trace file in the data directory (or a path) whose rows are drawn."""
    format: TraceFormat = "auto"
    """The trace's format (auto: from its columns)."""
    column: Literal["prompt_tokens", "output_tokens"] | None = None
    """The column drawn (default: the field being drawn)."""
    on_bad_row: Literal["stop", "skip"] = "stop"
    """stop at a malformed row, or skip (and count) it."""


class TextLength(BaseModel):
    """Prompt length estimated from the sampled prompt text (needs ``prompts``)."""

    model_config = STRICT
    kind: Literal["text"]
    """Selects this variant: text."""
    chars_per_token: float = Field(default=4.0, ge=0.01, le=1e6)
    """Characters per token of the prompt text (assumption: about 4 for English BPE)."""


LengthDist = Annotated[
    FixedLength | UniformLength | LognormalLength | GeometricLength | EmpiricalLength | TextLength,
    Field(discriminator="kind"),
]
LengthSpec = Tokens | LengthDist

# --- labels: popularity tables and prompt sets ---------------------------------------------------


def names_from(names: Sequence[str] | None, count: int | None, prefix: str | None,
               default_prefix: str) -> list[str] | None:
    """The names a popularity law draws from: ``names``, or ``count`` names ``<prefix>-i``
    (None: neither). One rule for the validated section and its frozen spec."""
    if names is not None:
        return list(names)
    if count is not None:
        return [f"{prefix or default_prefix}-{i}" for i in range(count)]
    return None


class _Names(BaseModel):
    """Names to draw from: a list, or ``count`` names ``<prefix>-0 .. <prefix>-(count-1)``.

    The ``<prefix>-i`` form matches how ``experts: [{name_prefix: p, count: n}]`` names experts.
    Left empty inside ``prompts``, the prompt set's labels are used (in order of first appearance).
    """

    model_config = STRICT
    names: list[str] | None = Field(default=None, min_length=1)
    """The names to draw from."""
    count: Count | None = Field(default=None, ge=1)
    """Draw from count names <prefix>-0 .. <prefix>-(count-1)."""
    prefix: str | None = None
    """Prefix of the count names (default: the field's name)."""

    @model_validator(mode="after")
    def _one_source(self) -> _Names:
        if self.names is not None and (self.count is not None or self.prefix is not None):
            raise ValueError("give either 'names' or 'count' (with an optional 'prefix'), not both")
        return self

    def resolved_names(self, default_prefix: str) -> list[str] | None:
        return names_from(self.names, self.count, self.prefix, default_prefix)


class UniformPopularity(_Names):
    kind: Literal["uniform"]
    """Selects this variant: uniform."""


class ZipfPopularity(_Names):
    """P(rank k) proportional to k**-s over the names in order (rank 1 = the first name)."""

    kind: Literal["zipf"]
    """Selects this variant: zipf."""
    s: float = Field(default=1.0, ge=0, le=100)  # beyond, rank 1 takes every draw
    """Zipf exponent: P(rank k) is proportional to k**-s."""


class WeightsPopularity(BaseModel):
    """A table of relative weights (normalised), e.g. ``{coding: 3, math: 2, writing: 5}``."""

    model_config = STRICT
    kind: Literal["weights"]
    """Selects this variant: weights."""
    weights: dict[str, Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]] = Field(min_length=1)
    """Relative weight of each name (normalised)."""

    @model_validator(mode="after")
    def _positive_total(self) -> WeightsPopularity:
        if sum(self.weights.values()) <= 0:
            raise ValueError("weights must not all be zero")
        return self


Popularity = Annotated[
    UniformPopularity | ZipfPopularity | WeightsPopularity, Field(discriminator="kind")
]

# Short names for the labelled prompt sets of the data directory.
PROMPT_SETS: dict[str, str] = {
    "mt-bench": "mt-bench/question.jsonl",
    "arena-hard": "arena-hard/arena-hard-v0.1_question.jsonl",
}


def _prompt_set_shorthand(value: Any) -> Any:
    return {"file": value} if isinstance(value, str) else value


class PromptSetConfig(BaseModel):
    """A labelled JSONL prompt set: each request samples a prompt and gets its label and text.

    ``label_field`` defaults to ``cluster`` when the file has one (arena-hard), else ``category``
    (mt-bench); ``text_field`` to ``prompt``, else the first of ``turns``. Without ``popularity``
    every prompt is equally likely; with it, a label is drawn first, then a prompt within it.
    """

    model_config = STRICT
    file: str
    """A JSONL prompt set in the data directory, or a short name (mt-bench, arena-hard)."""
    label_field: str | None = None
    """Field holding each prompt's label (default: cluster if present, else category)."""
    text_field: str | None = None
    """Field holding the prompt text (default: prompt, else the first of turns)."""
    popularity: Popularity | None = None
    """Draw a label first from this law, then a prompt within it (default: every prompt equally likely)."""

    @field_validator("file")
    @classmethod
    def _known_name(cls, value: str) -> str:
        return PROMPT_SETS.get(value, value)


PromptSet = Annotated[PromptSetConfig, BeforeValidator(_prompt_set_shorthand)]


class RequestLabels(BaseModel):
    """Columns attached to every request (they replace a trace's own column of the same name)."""

    model_config = STRICT
    prompts: PromptSet | None = None
    """A labelled prompt set: each request samples a prompt and gets its label (category) and text."""
    category: Popularity | None = None
    """Each request's category drawn from this law (replaces a trace's column)."""
    expert: Popularity | None = None
    """Each request's expert drawn from this law (replaces a trace's expert column; the router sends the
    request there, skipping step 2)."""

    @model_validator(mode="after")
    def _labels_consistent(self) -> RequestLabels:
        if self.prompts is not None and self.category is not None:
            raise ValueError("'prompts' already sets each request's category; drop 'category'")
        for field in ("category", "expert"):
            pop = getattr(self, field)
            if isinstance(pop, UniformPopularity | ZipfPopularity) and pop.resolved_names(
                field
            ) is None:
                raise ValueError(f"{field}: give 'names' or 'count' to draw from")
        return self


# --- the two workload shapes ---------------------------------------------------------------------


def _mean_rate_per_s(arrivals: PoissonArrivals | GammaArrivals | ConstantArrivals | OnOffArrivals
                     ) -> float:
    """Long-run requests per second of an arrival process (on/off: the on share of the rate)."""
    if isinstance(arrivals, OnOffArrivals):
        period_s = arrivals.on_duration + arrivals.off_duration
        return arrivals.rate_per_s * arrivals.on_duration / period_s
    return arrivals.rate_per_s


class GeneratorConfig(RequestLabels):
    """A synthetic workload: ``requests`` requests from an arrival process and length laws."""

    requests: Count = Field(ge=1, le=MAX_REQUESTS)
    """How many requests to generate."""
    arrivals: ArrivalConfig
    """The arrival process."""
    prompt_tokens: LengthSpec
    """Prompt lengths: a number, or a length law."""
    output_tokens: LengthSpec
    """Output lengths: a number, or a length law (not text)."""

    @model_validator(mode="after")
    def _text_needs_prompts(self) -> GeneratorConfig:
        if isinstance(self.output_tokens, TextLength):
            raise ValueError("output_tokens cannot be of kind 'text' (no output text exists)")
        if isinstance(self.prompt_tokens, TextLength) and self.prompts is None:
            raise ValueError("prompt_tokens of kind 'text' needs 'prompts' to draw texts from")
        span_s = self.requests / _mean_rate_per_s(self.arrivals)
        if span_s > MAX_TIME_S:
            raise ValueError(f"{self.requests:,} requests at this arrival rate span about "
                             f"{span_s:.3g} s of simulated time, beyond the simulator's limit of "
                             f"{MAX_TIME_S:g} s (see docs/limits.md); raise the rate or lower "
                             "'requests'")
        return self


class ColumnMap(BaseModel):
    """Which source column holds each request field (a generic file, or overrides of a format)."""

    model_config = STRICT
    arrival: str | None = None
    """Column of arrival times."""
    prompt_tokens: str | None = None
    """Column of prompt lengths."""
    output_tokens: str | None = None
    """Column of output lengths."""
    category: str | None = None
    """Column of categories."""
    expert: str | None = None
    """Column of expert names."""
    prompt_text: str | None = None
    """Column of prompt texts (for the keyword classifier)."""


_TRACE_ONLY = ("format", "columns", "arrival_unit", "rate_multiplier", "max_requests", "loop",
               "on_bad_row", "arrivals", "prompts", "category", "expert")


class WorkloadConfig(RequestLabels):
    """The ``workload:`` section: exactly one of ``trace`` and ``generator``.

    For a trace: ``rate_multiplier`` divides every arrival time (2.0 = twice the load);
    ``loop`` repeats the trace (each pass starts one mean gap after the previous one ended)
    until ``max_requests``; ``arrivals`` replaces the trace's timestamps with a generated process
    (required for length-only traces such as Vidur's); ``on_bad_row: skip`` drops and counts
    malformed rows instead of stopping at the first.
    """

    trace: str | None = None
    """A trace file to replay: a path in the data directory (or a file path)."""
    generator: GeneratorConfig | None = None
    """A synthetic workload instead of a trace."""
    format: TraceFormat = "auto"
    """The trace's format (auto: from its columns)."""
    columns: ColumnMap | None = None
    """Which columns hold which field (required for generic; overrides for the others)."""
    arrival_unit: ArrivalUnit | None = None
    """Unit of the arrival column (default: the format's own; generic: seconds)."""
    rate_multiplier: Rate = 1.0
    """Divides every arrival time: 2.0 is twice the load."""
    max_requests: Count | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    """Replay at most this many requests."""
    loop: bool = False
    """Repeat the trace (each pass starts one mean gap after the previous one ended) until max_requests."""
    on_bad_row: Literal["stop", "skip"] = "stop"
    """stop at the first malformed row, or skip (and count) malformed rows."""
    arrivals: ArrivalConfig | None = None
    """Replace the trace's timestamps with a generated arrival process (required for length-only traces such
    as Vidur's)."""

    @model_validator(mode="after")
    def _one_source(self) -> WorkloadConfig:
        if (self.trace is None) == (self.generator is None):
            raise ValueError("give exactly one of 'trace' (a file) and 'generator'")
        if self.generator is not None:
            stray = [f for f in _TRACE_ONLY if f in self.model_fields_set]
            if stray:
                raise ValueError(f"{', '.join(stray)}: only for a 'trace' workload "
                                 "(a generator's labels go inside 'generator')")
        if self.loop and self.max_requests is None:
            raise ValueError("'loop: true' needs 'max_requests' (else the trace never ends)")
        if self.format == "generic" and self.columns is None:
            raise ValueError("format 'generic' needs 'columns' (prompt_tokens, output_tokens, ...)")
        return self
