"""The package's layers point one way: a module imports only its own package or the layers below.

Every import in ``sn40l_sim`` is parsed with ``ast`` (lazy imports inside functions included) and
checked against :data:`LAYERS`; docs/concepts.md draws the same picture. An upward import, or a
cycle between packages, fails here with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sn40l_sim"

# Bottom to top. A layer may import any layer to its left (and itself), never one to its right.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("units", "errors", "safe_load"),  # ground: quantities, the one error type, bounded file reading
    ("catalogue",),  # model and hardware specs as frozen dataclasses
    ("config",),  # YAML -> pydantic -> specs (pydantic lives here)
    ("workload",),  # generators, trace formats and readers, the data directory
    ("cost",),  # PURE cost functions
    ("state",),  # PURE serving state: request blocks, queues, HBM residency, placement
    ("policy",),  # PURE decisions: router, scheduler, eviction
    ("plan",),  # PURE run plan: groups, placement, memory, loads, pricing (frozen data)
    ("metrics",),  # recorder (streams Parquet) and the summary read from files
    ("engine",),  # the only SimPy user
    ("present",),  # tables and plots of results; never simulates
    ("runner",),  # one run, end to end
    ("studies",),  # compare, validate, footprint, sweeps: call the runner
    ("api",),  # the documented Python API: run, compare, sweep (exported lazily by __init__)
    ("cli",),  # one module per command
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, imported sn40l_sim module)`` for every import in ``path``, lazy ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("sn40l_sim")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "sn40l_sim":
                found += [(node.lineno, f"sn40l_sim.{a.name}") for a in node.names]
            elif module.startswith("sn40l_sim."):
                found.append((node.lineno, module))
    return found


def _layer_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({_layer_of(p) for p in PACKAGE.rglob("*.py")} - set(RANK) - {"__init__"})
    assert not unplaced, f"modules or packages without a layer in LAYERS: {unplaced}"


def test_imports_only_point_down() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer_of(path)
        if own == "__init__":
            continue
        for line, module in _imports(path):
            target = _top(module)
            if target in RANK and RANK[target] > RANK[own]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {own} imports {module}")
    assert not upward, "imports that point up the layers:\n" + "\n".join(upward)


def test_no_cycle_between_packages() -> None:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        own = _layer_of(path)
        for _, module in _imports(path):
            target = _top(module)
            if target and target != own:
                edges.setdefault(own, set()).add(target)
    cycles = sorted(f"{a} <-> {b}" for a, targets in edges.items() for b in targets
                    if a < b and a in edges.get(b, set()))
    assert not cycles, f"packages that import each other: {cycles}"


ENGINE = PACKAGE / "engine"
# What the engine may take from the plan package: the plan's data types, never a planning function.
PLAN_DATA = "sn40l_sim.plan.run_plan"


def _external_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every import of a module outside ``sn40l_sim``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append((node.lineno, node.module))
    return found


def test_engine_reads_a_plan_not_the_config() -> None:
    """The engine wires SimPy processes from a RunPlan: no pydantic, nothing from ``config/``, and
    from ``plan/`` only its data types (planning happened before the engine was built)."""
    leaks = []
    for path in sorted(ENGINE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent)
        for line, module in _external_imports(path):
            if module.split(".")[0] == "pydantic":
                leaks.append(f"{where}:{line}: imports {module}")
        for line, module in _imports(path):
            if _top(module) == "config" or (_top(module) == "plan" and module != PLAN_DATA):
                leaks.append(f"{where}:{line}: imports {module}")
    assert not leaks, "the engine reaches past its plan:\n" + "\n".join(leaks)


def test_nothing_below_config_imports_pydantic_or_a_private_config_name() -> None:
    """After resolve every section is a frozen spec: pydantic stays in ``config/`` (and the sweep
    file's own schema in ``studies/``), and no module takes a private name out of ``config/``."""
    leaks = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer_of(path)
        where = path.relative_to(PACKAGE.parent)
        if own not in ("config", "studies", "cli", "api", "__init__"):
            leaks += [f"{where}:{line}: imports {module}" for line, module in _external_imports(path)
                      if module.split(".")[0] == "pydantic"]
        if own == "config":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sn40l_sim.config")
                    and any(a.name.startswith("_") for a in node.names)):
                leaks.append(f"{where}:{node.lineno}: imports a private name from {node.module}")
    assert not leaks, "config names leak below config/:\n" + "\n".join(leaks)


# The layers that run a resolved scenario: they read frozen specs, never a validated config model.
BELOW_CONFIG = ("workload", "cost", "state", "policy", "plan", "metrics", "engine")


def _config_names(path: Path) -> list[tuple[int, str, str]]:
    """``(line, module, name)`` for every name imported from ``sn40l_sim.config.*`` in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sn40l_sim.config"):
            found += [(node.lineno, node.module or "", a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, "") for a in node.names
                      if a.name.startswith("sn40l_sim.config")]
    return found


def _is_pydantic(value: object) -> bool:
    """A pydantic model class, or a type alias (union, ``Annotated``) built of one."""
    from typing import get_args

    from pydantic import BaseModel

    if isinstance(value, type) and not get_args(value):
        return issubclass(value, BaseModel)
    return any(_is_pydantic(arg) for arg in get_args(value))


def test_layers_below_config_take_specs_not_pydantic_models() -> None:
    """After resolve every section is a frozen spec: no module of the layers that run a scenario
    imports pydantic, a whole config module, or a name of ``config/`` that is a pydantic model."""
    import importlib

    leaks = []
    for layer in BELOW_CONFIG:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            where = path.relative_to(PACKAGE.parent)
            leaks += [f"{where}:{line}: imports {module}" for line, module in _external_imports(path)
                      if module.split(".")[0] == "pydantic"]
            for line, module, name in _config_names(path):
                if not name:
                    leaks.append(f"{where}:{line}: imports the module {module}")
                    continue
                if _is_pydantic(getattr(importlib.import_module(module), name)):
                    leaks.append(f"{where}:{line}: imports the pydantic model {module}.{name}")
    assert not leaks, "pydantic config reaches below config/:\n" + "\n".join(leaks)


def test_the_layer_check_sees_a_pydantic_model(tmp_path: Path) -> None:
    """The check above finds a config model, or a union of them, imported by name."""
    from sn40l_sim.config import router_config, workload_config, workload_spec

    leaky = tmp_path / "leaky.py"
    leaky.write_text("from sn40l_sim.config.router_config import RouterConfig\n")
    [(line, module, name)] = _config_names(leaky)
    assert (line, module, name) == (1, "sn40l_sim.config.router_config", "RouterConfig")
    assert _is_pydantic(router_config.RouterConfig)
    assert _is_pydantic(workload_config.Popularity) and _is_pydantic(workload_config.LengthSpec)
    assert not _is_pydantic(workload_spec.PopularitySpec)
    assert not _is_pydantic(workload_spec.LengthsSpec) and not _is_pydantic(int)


def test_resolved_sections_are_frozen_specs() -> None:
    """Serving, router and workload reach the layers below as frozen, slotted dataclasses."""
    import dataclasses

    from sn40l_sim.config.load import validate
    from sn40l_sim.config.resolve import resolve
    from sn40l_sim.config.scenario import Scenario

    scenario = validate(Scenario, {
        "name": "specs", "platform": "sn40l_node", "experts": [{"model": "llama-2-7b", "count": 2}],
        "router": {"mapping": {"a": "llama-2-7b-0"}, "categories": {"a": 1}},
        "workload": {"generator": {"requests": 1, "arrivals": {"kind": "poisson", "rate_per_s": 1},
                                   "prompt_tokens": {"kind": "uniform", "low": 1, "high": 2},
                                   "output_tokens": 1,
                                   "expert": {"kind": "weights", "weights": {"llama-2-7b-0": 1}}}},
    }, None, "<test>")
    resolved = resolve(scenario)
    generator = resolved.workload.generator
    assert generator is not None
    for spec in (resolved.serving, resolved.router, resolved.workload, generator,
                 generator.arrivals, generator.prompt_tokens, generator.expert):
        assert dataclasses.is_dataclass(spec) and hasattr(type(spec), "__slots__"), spec
        field = dataclasses.fields(spec)[0].name
        try:
            setattr(spec, field, None)
        except dataclasses.FrozenInstanceError:
            continue
        raise AssertionError(f"{type(spec).__name__} is not frozen")
    assert resolved.router.table == {"a": "llama-2-7b-0"}
    assert resolved.router.mix() == {"a": 1.0}


MAX_ENGINE_FUNCTION_LINES = 60


def test_no_long_function_in_the_engine() -> None:
    """The hot loop reads in named steps: no function in ``engine/`` longer than 60 lines."""
    long = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n_lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if n_lines > MAX_ENGINE_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {node.name} "
                                f"is {n_lines} lines")
    assert not long, "functions over 60 lines in engine/:\n" + "\n".join(long)


def test_no_two_modules_share_a_name() -> None:
    """A module's name says what it holds; two ``plots.py`` in different packages do not."""
    seen: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.stem, []).append(str(path.relative_to(PACKAGE)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"module names used more than once: {clashes}"
