"""The command line refuses bad inputs cleanly: `python vhdl_generator.py MODEL --out DIR ...`.

For every bad model file, option or input array the generator must exit non-zero, print
exactly one line "error: ..." on stderr that names the offending file / option / name, print
no traceback, and leave the output folder as it was (not created; a user's folder untouched).
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
GENERATOR = PROJECT / "vhdl_generator.py"
sys.path.insert(0, str(PROJECT))


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


def test_existing_folder_replaced_as_a_whole_on_success(write_model, out):
    """An earlier output holding only what the generator wrote is replaced as a whole: the
    files of the earlier design that the new one does not have are gone, and so is the
    estimate.json estimate.py wrote for it; nothing is left beside the folder."""
    rng = np.random.default_rng(5)
    res = run_generator(write_model("deep.npz", **small_net(rng, (5, 4, 3, 2))), out,
                        "--name", "net")
    assert res.returncode == 0, res.stderr
    assert (out / "net_l2_layer.vhd").exists()
    # as estimate.py writes it (without the synthesis): recorded in the folder's ledger
    import output_files
    output_files.write_file(out / "estimate.json", json.dumps({"tool": "bram-mlp 0.1.0"}) + "\n")
    res = run_generator(write_model("flat.npz", **small_net(rng, (5, 2))), out, "--name", "net")
    assert res.returncode == 0, res.stderr
    assert not (out / "net_l1_layer.vhd").exists() and not (out / "estimate.json").exists()
    assert json.loads((out / "report.json").read_text())["topology"] == [5, 2]
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
    before = tree_state(tmp_path)
    res = run_generator(model, out, *args)
    assert_one_warning(res, *words)
    report = json.loads((out / "report.json").read_text())
    assert report["capacity"]["over"] == [words[0].split()[1]]
    after = tree_state(tmp_path)
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
    before = tree_state(tmp_path)
    res = run_generator(model, out, "--encoding", "fixed", "--frac-bits", "6")
    assert_one_warning(res, "layer 0 100%", "layer 1 100%", "--frac-bits")
    report = json.loads((out / "report.json").read_text())
    assert [x["zero_weight_share"] for x in report["layers"]] == [1.0, 1.0]
    assert [x["lost_weight_share"] for x in report["layers"]] == [1.0, 1.0]
    assert report["layers"][0]["bias_max_rel_error"] == 1.0      # every bias became 0
    after = tree_state(tmp_path)
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
    before = tree_state(tmp_path)
    line = assert_clean_failure(run_generator(good_model, out, "--vectors", tmp_path / "X.npy"),
                                out, "X.npy", why, "integer codes", "scaled floats")
    assert "0..255" in line
    assert tree_state(tmp_path) == before


def test_float_calibration_off_the_grid_is_refused(good_model, tmp_path, out):
    np.save(tmp_path / "C.npy", np.full((3, 5), 0.3))     # 76.5
    assert_clean_failure(run_generator(good_model, out, "--calibration", tmp_path / "C.npy"),
                         out, "C.npy", "off the code grid")


def test_model_mode_refuses_floats_off_the_grid_before_simulating(good_model, tmp_path):
    np.save(tmp_path / "X.npy", np.full((2, 5), 0.3))
    before = tree_state(tmp_path)
    res = subprocess.run([sys.executable, str(PROJECT / "vunit_run.py"), "--model",
                          str(good_model), "--inputs", str(tmp_path / "X.npy"), "--results",
                          str(tmp_path / "R.npz")], cwd=PROJECT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2 and "Traceback" not in res.stdout + res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "off the code grid" in lines[0]
    assert tree_state(tmp_path) == before


# =========================================================================== issue 11
# The rule: the tool never deletes or overwrites a file it did not write. Every refusal
# below is one "error:" line, exit status 2, no traceback, and every file that existed
# before is byte-identical afterwards (the whole tree is hashed before and after).
VUNIT_RUN = PROJECT / "vunit_run.py"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def chmod_is_ignored() -> bool:
    """Root (with CAP_DAC_OVERRIDE) writes into a chmod a-w folder anyway: try it. (Root
    without it, e.g. under setpriv --inh-caps=-all --bounding-set=-all, does not.)"""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        ro = Path(d) / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            (ro / "probe").write_text("")
            return True
        except PermissionError:
            return False
        finally:
            ro.chmod(0o755)


CHMOD_IGNORED = IS_ROOT and chmod_is_ignored()
CHMOD_SKIP = "running as root, which ignores chmod; the simulated test above covers it"


def tree_state(*roots: Path) -> dict[str, str]:
    """Every file (sha256), folder and symbolic link under roots, with its mode bits."""
    state = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                st = path.lstat()
                if path.is_symlink():
                    what = "link " + os.readlink(path)
                elif path.is_dir():
                    what = "dir"
                else:
                    what = hashlib.sha256(path.read_bytes()).hexdigest()
                state[str(path)] = f"{what} {stat.S_IMODE(st.st_mode):o}"
    return state


def assert_refused(returncode: int, stdout: str, stderr: str, *names: str) -> str:
    """Exit status 2, exactly one 'error:' line on stderr naming each of `names`, and no
    traceback anywhere."""
    assert "Traceback" not in stdout + stderr, stderr
    assert returncode == 2, (returncode, stdout[-2000:], stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    for name in names:
        assert name in lines[0], f"{name!r} not named in: {lines[0]}"
    return lines[0]


def refused(res: subprocess.CompletedProcess, *names: str) -> str:
    return assert_refused(res.returncode, res.stdout, res.stderr, *names)


def run_vunit(*args, timeout: int = 120) -> subprocess.CompletedProcess:
    """vunit_run.py: every check below happens before GHDL runs (a short timeout; the
    old code, which simulated first, ran into it)."""
    return subprocess.run([sys.executable, str(VUNIT_RUN), *map(str, args)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout)


def main_in_process(main, argv: list[str], capsys) -> tuple[int, str, str]:
    """Run a tool's main() in this process (so that os functions can be monkeypatched)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def earlier_output(good_model, out) -> Path:
    """`out` holding an earlier output of the generator."""
    res = run_generator(good_model, out)
    assert res.returncode == 0, res.stderr
    return out


def simulate_read_only(monkeypatch, *folders: Path) -> None:
    """Make `folders` behave as if chmod a-w, also for root (who ignores permissions): os
    functions that create, remove or rename an entry in one of them raise PermissionError,
    and os.access says no. The folders are known by inode, so a folder stays read-only when
    renamed, as a real one does."""
    denied = {(st.st_dev, st.st_ino) for st in (os.stat(f) for f in folders)}

    def is_denied(path, dir_fd=None) -> bool:
        try:
            if dir_fd is not None and not os.path.isabs(os.fsdecode(path)):
                parent = os.fstat(dir_fd) if os.path.dirname(os.fsdecode(path)) == "" else \
                    real_stat(os.path.dirname(os.fsdecode(path)), dir_fd=dir_fd)
            else:
                parent = real_stat(os.path.dirname(os.path.abspath(os.fsdecode(path))))
        except OSError:
            return False
        return (parent.st_dev, parent.st_ino) in denied

    def deny(path):
        raise PermissionError(errno.EACCES, "Permission denied (simulated)", os.fsdecode(path))

    real_stat, real_access = os.stat, os.access
    real = {n: getattr(os, n) for n in ("mkdir", "unlink", "remove", "rmdir", "rename",
                                        "replace", "open")}

    def access(path, mode, **kw):
        try:
            st = real_stat(path)
        except OSError:
            return real_access(path, mode, **kw)
        if mode & os.W_OK and (st.st_dev, st.st_ino) in denied:
            return False
        return real_access(path, mode, **kw)

    def one_path(name):
        def f(path, *a, dir_fd=None, **kw):
            if is_denied(path, dir_fd):
                deny(path)
            return real[name](path, *a, dir_fd=dir_fd, **kw) if dir_fd is not None else \
                real[name](path, *a, **kw)
        return f

    def two_paths(name):
        def f(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
            if is_denied(src, src_dir_fd) or is_denied(dst, dst_dir_fd):
                deny(src)
            return real[name](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
        return f

    def open_(path, flags, mode=0o777, *, dir_fd=None):
        if flags & os.O_CREAT and is_denied(path, dir_fd):
            deny(path)
        return real["open"](path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "access", access)
    for name in ("mkdir", "unlink", "remove", "rmdir"):
        monkeypatch.setattr(os, name, one_path(name))
    for name in ("rename", "replace"):
        monkeypatch.setattr(os, name, two_paths(name))
    monkeypatch.setattr(os, "open", open_)


# --------------------------------------------------------------------------- 4: user files
def test_user_files_in_an_earlier_output_are_kept(good_model, earlier_output, tmp_path):
    """4a: generate into D, add D/board.xdc and D/mywork/f.vhd, generate again: refused."""
    (earlier_output / "board.xdc").write_text("set_property PACKAGE_PIN H16 [get_ports clk]\n")
    (earlier_output / "mywork").mkdir()
    (earlier_output / "mywork" / "f.vhd").write_text("-- mine\n")
    before = tree_state(tmp_path)
    line = refused(run_generator(good_model, earlier_output), str(earlier_output),
                   "board.xdc", "mywork/f.vhd", "--out")
    assert tree_state(tmp_path) == before, line


def test_user_folder_in_an_earlier_output_is_kept(good_model, earlier_output, tmp_path):
    """4a: an (empty) folder of the user's in an earlier output is not the generator's."""
    (earlier_output / "sim").mkdir()
    before = tree_state(tmp_path)
    refused(run_generator(good_model, earlier_output), "sim/")
    assert tree_state(tmp_path) == before


def test_generated_file_edited_by_the_user_is_kept(good_model, earlier_output, tmp_path):
    """4a: a generated file changed since (its sha256 is not the manifest's) is the user's
    work now: refused, named as changed."""
    top = earlier_output / "good_top.vhd"
    top.write_text(top.read_text() + "-- my fix\n")
    before = tree_state(tmp_path)
    line = refused(run_generator(good_model, earlier_output), "good_top.vhd")
    assert "changed" in line
    assert tree_state(tmp_path) == before


def test_many_user_files_name_five(good_model, earlier_output, tmp_path):
    for k in range(8):
        (earlier_output / f"note{k}.txt").write_text(f"{k}\n")
    before = tree_state(tmp_path)
    line = refused(run_generator(good_model, earlier_output), "note0.txt", "note4.txt",
                   "and 3 more")
    assert "note5.txt" not in line
    assert tree_state(tmp_path) == before


@pytest.mark.parametrize("which", ["model", "vectors", "calibration"])
def test_inputs_inside_the_output_folder_are_kept(good_model, earlier_output, tmp_path, which):
    """4b: vhdl_generator.py D/net.npz --out D --vectors D/X.npy (or --calibration D/C.npy)."""
    model = good_model
    args = []
    if which == "model":
        model = earlier_output / "net.npz"
        shutil.copyfile(good_model, model)
    else:
        path = earlier_output / f"{which}.npy"
        np.save(path, np.full((4, 5), 9, dtype=np.uint8))
        args = [f"--{which}", path]
    before = tree_state(tmp_path)
    refused(run_generator(model, earlier_output, *args), f"{which if which != 'model' else 'net'}")
    assert tree_state(tmp_path) == before


def test_a_report_json_alone_does_not_make_a_folder_ours(good_model, out, tmp_path):
    """4c: a folder with a report.json whose tool is "bram-mlp..." but no manifest, holding
    a file the generator never writes (thesis.tex): refused."""
    out.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps({"tool": "bram-mlp 0.1.0"}) + "\n")
    (out / "thesis.tex").write_text("\\documentclass{article}\n")
    before = tree_state(tmp_path)
    refused(run_generator(good_model, out), "thesis.tex")
    assert tree_state(tmp_path) == before


def test_output_written_before_the_manifest(good_model, earlier_output, tmp_path):
    """4c: an output from before report.json had its manifest is checked by file names:
    the generator's own names are replaced, anything else (thesis.tex) is refused."""
    report = json.loads((earlier_output / "report.json").read_text())
    report.pop("files", None)   # (an output of the old code has none)
    (earlier_output / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (earlier_output / ".bram-mlp-files.json").unlink()   # nor a ledger
    (earlier_output / "thesis.tex").write_text("\\documentclass{article}\n")
    before = tree_state(tmp_path)
    refused(run_generator(good_model, earlier_output), "thesis.tex")
    assert tree_state(tmp_path) == before
    (earlier_output / "thesis.tex").unlink()
    res = run_generator(good_model, earlier_output)
    assert res.returncode == 0, res.stderr
    assert "files" in json.loads((earlier_output / "report.json").read_text())


@pytest.fixture
def project_design(request):
    """A design name for runs without --out (hdl/generated/<name>/, coe/<name>/ in the
    project); whatever the test left there is removed afterwards."""
    name = f"zz_issue11_{request.node.name.split('[')[0][-20:].strip('_')}".lower()
    name = re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", name)).strip("_")
    folders = [PROJECT / "hdl" / "generated" / name, PROJECT / "coe" / name]
    assert not any(f.exists() for f in folders), folders
    yield name, folders
    for f in folders:
        shutil.rmtree(f, ignore_errors=True)


def test_coe_folder_with_user_notes_is_kept(good_model, tmp_path, project_design):
    """4d: no --out, coe/<name>/ holds one <name>_*.coe plus my_board_notes.txt: refused,
    and hdl/generated/<name>/ is not created either."""
    name, (hdl_dir, coe_dir) = project_design
    coe_dir.mkdir(parents=True)
    (coe_dir / f"{name}_l0_weights.coe").write_text("memory_initialization_radix=16;\n")
    (coe_dir / "my_board_notes.txt").write_text("J5 pin 3: start\n")
    before = tree_state(tmp_path, coe_dir)
    res = subprocess.run([sys.executable, str(GENERATOR), str(good_model), "--name", name],
                         cwd=PROJECT, capture_output=True, text=True, timeout=60)
    refused(res, str(coe_dir), "my_board_notes.txt")
    assert tree_state(tmp_path, coe_dir) == before
    assert not hdl_dir.exists()


def test_coe_folder_of_an_earlier_run_is_replaced(good_model, project_design):
    """Control for the test above: without --out, regenerating replaces hdl/generated/<name>/
    and coe/<name>/ (covered by the same manifest) without a complaint."""
    name, (hdl_dir, coe_dir) = project_design
    for _ in range(2):
        res = subprocess.run([sys.executable, str(GENERATOR), str(good_model), "--name", name],
                             cwd=PROJECT, capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
    assert (coe_dir / f"{name}_l0_weights.coe").is_file()
    assert (hdl_dir / "report.json").is_file() and not (hdl_dir / "coe").exists()


def test_vunit_run_out_follows_the_same_rule(good_model, earlier_output, tmp_path):
    """4: vunit_run.py --model M --out DIR generates into DIR: the same rule, checked
    before any simulation."""
    (earlier_output / "board.xdc").write_text("# mine\n")
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    before = tree_state(tmp_path)
    refused(run_vunit("--model", good_model, "--inputs", X, "--results", tmp_path / "R.npz",
                      "--out", earlier_output), "board.xdc")
    assert tree_state(tmp_path) == before


# --------------------------------------------------------------------------- 5: tracebacks
def test_out_under_a_file(good_model, tmp_path):
    """5a: --out below a file: one line, nothing created (also tests it as root)."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    before = tree_state(tmp_path)
    refused(run_generator(good_model, blocker / "design"), "notes.txt")
    assert tree_state(tmp_path) == before


def test_out_under_a_read_only_folder_simulated(good_model, tmp_path, capsys, monkeypatch):
    """5a: --out under a read-only folder (simulated: works as root too)."""
    import vhdl_generator as vg
    parent = tmp_path / "ro"
    parent.mkdir()
    before = tree_state(tmp_path)
    simulate_read_only(monkeypatch, parent)
    assert_refused(*main_in_process(vg.main, [good_model, "--out", parent / "design"], capsys),
                   str(parent))
    monkeypatch.undo()
    assert tree_state(tmp_path) == before


@pytest.mark.skipif(CHMOD_IGNORED, reason=CHMOD_SKIP)
def test_out_under_a_read_only_folder(good_model, tmp_path):
    """5a: --out under a read-only folder (chmod a-w, as a normal user)."""
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        before = tree_state(tmp_path)
        refused(run_generator(good_model, parent / "design"), str(parent))
        assert tree_state(tmp_path) == before
    finally:
        parent.chmod(0o755)


def test_read_only_earlier_output_simulated(good_model, earlier_output, tmp_path, capsys,
                                            monkeypatch):
    """5d: an earlier output made read-only, regenerated into: one line (exit 2), nothing
    changed, no hidden .<name>.old-<pid>/ left (simulated: works as root too)."""
    import vhdl_generator as vg
    before = tree_state(tmp_path)
    simulate_read_only(monkeypatch, earlier_output)
    assert_refused(*main_in_process(vg.main, [good_model, "--out", earlier_output], capsys),
                   str(earlier_output), "read-only")
    monkeypatch.undo()
    assert tree_state(tmp_path) == before


@pytest.mark.skipif(CHMOD_IGNORED, reason=CHMOD_SKIP)
def test_read_only_earlier_output(good_model, earlier_output, tmp_path):
    """5d: chmod a-w D, then regenerate into D (as a normal user)."""
    earlier_output.chmod(0o555)
    try:
        before = tree_state(tmp_path)
        refused(run_generator(good_model, earlier_output), str(earlier_output))
        assert tree_state(tmp_path) == before
    finally:
        earlier_output.chmod(0o755)


def junk_npz(path: Path, member: str, others: dict | None = None) -> Path:
    """An .npz whose `member` is not a .npy file (zipfile writes b'junk' as it)."""
    with zipfile.ZipFile(path, "w") as z:
        for key, value in (others or {}).items():
            buf = io.BytesIO()
            np.save(buf, value)
            z.writestr(f"{key}.npy", buf.getvalue())
        z.writestr(f"{member}.npy", b"junk")
    return path


@pytest.mark.parametrize("tool", ["vhdl_generator", "vunit_run"])
@pytest.mark.parametrize("where", ["model W0", "model calibration", "vectors", "calibration"])
def test_npz_member_that_is_not_npy(good_model, tmp_path, tool, where):
    """5c: zipfile.ZipFile('z.npz','w').writestr('W0.npy', b'junk'), as the model, as a
    member of it, and as the --vectors/--inputs/--calibration file."""
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    model, inputs, extra = good_model, X, []
    if where == "model W0":
        model = junk_npz(tmp_path / "z.npz", "W0", {"b0": np.zeros(3)})
        member = "W0"
    elif where == "model calibration":
        with np.load(good_model) as d:
            model = junk_npz(tmp_path / "z.npz", "calibration", dict(d))
        member = "calibration"
    else:
        bad = junk_npz(tmp_path / "z.npz", "X")
        member = "X"
        if where == "calibration":
            extra = ["--calibration", bad]
        else:
            inputs = bad
            if tool == "vhdl_generator":
                extra = ["--vectors", bad]
    out = tmp_path / "design"
    before = tree_state(tmp_path)
    if tool == "vhdl_generator":
        res = run_generator(model, out, *extra)
    else:
        res = run_vunit("--model", model, "--inputs", inputs, "--results", tmp_path / "R.npz",
                        *extra)
    line = refused(res, "z.npz", f"'{member}'")
    assert "not a numpy array" in line
    assert tree_state(tmp_path) == before


@pytest.mark.parametrize("case", ["folder", "under a file"])
def test_results_that_cannot_be_written(good_model, tmp_path, case):
    """5b: --results R.npz that is a folder or sits under a file: refused before the
    simulation (the old code simulated, then died with a traceback)."""
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    if case == "folder":
        results = tmp_path / "R.npz"
        results.mkdir()
    else:
        (tmp_path / "runs").write_text("a file\n")
        results = tmp_path / "runs" / "R.npz"
    before = tree_state(tmp_path)
    refused(run_vunit("--model", good_model, "--inputs", X, "--results", results), "R.npz")
    assert tree_state(tmp_path) == before


def test_results_in_a_read_only_folder_simulated(good_model, tmp_path, capsys, monkeypatch):
    """5b: --results in a read-only folder (simulated: works as root too), refused before
    generating or simulating."""
    import vunit_run
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    ro = tmp_path / "ro"
    ro.mkdir()
    before = tree_state(tmp_path)
    simulate_read_only(monkeypatch, ro)
    monkeypatch.setattr(vunit_run, "simulate_generated",
                        lambda *a, **k: pytest.fail("simulated before checking --results"))
    assert_refused(*main_in_process(vunit_run.main, ["--model", good_model, "--inputs", X,
                                                     "--results", ro / "R.npz"], capsys),
                   "R.npz", str(ro))
    monkeypatch.undo()
    assert tree_state(tmp_path) == before


@pytest.mark.skipif(CHMOD_IGNORED, reason=CHMOD_SKIP)
def test_results_in_a_read_only_folder(good_model, tmp_path):
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        before = tree_state(tmp_path)
        refused(run_vunit("--model", good_model, "--inputs", X, "--results", ro / "R.npz"),
                "R.npz")
        assert tree_state(tmp_path) == before
    finally:
        ro.chmod(0o755)


def test_results_written_atomically(tmp_path, monkeypatch):
    """5b: a write that fails halfway leaves the earlier R.npz as it was and no temporary
    file; the error is an InputError (one line), not a traceback."""
    import vunit_run
    from model_files import InputError
    import output_files
    results = tmp_path / "R.npz"
    sim = {"logits": np.zeros((2, 2), np.int64), "classes": np.zeros(2, np.int64),
           "cycles": np.zeros(2, np.int64)}
    vunit_run.write_results(results, sim)          # the earlier results
    earlier = results.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(InputError, match="R.npz"):
        vunit_run.write_results(results, sim)
    monkeypatch.undo()
    assert results.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [output_files.LEDGER, "R.npz"]
    vunit_run.write_results(results, sim)
    with np.load(results, allow_pickle=False) as r:
        assert sorted(r.files) == ["classes", "cycles", "logits"]


# --------------------------------------------------------------------------- 7: no-op options
@pytest.mark.parametrize("args, named", [
    (["--model", "M", "--lab", "1"], "--model"),
    (["--lab", "1", "--inputs", "X"], "--inputs"),
    (["--lab", "1", "--results", "R.npz"], "--results"),
    (["--lab", "1", "--out", "D"], "--out"),
    (["--lab", "1", "--weight-bits", "4"], "--weight-bits"),
    (["--lab-dir", "DIR"], "--lab-dir"),
    (["--out", "D"], "--out"),
    (["--weight-bits", "4"], "--weight-bits"),
])
def test_options_of_another_mode_are_refused(good_model, tmp_path, args, named):
    """7: an option the chosen mode ignores (--lab with --model, --out without --model, ...)
    is one error line, before any work."""
    subst = {"M": good_model, "X": tmp_path / "X.npy", "R.npz": tmp_path / "R.npz",
             "D": tmp_path / "D", "DIR": tmp_path / "subs"}
    np.save(tmp_path / "X.npy", np.zeros((2, 5), dtype=np.uint8))
    before = tree_state(tmp_path)
    refused(run_vunit(*[subst.get(a, a) for a in args], timeout=60), named)
    assert tree_state(tmp_path) == before


@pytest.mark.parametrize("exists", [False, True])
def test_lab_dir_without_a_submission(tmp_path, exists):
    """7: --lab N --lab-dir DIR with nothing to grade: reported as missing, with where it
    looked and how to write the exercise; DIR is not created (nor DIR/labN/)."""
    subs = tmp_path / "submissions" / "alice"
    if exists:
        subs.mkdir(parents=True)
    before = tree_state(tmp_path)
    line = refused(run_vunit("--lab", "1", "--lab-dir", subs, timeout=60),
                   str(subs / "lab1" / "neuron_mac.vhd"),
                   f"vhdl_generator.py --exercise 1 --out {subs}")
    assert tree_state(tmp_path) == before, line
    assert subs.exists() == exists


def test_lab_default_folder_gets_the_exercise(tmp_path, monkeypatch):
    """Control: `--lab N` on labs/work (the default) still writes the exercise first, as
    labs/README.md says (grading stopped right after, before any simulation)."""
    import labs
    work = tmp_path / "work"
    monkeypatch.setattr(labs, "WORK_DIR", work)

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(labs, "lab_design", stop)
    with pytest.raises(Stop):
        labs.run_lab(1, work_dir=work, log=lambda *_: None)
    assert "TODO (lab 1)" in (work / "lab1" / "neuron_mac.vhd").read_text()


# --------------------------------------------------------------------------- --design, --labels
@pytest.fixture
def generated(good_model, tmp_path) -> Path:
    out = tmp_path / "gen"
    assert run_generator(good_model, out).returncode == 0
    return out


@pytest.mark.parametrize("extra, named", [
    (("--weight-bits", "4"), "--weight-bits"),
    (("--out", "elsewhere"), "--out"),
    (("--model", "m.npz"), "--model"),
])
def test_design_mode_refuses_options_it_would_ignore(generated, tmp_path, extra, named):
    np.save(tmp_path / "X.npy", np.zeros((2, 5), np.uint8))
    before = tree_state(tmp_path)
    res = run_vunit("--design", generated, "--inputs", tmp_path / "X.npy", "--results",
                    tmp_path / "R.npz", *extra)
    assert_refused(res.returncode, res.stdout, res.stderr, named, "--design")
    assert tree_state(tmp_path) == before


@pytest.mark.parametrize("labels, why", [
    (np.zeros(3, np.int64), "one label per input image (2)"),
    (np.array([0, 2]), "classes 0..1"),
    (np.array([0.0, 1.0]), "integer array"),
])
def test_bad_labels_are_refused_before_simulating(generated, tmp_path, labels, why):
    np.save(tmp_path / "X.npy", np.zeros((2, 5), np.uint8))
    np.save(tmp_path / "y.npy", labels)
    before = tree_state(tmp_path)
    res = run_vunit("--design", generated, "--inputs", tmp_path / "X.npy", "--labels",
                    tmp_path / "y.npy", "--results", tmp_path / "R.npz")
    assert_refused(res.returncode, res.stdout, res.stderr, "y.npy", why)
    assert tree_state(tmp_path) == before


def test_design_mode_on_a_folder_that_is_no_design(tmp_path):
    (tmp_path / "d").mkdir()
    np.save(tmp_path / "X.npy", np.zeros((2, 5), np.uint8))
    res = run_vunit("--design", tmp_path / "d", "--inputs", tmp_path / "X.npy", "--results",
                    tmp_path / "R.npz")
    assert_refused(res.returncode, res.stdout, res.stderr, "report.json", "--design")


# --------------------------------------------------------------------------- beyond 48 bits
@pytest.mark.parametrize("arrays, args, named", [
    # a bias far larger than the weights' range: the bias needs 50 bits, the products 17
    ({"W0": np.array([[1.0, -0.5, 0.25]]), "b0": np.array([1e10])}, (),
     ("needs 50 bits", "48", "biases alone need 50 bits", "input_scale")),
    # a tiny input_scale: b / (sx * sw) is astronomically large
    ({"W0": np.array([[1.0, -0.5, 0.25]]), "b0": np.array([0.5]),
      "input_scale": np.float64(1e-300)}, (), ("sx = 1e-300", "tiny input_scale")),
    # really too many wide products: 70000 inputs of 16 bits x 16-bit weights
    ({"W0": np.ones((1, 70000)), "b0": np.zeros(1)},
     ("--weight-bits", "16", "--input-bits", "16"),
     ("needs 49 bits", "70000 inputs of 16 bits", "--weight-bits")),
])
def test_accumulators_beyond_48_bits_are_refused_with_the_cause(write_model, tmp_path, out,
                                                                  arrays, args, named):
    model = write_model("wide.npz", **arrays)
    before = tree_state(tmp_path)
    assert_clean_failure(run_generator(model, out, *args), out, *named)
    assert tree_state(tmp_path) == before


def test_accumulators_of_33_to_48_bits_are_accepted(write_model, out):
    """200-40-20-10 at 16-bit weights and activations: 35 bits, refused before issue 11."""
    model = write_model("w16.npz", **small_net(np.random.default_rng(9), (200, 40, 20, 10)))
    res = run_generator(model, out, "--weight-bits", "16", "--act-bits", "16")
    assert res.returncode == 0, res.stderr
    report = json.loads((out / "report.json").read_text())
    assert max(x["acc_bits"] for x in report["layers"]) > 32
    assert report["axis"]["m_axis_bits"] == 64
    assert (out / "requantizer_wide.vhd").is_file()
