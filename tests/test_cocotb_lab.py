"""cocotb test of the hand-wired lab path (test and runner in one file).

In a Vivado block design the user places, per layer, the weights memory
<name>_l<k>_weights and the layer <name>_l<k>_layer (EXTERNAL_WEIGHTS = true), wires
w_addr -> addr and dout -> w_data, chains layer k's done -> layer k+1's start and layer
k+1's x_en/x_addr -> layer k's y_en/y_addr, y_data -> x_data (X_LATENCY = 13), and feeds
layer 0 from a Block Memory Generator initialised from a test-input .coe (X_LATENCY = 2).
`lab_wiring()` writes exactly that wiring as a VHDL-93 entity (what Vivado's block design
wrapper holds); the Block Memory Generator is played by the test, initialised from the
generated coe/<name>_input_NNNN.coe files. The logits are compared with the Python integer
reference model of the pixels read from those .coe files.

    python3 -m pytest tests/test_cocotb_lab.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
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

LAB_ENTITY = "lab_wiring"


def lab_wiring(name: str, n_layers: int) -> str:
    """The block design of the lab path as VHDL-93: weights memories and layers wired."""
    last = n_layers - 1
    lines = [
        f"-- {LAB_ENTITY}: the lab's block design for {name}, written out (test harness).",
        "library ieee;", "use ieee.std_logic_1164.all;", "",
        f"entity {LAB_ENTITY} is", "  port (",
        "    clk    : in  std_logic;", "    rst    : in  std_logic;",
        "    start  : in  std_logic;", "    done   : out std_logic;",
        "    -- to the test-input Block Memory Generator (read latency 2: output register on)",
        "    x_en   : out std_logic;",
        f"    x_addr : out std_logic_vector(work.{name}_l0_pkg.ADDR_BITS_c - 1 downto 0);",
        f"    x_data : in  std_logic_vector(work.{name}_l0_pkg.IN_BITS_c - 1 downto 0);",
        f"    logits : out std_logic_vector(work.{name}_l{last}_pkg.N_NEURONS_c * "
        f"work.{name}_l{last}_pkg.ACC_BITS_c - 1 downto 0)",
        "  );", f"end entity {LAB_ENTITY};", "", f"architecture wiring of {LAB_ENTITY} is",
    ]
    for k in range(n_layers):
        pkg = f"work.{name}_l{k}_pkg"
        lines += [
            # folded layers: a word per pass and input, a weight per lane
            f"  signal l{k}_w_addr : std_logic_vector({pkg}.W_ADDR_BITS_c - 1 downto 0);",
            f"  signal l{k}_w_data : std_logic_vector({pkg}.N_LANES_c * {pkg}.WEIGHT_BITS_c - 1 downto 0);",
            f"  signal l{k}_done   : std_logic;",
        ]
        if k < last:
            lines += [
                f"  signal l{k}_y_en   : std_logic;",
                f"  signal l{k}_y_addr : std_logic_vector({pkg}.OUT_ADDR_BITS_c - 1 downto 0);",
                f"  signal l{k}_y_data : std_logic_vector({pkg}.ACT_BITS_c - 1 downto 0);",
            ]
    lines.append("begin")
    for k in range(n_layers):
        if k == 0:
            x = "x_en => x_en, x_addr => x_addr, x_data => x_data"
            go = "start"
        else:
            x = f"x_en => l{k-1}_y_en, x_addr => l{k-1}_y_addr, x_data => l{k-1}_y_data"
            go = f"l{k-1}_done"
        out = (f"y_en => l{k}_y_en, y_addr => l{k}_y_addr, y_data => l{k}_y_data"
               if k < last else "logits => logits")
        lines += [
            f"  i_l{k}_weights : entity work.{name}_l{k}_weights",
            f"    port map (clk => clk, addr => l{k}_w_addr, dout => l{k}_w_data);",
            f"  i_l{k}_layer : entity work.{name}_l{k}_layer",
            # docs/vivado_block_design.md: X_LATENCY 2 after the input memory (its output
            # register on), 13 after a hidden layer's activation port
            f"    generic map (X_LATENCY => {2 if k == 0 else 13}, EXTERNAL_WEIGHTS => true)",
            f"    port map (clk => clk, rst => rst, start => {go}, busy => open, "
            f"done => l{k}_done,",
            f"              {x},",
            f"              w_addr => l{k}_w_addr, w_data => l{k}_w_data,",
            f"              {out});",
        ]
    lines += [f"  done <= l{last}_done;", "end architecture wiring;", ""]
    return "\n".join(lines)


def read_input_coe(path: Path) -> list[int]:
    """Words of a test-input .coe (radix 16), as a Block Memory Generator would load them."""
    text = path.read_text()
    assert "memory_initialization_radix=16;" in text
    body = text.split("memory_initialization_vector=")[1].strip().rstrip(";")
    return [int(w, 16) for w in body.replace("\n", "").split(",")]


async def block_ram(dut, memory: list[int]) -> None:
    """A Block Memory Generator port answering x_en/x_addr with read latency 2 (Primitives
    Output Register on): the RAM's read register, then the output register."""
    read = 0
    while True:
        await RisingEdge(dut.clk)
        dut.x_data.value = read  # the output register takes what the RAM read last clock
        if dut.x_en.value == 1:
            read = memory[dut.x_addr.value.to_unsigned()]


if cocotb is not None:

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def lab_path_with_test_input_coe(dut):
        d = cs.load_design()
        name = d.report["name"]
        coes = sorted((d.folder / "coe").glob(f"{name}_input_*.coe"))
        assert len(coes) >= 3, f"test-input .coe files missing in {d.folder / 'coe'}"
        images = np.array([read_input_coe(p) for p in coes], dtype=np.int64)
        assert images.shape[1] == d.n_inputs
        logits_ref, _ = d.reference(images)
        bits = d.report["layers"][-1]["acc_bits"]
        dut.rst.value = 1
        dut.start.value = 0
        dut.x_data.value = 0
        await Timer(1, unit="ns")
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        memory: list[int] = []
        cocotb.start_soon(block_ram(dut, memory))
        for k, (coe, ref) in enumerate(zip(coes, logits_ref)):
            memory[:] = images[k].tolist()  # the user re-initialises the memory per image
            dut.start.value = 1
            await RisingEdge(dut.clk)
            dut.start.value = 0
            for _ in range(4 * d.latency):
                await RisingEdge(dut.clk)
                if dut.done.value == 1:
                    break
            else:
                raise AssertionError(f"{coe.name}: no done")
            word = dut.logits.value.to_unsigned()
            got = [cs.to_signed(word >> (j * bits), bits) for j in range(d.n_outputs)]
            assert got == [int(v) for v in ref], f"{coe.name}: logits {got}, expected {list(ref)}"


needs_sim = pytest.mark.skipif(cs.GHDL is None or cocotb is None,
                               reason="needs GHDL and cocotb")


@needs_sim
# (not the SIMD designs: their layer 0 reads several codes per clock, which the lab's
# one-code Block Memory Generator does not give)
@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(k for k in cs.FOLDED
                                                             if "simd" not in cs.FOLDED[k][2]))
def test_lab_wiring(key, tmp_path):
    design = cs.make_design(tmp_path, key)
    n_layers = len({**cs.NETWORKS, **cs.FOLDED}[key][0]) - 1
    harness = tmp_path / f"{LAB_ENTITY}.vhd"
    harness.write_text(lab_wiring(key, n_layers))
    cs.run_cocotb(design, LAB_ENTITY, "test_cocotb_lab", tmp_path / "sim",
                  extra_sources=[harness])
