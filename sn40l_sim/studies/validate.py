"""``sn40l-sim validate``: every paper reproduction and measured-data check in one table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sn40l_sim.errors import InputError, unknown_name_error
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
    return select_rows(rows, only) if only is not None else rows


def _matches(row_id: str, prefix: str) -> bool:
    return row_id == prefix or row_id.startswith((prefix + ".", prefix + "-"))


def select_rows(rows: list[ValidationRow], only: str) -> list[ValidationRow]:
    """The rows whose ids ``only``'s comma-separated prefixes name; a prefix that names no row is an
    InputError with the closest id (``--only T77``: did you mean 'T7'?)."""
    prefixes = [p.strip() for p in only.split(",") if p.strip()]
    if not prefixes:
        raise InputError("expected comma-separated row ids, e.g. T1,T11", field="--only")
    ids = [r.id for r in rows]
    heads = sorted({i.split(".")[0].split("-")[0] for i in ids} | set(ids))
    for prefix in prefixes:
        if not any(_matches(i, prefix) for i in ids):
            error = unknown_name_error("row id", prefix, heads)
            raise InputError(error.message + " (measured-data rows M and R need the data directory)",
                             field="--only")
    return [r for r in rows if any(_matches(r.id, p) for p in prefixes)]


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

