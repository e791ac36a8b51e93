"""M rows per GPU and the A100 first-token rows of ``sn40l-sim validate``.

``M-<gpu>.*``: every DGX profile's kernels and all-reduce against measured operators of its own
GPU (``studies/measured.py``): GEMM (MAPE <= 10 %), prefill and decode attention, eager NCCL and
the engine's custom all-reduce (<= 15 %). Each row says whether the profile was fitted on it
(``measured.FIT_SOURCES``) or predicts it. The A100's Vidur/LLMCompass rows are M1-M3
(``validate_cost``). ``TTFT.*``: TensorRT-LLM's published first-token latency on one A100
(``trtllm-first-token-a100``) against the A100 ``tensorrt-llm-2024`` stack's served prefill; the
stack was fitted on them jointly with N1 and T6-A100 (``scripts/fit_serving_stack.py``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import known_profiles, load_platform
from sn40l_sim.cost.serving import served_prefill_s
from sn40l_sim.cost.step import prefill_cost
from sn40l_sim.present.validation_row import ValidationRow
from sn40l_sim.studies import measured

GEMM_LIMIT = 0.10
OTHER_LIMIT = 0.15
TTFT_TOLERANCE = 0.15
TRTLLM_FIRST_TOKEN = "trtllm-first-token-a100/trtllm_v0.5_first_token_latency_a100_fp16.csv"
# The published models the catalogue expresses (GPT-J 6B and Falcon 180B it does not).
TTFT_MODELS = {"LLaMA 7B": "llama-2-7b", "LLaMA 70B": "llama-2-70b"}
FAMILIES = (("gemm", "gemm", "GEMM (BF16)", GEMM_LIMIT), ("attention", "attn_prefill", "prefill attention",
            OTHER_LIMIT), ("attention", "attn_decode", "decode attention", OTHER_LIMIT),
            ("nccl", "allreduce", "eager NCCL all-reduce, 2-8 GPUs", OTHER_LIMIT),
            ("custom", "allreduce", "TensorRT-LLM custom all-reduce (CUDA graph), 2-8 GPUs", OTHER_LIMIT))


def gpu_kernel_rows(data_dir: Path | None) -> list[ValidationRow]:
    """M rows per DGX profile on AIConfigurator's measured operators of its GPU."""
    if data_dir is None:
        return []
    rows: list[ValidationRow] = []
    for profile, gpu in measured.AIC_GPUS.items():
        if profile not in known_profiles():
            continue
        platform = load_platform(profile)
        sets = measured.gpu_measured_sets(data_dir, profile)
        for family, sub, label, limit in FAMILIES:
            data = sets[family]
            if data.empty:
                continue
            data = data[data["source"].str.startswith("aic") & (data["family"] == sub)]
            if data.empty:
                continue
            predict = measured.predict_allreduce if sub == "allreduce" else measured.predict_kernels
            error = measured.mape(predict(platform, data), data["measured_s"].to_numpy())
            fitted = bool(measured.fit_mask(profile, family, data).all())
            ident = f"M-{gpu}." + {"nccl": "nccl-allreduce", "custom": "custom-allreduce"}.get(family, sub)
            rows.append(ValidationRow(
                ident, f"{platform.name} {label} vs AIConfigurator ({len(data)} rows)",
                f"MAPE <= {limit:.0%}", limit, error, 0.0, limit, "",
                "aiconfigurator-perf, TensorRT-LLM kernels",
                usage=f"fit ({profile} kernel parameters)" if fitted else "prediction"))
    return rows


def first_token_rows(data_dir: Path | None) -> list[ValidationRow]:
    """TTFT per published A100 first-token row the catalogue can express (batch 1, one output
    token: a prefill plus the runtime's per-call work)."""
    if data_dir is None or not (data_dir / TRTLLM_FIRST_TOKEN).is_file():
        return []
    a100 = load_platform("dgx_a100")
    raw = pd.read_csv(data_dir / TRTLLM_FIRST_TOKEN)
    rows = []
    for r in raw.itertuples():
        if r.model not in TTFT_MODELS:
            continue
        model = get_model(TTFT_MODELS[r.model])
        tp, batch, prompt = int(r.tensor_parallel), int(r.batch_size), int(r.input_tokens)
        device = prefill_cost(a100, model, n_batch=batch, n_prompt_tokens=prompt, tp=tp).total_s
        ttft = served_prefill_s(a100.stack, model, device, batch, prompt)
        ref = float(r.first_token_latency_ms) * 1e-3
        rows.append(ValidationRow(
            f"TTFT.{model.name}-tp{tp}-{prompt}", f"DGX A100 {model.name} first-token latency, batch 1, "
            f"{prompt} input tokens, TP{tp}, stack {a100.stack.name}",
            f"{ref * 1e3:g} ms (TensorRT-LLM v0.5)",
            ref, ttft, ref * (1 - TTFT_TOLERANCE), ref * (1 + TTFT_TOLERANCE), "s",
            f"device prefill {device * 1e3:.1f} ms",
            usage="fit (A100 stack: what falls before the first token)"))
    return rows


def gpu_validation_rows(data_dir: Path | None) -> list[ValidationRow]:
    """The per-GPU M rows and the first-token rows."""
    return gpu_kernel_rows(data_dir) + first_token_rows(data_dir)

