"""Folding (issue 15, PE): a layer with fewer multiply-accumulate lanes than neurons computes
them in passes over its inputs. Every generated bench of folded designs (top level with the
cycle count, AXI4-Stream wrapper with the interval, weights memories and, for one layer,
the lab wiring through the weights memory) passes against the integer reference model,
on shapes where the lanes do not divide the neurons; the latencies are worked out here by
hand from the rule in hardware_plan.py: per layer passes x inputs + read latency (2, or 13
after a hidden layer) + 6 (+ 1 with SIMD above 1), + 1 in the first layer (it takes its
start through a register), plus the argmax's copy and one clock per class."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import generator as gen  # noqa: E402
from examples import random_float_model  # noqa: E402

GHDL = shutil.which("ghdl")
pytestmark = pytest.mark.skipif(GHDL is None, reason="GHDL is not installed")

# name, topology, options, latency by hand, passes by hand
CASES = [
    # 3 neurons in 1 lane: 3 passes; 2 in 1: 2 passes: (1+3*5+2+6) + (2*3+13+6) + (1+2)
    ("f532a", [5, 3, 2], dict(pe=[1]), 24 + 25 + 3, [3, 2]),
    # 2 lanes for 3 neurons (lane 1 idle in pass 2); the last layer has 2 neurons: one pass
    ("f532b", [5, 3, 2], dict(pe=[2]), (2 * 5 + 9) + (3 + 19) + 3, [2, 1]),
    ("f100a", [100, 13, 7, 10], dict(pe=[3]), (5 * 100 + 9) + (3 * 13 + 19)
     + (4 * 7 + 19) + 11, [5, 3, 4]),
    # one value per layer, 4 DSP lanes: the others multiply in LUTs
    ("f100b", [100, 13, 7, 10], dict(pe=[5, 1, 7], dsp_budget=4),
     (3 * 100 + 9) + (7 * 13 + 19) + (2 * 7 + 19) + 11, [3, 7, 2]),
    ("f100c", [100, 13, 7, 10], dict(pe=[4], weight_bits=4),
     (4 * 100 + 9) + (2 * 13 + 19) + (3 * 7 + 19) + 11, [4, 2, 3]),
    ("f100d", [100, 13, 7, 10], dict(pe=[2], weight_bits=12, encoding="fixed", frac_bits=10,
                                     dsp_budget=3),
     (7 * 100 + 9) + (4 * 13 + 19) + (5 * 7 + 19) + 11, [7, 4, 5]),
    ("f100e", [100, 13, 7, 10], dict(pe=[5], per_neuron_scale=True),
     (3 * 100 + 9) + (2 * 13 + 19) + (2 * 7 + 19) + 11, [3, 2, 2]),
    # 40 neurons in 16 lanes (8 idle in pass 3), read through the two-step select
    ("f2040", [20, 40, 3], dict(pe=[16]), (3 * 20 + 9) + (40 + 19) + 4, [3, 1]),
    # one layer: the lab wiring (weights memory + layer) is among its benches
    ("f78410", [784, 10], dict(pe=[3]), 4 * 784 + 9 + 11, [4]),
    # SIMD (first layer): ceil(n_in / S) groups per pass, one more stage (the products' sum)
    ("f532s", [5, 3, 2], dict(simd=[2, 1]), (1 + 3 + 2 + 6 + 1) + (3 + 19) + 3, [1, 1]),
    # S above the inputs: one group
    ("f532t", [5, 3, 2], dict(simd=[9, 1]), (1 + 1 + 9) + 22 + 3, [1, 1]),
    ("f100s", [100, 13, 7, 10], dict(simd=[3, 1, 1], pe=[4]),
     (4 * 34 + 10) + (2 * 13 + 19) + (3 * 7 + 19) + 11, [4, 2, 3]),
    # 16 inputs per clock, 3 lanes, a DSP budget of 20: one lane's 16 multipliers in DSP
    # blocks, the other two lanes' 32 in LUTs; the lab wiring again
    ("f784s", [784, 10], dict(simd=[16], pe=[3], dsp_budget=20), 4 * 49 + 10 + 11, [4]),
    # DSP pairs (two lanes per block), 4 blocks: layer 0's 5 lanes in 3 (the last one
    # single), layer 1's 3 lanes: 2 paired in the block left, 1 in LUTs; layer 2: LUTs
    ("f100p", [100, 13, 7, 10], dict(pe=[5, 3, 7], dsp_budget=4, dsp_pairs=True),
     (3 * 100 + 9) + (3 * 13 + 19) + (2 * 7 + 19) + 11, [3, 3, 2]),
    # 4-bit weights paired, 3 blocks: 4 lanes in 2, then 2 of layer 1's 4 in the third
    ("f100q", [100, 13, 7, 10], dict(pe=[4], weight_bits=4, dsp_budget=3, dsp_pairs=True),
     (4 * 100 + 9) + (2 * 13 + 19) + (3 * 7 + 19) + 11, [4, 2, 3]),
    # SIMD 4 and pairs, 5 blocks: 2 lanes x 4 inputs in 4 blocks, the third lane in LUTs;
    # the lab wiring again
    ("f784p", [784, 10], dict(simd=[4], pe=[3], dsp_budget=5, dsp_pairs=True),
     4 * 196 + 10 + 11, [4]),
]
# DSP blocks per layer by hand (the cases with DSP pairs)
PAIRED_BLOCKS = {"f100p": [(5, 3), (2, 1), (0, 0)], "f100q": [(4, 2), (2, 1), (0, 0)],
                 "f784p": [(8, 4)]}


@pytest.fixture(scope="module")
def folded(tmp_path_factory) -> dict[str, gen.Generated]:
    tmp = tmp_path_factory.mktemp("fold")
    designs = {}
    for k, (name, topology, opts, _, _) in enumerate(CASES):
        designs[name] = gen.generate(
            random_float_model(topology, 20 + k), out=tmp / name, name=name,
            vectors=gen.default_vectors(topology[0], 8, 12 if topology[0] < 784 else 6),
            opts=gen.Options(**opts), log=lambda *_: None)
    return designs


def run_benches(folders: dict[str, Path], out: Path) -> subprocess.CompletedProcess:
    """Every generated bench of the designs, in one VUnit run (vunit_run.add_network, as the
    main job runs them)."""
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from pathlib import Path\n"
              "import vunit_run\n"
              "vu = vunit_run.make_vunit(['-p', '2'], output_path=Path(%r))\n" % (str(ROOT), str(out)))
    for name, folder in folders.items():
        script += "vunit_run.add_network(vu, %r, Path(%r))\n" % (name, str(folder))
    script += "vu.main()\n"
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=1500)


def test_plan_follows_the_folding_rule(folded):
    for name, topology, opts, latency, passes in CASES:
        r = folded[name].report
        assert [x["passes"] for x in r["layers"]] == passes, name
        assert r["latency_cycles"] == latency, name
        # through the AXI4-Stream wrapper: latency + 1, or the image's input beats when
        # that is longer (one word of the first layer's SIMD codes per beat)
        simd = opts.get("simd", [1])[0]
        assert r["axis"]["image_period_cycles"] == max(latency + 1, -(-topology[0] // simd)), name
        # multipliers: one per lane and input taken per clock
        assert r["totals"]["dsp_macs"] + r["totals"]["lut_macs"] == sum(
            x["pe"] * x["simd"] for x in r["layers"])
    assert folded["f784s"].report["layers"][0]["dsp_macs"] == 16
    for name, blocks in PAIRED_BLOCKS.items():
        layers = folded[name].report["layers"]
        assert [(x["dsp_macs"], x["dsp_blocks"]) for x in layers] == blocks, name
    assert folded["f784s"].report["layers"][0]["lut_macs"] == 32


def test_every_bench_of_folded_designs_passes(folded, tmp_path):
    r = run_benches({name: g.out for name, g in folded.items()}, tmp_path / "vo")
    assert r.returncode == 0, r.stdout[-4000:]
    passed = set(re.findall(r"^pass .*?lib_(\w+)\.(tb_\w+)\.(\w+)", r.stdout, re.M))
    for name, topology, *_ in CASES:
        for bench, test in ((f"tb_{name}", "test_all_vectors"),
                            (f"tb_{name}_axis", "test_back_to_back"),
                            (f"tb_{name}_weights", "test_l0_rom_read")):
            assert (name, bench, test) in passed, (name, bench, test)
        if len(topology) == 2:
            assert (name, f"tb_{name}_weights", "test_external_weights") in passed


def test_folded_bench_fails_on_a_wrong_expected_logit(folded, tmp_path):
    """The check above can fail: one logit off by one in expected.csv of a folded design."""
    g = folded["f532a"]
    bad = tmp_path / "f532a"
    shutil.copytree(g.out, bad)
    expected = bad / "vectors" / "expected.csv"
    rows = [list(map(int, line.split(","))) for line in expected.read_text().split()]
    rows[5][1] += 1
    expected.write_text("".join(",".join(map(str, row)) + "\n" for row in rows))
    r = run_benches({"f532a": bad}, tmp_path / "vo")
    assert r.returncode != 0
    assert "vector 5: logit 1" in r.stdout, r.stdout[-3000:]


def test_folded_weights_coe_packs_lanes_by_pass(folded):
    """coe/<name>_l0_weights.coe of 100 -> 13 with 3 lanes: 5 passes x 100 words; word
    p * 100 + i holds weight i of neurons 3p, 3p + 1, 3p + 2 (lane 0 in the low bits), 0 in
    the lanes of the last pass beyond neuron 12."""
    g = folded["f100a"]
    W = g.q.W[0]
    text = (g.coe / "f100a_l0_weights.coe").read_text()
    words = re.search(r"memory_initialization_vector=\s*(.*);", text, re.S).group(1)
    words = [int(w, 16) for w in words.replace("\n", "").split(",")]
    assert len(words) == 5 * 100
    for p in range(5):
        for i in (0, 37, 99):
            for lane in range(3):
                field = (words[p * 100 + i] >> (8 * lane)) & 0xFF
                want = int(W[3 * p + lane, i]) & 0xFF if 3 * p + lane < 13 else 0
                assert field == want, (p, i, lane)


def test_pe_options_on_the_command_line(tmp_path):
    m = random_float_model([20, 6, 3], 1)
    np.savez(tmp_path / "net.npz", W0=m.W[0], b0=m.b[0], W1=m.W[1], b1=m.b[1])

    def vg(*args):
        return subprocess.run([sys.executable, "vhdl_generator.py", str(tmp_path / "net.npz"),
                               *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    ok = vg("--out", tmp_path / "a", "--pe", "4,9")
    assert ok.returncode == 0, ok.stderr
    assert "folded: layer 0 4 lanes x 2 passes" in ok.stdout
    # 9 lanes for a layer of 3 neurons: one lane per neuron, and the summary says so
    assert "note: --pe 9 for layer 1, which has 3 neurons: one lane per neuron (3)" in ok.stdout
    r = json.loads((tmp_path / "a" / "report.json").read_text())
    assert [(x["pe"], x["passes"]) for x in r["layers"]] == [(4, 2), (3, 1)]
    for args, named in ((["--pe", "0"], "not '0'"), (["--pe", "2,x"], "not '2,x'"),
                        (["--pe", "1,2,3"], "3 values for 2 layers"),
                        (["--simd", "2"], "only the first layer"),
                        (["--simd", "0,1"], "not '0,1'")):
        bad = vg("--out", tmp_path / "b", *args)
        assert bad.returncode == 2 and "Traceback" not in bad.stderr
        lines = bad.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {args[0]}") and named in lines[0]
        assert not (tmp_path / "b").exists()


def test_folding_a_wide_layer_is_refused_with_what_to_do(tmp_path):
    model = random_float_model([20, 3], 4)
    model.input_scale = 1 / 65535
    with pytest.raises(gen.GeneratorError, match=r"more than 32.*--pe 3"):
        gen.generate(model, out=tmp_path / "w", name="w", vectors=gen.default_vectors(20, 16, 2),
                     opts=gen.Options(weight_bits=16, input_bits=16, pe=[2]),
                     log=lambda *_: None)
    assert not (tmp_path / "w").exists()


# Layers in flight (issue 15 item 2): name, topology, options, latency and interval by hand.
# The interval is the slowest stage: layer 0's clocks (it takes the next image in the clock
# of its own done), or, when it starts early (a hidden layer whose inputs take longer than
# its last products' way to the accumulators, and whose next layer is ready in time), its
# inputs' clocks + 1; a later layer's the same + 2 (the layer before sees it ready through a
# register, and its start pulse comes a clock after the copy), or, when the last layer is
# not longer than the argmax, its clocks + the argmax's + 1 (one layer) or + 3 (it waits
# for the argmax), and at least the result's beats. The latency: the layers' clocks, + 1
# per hidden layer (the registered start), + the argmax's (its copy + one per class).
FLIGHT = [
    # (layers in flight: layer 0 takes its start through a register and reads the input
    # buffer 3 clocks after the address, its address registered beside the RAM: 1 + inputs
    # + 3 + 6 clocks)
    # layer 1 (3 + 13 + 6 = 22, + 2) is slower than layer 0 (1 + 5 + 3 + 6 = 15)
    ("g532", [5, 3, 2], dict(in_flight=True), 15 + 22 + 1 + 3, 24),
    # layer 0 folded into 7 lanes, 6 passes: 1 + 6 * 5 + 9 = 40; layer 1: 40 + 19 = 59, + 2
    ("g5403", [5, 40, 3], dict(in_flight=True, pe=[7]), 40 + 59 + 1 + 4, 61),
    # one layer of 1 + 3 + 9 = 13 clocks, 12 classes (the argmax: 1 + 12): 13 + 13 + 1
    ("g312", [3, 12], dict(in_flight=True), 13 + 13, 27),
    # four layers: 40 (it starts early: 1 + 30 + 1 = 32, layer 1 ready in time: 40 + 39 +
    # 2 < 2 x 41), 39 + 2, 39 + 2, 39 + 2 (layers 1 and 2 do not start early: with the
    # next layer's 39 + 2 + 2 they would need 82 clocks, not less than 2 x 41)
    ("g4l", [30, 20, 20, 20, 10], dict(in_flight=True), 40 + 3 * 39 + 3 + 11, 41),
    # two layers, the last (6 + 19 = 25) not longer than the argmax (1 + 24): 25 + 25 + 3
    ("g6624", [6, 6, 24], dict(in_flight=True), 16 + 25 + 1 + 25, 53),
    # the last layer slowest (1 lane, 4 passes: 4 * 3 + 19 = 31, + 2), layer 0 fastest (4
    # inputs per clock: 1 + 3 + 10 = 14), layer 1 (5 + 19 = 24): layer 1's results wait
    # while layer 2 works, so layer 0 may hand its next results only once layer 1 is ready
    # again (idle and copied), not merely idle: else layer 1's start was lost
    ("g12534", [12, 5, 3, 4], dict(in_flight=True, simd=[4, 1, 1], pe=[5, 3, 1]),
     14 + 24 + 31 + 2 + 5, 33),
    # early start: layer 0 (1 + 100 + 9 = 110) takes the next image once its 100 inputs
    # are issued: every 1 + 100 + 1 = 102 clocks; layer 1 is ready again long before (13 +
    # 19 = 32)
    ("g100e", [100, 13, 7, 10], dict(in_flight=True), 110 + 32 + 26 + 2 + 11, 102),
    # layer 1 starts early (60 inputs: 60 + 1 + 2 = 63, its clocks 60 + 19 = 79, + 2)
    ("g1060e", [10, 60, 10, 5], dict(in_flight=True), 20 + 79 + 29 + 2 + 6, 63),
    # no early start: layer 1 (20 + 19 = 39) would not be ready for the results of the
    # image after next (50 + 39 + 2 > 2 x 42, 42 = 1 + 40 + 1: the intervals would
    # alternate), so every 1 + 40 + 9 = 50 clocks
    ("g4020", [40, 20, 5], dict(in_flight=True), 50 + 39 + 1 + 6, 50),
    # a folded last layer (1 lane, 38 passes of 3 inputs: 114 + 19 = 133, + 2) whose next
    # image starts while the argmax (39 clocks) still compares: its logits change only at
    # the last pass's end (they changed after the first pass, ~20 clocks in: logit 0 was
    # wrong through the AXI4-Stream wrapper). Layer 0: 1 + 26 groups + 10 = 37, early start.
    ("g51838", [51, 8, 3, 38], dict(in_flight=True, simd=[2, 1, 1], pe=[8, 3, 1]),
     37 + 27 + 133 + 2 + 39, 135),
    # four layers, the three hidden ones able to start early, every stage near 785 clocks
    # (layer 0 1 + 784 + 9 = 794; layers 1, 2 and 3 (4 lanes for 10 neurons) 3 passes of
    # 256 inputs + 19 = 787): layer 2 would start early only if layer 3 were ready in time,
    # 787 + 2 + 787 + 2 = 1578, not less than 2 x 789, and so on back to layer 0 (794 + 787
    # + 2 > 2 x 789): no early start, an image every 794 clocks (the rule took equality as
    # in time and predicted 787; the AXI4-Stream bench measured 792, bench_fold.py's SFC
    # sweep found it)
    ("gsfc", [784, 256, 256, 256, 10], dict(in_flight=True, pe=[256, 86, 86, 4]),
     794 + 3 * 787 + 3 + 11, 794),
]


@pytest.fixture(scope="module")
def in_flight(tmp_path_factory) -> dict[str, gen.Generated]:
    tmp = tmp_path_factory.mktemp("flight")
    return {name: gen.generate(random_float_model(topology, 40 + k), out=tmp / name, name=name,
                               vectors=gen.default_vectors(topology[0], 8, 12),
                               opts=gen.Options(**opts), log=lambda *_: None)
            for k, (name, topology, opts, _, _) in enumerate(FLIGHT)}


def test_layers_in_flight_stream_at_the_slowest_stage(in_flight, tmp_path):
    """The AXI4-Stream bench checks every result after the first against the report's
    interval, and the report's interval is the hand-derived one; the top-level bench still
    measures the latency of one image."""
    for name, topology, _, latency, interval in FLIGHT:
        r = in_flight[name].report
        assert r["in_flight"] is True and r["latency_cycles"] == latency, name
        assert r["interval_cycles"] == r["axis"]["image_period_cycles"] == interval, name
        assert interval <= latency + 1  # equal when the last layer waits for the argmax
    r = run_benches({name: g.out for name, g in in_flight.items()}, tmp_path / "vo")
    assert r.returncode == 0, r.stdout[-4000:]
    passed = set(re.findall(r"^pass .*?lib_(\w+)\.(tb_\w+)\.(\w+)", r.stdout, re.M))
    for name, *_ in FLIGHT:
        assert (name, f"tb_{name}_axis", "test_back_to_back") in passed
        assert (name, f"tb_{name}", "test_all_vectors") in passed


def test_in_flight_interval_check_can_fail(in_flight, tmp_path):
    """The same bench with the interval one clock off fails, naming the clocks."""
    g = in_flight["g532"]
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from pathlib import Path\n"
              "import vunit_run\n"
              "vu = vunit_run.make_vunit(['lib_g532.tb_g532_axis.*'], output_path=Path(%r))\n"
              "lib = vunit_run.add_network(vu, 'g532', Path(%r))\n"
              "lib.test_bench('tb_g532_axis').set_generic('PERIOD_CLOCKS', 23)\n"
              "vu.main()\n" % (str(ROOT), str(tmp_path / "vo"), str(g.out)))
    r = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode != 0
    assert "clocks since the previous result - Got 24. Expected 23" in r.stdout, r.stdout[-3000:]


def test_random_in_flight_designs(tmp_path):
    """A few of bench/bench_flight_random.py's random shapes (the bench that found the
    folded last layer's logit overwrite): each bit-exact through the top-level and the
    AXI4-Stream benches at its predicted latency and interval."""
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_flight_random

    out = tmp_path / "flight.json"
    assert bench_flight_random.main(["--seed", "5", "--designs", "5", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 5 and all(r["top"] and r["axis"] for r in rows)
    assert any(any(r["early_start"]) for r in rows)
