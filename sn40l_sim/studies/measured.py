"""Measured A100 timings (Vidur, LLMCompass) next to what the cost model predicts for them.

Shared by ``scripts/fit_gpu_efficiency.py`` (which fits the DGX A100 profile's efficiency
parameters) and ``sn40l-sim validate`` (rows M1-M3). Each loader returns a DataFrame with a
``family`` column, the measured seconds, and the :class:`Operator` the row corresponds to, so a
prediction is always ``cost.unfused.kernel_s`` of that operator, never a look-up of the row.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import get_model
from sn40l_sim.cost.network import allreduce_s
from sn40l_sim.cost.operators import attention_op, decode_shape, gemm_op, layer_operators, prefill_shape
from sn40l_sim.cost.unfused import kernel_s

VIDUR_MLP = "vidur-profiling/compute/a100_Llama-2-{size}-hf_mlp.csv"
VIDUR_ATTENTION = "vidur-profiling/compute/a100_attention_llama70b-shape_tp2.csv"
VIDUR_ALLREDUCE = "vidur-profiling/network/a100_dgx_all_reduce.csv"
LLMCOMPASS_MATMUL = "llmcompass-a100-kernels/matmul_A100.csv"
MS = 1e-3

# Vidur's operator names -> ours (families: the GEMMs of a layer, and its vector kernels).
VIDUR_GEMMS = {"attn_pre_proj": "qkv_proj", "attn_post_proj": "o_proj", "mlp_up_proj": "gate_up_proj",
               "mlp_down_proj": "down_proj"}
VIDUR_VECTOR = {"input_layernorm": "input_norm", "attn_rope": "rope", "mlp_act": "mlp_act",
                "add": "attn_residual"}


def _ops_by_name(model_name: str, n_tokens: int, tp: int) -> dict[str, Any]:
    model = get_model(model_name)
    return {op.name: op for op in layer_operators(model, prefill_shape(1, n_tokens, tp))}


def _read_measured(data_dir: Path, relative: str, **read_csv: Any) -> pd.DataFrame | None:
    """A measured-data CSV of the data directory, or None when the directory lacks it (the
    checks that need it are then left out, not failed)."""
    path = data_dir / relative
    return pd.read_csv(path, **read_csv) if path.is_file() else None


def vidur_mlp_rows(data_dir: Path) -> pd.DataFrame:
    """One row per (model, op, tokens, TP) of Vidur's per-layer linear and vector kernels."""
    rows = []
    for size in ("7b", "70b"):
        raw = _read_measured(data_dir, VIDUR_MLP.format(size=size))
        if raw is None:
            continue
        for rec in raw.to_dict("records"):
            tp = int(rec["num_tensor_parallel_workers"])
            ops = _ops_by_name(f"llama-2-{size}", int(rec["num_tokens"]), tp)
            for vidur_name, ours in {**VIDUR_GEMMS, **VIDUR_VECTOR}.items():
                family = "gemm" if vidur_name in VIDUR_GEMMS else "vector"
                rows.append({"source": f"vidur-llama-2-{size}", "family": family, "op": vidur_name,
                             "n_tokens": rec["num_tokens"], "tp": tp, "operator": ops[ours],
                             "measured_s": rec[f"time_stats.{vidur_name}.median"] * MS})
    return pd.DataFrame(rows)


def llmcompass_matmul_rows(data_dir: Path) -> pd.DataFrame:
    """LLMCompass's A100 GEMM sweep (M x K) @ (K x N), FP16."""
    raw = _read_measured(data_dir, LLMCOMPASS_MATMUL, header=None, skipinitialspace=True,
                         names=["m", "n", "k", "latency", "throughput"])
    if raw is None:
        return pd.DataFrame()
    rows = [{"source": "llmcompass", "family": "gemm", "op": f"matmul {r.m}x{r.n}x{r.k}", "n_tokens": r.m,
             "tp": 1, "measured_s": float(str(r.latency).removesuffix("ms")) * MS,
             "operator": gemm_op("matmul", int(r.m), int(r.n), int(r.k), 2.0)} for r in raw.itertuples()]
    return pd.DataFrame(rows)


def vidur_attention_rows(data_dir: Path) -> pd.DataFrame:
    """FlashAttention prefill (chunk over a prior context) and decode kernels, Llama-2-70B shape, TP2."""
    raw = _read_measured(data_dir, VIDUR_ATTENTION)
    if raw is None:
        return pd.DataFrame()
    model = get_model("llama-2-70b")
    rows = []
    for r in raw.to_dict("records"):
        tp = int(r["num_tensor_parallel_workers"])
        if r["is_prefill"]:
            shape = prefill_shape(int(r["batch_size"]), int(r["prefill_chunk_size"]), tp,
                                  int(r["kv_cache_size"]))
            measured = r["time_stats.attn_prefill.median"]
        else:
            shape = decode_shape(int(r["batch_size"]), int(r["kv_cache_size"]), tp)
            measured = r["time_stats.attn_decode.median"]
        rows.append({"source": "vidur-attention", "family": "attn_" + shape.phase, "op": "attention",
                     "n_tokens": shape.n_tokens, "tp": tp, "measured_s": measured * MS,
                     "operator": attention_op(model, shape)})
    return pd.DataFrame(rows)


def vidur_allreduce_rows(data_dir: Path) -> pd.DataFrame:
    """NCCL all-reduce inside one DGX A100 (2, 4 and 8 GPUs); sizes are fp16 elements."""
    raw = _read_measured(data_dir, VIDUR_ALLREDUCE)
    if raw is None:
        return pd.DataFrame()
    raw = raw[raw["num_workers"] == raw["devices_per_node"]]
    return pd.DataFrame({"source": "vidur-allreduce", "family": "allreduce", "op": "all_reduce",
                         "n_bytes": 2.0 * raw["size"].to_numpy(), "tp": raw["num_workers"].to_numpy(),
                         "measured_s": raw["time_stats.all_reduce.median"].to_numpy() * MS})


def predict_kernels(platform: PlatformSpec, rows: pd.DataFrame) -> np.ndarray:
    """The cost model's seconds for each row's operator (one kernel, launch included)."""
    return np.array([kernel_s(platform, op) for op in rows["operator"]])


def predict_allreduce(platform: PlatformSpec, rows: pd.DataFrame,
                      launch_s: float | None = None) -> np.ndarray:
    """Alpha-beta all-reduce seconds (+ one kernel launch) for each measured row."""
    launch = platform.execution.kernel_launch_s if launch_s is None else launch_s
    return np.array([allreduce_s(platform.interconnect, b, int(p)) + launch
                     for b, p in zip(rows["n_bytes"], rows["tp"], strict=True)])


def mape(predicted: np.ndarray, measured: np.ndarray) -> float:
    """Mean absolute percentage error (a fraction)."""
    return float(np.mean(np.abs(predicted - measured) / measured))


def with_interconnect(platform: PlatformSpec, latency_s: float, bw_bytes_per_s: float,
                      latency_per_doubling_s: float | None = None) -> PlatformSpec:
    net = replace(platform.interconnect, latency_s=latency_s, bw_bytes_per_s=bw_bytes_per_s)
    if latency_per_doubling_s is not None:
        net = replace(net, latency_per_doubling_s=latency_per_doubling_s)
    return replace(platform, interconnect=net)


NEMO_LLAMA2 = "nemo-llama2-inference/llama2_7b_a100_128in_20out.csv"
SPLITWISE_A100 = "splitwise-perf-a100/perf_model_a100.csv"


def nemo_rows(data_dir: Path) -> pd.DataFrame:
    """NVIDIA NeMo's published Llama-2-7B latencies on A100 (TP1-8, batch 1-8, 128 in / 20 out)."""
    raw = _read_measured(data_dir, NEMO_LLAMA2)
    if raw is None:
        return pd.DataFrame()
    return pd.DataFrame({"tp": raw["tensor_parallel"].astype(int), "batch": raw["batch_size"].astype(int),
                         "prompt": raw["input_tokens"].astype(int),
                         "output": raw["output_tokens"].astype(int),
                         "measured_s": raw["avg_latency_ms"] * MS})


def splitwise_rows(data_dir: Path) -> pd.DataFrame:
    """SplitwiseSim's DGX-A100 Llama-2-70B prefill and decode-iteration times, one row per
    (TP, prompt, batch) with the median of repeated runs. The TP2 batch-64 prefill, flagged as
    suspect by the dataset's README (8x shorter than batch 32), is left out of the prefill rows."""
    raw = _read_measured(data_dir, SPLITWISE_A100)
    if raw is None:
        return pd.DataFrame()
    raw = raw[raw["model"] == "llama2-70b"]
    med = raw.groupby(["tensor_parallel", "prompt_size", "batch_size"], as_index=False)[
        ["prompt_time", "token_time", "token_size"]].median()
    rows = []
    for r in med.itertuples():
        tp, prompt, batch = int(r.tensor_parallel), int(r.prompt_size), int(r.batch_size)
        if not (tp == 2 and batch == 64):
            rows.append({"tp": tp, "prompt": prompt, "batch": batch, "phase": "prefill",
                         "measured_s": r.prompt_time * MS, "prompt_size": prompt})
        # mean context over the decode run (prompt + half the output tokens)
        rows.append({"tp": tp, "prompt": prompt + int(r.token_size) // 2, "batch": batch, "phase": "decode",
                     "measured_s": r.token_time * MS, "prompt_size": prompt})
    return pd.DataFrame(rows)
