"""Model shapes from the catalogue: what an expert *is*, as data the cost model can read.

The parameter count is derived from the shape (so an edited shape moves memory and compute
together), and checked against the published count in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from sn40l_sim.errors import InputError, unknown_name_error

MlpKind = Literal["gated", "plain"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A decoder-only transformer's shape and its weight dtype."""

    name: str
    n_layers: int
    hidden_size: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_size: int
    vocab_size: int
    tied_embeddings: bool
    mlp: MlpKind = "gated"
    n_norms_per_layer: int = 2
    qkv_bias: bool = False
    bytes_per_param: float = 2.0  # BF16
    published_params: float | None = None

    @property
    def q_dim(self) -> int:
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    @property
    def n_params_per_layer(self) -> int:
        """Weights of one decoder layer: attention, MLP, norms, biases."""
        h = self.hidden_size
        attn = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        n_mlp_mats = 3 if self.mlp == "gated" else 2
        mlp = n_mlp_mats * h * self.ffn_size
        bias = (self.q_dim + 2 * self.kv_dim) if self.qkv_bias else 0
        return attn + mlp + bias + self.n_norms_per_layer * h

    @property
    def n_params(self) -> int:
        """All weights: layers, embedding, LM head (unless tied), final norm."""
        embed = self.vocab_size * self.hidden_size
        head = 0 if self.tied_embeddings else embed
        return self.n_layers * self.n_params_per_layer + embed + head + self.hidden_size

    @property
    def weight_bytes(self) -> float:
        return self.n_params * self.bytes_per_param

    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes one token of context holds across all layers (K and V)."""
        return 2.0 * self.n_layers * self.kv_dim * self.bytes_per_param


_FIELD_NAMES = {
    "layers": "n_layers",
    "hidden": "hidden_size",
    "heads": "n_heads",
    "kv_heads": "n_kv_heads",
    "head_dim": "head_dim",
    "ffn": "ffn_size",
    "vocab": "vocab_size",
    "tied_embeddings": "tied_embeddings",
    "mlp": "mlp",
    "norms_per_layer": "n_norms_per_layer",
    "qkv_bias": "qkv_bias",
    "bytes_per_param": "bytes_per_param",
    "published_params": "published_params",
}


def model_from_mapping(name: str, raw: dict[str, Any]) -> ModelSpec:
    """Build a ModelSpec from a catalogue entry (short YAML keys)."""
    unknown = sorted(set(raw) - set(_FIELD_NAMES))
    if unknown:
        raise InputError(f"unknown model field(s) {unknown}; expected {sorted(_FIELD_NAMES)}",
                         field=name)
    kwargs = {_FIELD_NAMES[k]: v for k, v in raw.items()}
    kwargs.setdefault("head_dim", raw["hidden"] // raw["heads"])
    return ModelSpec(name=name, **kwargs)


@cache
def catalogue() -> dict[str, ModelSpec]:
    """Every model in the shipped catalogue, by name."""
    text = resources.files("sn40l_sim.catalogue").joinpath("models.yaml").read_text()
    raw = yaml.safe_load(text)
    return {name: model_from_mapping(name, entry) for name, entry in raw.items()}


def get_model(name: str, extra: Mapping[str, ModelSpec] | None = None) -> ModelSpec:
    """Look a model up by name, in ``extra`` (a scenario's own models file) first, then in the
    catalogue; an unknown name says which names exist."""
    if extra and name in extra:
        return extra[name]
    models = catalogue()
    if name not in models:
        raise unknown_name_error("model", name, sorted({*models, *(extra or {})}))
    return models[name]
