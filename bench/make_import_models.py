#!/usr/bin/env python3
"""Train 784-256-10 on MNIST with three outside tools and export each as its users would,
for bench/bench_import.py.

    # in a venv with requirements.txt and requirements-import.txt (torch, keras):
    KERAS_BACKEND=torch python bench/make_import_models.py [--data DIR] [--out build/import_models]

Writes, into --out: torch_784_256_10.onnx (torch.onnx.export of Flatten, Linear, ReLU,
Linear), keras_784_256_10.keras and keras_784_256_10.onnx (Keras 3 Sequential of Dense
relu / Dense softmax, saved, and exported with model.export(format="onnx")),
skl_784_256_10.onnx (scikit-learn MLPClassifier through skl2onnx). Each takes the pixels
/ 255, as bram-mlp's models do. Data: --data, else MNIST_DIR, else the offline split
(../shared/datasets/mnist-t10k-split: 8,000 / 2,000 images from MNIST's test set). The
models are built from the data at run time and are not committed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from mnist_data import load_idx_folder  # noqa: E402

OFFLINE_SPLIT = ROOT.parent / "shared" / "datasets" / "mnist-t10k-split"
HIDDEN = 256
EPOCHS = 10


def make_torch(x: np.ndarray, y: np.ndarray, out: Path) -> Path:
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, HIDDEN),
                              torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt = torch.tensor(x / 255.0, dtype=torch.float32).reshape(-1, 1, 28, 28)
    yt = torch.tensor(y)
    gen = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        for idx in torch.randperm(len(xt), generator=gen).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    path = out / "torch_784_256_10.onnx"
    torch.onnx.export(net.eval(), xt[:1], str(path), input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}},
                      opset_version=17, dynamo=False)
    return path


def make_keras(x: np.ndarray, y: np.ndarray, out: Path) -> list[Path]:
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((784,)), keras.layers.Dense(HIDDEN, activation="relu"),
                            keras.layers.Dense(10, activation="softmax")])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    net.fit(x / 255.0, y, epochs=EPOCHS, batch_size=64, verbose=0)
    paths = [out / "keras_784_256_10.keras", out / "keras_784_256_10.onnx"]
    net.save(paths[0])
    net.export(str(paths[1]), format="onnx", verbose=False)
    return paths


def make_skl(x: np.ndarray, y: np.ndarray, out: Path) -> Path:
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier((HIDDEN,), max_iter=EPOCHS, random_state=0).fit(x / 255.0, y)
    onx = to_onnx(clf, (x[:1] / 255.0).astype(np.float32),
                  options={id(clf): {"zipmap": False}}, target_opset=17)
    path = out / "skl_784_256_10.onnx"
    path.write_bytes(onx.SerializeToString())
    return path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="a folder of MNIST IDX files")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "import_models")
    p.add_argument("--tools", default="torch,keras,skl")
    args = p.parse_args()
    data = args.data or os.environ.get("MNIST_DIR") or str(OFFLINE_SPLIT)
    ds = load_idx_folder(data)
    args.out.mkdir(parents=True, exist_ok=True)
    makers = {"torch": make_torch, "keras": make_keras, "skl": make_skl}
    for tool in args.tools.split(","):
        t0 = time.perf_counter()
        made = makers[tool](ds.x_train, ds.y_train, args.out)
        for path in made if isinstance(made, list) else [made]:
            print(f"{tool}: wrote {path} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
