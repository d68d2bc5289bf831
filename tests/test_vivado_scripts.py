"""The Vivado build script every design gets (vivado/build.tcl) and its out-of-context
constraints, run in Debian's tclsh with Vivado's commands replaced by checking stand-ins
(tests/vivado_stub.tcl): each command and option as UG835 documents it, each IP and user
parameter from a list (AXI DMA 7.1: PG021), each pin and interface of the block design
cells, the network's own read from its VHDL. No Vivado runs here; this proves the script
is well-formed Tcl that calls only what exists, connects the network's real ports, and
takes the design's stream widths and clock.

    python3 -m pytest tests/test_vivado_scripts.py
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import generator  # noqa: E402
from examples import random_float_model  # noqa: E402

STUB = Path(__file__).resolve().parent / "vivado_stub.tcl"
TCLSH = shutil.which("tclsh")
pytestmark = pytest.mark.skipif(TCLSH is None, reason="needs tclsh (Debian: apt-get install tcl)")


def make(tmp_path: Path, topology=(5, 3, 2), name: str = "net", **opts) -> Path:
    g = generator.generate(random_float_model(list(topology), 1), out=tmp_path / name,
                           name=name, vectors=generator.default_vectors(topology[0], 8, 4),
                           opts=generator.Options(**opts), log=lambda *_: None)
    return g.out


def module_file(design: Path, dest: Path) -> Path:
    """Every entity of the design as the stand-ins' MODULES file: its ports, interfaces and
    generics read from its VHDL (ports in the entity's port clause; an interface per
    X_INTERFACE_INFO bus name, whose ports are then not pins of their own)."""
    lines = []
    for path in sorted(design.glob("*.vhd")):
        text = path.read_text()
        for entity in re.findall(r"^entity (\w+) is", text, re.M):
            head = text[text.index(f"entity {entity} is"):text.index(f"end entity {entity}")]
            generics = re.findall(r"^\s*(\w+)\s*:\s*(?:positive|natural|integer|boolean)\b",
                                  head.split("port (")[0], re.M)
            ports = re.findall(r"^\s*(\w+)\s*:\s*(?:in|out|inout)\s", head, re.M)
            buses = re.findall(r'X_INTERFACE_INFO of (\w+)\s*: signal is "xilinx\.com:'
                               r'interface:[\w.:]+ (\w+) ', head)
            in_bus = {port for port, _ in buses}
            interfaces = sorted({bus for _, bus in buses})
            pins = [p for p in ports if p not in in_bus]
            lines += [f"set module_pins({entity}) {{{' '.join(pins)}}}",
                      f"set module_intf({entity}) {{{' '.join(interfaces)}}}",
                      f"set module_generics({entity}) {{{' '.join(generics)}}}"]
    dest.write_text("\n".join(lines) + "\n")
    return dest


def run_script(design: Path, cwd: Path, *args: str, boards: str | None = None,
               script: Path | None = None) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    """build.tcl (or script) under the stand-ins, in cwd; the result and the logged calls."""
    modules = module_file(design, cwd / "modules.tcl")
    log = cwd / "calls.log"
    env = dict(os.environ)
    if boards is not None:
        env["STUB_BOARDS"] = boards
    res = subprocess.run([TCLSH, str(STUB), str(log), str(modules),
                          str(script or design / "vivado" / "build.tcl"), *args],
                         cwd=cwd, capture_output=True, text=True, timeout=60, env=env)
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return res, calls


def tcl_list(text: str) -> list[str]:
    """The elements of a Tcl list of words and {braced} words (what the scripts pass in
    -dict and -config; no quotes or backslashes there)."""
    words, depth, word = [], 0, ""
    for ch in text:
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                words.append(word)
                word = ""
                continue
        if ch.isspace() and depth == 0:
            if word:
                words.append(word)
            word = ""
        else:
            word += ch
    assert depth == 0, f"unbalanced braces in {text!r}"
    return words + ([word] if word else [])


def find(calls: list[list[str]], command: str) -> list[list[str]]:
    return [c for c in calls if c[0] == command]


def dict_of(words: list[str], option: str) -> dict[str, str]:
    """A `-dict {k v ...}` or `-config {...}` value as a dict."""
    return dict(zip(*[iter(tcl_list(words[words.index(option) + 1]))] * 2))


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("vivado"))


def test_block_design_connects_the_network_to_the_dma(design, tmp_path):
    """Default: a PYNQ-Z2 project, the processing system with the board preset, the DMA
    with the design's stream widths, the network as a module reference on both streams,
    its clock and reset, validated, the wrapper on top; no synthesis."""
    res, calls = run_script(design, tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads((design / "report.json").read_text())
    project = find(calls, "create_project")[0]
    assert project[project.index("-part") + 1] == "xc7z020clg400-1"
    assert ["set_property", "board_part", "tul.com.tw:pynq-z2:part0:1.0", "stub_project"] in calls
    added = tcl_list(find(calls, "add_files")[0][-1])
    assert sorted(Path(f).name for f in added) == sorted(
        f for f in report["files"] if f.endswith(".vhd") and "/" not in f)
    assert all(Path(f).resolve().is_file() for f in added)
    assert ["create_bd_cell", "-type", "module", "-reference", "net_axis", "net_axis_0"] in calls
    dma = next(dict_of(c, "-dict") for c in find(calls, "set_property")
               if c[-1] == "axi_dma_0")
    assert dma["CONFIG.c_include_sg"] == "0"
    assert int(dma["CONFIG.c_m_axis_mm2s_tdata_width"]) == report["axis"]["s_axis_bits"] == 8
    assert int(dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == report["axis"]["m_axis_bits"] == 32
    ps = next(dict_of(c, "-dict") for c in find(calls, "set_property") if c[-1] == "ps7")
    assert ps == {"CONFIG.PCW_USE_S_AXI_HP0": "1", "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ": "100"}
    preset = dict_of(find(calls, "apply_bd_automation")[0], "-config")
    assert preset["apply_board_preset"] == "1"
    nets = find(calls, "connect_bd_intf_net")
    assert ["connect_bd_intf_net", "axi_dma_0/M_AXIS_MM2S", "net_axis_0/s_axis"] in nets
    assert ["connect_bd_intf_net", "net_axis_0/m_axis", "axi_dma_0/S_AXIS_S2MM"] in nets
    wires = [c[1:] for c in find(calls, "connect_bd_net")]
    assert any("ps7/FCLK_CLK0" in w and "net_axis_0/aclk" in w for w in wires)
    assert any("rst_net/peripheral_aresetn" in w and "net_axis_0/aresetn" in w for w in wires)
    masters = {dict_of(c, "-config")["Master"] for c in find(calls, "apply_bd_automation")[1:]}
    assert masters == {"/ps7/M_AXI_GP0", "/axi_dma_0/M_AXI_MM2S", "/axi_dma_0/M_AXI_S2MM"}
    order = [c[0] for c in calls]
    assert order.index("validate_bd_design") < order.index("make_wrapper")
    assert ["set_property", "top", "net_bd_wrapper", "sources_1"] in calls
    assert not find(calls, "launch_runs") and not find(calls, "synth_design")


def test_impl_writes_bitstream_handoff_and_platform(design, tmp_path):
    res, calls = run_script(design, tmp_path, "--impl", "--jobs", "4")
    assert res.returncode == 0, res.stderr
    assert ["launch_runs", "impl_1", "-to_step", "write_bitstream", "-jobs", "4"] in calls
    copies = [c[-1] for c in find(calls, "file")]
    assert [Path(c).name for c in copies] == ["net.bit", "net.hwh"]
    assert all(Path(c).parent == tmp_path / "net_vivado" for c in copies)
    assert find(calls, "write_hw_platform")[0][-1] == str(tmp_path / "net_vivado" / "net.xsa")


def test_no_board_another_device_and_another_folder(design, tmp_path):
    res, calls = run_script(design, tmp_path, "--no-board", "--part", "xc7z020clg484-1",
                            "--dir", "elsewhere/p")
    assert res.returncode == 0, res.stderr
    assert not [c for c in find(calls, "set_property") if "board_part" in c]
    project = find(calls, "create_project")[0]
    assert project[project.index("-part") + 1] == "xc7z020clg484-1"
    assert dict_of(find(calls, "apply_bd_automation")[0], "-config")["apply_board_preset"] == "0"
    assert find(calls, "create_project")[0][2] == str(tmp_path / "elsewhere" / "p")


def test_missing_board_files_stop_with_what_to_do(design, tmp_path):
    res, calls = run_script(design, tmp_path, boards="")
    assert res.returncode != 0
    assert "tul.com.tw:pynq-z2:part0:1.0 is not installed" in res.stderr
    assert "--no-board" in res.stderr
    assert not find(calls, "create_bd_design")


def test_an_existing_project_folder_is_kept(design, tmp_path):
    (tmp_path / "net_vivado").mkdir()
    (tmp_path / "net_vivado" / "mine.txt").write_text("the user's")
    res, calls = run_script(design, tmp_path)
    assert res.returncode != 0 and "--force" in res.stderr
    assert not calls and (tmp_path / "net_vivado" / "mine.txt").read_text() == "the user's"
    res, calls = run_script(design, tmp_path, "--force")
    assert res.returncode == 0, res.stderr


def test_out_of_context_build_with_the_clock_constraint(tmp_path):
    """--ooc: the core alone, non-project mode, the .xdc's clock = --clock-mhz; the .xdc
    itself runs under the stand-ins too."""
    design = make(tmp_path, clock_mhz=125.0)
    res, calls = run_script(design, tmp_path, "--ooc", "--impl")
    assert res.returncode == 0, res.stderr
    synth = find(calls, "synth_design")[0]
    assert synth[synth.index("-top") + 1] == "net_axis"
    assert synth[synth.index("-mode") + 1] == "out_of_context"
    assert [c[0] for c in calls if c[0].endswith("_design")] == [
        "synth_design", "opt_design", "place_design", "route_design"]
    xdc = find(calls, "read_xdc")[0][-1]
    assert Path(xdc).name == "net_axis_ooc.xdc"
    res, calls = run_script(design, tmp_path, script=Path(xdc))
    assert res.returncode == 0, res.stderr
    assert calls == [["get_ports", "aclk"],
                     ["create_clock", "-period", "8.000", "-name", "aclk", "aclk"]]


def test_artix_part_builds_the_core_alone(tmp_path):
    """No processing system on an Artix-7: the block design is refused with what to do;
    --ooc works for its device."""
    design = make(tmp_path, part="xc7a100t")
    res, calls = run_script(design, tmp_path)
    assert res.returncode != 0 and "run with --ooc" in res.stderr and not calls
    res, calls = run_script(design, tmp_path, "--ooc", "--force")
    assert res.returncode == 0, res.stderr
    synth = find(calls, "synth_design")[0]
    assert synth[synth.index("-part") + 1] == "xc7a100tcsg324-1"


def test_no_vivado_script_for_an_ecp5_design(tmp_path):
    design = make(tmp_path, part="lfe5u-85f")
    assert not (design / "vivado").exists()


def test_wide_input_words_take_a_dma_stream_width(tmp_path):
    """Three 8-bit codes per beat (--simd 3): 24 bits, streamed as 32 (an AXI DMA's stream
    is 8, 16, 32, ... bits wide)."""
    design = make(tmp_path, topology=(12, 4, 3), simd=[3, 1])
    report = json.loads((design / "report.json").read_text())
    assert report["axis"]["s_axis_bits"] == 32
    res, calls = run_script(design, tmp_path)
    assert res.returncode == 0, res.stderr
    dma = next(dict_of(c, "-dict") for c in find(calls, "set_property") if c[-1] == "axi_dma_0")
    assert dma["CONFIG.c_m_axis_mm2s_tdata_width"] == "32"


@pytest.mark.parametrize("change, complaint", [
    (("${name}_axis_0/s_axis]", "${name}_axis_0/s_axi]"), "has no interface 's_axi'"),
    (("CONFIG.c_include_sg", "CONFIG.c_include_sgx"), "has no user parameter c_include_sgx"),
    (("assign_bd_address", "assign_bd_addresses"), "'assign_bd_addresses' is neither"),
    (("launch_runs impl_1 -to_step", "launch_runs impl_1 -upto_step"), "option -upto_step"),
    (("axi_dma:7.1", "axi_dma:7.2"), "IP xilinx.com:ip:axi_dma:7.2 is not in the list"),
    (("-reference ${name}_axis", "-reference ${name}_top"), "(module:net_top) has no interface"),
    (("-reference ${name}_axis", "-reference ${name}_axi"), "no module 'net_axi'"),
])
def test_the_stand_ins_catch_a_wrong_script(design, tmp_path, change, complaint):
    """The check can fail: one wrong name in a copy of the script stops it."""
    text = (design / "vivado" / "build.tcl").read_text()
    assert change[0] in text
    script = tmp_path / "vivado" / "build.tcl"
    script.parent.mkdir()
    script.write_text(text.replace(change[0], change[1], 1))
    res, _ = run_script(design, tmp_path, "--impl", script=script)
    assert res.returncode != 0
    assert complaint in res.stderr, res.stderr


GHDL = shutil.which("ghdl")


@pytest.mark.skipif(GHDL is None, reason="needs GHDL")
def test_debug_probes_mark_the_signals_and_the_stream_nets(tmp_path):
    """--debug-probes (on the command line): mark_debug on the core's start, done and class,
    the stream handshakes and each layer's done; the files still analyse as VHDL-93 and
    -2008; build.tcl marks the two stream nets; without the option nothing is marked."""
    import numpy as np
    from examples import random_float_model as model
    m = model([5, 3, 2], 1)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1])
    res = subprocess.run([sys.executable, str(ROOT / "vhdl_generator.py"), str(tmp_path / "net.npz"),
                          "--out", str(tmp_path / "d"), "--name", "net", "--debug-probes"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    design = tmp_path / "d"
    axis = (design / "net_axis.vhd").read_text()
    assert re.search(r"attribute mark_debug of core_start, core_done, class_out, s_ready, "
                     r"s_beat, m_valid, m_beat,\s+error_r : signal is \"true\";", axis)
    assert 'attribute mark_debug of l0_done, l1_done : signal is "true";' in (
        design / "net_core.vhd").read_text()
    assert json.loads((design / "report.json").read_text())["debug_probes"] is True
    import estimate
    files = [str(f) for f in estimate.synthesizable_files(design)]
    for std in ("93c", "08"):
        work = tmp_path / f"work{std}"
        work.mkdir()
        res = subprocess.run([GHDL, "-a", f"--std={std}", f"--workdir={work}", *files],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
    res, calls = run_script(design, tmp_path)
    assert res.returncode == 0, res.stderr
    marked = [c for c in find(calls, "set_property") if c[1] == "HDL_ATTRIBUTE.DEBUG"]
    assert [c[-1] for c in marked] == ["net_of_net_axis_0/s_axis", "net_of_net_axis_0/m_axis"]
    plain = make(tmp_path / "plain")
    assert "mark_debug" not in (plain / "net_axis.vhd").read_text()
    assert "HDL_ATTRIBUTE.DEBUG" not in (plain / "vivado" / "build.tcl").read_text()


def test_lab_script_wires_the_layers_the_image_rom_and_the_vio(design, tmp_path):
    """vivado/lab.tcl: the lab path of docs/vivado_block_design.md (A) as the cocotb lab
    bench wires it (tests/test_cocotb_lab.py): ROM -> layer 0 -> layer 1, each layer with
    its weights memory, X_LATENCY 2 for layer 0 and the read port's latency after it, the
    VIO on start, done and the logits."""
    report = json.loads((design / "report.json").read_text())
    res, calls = run_script(design, tmp_path, "--image", "3", script=design / "vivado" / "lab.tcl")
    assert res.returncode == 0, res.stderr
    rom = next(dict_of(c, "-dict") for c in find(calls, "set_property") if c[-1] == "test_image")
    assert rom["CONFIG.Memory_Type"] == "Single_Port_ROM"
    assert rom["CONFIG.Register_PortA_Output_of_Memory_Primitives"] == "true"
    assert int(rom["CONFIG.Write_Depth_A"]) == 5 and int(rom["CONFIG.Read_Width_A"]) == 8
    assert Path(rom["CONFIG.Coe_File"]) == (design / "coe" / "net_input_0003.coe").resolve()
    generics = {c[-1]: dict_of(c, "-dict") for c in find(calls, "set_property")
                if c[-1].endswith("_layer")}
    assert generics == {
        "l0_layer": {"CONFIG.EXTERNAL_WEIGHTS": "true", "CONFIG.X_LATENCY": "2"},
        "l1_layer": {"CONFIG.EXTERNAL_WEIGHTS": "true",
                     "CONFIG.X_LATENCY": str(report["layers"][1]["x_latency"])}}
    wires = [c[1:] for c in find(calls, "connect_bd_net")]
    for pair in (["l0_layer/x_en", "test_image/ena"], ["l0_layer/x_addr", "test_image/addra"],
                 ["test_image/douta", "l0_layer/x_data"], ["l0_layer/done", "l1_layer/start"],
                 ["l1_layer/x_en", "l0_layer/y_en"], ["l1_layer/x_addr", "l0_layer/y_addr"],
                 ["l0_layer/y_data", "l1_layer/x_data"], ["l1_layer/w_addr", "l1_weights/addr"],
                 ["l1_weights/dout", "l1_layer/w_data"], ["vio/probe_out0", "l0_layer/start"],
                 ["l1_layer/done", "vio/probe_in0"], ["l1_layer/logits", "vio/probe_in1"]):
        assert pair in wires, pair
    vio = next(dict_of(c, "-dict") for c in find(calls, "set_property") if c[-1] == "vio")
    assert int(vio["CONFIG.C_PROBE_IN1_WIDTH"]) == 2 * report["layers"][1]["acc_bits"]
    res, _ = run_script(design, tmp_path, "--image", "42", "--force",
                        script=design / "vivado" / "lab.tcl")
    assert res.returncode != 0 and "net_input_0042.coe not found" in res.stderr


def test_lab_script_finds_the_coe_folder_of_a_default_output(design, tmp_path):
    """Without --out the generator puts the VHDL in hdl/generated/<name>/ and the .coe in
    coe/<name>/: lab.tcl finds them there too."""
    hdl = tmp_path / "hdl" / "generated" / "net"
    shutil.copytree(design, hdl, ignore=shutil.ignore_patterns("coe"))
    shutil.copytree(design / "coe", tmp_path / "coe" / "net")
    res, calls = run_script(hdl, tmp_path, script=hdl / "vivado" / "lab.tcl")
    assert res.returncode == 0, res.stderr
    rom = next(dict_of(c, "-dict") for c in find(calls, "set_property") if c[-1] == "test_image")
    assert Path(rom["CONFIG.Coe_File"]) == (tmp_path / "coe" / "net" / "net_input_0000.coe")


def test_no_lab_script_for_layers_in_flight(tmp_path):
    design = make(tmp_path, in_flight=True)
    assert (design / "vivado" / "build.tcl").exists()
    assert not (design / "vivado" / "lab.tcl").exists()


def test_the_stand_ins_catch_a_wrong_generic(design, tmp_path):
    script = tmp_path / "vivado" / "lab.tcl"
    script.parent.mkdir()
    script.write_text((design / "vivado" / "lab.tcl").read_text().replace(
        "CONFIG.X_LATENCY", "CONFIG.X_LATENCYY", 1))
    shutil.copytree(design / "coe", tmp_path / "coe")
    res, _ = run_script(design, tmp_path, script=script)
    assert res.returncode != 0 and "has no user parameter X_LATENCYY" in res.stderr, res.stderr
