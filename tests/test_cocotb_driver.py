"""The PYNQ driver the generator writes (driver/bram_mlp_driver.py), run unchanged against
the GHDL simulation of <name>_axis: cocotb test and runner in one file.

The AXI DMA is played by cocotbext-axi as the driver sees it through PYNQ (an overlay with
axi_dma_0.sendchannel / .recvchannel, each with transfer(array, start, nbytes) and
wait()): MM2S sends the transfer's bytes as one frame, TLAST on its last beat; S2MM takes
a frame only while a receive transfer is armed (tready low otherwise, as the DMA holds it)
and fails if the frame does not fit the transfer; both insist on the alignment a DMA
without its unaligned-transfer engine needs. The driver's blocking calls run in a cocotb
bridge thread, the DMA's waits in the simulator. Every class and logit it returns is
compared with quantization_functions.reference_forward.

    python3 -m pytest tests/test_cocotb_driver.py
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

try:
    import cocotb
    from cocotb.task import bridge, resume
    from cocotb.triggers import ClockCycles, Event, RisingEdge
    from cocotbext.axi import AxiStreamFrame
except ImportError:  # pytest collection without cocotb: the runner test is skipped below
    cocotb = None

# simulated time after which a test fails instead of hanging (bench/bench_board.py: more)
SIM_TIMEOUT_MS = float(os.environ.get("BRAM_MLP_DRIVER_TIMEOUT_MS", 1))
CORRUPT_ENV = "BRAM_MLP_CORRUPT_EXPECTED"  # set by the test that proves the check can fail
IMAGES_ENV = "BRAM_MLP_DRIVER_IMAGES"      # images to send (default 14: one, then 13)
BATCH_ENV = "BRAM_MLP_DRIVER_BATCH"        # the driver's buffer, in images (default 5)


def load_driver(design_dir: Path):
    """The generated driver module, imported from the design folder."""
    path = design_dir / "driver" / "bram_mlp_driver.py"
    spec = importlib.util.spec_from_file_location("bram_mlp_driver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SimChannel:
    """One channel of an AXI DMA in simple mode, as PYNQ's DMA channel presents it."""

    def __init__(self, stream, beat_bytes: int, align: int, send: bool):
        self.stream, self.beat_bytes, self.align, self.send = stream, beat_bytes, align, send
        self.busy = False
        self.sent = None
        self.target = None
        self.transfers = 0

    def transfer(self, array, start: int = 0, nbytes: int = 0):
        if self.busy:
            raise RuntimeError("DMA channel not idle")   # what PYNQ says
        memory = np.asarray(array).reshape(-1).view(np.uint8)
        nbytes = nbytes or memory.nbytes - start
        if start % self.align:
            raise MemoryError(f"start {start} is not {self.align}-byte aligned")
        if nbytes % self.beat_bytes:
            raise MemoryError(f"{nbytes} bytes is not a whole number of "
                              f"{self.beat_bytes}-byte beats")
        self.busy = True
        self.transfers += 1
        if self.send:
            beats = memory[start:start + nbytes].reshape(-1, self.beat_bytes)
            words = [int.from_bytes(b.tobytes(), "little") for b in beats]
            self._start_send(words)
        else:
            self.target = (memory, start, nbytes)
            self._arm(True)

    @resume
    async def _start_send(self, words: list[int]):
        self.sent = Event()
        await self.stream.send(AxiStreamFrame(words, tx_complete=lambda _frame: self.sent.set()))

    @resume
    async def _arm(self, on: bool):
        self.stream.pause = not on

    def wait(self):
        if not self.busy:
            return
        if self.send:
            self._wait_sent()
        else:
            self._wait_received()
        self.busy = False

    @resume
    async def _wait_sent(self):
        await self.sent.wait()

    @resume
    async def _wait_received(self):
        frame = await self.stream.recv()
        memory, start, nbytes = self.target
        data = b"".join(int(w).to_bytes(self.beat_bytes, "little") for w in frame.tdata)
        if len(data) > nbytes:
            raise RuntimeError(f"S2MM: a frame of {len(data)} bytes into a transfer of "
                               f"{nbytes} (the DMA would stop with an error)")
        memory[start:start + len(data)] = np.frombuffer(data, np.uint8)
        if self.stream.empty():
            self.stream.pause = True     # nothing armed: tready low


if cocotb is not None:

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def driver_matches_reference(dut):
        """One image, then a batch of 13 in buffers of 5 (three DMA batches); bench/
        bench_board.py sends more (the environment variables above)."""
        design = cs.load_design()
        driver_module = load_driver(design.folder)
        layout = driver_module.LAYOUT
        source, sink = await cs.start_stream_models(dut)
        sink.pause = True                  # tready low until a receive transfer is armed
        await ClockCycles(dut.aclk, 3)
        dut.aresetn.value = 1
        await RisingEdge(dut.aclk)
        align = max(4, layout["s_axis_bytes"], layout["m_axis_bytes"])
        dma = SimpleNamespace(
            sendchannel=SimChannel(source, layout["s_axis_bytes"], align, send=True),
            recvchannel=SimChannel(sink, layout["m_axis_bytes"], align, send=False))
        net = driver_module.BramMlp(SimpleNamespace(axi_dma_0=dma),
                                    batch=int(os.environ.get(BATCH_ENV, 5)),
                                    allocate=lambda shape, dtype: np.zeros(shape, dtype))
        X = design.random_images(int(os.environ.get(IMAGES_ENV, 14)), seed=41)

        @bridge
        def classify(images):
            return net.classify(images)

        single = await classify(X[0])             # one image, as a 1-D array
        batch = await classify(X[1:])              # 13 images, buffers of 5
        classes = np.concatenate([single[0], batch[0]])
        logits = np.concatenate([single[1], batch[1]])
        want_logits, want_classes = design.reference(X)
        if os.environ.get(CORRUPT_ENV):
            want_logits = want_logits.copy()
            want_logits[len(X) // 2, 0] += 1
        dut._log.info("driver: %d images, %d DMA sends, %d receives; classes %s",
                      len(X), dma.sendchannel.transfers, dma.recvchannel.transfers,
                      classes.tolist())
        same = sum(int(classes[k] == want_classes[k] and list(logits[k]) == list(want_logits[k]))
                   for k in range(len(X)))
        dut._log.info("driver: %d of %d images equal to the reference model (classes and "
                      "logits)", same, len(X))
        assert dma.sendchannel.transfers == dma.recvchannel.transfers == len(X)
        assert logits.shape == want_logits.shape and classes.shape == want_classes.shape
        for k in range(len(X)):
            assert classes[k] == want_classes[k] and list(logits[k]) == list(want_logits[k]), \
                (f"image {k}: driver class {classes[k]} logits {list(logits[k])}, reference "
                 f"class {want_classes[k]} logits {list(want_logits[k])}")


# ------------------------------------------------------------------ the pytest side
needs_sim = pytest.mark.skipif(cs.GHDL is None or cocotb is None,
                               reason="needs GHDL, cocotb and cocotbext-axi")
# 8-bit codes, one per byte; 12-bit codes in 16-bit beats; 4 codes per 32-bit beat; 64-bit
# result words
KEYS = ["odd_5_3_2", "wide_5_3_2", "simd_100_13_7_10", "wide_logits_5_2"]


@needs_sim
@pytest.mark.parametrize("key", KEYS)
def test_driver_against_the_simulated_hardware(key, tmp_path):
    design = cs.make_design(tmp_path, key)
    cs.run_cocotb(design, f"{key}_axis", "test_cocotb_driver", tmp_path / "sim")


@needs_sim
def test_driver_check_fails_on_a_corrupted_expected_value(tmp_path):
    design = cs.make_design(tmp_path, "odd_5_3_2")
    with pytest.raises(SystemExit) as exc:
        cs.run_cocotb(design, "odd_5_3_2_axis", "test_cocotb_driver", tmp_path / "sim",
                      extra_env={CORRUPT_ENV: "1"})
    assert exc.value.code != 0


def test_driver_refuses_bad_images(tmp_path):
    """Wrong shapes, codes out of range and fractions: one clear ValueError each; nothing
    sent."""
    design = cs.make_design(tmp_path, "odd_5_3_2")
    mod = load_driver(design)
    sent = []
    channel = SimpleNamespace(transfer=lambda *a, **k: sent.append(a), wait=lambda: None)
    net = mod.BramMlp(SimpleNamespace(axi_dma_0=SimpleNamespace(
        sendchannel=channel, recvchannel=channel)), allocate=lambda shape, dtype: np.zeros(shape, dtype))
    for images, words in [(np.zeros((2, 6)), "expected 5 input codes per image"),
                          (np.full((1, 5), 256), "0..255"),
                          (np.full((1, 5), -1), "0..255"),
                          (np.full((1, 5), 0.5), "fractions")]:
        with pytest.raises(ValueError, match=words):
            net.classify(images)
    assert not sent


def test_pack_and_unpack_follow_the_stream_layout(tmp_path, monkeypatch):
    """pack() against the words the VHDL testbenches stream (cocotb_support.Design.words,
    docs/entities.md), for 12-bit codes and 4 codes per beat; unpack() of hand-made
    result words."""
    for key in ("wide_5_3_2", "simd_100_13_7_10"):
        design_dir = cs.make_design(tmp_path, key)
        mod = load_driver(design_dir)
        net = mod.BramMlp(SimpleNamespace(axi_dma_0=None), allocate=np.zeros)
        monkeypatch.setenv(cs.DESIGN_ENV, str(design_dir))
        design = cs.load_design()
        X = design.random_images(3, seed=5)
        beat = mod.LAYOUT["s_axis_bytes"]
        for row, x in zip(net.pack(X), X):
            got = [int.from_bytes(row[i:i + beat].tobytes(), "little")
                   for i in range(0, net.image_bytes, beat)]
            assert got == design.words(x)
            assert not row[net.image_bytes:].any() and len(row) % 64 == 0
    words = np.zeros((2, net.result_stride), np.uint8)
    values = np.array([[7, -1, 2 ** 31 - 1, -2 ** 31] + [0] * (mod.LAYOUT["result_beats"] - 4),
                       [0, 5, -5, 0] + [0] * (mod.LAYOUT["result_beats"] - 4)], "<i4")
    words[:, :net.result_bytes] = values.view(np.uint8)
    classes, logits = net.unpack(words)
    assert classes.tolist() == [7, 0]
    assert logits[:, :3].tolist() == [[-1, 2 ** 31 - 1, -2 ** 31], [5, -5, 0]]
