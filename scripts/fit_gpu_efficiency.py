"""Fit the DGX A100 profile's efficiency parameters to measured A100 kernels, and print the errors.

    SN40L_SIM_DATA=../shared/data python scripts/fit_gpu_efficiency.py [--profile dgx_h100] [--write]

Data ($SN40L_SIM_DATA): Vidur's per-layer linear/vector kernels of Llama-2-7B and -70B (1-4096
tokens, TP 1-8), LLMCompass's GEMM sweep, Vidur's FlashAttention kernels and NCCL all-reduce, and
aiconfigurator-perf/<gpu>_sxm (NVIDIA AIConfigurator's measured operator tables).
Each group of parameters is fitted by least squares on log(predicted / measured) with a small
Nelder-Mead (numpy only) over the *same* ``cost.unfused.kernel_s`` / ``cost.network.allreduce_s``
the simulator uses; the fit never looks rows up. Each GPU is fitted on its own kernels: A100 on
Vidur, LLMCompass and AIConfigurator's tables, H100 and B200 on AIConfigurator's (GEMM, prefill and
decode attention, eager NCCL and TensorRT-LLM's custom all-reduce). ``--write`` puts the values into
hw_profiles/<profile>.yaml (lines tagged ``[fit]``).
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

    if platform.execution.decode_attention_flop_efficiency is not None:  # decode fitted apart
        decode = (rows["family"] == "attn_decode").to_numpy()
        fitted = _fit_prefill_attention(platform, rows[~decode])
        return fitted | fit_decode_attention(with_execution(platform, **fitted), rows[decode])
    x = nelder_mead(loss, np.array([_logit(0.4), np.log(256.0), np.log(10e-6)]), iters=800)
    return unpack(nelder_mead(loss, x, iters=800))  # a restart from the optimum: leaves a flat valley


def _fit_prefill_attention(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """The attention model's three parameters on prefill kernels alone (causal FLOP, compute-bound)."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"attention_flop_efficiency": _sigmoid(x[0]), "attention_half_keys": float(np.exp(x[1])),
                "attention_kernel_launch_s": float(np.exp(x[2]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_kernels(with_execution(platform, **unpack(x)), rows), measured)

    x = nelder_mead(loss, np.array([_logit(0.5), np.log(1000.0), np.log(10e-6)]), iters=800)
    return unpack(nelder_mead(loss, x, iters=800))


def fit_decode_attention(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """decode_attention_* on decode kernels alone: one query per sequence over its KV cache, the
    roofline of its FLOP (efficiency saturating in context) and its KV read (``hbm_efficiency``)."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"decode_attention_flop_efficiency": _sigmoid(x[0]),
                "decode_attention_half_keys": float(np.exp(x[1])),
                "decode_attention_kernel_launch_s": float(np.exp(x[2]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_kernels(with_execution(platform, **unpack(x)), rows), measured)

    x = nelder_mead(loss, np.array([_logit(0.2), np.log(256.0), np.log(8e-6)]), iters=800)
    return unpack(nelder_mead(loss, x, iters=800))


def fit_allreduce(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """Eager NCCL: interconnect alpha (per step), its growth per doubling of the GPU count (NCCL's
    small-message protocols take log2(p) hops) and bandwidth of the profile's topology, launch
    included; where the switch reduces in the network (NVLS) its latency and bandwidth too."""
    measured = rows["measured_s"].to_numpy()
    nvls = platform.interconnect.in_network is not None

    def unpack(x: np.ndarray) -> dict[str, float]:
        v = {"latency_s": float(np.exp(x[0])), "bw_bytes_per_s": float(np.exp(x[1])),
             "latency_per_doubling_s": float(np.exp(x[2]))}
        if nvls:
            v |= {"nvls_latency_s": float(np.exp(x[3])), "nvls_bw_bytes_per_s": float(np.exp(x[4]))}
        return v

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_allreduce(m.with_interconnect(platform, **unpack(x)), rows), measured)

    x0 = [np.log(5e-6), np.log(3e11), np.log(5e-6)] + ([np.log(3e-5), np.log(3e11)] if nvls else [])
    x = nelder_mead(loss, np.array(x0), iters=1200)
    return unpack(nelder_mead(loss, x, iters=1200))


def fit_custom_allreduce(platform: PlatformSpec, rows: pd.DataFrame) -> dict[str, float]:
    """The engine's custom all-reduce in a CUDA graph: latency at 2 GPUs, per doubling, bandwidth."""
    measured = rows["measured_s"].to_numpy()

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {"custom_latency_s": float(np.exp(x[0])), "custom_bw_bytes_per_s": float(np.exp(x[1])),
                "custom_latency_per_doubling_s": float(np.exp(x[2]))}

    def loss(x: np.ndarray) -> float:
        return _loss(m.predict_allreduce(m.with_interconnect(platform, **unpack(x)), rows), measured)

    x = nelder_mead(loss, np.array([np.log(4e-6), np.log(1.5e11), np.log(5e-7)]), iters=800)
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
    if key.endswith(("launch_s", "latency_s", "per_doubling_s")):
        return f"{value * 1e6:.2f} us"
    if key.endswith("bw_bytes_per_s"):
        return f"{value / 1e9:.0f} GB/s"
    if key in ("gemm_half_dim", "gemm_half_k", "attention_half_keys", "decode_attention_half_keys"):
        return f"{value:.1f}" if value >= 1 else f"{value:.2g}"  # a saturation fitted away stays > 0
    return f"{value:.3f}"


def _set_line(text: str, indent_key: str, value: str, stamp: str) -> str:
    """Replace the line ``indent_key: ...`` (first match) with the value and a [fit] tag."""
    line = f"{indent_key}: {value} ".ljust(36) + f"# {stamp}"  # a space before '#' on a long key
    return re.sub(rf"(?m)^{re.escape(indent_key)}:[^\n]*$", line, text, count=1)


def _set_in_block(text: str, block: str, indent_key: str, value: str, stamp: str) -> str:
    """``_set_line`` inside the YAML block that starts at the line ``block:``."""
    start = text.index(f"\n{block}:")
    end = start + 1 + len(block) + 1
    indent = len(block) - len(block.lstrip())
    lines = text[end:].split("\n")
    n = 1
    while n < len(lines) and (not lines[n].strip() or len(lines[n]) - len(lines[n].lstrip()) > indent):
        n += 1
    body = "\n".join(lines[:n])
    rest = "\n".join(lines[n:])
    return text[:end] + _set_line(body, indent_key, value, stamp) + ("\n" + rest if lines[n:] else "")


NET_KEYS = {"bw_bytes_per_s": ("  interconnect", "  bandwidth"), "latency_s": ("  interconnect", "  latency"),
            "latency_per_doubling_s": ("  interconnect", "  latency_per_doubling"),
            "nvls_bw_bytes_per_s": ("  in_network_reduction", "    bandwidth"),
            "nvls_latency_s": ("  in_network_reduction", "    latency"),
            "custom_bw_bytes_per_s": ("  custom_allreduce", "    bandwidth"),
            "custom_latency_s": ("  custom_allreduce", "    latency"),
            "custom_latency_per_doubling_s": ("  custom_allreduce", "    latency_per_doubling")}


def write_profile(profile: Path, values: dict[str, float], network: dict[str, float]) -> None:
    """Replace the [fit] numbers of the profile in place (its execution and interconnect lines)."""
    text = profile.read_text()
    stamp = f"[fit] scripts/fit_gpu_efficiency.py --write, {datetime.date.today().isoformat()}"
    head, sep, execution = text.partition("\nexecution:")
    for key, value in values.items():
        yaml_key = key.removesuffix("_s")  # kernel_launch_s -> kernel_launch, as the profile spells it
        execution = _set_line(execution, f"  {yaml_key}", _yaml_value(key, value), stamp)
    for key, value in network.items():
        block, line = NET_KEYS[key]
        if block == "  interconnect":
            net_start = head.index("\ninterconnect:")
            head = head[:net_start] + _set_line(head[net_start:], line, _yaml_value(key, value), stamp)
        else:
            head = _set_in_block(head, block, line, _yaml_value(key, value), stamp)
    profile.write_text(head + sep + execution)
    print(f"\nwrote {profile.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="dgx_a100", choices=sorted(m.AIC_GPUS),
                        help="the DGX profile to fit on its own GPU's measured kernels")
    parser.add_argument("--write", action="store_true", help="update hw_profiles/<profile>.yaml")
    args = parser.parse_args()
    data = Path(os.environ.get("SN40L_SIM_DATA", REPO.parent / "shared" / "data"))
    platform = load_platform(args.profile)
    sets = m.gpu_measured_sets(data, args.profile)
    fit_sets = {k: v[m.fit_mask(args.profile, k, v)] for k, v in sets.items()}
    gemm, vector, attention = fit_sets["gemm"], fit_sets["vector"], fit_sets["attention"]
    nccl, custom = fit_sets["nccl"], fit_sets["custom"]
    if gemm.empty:
        print(f"no measured data under {data}", file=sys.stderr)
        return 2

    values = fit_gemm(platform, gemm)
    platform = with_execution(platform, **values)
    if not vector.empty:  # only A100 has measured vector kernels (Vidur)
        values |= fit_vector(platform, vector)
        platform = with_execution(platform, **values)
    if not attention.empty:
        values |= fit_attention(platform, attention)
        platform = with_execution(platform, **values)
    network = fit_allreduce(platform, nccl) if not nccl.empty else {}
    platform = m.with_interconnect(platform, **network)
    if not custom.empty:
        network |= fit_custom_allreduce(platform, custom)
        platform = m.with_interconnect(platform, **network)

    print(f"fitted {args.profile} parameters:")
    for key, value in {**values, **network}.items():
        print(f"  {key:30} {_yaml_value(key, value)}")
    report(platform, gemm, "GEMM kernels (M1)")
    if not vector.empty:
        report(platform, vector, "vector kernels (norm, rotary, activation, add)")
    if not attention.empty:
        report(platform, attention, "attention kernels")
    for label, rows in (("eager NCCL all-reduce", nccl), ("custom all-reduce (CUDA graph)", custom)):
        if not rows.empty:
            report(platform, rows.assign(op=rows["tp"].map(lambda p: f"{p} GPUs")), label)
    for family, rows in sets.items():
        checks = rows[~m.fit_mask(args.profile, family, rows)]
        if not checks.empty:
            if "operator" not in checks:
                checks = checks.assign(op=checks["tp"].map(lambda p: f"{p} GPUs"))
            report(platform, checks, f"{family}: measured rows not fitted on (predictions)")
    if args.write:
        write_profile(REPO / "hw_profiles" / f"{args.profile}.yaml", values, network)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
