"""--fold auto and --target-fps (issue 15 item 3): the tool chooses the lanes per layer
(PE) and the first layer's inputs per clock (SIMD), layers in flight. The choices are
worked out here by hand from the rules in hardware_plan.py (a layer of n_in inputs taking
S per clock in p passes holds an image p x ceil(n_in / S) + its read latency (2, or 13
after a hidden layer) + 6 clocks (+ 1 with S > 1), + 2 after the first layer; for given
clocks each layer takes the fewest multipliers, lanes x S, a tie going to the smaller S;
DSP blocks: the part's, less the requantizers' 2; LUT multipliers: 2 LUT per weight bit x
input bit, within half the part's LUTs; on a Xilinx part a layer whose multipliers do
not all fit the DSP blocks left pairs its lanes, two per block, each pair costing a LUT
per product bit), and chosen folds are simulated: bit-exact, the interval through the
AXI4-Stream bench equal to the predicted one."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hardware_plan as hp  # noqa: E402
import quantization_functions as qf  # noqa: E402
from examples import random_float_model  # noqa: E402
from test_fold import run_benches  # noqa: E402


def ones_model(topology: list[int], weight_bits: int = 8) -> qf.QuantizedModel:
    """An integer model of the shape (the fold depends on shapes and widths only)."""
    n = len(topology) - 1
    return qf.QuantizedModel(
        input_bits=8, weight_bits=weight_bits, act_bits=8, encoding="integer",
        W=[np.ones((topology[l + 1], topology[l]), np.int64) for l in range(n)],
        b=[np.zeros(topology[l + 1], np.int64) for l in range(n)],
        M=[np.ones(k, np.int64) for k in topology[1:-1]],
        S=[np.zeros(k, np.int64) for k in topology[1:-1]])


def test_fastest_fold_that_fits_by_hand():
    # 784 -> 256 -> 10 on xc7z020: one pass over the pixels needs 256 lanes (1 + 784 + 9 = 794
    # clocks: layers in flight, layer 0 takes its start through a register and reads the
    # input 3 clocks after the address), the part's 220 DSP blocks less the requantizer's 2 take 218 of them, the
    # other 38 + layer 1's lanes go to LUTs (128 LUT each at 8 x 8 bits, far below half of
    # 53,200). Layer 1 (p passes: 256 p + 13 + 6 + 2 clocks) may then take up to 794
    # clocks: (794 - 277) // 256 + 1 = 3 passes, ceil(10 / 3) = 4 lanes.
    # one input per clock (max_simd 1), one multiplier per DSP block (dsp_pairs False)
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", max_simd=1, dsp_pairs=False)
    assert (c.pe, c.simd, c.interval) == ([256, 4], [1, 1], 794)
    assert (c.dsp_macs, c.lut_macs, c.lut_mult_luts) == (218, 42, 42 * 128)
    assert c.limit == ""  # nothing faster exists with one input per clock
    # xc7z010 (80 DSP48E1, 17,600 LUT): 256 lanes would need 256 + lanes of layer 1 - 78
    # LUT multipliers, far beyond 8,800 LUT; two passes: 128 lanes (1 + 2 x 784 + 9 = 1578),
    # layer 1 (1578 - 277) // 256 + 1 = 6 passes, 2 lanes (5 passes: 5 x 256 + 19 = 1299).
    # Layer 0 starts early: every 1 + 2 x 784 + 1 = 1570 clocks (layer 1 is ready in time:
    # 1578 + 1299 + 2 <= 2 x 1570). [256, 4] above does not: 794 + 787 + 2 > 2 x 789 (layer
    # 1's 3 x 256 + 19 + 2), its intervals would alternate; it stays at 794.
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z010", max_simd=1, dsp_pairs=False)
    assert (c.pe, c.interval) == ([128, 2], 1570)
    assert (c.dsp_macs, c.lut_macs) == (78, 52)
    assert "more than 50% of the 17,600" in c.limit
    # a DSP budget is respected: 100 blocks, 98 for lanes; [256, 4] would need 162 LUT
    # multipliers = 20,736 LUT, within 26,600, so the fold stays
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", dsp_budget=100, max_simd=1,
                       dsp_pairs=False)
    assert (c.pe, c.dsp_macs, c.lut_macs) == ([256, 4], 98, 162)


def test_dsp_pairs_by_hand():
    """Two lanes per DSP48E1 (hdl/dsp_mult_pairs.vhd), the default on a Xilinx part.
    784 -> 256 -> 10 on xc7z020, one input per clock: layer 0's 256 lanes exceed the 218
    blocks, so they pair: 128 blocks; layer 1's 4 lanes fit the 90 left one per block (no
    pairing where the blocks suffice): 260 multipliers in 132 blocks, none in LUTs, 128 x
    16 LUT of splitting adders. Without the SIMD limit: 256 lanes x 2 inputs per clock, 1 +
    392 groups + 3 + 6 + 1 = 403 clocks, an image every 394 (it starts early: 1 + 392 + 1,
    layer 1 ready in time: 403 + 275 + 2 <= 2 x 394); 218 blocks hold 218 lanes' 436
    multipliers, the other 38 lanes' 76 and layer 1's (403 - 277) // 256 + 1 = 1 pass, 10
    lanes, go to LUTs: 86 x
    128 + 256 SIMD adders x 17 + 109 pairs x 2 x 16 = 18,848 LUT."""
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", max_simd=1)
    assert (c.pe, c.simd, c.interval, c.dsp_pairs) == ([256, 4], [1, 1], 794, True)
    assert (c.dsp_macs, c.dsp_blocks, c.lut_macs, c.lut_mult_luts) == (260, 132, 0, 128 * 16)
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020")
    assert (c.pe, c.simd, c.interval) == ([256, 10], [2, 1], 394)
    assert (c.dsp_macs, c.dsp_blocks, c.lut_macs) == (436, 218, 86)
    assert c.lut_mult_luts == 86 * 128 + 256 * 17 + 109 * 2 * 16 == 18848
    # 12-bit weights: two products do not fit one block (2 x 12 + 8 + 1 > 25): no pairs
    assert not hp.pairs_fit(12, 8) and hp.pairs_fit(8, 8) and hp.pairs_fit(4, 12)
    c12 = hp.choose_fold(ones_model([784, 256, 10], 12), "xc7z020", max_simd=1)
    assert c12.dsp_blocks == c12.dsp_macs
    # an ECP5's MULT18X18D is too narrow: never paired there
    assert hp.choose_fold(ones_model([784, 256, 10]), "lfe5u-85f").dsp_pairs is False


def test_fastest_fold_with_simd_by_hand():
    """100 -> 13 -> 7 -> 10 on xc7z020: layer 1 cannot take less than 13 + 13 + 6 + 2 = 34
    clocks, layer 2 7 + 21 = 28; layer 0 in 34 clocks, 1 + p passes of ceil(100 / S) groups
    + 3 + 6 + 1 clocks: one pass needs S >= 5 (20 groups, 31 clocks) with its 13 lanes, 65
    multipliers, the fewest (two passes 11 groups at most, S >= 10, 7 lanes, 70; three
    passes: 7 groups, S >= 15, 5 lanes, 75; four: 5 groups, S >= 20, 4 lanes, 80). DSP
    blocks all: 65 + 7 + 10 = 82 of 218. The interval: 34 (layer 1)."""
    c = hp.choose_fold(ones_model([100, 13, 7, 10]), "xc7z020")
    assert (c.pe, c.simd, c.interval, c.dsp_macs, c.lut_macs) == (
        [13, 7, 10], [5, 1, 1], 34, 82, 0)


def test_cheapest_fold_that_reaches_a_target_by_hand():
    # 50,000 inferences/s at 100 MHz: 2000 clocks per image at most. Layer 0: (2000 - 793)
    # // 784 + 1 = 2 passes, 128 lanes (1577 clocks); layer 1: (2000 - 277) // 256 + 1 = 7
    # passes, ceil(10 / 7) = 2 lanes (5 passes: 1301 clocks). Interval: the slower, layer
    # 0, which starts early (as on xc7z010 above): 1570. (The search counts each layer's
    # clocks without the early start: the fold may come out faster than asked.)
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", target_interval=2000,
                       max_simd=1, dsp_pairs=False)
    assert (c.pe, c.interval, c.target_interval) == ([128, 2], 1570, 2000)
    # up to 4 inputs per clock: layer 0 in 2000 clocks with S = 1: 128 lanes (128
    # multipliers); S = 2: 392 groups, (2000 - 402) // 392 + 1 = 5 passes, 52 lanes (104);
    # S = 3: 262 groups, (2000 - 272) // 262 + 1 = 7 passes, 37 lanes (111); S = 4: 196
    # groups, (2000 - 206) // 196 + 1 = 10 passes, 26 lanes (104, a tie: S = 2 stays).
    # 1 + 5 passes x 392 + 10 = 1971 clocks, early start: 1 + 1960 + 1 = 1962; layer 1 as above
    c = hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", target_interval=2000,
                       max_simd=4, dsp_pairs=False)
    assert (c.pe, c.simd, c.interval, c.multipliers) == ([52, 2], [2, 1], 1962, 106)
    with pytest.raises(ValueError, match="no fold takes 100 clocks per image or fewer"):
        hp.choose_fold(ones_model([784, 256, 10]), "xc7z020", target_interval=100)
    # 784 -> 1024 -> 10 int8: the weights alone need more block RAM than the part has
    with pytest.raises(ValueError, match=r"no fold fits xc7z020: .*RAMB18 of 280"):
        hp.choose_fold(ones_model([784, 1024, 10]), "xc7z020")


def test_generated_auto_fold_is_bit_exact_at_its_interval(tmp_path):
    """100 -> 13 -> 7 -> 10 asked for 297,000 inferences/s at 100 MHz (336 clocks at most;
    layers in flight: layer 0 takes its start through a register and reads its input 3
    clocks after the address, 1 + 3 + 6 clocks, + 1 to add the SIMD products).
    Layer 0: S = 1: (336 - 10) // 100 = 3 passes, 5 lanes (5 multipliers); S = 2: 50
    groups, (336 - 11) // 50 = 6 passes, 3 lanes (6); S = 3: 34 groups, 9 passes, 2
    lanes (6); S = 4: 25 groups, (336 - 11) // 25 = 13 passes: 1 lane (4: the fewest;
    S = 5 and up: 1 lane, 5 and more): 1 + 13 x 25 + 10 = 336 clocks. Layer 1: (336 - 21)
    // 13 = 24 passes: 1 lane (7 x 13 + 19 = 110, + 2); layer 2 1 lane (10 x 7 + 19 = 89,
    + 2). Layers 0 and 1 start early (sweeps 325 and 91): layer 0 every 1 + 325 + 1 = 327
    clocks, layer 1 91 + 1 + 2 = 94, layer 2 91; every pair has its time (336 + 92 + 2 and
    110 + 2 + 89 + 2 <= 2 x 327). Every bench passes, the AXI4-Stream one with 4 codes per
    beat (25 beats) at 327 clocks per image. (At 298,000, 335 clocks, S = 4 would need 12
    passes, 2 lanes: S = 1's 5 lanes and S = 5's 1 lane tie at 5 multipliers, and the fewer
    inputs per clock, S = 1, is taken.)"""
    m = random_float_model([100, 13, 7, 10], 7)
    np.savez(tmp_path / "net.npz", **{f"W{l}": w for l, w in enumerate(m.W)},
             **{f"b{l}": b for l, b in enumerate(m.b)})
    r = subprocess.run([sys.executable, "vhdl_generator.py", str(tmp_path / "net.npz"),
                        "--out", str(tmp_path / "d"), "--target-fps", "297000"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert ("fold --target-fps: lanes 1,1,1, inputs per clock 4,1,1, layers in flight, one "
            "image every 327 clocks") in r.stdout
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert report["in_flight"] is True and report["interval_cycles"] == 327
    assert [x["early_start"] for x in report["layers"]] == [True, True, False]
    assert report["fold"]["pe"] == [1, 1, 1] and report["fold"]["mode"] == "target-fps"
    assert [(x["passes"], x["simd"]) for x in report["layers"]] == [(13, 4), (7, 1), (10, 1)]
    assert report["axis"]["s_axis_bits"] == 32  # 4 codes of 8 bits per beat
    sim = run_benches({"net": tmp_path / "d"}, tmp_path / "vo")
    assert sim.returncode == 0, sim.stdout[-4000:]
    passed = set(re.findall(r"^pass .*?lib_net\.(tb_\w+)\.(\w+)", sim.stdout, re.M))
    assert {("tb_net", "test_all_vectors"), ("tb_net_axis", "test_back_to_back")} <= passed


def test_fold_auto_errors_on_the_command_line(tmp_path):
    m = random_float_model([20, 6, 3], 1)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1])
    for args, named in ((["--fold", "auto", "--pe", "2"], "leave out --pe and --simd"),
                        (["--target-fps", "0"], "--target-fps must be a positive number"),
                        (["--target-fps", "1e9"], "no fold takes 0 clocks per image"),
                        (["--fold", "fast"], "invalid choice: 'fast'"),
                        (["--dsp-pairs", "--part", "lfe5u-85f"], "too narrow for two products")):
        bad = subprocess.run([sys.executable, "vhdl_generator.py", str(tmp_path / "net.npz"),
                              "--out", str(tmp_path / "b"), *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
        assert named in bad.stderr.strip().splitlines()[-1], bad.stderr
        assert not (tmp_path / "b").exists()


def test_ecp5_part_keeps_every_multiplier_in_its_blocks():
    """--part lfe5u-85f (156 MULT18X18D, 208 DP16KD): no LUT multipliers in an automatic
    fold (they did not route there, docs/timing.md). 784 -> 256 -> 10 one input per clock:
    one pass over the pixels would need 256 + lanes of layer 1 > 154 multipliers; two
    passes: 128 lanes and layer 1's 2 (as on xc7z010), 130 MULT18X18D. An automatic fold
    takes one input per clock on an ECP5 (hardware_plan.AUTO_MAX_SIMD_ECP5: the SIMD-4 fold
    did not route there), so that is its choice too. With SIMD allowed it would take 4
    inputs per clock: 196 groups, 7 passes, 37 lanes (1 + 7 x 196 + 10 = 1383 clocks), 148
    multipliers, and layer 1's 5 passes, 2 lanes (5 x 256 + 19 + 2 = 1301): 150; layer 0
    then starts early, every 1 + 7 x 196 + 1 = 1374 clocks. Without: 1570 (1 + 1568 + 1)."""
    c = hp.choose_fold(ones_model([784, 256, 10]), "lfe5u-85f", max_simd=1)
    assert (c.pe, c.interval, c.dsp_macs, c.lut_macs) == ([128, 2], 1570, 130, 0)
    assert "no LUT multipliers on an ECP5" in c.limit
    c = hp.choose_fold(ones_model([784, 256, 10]), "lfe5u-85f")
    assert (c.pe, c.simd, c.interval, c.dsp_macs, c.lut_macs) == ([128, 2], [1, 1], 1570, 130, 0)
    c = hp.choose_fold(ones_model([784, 256, 10]), "lfe5u-85f", max_simd=16)
    assert (c.pe, c.simd, c.interval, c.dsp_macs, c.lut_macs) == ([37, 2], [4, 1], 1374, 150, 0)
    # place and route follows the part the design was made for
    import implement
    assert implement.part_for({"part": "lfe5u-45f"}, None) == "LFE5U-45F-6BG381C"
    assert implement.part_for({"part": "xc7z020"}, None) == implement.DEFAULT_ECP5
    assert implement.part_for({"part": "lfe5u-45f"}, "LFE5U-85F-6BG381C") == "LFE5U-85F-6BG381C"


def test_xilinx_estimate_refuses_an_ecp5_part(tmp_path):
    m = random_float_model([20, 3], 1)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0])
    r = subprocess.run([sys.executable, "vhdl_generator.py", str(tmp_path / "net.npz"),
                        "--out", str(tmp_path / "d"), "--part", "lfe5u-85f", "--estimate"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == ("error: --estimate maps to Xilinx 7-series cells, and --part "
                                "lfe5u-85f is a Lattice ECP5: use --implement")
    assert not (tmp_path / "d").exists()


def test_model_mode_measures_the_interval(tmp_path):
    """vunit_run.py --model ... --fold auto: R.npz holds the interval measured through the
    AXI4-Stream bench, images back to back: 34 clocks for 100 -> 13 -> 7 -> 10 on xc7z020
    (worked out in test_fastest_fold_with_simd_by_hand), equal results on both benches."""
    m = random_float_model([100, 13, 7, 10], 9)
    np.savez(tmp_path / "net.npz", **{f"W{l}": w for l, w in enumerate(m.W)},
             **{f"b{l}": b for l, b in enumerate(m.b)})
    X = np.random.default_rng(4).integers(0, 256, (12, 100)).astype(np.uint8)
    np.save(tmp_path / "X.npy", X)
    r = subprocess.run([sys.executable, "vunit_run.py", "--model", str(tmp_path / "net.npz"),
                        "--inputs", str(tmp_path / "X.npy"), "--results",
                        str(tmp_path / "R.npz"), "--fold", "auto"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert ("through the AXI4-Stream wrapper one image every 34 clocks (predicted 34); "
            "equal to the integer reference model: yes") in r.stdout
    with np.load(tmp_path / "R.npz") as R:
        assert int(R["interval"]) == 34 and bool(R["axis_equal"])
        assert R["axis_clocks"].shape == (12,) and set(R["axis_clocks"][1:].tolist()) == {34}
