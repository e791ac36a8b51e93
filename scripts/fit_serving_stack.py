"""Fit the DGX A100 serving-stack costs (docs/cost_model.md section 6) and print the errors.

    SN40L_SIM_DATA=../shared/data python scripts/fit_serving_stack.py

Two stacks, because the two end-to-end datasets were measured with two serving stacks on the same
DGX A100: NVIDIA NeMo's published Llama-2-7B latencies (TensorRT-LLM, a compiled C++ runtime:
``tensorrt-llm-2024``, the stack behind P1's DGX numbers and the profile's default) and SplitwiseSim's
Llama-2-70B prefill/decode times (the vLLM-era Python stack of the Splitwise paper: ``vllm-2023``).
The ``tensorrt-llm-2024`` fit also takes TensorRT-LLM's published A100 first-token latencies
(``trtllm-first-token-a100``: batch 1, one output token) and P1's 200-token A100 expert time (T6), so
what the stack charges falls where it does in a request: before the first token, per iteration, or
after the last token (``request_end_s``). The first-token rows are taken as a prefill with no end-of-
request work: NVIDIA measured them with the bare C++ session benchmark (no server, no tokenizer, per
the dataset's README), NeMo's end-to-end rows with its inference path around it.
The kernels are the profile's (fitted on Vidur/LLMCompass kernels by fit_gpu_efficiency.py, never
refitted here); only the stack's parameters are fitted, each on the few rows listed in
``sn40l_sim/studies/validate_serving.py`` (N1_FIT_ROWS, S1_FIT_ROWS); every other row is a
prediction. Least squares on log(predicted / measured), Nelder-Mead over log parameters.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from fit_gpu_efficiency import nelder_mead  # noqa: E402

from sn40l_sim.catalogue.hardware import ServingStackSpec  # noqa: E402
from sn40l_sim.catalogue.models import get_model  # noqa: E402
from sn40l_sim.config.profiles import load_platform  # noqa: E402
from sn40l_sim.cost.serving import served_prefill_s  # noqa: E402
from sn40l_sim.cost.step import prefill_cost  # noqa: E402
from sn40l_sim.studies import validate_gpu_kernels as vk  # noqa: E402
from sn40l_sim.studies import validate_serving as vs  # noqa: E402


def fit(rows, predict, names: tuple[str, ...], x0: tuple[float, ...], name: str, fixed: dict | None = None,
        extra=None) -> ServingStackSpec:
    fit_rows = rows[rows["fit"]]
    measured = fit_rows["measured_s"].to_numpy()

    def stack_of(x: np.ndarray) -> ServingStackSpec:
        return ServingStackSpec(name, **{n: float(np.exp(v)) for n, v in zip(names, x, strict=True)},
                                **(fixed or {}))

    def loss(x: np.ndarray) -> float:
        stack = stack_of(x)
        pred = predict(stack, fit_rows)
        err = list(np.log(pred / measured))
        if extra is not None:
            err.extend(extra(stack))
        return float(np.mean(np.square(err)))

    x = nelder_mead(loss, np.log(np.array(x0)), iters=1500)
    return stack_of(nelder_mead(loss, x, iters=1500))


def main() -> int:
    data = Path(os.environ.get("SN40L_SIM_DATA", REPO.parent / "shared" / "data"))
    a100 = load_platform("dgx_a100")
    nemo = vs.nemo_table(data)
    split = vs.splitwise_table(data)
    if nemo.empty or split.empty:
        print(f"no NeMo / Splitwise data under {data}", file=sys.stderr)
        return 2
    # NeMo's rows all have 20 output tokens, so a per-call cost and 20 per-iteration costs are
    # the same to them: P1's Table V at 200 tokens separates them (T6-A100: PAPER.md's A100
    # expert time at 200 tokens, 3.2 x SN40L's ~354 ms = 1133 ms, 128 in, batch 1, TP8).
    # TensorRT-LLM's published A100 first-token latencies (batch 1, one output token) bound what
    # the stack may charge before the first token: fitted jointly with N1 and T6.
    ttft = [(get_model(vk.TTFT_MODELS[r.model]), int(r.tensor_parallel), int(r.input_tokens),
             float(r.first_token_latency_ms) * 1e-3)
            for r in pd.read_csv(data / vk.TRTLLM_FIRST_TOKEN).itertuples() if r.model in vk.TTFT_MODELS]

    def t6(stack: ServingStackSpec) -> list[float]:
        e200 = vs.named_model_inference_s(replace(a100, stack=stack), "llama-2-7b", 8, 1, 128, 200)
        err = [float(np.log(e200 / vs.PAPER_A100_E200_S))]
        for model, tp, prompt, ref in ttft:
            device = prefill_cost(a100, model, n_batch=1, n_prompt_tokens=prompt, tp=tp).total_s
            err.append(float(np.log(served_prefill_s(stack, model, device, 1, prompt) / ref)))
        return err

    trt = fit(nemo, lambda s, r: vs.predict_nemo(replace(a100, stack=s), r),
              ("prefill_s", "iteration_s", "sequence_s", "request_end_s"), (2e-2, 2e-4, 1e-4, 1e-3),
              "tensorrt-llm-2024",
              fixed={"request_s": vs.TRT_REQUEST_S,
                     "custom_allreduce_max_bytes": a100.stack.custom_allreduce_max_bytes}, extra=t6)
    vllm = fit(split, lambda s, r: vs.predict_splitwise(replace(a100, stack=s), r),
               ("prefill_s", "iteration_s", "sequence_s", "host_layer_s", "request_s", "prompt_token_s",
                "prompt_token_pair_s"),
               (1e-2, 1e-3, 3e-4, 4e-4, 1e-2, 2e-5, 1e-9),
               "vllm-2023",
               fixed={"custom_allreduce_max_bytes":
                      a100.with_stack("vllm-2023").stack.custom_allreduce_max_bytes})
    for stack in (trt, vllm):
        print(f"{stack.name}: prefill {stack.prefill_s * 1e3:.2f} ms, "
              f"iteration {stack.iteration_s * 1e6:.0f} us, sequence {stack.sequence_s * 1e6:.0f} us, "
              f"request {stack.request_s * 1e3:.2f} ms, request end {stack.request_end_s * 1e3:.3f} ms, "
              f"prompt token {stack.prompt_token_s * 1e6:.2f} us, "
              f"host_layer {stack.host_layer_s * 1e6:.0f} us, "
              f"prompt token pair {stack.prompt_token_pair_s * 1e9:.3f} ns")
    pred = vs.predict_nemo(replace(a100, stack=trt), nemo)
    err = np.abs(pred / nemo["measured_s"].to_numpy() - 1)
    print(f"N1 MAPE {err.mean():.1%} (fit rows {err[nemo['fit']].mean():.1%}, predictions "
          f"{err[~nemo['fit']].mean():.1%})")
    pred = vs.predict_splitwise(replace(a100, stack=vllm), split)
    split = split.assign(err=np.abs(pred / split["measured_s"].to_numpy() - 1))
    print(split.groupby(["phase", "tp"])["err"].mean().map("{:.1%}".format).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
