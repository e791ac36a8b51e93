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

from sn40l_sim.catalogue.models import catalogue
from sn40l_sim.plan.run_plan import RunPlan
from sn40l_sim.units import format_bytes


def will_not_fit(plan: RunPlan) -> list[str]:
    """One line per problem the plan already shows (empty: everything fits)."""
    problems = []
    unservable = [e.name for e, g in zip(plan.experts, plan.placement.groups_of, strict=True) if not g]
    if unservable:
        problems.append(f"{len(unservable)} expert(s) do not fit the backing store (their requests are "
                        f"rejected): {', '.join(unservable[:5])}{' ...' if len(unservable) > 5 else ''}")
    cache = min(g.memory.expert_cache_bytes for g in plan.serving_groups)
    for group in plan.expert_groups:
        model = group.model
        if model.weight_bytes > cache:
            problems.append(f"expert group {group.index} ({model.name}): weights "
                            f"{format_bytes(model.weight_bytes)} exceed a TP{group.tensor_parallel} "
                            f"group's expert cache {format_bytes(cache)}: every request to it is "
                            "rejected, at any number of nodes")
    return problems


def plan_view(plan: RunPlan) -> Group:
    """The plan as console tables that fit 80 columns."""
    p = plan.platform
    tp = plan.serving_groups[0].tensor_parallel
    head = Text(f"{plan.name} on {p.n_nodes} x {p.name} ({p.n_devices} devices): "
                f"{len(plan.serving_groups)} serving group(s) of TP{tp}")
    experts = Table(title="expert groups", box=box.SIMPLE_HEAD, title_justify="left")
    for name in ("#", "model", "experts", "TP", "weights each", "KV/token", "servable", "copies"):
        experts.add_column(name, overflow="fold", justify="left" if name == "model" else "right")
    for g in plan.expert_groups:
        copies = sum(len(plan.placement.groups_of[i]) for i in g.experts)
        servable = sum(1 for i in g.experts if plan.placement.groups_of[i])
        experts.add_row(str(g.index), g.model.name, str(len(g.experts)), str(g.tensor_parallel),
                        format_bytes(g.model.weight_bytes), format_bytes(g.model.kv_bytes_per_token()),
                        str(servable), str(copies))
    m = plan.memory
    memory = Table(title="memory of one serving group", box=box.SIMPLE_HEAD, title_justify="left",
                   show_header=False)
    memory.add_column("what")
    memory.add_column("bytes", justify="right")
    for label, value in (("HBM", m.hbm_bytes), ("router weights (and KV)", m.router_bytes),
                         ("KV reservation (floor)", m.kv_reservation_bytes),
                         ("expert cache (the rest)", m.expert_cache_bytes),
                         ("backing store share (DDR / host DRAM)", m.backing_bytes)):
        memory.add_row(label, format_bytes(value))
    problems = will_not_fit(plan)
    lines = [Text(f"will not fit: {line}", style="bold red") for line in problems] or [
        Text("everything fits: every expert has a group and room in its HBM")]
    return Group(head, experts, memory, *lines)


def models_table() -> Table:
    """The model catalogue: name, layers, hidden size, parameters, BF16 weights, KV per token."""
    table = Table(title="model catalogue (sn40l_sim/catalogue/models.yaml)", box=box.SIMPLE_HEAD,
                  title_justify="left")
    for name in ("model", "layers", "hidden", "params", "weights", "KV/token"):
        table.add_column(name, overflow="fold", justify="left" if name == "model" else "right")
    for name, model in sorted(catalogue().items()):
        table.add_row(name, str(model.n_layers), str(model.hidden_size),
                      f"{model.weight_bytes / model.bytes_per_param / 1e9:.2f} B",
                      format_bytes(model.weight_bytes), format_bytes(model.kv_bytes_per_token()))
    return table
