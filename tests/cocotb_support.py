"""Shared by the cocotb tests: generate a design, build it with cocotb's runner (GHDL), and
read the design back inside the simulation (sizes and the integer reference model come from
the generated files, not from the DUT: GHDL does not expose generics well to cocotb).

The pytest side calls `run_cocotb(...)`; the cocotb side calls `load_design()`, which finds
the design folder through the BRAM_MLP_DESIGN environment variable.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import quantization_functions as qf  # noqa: E402

GHDL = shutil.which("ghdl")
DESIGN_ENV = "BRAM_MLP_DESIGN"
# analysis order for plain ghdl -a: hand-written helpers, packages, memories and layers,
# core, then the top levels


def synthesizable_files(folder: Path) -> list[Path]:
    """Every .vhd a user adds to Vivado, in dependency order for GHDL (the order
    estimate.py analyses them in: packages, LUT multipliers, weights, layers, core, tops)."""
    import estimate
    return estimate.synthesizable_files(Path(folder))


# small networks from examples.py: cocotb pays Python per clock edge, so the thorough
# random tests use these (one hidden layer; two hidden layers)
NETWORKS = {"odd_5_3_2": ([5, 3, 2], 14), "odd_100_13_7_10": ([100, 13, 7, 10], 15)}
# generator options worth a run through the wrapper: 12-bit input codes (s_axis_tdata is
# 16 bits wide); LUT multipliers and a half-empty packed ROM (the _lut_mults entity)
WIDE_INPUTS = {"wide_5_3_2": ([5, 3, 2], 14, {"input_bits": 12, "weight_bits": 5}),
               "lut_5_3_2": ([5, 3, 2], 14, {"dsp_budget": 2, "neurons_per_rom": 2})}
# folded (issue 15): 3 lanes per layer, 13, 7 and 10 neurons in 5, 3 and 4 passes, the
# first 4 lanes in DSP blocks, the others in LUTs
FOLDED = {"fold_100_13_7_10": ([100, 13, 7, 10], 15, {"pe": [3], "dsp_budget": 4}),
          # layers in flight (issue 15 item 2): layer 0 the slowest stage; a folded layer 1
          # the slowest (layer 0 waits with its results); a last layer shorter than the
          # argmax (it waits for the argmax)
          "flight_100_13_7_10": ([100, 13, 7, 10], 15, {"in_flight": True}),
          "flight_5_40_3": ([5, 40, 3], 14, {"in_flight": True, "pe": [7]}),
          "flight_3_12": ([3, 12], 16, {"in_flight": True}),
          # a ROM word wider than 8 block RAMs (40 x 8 bits): read as 2 slices of 36 and 4
          # weights, each its own memory with its own address copy (layer_pkg SLICE_c)
          "slices_5_40_3": ([5, 40, 3], 14, {}),
          # 4 inputs per clock in layer 0 (a 4-read input buffer), 5 lanes, in flight
          "simd_100_13_7_10": ([100, 13, 7, 10], 15, {"simd": [4, 1, 1], "pe": [5],
                                                      "in_flight": True}),
          # DSP pairs (two lanes per block, hdl/dsp_mult_pairs.vhd): layer 0's 5 lanes x 2
          # inputs in 6 blocks (the last lane single), the later layers in LUTs
          "pairs_100_13_7_10": ([100, 13, 7, 10], 15, {"simd": [2, 1, 1], "pe": [5],
                                                       "dsp_budget": 6, "dsp_pairs": True,
                                                       "in_flight": True})}


# 16-bit codes and weights in one layer: 35-bit logits, sent as 64-bit m_axis words (the
# drivers' tests)
WIDE_LOGITS = {"wide_logits_5_2": ([5, 2], 3, {"input_bits": 16, "weight_bits": 16})}


def make_design(folder: Path, key: str) -> Path:
    """Generate example network `key` into folder/key; returns the design folder."""
    import vhdl_generator as vg
    from examples import random_float_model
    if key in WIDE_INPUTS or key in FOLDED or key in WIDE_LOGITS:
        topology, seed, opts = {**WIDE_INPUTS, **FOLDED, **WIDE_LOGITS}[key]
    else:
        (topology, seed), opts = NETWORKS[key], {}
    g = vg.generate(random_float_model(topology, seed), out=folder / key, name=key,
                    opts=vg.Options(**opts), log=lambda *_: None)
    return g.out


def run_cocotb(design_dir: Path, toplevel: str, test_module: str, build_dir: Path,
               extra_sources: list[Path] = (), extra_env: dict | None = None,
               testcase: str | None = None) -> None:
    """Build the design (VHDL-2008 analysis of the VHDL-93 files) and run the cocotb tests
    of `test_module` on `toplevel`. Fails the calling pytest test when a cocotb test fails."""
    from cocotb_tools.runner import get_runner
    runner = get_runner("ghdl")
    sources = synthesizable_files(design_dir) + list(extra_sources)
    runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                 build_args=["--std=08", "-Wno-hide"], always=True)
    env = {DESIGN_ENV: str(design_dir)}
    env.update(extra_env or {})
    runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=build_dir,
                test_args=["--std=08"], extra_env=env, testcase=testcase)


@dataclass
class Design:
    folder: Path
    q: qf.QuantizedModel
    report: dict

    @property
    def n_inputs(self) -> int:
        return self.q.topology[0]

    @property
    def n_outputs(self) -> int:
        return self.q.topology[-1]

    @property
    def latency(self) -> int:
        return self.report["latency_cycles"]

    @property
    def simd(self) -> int:
        """Codes per input word (layer 0's SIMD): per wr_data write and s_axis beat."""
        return self.report["layers"][0]["simd"]

    @property
    def beats(self) -> int:
        """Input words (s_axis beats) of one image."""
        return -(-self.n_inputs // self.simd)

    @property
    def word_bits(self) -> int:
        return self.simd * self.q.input_bits

    def words(self, x) -> list[int]:
        """An image as input words: codes k * simd .. k * simd + simd - 1 in word k, the
        first in the low bits, 0 beyond the last input (docs/entities.md)."""
        codes = [int(v) for v in x] + [0] * (-len(x) % self.simd)
        return [sum(codes[w * self.simd + k] << (k * self.q.input_bits)
                    for k in range(self.simd)) for w in range(len(codes) // self.simd)]

    def reference(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (n, n_out) and classes (n,) of the Python integer reference model."""
        return qf.reference_forward(self.q, np.atleast_2d(np.asarray(X, dtype=np.int64)))

    def random_images(self, n: int, seed: int) -> np.ndarray:
        import vhdl_generator as vg
        return vg.default_vectors(self.n_inputs, self.q.input_bits, n, seed)


def load_design() -> Design:
    folder = Path(os.environ[DESIGN_ENV])
    with np.load(folder / "quantized.npz", allow_pickle=False) as d:
        q = qf.QuantizedModel.from_arrays(d)
    return Design(folder=folder, q=q, report=json.loads((folder / "report.json").read_text()))


async def start_stream_models(dut):
    """For a <name>_axis DUT: aresetn held low, the inputs at 0, a 10 ns clock on aclk, and
    cocotbext-axi's AxiStreamSource on s_axis and AxiStreamSink on m_axis (their logs at
    WARNING: not a line per frame). Returns (source, sink); the caller ends the reset."""
    import logging

    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import Timer
    from cocotbext.axi import AxiStreamBus, AxiStreamSink, AxiStreamSource
    dut.aresetn.value = 0
    for name in ("s_axis_tvalid", "s_axis_tlast", "s_axis_tdata", "m_axis_tready"):
        getattr(dut, name).value = 0
    await Timer(1, unit="ns")
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn,
                             reset_active_level=False, byte_lanes=1)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn,
                         reset_active_level=False, byte_lanes=1)
    for model in (source, sink):
        model.log.setLevel(logging.WARNING)
    return source, sink


def to_signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
