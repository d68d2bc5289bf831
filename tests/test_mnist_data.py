"""mnist_data: the IDX reader, its errors, the digits fallback and the choice of source."""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mnist_data  # noqa: E402
from model_files import InputError  # noqa: E402

SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist-t10k-split"


def idx_bytes(arr: np.ndarray) -> bytes:
    """IDX encoding written here from the format's definition (magic 0,0,8,ndim; sizes)."""
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write_folder(folder: Path, n_train=6, n_test=4, side=4, gz=True, labels_train=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, labels_train or n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in parts.items():
        data = idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return parts


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    parts = write_folder(tmp_path / "m", gz=gz)
    ds = mnist_data.load_idx_folder(tmp_path / "m")
    assert ds.side == 4 and ds.x_train.shape == (6, 16) and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(ds.x_train, parts["train-images-idx3-ubyte"].reshape(6, 16))
    np.testing.assert_array_equal(ds.y_test, parts["t10k-labels-idx1-ubyte"])


def test_missing_file(tmp_path):
    write_folder(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match="t10k-labels-idx1-ubyte"):
        mnist_data.load_idx_folder(tmp_path / "m")


def test_truncated_file(tmp_path):
    write_folder(tmp_path / "m", gz=False)
    f = tmp_path / "m" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(InputError, match="truncated"):
        mnist_data.load_idx_folder(tmp_path / "m")


def test_truncated_gzip(tmp_path):
    write_folder(tmp_path / "m")
    f = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:20])
    with pytest.raises(InputError, match="train-images-idx3-ubyte.gz"):
        mnist_data.load_idx_folder(tmp_path / "m")


def test_count_mismatch(tmp_path):
    write_folder(tmp_path / "m", labels_train=5)
    with pytest.raises(InputError, match="6 images but .* 5 labels"):
        mnist_data.load_idx_folder(tmp_path / "m")


def test_folder_without_mnist(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no train-images-idx3-ubyte"):
        mnist_data.load_idx_folder(tmp_path / "empty")


def test_mnist_dir_wins(tmp_path, monkeypatch):
    write_folder(tmp_path / "m")
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "m"))
    said = []
    ds = mnist_data.load_digits_data(log=said.append)
    assert ds.source.startswith("idx:") and "MNIST_DIR" in said[0]


def test_falls_back_to_digits_and_says_why(monkeypatch):
    monkeypatch.delenv("MNIST_DIR", raising=False)

    def unreachable():
        raise ConnectionError("no network")
    monkeypatch.setattr(mnist_data, "load_tfds_mnist", unreachable)
    said = []
    ds = mnist_data.load_digits_data(log=said.append)
    assert ds.source == "sklearn:digits" and ds.side == 8
    assert "ConnectionError" in said[0] and "8x8 digits" in said[0]
    assert ds.x_train.max() == 255 and ds.x_train.dtype == np.uint8   # 16 -> 255
    assert len(ds.x_train) + len(ds.x_test) == 1797


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="offline MNIST split not present")
def test_offline_mnist_split():
    ds = mnist_data.load_idx_folder(SHARED_MNIST)
    assert ds.x_train.shape == (8000, 784) and ds.x_test.shape == (2000, 784)
    assert set(np.unique(ds.y_test)) == set(range(10))
