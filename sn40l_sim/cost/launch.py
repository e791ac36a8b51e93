"""The program load an SN40L group pays when it switches model (pure function).

P1 §IV-C launches a kernel in three steps: program load (the kernel's configuration onto the PCUs,
PMUs and switches), argument load (its runtime arguments: the addresses of this call's weights and
KV cache), execute. A group that alternates models (a CoE's router and expert) reloads the program
of the model it switches to. Without kernel looping the CoE-era software issues one kernel call per
decoder layer, each with its own arguments, so the part that grows with the model is per layer:

    program load = program_load + n_layers * program_load_per_layer

Tensor parallelism does not enter: every socket loads its own shard's program over its own path,
in parallel. P1 gives no figure; the SN40L profile fits one number on one row (T5-A100, a 32-layer
Llama-2-7B) and puts all of it in the per-layer term, an assumption that one row cannot test (the
split between a per-model and a per-layer part is not identifiable from it). Compare output shows
each ratio with the program load halved and doubled (``sn40l_sim/studies/program_load.py``).
"""

from __future__ import annotations

from sn40l_sim.catalogue.hardware import ServingStackSpec
from sn40l_sim.catalogue.models import ModelSpec


def program_load_s(stack: ServingStackSpec, model: ModelSpec) -> float:
    """Seconds to load ``model``'s program when the group last ran another model."""
    return stack.program_load_s + model.n_layers * stack.program_load_per_layer_s
