"""The largest inputs the simulator accepts, each with the reason it is that size.

Every limit is checked while a scenario is validated, before anything is allocated, so a value
such as ``nodes: 10**12`` or ``requests: 1e30`` is an input error (exit 2) instead of a run that
grows without bound. The numbers come from what one machine can hold and from float64 arithmetic;
docs/limits.md gives the same table for users.
"""

from __future__ import annotations

import re

# Hardware size. The engine keeps one serving group (a SimPy process, an HBM cache, a copy link)
# and one placement store per tensor-parallel group. Measured at all the limits at once (4,096
# devices at TP1, 20,000 experts x 50 replicas): 4 s and 304 MB peak for 2,000 requests.
# A profile's devices_per_node beyond 64 is no machine that exists.
MAX_NODES = 1024
MAX_DEVICES_PER_NODE = 64
MAX_DEVICES = 4096  # nodes x devices_per_node

# Experts: one catalogue entry, one row of every per-expert table and queue each. 20,000 is 20x the
# largest composition the paper discusses (850) and keeps the per-expert arrays small.
MAX_EXPERTS = 20_000
# Expert copies placed on groups (experts x replicas): each is an entry in a group's store.
MAX_EXPERT_COPIES = 1_000_000

# Requests per run. The results are read back whole to compute the summary (~200 bytes per request
# in memory), so 10 million requests need ~2 GB; at the engine's ~10^4-10^5 requests per wall
# second that is minutes to hours of simulation, not days.
MAX_REQUESTS = 10_000_000

# Tokens of one request (prompt or output) and the context limit. 10^7 is 80x the longest context
# of any model in the catalogue, and tokens x KV bytes per token x batch stays far inside int64 and
# exact in float64 (2^53), so no sum of token counts can overflow.
MAX_TOKENS = 10_000_000
MAX_BATCH = 65_536

# Simulated time, seconds: durations, trace arrival times and the span of generated arrivals.
# float64 seconds at 10^8 s (3.2 years) still resolve 15 ns, far below the shortest cost modelled
# (a ~1 us kernel launch); beyond it, event times would start to lose the costs added to them.
MAX_TIME_S = 1e8

# Arrival rates, requests per second (also a trace's rate_multiplier, which scales them). Below
# 10^-6 /s (one request per ~12 days) the arrivals of even a small run leave MAX_TIME_S; above
# 10^6 /s arrivals are closer than any modelled cost.
MIN_RATE_PER_S = 1e-6
MAX_RATE_PER_S = 1e6

# Quantities of a hardware profile, as SI floats. Far beyond any device, and small enough that
# every product the cost model forms (bytes x tokens x batch) stays finite in float64.
MAX_BYTES = 2.0**70  # 1 ZiB
MAX_BYTES_PER_S = 1e18  # 1 EB/s
MIN_BYTES_PER_S = 1e3  # 1 kB/s: below it one 7B-model copy alone would outlast MAX_TIME_S
MAX_FLOP_PER_S = 1e21  # 1 ZFLOP/s
MIN_FLOP_PER_S = 1e6  # 1 MFLOP/s: as MIN_BYTES_PER_S, a single decode step would outlast the run
MAX_WATTS = 1e9  # 1 GW per device or node: a power plant; energy over MAX_TIME_S stays finite

# Names that become folders (scenario and sweep names).
MAX_NAME_CHARS = 100
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"


def check_name(value: str) -> str:
    """A scenario or sweep name is a slug: it names one folder inside the output folder, never a
    path (no ``/``, no ``..``), and fits any file system's 255-byte name limit."""


    if not 1 <= len(value) <= MAX_NAME_CHARS:
        raise ValueError(f"a name has 1 to {MAX_NAME_CHARS} characters, got {len(value)}")
    if not re.match(NAME_PATTERN, value) or value in (".", ".."):
        raise ValueError(f"{value[:40]!r} is not a valid name: use letters, digits, '-', '_' "
                         "and '.' (it names a results folder, so no '/' and not '.' or '..')")
    return value
