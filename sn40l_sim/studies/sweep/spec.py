"""The sweep file's schema: a base scenario, a grid of dotted-path overrides, an optional SLO search.

::

    name: capacity-azure-conv
    scenario: ../azure_conv_coe.yaml        # relative to this file
    set: {plots: none}                      # overrides applied to every point
    cases:                                  # optional: settings that go together
      - {platform: sn40l_node, serving.tensor_parallel: 8}
      - {platform: dgx_h100, serving.tensor_parallel: 8}
    grid:                                   # every combination of these values ...
      workload.rate_multiplier: [1, 2, 4]
    search:                                 # ... and, per combination, a bisection
      field: nodes
      low: 1
      high: 16
      goal: min                             # the fewest nodes that meet the SLO
      slo: {metric: ttft_p99_s, max: 1.0}
      program_load_band: true               # default: SN40L searches also at 0.5x / 2x program load

Validated with pydantic (``extra="forbid"``); every error names the sweep file, line and field.
Dotted paths are checked against the Scenario schema by :mod:`sn40l_sim.studies.sweep.grid`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from sn40l_sim.config.limits import check_name
from sn40l_sim.config.load import line_of, load_model, read_yaml
from sn40l_sim.errors import InputError

STRICT = ConfigDict(extra="forbid", frozen=True)
PROGRAM_LOAD_SCALE = "costs.program_load_scale"  # the field search.program_load_band varies


class SloConfig(BaseModel):
    """A bound on one summary metric (see docs/metrics.md): ``{metric: ttft_p99_s, max: 1.0}``.

    A point whose metric is NaN (nothing completed) or that ended in an error fails the SLO;
    ``max_rejected_share`` (default 0) also fails points that rejected more than that share of
    requests, so "nothing completed, nothing slow" never passes.
    """

    model_config = STRICT
    metric: str = Field(min_length=1)
    max: float | None = Field(default=None, allow_inf_nan=False)
    min: float | None = Field(default=None, allow_inf_nan=False)
    max_rejected_share: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_bound(self) -> SloConfig:
        if (self.max is None) == (self.min is None):
            raise ValueError("give exactly one of 'max' and 'min'")
        return self

    def met(self, row: dict[str, Any]) -> bool:
        """Whether a finished point meets the SLO."""
        if row.get("status") != "ok":
            return False
        value = row.get(self.metric)
        if value is None or not isinstance(value, int | float) or math.isnan(value):
            return False
        n_requests = row.get("n_requests") or 0
        if n_requests and (row.get("n_rejected") or 0) / n_requests > self.max_rejected_share:
            return False
        return value <= self.max if self.max is not None else value >= self.min  # type: ignore[operator]

    def describe(self) -> str:
        return f"{self.metric} <= {self.max:g}" if self.max is not None else f"{self.metric} >= {self.min:g}"


class SearchConfig(BaseModel):
    """Bisection over one field, separately for every combination of the grid and cases.

    ``goal: min`` finds the smallest value that meets the SLO and assumes that a larger value never
    makes things worse (nodes, max_batch). ``goal: max`` finds the largest value that meets it and
    assumes a larger value never makes things better (an arrival rate). Integers step by 1; floats
    stop when the bracket is narrower than ``resolution``. Alternatively ``values`` lists the
    candidates (sorted ascending) and the bisection runs over their positions.
    """

    model_config = STRICT
    field: str = Field(min_length=1)
    low: float | None = Field(default=None, allow_inf_nan=False, ge=-1e15, le=1e15)
    high: float | None = Field(default=None, allow_inf_nan=False, ge=-1e15, le=1e15)
    values: list[Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]] | None = Field(
        default=None, min_length=1, max_length=10_000)
    integer: bool | None = None  # default: True when low and high are whole numbers
    # The unit of a dimensioned field ('GB/s', 'ms', 'W'): each probe is written as '<value> <unit>',
    # since a bare number in such a field is an error (docs/limits.md). None for counts and rates.
    unit: str | None = Field(default=None, min_length=1, max_length=16)
    resolution: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    goal: Literal["min", "max"] = "min"
    slo: SloConfig
    # Grid or case axes to choose over rather than report: per combination of the other axes the
    # capacity table keeps the cheapest answer ($/hour, then fewest devices), e.g. TP 1/2/4/8.
    cheapest_over: list[str] = Field(default_factory=list)
    # Candidate TP degrees for every expert group (powers of two): each group's TP is chosen among
    # those at which its model fits one serving group's HBM on the point's platform (and that divide
    # the node); every combination is searched and the capacity table keeps the cheapest, as for
    # cheapest_over (the axes are experts.<i>.tensor_parallel).
    per_group_tp: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        default=None, min_length=1, max_length=13)
    # When the sweep searches on a platform that pays a program load (SN40L) and on one that does
    # not (a GPU), the first's searches are also run with costs.program_load_scale 0.5 and 2: the
    # capacity table shows how its answer moves with this fitted, unmeasured cost
    # (sweep/program_load_band.py). False: the base searches only.
    program_load_band: bool = True

    @field_validator("per_group_tp")
    @classmethod
    def _powers_of_two(cls, value: list[int] | None) -> list[int] | None:
        if value is not None:
            bad = [v for v in value if v & (v - 1)]
            if bad:
                raise ValueError(f"per_group_tp {bad} are not powers of two (1, 2, 4, 8, ...)")
            if len(set(value)) != len(value):
                raise ValueError("per_group_tp has repeats")
        return value

    @model_validator(mode="after")
    def _range(self) -> SearchConfig:
        if self.values is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either 'values' or 'low'/'high', not both")
            if list(self.values) != sorted(set(self.values)):
                raise ValueError("'values' must be sorted ascending without repeats")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give 'low' and 'high' (or a 'values' list)")
        if self.low > self.high:
            raise ValueError(f"low ({self.low:g}) must be <= high ({self.high:g})")
        whole = float(self.low).is_integer() and float(self.high).is_integer()
        if self.integer and not whole:
            raise ValueError("'integer: true' needs whole-number 'low' and 'high'")
        if not (self.integer if self.integer is not None else whole) and self.resolution is None:
            raise ValueError("a float search needs a 'resolution' (the bracket width to stop at)")
        return self

    @property
    def is_integer(self) -> bool:
        if self.values is not None:
            return all(float(v).is_integer() for v in self.values)
        if self.integer is not None:
            return self.integer
        return float(self.low).is_integer() and float(self.high).is_integer()  # type: ignore[arg-type]


class SweepSpec(BaseModel):
    """One sweep file."""

    model_config = STRICT
    name: Annotated[str, AfterValidator(check_name)]  # a slug: the sweep's folder in the output
    description: str = ""
    scenario: str = Field(min_length=1)
    output: str = "results/sweeps"
    set: dict[str, Any] = Field(default_factory=dict)
    cases: list[dict[str, Any]] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    search: SearchConfig | None = None
    keep_runs: bool = False  # keep every point's run folder under <out>/runs/<point id>/
    # Replicate every point (every search) over seeds: tables report the mean and a 95 % t-interval.
    seeds: list[Annotated[int, Field(ge=0, lt=2**63)]] | None = Field(default=None, min_length=1)
    replicates: int | None = Field(default=None, ge=1, le=1000)  # seeds base, base+1, ...

    @model_validator(mode="after")
    def _something_to_run(self) -> SweepSpec:
        if self.seeds is not None and self.replicates is not None:
            raise ValueError("give either 'seeds' or 'replicates', not both")
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("'seeds' has repeats")
        if (self.seeds is not None or self.replicates is not None) and (
                "seed" in self.grid or any("seed" in c for c in self.cases) or "seed" in self.set):
            raise ValueError("'seeds'/'replicates' make 'seed' an axis; do not also set it")
        for path, values in self.grid.items():
            if not values:
                raise ValueError(f"grid axis {path!r} has no values")
        if self.search is not None and (self.search.field in self.grid or
                                        any(self.search.field in c for c in self.cases)):
            raise ValueError(f"{self.search.field!r} is searched; it cannot also be a grid or "
                             "case axis")
        if self.search is not None:
            axes = set(self.grid) | {k for case in self.cases for k in case}
            stray = [a for a in self.search.cheapest_over if a not in axes]
            if stray:
                raise ValueError(f"cheapest_over names {stray}, which are not grid or case axes")
            if "program_load_band" in self.search.model_fields_set and self.search.program_load_band \
                    and PROGRAM_LOAD_SCALE in axes | set(self.set):
                raise ValueError(f"search.program_load_band adds searches at other {PROGRAM_LOAD_SCALE}; "
                                 "it cannot be true when the sweep sets that field itself")
            per_group = [a for a in axes | set(self.set) if is_group_tp_axis(a)]
            if self.search.per_group_tp is not None and per_group:
                raise ValueError(f"search.per_group_tp chooses each group's TP; {per_group} cannot "
                                 "also be set, a grid or a case axis")
        return self


def is_group_tp_axis(path: str) -> bool:
    """``experts.<i>.tensor_parallel``: an expert group's own TP degree."""
    parts = path.split(".")
    return len(parts) == 3 and parts[0] == "experts" and parts[1].isdigit() and parts[2] == "tensor_parallel"


def load_sweep(path: Path) -> tuple[SweepSpec, Any]:
    """Read and validate a sweep file; returns the spec and its YAML node tree (for lines)."""
    spec = load_model(SweepSpec, path)
    _, node = read_yaml(path)
    return spec, node


def located(message: str, path: Path, node: Any, loc: list[str | int]) -> InputError:
    """An InputError at ``loc`` (e.g. ``['grid', 'serving.max_batch']``) of the sweep file."""
    field = ".".join(str(p) for p in loc)
    return InputError(message, file=str(path), line=line_of(node, loc), field=field)
