"""The VHDL side: analysis in both standards, the main job, the --model mode, the .coe
files, and proof that the network testbench fails when an expected value is wrong."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import quantization_functions as qf  # noqa: E402
import vhdl_generator as vg  # noqa: E402
from examples import random_float_model  # noqa: E402

GHDL = shutil.which("ghdl")
pytestmark = pytest.mark.skipif(GHDL is None, reason="GHDL is not installed")


def run(cmd: list[str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)


def save_model(path: Path, topology: list[int], seed: int) -> Path:
    m = random_float_model(topology, seed)
    arrays = {}
    for l, (W, b) in enumerate(zip(m.W, m.b)):
        arrays[f"W{l}"], arrays[f"b{l}"] = W.astype(np.float32), b.astype(np.float32)
    arrays["calibration"] = m.calibration.astype(np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def design(tmp_path_factory) -> vg.Generated:
    """A 3-layer design (hidden layers and a last layer) in a temporary folder."""
    out = tmp_path_factory.mktemp("design") / "odd"
    model = random_float_model([100, 13, 7, 10], 3)
    return vg.generate(model, out=out, name="odd", vectors=vg.default_vectors(100, 8, 12),
                       log=lambda *_: None)


def synthesizable_files(folder: Path) -> list[Path]:
    """Every .vhd a user adds to Vivado, in dependency order for plain ghdl -a."""
    import estimate
    return estimate.synthesizable_files(folder)


@pytest.fixture(scope="module")
def design_5bit(tmp_path_factory) -> vg.Generated:
    """Widths that are not a multiple of 4: b"..." literals (VHDL-93 has no sized x""); and
    the hardware options: 3 neurons per ROM word, LUT multipliers beyond 5 DSP blocks."""
    out = tmp_path_factory.mktemp("design5") / "odd"
    model = random_float_model([100, 13, 7, 10], 3)
    return vg.generate(model, out=out, name="odd",
                       opts=vg.Options(weight_bits=5, act_bits=7, neurons_per_rom=3,
                                       dsp_budget=5),
                       vectors=vg.default_vectors(100, 8, 12), log=lambda *_: None)


@pytest.mark.parametrize("std", ["93c", "08"])
@pytest.mark.parametrize("which", ["design", "design_5bit"])
def test_every_synthesizable_file_analyses(which, std, tmp_path, request):
    design = request.getfixturevalue(which)
    files = synthesizable_files(design.out)
    names = {p.name for p in files}
    assert {"odd_top.vhd", "odd_axis.vhd", "odd_core.vhd", "odd_l0_layer.vhd", "odd_l2_layer.vhd",
            "odd_l0_weights.vhd", "argmax.vhd", "requantizer.vhd"} <= names
    if which == "design_5bit":
        assert {"odd_l0_lut_mults.vhd", "odd_l1_lut_mults.vhd", "odd_l2_lut_mults.vhd"} <= names
    # the hand-written sources in hdl/ are the ones copied into the design
    for hdl in vg.HDL_FILES:
        assert (design.out / hdl).read_text() == (ROOT / "hdl" / hdl).read_text()
    r = run([GHDL, "-a", f"--std={std}", f"--workdir={tmp_path}"] + [str(p) for p in files])
    assert r.returncode == 0, r.stderr
    # and elaborates as a whole (VHDL-93 top levels)
    for top in ("odd_top", "odd_axis"):
        r = run([GHDL, "-e", f"--std={std}", f"--workdir={tmp_path}", top], cwd=tmp_path)
        assert r.returncode == 0, r.stderr


def test_generated_files_have_a_header_and_literals(design):
    pkg = (design.out / "odd_l0_pkg.vhd").read_text()
    assert "DO NOT EDIT" in pkg.splitlines()[4] or "DO NOT EDIT" in pkg[:600]
    assert "bram-mlp" in pkg[:400]
    q = design.q
    # neuron 0's first weight appears as an x"..": literal computed here from the manifest
    w = int(q.W[0][0, 0]) & 0xFF
    assert f'x"{w:02X}"' in pkg.split("NEURON_0_ROM_c")[1][:200]
    assert 'attribute rom_style of q : signal is "block"' in (
        design.out / "odd_l0_weights.vhd").read_text()


def test_coe_files_hold_the_manifest(design):
    """Decode the .coe words independently and compare with quantized.npz."""
    with np.load(design.out / "quantized.npz", allow_pickle=False) as d:
        q = qf.QuantizedModel.from_arrays(d)
    for l in range(q.n_layers):
        text = (design.out / "coe" / f"odd_l{l}_weights.coe").read_text()
        assert "memory_initialization_radix=16;" in text
        body = text.split("memory_initialization_vector=")[1].strip().rstrip(";")
        words = [int(w, 16) for w in body.replace("\n", "").split(",")]
        n_out, n_in = q.W[l].shape
        assert len(words) == n_in
        wb = q.weight_bits
        for i, word in enumerate(words):
            for j in range(n_out):
                field = (word >> (j * wb)) & ((1 << wb) - 1)
                value = field - (1 << wb) if field >= 1 << (wb - 1) else field
                assert value == q.W[l][j, i], (l, i, j)
    X = np.loadtxt(design.out / "vectors" / "inputs.csv", delimiter=",", dtype=np.int64)
    text = (design.out / "coe" / "odd_input_0003.coe").read_text()
    body = text.split("memory_initialization_vector=")[1].strip().rstrip(";")
    assert [int(w, 16) for w in body.replace("\n", "").split(",")] == list(X[3])


def test_main_job_is_bit_exact():
    """`python vunit_run.py`: every testbench passes and every example is bit-exact."""
    r = run([sys.executable, "vunit_run.py", "-p", "2"], timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    table = [line for line in r.stdout.splitlines()
             if line.split() and line.split()[0] in
             {"mnist_1", "mnist_10", "mnist_256_10", "odd_5_3_2", "odd_100_13_7_10"}]
    assert len(table) == 5, r.stdout[-2000:]
    import examples
    checked = 0
    for line in r.stdout.splitlines():
        cols = line.split()
        if len(cols) == 12 and cols[3].isdigit():
            assert int(cols[3]) >= 50, line
            assert cols[4] == "yes", line
            assert cols[5] == cols[6], f"measured cycles != predicted: {line}"
            # through the AXI4-Stream wrapper, back to back: one image per latency + 1, or
            # per result (class + one beat per output) when that is longer
            n_out = int(cols[1].split("-")[-1])
            # layers in flight: the slowest layer, layer 0 here, which starts early: the
            # clock after its last input is issued (its start register, then its inputs)
            in_flight = {"mnist_256_10_flight": 1 + 784 + 1,
                         "odd_100_13_7_10_flight": 1 + 100 + 1}
            assert cols[10] == str(in_flight.get(cols[0], max(int(cols[6]) + 1, n_out + 1))), \
                f"axis cycles per image: {line}"
            lanes = [int(p) for p in cols[11].split(",")]
            assert len(lanes) == len(cols[1].split("-")) - 1, line
            if "_pe" not in cols[0]:
                assert lanes == [int(n) for n in cols[1].split("-")[1:]], line
            checked += 1
    assert checked == len(examples.examples()), r.stdout[-2000:]
    big = next(l for l in table if l.startswith("mnist_256_10 "))
    # the pipeline's cost over one input per clock: 1 + 2 + 6 clocks in layer 0 (its start
    # register, the input buffer's RAM and output register, the multiply-accumulate
    # pipeline), 13 + 6 in layer 1 (the address copies, the three-step select and the
    # requantizer), 11 in the argmax (the copy, then one per clock)
    assert int(big.split()[5]) == 784 + 256 + 39
    # the console: a line per phase and the table (VUnit alone printed about 930 lines), no
    # colour codes into a pipe, no "Output file:" naming a folder deleted at the end
    assert "\x1b" not in out and "Output file:" not in out
    # progress lines come every few seconds (more on a loaded machine): not counted
    lines = [l for l in r.stdout.splitlines()
             if not re.fullmatch(r"simulating: \d+ of \d+ tests done", l)]
    assert len(lines) <= len(examples.examples()) + 6, r.stdout


def run_network_bench(folder: Path, name: str, expected: Path, out: Path, bench: str = ""):
    """Run tb_<name><bench> with a given expected-values file; return the completed process."""
    tb = f"tb_{name}{bench}"
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "import vunit_run\n"
        "vu = vunit_run.make_vunit(['lib_%s.%s.*'], output_path=Path(%r))\n"
        "vunit_run.add_network(vu, %r, Path(%r))\n"
        "vu.library('lib_%s').test_bench(%r).set_generic('EXPECTED_FILE', %r)\n"
        "vu.main()\n" % (str(ROOT), name, tb, str(out), name, str(folder), name, tb,
                         str(expected)))
    return run([sys.executable, "-c", script])


def test_network_bench_fails_on_one_corrupted_value(design, tmp_path):
    expected = design.out / "vectors" / "expected.csv"
    rows = [list(map(int, line.split(","))) for line in expected.read_text().split()]
    # control: the untouched file passes
    good = run_network_bench(design.out, "odd", expected, tmp_path / "vo")
    assert good.returncode == 0, good.stdout[-2000:]
    # one logit of vector 7 off by one
    rows[7][4] += 1
    bad_file = tmp_path / "corrupted.csv"
    bad_file.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    bad = run_network_bench(design.out, "odd", bad_file, tmp_path / "vo")
    assert bad.returncode != 0
    assert "vector 7: logit 4" in bad.stdout, bad.stdout[-2000:]
    # the class of vector 2 wrong
    rows[7][4] -= 1
    rows[2][-1] = (rows[2][-1] + 1) % 10
    bad_file.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    bad = run_network_bench(design.out, "odd", bad_file, tmp_path / "vo")
    assert bad.returncode != 0
    assert "vector 2: class" in bad.stdout, bad.stdout[-2000:]


def test_axis_bench_fails_on_one_corrupted_value(design, tmp_path):
    """The VUnit bench of <name>_axis: passes as generated, fails on one wrong logit."""
    expected = design.out / "vectors" / "expected.csv"
    good = run_network_bench(design.out, "odd", expected, tmp_path / "vo", "_axis")
    assert good.returncode == 0, good.stdout[-2000:]
    assert "test_back_to_back" in good.stdout
    rows = [list(map(int, line.split(","))) for line in expected.read_text().split()]
    rows[5][3] -= 1
    bad_file = tmp_path / "corrupted.csv"
    bad_file.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    bad = run_network_bench(design.out, "odd", bad_file, tmp_path / "vo", "_axis")
    assert bad.returncode != 0
    assert "vector 5: logit 3" in bad.stdout, bad.stdout[-2000:]


def test_model_mode_writes_measured_results(tmp_path):
    model = save_model(tmp_path / "net.npz", [5, 3, 2], 21)
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, (60, 5)).astype(np.uint8)
    X[0] = 255
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "design"
    r = run([sys.executable, "vunit_run.py", "--model", str(model), "--inputs",
             str(tmp_path / "X.npy"), "--results", str(tmp_path / "R.npz"), "--out", str(out),
             "--weight-bits", "4"])
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    with np.load(tmp_path / "R.npz", allow_pickle=False) as res:
        logits, classes, cycles = res["logits"], res["classes"], res["cycles"]
    with np.load(out / "quantized.npz", allow_pickle=False) as d:
        q = qf.QuantizedModel.from_arrays(d)
    assert q.weight_bits == 4
    ref_logits, ref_classes = qf.reference_forward(q, X)
    assert logits.shape == (60, 2) and classes.shape == (60,) and cycles.shape == (60,)
    np.testing.assert_array_equal(logits, ref_logits)
    np.testing.assert_array_equal(classes, ref_classes)
    report = json.loads((out / "report.json").read_text())
    # clocks, from the layer's design: layer 0 1 (its start register) + 5 inputs + 2 (memory
    # read, output register) + 6 (weights_r, the multiplier's 3, the products' register, the
    # sum); layer 1 3 inputs + 13
    # (the address registered, select in 3 steps, 9 requantizer stages) + 6; the argmax 3
    # (the copy, then one logit per clock)
    assert report["latency_cycles"] == 14 + 22 + 3 == 39
    assert set(cycles.tolist()) == {39}


def test_model_mode_rejects_inputs_out_of_range(tmp_path):
    model = save_model(tmp_path / "net.npz", [5, 3, 2], 21)
    np.save(tmp_path / "X.npy", np.full((3, 5), 256))
    r = run([sys.executable, "vunit_run.py", "--model", str(model), "--inputs",
             str(tmp_path / "X.npy"), "--results", str(tmp_path / "R.npz")])
    assert r.returncode != 0
    assert "Traceback" not in r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "X.npy" in lines[0]
    assert "0..255" in lines[0]
    assert not (tmp_path / "R.npz").exists()


def test_per_neuron_scale_gives_the_float_models_class_in_ghdl(tmp_path):
    """Issue 11: with --per-neuron-scale the last layer's logits were on different scales
    and the hardware said class 1 (113475 vs 129540) where the float model says 0 (3.5 vs
    2.4); the last layer now keeps one scale."""
    np.savez(tmp_path / "pn.npz", W0=np.array([[1, 1, 1, .5], [.6, .6, .6, .6]]),
             b0=np.zeros(2))
    np.save(tmp_path / "X.npy", np.full((1, 4), 255, dtype=np.uint8))
    r = run([sys.executable, "vunit_run.py", "--model", str(tmp_path / "pn.npz"),
             "--inputs", str(tmp_path / "X.npy"), "--results", str(tmp_path / "R.npz"),
             "--per-neuron-scale"])
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    with np.load(tmp_path / "R.npz", allow_pickle=False) as res:
        assert res["classes"].tolist() == [0]
        assert res["logits"].tolist() == [[255 * 445, 255 * 304]]


def _small_stack(soft: int, hard: int | None):
    """preexec_fn: run the child with a stack limit of `soft` bytes (hard: as it was)."""
    import resource

    def apply() -> None:
        _, old_hard = resource.getrlimit(resource.RLIMIT_STACK)
        resource.setrlimit(resource.RLIMIT_STACK, (soft, old_hard if hard is None else hard))
    return apply


def _run_model_mode(tmp_path: Path, preexec) -> subprocess.CompletedProcess:
    model = save_model(tmp_path / "net.npz", [5, 3, 2], 21)
    np.save(tmp_path / "X.npy", np.full((2, 5), 200, dtype=np.uint8))
    return subprocess.run(
        [sys.executable, "vunit_run.py", "--model", str(model), "--inputs",
         str(tmp_path / "X.npy"), "--results", str(tmp_path / "R.npz")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, preexec_fn=preexec)


STACK_TOO_SMALL = 256 * 1024   # GHDL 2.0 mcode dies of a segfault below this, any design


def test_simulator_gets_all_the_stack_it_may_have(tmp_path):
    """Issue 11: large designs (784->4096->10) crashed GHDL at the usual 8 MB stack; the
    simulator now gets the hard limit. Provoked here with a 256 KB soft limit."""
    r = _run_model_mode(tmp_path, _small_stack(STACK_TOO_SMALL, None))
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert (tmp_path / "R.npz").exists()


def test_simulator_crash_is_reported_with_its_reason(tmp_path):
    """When the stack cannot be raised, the crash (GHDL says nothing) is named: one error
    line that says it is probably the stack and what to do."""
    r = _run_model_mode(tmp_path, _small_stack(STACK_TOO_SMALL, STACK_TOO_SMALL))
    assert r.returncode == 1
    assert "Traceback" not in r.stdout + r.stderr
    errors = [x for x in r.stderr.splitlines() if "error:" in x]
    assert len(errors) == 1, r.stderr
    assert "stack" in errors[0] and "256 KB" in errors[0] and "ulimit -s unlimited" in errors[0]
    assert not (tmp_path / "R.npz").exists()


def test_design_mode_simulates_a_generated_folder_as_it_is(tmp_path):
    """vunit_run.py --design DIR: the options come from DIR (4-bit weights here, not given
    again), nothing in DIR changes, and --labels gives the accuracy."""
    model = save_model(tmp_path / "net.npz", [5, 3, 2], 21)
    out = tmp_path / "design"
    r = run([sys.executable, "vhdl_generator.py", str(model), "--out", str(out),
             "--weight-bits", "4"])
    assert r.returncode == 0, r.stderr
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rng = np.random.default_rng(8)
    X = rng.integers(0, 256, (30, 5)).astype(np.uint8)
    with np.load(out / "quantized.npz", allow_pickle=False) as d:
        q = qf.QuantizedModel.from_arrays(d)
    assert q.weight_bits == 4
    ref_logits, ref_classes = qf.reference_forward(q, X)
    y = ref_classes.copy()
    y[:7] = 1 - y[:7]                         # 7 of 30 labels disagree with the hardware
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    r = run([sys.executable, "vunit_run.py", "--design", str(out), "--inputs",
             str(tmp_path / "X.npy"), "--labels", str(tmp_path / "y.npy"), "--results",
             str(tmp_path / "R.npz")])
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert "equal to the integer reference model: yes" in r.stdout
    assert "0.7667 (23 of 30 images)" in r.stdout
    with np.load(tmp_path / "R.npz", allow_pickle=False) as res:
        np.testing.assert_array_equal(res["logits"], ref_logits)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_layers_that_round_ties_to_even_are_bit_exact(tmp_path):
    """round{l} = half_even (QONNX's ROUND, for imported QAT models): power-of-two
    requantizations (M = 1) make exact ties frequent; the hardware follows the reference in
    both hidden layers, in the top level and the AXI4-Stream benches."""
    rng = np.random.default_rng(12)
    q = qf.QuantizedModel(
        input_bits=8, weight_bits=4, act_bits=4, encoding="integer",
        W=[rng.integers(-3, 4, (9, 30)), rng.integers(-3, 4, (6, 9)), rng.integers(-3, 4, (4, 6))],
        b=[rng.integers(-8, 9, 9), rng.integers(-8, 9, 6), rng.integers(-8, 9, 4)],
        M=[np.ones(9, np.int64), np.ones(6, np.int64)],
        S=[rng.integers(1, 4, 9), rng.integers(2, 5, 6)],
        round=["half_even", "half_even"])
    X = rng.integers(0, 4, (40, 30))
    acc = X @ q.W[0].T + q.b[0]
    ties = (qf.requantize(acc, q.M[0], q.S[0], 4, "half_even")
            != qf.requantize(acc, q.M[0], q.S[0], 4, "half_up"))
    assert ties.sum() >= 10                      # the rounding mode matters on these inputs
    g = vg.generate(q, out=tmp_path / "d", name="even", vectors=X, log=lambda *_: None)
    assert [l["round"] for l in g.report["layers"]] == ["half_even", "half_even", None]
    logits, classes = qf.reference_forward(q, X)
    import vunit_run
    sim = vunit_run.simulate_generated(g, X)
    assert sim is not None
    np.testing.assert_array_equal(sim["logits"], logits)
    for bench in ("", "_axis"):
        r = run_network_bench(g.out, "even", g.out / "vectors" / "expected.csv",
                              tmp_path / "vo", bench)
        assert r.returncode == 0, r.stdout[-3000:]


# --------------------------------------------------------------------------- 32 to 48 bits
def minus_2_pow_31_model() -> qf.QuantizedModel:
    """The last layer reaches -2^31 exactly: a hidden neuron saturated at 65535 (16-bit
    activations) times the weight -32768 plus the bias -32768. Worked out by hand:
    logit 0 = -32768 - 32768 * 65535 = -2^31, logit 1 = 32767 * 65535 = 2147385345."""
    return qf.QuantizedModel(
        input_bits=8, weight_bits=16, act_bits=16, encoding="integer",
        W=[np.array([[32767]]), np.array([[-32768], [32767]])],
        b=[np.array([0]), np.array([-32768, 0])],
        M=[np.array([1])], S=[np.array([0])])


def test_a_logit_of_minus_2_pow_31_is_bit_exact(tmp_path):
    """Issue 11: a 32-bit last layer stopped GHDL ("overflow detected" in slv_to_int /
    int_to_slv: 2**31 is no VHDL integer)."""
    q = minus_2_pow_31_model()
    assert q.acc_range(1) == (-2 ** 31, 2147385345) and q.acc_bits(1) == 32
    X = np.array([[255], [0], [3]])
    g = vg.generate(q, out=tmp_path / "d", name="neg32", vectors=X, log=lambda *_: None)
    import vunit_run
    sim = vunit_run.simulate_generated(g, X)
    assert sim is not None
    assert sim["logits"].tolist() == [[-2 ** 31, 2147385345], [-32768, 0], [-2 ** 31, 2147385345]]
    assert sim["classes"].tolist() == [1, 1, 1]
    # and the benches' own checks (top level, AXI4-Stream wrapper, weights memories)
    r = run_network_bench(g.out, "neg32", g.out / "vectors" / "expected.csv", tmp_path / "vo")
    assert r.returncode == 0, r.stdout[-3000:]
    r = run_network_bench(g.out, "neg32", g.out / "vectors" / "expected.csv", tmp_path / "vo",
                          "_axis")
    assert r.returncode == 0, r.stdout[-3000:]


@pytest.fixture(scope="module")
def wide_design(tmp_path_factory) -> vg.Generated:
    """16-bit inputs, weights and activations: 20-8-4 needs over 32 bits in both layers."""
    out = tmp_path_factory.mktemp("wide") / "wide"
    model = random_float_model([20, 8, 4], 3)
    model.input_scale = 1 / 65535
    # calibrated on small inputs: the full-range test inputs saturate the hidden layer, so
    # the logits go well beyond 2^31
    model.calibration = np.random.default_rng(0).integers(0, 2000, (64, 20))
    X = vg.default_vectors(20, 16, 12)
    return vg.generate(model, out=out, name="wide", vectors=X, log=lambda *_: None,
                       opts=vg.Options(weight_bits=16, act_bits=16, input_bits=16))


def test_wide_accumulators_are_bit_exact(wide_design, tmp_path):
    g = wide_design
    assert [g.q.acc_bits(l) for l in range(2)] == [g.report["layers"][l]["acc_bits"]
                                                   for l in range(2)]
    assert all(32 < g.q.acc_bits(l) <= 48 for l in range(2))
    X = np.loadtxt(g.out / "vectors" / "inputs.csv", delimiter=",", dtype=np.int64, ndmin=2)
    logits, classes = qf.reference_forward(g.q, X)
    assert np.abs(logits).max() >= 2 ** 31          # beyond a VHDL integer, really
    import vunit_run
    sim = vunit_run.simulate_generated(g, X)
    assert sim is not None
    np.testing.assert_array_equal(sim["logits"], logits)
    np.testing.assert_array_equal(sim["classes"], classes)
    for bench in ("", "_axis"):
        r = run_network_bench(g.out, "wide", g.out / "vectors" / "expected.csv",
                              tmp_path / "vo", bench)
        assert r.returncode == 0, r.stdout[-3000:]


def test_wide_bench_fails_on_one_corrupted_part(wide_design, tmp_path):
    """A wide logit is two CSV columns (hi, lo): corrupt the low part of logit 2 of vector
    4 and both benches must say so."""
    expected = wide_design.out / "vectors" / "expected.csv"
    rows = [list(map(int, line.split(","))) for line in expected.read_text().split()]
    assert len(rows[0]) == 2 * 4 + 1
    rows[4][2 * 2 + 1] = (rows[4][2 * 2 + 1] + 1) % 65536
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(",".join(map(str, r)) + "\n" for r in rows))
    for bench in ("", "_axis"):
        r = run_network_bench(wide_design.out, "wide", bad, tmp_path / f"vo{bench}", bench)
        assert r.returncode != 0
        assert "vector 4: logit 2 (low part)" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize("std", ["93c", "08"])
def test_wide_design_analyses(wide_design, std, tmp_path):
    for f in synthesizable_files(wide_design.out):
        r = run([GHDL, "-a", f"--std={std}", f"--workdir={tmp_path}", str(f)])
        assert r.returncode == 0, f"{f.name}: {r.stderr}"


def run_all_benches(folder: Path, name: str, out: Path) -> subprocess.CompletedProcess:
    """Every generated testbench of a design (top level, AXI4-Stream, weights memories,
    with all their tests), through vunit_run.add_network as the main job runs them."""
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "import vunit_run\n"
        "vu = vunit_run.make_vunit(['lib_%s.*'], output_path=Path(%r))\n"
        "vunit_run.add_network(vu, %r, Path(%r))\n"
        "vu.main()\n" % (str(ROOT), name, str(out), name, str(folder)))
    return run([sys.executable, "-c", script])


@pytest.fixture(scope="module")
def wide_one_layer(tmp_path_factory) -> vg.Generated:
    """One layer with 16-bit inputs and weights: a 34-bit accumulator."""
    out = tmp_path_factory.mktemp("wide1") / "wide1"
    model = random_float_model([20, 3], 4)
    model.input_scale = 1 / 65535
    return vg.generate(model, out=out, name="wide1", vectors=vg.default_vectors(20, 16, 6),
                       opts=vg.Options(weight_bits=16, input_bits=16), log=lambda *_: None)


def test_every_bench_of_a_wide_one_layer_design_passes(wide_one_layer, tmp_path):
    """Issue 23 item 7: tb_<name>_weights.test_external_weights read the hi/lo columns of a
    logit wider than 32 bits as one ("overflow detected" in to_integer). Every generated
    testbench of such a design runs and passes; a corrupted low part fails the weights
    bench with the part named."""
    g = wide_one_layer
    assert 32 < g.q.acc_bits(0) <= 48
    r = run_all_benches(g.out, "wide1", tmp_path / "vo")
    assert r.returncode == 0, r.stdout[-3000:]
    for test in ("tb_wide1.test_all_vectors", "tb_wide1_weights.test_external_weights",
                 "tb_wide1_weights.test_l0_rom_read", "tb_wide1_axis.test_back_to_back"):
        assert re.search(rf"^pass .*lib_wide1\.{re.escape(test)}\b", r.stdout, re.M), \
            r.stdout[-3000:]
    expected = g.out / "vectors" / "expected.csv"
    rows = [list(map(int, line.split(","))) for line in expected.read_text().split()]
    rows[3][2 * 1 + 1] = (rows[3][2 * 1 + 1] + 1) % 65536
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(",".join(map(str, row)) + "\n" for row in rows))
    script = (
        "import sys; sys.path.insert(0, %r)\n"
        "from pathlib import Path\n"
        "import vunit_run\n"
        "vu = vunit_run.make_vunit(['lib_wide1.tb_wide1_weights.test_external_weights'], "
        "output_path=Path(%r))\n"
        "vunit_run.add_network(vu, 'wide1', Path(%r))\n"
        "vu.library('lib_wide1').test_bench('tb_wide1_weights').set_generic('VECTORS_DIR', %r)\n"
        "vu.main()\n" % (str(ROOT), str(tmp_path / "vo2"), str(g.out), str(tmp_path / "vec")))
    (tmp_path / "vec").mkdir()
    for f in (g.out / "vectors").iterdir():
        shutil.copyfile(f, tmp_path / "vec" / f.name)
    shutil.copyfile(bad, tmp_path / "vec" / "expected.csv")
    r = run([sys.executable, "-c", script])
    assert r.returncode != 0
    assert "vector 3: logit 1 (low part)" in r.stdout, r.stdout[-2000:]
