"""Hardware profiles: every profile loads, numbers carry sources, switch bandwidth as P1 models it."""

import re
from pathlib import Path

import pytest

from sn40l_sim.catalogue.models import get_model
from sn40l_sim.config.profiles import known_profiles, load_platform
from sn40l_sim.errors import InputError

TAG = re.compile(r"#.*(\[(P1|P2|HC24|NV|derived|fit)[^\]]*\]|assumption)")
NUMBER = re.compile(r":\s*[-+]?\d")


@pytest.mark.parametrize("name", sorted(known_profiles()))
def test_profile_loads(name):
    spec = load_platform(name)
    assert spec.n_devices_per_node >= 1
    assert spec.device.hbm.capacity_bytes > 0


@pytest.mark.parametrize("name", sorted(known_profiles()))
def test_every_number_has_a_source(name):
    for lineno, line in enumerate(Path(known_profiles()[name]).read_text().splitlines(), 1):
        if NUMBER.search(line.split("#")[0]):
            assert TAG.search(line), f"{name}.yaml:{lineno} has a number without a source tag: {line}"


def test_sn40l_numbers_from_p1_table_ii():
    sn = load_platform("sn40l_node")
    assert sn.device.peak_flop_per_s == 638e12
    assert sn.device.hbm.capacity_bytes == 64 * 2**30
    assert sn.device.sram.capacity_bytes == 520 * 2**20
    assert sn.device.ddr is not None and sn.device.ddr.capacity_bytes == 1.5 * 2**40


def test_switch_time_ratios_follow_from_bandwidths():
    """T1/T2: a TP8 Llama-2-7B switch is ~31x / ~15x faster on SN40L (1 TB/s vs 32 / 64 GB/s)."""
    nbytes = get_model("llama-2-7b").weight_bytes
    times = {n: nbytes / load_platform(n).weight_load_bw_bytes_per_s(8)
             for n in ("sn40l_node", "dgx_a100", "dgx_h100")}
    assert times["dgx_a100"] / times["sn40l_node"] == pytest.approx(31.25)
    assert times["dgx_h100"] / times["sn40l_node"] == pytest.approx(15.625)


def test_unknown_profile_suggests():
    with pytest.raises(InputError, match="did you mean 'dgx_a100'"):
        load_platform("dgx-a100")


@pytest.mark.parametrize("name", sorted(known_profiles()))
def test_every_profile_has_power_and_price(name):
    spec = load_platform(name)
    assert spec.power is not None and spec.price is not None
    assert spec.power.device_busy_w > spec.power.device_idle_w
    assert spec.power.node_busy_w >= spec.power.node_idle_w
    assert spec.price.node_usd_per_hour > 0


def test_dgx_h100_power_adds_up_to_the_datasheet_maximum():
    h100 = load_platform("dgx_h100")
    assert h100.power is not None and h100.power.peak_node_w(8) == pytest.approx(10.2e3)
