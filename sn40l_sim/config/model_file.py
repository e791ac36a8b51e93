"""A scenario's own models: ``models_file: my_models.yaml`` (relative to the scenario).

The file has the catalogue's shape (``sn40l_sim/catalogue/models.yaml``): one entry per model, named
by a slug, with the same short keys. Each entry is validated here (pydantic, every error located at
its line); a name the catalogue already has is an error, so a scenario never silently redefines a
shipped model. The scenario's experts, router and speculative draft may then name these models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, RootModel, model_validator

from sn40l_sim.catalogue.models import ModelSpec, catalogue, model_from_mapping
from sn40l_sim.config.limits import check_name
from sn40l_sim.config.load import line_of, read_yaml, validate
from sn40l_sim.config.quantities import STRICT, Count
from sn40l_sim.errors import InputError

_BIG = 10**7  # a bound on any dimension: far above any published model, far below an overflow


class ModelEntry(BaseModel):
    """One model's shape (a published config.json's fields, in the catalogue's short keys)."""

    model_config = STRICT
    layers: Count = Field(ge=1, le=10_000)
    """Decoder layers (num_hidden_layers)."""
    hidden: Count = Field(ge=1, le=_BIG)
    """Hidden size (hidden_size)."""
    heads: Count = Field(ge=1, le=_BIG)
    """Attention heads (num_attention_heads)."""
    kv_heads: Count = Field(ge=1, le=_BIG)
    """Key/value heads (num_key_value_heads; equal to heads without grouped-query attention)."""
    head_dim: Count | None = Field(default=None, ge=1, le=_BIG)
    """Dimension of one head (default hidden / heads)."""
    ffn: Count = Field(ge=1, le=_BIG)
    """MLP intermediate size (intermediate_size)."""
    vocab: Count = Field(ge=1, le=_BIG)
    """Vocabulary size."""
    tied_embeddings: bool = False
    """Whether the LM head shares the embedding's weights."""
    mlp: Literal["gated", "plain"] = "gated"
    """gated (SwiGLU: three matrices) or plain (two)."""
    norms_per_layer: Count = Field(default=2, ge=0, le=100)
    """Normalisation layers per decoder layer."""
    qkv_bias: bool = False
    """Whether the Q, K and V projections have biases."""
    bytes_per_param: float = Field(default=2.0, gt=0, le=16, allow_inf_nan=False)
    """Bytes per weight (2: BF16)."""
    published_params: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """The parameter count the model card reports (for reference)."""

    @model_validator(mode="after")
    def _heads(self) -> ModelEntry:
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads {self.kv_heads} must divide heads {self.heads}")
        if self.head_dim is None and self.hidden % self.heads:
            raise ValueError(f"heads {self.heads} do not divide hidden {self.hidden}; give head_dim")
        return self


class ModelsFile(RootModel[dict[Annotated[str, AfterValidator(check_name)], ModelEntry]]):
    """A models file: model name -> shape."""


def load_models_file(name: str, scenario: Path | None) -> dict[str, ModelSpec]:
    """The models of ``name`` (relative to the scenario file), validated, none named as a
    catalogue model."""
    path = Path(name).expanduser()
    if not path.is_absolute() and scenario is not None:
        path = scenario.parent / path
    if not path.is_file():
        raise InputError(f"models file {name!r} not found (relative to the scenario)",
                         file=str(scenario) if scenario else None, field="models_file")
    data, node = read_yaml(path)
    if data is None:
        raise InputError("the file is empty", file=str(path))
    entries = validate(ModelsFile, data, node, str(path)).root
    shipped = catalogue()
    taken = [n for n in entries if n in shipped]
    if taken:
        raise InputError(f"{taken[0]!r} is a catalogue model; give your model another name",
                         file=str(path), line=line_of(node, [taken[0]]), field=taken[0])
    return {n: model_from_mapping(n, e.model_dump(exclude_none=True)) for n, e in entries.items()}
