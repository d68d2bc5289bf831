"""A stand-in for the pynq package, to run driver/run_on_pynq.ipynb on a PC
(tests/test_pynq_notebook.py): Overlay and allocate as the notebook and the driver use
them, with an AXI DMA whose "hardware" is the integer reference model of the design in
the folder that the environment variable FAKE_PYNQ_DESIGN names. The DMA decodes each
image from the bytes it is sent (report.json's s_axis layout, decoded here on its own,
not with the driver's code), computes the class and logits with
quantization_functions.reference_forward, and writes them as the m_axis result words.
It checks what a DMA in simple mode needs: one transfer per channel at a time, each
started on a 4-byte boundary, the result transfer armed before it is waited for.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import quantization_functions as qf


def allocate(shape, dtype=np.uint32, **_):
    return np.zeros(shape, dtype)


class _Channel:
    def __init__(self, dma, send: bool):
        self.dma, self.send, self.busy = dma, send, False

    def transfer(self, array, start=0, nbytes=0):
        if self.busy:
            raise RuntimeError("DMA channel not idle")
        memory = np.asarray(array).reshape(-1).view(np.uint8)
        nbytes = nbytes or memory.nbytes - start
        if start % 4:
            raise MemoryError(f"unaligned transfer at byte {start}")
        self.busy = True
        if self.send:
            self.dma.compute(memory[start:start + nbytes])
        else:
            self.dma.armed = memory[start:start + nbytes]

    def wait(self):
        if not self.busy:
            raise RuntimeError("wait() without a transfer")
        if not self.send:
            if not self.dma.results:
                raise RuntimeError("the result was waited for before its image was sent")
            data = self.dma.results.pop(0)
            if len(data) > len(self.dma.armed):
                raise RuntimeError("result longer than the receive transfer")
            self.dma.armed[:len(data)] = np.frombuffer(data, np.uint8)
        self.busy = False


class _Dma:
    def __init__(self, folder: Path):
        self.report = json.loads((folder / "report.json").read_text())
        with np.load(folder / "quantized.npz", allow_pickle=False) as d:
            self.q = qf.QuantizedModel.from_arrays(d)
        self.results: list[bytes] = []
        self.armed = None
        self.sendchannel, self.recvchannel = _Channel(self, True), _Channel(self, False)

    def compute(self, data: np.ndarray):
        bits, n_in = self.q.input_bits, self.q.topology[0]
        simd = self.report["layers"][0]["simd"]
        beat = self.report["axis"]["s_axis_bits"] // 8
        codes = []
        for b in range(0, len(data), beat):
            word = int.from_bytes(data[b:b + beat].tobytes(), "little")
            codes += [(word >> (bits * k)) & ((1 << bits) - 1) for k in range(simd)]
        if len(codes) < n_in:
            raise RuntimeError(f"an image of {len(data)} bytes: too short")
        logits, classes = qf.reference_forward(self.q, np.array([codes[:n_in]], np.int64))
        width = self.report["axis"]["m_axis_bits"] // 8
        words = [int(classes[0])] + [int(v) for v in logits[0]]
        self.results.append(b"".join((w & ((1 << 8 * width) - 1)).to_bytes(width, "little")
                                     for w in words))


class Overlay:
    def __init__(self, bitstream: str):
        bit = Path(bitstream)
        if not bit.exists() or not bit.with_suffix(".hwh").exists():
            raise FileNotFoundError(f"{bitstream} (and its .hwh) not found")
        self.axi_dma_0 = _Dma(Path(os.environ["FAKE_PYNQ_DESIGN"]))
