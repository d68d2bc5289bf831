"""mnist_data: the IDX reader, its errors, the digits fallback and the choice of source."""
from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mnist_data  # noqa: E402
from model_files import InputError  # noqa: E402

# real MNIST in IDX form: MNIST_DIR, else the offline split beside the project
SHARED_MNIST = Path(os.environ.get("MNIST_DIR")
                    or ROOT.parent / "shared" / "datasets" / "mnist-t10k-split")


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
    """Real tensorflow-datasets, no MNIST in its cache, download host unreachable: the
    choice falls back to the 8x8 digits at once and says why."""
    import tensorflow_datasets as tfds
    if tfds.builder("mnist").is_prepared():
        pytest.skip("MNIST is in this machine's tfds cache; the fallback cannot be shown")
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(mnist_data, "TFDS_HOST", ("host.invalid", 443))
    said = []
    ds = mnist_data.load_digits_data(log=said.append)
    assert ds.source == "sklearn:digits" and ds.side == 8
    assert "ConnectionError" in said[0] and "unreachable" in said[0]
    assert "8x8 digits" in said[0]
    assert ds.x_train.max() == 255 and ds.x_train.dtype == np.uint8   # 16 -> 255
    assert len(ds.x_train) + len(ds.x_test) == 1797


def test_explicit_mnist_unreachable_is_one_clear_error(monkeypatch):
    import tensorflow_datasets as tfds
    if tfds.builder("mnist").is_prepared():
        pytest.skip("MNIST is in this machine's tfds cache")
    monkeypatch.setattr(mnist_data, "TFDS_HOST", ("host.invalid", 443))
    with pytest.raises(InputError, match="tensorflow-datasets could not deliver MNIST.*"
                                         "--data digits"):
        mnist_data.load_digits_data("mnist")


def test_tfds_path_with_mock_data(monkeypatch):
    """tfds.data_source under tfds.testing.mock_data (offline, random images): the images
    arrive as (n, 784) uint8 with labels 0..9, and the choice says it used tfds."""
    import tensorflow_datasets as tfds
    monkeypatch.delenv("MNIST_DIR", raising=False)
    # mock_data serves no files, so the cache looks empty: let the download check pass
    monkeypatch.setattr(mnist_data, "tfds_download_reachable", lambda timeout=3.0: True)
    said = []
    with tfds.testing.mock_data(num_examples=12):
        ds = mnist_data.load_digits_data(log=said.append)
        src = tfds.data_source("mnist", split="test")
        first = np.asarray(src[0]["image"]).reshape(-1)
    assert ds.source == "tfds:mnist" and ds.side == 28
    assert ds.x_train.shape == (12, 784) and ds.x_test.shape == (12, 784)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert set(ds.y_train) <= set(range(10))
    assert np.array_equal(ds.x_test[0], first)   # pixel order kept (row-major 28x28)
    assert "tensorflow-datasets delivered MNIST" in said[0]


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="offline MNIST split not present")
def test_offline_mnist_split():
    ds = mnist_data.load_idx_folder(SHARED_MNIST)
    # the offline split: 8,000 / 2,000 images; the full MNIST: 60,000 / 10,000
    assert (len(ds.x_train), len(ds.x_test)) in {(8000, 2000), (60000, 10000)}
    assert ds.x_train.shape[1] == 784 and ds.x_test.shape[1] == 784
    assert set(np.unique(ds.y_test)) == set(range(10))
