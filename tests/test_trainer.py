"""trainer.py on the offline 8x8 digits: the three networks train, export the DESIGN.md
schema, and the exported file goes through the generator and the simulated hardware."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mnist_data  # noqa: E402
import trainer  # noqa: E402
from model_files import read_float_model  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return mnist_data.load_sklearn_digits("test")


@pytest.mark.parametrize("network,shapes,min_acc", [
    ("1", [(1, 64)], 0.95),            # "is it a 0?": 90 % of the digits are not zeros
    ("10", [(10, 64)], 0.85),
    ("256+10", [(256, 64), (10, 256)], 0.90),
    ("64+64+64+10", [(64, 64), (64, 64), (64, 64), (10, 64)], 0.85),
])
def test_networks_train_and_export(digits, tmp_path, network, shapes, min_acc):
    t = trainer.train(network, digits, max_iter=60, log=lambda *_: None)
    assert [w.shape for w in t.model.W] == shapes
    assert t.test_accuracy >= min_acc
    path = tmp_path / trainer.model_filename(network, digits)
    trainer.save_model(t.model, path)
    back = read_float_model(path)          # the generator's reader accepts it
    assert [w.shape for w in back.W] == shapes
    assert back.calibration.shape == (256, 64) and back.input_scale == pytest.approx(1 / 255)
    # the float predictions are sklearn's: compare with an independent forward pass
    x = digits.x_test.astype(np.float64) / 255
    a = x
    for l, (W, b) in enumerate(zip(back.W, back.b)):
        a = a @ W.T + b
        a = np.maximum(a, 0) if l < len(back.W) - 1 else a
    pred = (a[:, 0] > 0).astype(int) if a.shape[1] == 1 else a.argmax(1)
    assert np.mean(pred == trainer.labels_for(network, digits.y_test)) == pytest.approx(
        t.test_accuracy, abs=0.01)


def test_training_is_reproducible(digits):
    a = trainer.train("10", digits, max_iter=20, seed=3, log=lambda *_: None)
    b = trainer.train("10", digits, max_iter=20, seed=3, log=lambda *_: None)
    np.testing.assert_array_equal(a.model.W[0], b.model.W[0])


def test_cli_trains_and_simulates(tmp_path):
    r = subprocess.run([sys.executable, "trainer.py", "--network", "10", "--data", "digits",
                        "--iterations", "30", "--out", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "sklearn:digits" in r.stdout
    model = tmp_path / "digits_10.npz"
    ds = mnist_data.load_sklearn_digits("test")
    np.save(tmp_path / "X.npy", ds.x_test[:20])
    r = subprocess.run([sys.executable, "vunit_run.py", "--model", str(model), "--inputs",
                        str(tmp_path / "X.npy"), "--results", str(tmp_path / "R.npz")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
    assert "equal to the integer reference model: yes" in r.stdout


def test_cli_bad_data_folder(tmp_path):
    r = subprocess.run([sys.executable, "trainer.py", "--data", str(tmp_path / "nope")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error:") and "nope" in r.stderr


def qat_cli(tmp_path, *args):
    return subprocess.run([sys.executable, "trainer.py", "--qat", "--data", "digits",
                           "--out", str(tmp_path / "m"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_qat_options_are_checked(tmp_path):
    """--qat: widths outside 2..8 and the one-output network are refused before any work,
    one line, exit 2, nothing written."""
    for args, words in ((["--weight-bits", "9"], "--weight-bits must be 2..8"),
                        (["--act-bits", "1"], "--act-bits must be 2..8"),
                        (["--network", "1"], "one output per class")):
        r = qat_cli(tmp_path, *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert r.stderr.startswith("error:") and words in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1
        assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


@pytest.mark.skipif(__import__("importlib").util.find_spec("brevitas") is not None,
                    reason="brevitas is installed here: QAT would run")
def test_cli_qat_without_brevitas_says_what_to_install(tmp_path):
    r = qat_cli(tmp_path, "--iterations", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "pip install -r requirements-import.txt" in r.stderr, r.stderr
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_cli_exports_the_test_split(tmp_path):
    """--export-test DIR: the test images as vunit_run.py --inputs takes them (uint8 codes)
    and the labels as the network answers them ("1": 1 = it is a 0)."""
    r = subprocess.run([sys.executable, "trainer.py", "--network", "1", "--data", "digits",
                        "--iterations", "5", "--out", str(tmp_path),
                        "--export-test", str(tmp_path / "test")], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    ds = mnist_data.load_sklearn_digits("test")
    X, y = np.load(tmp_path / "test" / "X.npy"), np.load(tmp_path / "test" / "y.npy")
    assert X.dtype == np.uint8 and X.shape == (len(ds.y_test), 64)
    np.testing.assert_array_equal(X, ds.x_test)
    np.testing.assert_array_equal(y, (ds.y_test == 0).astype(np.int64))
    assert f"wrote {len(ds.y_test)} test images" in r.stdout
