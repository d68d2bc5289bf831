"""The command line refuses bad inputs cleanly: `python vhdl_generator.py MODEL --out DIR ...`.

For every bad model file, option or input array the generator must exit non-zero, print
exactly one line "error: ..." on stderr that names the offending file / option / name, print
no traceback, and leave the output folder as it was (not created; a user's folder untouched).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
GENERATOR = PROJECT / "vhdl_generator.py"


# --------------------------------------------------------------------------- helpers
def run_generator(model: Path | str, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(GENERATOR), str(model), "--out", str(out), *map(str, args)],
        cwd=PROJECT, capture_output=True, text=True, timeout=60)


def assert_clean_failure(res: subprocess.CompletedProcess, out: Path, *names: str) -> str:
    """Non-zero exit, one 'error:' line naming each of `names`, no traceback, no DIR."""
    assert res.returncode != 0, res.stdout
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert line.startswith("error:"), line
    for name in names:
        assert name in line, f"{name!r} not named in: {line}"
    assert not out.exists(), f"{out} was created by a failed run"
    # and no staging folder was left beside it
    if out.parent.exists():
        assert not any(p.name.startswith(f".{out.name}.") for p in out.parent.iterdir())
    return line


ModelWriter = Callable[..., Path]


@pytest.fixture
def write_model(tmp_path: Path) -> ModelWriter:
    """write_model(name="model.npz", **arrays) -> path of an .npz holding `arrays`."""
    def write(name: str = "model.npz", **arrays) -> Path:
        path = tmp_path / name
        np.savez(path, **arrays)
        assert path.exists()        # np.savez adds no suffix: the names used end in .npz
        return path
    return write


def small_net(rng: np.random.Generator, sizes=(5, 3, 2)) -> dict[str, np.ndarray]:
    arrays = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        arrays[f"W{l}"] = rng.normal(0, 0.5, (n_out, n_in))
        arrays[f"b{l}"] = rng.normal(0, 0.1, n_out)
    return arrays


@pytest.fixture
def good_model(write_model) -> Path:
    return write_model("good.npz", **small_net(np.random.default_rng(42)))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "design"


# --------------------------------------------------------------------------- bad model files
def test_text_file_named_npz(tmp_path, out):
    model = tmp_path / "model.npz"
    model.write_text("W0 = [[1, 2], [3, 4]]\n")
    assert_clean_failure(run_generator(model, out), out, str(model))


def test_npy_instead_of_npz(tmp_path, out):
    model = tmp_path / "model.npy"
    np.save(model, np.ones((3, 5)))
    assert_clean_failure(run_generator(model, out), out, str(model))


def test_npz_with_pickled_object_array(write_model, out):
    model = write_model(W0=np.array([np.ones(3), "not a number", None], dtype=object),
                        b0=np.zeros(3))
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "W0" in line


def test_npz_without_weight_keys(write_model, out):
    model = write_model(foo=np.ones((3, 5)))
    assert_clean_failure(run_generator(model, out), out, str(model))


def test_w0_one_dimensional(write_model, out):
    model = write_model(W0=np.ones(5), b0=np.zeros(1))
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "W0" in line


def test_b0_wrong_length(write_model, out):
    model = write_model(W0=np.ones((3, 5)), b0=np.zeros(4))
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "b0" in line


def test_layers_do_not_chain(write_model, out):
    model = write_model(W0=np.ones((4, 5)), b0=np.zeros(4), W1=np.ones((2, 3)), b1=np.zeros(2))
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "W1" in line


def test_nan_in_w0(write_model, out):
    arrays = small_net(np.random.default_rng(1))
    arrays["W0"][1, 2] = np.nan
    model = write_model(**arrays)
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "W0" in line and "NaN" in line


def test_inf_in_b1(write_model, out):
    arrays = small_net(np.random.default_rng(2))
    arrays["b1"][0] = np.inf
    model = write_model(**arrays)
    line = assert_clean_failure(run_generator(model, out), out, str(model))
    assert "b1" in line and "Inf" in line


def test_missing_model_file(tmp_path, out):
    model = tmp_path / "nowhere.npz"
    assert_clean_failure(run_generator(model, out), out, str(model))


# --------------------------------------------------------------------------- bad options
@pytest.mark.parametrize("args, named", [
    (["--weight-bits", "1"], "--weight-bits"),
    (["--weight-bits", "17"], "--weight-bits"),
    (["--act-bits", "0"], "--act-bits"),
    (["--encoding", "fixed"], "--frac-bits"),
])
def test_bad_bit_widths_and_encoding(good_model, out, args, named):
    assert_clean_failure(run_generator(good_model, out, *args), out, named)


@pytest.mark.parametrize("args, named", [
    (["--part", "xc7z999"], "xc7z999"),
    (["--part", "xc7z999", "--estimate"], "xc7z999"),
    (["--neurons-per-rom", "0"], "--neurons-per-rom"),
    (["--neurons-per-rom", "two"], "--neurons-per-rom"),
    (["--dsp-budget", "-1"], "--dsp-budget"),
])
def test_bad_hardware_options(good_model, out, args, named):
    assert_clean_failure(run_generator(good_model, out, *args), out, named)


def test_estimate_needs_an_output_folder(good_model, tmp_path):
    res = subprocess.run([sys.executable, str(GENERATOR), str(good_model), "--estimate"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert res.stderr.splitlines() == ["error: --estimate needs --out DIR"]
    assert not (PROJECT / "hdl" / "generated" / "good").exists()


@pytest.mark.parametrize("name", ["9net", "my__net", "signal", "net_", "Signal"])
def test_bad_design_names(good_model, out, name):
    assert_clean_failure(run_generator(good_model, out, "--name", name), out, f"'{name}'")


# --------------------------------------------------------------------------- bad input arrays
def test_calibration_out_of_8_bit_range(good_model, tmp_path, out):
    cal = tmp_path / "calib.npy"
    X = np.full((4, 5), 100, dtype=np.int64)
    X[2, 3] = 300
    np.save(cal, X)
    assert_clean_failure(run_generator(good_model, out, "--calibration", cal), out, str(cal))


def test_vectors_with_negative_value(good_model, tmp_path, out):
    vec = tmp_path / "X.npy"
    X = np.full((3, 5), 7, dtype=np.int64)
    X[1, 0] = -1
    np.save(vec, X)
    assert_clean_failure(run_generator(good_model, out, "--vectors", vec), out, str(vec))


def test_vectors_with_wrong_number_of_columns(good_model, tmp_path, out):
    vec = tmp_path / "X.npy"
    np.save(vec, np.zeros((3, 6), dtype=np.uint8))       # the model takes 5 inputs
    assert_clean_failure(run_generator(good_model, out, "--vectors", vec), out, str(vec))


def test_model_calibration_follows_input_bits(write_model, out):
    arrays = small_net(np.random.default_rng(3))
    arrays["calibration"] = np.full((4, 5), 1000, dtype=np.int64)
    model = write_model(**arrays)
    res = run_generator(model, out, "--input-bits", "10")
    assert res.returncode == 0, res.stderr
    assert (out / "report.json").exists()


def test_calibration_file_follows_input_bits(good_model, tmp_path, out):
    """Control for the test above: 10-bit codes via --calibration X.npy are accepted."""
    cal = tmp_path / "calib10.npy"
    np.save(cal, np.full((4, 5), 1000, dtype=np.int64))
    res = run_generator(good_model, out, "--input-bits", "10", "--calibration", cal)
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "report.json").read_text())["input_bits"] == 10


# --------------------------------------------------------------------------- output folder
def test_existing_folder_untouched_when_generation_fails(write_model, out):
    out.mkdir(parents=True)
    keep = out / "keep.txt"
    keep.write_text("the user's notes\n")
    model = write_model(W0=np.ones((3, 5)), b0=np.zeros(4))     # b0 wrong length
    res = run_generator(model, out)
    assert res.returncode != 0
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stderr.startswith("error:") and len(res.stderr.splitlines()) == 1
    assert keep.read_text() == "the user's notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["design"]


def test_foreign_folder_is_never_replaced(good_model, out):
    """A folder that is not an earlier bram-mlp output (no report.json) is refused."""
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("the user's notes\n")
    res = run_generator(good_model, out)
    assert res.returncode != 0
    assert res.stderr.startswith("error:") and len(res.stderr.splitlines()) == 1
    assert str(out) in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["design"]


def test_existing_folder_replaced_as_a_whole_on_success(good_model, out):
    res = run_generator(good_model, out)       # an earlier output
    assert res.returncode == 0, res.stderr
    (out / "keep.txt").write_text("old\n")
    res = run_generator(good_model, out)
    assert res.returncode == 0, res.stderr
    assert not (out / "keep.txt").exists()
    assert (out / "report.json").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["design"]   # no temp/old left


# --------------------------------------------------------------------------- good models
def test_good_small_model_generates(good_model, out):
    res = run_generator(good_model, out, "--name", "small_net")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "error" not in res.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["topology"] == [5, 3, 2]
    assert report["name"] == "small_net"
    for f in ("small_net_top.vhd", "small_net_core.vhd", "small_net_l0_weights.vhd",
              "small_net_l1_layer.vhd", "quantized.npz", "vectors/expected.csv"):
        assert (out / f).is_file(), f
    # the manifest follows the contract: Wq = round_half_away(W / (max|W| / 127))
    with np.load(good_model) as src, np.load(out / "quantized.npz", allow_pickle=False) as q:
        for l in range(2):
            W = src[f"W{l}"]
            scaled = W / (np.max(np.abs(W)) / 127)
            expected = [[int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in row] for row in scaled]
            assert q[f"W{l}"].tolist() == expected
            assert int(np.abs(q[f"W{l}"]).max()) == 127


def test_lab_single_layer_w_and_b(write_model, out):
    rng = np.random.default_rng(7)
    W, b = rng.normal(0, 0.3, (10, 6)), rng.normal(0, 0.1, 10)
    model = write_model("lab.npz", W=W, b=b)
    res = run_generator(model, out)
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "report.json").read_text())["topology"] == [6, 10]
    with np.load(out / "quantized.npz", allow_pickle=False) as q:
        assert q["W0"].shape == (10, 6)
        sw = np.max(np.abs(W)) / 127
        assert q["b0"].tolist() == [int(np.sign(v) * np.floor(abs(v) + 0.5))
                                    for v in b / ((1 / 255) * sw)]


def test_lab_single_layer_w_alone(write_model, out):
    W = np.array([[0.3, -1.0, 0.25, 0.0]])       # the lab's one neuron: "is it a 0?"
    model = write_model("lab_w.npz", W=W)
    res = run_generator(model, out)
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "report.json").read_text())["topology"] == [4, 1]
    with np.load(out / "quantized.npz", allow_pickle=False) as q:
        assert q["b0"].tolist() == [0]                       # no bias: zero
        assert q["W0"].tolist() == [[38, -127, 32, 0]]       # sw = 1/127: 38.1 -> 38, 31.75 -> 32


# --------------------------------------------------------------------------- warnings (issue 11)
def tree_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under root, by relative path: a user's files before / after."""
    import hashlib
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_one_warning(res: subprocess.CompletedProcess, *words: str) -> str:
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    warnings = [x for x in (res.stdout + res.stderr).splitlines() if x.startswith("warning:")]
    assert len(warnings) == 1, res.stdout + res.stderr
    for word in words:
        assert word in warnings[0], f"{word!r} not in: {warnings[0]}"
    return warnings[0]


@pytest.mark.parametrize("sizes, args, words", [
    # 300 multiply-accumulates in DSP blocks on a part with 220
    ((10, 300), ("--dsp-budget", "300"), ("300 DSP48E1", "has 220", "xc7z020")),
    # one ROM per neuron: 130 RAMB18 + the input buffer on a part with 120
    ((784, 130), ("--neurons-per-rom", "1", "--part", "xc7z010"),
     ("131 RAMB18", "has 120", "xc7z010")),
])
def test_design_that_does_not_fit_the_part_warns(write_model, tmp_path, out, sizes, args, words):
    model = write_model("big.npz", **small_net(np.random.default_rng(3), sizes))
    before = tree_hashes(tmp_path)
    res = run_generator(model, out, *args)
    assert_one_warning(res, *words)
    report = json.loads((out / "report.json").read_text())
    assert report["capacity"]["over"] == [words[0].split()[1]]
    after = tree_hashes(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before
    assert (out / "big_top.vhd").is_file()


def test_design_that_fits_does_not_warn(good_model, out):
    res = run_generator(good_model, out)
    assert res.returncode == 0 and "warning:" not in res.stdout + res.stderr
    assert json.loads((out / "report.json").read_text())["capacity"]["over"] == []


def test_weights_that_quantize_to_nothing_warn(write_model, tmp_path, out):
    """1e-6 weights in fixed point Q.6: every weight is 0, and the tool said nothing."""
    arrays = {k: v * 1e-6 for k, v in small_net(np.random.default_rng(5)).items()}
    model = write_model("tiny.npz", **arrays)
    before = tree_hashes(tmp_path)
    res = run_generator(model, out, "--encoding", "fixed", "--frac-bits", "6")
    assert_one_warning(res, "layer 0 100%", "layer 1 100%", "--frac-bits")
    report = json.loads((out / "report.json").read_text())
    assert [x["zero_weight_share"] for x in report["layers"]] == [1.0, 1.0]
    assert [x["lost_weight_share"] for x in report["layers"]] == [1.0, 1.0]
    assert report["layers"][0]["bias_max_rel_error"] == 1.0      # every bias became 0
    after = tree_hashes(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before


def test_two_bit_weights_mostly_zero_warn(write_model, out):
    """2 bits: codes -1, 0, 1 with sw = max|W|, so every weight under half the largest is
    0; one large weight per layer makes that almost all of them."""
    rng = np.random.default_rng(6)
    arrays = small_net(rng, (40, 8, 3))
    for l in range(2):
        arrays[f"W{l}"].flat[0] = 10.0
    model = write_model("w2.npz", **arrays)
    res = run_generator(model, out, "--weight-bits", "2")
    line = assert_one_warning(res, "--weight-bits (now 2)")
    report = json.loads((out / "report.json").read_text())
    with np.load(model) as src, np.load(out / "quantized.npz") as q:
        for l in range(2):
            lost = np.mean(q[f"W{l}"][src[f"W{l}"] != 0] == 0)
            assert lost > 0.9 and report["layers"][l]["lost_weight_share"] == round(lost, 6)
            assert f"layer {l} {100 * lost:.0f}%" in line


def test_eight_bit_weights_do_not_warn(good_model, out):
    res = run_generator(good_model, out)
    report = json.loads((out / "report.json").read_text())
    assert "warning:" not in res.stdout + res.stderr
    assert all(x["lost_weight_share"] < 0.1 for x in report["layers"])


# --------------------------------------------------------------------------- floats as inputs
def test_scaled_float_vectors_become_codes(good_model, tmp_path, out):
    """0.0 / 1.0 are black and white (codes 0 and 255), not the codes 0 and 1."""
    X = np.array([[0.0, 1.0, 1.0, 0.0, 128 / 255]], dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    res = run_generator(good_model, out, "--vectors", tmp_path / "X.npy")
    assert res.returncode == 0, res.stderr
    assert (out / "vectors" / "inputs.csv").read_text() == "0,255,255,0,128\n"


@pytest.mark.parametrize("values, why", [
    ([0.0, 0.5, 1.0, 0.25, 0.0], "off the code grid"),     # 0.5 * 255 = 127.5
    ([0.0, 1.0, 2.0, 0.0, 0.0], "out of range"),           # 2.0 * 255 = 510
])
def test_floats_off_the_grid_are_refused(good_model, tmp_path, out, values, why):
    np.save(tmp_path / "X.npy", np.array([values]))
    before = tree_hashes(tmp_path)
    line = assert_clean_failure(run_generator(good_model, out, "--vectors", tmp_path / "X.npy"),
                                out, "X.npy", why, "integer codes", "scaled floats")
    assert "0..255" in line
    assert tree_hashes(tmp_path) == before


def test_float_calibration_off_the_grid_is_refused(good_model, tmp_path, out):
    np.save(tmp_path / "C.npy", np.full((3, 5), 0.3))     # 76.5
    assert_clean_failure(run_generator(good_model, out, "--calibration", tmp_path / "C.npy"),
                         out, "C.npy", "off the code grid")


def test_model_mode_refuses_floats_off_the_grid_before_simulating(good_model, tmp_path):
    np.save(tmp_path / "X.npy", np.full((2, 5), 0.3))
    before = tree_hashes(tmp_path)
    res = subprocess.run([sys.executable, str(PROJECT / "vunit_run.py"), "--model",
                          str(good_model), "--inputs", str(tmp_path / "X.npy"), "--results",
                          str(tmp_path / "R.npz")], cwd=PROJECT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "off the code grid" in lines[0]
    assert tree_hashes(tmp_path) == before
