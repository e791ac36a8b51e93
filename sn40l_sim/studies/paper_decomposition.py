"""What P1's CoE ratios (T1-T6) imply about absolute expert costs, to explain the T3-T6 gaps.

P1 gives only ratios. With the SN40L switch time S as the one absolute (P1: DDR->HBM "over 1 TB/s",
so a TP8 Llama-2-7B switch takes about 13.5 ms), the A100 rows fix the SN40L expert time:

    T3: (31 S + 2.0 E20) / (S + E20) = 4.8      ->  E20  = S (31 - 4.8) / (4.8 - 2.0)
    T4: (31 S + 3.2 E200) / (S + E200) = 3.9    ->  E200 = S (31 - 3.9) / (3.9 - 3.2)

and T5/T6 scale them to each GPU. Splitting an expert time linearly in the output tokens,
``E(n) = F + n d``, gives a per-request part F (prefill and anything else paid once) and a
per-token decode time d on each platform. The simulator's own E(20) and E(200) split the same way,
so the two can be compared term by term (``sn40l-sim validate`` rows T5-d and T5-F).
"""

from __future__ import annotations

from dataclasses import dataclass

SWITCH_RATIO_A100 = 31.0  # T1
OVERALL_SPEEDUP_A100 = {20: 4.8, 200: 3.9}  # T3, T4
EXPERT_SPEEDUP = {"dgx_a100": {20: 2.0, 200: 3.2}, "dgx_h100": {20: 1.5, 200: 2.3}}  # T5, T6


@dataclass(frozen=True, slots=True)
class LinearExpertCost:
    """E(n) = per_request_s + n * per_token_s for a batch-1 expert run of n output tokens."""

    per_request_s: float
    per_token_s: float


def split_linear(e20_s: float, e200_s: float) -> LinearExpertCost:
    """The line through (20, E20) and (200, E200)."""
    per_token_s = (e200_s - e20_s) / 180.0
    return LinearExpertCost(e20_s - 20.0 * per_token_s, per_token_s)


def paper_expert_times(sn40l_switch_s: float) -> dict[str, tuple[float, float]]:
    """(E20, E200) per platform that P1's T1/T3-T6 imply, given the SN40L switch time."""
    sn = {n: sn40l_switch_s * (SWITCH_RATIO_A100 - OVERALL_SPEEDUP_A100[n]) /
          (OVERALL_SPEEDUP_A100[n] - EXPERT_SPEEDUP["dgx_a100"][n]) for n in (20, 200)}
    times = {"sn40l_node": (sn[20], sn[200])}
    for gpu, speedup in EXPERT_SPEEDUP.items():
        times[gpu] = (sn[20] * speedup[20], sn[200] * speedup[200])
    return times


def paper_linear_costs(sn40l_switch_s: float) -> dict[str, LinearExpertCost]:
    """Per-request and per-token expert costs per platform implied by P1."""
    return {p: split_linear(*e) for p, e in paper_expert_times(sn40l_switch_s).items()}


# The corrected reading of Table V (PAPER.md, which supersedes the decomposition above: that one
# ignored the router). P1's DGX expert time is NeMo's published Llama-2-7B latency (TP8, batch 1,
# 128 in / 20 out, 136.5 ms on DGX A100); T5 then puts SN40L's at ~68 ms, T4/T6 its 200-token time
# at ~354 ms, and the router costs about one 20-token expert inference on each platform. Per
# platform: router, switch, expert(20), expert(200), in seconds (switches: T1/T2 on 13.5 ms).
NEMO_A100_E20_S = 0.1365
SN40L_E200_S = 0.354  # PAPER.md: T4 and T6 with the router counted
SN40L_SWITCH_S = 0.0135


def table_v_reading() -> dict[str, dict[str, float]]:
    """PAPER.md's derived router / switch / expert(20) / expert(200) times per platform."""
    sn_e20 = NEMO_A100_E20_S / EXPERT_SPEEDUP["dgx_a100"][20]
    out = {"sn40l_node": {"router": sn_e20, "switch": SN40L_SWITCH_S, "expert20": sn_e20,
                          "expert200": SN40L_E200_S}}
    for gpu, ratio in (("dgx_a100", SWITCH_RATIO_A100), ("dgx_h100", 15.0)):
        e20 = sn_e20 * EXPERT_SPEEDUP[gpu][20]
        out[gpu] = {"router": e20, "switch": SN40L_SWITCH_S * ratio, "expert20": e20,
                    "expert200": SN40L_E200_S * EXPERT_SPEEDUP[gpu][200]}
    return out
