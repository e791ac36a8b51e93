"""Rows N1, S1 and the Table V breakdown of ``sn40l-sim validate``: end-to-end serving latency.

N1: NVIDIA NeMo's published Llama-2-7B latencies on DGX A100 (TP1-8, batch 1-8, 128 in / 20 out),
the source of P1's DGX expert times; predicted by ``cost.serving.inference_s`` under the profile's
default serving stack (``tensorrt-llm-2024``). S1: SplitwiseSim's DGX-A100 Llama-2-70B prefill and
decode-iteration times at TP2/4/8, under the profile's ``vllm-2023`` stack (the stack Splitwise
measured with). The few rows each stack was fitted on (``scripts/fit_serving_stack.py``) are
marked; the rest are predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sn40l_sim.catalogue.hardware import PlatformSpec
from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import load_platform
from sn40l_sim.cost.serving import inference_s, served_prefill_s, served_step_s
from sn40l_sim.cost.step import decode_cost, prefill_cost
from sn40l_sim.present.validation_row import ValidationRow
from sn40l_sim.studies import measured

MAPE_N1 = 0.10
MAPE_S1 = 0.15
# Rows the serving stacks were fitted on; every other row is a prediction.
N1_FIT_ROWS = {(1, 1), (1, 8), (8, 1), (8, 8)}  # (TP, batch): the corners of NeMo's table
# (TP, prompt, batch), both phases
S1_FIT_ROWS = {(2, 512, 1), (2, 512, 32), (8, 512, 1), (8, 512, 32), (8, 8192, 1)}
VLLM_STACK = "vllm-2023"
# PAPER.md (corrected Table V reading): the A100 expert time at 200 output tokens is T6's 3.2x the
# SN40L's ~354 ms. The tensorrt-llm-2024 stack's split between per-request cost (after the last token:
# the first-token rows bound what falls before it) and per-iteration cost is fitted on it (NeMo's rows
# all have 20 output tokens and cannot separate the two); row T6-A100 is a fit row.
PAPER_A100_E200_S = 3.2 * 0.354
TRT_REQUEST_S = 0.1e-3  # assumption: tokenising a 128-token prompt in a C++ runtime (~0.1 ms)


def nemo_table(data_dir: Path) -> pd.DataFrame:
    rows = measured.nemo_rows(data_dir)
    if rows.empty:
        return rows
    return rows.assign(fit=[(t, b) in N1_FIT_ROWS for t, b in zip(rows["tp"], rows["batch"], strict=True)])


def splitwise_table(data_dir: Path) -> pd.DataFrame:
    rows = measured.splitwise_rows(data_dir)
    if rows.empty:
        return rows
    keys = zip(rows["tp"], rows["prompt_size"], rows["batch"], strict=True)
    return rows.assign(fit=[k in S1_FIT_ROWS for k in keys])


def named_model_inference_s(platform: PlatformSpec, model_name: str, tp: int, batch: int, prompt: int,
                 output: int) -> float:
    return inference_s(platform, get_model(model_name), tp=tp, n_batch=batch, n_prompt_tokens=prompt,
                       n_output_tokens=output)


def predict_nemo(platform: PlatformSpec, rows: pd.DataFrame) -> np.ndarray:
    return np.array([named_model_inference_s(platform, "llama-2-7b", int(r.tp), int(r.batch), int(r.prompt),
                                  int(r.output)) for r in rows.itertuples()])


def predict_splitwise(platform: PlatformSpec, rows: pd.DataFrame) -> np.ndarray:
    model = get_model("llama-2-70b")
    out = []
    for r in rows.itertuples():
        tp, batch, tokens = int(r.tp), int(r.batch), int(r.prompt)
        if r.phase == "prefill":
            device = prefill_cost(platform, model, n_batch=batch, n_prompt_tokens=tokens, tp=tp).total_s
            out.append(served_prefill_s(platform.stack, model, device, batch, tokens))
        else:
            device = decode_cost(platform, model, n_batch=batch, n_context_tokens=tokens, tp=tp).total_s
            out.append(served_step_s(platform.stack, model, device, batch))
    return np.array(out)


def _mape(pred: np.ndarray, meas: np.ndarray) -> float:
    return float(np.mean(np.abs(pred / meas - 1)))


def _mape_row(id_: str, quantity: str, limit: float, pred: np.ndarray, meas: np.ndarray,
              fit: np.ndarray) -> ValidationRow:
    n_fit = int(fit.sum())
    usage = (f"fit on {n_fit} of {len(meas)} rows (their MAPE {_mape(pred[fit], meas[fit]):.1%}); "
             f"predictions MAPE {_mape(pred[~fit], meas[~fit]):.1%}") if n_fit else "prediction"
    return ValidationRow(id_, f"{quantity} ({len(meas)} rows)", f"MAPE <= {limit:.0%}", limit,
                         _mape(pred, meas), 0.0, limit, note=usage,
                         usage="fit" if n_fit == len(meas) else ("partly fit" if n_fit else "prediction"))


def serving_validation_rows(data_dir: Path | None) -> list[ValidationRow]:
    """N1 and S1 (left out when the data directory lacks the files)."""
    if data_dir is None:
        return []
    rows: list[ValidationRow] = []
    a100 = load_platform("dgx_a100")
    nemo = nemo_table(data_dir)
    if not nemo.empty:
        pred = predict_nemo(a100, nemo)
        rows.append(_mape_row("N1", "DGX A100 Llama-2-7B end-to-end latency vs NeMo, 128 in / 20 out, "
                              f"TP1-8, batch 1-8, stack {a100.stack.name}", MAPE_N1, pred,
                              nemo["measured_s"].to_numpy(), nemo["fit"].to_numpy()))
    split = splitwise_table(data_dir)
    if not split.empty:
        vllm = a100.with_stack(VLLM_STACK)
        pred = predict_splitwise(vllm, split)
        for phase in ("prefill", "decode"):
            for tp in (2, 4, 8):
                sel = ((split["phase"] == phase) & (split["tp"] == tp)).to_numpy()
                what = "prefill time" if phase == "prefill" else "decode-iteration time"
                rows.append(_mape_row(f"S1.{phase}-tp{tp}", f"DGX A100 Llama-2-70B {what}, TP{tp}, vs "
                                      f"Splitwise, stack {VLLM_STACK}", MAPE_S1, pred[sel],
                                      split["measured_s"].to_numpy()[sel], split["fit"].to_numpy()[sel]))
    return rows
