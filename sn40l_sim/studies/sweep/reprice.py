"""What-ifs on a finished sweep: other prices and power per platform, without re-simulating.

Cost is linear in the price per node-hour and energy is linear in every power figure
(:func:`sn40l_sim.metrics.economics.energy_from_busy_j`), and every point's table row keeps what
they are computed from (``window_s``, ``device_busy_s``, nodes, devices, output tokens). So each
point's price, cost, energy and power figures are recomputed for the new values; which
configurations meet the SLO (goodput, latency) does not depend on them, so each search's answer
stays and only the choice of the cheapest configuration (``cheapest_over``) and the capacity table
change. The results go to a new folder inside the sweep's; the sweep's own files are left as they
are.

Changes are given per platform, by its profile name (``sn40l_node``; for ``{base: ...}`` platforms
the base) or its display name:

* price: ``sn40l_node=1.5x`` (a factor on the point's own price) or ``sn40l_node=30`` ($/node-hour);
* power: ``sn40l_node=0.8x`` (a factor on every figure) or ``sn40l_node.device_busy=450 W`` (one
  figure: device_idle, device_busy, node_idle or node_busy).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sn40l_sim.catalogue.hardware import PlatformSpec, PowerSpec, PriceSpec
from sn40l_sim.config.load import read_yaml, validate
from sn40l_sim.config.overrides import BASE_KEY, apply_overrides
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.errors import InputError
from sn40l_sim.metrics.economics import Fleet, energy_from_busy_j, peak_power_w
from sn40l_sim.units import parse_quantity

POWER_FIELDS = ("device_idle", "device_busy", "node_idle", "node_busy")
_FACTOR = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*x\s*$")
RECOMPUTED = ("price_usd_per_hour", "cost_usd", "cost_per_million_output_tokens_usd", "energy_j",
              "mean_power_w", "peak_power_w", "energy_per_request_j", "tokens_per_j")


@dataclass(frozen=True)
class Change:
    """One platform's new price and power (None: as simulated)."""

    price_factor: float | None = None
    price_usd_per_hour: float | None = None
    power_factor: float | None = None
    power_w: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        parts = []
        if self.price_factor is not None:
            parts.append(f"price x{self.price_factor:g}")
        if self.price_usd_per_hour is not None:
            parts.append(f"price ${self.price_usd_per_hour:g}/node-hour")
        if self.power_factor is not None:
            parts.append(f"power x{self.power_factor:g}")
        parts += [f"{k} {v:g} W" for k, v in self.power_w.items()]
        return ", ".join(parts)


def _factor(text: str) -> float | None:
    match = _FACTOR.match(text)
    return float(match.group(1)) if match else None


def parse_changes(prices: list[str], powers: list[str]) -> dict[str, Change]:
    """``--price`` and ``--power`` arguments -> one :class:`Change` per platform key."""
    out: dict[str, Change] = {}
    for item in prices:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--price {item!r}: expected PLATFORM=FACTORx or PLATFORM=USD_PER_HOUR "
                             "(e.g. sn40l_node=1.5x)", field="--price")
        change = out.get(key.strip(), Change())
        factor = _factor(value)
        if factor is not None:
            change = dataclasses.replace(change, price_factor=factor)
        else:
            try:
                usd = float(value.strip().lstrip("$"))
            except ValueError:
                raise InputError(f"--price {item!r}: {value!r} is neither a factor (1.5x) nor "
                                 "dollars per node-hour", field="--price") from None
            change = dataclasses.replace(change, price_usd_per_hour=usd)
        _positive(change.price_factor or change.price_usd_per_hour, item, "--price")
        out[key.strip()] = change
    for item in powers:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--power {item!r}: expected PLATFORM=FACTORx or "
                             "PLATFORM.FIELD=WATTS (e.g. sn40l_node.device_busy=450 W)", field="--power")
        platform, _, figure = key.strip().partition(".")
        change = out.get(platform, Change())
        if not figure:
            factor = _factor(value)
            if factor is None:
                raise InputError(f"--power {item!r}: a whole platform takes a factor (0.8x); one "
                                 f"figure takes watts ({platform}.device_busy=450 W)", field="--power")
            _positive(factor, item, "--power")
            change = dataclasses.replace(change, power_factor=factor)
        else:
            if figure not in POWER_FIELDS:
                raise InputError(f"--power {item!r}: {figure!r} is not one of "
                                 f"{', '.join(POWER_FIELDS)}", field="--power")
            try:
                watts = parse_quantity(value.strip(), "watts")
            except ValueError as exc:
                raise InputError(f"--power {item!r}: {exc}", field="--power") from None
            change = dataclasses.replace(change, power_w={**change.power_w, figure: watts})
        out[platform] = change
    if not out:
        raise InputError("nothing to change: give --price and/or --power", field="--price")
    return out


def _positive(value: float | None, item: str, option: str) -> None:
    if value is None or not (0 < value < 1e9) or math.isnan(value):
        raise InputError(f"{option} {item!r}: must be a positive number", field=option)


def _new_power(power: PowerSpec | None, change: Change, key: str) -> PowerSpec | None:
    if change.power_factor is None and not change.power_w:
        return power
    base = {f: getattr(power, f"{f}_w") for f in POWER_FIELDS} if power else {}
    missing = [f for f in POWER_FIELDS if f not in base and f not in change.power_w]
    if missing:
        raise InputError(f"--power {key}: the profile has no power figures; give all of "
                         f"{', '.join(POWER_FIELDS)}", field="--power")
    factor = change.power_factor if change.power_factor is not None else 1.0
    merged = {f: change.power_w.get(f, base.get(f, 0.0) * factor) for f in POWER_FIELDS}
    return PowerSpec(*(merged[f] for f in POWER_FIELDS))


def _new_price(price: PriceSpec | None, change: Change) -> PriceSpec | None:
    if change.price_usd_per_hour is not None:
        return PriceSpec(change.price_usd_per_hour)
    if change.price_factor is not None and price is not None:
        return PriceSpec(price.node_usd_per_hour * change.price_factor)
    return price


def _recomputed(row: pd.Series, power: PowerSpec | None, price: PriceSpec | None) -> dict[str, float]:
    """The economics figures of one finished point for another power and price."""
    per_node, tp = int(row["n_devices_per_node"]), int(row["tensor_parallel"])
    # A grid that does not sweep ``nodes`` has no such column: the fleet's devices give it.
    given = row.get("nodes")
    nodes = int(given) if given is not None and given == given else int(row["n_devices"]) // per_node
    fleet = Fleet(nodes, per_node, tp)
    span, busy = float(row["window_s"]), float(row["device_busy_s"])
    tokens = float(row["output_tokens_per_s"]) * float(row["makespan_s"])
    n_completed = float(row["n_completed"])
    energy = energy_from_busy_j(busy, span, fleet, power)
    per_hour = nodes * price.node_usd_per_hour if price else math.nan
    cost = per_hour * span / 3600.0
    return {"price_usd_per_hour": per_hour, "cost_usd": cost,
            "cost_per_million_output_tokens_usd": cost / tokens * 1e6 if tokens else math.nan,
            "energy_j": energy, "mean_power_w": energy / span if span > 0 else math.nan,
            "peak_power_w": peak_power_w(fleet, power),
            "energy_per_request_j": energy / n_completed if n_completed else math.nan,
            "tokens_per_j": tokens / energy if energy and energy == energy else math.nan}


def _platform_keys(platform: str | dict[str, Any], spec: PlatformSpec) -> set[str]:
    """The names a user may give for a point's platform: profile, base profile, display name."""
    keys = {spec.name, spec.name.lower()}
    if isinstance(platform, str):
        keys |= {platform, Path(platform).stem}
    elif isinstance(platform.get(BASE_KEY), str):
        keys |= {platform[BASE_KEY], Path(platform[BASE_KEY]).stem}
    return keys


def _overrides(row: pd.Series, axes: list[str]) -> dict[str, Any]:
    out = {}
    for axis in axes:
        value = row[axis]
        if isinstance(value, float) and math.isnan(value):
            continue
        if hasattr(value, "item"):
            value = value.item()
        out[axis] = _json_cell(value)
    return out


def _json_cell(value: Any) -> Any:
    """Mappings and lists were stored as JSON text in the points table; read them back."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@dataclass
class Repriced:
    """The repriced tables and where they were written."""

    out: Path
    points: pd.DataFrame
    search: pd.DataFrame | None
    capacity: pd.DataFrame | None
    matched: dict[str, int]  # platform key -> points it changed


def reprice_points(points: pd.DataFrame, base: dict[str, Any], source: Path, axes: list[str],
                   changes: dict[str, Change], units: dict[str, str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every ``ok`` point with its economics recomputed where its platform has a change."""
    from sn40l_sim.studies.sweep.task import with_units

    out = points.copy()
    matched = dict.fromkeys(changes, 0)
    cache: dict[str, PlatformSpec] = {}
    for index, row in points.iterrows():
        if row.get("status") != "ok":
            continue
        overrides = _overrides(row, axes)
        data = apply_overrides(base, with_units(overrides, units))
        key = json.dumps(data.get("platform"), sort_keys=True, default=str) + json.dumps(data.get("costs"),
                                                                                     default=str)
        if key not in cache:
            scenario = validate(Scenario, data, None, str(source))
            cache[key] = resolve(scenario, source).platform
        spec = cache[key]
        names = _platform_keys(data["platform"], spec)
        hits = [k for k in changes if k in names or k.lower() in names]
        if not hits:
            continue
        change = changes[hits[0]]
        matched[hits[0]] += 1
        figures = _recomputed(row, _new_power(spec.power, change, hits[0]), _new_price(spec.price, change))
        for column, value in figures.items():
            out.loc[index, column] = value
    return out, matched


def _answers(search: pd.DataFrame, points: pd.DataFrame, field_name: str) -> pd.DataFrame:
    """``answer_*`` columns of each search row from its answering point's (repriced) row."""
    from sn40l_sim.studies.sweep.capacity import ANSWER_KEYS

    out = search.copy()
    for index, row in search.iterrows():
        if row.get("answer") is None or (isinstance(row["answer"], float) and math.isnan(row["answer"])):
            continue
        hit = points[(points["order"] == row["order"]) & (points[field_name] == row["answer"])]
        if hit.empty:
            continue
        for key in ANSWER_KEYS:
            if key in hit.columns:
                out.loc[index, f"answer_{key}"] = hit.iloc[0][key]
    return out


def _new_folder(sweep: Path, name: str | None) -> Path:
    stem = name or "reprice"
    out = sweep / stem
    n = 2
    while out.exists():
        out = sweep / f"{stem}-{n}"
        n += 1
    return out


def reprice_sweep(sweep: Path, changes: dict[str, Change], name: str | None = None) -> Repriced:
    """Reprice the finished sweep in folder ``sweep``; writes ``<sweep>/<name>[-N]/``."""
    from sn40l_sim.present.results_dir import write_json
    from sn40l_sim.studies.sweep.capacity import SEED, capacity_markdown, capacity_mean, capacity_table
    from sn40l_sim.studies.sweep.program_load_band import SCALE_AXIS
    from sn40l_sim.studies.sweep.store import SEARCH_TABLE, read_points, write_frame_atomic

    meta_path = sweep / "sweep.json"
    if not meta_path.exists():
        raise InputError("not a sweep folder (no sweep.json); give the folder `sn40l-sim sweep` wrote",
                         file=str(sweep))
    meta = json.loads(meta_path.read_text())
    source = Path(meta["scenario"])
    base, _ = read_yaml(source)
    spec = meta.get("spec") or {}
    points = read_points(sweep)
    if points.empty:
        raise InputError("the sweep has no finished points", file=str(sweep))
    axes = list(dict.fromkeys([*(spec.get("set") or {}), *(k for c in spec.get("cases") or [] for k in c),
                               *(spec.get("grid") or {})]))
    search_spec = spec.get("search")
    if search_spec:
        axes += [search_spec["field"], SCALE_AXIS]  # the program-load band's searches set the scale
    units = {search_spec["field"]: search_spec["unit"]} if search_spec and search_spec.get("unit") else {}
    axes = [a for a in dict.fromkeys(axes) if a in points.columns]
    repriced, matched = reprice_points(points, base, source, axes, changes, units)
    unmatched = [k for k, n in matched.items() if n == 0]
    if unmatched:
        seen = sorted({str(v) for v in points.get("platform_name", pd.Series(dtype=str)).dropna()})
        raise InputError(f"no finished point runs on {', '.join(map(repr, unmatched))} (the sweep's "
                         f"platforms: {', '.join(seen)}; give a profile or display name)", field="--price")
    out = _new_folder(sweep, name)
    out.mkdir(parents=True)
    write_frame_atomic(repriced, out / "points.parquet")
    search = capacity = None
    if search_spec and (sweep / SEARCH_TABLE).exists():
        search = _answers(pd.read_parquet(sweep / SEARCH_TABLE), repriced, search_spec["field"])
        write_frame_atomic(search, out / SEARCH_TABLE)
        from sn40l_sim.studies.sweep.group_tp import group_tp_axes

        cheapest_over = [*(search_spec.get("cheapest_over") or []), *group_tp_axes(list(search.columns))]
        capacity = capacity_table(search, cheapest_over)
        capacity.to_csv(out / "capacity.csv", index=False)
        if SEED in capacity.columns and SEED not in cheapest_over:
            capacity = capacity_mean(capacity)
            capacity.to_csv(out / "capacity_mean.csv", index=False)
        slo = search["slo"].iloc[0] if len(search) else ""
        (out / "capacity.md").write_text(capacity_markdown(capacity, str(slo)))
    write_json(out / "reprice.json", {"sweep": str(sweep), "points_changed": matched,
                                      "changes": {k: c.describe() for k, c in changes.items()}})
    return Repriced(out, repriced, search, capacity, matched)
