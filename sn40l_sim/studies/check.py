"""``sn40l-sim check``: the resolved plan of a scenario, from :func:`plan_run`, without simulating.

What a planner wants to see before a long run: the serving groups (devices, TP), each expert
group's model, TP, copies and memory, each serving group's HBM split, and what will not fit (experts
the backing store cannot hold; models whose weights exceed a group's expert cache, whose requests
would all be rejected).
"""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from sn40l_sim.catalogue.models import ModelSpec, catalogue
from sn40l_sim.plan.run_plan import RunPlan
from sn40l_sim.units import format_bytes


def will_not_fit(plan: RunPlan) -> list[str]:
    """One line per problem the plan already shows (empty: everything fits)."""
    problems = []
    unservable = [e.name for e, g in zip(plan.experts, plan.placement.groups_of, strict=True) if not g]
    if unservable:
        problems.append(f"{len(unservable)} expert(s) do not fit the backing store (their requests are "
                        f"rejected): {', '.join(unservable[:5])}{' ...' if len(unservable) > 5 else ''}")
    for group in plan.expert_groups:
        model = group.model
        cache = min((g.memory.expert_cache_bytes for g in plan.serving_groups
                     if g.tensor_parallel == group.tensor_parallel), default=0.0)
        if model.weight_bytes > cache:
            problems.append(f"expert group {group.index} ({model.name}): weights "
                            f"{format_bytes(model.weight_bytes)} exceed a TP{group.tensor_parallel} "
                            f"group's expert cache {format_bytes(cache)}: every request to it is "
                            "rejected, at any number of nodes")
    return problems


def degrees(plan: RunPlan) -> dict[int, int]:
    """Serving groups per TP degree, largest degree first (the order the devices are split in)."""
    out: dict[int, int] = {}
    for g in plan.serving_groups:
        out[g.tensor_parallel] = out.get(g.tensor_parallel, 0) + 1
    return out


def plan_view(plan: RunPlan) -> Group:
    """The plan as console tables that fit 80 columns."""
    p = plan.platform
    by_tp = degrees(plan)
    used = sum(tp * n for tp, n in by_tp.items())
    split = (f" of TP{next(iter(by_tp))}" if len(by_tp) == 1 else
             ": " + ", ".join(f"{n} of TP{tp}" for tp, n in by_tp.items()))
    idle = f", {p.n_devices - used} idle" if used < p.n_devices else ""
    head = Text(f"{plan.name} on {p.n_nodes} x {p.name} ({p.n_devices} devices): "
                f"{len(plan.serving_groups)} serving group(s){split}{idle}")
    experts = Table(title="expert groups", box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("#", "model", "experts", "TP", "weights each", "KV/token", "servable", "copies"):
        experts.add_column(name, overflow="fold", justify="left" if name == "model" else "right")
    for g in plan.expert_groups:
        copies = sum(len(plan.placement.groups_of[i]) for i in g.experts)
        servable = sum(1 for i in g.experts if plan.placement.groups_of[i])
        experts.add_row(str(g.index), g.model.name, str(len(g.experts)), str(g.tensor_parallel),
                        format_bytes(g.model.weight_bytes), format_bytes(g.model.kv_bytes_per_token()),
                        str(servable), str(copies))
    first = {g.tensor_parallel: g.memory for g in reversed(plan.serving_groups)}
    memory = Table(title="memory of one serving group", box=box.SIMPLE_HEAD, title_justify="left",
                   show_header=len(by_tp) > 1)
    memory.add_column("what")
    for tp in by_tp:
        memory.add_column(f"TP{tp}", justify="right")
    for label, attr in (("HBM", "hbm_bytes"), ("router weights (and KV)", "router_bytes"),
                        ("KV reservation (floor)", "kv_reservation_bytes"),
                        ("expert cache (the rest)", "expert_cache_bytes"),
                        ("backing store share (DDR / host DRAM)", "backing_bytes")):
        memory.add_row(label, *(format_bytes(getattr(first[tp], attr)) for tp in by_tp))
    problems = will_not_fit(plan)
    lines = [Text(f"will not fit: {line}", style="bold red") for line in problems] or [
        Text("everything fits: every expert has a group and room in its HBM")]
    return Group(head, experts, memory, *lines)


def models_table(extra: dict[str, ModelSpec] | None = None, source: str = "") -> Table:
    """The model catalogue (and a scenario's own models, marked ``*``): name, layers, hidden
    size, parameters, BF16 weights, KV per token."""
    title = "model catalogue (sn40l_sim/catalogue/models.yaml)"
    if extra:
        title += f"; * from {source}"
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("model", "layers", "hidden", "params", "weights", "KV/token"):
        table.add_column(name, overflow="fold", justify="left" if name == "model" else "right")
    rows = [*((f"{n} *", m) for n, m in sorted((extra or {}).items())), *sorted(catalogue().items())]
    for name, model in rows:
        table.add_row(name, str(model.n_layers), str(model.hidden_size),
                      f"{model.weight_bytes / model.bytes_per_param / 1e9:.2f} B",
                      format_bytes(model.weight_bytes), format_bytes(model.kv_bytes_per_token()))
    return table
