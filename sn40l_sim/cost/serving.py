"""The serving stack's costs around the kernels (pure functions; docs/cost_model.md section 6).

Measured serving latencies carry host work that device kernels do not: per prefill iteration (the
set-up of a call), per batch iteration
(scheduling, launching sampling, host<->device synchronisation), per sequence in the batch per
iteration (sampling, detokenisation), per request (tokenisation, set-up), and, in a launch-bound
host runtime, a floor of ``n_layers * host_layer_s`` under every step (the host issues kernels
slower than the devices run them). The engine asks for step times through
:class:`sn40l_sim.cost.cache.StepCostTable`, which adds these, so every batch iteration and every
request pays them. One cost falls after the last token (``request_end_s``: returning the response,
freeing the sequence): a request completes that long after its last token (:func:`completed_s`),
while its batch goes on to the next iteration. Their values are profile parameters
(``serving_stack:`` in ``hw_profiles``).
"""

from __future__ import annotations

from sn40l_sim.catalogue.hardware import PlatformSpec, ServingStackSpec
from sn40l_sim.catalogue.models import ModelSpec
from sn40l_sim.cost.step import decode_cost, prefill_cost


def host_floor_s(stack: ServingStackSpec, model: ModelSpec) -> float:
    """Shortest a step can be when the host issues each layer's kernels (0: graphs/compiled)."""
    return model.n_layers * stack.host_layer_s


def iteration_overhead_s(stack: ServingStackSpec, n_batch: int) -> float:
    """Host work of one batch iteration of ``n_batch`` sequences."""
    return stack.iteration_s + n_batch * stack.sequence_s


def served_step_s(stack: ServingStackSpec, model: ModelSpec, device_s: float, n_batch: int) -> float:
    """A step as the serving stack runs it: device time (or the host floor) plus host work."""
    return max(device_s, host_floor_s(stack, model)) + iteration_overhead_s(stack, n_batch)


def served_prefill_s(stack: ServingStackSpec, model: ModelSpec, device_s: float, n_batch: int,
                     n_prompt_tokens: int = 0) -> float:
    """A prefill iteration that admits ``n_batch`` new requests of ``n_prompt_tokens`` each: a step
    plus its set-up and theirs, and the part that grows with the square of the iteration's tokens."""
    n_tokens = n_batch * n_prompt_tokens
    return (served_step_s(stack, model, device_s, n_batch) + stack.prefill_s
            + n_batch * (stack.request_s + n_prompt_tokens * stack.prompt_token_s)
            + n_tokens * n_tokens * stack.prompt_token_pair_s)


def completed_s(stack: ServingStackSpec, last_token_s: float) -> float:
    """When a request whose last token came at ``last_token_s`` completes: after the stack's
    end-of-request work, which the batch does not wait for."""
    return last_token_s + stack.request_end_s


def inference_s(platform: PlatformSpec, model: ModelSpec, *, tp: int, n_batch: int, n_prompt_tokens: int,
                n_output_tokens: int) -> float:
    """End-to-end time of one batch: prefill (which yields the first token), ``n_output_tokens
    - 1`` decode steps, each with the serving stack's costs, and the end-of-request work after the
    last token (no program load: the model is already the one running). What NeMo's published
    latencies measure."""
    stack = platform.stack
    prefill = prefill_cost(platform, model, n_batch=n_batch, n_prompt_tokens=n_prompt_tokens, tp=tp)
    total = served_prefill_s(stack, model, prefill.total_s, n_batch, n_prompt_tokens)
    for k in range(1, n_output_tokens):
        decode = decode_cost(platform, model, n_batch=n_batch, n_context_tokens=n_prompt_tokens + k, tp=tp)
        total += served_step_s(stack, model, decode.total_s, n_batch)
    return completed_s(stack, total)
