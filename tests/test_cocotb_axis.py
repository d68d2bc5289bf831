"""cocotb tests of the AXI4-Stream wrapper <name>_axis (test and runner in one file).

Every result is compared with the Python integer reference model
(quantization_functions.reference_forward). cocotbext-axi drives s_axis (AxiStreamSource,
random gaps from a pause generator) and takes m_axis (AxiStreamSink, random backpressure).
The m_axis frame of one image: [class, logit 0, ..., logit N-1], 32 bits per beat.

    python3 -m pytest tests/test_cocotb_axis.py
"""
from __future__ import annotations

import itertools
import logging
import os
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

# ------------------------------------------------------------------ the cocotb side
try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
except ImportError:  # pytest collection without cocotb: the runner test is skipped below
    cocotb = None

# simulated time after which a cocotb test fails instead of waiting forever (a hang)
SIM_TIMEOUT_MS = 1

CORRUPT_ENV = "BRAM_MLP_CORRUPT_EXPECTED"  # set by the test that proves the checks can fail


class Bench:
    """Clock, reset, AXI-Stream source and sink, and a count of tlast_error pulses."""

    def __init__(self, dut):
        self.dut = dut
        self.design = cs.load_design()
        self.errors = 0
        self.beats_in = 0  # s_axis transfers
        self.held_back = 0  # clocks a result waited for m_axis_tready
        self.idle_in = 0  # clocks the wrapper was ready and s_axis had no data
        self.cycle = 0
        self.last_beats: list[int] = []  # clock number of every m_axis TLAST transfer

    async def start(self):
        """Inputs driven to 0 and reset held before the clock and the AXI models start."""
        dut = self.dut
        dut.aresetn.value = 0
        for name in ("s_axis_tvalid", "s_axis_tlast", "s_axis_tdata", "m_axis_tready"):
            getattr(dut, name).value = 0
        await Timer(1, unit="ns")
        cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk,
                                      dut.aresetn, reset_active_level=False, byte_lanes=1)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk,
                                  dut.aresetn, reset_active_level=False, byte_lanes=1)
        for model in (self.source, self.sink):
            model.log.setLevel(logging.WARNING)  # not one line per frame
        cocotb.start_soon(self._monitor())
        await self.reset()

    async def _monitor(self):
        dut = self.dut
        while True:
            await RisingEdge(dut.aclk)
            self.cycle += 1
            if dut.aresetn.value == 1 and dut.tlast_error.value == 1:
                self.errors += 1
            if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
                self.beats_in += 1
            if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 0:
                self.held_back += 1
            if dut.s_axis_tvalid.value == 0 and dut.s_axis_tready.value == 1:
                self.idle_in += 1
            if (dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1
                    and dut.m_axis_tlast.value == 1):
                self.last_beats.append(self.cycle)

    async def reset(self, clocks: int = 3):
        self.dut.aresetn.value = 0
        await ClockCycles(self.dut.aclk, clocks)
        self.dut.aresetn.value = 1
        await RisingEdge(self.dut.aclk)

    def expected_frames(self, X) -> list[list[int]]:
        logits, classes = self.design.reference(X)
        frames = [[int(c)] + [int(v) for v in row] for row, c in zip(logits, classes)]
        if os.environ.get(CORRUPT_ENV) and frames:
            frames[len(frames) // 2][1] += 1  # logit 0 of one image off by one
        return frames

    async def receive(self, n: int) -> list[list[int]]:
        """n m_axis frames, each decoded to [class, logits...] (logits signed)."""
        frames = []
        for _ in range(n):
            frame = await self.sink.recv()
            words = list(frame.tdata)
            assert len(words) == self.design.n_outputs + 1, \
                f"frame {len(frames)}: {len(words)} beats, expected {self.design.n_outputs + 1}"
            frames.append([words[0]] + [cs.to_signed(w, 32) for w in words[1:]])
        return frames

    def check(self, got: list[list[int]], expected: list[list[int]], what: str) -> None:
        assert len(got) == len(expected), f"{what}: {len(got)} results, expected {len(expected)}"
        for k, (g, e) in enumerate(zip(got, expected)):
            assert g == e, f"{what}: image {k}: got [class, logits] {g}, expected {e}"

    async def no_more_output(self, clocks: int) -> None:
        await ClockCycles(self.dut.aclk, clocks)
        assert self.sink.empty(), "results left over: the DUT sent more frames than images"


def random_pauses(seed: int, p: float):
    """A pause generator for cocotbext-axi: True (pause) with probability p each clock."""
    rng = random.Random(seed)
    return (rng.random() < p for _ in itertools.count())


if cocotb is not None:

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def back_to_back(dut):
        """No gaps, no backpressure: every result right, one image per LATENCY_c + 1 clocks."""
        tb = Bench(dut)
        await tb.start()
        d = tb.design
        X = d.random_images(6, seed=31)
        for x in X:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        tb.check(await tb.receive(len(X)), tb.expected_frames(X), "back to back")
        period = d.report["axis"]["image_period_cycles"]
        gaps = [b - a for a, b in zip(tb.last_beats, tb.last_beats[1:])]
        dut._log.info("clocks between results: %s (core latency %d)", gaps, d.latency)
        assert gaps and all(g == period for g in gaps), \
            f"clocks between results {gaps}, expected {period} (LATENCY_c + 1) each"
        await tb.no_more_output(2 * d.latency)

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def random_gaps_and_backpressure(dut):
        """Random idle clocks on s_axis and random tready low on m_axis."""
        tb = Bench(dut)
        await tb.start()
        X = tb.design.random_images(24, seed=32)
        tb.source.set_pause_generator(random_pauses(1, 0.3))
        tb.sink.set_pause_generator(random_pauses(2, 0.6))
        for x in X:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        tb.check(await tb.receive(len(X)), tb.expected_frames(X), "gaps and backpressure")
        assert tb.held_back > 0 and tb.idle_in > 0, "no backpressure or no gaps happened"
        await tb.no_more_output(2 * tb.design.latency)

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def early_and_late_tlast(dut):
        """Images with TLAST too early or too late are dropped and reported, and the
        next image is not shifted."""
        tb = Bench(dut)
        await tb.start()
        d = tb.design
        n = d.beats  # input beats of one image
        X = d.random_images(8, seed=33)
        rng = random.Random(3)
        tb.source.set_pause_generator(random_pauses(4, 0.2))
        tb.sink.set_pause_generator(random_pauses(5, 0.5))
        await tb.reset()
        bad_lengths = [n - 1, 1, n + 1, 2 * n + 3, max(1, n // 2), n + n // 2]
        good = []
        for k, x in enumerate(X):
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
            good.append(x)
            if k < len(bad_lengths):
                length = bad_lengths[k]
                junk = [rng.randrange(1 << d.word_bits) for _ in range(length)]
                await tb.source.send(AxiStreamFrame(junk))
        tb.check(await tb.receive(len(good)), tb.expected_frames(good), "wrong TLAST")
        await tb.no_more_output(2 * d.latency)
        assert tb.errors == len(bad_lengths), \
            f"tlast_error pulsed {tb.errors} times for {len(bad_lengths)} bad images"

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def reset_in_the_middle(dut):
        """aresetn in the middle of an input image, and again while a result waits under
        backpressure and the next image computes: afterwards only new images come out."""
        tb = Bench(dut)
        await tb.start()
        d = tb.design
        slots = d.report["axis"]["result_slots"]
        X = d.random_images(slots + 8, seed=34)
        # 1. reset when about half of an image has gone in
        await tb.source.send(AxiStreamFrame(d.words(X[0])))
        while tb.beats_in < max(1, d.beats // 2):
            await RisingEdge(dut.aclk)
        assert tb.beats_in < d.beats
        await tb.reset()
        tb.source.clear()
        tb.sink.clear()
        for x in X[1:3]:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        tb.check(await tb.receive(2), tb.expected_frames(X[1:3]), "after the first reset")
        # 2. m_axis held back: as many results as the wrapper has slots wait in it (two, or
        #    more with layers in flight), two more images are buffered, the next is half
        #    in; then reset
        tb.sink.pause = True
        for x in X[3:slots + 6]:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        await ClockCycles(dut.aclk, (slots + 1) * d.latency + 2 * d.beats)
        assert dut.m_axis_tvalid.value == 1, "no result waiting: the scenario is not set up"
        assert dut.s_axis_tready.value == 0, "input not stalled: the scenario is not set up"
        await tb.reset()
        tb.source.clear()
        tb.sink.clear()
        tb.sink.pause = False
        await ClockCycles(dut.aclk, 2 * d.latency)
        assert tb.sink.empty(), "a result from before the reset came out after it"
        for x in X[slots + 6:slots + 8]:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        tb.check(await tb.receive(2), tb.expected_frames(X[slots + 6:slots + 8]),
                 "after the second reset")
        await tb.no_more_output(2 * d.latency)


    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def reset_while_skipping_a_long_image(dut):
        """aresetn while the wrapper skips the rest of a too-long image: s_axis_tready is
        low during reset, and afterwards the next image is taken whole, not skipped."""
        tb = Bench(dut)
        await tb.start()
        d = tb.design
        X = d.random_images(2, seed=35)
        rng = random.Random(6)
        junk = [rng.randrange(1 << d.word_bits) for _ in range(3 * d.beats + 4)]
        await tb.source.send(AxiStreamFrame(junk))   # TLAST only after 3 images' worth
        while tb.beats_in < d.beats + 2:             # past one image: now skipping
            await RisingEdge(dut.aclk)
        dut.aresetn.value = 0
        for _ in range(3):
            await RisingEdge(dut.aclk)
            await ReadOnly()
            assert dut.s_axis_tready.value == 0, "s_axis_tready high during reset"
        await RisingEdge(dut.aclk)
        dut.aresetn.value = 1
        tb.source.clear()
        tb.sink.clear()
        await RisingEdge(dut.aclk)
        for x in X:
            await tb.source.send(AxiStreamFrame(tb.design.words(x)))
        tb.check(await tb.receive(len(X)), tb.expected_frames(X), "after a reset while skipping")
        await tb.no_more_output(2 * d.latency)


# ------------------------------------------------------------------ the pytest side
needs_sim = pytest.mark.skipif(cs.GHDL is None or cocotb is None,
                               reason="needs GHDL, cocotb and cocotbext-axi")


@needs_sim
@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(cs.WIDE_INPUTS) + sorted(cs.FOLDED))
def test_axis_wrapper(key, tmp_path):
    design = cs.make_design(tmp_path, key)
    cs.run_cocotb(design, f"{key}_axis", "test_cocotb_axis", tmp_path / "sim")


@needs_sim
def test_axis_check_fails_on_a_corrupted_expected_value(tmp_path):
    """The same checks, with one expected logit off by one: the run must fail."""
    design = cs.make_design(tmp_path, "odd_5_3_2")
    with pytest.raises(SystemExit) as exc:
        cs.run_cocotb(design, "odd_5_3_2_axis", "test_cocotb_axis", tmp_path / "sim",
                      extra_env={CORRUPT_ENV: "1"}, testcase="back_to_back")
    assert exc.value.code != 0
