"""cocotb tests of the plain-port top level <name>_top (test and runner in one file).

The test writes each image through wr_en/wr_addr/wr_data (random order, random idle
clocks), pulses start and compares class_out and logits at done with the Python integer
reference model, and the clocks from start to done with the generator's LATENCY.

    python3 -m pytest tests/test_cocotb_top.py
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, RisingEdge, Timer
except ImportError:
    cocotb = None

# simulated time after which a cocotb test fails instead of waiting forever (a hang)
SIM_TIMEOUT_MS = 1


async def start_clock_and_reset(dut) -> None:
    for name in ("rst", "wr_en", "wr_addr", "wr_data", "start"):
        getattr(dut, name).value = 1 if name == "rst" else 0
    await Timer(1, unit="ns")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0


async def write_image(dut, x, rng: random.Random) -> None:
    """Every input word once (one input, or layer 0's SIMD inputs), in random order, with
    random idle clocks in between."""
    words = cs.load_design().words(x)
    order = list(range(len(words)))
    rng.shuffle(order)
    for i in order:
        dut.wr_en.value = 1
        dut.wr_addr.value = i
        dut.wr_data.value = words[i]
        await RisingEdge(dut.clk)
        if rng.random() < 0.3:
            dut.wr_en.value = 0
            await ClockCycles(dut.clk, rng.randint(1, 3))
    dut.wr_en.value = 0


async def pulse_start(dut) -> None:
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


async def wait_done(dut, limit: int) -> int:
    """Clocks until done is seen at a rising edge (the pulse_start edge counts as 0)."""
    for clocks in range(1, limit + 1):
        await RisingEdge(dut.clk)
        if dut.done.value == 1:
            return clocks
    raise AssertionError(f"no done within {limit} clocks")


def read_result(dut, d: cs.Design) -> list[int]:
    bits = d.report["layers"][-1]["acc_bits"]
    word = dut.logits.value.to_unsigned()
    logits = [cs.to_signed(word >> (j * bits), bits) for j in range(d.n_outputs)]
    cls = dut.class_out.value   # a 1-bit port is a scalar in a Verilog netlist
    return [cls.to_unsigned() if hasattr(cls, "to_unsigned") else int(cls)] + logits


def expected(d: cs.Design, X) -> list[list[int]]:
    logits, classes = d.reference(X)
    return [[int(c)] + [int(v) for v in row] for row, c in zip(logits, classes)]


if cocotb is not None:

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def images_in_random_write_order(dut):
        d = cs.load_design()
        rng = random.Random(11)
        X = d.random_images(12, seed=41)
        await start_clock_and_reset(dut)
        for k, (x, exp) in enumerate(zip(X, expected(d, X))):
            await write_image(dut, x, rng)
            await pulse_start(dut)
            clocks = await wait_done(dut, 4 * d.latency)
            assert clocks == d.latency, f"image {k}: {clocks} clocks from start to done"
            got = read_result(dut, d)
            assert got == exp, f"image {k}: got [class, logits] {got}, expected {exp}"
            await ClockCycles(dut.clk, rng.randint(0, 3))
            assert read_result(dut, d) == exp, f"image {k}: result did not hold after done"

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def start_while_busy_is_ignored_and_reset_aborts(dut):
        d = cs.load_design()
        rng = random.Random(12)
        X = d.random_images(3, seed=42)
        exp = expected(d, X)
        await start_clock_and_reset(dut)
        # a second start in the middle of the computation changes nothing
        await write_image(dut, X[0], rng)
        await pulse_start(dut)
        await ClockCycles(dut.clk, d.latency // 2)
        assert dut.busy.value == 1
        await pulse_start(dut)
        clocks = await wait_done(dut, 4 * d.latency)
        assert clocks == d.latency - d.latency // 2 - 1, f"done after {clocks} more clocks"
        assert read_result(dut, d) == exp[0]
        for _ in range(2 * d.latency):  # exactly one done
            await RisingEdge(dut.clk)
            assert dut.done.value == 0, "a second done: the start while busy was taken"
        # rst in the middle of a computation: no done, then the next image is right
        await write_image(dut, X[1], rng)
        await pulse_start(dut)
        await ClockCycles(dut.clk, d.latency // 2)
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        for _ in range(2 * d.latency):
            await RisingEdge(dut.clk)
            assert dut.done.value == 0, "done after a reset in the middle of an image"
        assert dut.busy.value == 0
        await write_image(dut, X[2], rng)
        await pulse_start(dut)
        assert await wait_done(dut, 4 * d.latency) == d.latency
        assert read_result(dut, d) == exp[2]


needs_sim = pytest.mark.skipif(cs.GHDL is None or cocotb is None,
                               reason="needs GHDL and cocotb")


@needs_sim
@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(cs.FOLDED))
def test_top_level(key, tmp_path):
    design = cs.make_design(tmp_path, key)
    cs.run_cocotb(design, f"{key}_top", "test_cocotb_top", tmp_path / "sim")
