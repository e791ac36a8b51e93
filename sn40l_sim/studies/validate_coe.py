"""Rows T1-T10 of ``sn40l-sim validate``: P1's CoE experiments replayed through the engine.

Every number here comes from running scenarios in ``scenarios/paper/`` (switch and batch-1
latency, T1-T6) and an expert-count sweep (T7-T9), plus the footprint calculation (T10). Nothing
is tuned to the paper: where the simulator disagrees, the row shows by how much.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.load import load_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.config.resolve import resolve
from sn40l_sim.config.scenario import Scenario
from sn40l_sim.plan.planner import router_plan
from sn40l_sim.present.validation_row import ValidationRow
from sn40l_sim.runner import RunResult, run_scenario
from sn40l_sim.studies.footprint import footprint
from sn40l_sim.studies.paper_decomposition import table_v_reading

PAPER_DIR = Path(__file__).resolve().parents[2] / "scenarios" / "paper"
PLATFORMS = ("sn40l_node", "dgx_a100", "dgx_h100")
SWEEP_EXPERTS = (1, 10, 25, 40, 50, 75, 100, 125, 150, 200, 300, 500, 700, 850, 1000)
TOLERANCE = 0.15


def paper_dir() -> Path:
    """scenarios/paper in a checkout, or the copy installed with the package."""
    if PAPER_DIR.is_dir():
        return PAPER_DIR
    return Path(__file__).resolve().parents[1] / "_scenarios" / "paper"


@dataclass(frozen=True)
class Batch1Result:
    """Mean batch-1 latencies of one platform in the cold-expert experiment (P1 Table V)."""

    overall_s: float  # router + switch + expert
    expert_s: float  # expert only
    switch_s: float  # mean model-switch (copy) time
    router_s: float = 0.0  # mean router step (step 1: the router model's inference)


def _run(scenario: Scenario, source: Path, platform: str, out: Path) -> RunResult:
    variant = scenario.model_copy(update={"platform": platform, "plots": "none"})
    return run_scenario(resolve(variant, source), output=out, plots=False)


@cache
def batch1(output_tokens: int) -> dict[str, Batch1Result]:
    """Run scenarios/paper/t3_batch1_<n>tok.yaml on each platform."""
    source = paper_dir() / f"t3_batch1_{output_tokens}tok.yaml"
    scenario = load_model(Scenario, source)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for platform in PLATFORMS:
            run = _run(scenario, source, platform, Path(tmp))
            done = run.requests[run.requests["outcome"] == "completed"]
            expert = done["e2e_latency_s"] - done["router_s"] - done["switch_wait_s"] - done["queue_wait_s"]
            results[platform] = Batch1Result(float(done["e2e_latency_s"].mean()), float(expert.mean()),
                                             float(run.summary["switch_time_mean_s"]),
                                             float(done["router_s"].mean()))
    return results


@cache
def expert_sweep() -> pd.DataFrame:
    """Mean batch-1 latency and out-of-memory status vs expert count on each platform (T7-T9)."""
    source = paper_dir() / "t7_expert_sweep.yaml"
    scenario = load_model(Scenario, source)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for platform in PLATFORMS:
            for n in SWEEP_EXPERTS:
                experts = [scenario.experts[0].model_copy(update={"count": n})]
                variant = scenario.model_copy(update={"experts": experts})
                run = _run(variant, source, platform, Path(tmp))
                s = run.summary
                rows.append({"platform": run.summary["platform"], "profile": platform, "n_experts": n,
                             "n_servable": s["n_servable_experts"], "oom": s["n_servable_experts"] < n,
                             "latency_mean_s": s["e2e_latency_mean_s"],
                             "hbm_hit_rate": s["hbm_hit_rate"], "n_rejected": s["n_rejected"]})
    return pd.DataFrame(rows)


def _band(reference: float) -> tuple[float, float]:
    return reference * (1 - TOLERANCE), reference * (1 + TOLERANCE)


# Rows a profile parameter was fitted on (docs/cost_model.md §6): SN40L's program load on T5-A100,
# the split of the A100 tensorrt-llm-2024 stack between per-request and per-iteration cost on T6-A100.
FIT_ROWS = {"T5-A100": "fit (SN40L program_load)", "T6-A100": "fit (A100 stack per request vs per iteration)"}


def _ratio_row(id_: str, quantity: str, reference: float, simulated: float) -> ValidationRow:
    lo, hi = _band(reference)
    return ValidationRow(id_, quantity, f"{reference:g}x", reference, simulated, lo, hi, "x",
                         usage=FIT_ROWS.get(id_, "prediction"))


def _switch_and_latency_rows() -> list[ValidationRow]:
    b20, b200 = batch1(20), batch1(200)
    sn = "sn40l_node"
    rows = [
        _ratio_row("T1", "model-switch time, DGX A100 / SN40L", 31.0,
                   b20["dgx_a100"].switch_s / b20[sn].switch_s),
        _ratio_row("T2", "model-switch time, DGX H100 / SN40L", 15.0,
                   b20["dgx_h100"].switch_s / b20[sn].switch_s),
    ]
    targets = (("T3", b20, "overall", "20 tokens", (4.8, 2.8)),
               ("T4", b200, "overall", "200 tokens", (3.9, 2.6)),
               ("T5", b20, "expert", "20 tokens", (2.0, 1.5)),
               ("T6", b200, "expert", "200 tokens", (3.2, 2.3)))
    for id_, res, kind, tokens, (ref_a, ref_h) in targets:
        for gpu, ref, tag in (("dgx_a100", ref_a, "A100"), ("dgx_h100", ref_h, "H100")):
            attr = "overall_s" if kind == "overall" else "expert_s"
            sim = getattr(res[gpu], attr) / getattr(res[sn], attr)
            what = "overall" if kind == "overall" else "expert-only"
            rows.append(_ratio_row(f"{id_}-{tag}", f"{what} speedup vs {tag}, batch 1, {tokens}", ref, sim))
    reading = table_v_reading()[sn]
    s_over_e = b20[sn].switch_s / b20[sn].expert_s
    e_ratio = b200[sn].expert_s / b20[sn].expert_s
    rows.append(ValidationRow("T3-note", "S/E: SN40L switch / expert time, batch 1, 20 tokens",
                              f"{reading['switch'] / reading['expert20']:.3g} [derived]",
                              reading["switch"] / reading["expert20"],
                              s_over_e))
    rows.append(ValidationRow("T4-note", "E(200 tokens) / E(20 tokens) on SN40L",
                              f"{reading['expert200'] / reading['expert20']:.3g} [derived]",
                              reading["expert200"] / reading["expert20"], e_ratio))
    return rows + _table_v_rows(b20, b200)


def _table_v_rows(b20: dict[str, Batch1Result], b200: dict[str, Batch1Result]) -> list[ValidationRow]:
    """Router, switch, expert(20) and expert(200) per platform next to PAPER.md's reading of Table V
    (not judged: derived from the T rows, which are)."""
    paper = table_v_reading()
    rows = []
    for platform, tag in (("sn40l_node", "SN40L"), ("dgx_a100", "A100"), ("dgx_h100", "H100")):
        ref = paper[platform]
        sim = {"router": b20[platform].router_s, "switch": b20[platform].switch_s,
               "expert20": b20[platform].expert_s, "expert200": b200[platform].expert_s}
        for key, what in (("router", "router step (a 128-in / 20-out inference)"), ("switch", "model switch"),
                          ("expert20", "expert, 20 output tokens"),
                          ("expert200", "expert, 200 output tokens")):
            rows.append(ValidationRow(f"V-{tag}-{key}", f"{tag} {what}, batch 1, TP8",
                                      f"{ref[key] * 1e3:.0f} ms [derived]", ref[key] * 1e3, sim[key] * 1e3,
                                      unit="ms"))
    return rows


def _sweep_rows() -> list[ValidationRow]:
    sweep = expert_sweep()
    steps = list(SWEEP_EXPERTS)

    def within_step(value: float, reference: int) -> tuple[float, float]:
        k = min(range(len(steps)), key=lambda i: abs(steps[i] - reference))
        return steps[max(k - 1, 0)], steps[min(k + 1, len(steps) - 1)]

    rows = []
    for profile, tag in (("dgx_a100", "A100"), ("dgx_h100", "H100")):
        s = sweep[sweep["profile"] == profile].set_index("n_experts")
        warm = s["hbm_hit_rate"].fillna(1.0) >= 0.999
        knee = max((n for n in steps if warm.get(n, False)), default=0)
        lo, hi = within_step(knee, 50)
        rows.append(ValidationRow(f"T7-{tag}", f"DGX {tag} knee: most experts all resident in HBM",
                                  "~50 experts", 50, knee, lo, hi, "experts"))
        oom = min((n for n in steps if s.loc[n, "oom"]), default=float("nan"))
        lo, hi = within_step(oom, 150)
        rows.append(ValidationRow(f"T8-{tag}", f"DGX {tag} first sweep point out of memory",
                                  "150 experts", 150, oom, lo, hi, "experts",
                                  note=f"host DRAM holds {int(s['n_servable'].max())} experts"))
    s = sweep[sweep["profile"] == "sn40l_node"].set_index("n_experts")
    served = max((n for n in steps if not s.loc[n, "oom"]), default=0)
    lo, hi = within_step(served, 850)
    rows.append(ValidationRow("T9", "SN40L node: most experts served (sweep point)", "850 experts",
                              850, served, lo, hi, "experts",
                              note=f"DDR holds {int(s['n_servable'].max())} experts"))
    return rows


def _footprint_rows() -> list[ValidationRow]:
    expert = get_model("llama-2-7b")
    router = router_plan(get_model("llama-2-7b"), output_tokens=1, max_batch=1,
                         max_context_tokens=4096)
    kv = 1 * 4096 * expert.kv_bytes_per_token()  # batch-1 KV reservation, 4K context
    nodes = {}
    for platform in PLATFORMS:
        options = footprint(load_platform(platform), [expert] * 850, tp=8, router=router,
                            kv_reservation_bytes=kv)
        by = {o.strategy: o for o in options}
        nodes[platform] = (by["all_in_hbm"].n_nodes, by["backed"].n_nodes)
    rows = []
    for platform, tag in (("dgx_a100", "A100"), ("dgx_h100", "H100")):
        gpu_nodes, sn40l_nodes = nodes[platform][0], nodes["sn40l_node"][1]
        assert gpu_nodes is not None and sn40l_nodes is not None  # a Llama-2-7B fits one group
        ratio = gpu_nodes / sn40l_nodes
        rows.append(ValidationRow(f"T10-{tag}", f"DGX {tag} nodes to hold 850 experts in HBM / SN40L nodes",
                                  "19 (19x)", 19, ratio, 18, 20, "x"))
    return rows


def coe_validation_rows(data_dir: Path | None = None) -> list[ValidationRow]:
    """T1-T10 (no measured data needed)."""
    del data_dir
    return _switch_and_latency_rows() + _sweep_rows() + _footprint_rows()


def main(argv: list[str] | None = None) -> int:
    """Redraw the latency-vs-experts figure (and its table) from a fresh expert-count sweep:
    ``python -m sn40l_sim.studies.validate_coe docs/img/latency_vs_experts.png``."""
    import argparse

    from sn40l_sim.present.run_plots import latency_vs_experts

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("png", type=Path, help="where to write the PNG")
    parser.add_argument("--table", type=Path, help="also write the sweep as Parquet here")
    args = parser.parse_args(argv)
    sweep = expert_sweep()
    args.png.parent.mkdir(parents=True, exist_ok=True)
    latency_vs_experts(sweep, args.png)
    if args.table is not None:
        sweep.to_parquet(args.table, index=False)
    print(sweep.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
