"""Turn a validated Scenario into the frozen inputs the engine runs on."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sn40l_sim.catalogue.hardware import PlatformSpec, PowerSpec, PriceSpec
from sn40l_sim.catalogue.models import ModelSpec, get_model
from sn40l_sim.config.limits import MAX_DEVICES, MAX_EXPERT_COPIES
from sn40l_sim.config.load import read_yaml, validate, with_lines
from sn40l_sim.config.overrides import BASE_KEY, apply_overrides, platform_over_base
from sn40l_sim.config.policy_names import (
    EVICTION_NAMES,
    PLACEMENT_NAMES,
    SCHEDULER_NAMES,
    check_policy_name,
)
from sn40l_sim.config.profiles import load_platform, platform_from_mapping
from sn40l_sim.config.router_spec import RouterSpec, router_spec
from sn40l_sim.config.scenario import CostsConfig, Scenario
from sn40l_sim.config.serving_spec import ServingSpec, serving_spec
from sn40l_sim.config.workload_spec import WorkloadSpec, workload_spec
from sn40l_sim.errors import InputError, combine

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Expert:
    """One expert of the composition: a name and its model's shape."""

    index: int
    name: str
    model: ModelSpec


@dataclass(frozen=True)
class ResolvedScenario:
    """Everything a run needs, with names resolved to specs and paths made absolute."""

    scenario: Scenario
    source: Path | None
    platform: PlatformSpec
    experts: tuple[Expert, ...]
    router_model: ModelSpec | None
    # (count, share of requests) per ``experts:`` entry when any entry sets a share, else None.
    group_shares: tuple[tuple[int, float], ...] | None = None
    # Each expert's share of requests as routed from a trace's own labels (read ahead by the
    # runner for load-aware placement); None: placement derives shares from the configuration.
    planned_shares: tuple[float, ...] | None = None
    # The scenario's own models (``models_file``), by name; the catalogue holds the rest.
    models: dict[str, ModelSpec] = dataclasses.field(default_factory=dict)
    # The serving, router and workload sections as frozen specs (copied from ``scenario``): what
    # every layer below ``config/`` reads.
    serving: ServingSpec = dataclasses.field(init=False)
    router: RouterSpec = dataclasses.field(init=False)
    workload: WorkloadSpec = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "serving", serving_spec(self.scenario.serving))
        object.__setattr__(self, "router", router_spec(self.scenario.router))
        object.__setattr__(self, "workload", workload_spec(self.scenario.workload))

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def model(self, name: str) -> ModelSpec:
        """A model by name: the scenario's own models file first, then the catalogue."""
        return get_model(name, self.models)

    @property
    def group_tensor_parallel(self) -> tuple[int, ...]:
        """Each ``experts:`` entry's TP degree: its own, else ``serving.tensor_parallel``."""
        return group_tensor_parallel(self.scenario)

    @property
    def expert_group_sizes(self) -> tuple[int, ...]:
        """How many experts each ``experts:`` entry expands to (entries expand in order)."""
        return tuple(g.count for g in self.scenario.experts)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()


def group_tensor_parallel(scenario: Scenario) -> tuple[int, ...]:
    """Each ``experts:`` entry's TP degree: its own ``tensor_parallel``, else the serving one."""
    default = scenario.serving.tensor_parallel
    return tuple(g.tensor_parallel if g.tensor_parallel is not None else default
                 for g in scenario.experts)


def _check_group_tp(scenario: Scenario, platform: PlatformSpec, n_devices: int,
                    file: str | None) -> None:
    """A group's own TP must divide the node (its serving groups never straddle two nodes), and the
    fleet must hold one serving group of every TP degree the scenario uses."""
    per_node = platform.n_devices_per_node
    for i, group in enumerate(scenario.experts):
        tp = group.tensor_parallel
        if tp is not None and per_node % tp:
            raise InputError(f"tensor_parallel {tp} does not divide the {per_node} devices per node "
                             f"of {platform.name}", file=file, field=f"experts[{i}].tensor_parallel")
    degrees = set(group_tensor_parallel(scenario))
    if len(degrees) > 1 and sum(degrees) > n_devices:
        raise InputError(f"the expert groups use TP degrees {sorted(degrees, reverse=True)}: one serving "
                         f"group of each needs {sum(degrees)} devices, more than the {n_devices} of "
                         f"{scenario.nodes} node(s) of {platform.name}", file=file, field="nodes")


def _field_error(exc: InputError, source: Path | None, field: str) -> InputError:
    """Locate an error in the scenario file unless it already points into another file."""
    if exc.file:
        return exc
    return InputError(exc.message, file=str(source) if source else None, field=exc.field or field)


def expand_experts(scenario: Scenario, source: Path | None,
                   extra: dict[str, ModelSpec] | None = None) -> tuple[Expert, ...]:
    """Expand ``count``/``name_prefix`` groups into named experts; names must be unique."""
    experts: list[Expert] = []
    seen: set[str] = set()
    models: list[ModelSpec] = []
    problems: list[InputError] = []
    for g_index, group in enumerate(scenario.experts):
        try:
            models.append(get_model(group.model, extra))
        except InputError as exc:
            problems.append(_field_error(exc, source, f"experts[{g_index}].model"))
    if problems:
        raise combine(problems)
    for g_index, (group, model) in enumerate(zip(scenario.experts, models, strict=True)):
        prefix = group.name_prefix or group.model
        for i in range(group.count):
            name = group.name or (prefix if group.count == 1 else f"{prefix}-{i}")
            if name in seen:
                raise InputError(f"duplicate expert name {name!r}", file=str(source) if source else None,
                                 field=f"experts[{g_index}]")
            seen.add(name)
            experts.append(Expert(index=len(experts), name=name, model=model))
    return tuple(experts)


def _check_policy_names(scenario: Scenario, source: Path | None) -> list[InputError]:
    """Unknown scheduler/eviction names and pinned experts, each with the field it came from.

    The names are declared in :mod:`sn40l_sim.config.policy_names` (config sits below policy, so it
    cannot ask the registries); ``tests/test_policy_registry.py`` keeps the two lists equal.
    """
    problems: list[InputError] = []
    file = str(source) if source else None
    for known, value, field in ((SCHEDULER_NAMES, scenario.serving.scheduler, "serving.scheduler"),
                                (EVICTION_NAMES, scenario.serving.eviction, "serving.eviction"),
                                (PLACEMENT_NAMES, scenario.serving.placement, "serving.placement")):
        try:
            check_policy_name(known, value, field.split(".")[-1])
        except InputError as exc:
            problems.append(_field_error(exc, source, field))
    if scenario.serving.eviction == "pinned" and not scenario.serving.pinned:
        problems.append(InputError("eviction 'pinned' needs a non-empty 'serving.pinned' list of "
                                   "experts", file=file, field="serving.pinned"))
    return problems


def _check_pinned(scenario: Scenario, experts: tuple[Expert, ...], source: Path | None) -> None:
    names = {e.name for e in experts}
    unknown = [n for n in scenario.serving.pinned if n not in names]
    if unknown:
        raise InputError(f"pinned experts {unknown} are not in the expert list",
                         file=str(source) if source else None, field="serving.pinned")


def _check_speculative(scenario: Scenario, experts: tuple[Expert, ...] | None, source: Path | None,
                       extra: dict[str, ModelSpec] | None = None) -> None:
    """The draft is a catalogue model and rates are keyed by known categories or experts."""
    from sn40l_sim.config.speculative_config import DEFAULT_KEY

    spec = scenario.serving.speculative
    assert spec is not None
    file = str(source) if source else None
    try:
        get_model(spec.draft, extra)
    except InputError as exc:
        raise _field_error(exc, source, "serving.speculative.draft") from None
    if isinstance(spec.acceptance, dict):
        known = set(scenario.router.categories or {}) | {e.name for e in experts or ()} | {DEFAULT_KEY}
        if isinstance(scenario.router.mapping, dict):
            known |= set(scenario.router.mapping)
        unknown = sorted(set(spec.acceptance) - known)
        if unknown:
            raise InputError(f"acceptance keys {unknown} are neither router categories nor experts "
                             f"(known: {', '.join(sorted(known))})", file=file,
                             field="serving.speculative.acceptance")


SHARE_TOLERANCE = 1e-6  # given shares may sum to 1 within this


def group_shares(scenario: Scenario, source: Path | None) -> tuple[tuple[int, float], ...] | None:
    """Each expert group's share of requests; groups without one split the rest by their counts.

    Shares need ``router.mapping: zipf`` (the router then draws a group by share and the expert
    within it); given shares must not exceed 1, and must sum to 1 when every group has one.
    """
    given = [g.share for g in scenario.experts]
    if all(s is None for s in given):
        return None
    where = str(source) if source else None
    if scenario.router.mapping != "zipf":
        raise InputError("'share' of an expert group needs 'router.mapping: zipf' (the router "
                         "draws the group by share, then the expert within it)", file=where,
                         field="experts")
    total = sum(s for s in given if s is not None)
    rest = [g.count for g, s in zip(scenario.experts, given, strict=True) if s is None]
    if total > 1 + SHARE_TOLERANCE or (not rest and abs(total - 1) > SHARE_TOLERANCE):
        raise InputError(f"expert group shares sum to {total:.6g}; they must sum to 1 (or to "
                         "less, when some groups leave theirs to be split)", file=where,
                         field="experts")
    if rest and total >= 1 - SHARE_TOLERANCE:
        raise InputError("expert group shares leave nothing for the groups without a share",
                         file=where, field="experts")
    left, n_rest = max(0.0, 1 - total), sum(rest)
    return tuple((g.count, s if s is not None else left * g.count / n_rest)
                 for g, s in zip(scenario.experts, given, strict=True))


_POWER_FIELDS = ("device_idle", "device_busy", "node_idle", "node_busy")


def apply_costs(platform: PlatformSpec, costs: CostsConfig, source: Path | None) -> PlatformSpec:
    """The profile's power and price with the scenario's ``costs:`` overrides applied."""
    power, price = platform.power, platform.price
    given = {f: getattr(costs, f) for f in _POWER_FIELDS if getattr(costs, f) is not None}
    if given:
        if power is None and len(given) < len(_POWER_FIELDS):
            fields = ", ".join(f"costs.{f}" for f in _POWER_FIELDS)
            raise InputError(f"the profile has no 'power:'; give all of {fields}",
                             file=str(source) if source else None, field="costs")
        base = ({f: getattr(power, f"{f}_w") for f in _POWER_FIELDS} if power else {})
        merged = {**base, **given}
        power = PowerSpec(*(merged[f] for f in _POWER_FIELDS))
    if costs.node_usd_per_hour is not None:
        price = PriceSpec(costs.node_usd_per_hour)
    platform = dataclasses.replace(platform, power=power, price=price)
    if costs.program_load_scale is not None:
        platform = platform.with_program_load_scale(costs.program_load_scale)
    return platform


def _check_size(scenario: Scenario, platform: PlatformSpec, source: Path | None) -> None:
    """Devices and expert copies within the simulator's limits, before anything is allocated."""
    file = str(source) if source else None
    n_devices = scenario.nodes * platform.n_devices_per_node
    if n_devices > MAX_DEVICES:
        raise InputError(f"{scenario.nodes:,} nodes x {platform.n_devices_per_node} devices = "
                         f"{n_devices:,} devices; the simulator's limit is {MAX_DEVICES:,} "
                         "(see docs/limits.md)", file=file, field="nodes")
    tp = scenario.serving.tensor_parallel
    if tp > n_devices:
        raise InputError(f"tensor_parallel {tp} exceeds the {n_devices} devices of "
                         f"{scenario.nodes} {platform.name} node(s)", file=file,
                         field="serving.tensor_parallel")
    _check_group_tp(scenario, platform, n_devices, file)
    replicas = scenario.serving.replicas
    n_experts = sum(g.count for g in scenario.experts)
    if isinstance(replicas, int) and n_experts * min(replicas, n_devices // tp) > MAX_EXPERT_COPIES:
        raise InputError(f"{n_experts:,} experts x {replicas} replicas exceed the simulator's limit "
                         f"of {MAX_EXPERT_COPIES:,} expert copies (see docs/limits.md)", file=file,
                         field="serving.replicas")


def _attempt(problems: list[InputError], make: Callable[[], T]) -> T | None:
    """Run one independent check; its InputError joins ``problems`` so all are reported at once."""
    try:
        return make()
    except InputError as exc:
        problems.append(exc)
        return None


def _load_platform(scenario: Scenario, source: Path | None) -> PlatformSpec:
    base = source.parent if source is not None else None
    try:
        if isinstance(scenario.platform, str):
            platform = load_platform(scenario.platform, base)
        elif BASE_KEY in scenario.platform:
            platform = platform_over_base(scenario.platform, source).to_spec()
        else:
            platform = platform_from_mapping(scenario.platform, f"{source}: platform")
    except InputError as exc:
        raise _field_error(exc, source, "platform") from None
    return apply_costs(dataclasses.replace(platform, n_nodes=scenario.nodes), scenario.costs, source)


def platform_of(scenario: Scenario, source: Path | None = None) -> PlatformSpec:
    """The scenario's platform alone (profile, overrides, ``costs:``), without resolving its experts."""
    return _load_platform(scenario, source)


def _router_model(scenario: Scenario, source: Path | None,
                  extra: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    if scenario.router.model is None:
        return None
    try:
        return get_model(scenario.router.model, extra)
    except InputError as exc:
        raise _field_error(exc, source, "router.model") from None


def resolve(scenario: Scenario, source: Path | None = None) -> ResolvedScenario:
    """Resolve names (platform profile, catalogue models) into specs; every problem at once."""
    problems: list[InputError] = []
    platform = _attempt(problems, lambda: _load_platform(scenario, source))
    if platform is not None:
        _attempt(problems, lambda: _check_size(scenario, platform, source))
    problems.extend(_check_policy_names(scenario, source))
    extra: dict[str, ModelSpec] | None = {}
    if scenario.models_file is not None:
        from sn40l_sim.config.model_file import load_models_file

        extra = _attempt(problems, lambda: load_models_file(scenario.models_file or "", source))
    if extra is None:  # a broken models file: its errors, not every name it would have defined
        raise combine(problems)
    experts = _attempt(problems, lambda: expand_experts(scenario, source, extra))
    if experts is not None:
        _attempt(problems, lambda: _check_pinned(scenario, experts, source))
    if scenario.serving.speculative is not None:
        _attempt(problems, lambda: _check_speculative(scenario, experts, source, extra))
    router_model = _attempt(problems, lambda: _router_model(scenario, source, extra))
    shares = _attempt(problems, lambda: group_shares(scenario, source))
    if problems:
        raise combine(problems)
    assert platform is not None and experts is not None
    return ResolvedScenario(scenario=scenario, source=source, platform=platform, experts=experts,
                            router_model=router_model, group_shares=shares, models=extra)


def load_scenario(path: Path, overrides: dict[str, Any] | None = None) -> ResolvedScenario:
    """Read, validate and resolve a scenario file; every problem located at its line.

    ``overrides``: dotted paths set over the file (``--set``; see :mod:`sn40l_sim.config.overrides`).
    """
    data, node = read_yaml(path)
    if data is None:
        raise InputError("the file is empty", file=str(path))
    if overrides:
        if not isinstance(data, dict):
            raise InputError("the scenario is not a mapping", file=str(path))
        try:
            data = apply_overrides(data, overrides)
        except KeyError as exc:
            raise InputError(f"--set: cannot apply: {exc.args[0]}", file=str(path),
                             field="--set") from None
    try:
        return resolve(validate(Scenario, data, node, str(path)), path)
    except InputError as exc:
        raise with_lines(exc, node, str(path)) from None
