"""Digit images for training and testing, from one of three sources.

    load_digits_data(source=None) -> Dataset

Choice (source=None): a folder of MNIST IDX files (the MNIST_DIR environment variable)
first, then MNIST through tensorflow-datasets (tfds.data_source, no TensorFlow needed), then
scikit-learn's bundled 8x8 digits, which always work offline. `source` may also be "mnist"
(tfds), "digits", or a folder. The Dataset says which source was used and why.

Pixels are uint8 codes 0..255 in every case (the 8x8 digits' 0..16 are scaled by 255/16 and
rounded), flattened to (n, 784) for MNIST or (n, 64) for digits.
IDX format: http://yann.lecun.com/exdb/mnist/ (big-endian magic 0x0803 images, 0x0801 labels).
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model_files import InputError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class Dataset:
    x_train: np.ndarray  # uint8 (n, n_pixels)
    y_train: np.ndarray  # int64 (n,)
    x_test: np.ndarray
    y_test: np.ndarray
    side: int            # images are side x side
    source: str          # "idx:<folder>", "tfds:mnist" or "sklearn:digits"
    reason: str          # why this source was chosen

    def describe(self) -> str:
        return (f"{self.source}: {len(self.x_train)} training and {len(self.x_test)} test "
                f"images of {self.side}x{self.side} ({self.reason})")


# --------------------------------------------------------------------------- IDX
def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: unreadable ({exc.__class__.__name__}: "
                         f"{str(exc)[:60]}); the file is truncated or not gzip") from None


def read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """One IDX file of unsigned bytes (images: 3 dims, labels: 1 dim)."""
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise InputError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    dims = data[3]
    if dims != expected_dims:
        raise InputError(f"{path}: has {dims} dimensions, expected {expected_dims}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise InputError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise InputError(f"{path}: holds {len(data) - header} bytes of data but its header "
                         f"says {shape} = {size}; the file is truncated or damaged")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_idx_folder(folder: str | Path) -> Dataset:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder of MNIST IDX files")
    arrays = {}
    for split, (images_stem, labels_stem) in IDX_FILES.items():
        images, labels = _find(folder, images_stem), _find(folder, labels_stem)
        if images is None or labels is None:
            missing = images_stem if images is None else labels_stem
            raise InputError(f"{folder}: no {missing}[.gz] (a folder of MNIST IDX files "
                             "holds train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, or .gz)")
        x = read_idx(images, 3)
        y = read_idx(labels, 1)
        if len(x) != len(y):
            raise InputError(f"{images}: {len(x)} images but {labels.name} has {len(y)} "
                             "labels")
        if x.shape[1] != x.shape[2]:
            raise InputError(f"{images}: images are {x.shape[1]}x{x.shape[2]}, not square")
        arrays[split] = (x.reshape(len(x), -1).copy(), y.astype(np.int64))
    side = int(np.sqrt(arrays["train"][0].shape[1]))
    return Dataset(*arrays["train"], *arrays["test"], side=side, source=f"idx:{folder}",
                   reason="a folder of MNIST IDX files was given")


# --------------------------------------------------------------------------- digits
def load_sklearn_digits(reason: str, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = np.rint(d.data * (255.0 / 16.0)).astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target.astype(np.int64),
                                              test_size=test_fraction, random_state=seed,
                                              stratify=d.target)
    return Dataset(x_tr, y_tr, x_te, y_te, side=8, source="sklearn:digits", reason=reason)


# --------------------------------------------------------------------------- tfds
TFDS_HOST = ("storage.googleapis.com", 443)  # where tensorflow-datasets downloads MNIST


def tfds_download_reachable(timeout: float = 3.0) -> bool:
    """Can tensorflow-datasets download? (Without this check an offline machine spends
    minutes in retries before tfds gives up.) Not asked behind an HTTPS proxy, which tfds
    uses and a direct connection would not."""
    import socket
    try:
        with socket.create_connection(TFDS_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def load_tfds_mnist() -> Dataset:
    """MNIST via tensorflow-datasets' data_source (no TensorFlow). Raises on any failure:
    ModuleNotFoundError without tensorflow-datasets, ConnectionError when MNIST is neither
    in the tfds cache nor downloadable."""
    import tensorflow_datasets as tfds  # fails early if not installed
    from absl import logging as absl_logging
    absl_logging.set_verbosity(absl_logging.ERROR)  # tfds warns about empty cache folders
    builder = tfds.builder("mnist")
    behind_proxy = any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY"))
    if not builder.is_prepared() and not behind_proxy and not tfds_download_reachable():
        raise ConnectionError(f"{TFDS_HOST[0]} is unreachable and MNIST is not in the "
                              "tfds cache")
    parts = {}
    for split in ("train", "test"):
        src = tfds.data_source("mnist", split=split)
        n = len(src)
        x = np.empty((n, 784), dtype=np.uint8)
        y = np.empty(n, dtype=np.int64)
        for i in range(n):
            ex = src[i]
            x[i] = np.asarray(ex["image"], dtype=np.uint8).reshape(-1)
            y[i] = int(ex["label"])
        parts[split] = (x, y)
    return Dataset(*parts["train"], *parts["test"], side=28, source="tfds:mnist",
                   reason="MNIST from tensorflow-datasets")


# --------------------------------------------------------------------------- choice
def load_digits_data(source: str | Path | None = None, log=print) -> Dataset:
    """Load by explicit source, or choose: MNIST_DIR, then tfds, then sklearn digits."""
    if source is not None and str(source) == "digits":
        ds = load_sklearn_digits("asked for the 8x8 digits")
    elif source is not None and str(source) == "mnist":
        try:
            ds = load_tfds_mnist()
        except Exception as exc:  # noqa: BLE001 - one line for the user, whatever tfds raised
            raise InputError(f"tensorflow-datasets could not deliver MNIST ("
                             f"{exc.__class__.__name__}: {str(exc)[:90]}); use --data digits "
                             "or --data DIR with the MNIST IDX files") from None
    elif source is not None:
        ds = load_idx_folder(source)
    elif os.environ.get("MNIST_DIR"):
        ds = load_idx_folder(os.environ["MNIST_DIR"])
        ds.reason = "MNIST_DIR is set"
    else:
        try:
            ds = load_tfds_mnist()
            ds.reason = "no MNIST_DIR; tensorflow-datasets delivered MNIST"
        except Exception as exc:  # noqa: BLE001 - any failure means: fall back, and say so
            ds = load_sklearn_digits(
                f"no MNIST_DIR, and tensorflow-datasets could not deliver MNIST: "
                f"{exc.__class__.__name__}: {str(exc)[:120]}; using the bundled 8x8 digits")
    log(f"data: {ds.describe()}")
    return ds
