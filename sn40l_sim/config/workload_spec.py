"""The workload section as frozen specs: what the workload readers and the planner read after resolve.

:class:`~sn40l_sim.config.workload_config.WorkloadConfig` validates the YAML; :func:`workload_spec`
copies it into plain values with the same field names and units (seconds, tokens, requests per
second), one spec class per variant of each ``kind`` union, so no pydantic object leaves ``config/``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sn40l_sim.config import workload_config as wc

# --- arrival processes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoissonArrivalsSpec:
    rate_per_s: float


@dataclass(frozen=True, slots=True)
class GammaArrivalsSpec:
    rate_per_s: float
    cv: float


@dataclass(frozen=True, slots=True)
class ConstantArrivalsSpec:
    rate_per_s: float


@dataclass(frozen=True, slots=True)
class OnOffArrivalsSpec:
    rate_per_s: float
    on_duration: float  # seconds
    off_duration: float  # seconds
    random_durations: bool = False


ArrivalSpec = PoissonArrivalsSpec | GammaArrivalsSpec | ConstantArrivalsSpec | OnOffArrivalsSpec

# --- token-length laws ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixedLengthSpec:
    tokens: int


@dataclass(frozen=True, slots=True)
class UniformLengthSpec:
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class LognormalLengthSpec:
    median: float
    sigma: float
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class GeometricLengthSpec:
    mean: float


@dataclass(frozen=True, slots=True)
class EmpiricalLengthSpec:
    trace: str
    format: str = "auto"
    column: str | None = None
    on_bad_row: str = "stop"


@dataclass(frozen=True, slots=True)
class TextLengthSpec:
    chars_per_token: float = 4.0


# A plain number of tokens, or a law.
LengthsSpec = (int | FixedLengthSpec | UniformLengthSpec | LognormalLengthSpec | GeometricLengthSpec
               | EmpiricalLengthSpec | TextLengthSpec)

# --- labels --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NamedPopularitySpec:
    """A law over names: a list, or ``count`` names ``<prefix>-0 .. <prefix>-(count-1)``."""

    names: tuple[str, ...] | None = None
    count: int | None = None
    prefix: str | None = None

    def resolved_names(self, default_prefix: str) -> list[str] | None:
        """The names drawn from: ``names``, or ``count`` names ``<prefix>-i`` (None: neither)."""
        return wc.names_from(self.names, self.count, self.prefix, default_prefix)


@dataclass(frozen=True, slots=True, kw_only=True)
class UniformPopularitySpec(NamedPopularitySpec):
    """Every name equally likely."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ZipfPopularitySpec(NamedPopularitySpec):
    s: float = 1.0  # P(rank k) is proportional to k**-s


@dataclass(frozen=True, slots=True)
class WeightsPopularitySpec:
    weights: tuple[tuple[str, float], ...]  # (name, relative weight) in the file's order


PopularitySpec = UniformPopularitySpec | ZipfPopularitySpec | WeightsPopularitySpec


@dataclass(frozen=True, slots=True)
class PromptSetSpec:
    file: str  # short names already expanded to their path in the data directory
    label_field: str | None = None
    text_field: str | None = None
    popularity: PopularitySpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLabelsSpec:
    """Columns attached to every request (docs: RequestLabels)."""

    prompts: PromptSetSpec | None = None
    category: PopularitySpec | None = None
    expert: PopularitySpec | None = None


# --- the two workload shapes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorSpec(RequestLabelsSpec):
    """A synthetic workload (docs: GeneratorConfig)."""

    requests: int
    arrivals: ArrivalSpec
    prompt_tokens: LengthsSpec
    output_tokens: LengthsSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec(RequestLabelsSpec):
    """The ``workload:`` section: exactly one of ``trace`` and ``generator`` (docs: WorkloadConfig)."""

    trace: str | None = None
    generator: GeneratorSpec | None = None
    format: str = "auto"
    columns: tuple[tuple[str, str], ...] | None = None  # (field, source column), the ones given
    arrival_unit: str | None = None
    rate_multiplier: float = 1.0
    max_requests: int | None = None
    loop: bool = False
    on_bad_row: str = "stop"
    arrivals: ArrivalSpec | None = None


# --- from the validated models -------------------------------------------------------------------

_SPEC_OF: dict[type, type] = {
    wc.PoissonArrivals: PoissonArrivalsSpec, wc.GammaArrivals: GammaArrivalsSpec,
    wc.ConstantArrivals: ConstantArrivalsSpec, wc.OnOffArrivals: OnOffArrivalsSpec,
    wc.FixedLength: FixedLengthSpec, wc.UniformLength: UniformLengthSpec,
    wc.LognormalLength: LognormalLengthSpec, wc.GeometricLength: GeometricLengthSpec,
    wc.EmpiricalLength: EmpiricalLengthSpec, wc.TextLength: TextLengthSpec,
    wc.UniformPopularity: UniformPopularitySpec, wc.ZipfPopularity: ZipfPopularitySpec,
}


def _variant(model: Any) -> Any:
    """A ``kind`` variant copied field by field into its spec class (numbers pass through)."""
    if model is None or isinstance(model, int):
        return model
    if isinstance(model, wc.WeightsPopularity):
        return WeightsPopularitySpec(tuple(model.weights.items()))
    spec = _SPEC_OF[type(model)]
    values = {f.name: getattr(model, f.name) for f in fields(spec)}
    if isinstance(values.get("names"), list):
        values["names"] = tuple(values["names"])
    return spec(**values)


def prompt_set_spec(config: wc.PromptSetConfig) -> PromptSetSpec:
    """Copy a validated prompt set into its frozen spec."""
    return PromptSetSpec(config.file, config.label_field, config.text_field,
                         _variant(config.popularity))


def _labels(config: wc.RequestLabels) -> dict[str, Any]:
    return {"prompts": None if config.prompts is None else prompt_set_spec(config.prompts),
            "category": _variant(config.category), "expert": _variant(config.expert)}


def _generator_spec(config: wc.GeneratorConfig) -> GeneratorSpec:
    return GeneratorSpec(**_labels(config), requests=config.requests,
                         arrivals=_variant(config.arrivals),
                         prompt_tokens=_variant(config.prompt_tokens),
                         output_tokens=_variant(config.output_tokens))


def workload_spec(config: wc.WorkloadConfig) -> WorkloadSpec:
    """Copy a validated workload section into its frozen spec."""
    columns = (None if config.columns is None else
               tuple((k, v) for k, v in config.columns.model_dump().items() if v is not None))
    return WorkloadSpec(
        **_labels(config), trace=config.trace,
        generator=None if config.generator is None else _generator_spec(config.generator),
        format=config.format, columns=columns, arrival_unit=config.arrival_unit,
        rate_multiplier=config.rate_multiplier, max_requests=config.max_requests, loop=config.loop,
        on_bad_row=config.on_bad_row, arrivals=_variant(config.arrivals))
