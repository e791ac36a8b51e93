"""The operator graph of a decoder-only transformer step: FLOPs and bytes per operator, per device.

One prefill or decode step of a batch is a list of operators per decoder layer (every layer of a
model has the same shape, so one layer's list stands for all of them) plus the operators run once
per step (embedding, final norm, LM head). Quantities are per device under tensor parallelism of
degree ``tp`` (Megatron-style: QKV and gate/up column-parallel, output and down projections
row-parallel, an all-reduce after each row-parallel GEMM; norms, residual adds and the embedding are
replicated). Bytes assume activations in the weight dtype (``model.bytes_per_param``).

Counting conventions (so tests can check them by hand):

* a GEMM ``(m x k) @ (k x n)`` is ``2*m*n*k`` FLOP (+ ``m*n`` for a bias);
* attention is ``4 * queries * attended_keys * head_dim`` FLOP per query head (QK^T and PV) plus
  ``5`` FLOP per score for the softmax (max, subtract, exp, sum, divide); prefill is causal, so a
  query attends on average to ``prior + (L+1)/2`` keys; decode attends to the whole context;
* RMSNorm 4 FLOP per element, residual add 1, rotary 3 (on Q and K), SiLU-and-multiply 5 and GELU
  8 per output element: vector work that is memory-bound on every platform modelled here.

``act_in_bytes``/``act_out_bytes`` are what an operator reads and writes when run as a kernel of
its own, i.e. the HBM round trip of its intermediates in unfused execution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sn40l_sim.catalogue.models import ModelSpec

OpKind = Literal["gemm", "attention", "norm", "elementwise", "embedding", "allreduce"]
Phase = Literal["prefill", "decode"]

NORM_FLOP_PER_ELEMENT = 4.0
ADD_FLOP_PER_ELEMENT = 1.0
ROPE_FLOP_PER_ELEMENT = 3.0
SOFTMAX_FLOP_PER_SCORE = 5.0
ACT_FLOP_PER_ELEMENT = {"gated": 5.0, "plain": 8.0}


@dataclass(frozen=True, slots=True)
class Operator:
    """One operator of a step on one device: work and the bytes it touches."""

    name: str
    kind: OpKind
    flop: float = 0.0
    weight_bytes: float = 0.0
    act_in_bytes: float = 0.0
    act_out_bytes: float = 0.0
    kv_read_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    comm_bytes: float = 0.0  # all-reduce payload per device
    n_devices: int = 1  # devices taking part in a collective
    m: int = 0  # GEMM rows (tokens); 0 when not a GEMM
    n: int = 0
    k: int = 0
    attended_keys: float = 0.0  # attention: mean keys a query attends to (``a`` of docs/cost_model.md)
    decode: bool = False  # attention: one new query per sequence over its cached keys (a KV read)

    @property
    def unfused_bytes(self) -> float:
        """HBM bytes when this operator runs as a kernel of its own (every tensor round-trips)."""
        return (self.weight_bytes + self.act_in_bytes + self.act_out_bytes + self.kv_read_bytes
                + self.kv_write_bytes)

    def operand_bytes(self) -> tuple[float, float]:
        """(stationary, streamed): the smaller operand of a GEMM or attention is held on chip while
        the larger streams past it; vector ops hold nothing (both 0)."""
        if self.kind == "gemm":
            pair = (self.weight_bytes, self.act_in_bytes)
        elif self.kind == "attention":
            pair = (self.act_out_bytes, self.kv_read_bytes + self.kv_write_bytes)  # Q vs all of K, V
        else:
            return 0.0, 0.0
        return min(pair), max(pair)

    def restream_bytes(self, on_chip_bytes: float) -> float:
        """Extra HBM reads when the stationary operand exceeds on-chip memory: it is processed in
        ``ceil(stationary / on_chip)`` blocks and the streamed operand is read once per block."""
        stationary, streamed = self.operand_bytes()
        if stationary <= on_chip_bytes:
            return 0.0
        return (math.ceil(stationary / on_chip_bytes) - 1) * streamed


@dataclass(frozen=True, slots=True)
class StepShape:
    """What one step computes: ``n_batch`` sequences, each with ``n_new_tokens`` new tokens that
    attend to ``n_prior_tokens`` cached ones (decode: 1 new token, prior = context)."""

    phase: Phase
    n_batch: int
    n_new_tokens: int
    n_prior_tokens: int
    tp: int
    logits_per_sequence: int = 1  # LM-head rows per sequence: 1, or every new token when verifying

    @property
    def n_tokens(self) -> int:
        return self.n_batch * self.n_new_tokens


def prefill_shape(n_batch: int, n_prompt_tokens: int, tp: int, n_prior_tokens: int = 0) -> StepShape:
    return StepShape("prefill", n_batch, n_prompt_tokens, n_prior_tokens, tp)


def decode_shape(n_batch: int, n_context_tokens: int, tp: int) -> StepShape:
    return StepShape("decode", n_batch, 1, n_context_tokens, tp)


def verify_shape(n_batch: int, n_context_tokens: int, n_draft_tokens: int, tp: int) -> StepShape:
    """The target's pass of speculative decoding: the last accepted token and ``n_draft_tokens``
    drafted ones per sequence, causal among themselves over ``n_context_tokens`` cached ones, with
    logits for every one of them (each is a position the target samples)."""
    n_new = n_draft_tokens + 1
    return StepShape("prefill", n_batch, n_new, n_context_tokens, tp, logits_per_sequence=n_new)


def gemm_op(name: str, m: int, n: int, k: int, bpe: float, bias: bool = False) -> Operator:
    flop = 2.0 * m * n * k + (m * n if bias else 0)
    weights = (n * k + (n if bias else 0)) * bpe
    return Operator(name, "gemm", flop=flop, weight_bytes=weights, act_in_bytes=m * k * bpe,
                    act_out_bytes=m * n * bpe, m=m, n=n, k=k)


def _norm(name: str, n_tokens: int, h: int, bpe: float) -> Operator:
    return Operator(name, "norm", flop=NORM_FLOP_PER_ELEMENT * n_tokens * h, weight_bytes=h * bpe,
                    act_in_bytes=n_tokens * h * bpe, act_out_bytes=n_tokens * h * bpe)


def _add(name: str, n_tokens: int, h: int, bpe: float) -> Operator:
    elems = n_tokens * h
    return Operator(name, "elementwise", flop=ADD_FLOP_PER_ELEMENT * elems, act_in_bytes=2 * elems * bpe,
                    act_out_bytes=elems * bpe)


def _allreduce(name: str, n_tokens: int, h: int, bpe: float, tp: int) -> Operator:
    return Operator(name, "allreduce", flop=(tp - 1) * n_tokens * h, comm_bytes=n_tokens * h * bpe,
                    n_devices=tp)


def local_heads(model: ModelSpec, tp: int) -> tuple[int, int]:
    """Query and KV heads held by the busiest device; KV heads are replicated when fewer than ``tp``.

    Rounded up: when ``tp`` does not divide the head count some devices hold one head more, and
    the slowest device sets the step time (Llama-2-13B at TP16: 3 heads, not 2.5 or 2).
    """
    return -(-model.n_heads // tp), -(-model.n_kv_heads // tp)


def attention_op(model: ModelSpec, shape: StepShape) -> Operator:
    """Attention over the KV cache (one FlashAttention-style kernel: scores never reach HBM)."""
    bpe = model.bytes_per_param
    q_heads, kv_heads = local_heads(model, shape.tp)
    d = model.head_dim
    queries = shape.n_tokens
    if shape.phase == "prefill":
        attended = shape.n_prior_tokens + (shape.n_new_tokens + 1) / 2.0
    else:
        attended = float(shape.n_prior_tokens)
    scores = queries * attended * q_heads
    flop = 4.0 * scores * d + SOFTMAX_FLOP_PER_SCORE * scores
    kv_per_token = 2 * kv_heads * d * bpe
    return Operator(
        "attention", "attention", flop=flop,
        act_in_bytes=queries * (q_heads * d * bpe + kv_per_token),
        act_out_bytes=queries * q_heads * d * bpe,
        kv_read_bytes=shape.n_batch * shape.n_prior_tokens * kv_per_token,
        kv_write_bytes=queries * kv_per_token, attended_keys=attended,
        decode=shape.phase == "decode",
    )


def layer_operators(model: ModelSpec, shape: StepShape) -> tuple[Operator, ...]:
    """The operators of one decoder layer, in execution order, on one device."""
    bpe, h, tp, t = model.bytes_per_param, model.hidden_size, shape.tp, shape.n_tokens
    q_heads, kv_heads = local_heads(model, tp)
    qkv_n = (q_heads + 2 * kv_heads) * model.head_dim
    ffn = -(-model.ffn_size // tp)  # the busiest device's share, as for heads
    rope_elems = t * (q_heads + kv_heads) * model.head_dim
    extra_norms = max(0, model.n_norms_per_layer - 2)  # Gemma-2: norms after attention and MLP too
    ops: list[Operator] = [
        _norm("input_norm", t, h, bpe),
        gemm_op("qkv_proj", t, qkv_n, h, bpe, bias=model.qkv_bias),
        Operator("rope", "elementwise", flop=ROPE_FLOP_PER_ELEMENT * rope_elems,
                 act_in_bytes=rope_elems * bpe, act_out_bytes=rope_elems * bpe),
        attention_op(model, shape),
        gemm_op("o_proj", t, h, q_heads * model.head_dim, bpe),
    ]
    if extra_norms:
        ops.append(_norm("post_attn_out_norm", t, h, bpe))
    if tp > 1:
        ops.append(_allreduce("attn_allreduce", t, h, bpe, tp))
    ops += [_add("attn_residual", t, h, bpe), _norm("post_attn_norm", t, h, bpe)]
    if model.mlp == "gated":
        ops.append(gemm_op("gate_up_proj", t, 2 * ffn, h, bpe))
        act_in = 2 * t * ffn * bpe
    else:
        ops.append(gemm_op("up_proj", t, ffn, h, bpe))
        act_in = t * ffn * bpe
    ops.append(Operator("mlp_act", "elementwise", flop=ACT_FLOP_PER_ELEMENT[model.mlp] * t * ffn,
                        act_in_bytes=act_in, act_out_bytes=t * ffn * bpe))
    ops.append(gemm_op("down_proj", t, h, ffn, bpe))
    if extra_norms > 1:
        ops.append(_norm("post_mlp_out_norm", t, h, bpe))
    if tp > 1:
        ops.append(_allreduce("mlp_allreduce", t, h, bpe, tp))
    ops.append(_add("mlp_residual", t, h, bpe))
    return tuple(ops)


def head_operators(model: ModelSpec, shape: StepShape) -> tuple[Operator, ...]:
    """Once per step: token embedding, final norm and LM head (logits for the last token of each
    sequence, or for ``logits_per_sequence`` of them when verifying drafted tokens; the vocabulary
    is split over ``tp`` devices and gathered)."""
    bpe, h, t = model.bytes_per_param, model.hidden_size, shape.n_tokens
    embed = Operator("embedding", "embedding", weight_bytes=t * h * bpe, act_in_bytes=t * 8.0,
                     act_out_bytes=t * h * bpe)
    vocab = -(-model.vocab_size // shape.tp)
    rows = shape.n_batch * shape.logits_per_sequence
    return (embed, _norm("final_norm", rows, h, bpe), gemm_op("lm_head", rows, vocab, h, bpe))


def step_operators(model: ModelSpec, shape: StepShape) -> tuple[tuple[Operator, ...], tuple[Operator, ...]]:
    """(one layer's operators, the once-per-step operators); the layer repeats ``model.n_layers``."""
    return layer_operators(model, shape), head_operators(model, shape)


def total_flop(model: ModelSpec, shape: StepShape) -> float:
    """FLOP per device of a whole step (all layers + head), collectives excluded."""
    layer, head = step_operators(model, shape)
    compute = [op for op in layer if op.kind != "allreduce"]
    return model.n_layers * sum(op.flop for op in compute) + sum(op.flop for op in head)
