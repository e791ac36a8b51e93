"""``sn40l-sim validate``: every paper reproduction and measured-data check in one table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sn40l_sim.present.validation_row import ValidationRow


def _sources() -> list[Callable[[Path | None], list[ValidationRow]]]:
    from sn40l_sim.studies.validate_coe import coe_validation_rows
    from sn40l_sim.studies.validate_cost import cost_validation_rows
    from sn40l_sim.studies.validate_gpu_kernels import gpu_validation_rows
    from sn40l_sim.studies.validate_router import router_validation_rows
    from sn40l_sim.studies.validate_serving import serving_validation_rows

    return [coe_validation_rows, router_validation_rows, cost_validation_rows, serving_validation_rows,
            gpu_validation_rows]


def validation_rows(data_dir: Path | None, only: str | None = None) -> list[ValidationRow]:
    """All rows: CoE targets (T1-T10), the router on labelled prompts (R1), then the cost model
    (T11-T15, measured data)."""
    rows: list[ValidationRow] = []
    for source in _sources():
        rows.extend(source(data_dir))
    if only:
        prefixes = [p.strip() for p in only.split(",") if p.strip()]
        rows = [r for r in rows if any(r.id == p or r.id.startswith(p + ".") or
                                       r.id.startswith(p + "-") for p in prefixes)]
    return rows


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def print_rows(rows: list[ValidationRow], console: Console | None = None) -> None:
    table = Table(title="sn40l-sim validate: paper targets and measured data vs the simulator")
    for col in ("id", "quantity", "reference", "simulated", "ratio", "ok", "fit / prediction"):
        table.add_column(col, overflow="fold")
    for r in rows:
        ok = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}[r.passed]
        table.add_row(r.id, r.quantity, r.reference, f"{_num(r.simulated)} {r.unit}".strip(),
                      _num(r.ratio), ok, r.usage)
    (console or Console()).print(table)


def markdown_rows(rows: list[ValidationRow]) -> str:
    """The table as Markdown (for README: ``sn40l-sim validate --markdown``)."""
    lines = ["| id | quantity | reference | simulated | ratio | in band | fit / prediction |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = {True: "yes", False: "**no**", None: "-"}[r.passed]
        quantity = r.quantity.replace("|", "/")
        lines.append(f"| {r.id} | {quantity} | {r.reference} | {_num(r.simulated)} {r.unit} | "
                     f"{_num(r.ratio)} | {ok} | {r.usage} |".replace("  |", " |"))
    return "\n".join(lines)

