"""Tensor-parallel collectives: an alpha-beta model of one all-reduce.

``alpha`` (``InterconnectSpec.latency_s``) is paid once per algorithm step, ``beta`` is
1 / ``bw_bytes_per_s`` (per device, one direction). A collective over more devices than a node holds
crosses the profile's ``scale_out`` link and runs at the pace of its slowest link: every step pays
the larger of the two latencies, and the bandwidth term uses the smaller of the two bandwidths.
For ``p`` devices and ``n`` bytes per device:

* ring: reduce-scatter + all-gather, ``2(p-1)`` steps, each device sends ``2(p-1)/p * n`` bytes;
* tree: a reduce and a broadcast down a binary tree, ``2*ceil(log2 p)`` steps, each carrying the
  whole message pipelined in chunks, so the bandwidth term is ``2 * n`` (NCCL's double binary tree
  halves the per-link load; we keep the conservative single tree);
* switch: every device exchanges its shards through a full-bisection switch (NVSwitch, or a
  one-hop peer-to-peer fabric): reduce-scatter and all-gather each take one step, so 2 alphas and the
  ring's ``2(p-1)/p * n`` bandwidth term.
"""

from __future__ import annotations

import math

from sn40l_sim.catalogue.hardware import InterconnectSpec


def allreduce_steps(topology: str, n_devices: int) -> int:
    """Latency-bearing steps of one all-reduce."""
    if n_devices <= 1:
        return 0
    if topology == "ring":
        return 2 * (n_devices - 1)
    if topology == "tree":
        return 2 * math.ceil(math.log2(n_devices))
    return 2


def allreduce_bw_factor(topology: str, n_devices: int) -> float:
    """Bytes each device sends per byte of the all-reduced tensor."""
    if n_devices <= 1:
        return 0.0
    if topology == "tree":
        return 2.0
    return 2.0 * (n_devices - 1) / n_devices


def crosses_nodes(net: InterconnectSpec, n_devices: int) -> bool:
    """Whether a collective over ``n_devices`` leaves one node (and so crosses ``scale_out``)."""
    return net.scale_out is not None and n_devices > net.scale_out.devices_per_node


def _step_latency_s(net: InterconnectSpec, n_devices: int) -> float:
    if crosses_nodes(net, n_devices):
        assert net.scale_out is not None
        return max(net.latency_s, net.scale_out.latency_s)
    return net.latency_s


def _bw_bytes_per_s(net: InterconnectSpec, n_devices: int) -> float:
    if crosses_nodes(net, n_devices):
        assert net.scale_out is not None
        return min(net.bw_bytes_per_s, net.scale_out.bw_bytes_per_s)
    return net.bw_bytes_per_s


def allreduce_latency_s(net: InterconnectSpec, n_devices: int) -> float:
    """The size-independent part of one all-reduce by the devices (alpha terms)."""
    if n_devices <= 1:
        return 0.0
    doublings = max(0.0, math.log2(n_devices) - 1.0)
    return (allreduce_steps(net.topology, n_devices) * _step_latency_s(net, n_devices)
            + doublings * net.latency_per_doubling_s)


def device_allreduce_s(net: InterconnectSpec, n_bytes: float, n_devices: int) -> float:
    """All-reduce by the devices themselves (ring, tree or one-hop switch exchange)."""
    return (allreduce_latency_s(net, n_devices)
            + allreduce_bw_factor(net.topology, n_devices) * n_bytes / _bw_bytes_per_s(net, n_devices))


def in_network_allreduce_s(net: InterconnectSpec, n_bytes: float) -> float:
    """All-reduce reduced inside the switch (NVLS): send once, receive the sum once."""
    assert net.in_network is not None
    return net.in_network.latency_s + n_bytes / net.in_network.bw_bytes_per_s


def allreduce_s(net: InterconnectSpec, n_bytes: float, n_devices: int) -> float:
    """Seconds for one all-reduce of ``n_bytes`` (per device) across ``n_devices``: the faster of
    the device algorithm and, where the switch reduces in the network, the in-network one (NCCL
    chooses per message size: small messages stay on the low-latency device protocols)."""
    if n_devices <= 1 or n_bytes <= 0:
        return 0.0
    t = device_allreduce_s(net, n_bytes, n_devices)
    if net.in_network is not None:
        t = min(t, in_network_allreduce_s(net, n_bytes))
    return t
