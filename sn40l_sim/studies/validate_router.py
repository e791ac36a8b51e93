"""Rows R1 of ``sn40l-sim validate``: the router's step 1 measured against labelled prompts.

The keyword classifier (:mod:`sn40l_sim.policy.classifier`) routes prompt text when a trace carries
it. MT-Bench's 80 questions each carry one of 8 category labels, the same categories the keyword
table uses, so its accuracy can be measured instead of assumed. The prompts are read with the
reader the workload uses (:func:`sn40l_sim.workload.labels.load_prompt_set`), so this also checks
that the router can read prompt text from the data directory's JSONL files.

Bands: accuracy must be at least three times chance (3/8 = 0.375), the bar the tests hold the
table to; answers the classifier is confident about (confidence >= ``CONFIDENT``) must be right
more often than the unsure ones, otherwise ``router.confidence_threshold`` would send the wrong
prompts to the fallback expert. A trained router (P2's) would score far higher; that is a
limitation of the stand-in, which the row makes visible rather than hides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sn40l_sim.config.workload_config import PromptSetConfig
from sn40l_sim.config.workload_spec import prompt_set_spec
from sn40l_sim.policy.classifier import keyword_classifier
from sn40l_sim.present.validation_row import ValidationRow
from sn40l_sim.workload.labels import load_prompt_set

MT_BENCH = Path("mt-bench") / "question.jsonl"
CONFIDENT = 0.6  # a confidence threshold a scenario might use


def router_validation_rows(data_dir: Path | None) -> list[ValidationRow]:
    """R1 (needs ``mt-bench/question.jsonl`` in the data directory; no rows without it)."""
    if data_dir is None or not (data_dir / MT_BENCH).is_file():
        return []
    labels, texts = load_prompt_set(prompt_set_spec(PromptSetConfig(file=str(MT_BENCH))),
                                    data_dir / MT_BENCH)
    classifier = keyword_classifier()
    predicted, confidence = classifier.classify(pd.Series(texts, dtype=object))
    right = predicted == labels
    n_categories = len(set(labels.tolist()))
    chance = 1.0 / n_categories
    sure = confidence >= CONFIDENT
    sure_acc = float(right[sure].mean()) if sure.any() else float("nan")
    unsure_acc = float(right[~sure].mean()) if (~sure).any() else float("nan")
    return [
        ValidationRow("R1", f"router step 1: keyword classifier accuracy on MT-Bench "
                            f"({len(labels)} prompts, {n_categories} categories)",
                      "labels (1.0); chance " f"{chance:.3g}", 1.0, float(right.mean()),
                      3 * chance, None, "",
                      note=f"per category: {_per_category(labels, right)}"),
        ValidationRow("R1-sure", f"accuracy of confident answers (confidence >= {CONFIDENT}, "
                                 f"{int(sure.sum())} prompts)",
                      f"> unsure answers' {unsure_acc:.3g}", None, sure_acc,
                      unsure_acc if np.isfinite(unsure_acc) else None, None, ""),
    ]


def _per_category(labels: np.ndarray, right: np.ndarray) -> str:
    frame = pd.DataFrame({"label": labels, "right": right})
    means = frame.groupby("label", sort=True)["right"].mean()
    return ", ".join(f"{k} {v:.2f}" for k, v in means.items())
