"""Measured GPU kernel timings next to what the cost model predicts for them.

A100: Vidur, LLMCompass and NVIDIA AIConfigurator's tables; H100 and B200: AIConfigurator's tables
(``aiconfigurator-perf/<gpu>_sxm/``: TensorRT-LLM's GEMM and attention kernels, eager NCCL and
TensorRT-LLM's custom all-reduce). Shared by ``scripts/fit_gpu_efficiency.py`` (which fits each DGX
profile's kernel and collective parameters) and ``sn40l-sim validate`` (the M rows). Each loader
returns a DataFrame with a ``family`` column, the measured seconds, and the :class:`Operator`
the row corresponds to, so a prediction is always ``cost.unfused.kernel_s`` of that operator, never
a look-up of the row.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sn40l_sim.catalogue.hardware import CustomAllReduceSpec, PlatformSpec
from sn40l_sim.catalogue.models import ModelSpec, get_model
from sn40l_sim.cost.collectives import allreduce_call_s
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
    """Eager NCCL all-reduce inside one DGX A100 (2, 4 and 8 GPUs). ``size`` is already **bytes**:
    Vidur's profiler allocates ``size`` fp16 elements and records ``size * 2`` with the comment
    ``# bytes`` (vidur/profiling/collectives/collectives_wrapper.py), whatever the dataset's README
    says; it times the NCCL kernel alone (Kineto, CUDA graphs disabled)."""
    raw = _read_measured(data_dir, VIDUR_ALLREDUCE)
    if raw is None:
        return pd.DataFrame()
    raw = raw[raw["num_workers"] == raw["devices_per_node"]]
    return pd.DataFrame({"source": "vidur-allreduce", "family": "allreduce", "op": "all_reduce",
                         "n_bytes": raw["size"].to_numpy(dtype=float), "tp": raw["num_workers"].to_numpy(),
                         "measured_s": raw["time_stats.all_reduce.median"].to_numpy() * MS,
                         "impl": "nccl"})


AIC = "aiconfigurator-perf/{gpu}_sxm/{table}.parquet"
AIC_GPUS = {"dgx_a100": "a100", "dgx_h100": "h100", "dgx_b200": "b200"}
AIC_GEMM_SAMPLE = 1500  # rows per GPU: enough to pin 5 parameters, small enough for validate
AIC_ATTENTION_SAMPLE = 1000  # per phase
AIC_HEAD_DIM = 128  # the catalogue's models all have 128-wide heads
# TensorRT-LLM's custom all-reduce is its one-shot/two-shot kernel only up to about this many bytes;
# above it the measured rows are NCCL's own (the tables coincide from 4 MiB on every GPU).
AIC_CUSTOM_MAX_BYTES = 512 * 1024


def _read_aic(data_dir: Path, gpu: str, table: str) -> pd.DataFrame | None:
    path = data_dir / AIC.format(gpu=gpu, table=table)
    return pd.read_parquet(path) if path.is_file() else None


def _sample(raw: pd.DataFrame, n: int) -> pd.DataFrame:
    """A fixed pseudo-random sample (seed 0): the same rows in the fit and in ``validate``."""
    raw = raw.reset_index(drop=True)
    if len(raw) <= n:
        return raw
    return raw.iloc[np.sort(np.random.default_rng(0).choice(len(raw), n, replace=False))]


def aic_gemm_rows(data_dir: Path, gpu: str) -> pd.DataFrame:
    """AIConfigurator's dense BF16 GEMMs of one GPU with ``n`` and ``k`` >= 512 (a layer's shapes:
    the smallest TP-sharded projection of a catalogue model is 512 wide; narrower GEMMs measure the
    launch floor, not the GEMM), sampled. ``latency`` is in ms."""
    raw = _read_aic(data_dir, gpu, "gemm_perf")
    if raw is None:
        return pd.DataFrame()
    raw = raw[(raw["gemm_dtype"] == "bfloat16") & (raw["m"] >= 1) & (raw["n"] >= 512) & (raw["k"] >= 512)]
    raw = _sample(raw, AIC_GEMM_SAMPLE)
    return pd.DataFrame({"source": f"aic-{gpu}", "family": "gemm", "op": "gemm",
                         "n_tokens": raw["m"].to_numpy(),
                         "tp": 1, "measured_s": raw["latency"].to_numpy() * MS,
                         "operator": [gemm_op("gemm", int(r.m), int(r.n), int(r.k), 2.0)
                                      for r in raw.itertuples()]})


def _heads_model(n_heads: int, n_kv_heads: int) -> ModelSpec:
    """A catalogue model reshaped to the measured head counts (attention needs only the heads)."""
    return replace(get_model("llama-2-7b"), n_heads=n_heads, n_kv_heads=n_kv_heads, head_dim=AIC_HEAD_DIM)


def aic_attention_rows(data_dir: Path, gpu: str) -> pd.DataFrame:
    """AIConfigurator's BF16 attention kernels of one GPU (128-wide heads, no sliding window, BF16
    KV cache), sampled: context attention (a prefill of ``isl`` tokens for ``batch_size``
    sequences) and generation attention (one token each over ``step`` cached tokens)."""
    rows = []
    for table, phase in (("context_attention_perf", "prefill"), ("generation_attention_perf", "decode")):
        raw = _read_aic(data_dir, gpu, table)
        if raw is None:
            continue
        raw = raw[(raw["head_dim"] == AIC_HEAD_DIM) & (raw["window_size"] == 0)
                  & (raw["attn_dtype"] == "bfloat16") & (raw["kv_cache_dtype"] == "bfloat16")
                  & (raw["num_heads"] >= raw["num_key_value_heads"])]
        if phase == "decode":
            raw = raw[raw["step"] >= 1]
        for r in _sample(raw, AIC_ATTENTION_SAMPLE).itertuples():
            model = _heads_model(int(r.num_heads), int(r.num_key_value_heads))
            shape = (prefill_shape(int(r.batch_size), int(r.isl), 1) if phase == "prefill"
                     else decode_shape(int(r.batch_size), int(r.step), 1))
            rows.append({"source": f"aic-{gpu}", "family": "attn_" + phase, "op": "attention",
                         "n_tokens": shape.n_tokens, "tp": 1, "measured_s": float(r.latency) * MS,
                         "operator": attention_op(model, shape)})
    return pd.DataFrame(rows)


def aic_allreduce_rows(data_dir: Path, gpu: str) -> pd.DataFrame:
    """All-reduce of BF16/FP16 tensors on 2, 4 and 8 GPUs of one node: eager NCCL (``impl`` nccl,
    nccl-tests style) and TensorRT-LLM's custom kernel under a CUDA graph (``impl`` custom, rows up
    to ``AIC_CUSTOM_MAX_BYTES``). ``message_size`` counts 2-byte elements."""
    parts = []
    nccl = _read_aic(data_dir, gpu, "nccl_perf")
    if nccl is not None:
        nccl = nccl[(nccl["op_name"] == "all_reduce") & (nccl["nccl_dtype"] == "half")]
        parts.append(pd.DataFrame({"n_bytes": 2.0 * nccl["message_size"].to_numpy(), "impl": "nccl",
                                   "tp": nccl["num_gpus"].to_numpy(),
                                   "measured_s": nccl["latency"].to_numpy() * MS}))
    custom = _read_aic(data_dir, gpu, "trtllm_custom_allreduce_perf")
    if custom is not None:
        custom = custom[2.0 * custom["message_size"] <= AIC_CUSTOM_MAX_BYTES]
        parts.append(pd.DataFrame({"n_bytes": 2.0 * custom["message_size"].to_numpy(), "impl": "custom",
                                   "tp": custom["num_gpus"].to_numpy(),
                                   "measured_s": custom["latency"].to_numpy() * MS}))
    if not parts:
        return pd.DataFrame()
    rows = pd.concat(parts, ignore_index=True)
    return rows.assign(source=f"aic-{gpu}", family="allreduce", op="all_reduce")


def gpu_measured_sets(data_dir: Path, profile: str) -> dict[str, pd.DataFrame]:
    """Every measured operator set of one DGX profile's GPU, by family: ``gemm``, ``vector``,
    ``attention``, ``nccl`` and ``custom`` all-reduce (empty where the data lack it). A100 adds
    Vidur's and LLMCompass's kernels to AIConfigurator's; H100 and B200 have AIConfigurator's only."""
    gpu = AIC_GPUS[profile]
    gemm = [aic_gemm_rows(data_dir, gpu)]
    attention = [aic_attention_rows(data_dir, gpu)]
    allreduce = [aic_allreduce_rows(data_dir, gpu)]
    vector = pd.DataFrame()
    if gpu == "a100":
        vidur = vidur_mlp_rows(data_dir)
        if not vidur.empty:
            gemm.append(vidur[vidur["family"] == "gemm"])
            vector = vidur[vidur["family"] == "vector"]
        gemm.append(llmcompass_matmul_rows(data_dir))
        attention.append(vidur_attention_rows(data_dir))
        allreduce.append(vidur_allreduce_rows(data_dir))
    gemm_rows = pd.concat([g for g in gemm if not g.empty], ignore_index=True) if any(
        not g.empty for g in gemm) else pd.DataFrame()
    attn_rows = pd.concat([a for a in attention if not a.empty], ignore_index=True) if any(
        not a.empty for a in attention) else pd.DataFrame()
    ar = [a for a in allreduce if not a.empty]
    ar_rows = pd.concat(ar, ignore_index=True) if ar else pd.DataFrame(columns=["impl"])
    return {"gemm": gemm_rows, "vector": vector, "attention": attn_rows,
            "nccl": ar_rows[ar_rows["impl"] == "nccl"], "custom": ar_rows[ar_rows["impl"] == "custom"]}


# Which sources each profile's parameters are fitted on; every other measured row is a prediction.
# A100 keeps its kernels fitted on Vidur's and LLMCompass's kernels (the kernels of the vLLM-era
# stack both A100 end-to-end datasets sit on), with AIConfigurator's TensorRT-LLM kernels as a
# check; H100 and B200 have AIConfigurator's tables only. Collectives: eager NCCL on Vidur (A100)
# or AIConfigurator, the custom all-reduce on AIConfigurator everywhere.
FIT_SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "dgx_a100": {"gemm": ("vidur", "llmcompass"), "vector": ("vidur",), "attention": ("vidur",),
                 "nccl": ("vidur",), "custom": ("aic",)},
    "dgx_h100": {"gemm": ("aic",), "attention": ("aic",), "nccl": ("aic",), "custom": ("aic",)},
    "dgx_b200": {"gemm": ("aic",), "attention": ("aic",), "nccl": ("aic",), "custom": ("aic",)},
}


def fit_mask(profile: str, family: str, rows: pd.DataFrame) -> np.ndarray:
    """True for the rows ``profile``'s ``family`` parameters are fitted on."""
    if rows.empty:
        return np.zeros(0, dtype=bool)
    prefixes = FIT_SOURCES.get(profile, {}).get(family, ())
    return rows["source"].str.startswith(prefixes).to_numpy() if prefixes else np.zeros(len(rows), bool)


def predict_kernels(platform: PlatformSpec, rows: pd.DataFrame) -> np.ndarray:
    """The cost model's seconds for each row's operator (one kernel, launch included)."""
    return np.array([kernel_s(platform, op) for op in rows["operator"]])


def predict_allreduce(platform: PlatformSpec, rows: pd.DataFrame) -> np.ndarray:
    """Seconds of each measured all-reduce call by its implementation (``impl``: eager NCCL, its
    launch included, or the engine's custom kernel in a CUDA graph)."""
    impls = rows["impl"] if "impl" in rows else ["nccl"] * len(rows)
    return np.array([allreduce_call_s(platform, b, int(p), impl)
                     for b, p, impl in zip(rows["n_bytes"], rows["tp"], impls, strict=True)])


def mape(predicted: np.ndarray, measured: np.ndarray) -> float:
    """Mean absolute percentage error (a fraction)."""
    return float(np.mean(np.abs(predicted - measured) / measured))


def with_interconnect(platform: PlatformSpec, **values: float) -> PlatformSpec:
    """The platform with some collective parameters replaced (names as the fit script's:
    ``latency_s``, ``bw_bytes_per_s``, ``latency_per_doubling_s``, ``nvls_*``, ``custom_*``)."""
    net = platform.interconnect
    plain: dict[str, Any] = {k: v for k, v in values.items() if not k.startswith(("nvls_", "custom_"))}
    net = replace(net, **plain)
    nvls = {k.removeprefix("nvls_"): v for k, v in values.items() if k.startswith("nvls_")}
    if nvls and net.in_network is not None:
        net = replace(net, in_network=replace(net.in_network, **nvls))
    custom = {k.removeprefix("custom_"): v for k, v in values.items() if k.startswith("custom_")}
    if custom:
        base = net.custom_allreduce or CustomAllReduceSpec(1e11, 1e-6)
        net = replace(net, custom_allreduce=replace(base, **custom))
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
