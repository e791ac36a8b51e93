"""Fit the DGX A100 profile's efficiency parameters to measured A100 kernels, and print the errors.

    SN40L_SIM_DATA=../shared/data python scripts/fit_gpu_efficiency.py [--write]

Data ($SN40L_SIM_DATA): Vidur's per-layer linear/vector kernels of Llama-2-7B and -70B (1-4096
tokens, TP 1-8), LLMCompass's GEMM sweep, Vidur's FlashAttention kernels and NCCL all-reduce.
Each group of parameters is fitted by least squares on log(predicted / measured) with a small
Nelder-Mead (numpy only) over the *same* ``cost.unfused.kernel_s`` / ``cost.network.allreduce_s``
the simulator uses; the fit never looks rows up. ``--write`` puts the values into
hw_profiles/dgx_a100.yaml (lines tagged ``[fit]``); H100 is not fitted (see docs/cost_model.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sn40l_sim.catalogue.hardware import PlatformSpec  # noqa: E402
from sn40l_sim.config.profiles import load_platform  # noqa: E402
from sn40l_sim.studies import measured as m  # noqa: E402

PROFILE = REPO / "hw_profiles" / "dgx_a100.yaml"


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, step: float = 0.3, iters: int = 400,
                tol: float = 1e-7) -> np.ndarray:
    """Minimise ``f`` from ``x0`` (standard reflection/expansion/contraction/shrink)."""
    n = len(x0)
    simplex = [x0] + [x0 + step * np.eye(n)[i] for i in range(n)]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        if abs(values[-1] - values[0]) < tol:
            break
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - simplex[-1])
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                simplex = [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex]
                values = [f(x) for x in simplex]
    return simplex[int(np.argmin(values))]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _loss(predicted: np.ndarray, measured: np.ndarray) -> float:
    return float(np.mean(np.log(predicted / measured) ** 2))


def with_execution(platform: PlatformSpec, **values: float) -> PlatformSpec:
    return replace(platform, execution=replace(platform.execution, **values))


def fit_gemm(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """flop_efficiency, gemm_half_dim, gemm_half_k, hbm_efficiency, kernel_launch_s on GEMM rows."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"flop_efficiency": _sigmoid(x[0]), "gemm_half_dim": float(np.exp(x[1])),
                "gemm_half_k": float(np.exp(x[2])), "hbm_efficiency": _sigmoid(x[3]),
                "kernel_launch_s": float(np.exp(x[4]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_kernels(with_execution(platform, **unpack(x)), rows), measured)

    x0 = np.array([_logit(0.9), np.log(64.0), np.log(64.0), _logit(0.8), np.log(5e-6)])
    return unpack(nelder_mead(loss, x0))


def fit_vector(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """elementwise_bw_efficiency and vector_kernel_launch_s on norm/rotary/activation/add kernels."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"elementwise_bw_efficiency": _sigmoid(x[0]), "vector_kernel_launch_s": float(np.exp(x[1]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_kernels(with_execution(platform, **unpack(x)), rows), measured)

    return unpack(nelder_mead(loss, np.array([_logit(0.6), np.log(3e-6)]), iters=800))


def fit_attention(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """attention_flop_efficiency, attention_half_keys and attention_kernel_launch_s on prefill and
    decode FlashAttention kernels together (decode: KV streaming at the GEMM-fitted HBM share)."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"attention_flop_efficiency": _sigmoid(x[0]), "attention_half_keys": float(np.exp(x[1])),
                "attention_kernel_launch_s": float(np.exp(x[2]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_kernels(with_execution(platform, **unpack(x)), rows), measured)

    x = nelder_mead(loss, np.array([_logit(0.4), np.log(256.0), np.log(10e-6)]), iters=800)
    return unpack(nelder_mead(loss, x, iters=800))  # a restart from the optimum: leaves a flat valley


def fit_allreduce(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """Interconnect alpha (per step), its growth per doubling of the GPU count (NCCL's
    small-message protocols take log2(p) hops) and bandwidth of the profile's topology, launch
    included."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"latency_s": float(np.exp(x[0])), "bw_bytes_per_s": float(np.exp(x[1])),
                "latency_per_doubling_s": float(np.exp(x[2]))}

    def loss(x: np.ndarray) -> float:
        v = unpack(x)
        return _loss(m.predict_allreduce(m.with_interconnect(platform, **v), rows), measured)

    x = nelder_mead(loss, np.array([np.log(5e-6), np.log(3e11), np.log(5e-6)]), iters=800)
    return unpack(nelder_mead(loss, x, iters=800))


def report(platform: PlatformSpec, rows: pd.DataFrame, label: str) -> None:
    """MAPE per source and family, and where it is worst."""
    pred = m.predict_kernels(platform, rows) if "operator" in rows else m.predict_allreduce(platform, rows)
    rows = rows.assign(predicted_s=pred, err=np.abs(pred - rows["measured_s"]) / rows["measured_s"])
    keys = ["source", "op"] if "op" in rows and rows["op"].nunique() < 12 else ["source"]
    if "op" in rows and rows["op"].nunique() == 1:
        keys = ["source", "family"]  # attention: prefill and decode
    print(f"\n{label}: MAPE {rows['err'].mean():.1%} over {len(rows)} rows")
    for key, group in rows.groupby(keys):
        print(f"  {key!s:55} MAPE {group['err'].mean():6.1%}  rows {len(group)}")
    if "n_tokens" in rows:
        bins = pd.cut(rows["n_tokens"], [0, 16, 128, 1024, 1 << 20])
        for key, group in rows.groupby(bins, observed=True):
            print(f"  tokens {key!s:48} MAPE {group['err'].mean():6.1%}")


def _yaml_value(key: str, value: float) -> str:
    if key.endswith("launch_s") or key == "latency_s":
        return f"{value * 1e6:.2f} us"
    if key == "bw_bytes_per_s":
        return f"{value / 1e9:.0f} GB/s"
    if key in ("gemm_half_dim", "gemm_half_k", "attention_half_keys"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _set_line(text: str, indent_key: str, value: str, stamp: str) -> str:
    """Replace the line ``indent_key: ...`` (first match) with the value and a [fit] tag."""
    line = f"{indent_key}: {value}".ljust(36) + f"# {stamp}"
    return re.sub(rf"(?m)^{re.escape(indent_key)}:[^\n]*$", line, text, count=1)


def write_profile(values: dict[str, float], network: dict[str, float]) -> None:
    """Replace the [fit] numbers of hw_profiles/dgx_a100.yaml in place."""
    text = PROFILE.read_text()
    stamp = f"[fit] scripts/fit_gpu_efficiency.py --write, {datetime.date.today().isoformat()}"
    head, sep, execution = text.partition("\nexecution:")
    for key, value in values.items():
        yaml_key = key.removesuffix("_s")  # kernel_launch_s -> kernel_launch, as the profile spells it
        execution = _set_line(execution, f"  {yaml_key}", _yaml_value(key, value), stamp)
    net_start = head.index("\ninterconnect:")
    net = head[net_start:]
    if network:
        net = _set_line(net, "  bandwidth", _yaml_value("bw_bytes_per_s", network["bw_bytes_per_s"]), stamp)
        net = _set_line(net, "  latency", _yaml_value("latency_s", network["latency_s"]), stamp)
        net = _set_line(net, "  latency_per_doubling",
                        _yaml_value("latency_s", network["latency_per_doubling_s"]), stamp)
    PROFILE.write_text(head[:net_start] + net + sep + execution)
    print(f"\nwrote {PROFILE.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update hw_profiles/dgx_a100.yaml")
    args = parser.parse_args()
    data = Path(os.environ.get("SN40L_SIM_DATA", REPO.parent / "shared" / "data"))
    platform = load_platform("dgx_a100")
    gemm = pd.concat([m.vidur_mlp_rows(data), m.llmcompass_matmul_rows(data)], ignore_index=True)
    if gemm.empty:
        print(f"no measured data under {data}", file=sys.stderr)
        return 2
    vector = gemm[gemm["family"] == "vector"]
    gemm = gemm[gemm["family"] == "gemm"]
    attention = m.vidur_attention_rows(data)
    allreduce = m.vidur_allreduce_rows(data)

    values = fit_gemm(platform, gemm)
    platform = with_execution(platform, **values)
    values |= fit_vector(platform, vector)
    platform = with_execution(platform, **values)
    if not attention.empty:
        values |= fit_attention(platform, attention)
        platform = with_execution(platform, **values)
    network = fit_allreduce(platform, allreduce) if not allreduce.empty else {}
    if network:
        platform = m.with_interconnect(platform, **network)

    print("fitted DGX A100 parameters:")
    for key, value in {**values, **network}.items():
        print(f"  {key:28} {_yaml_value(key, value)}")
    report(platform, gemm, "GEMM kernels (M1)")
    report(platform, vector, "vector kernels (norm, rotary, activation, add)")
    if not attention.empty:
        report(platform, attention, "attention kernels (M2)")
    if not allreduce.empty:
        labelled = allreduce.assign(op=allreduce["tp"].map(lambda p: f"{p} GPUs"))
        report(platform, labelled, "NCCL all-reduce (M3)")
    if args.write:
        write_profile(values, network)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
