#!/usr/bin/env python3
"""trainer.py: train the lab's MLPs with scikit-learn and export them for vhdl_generator.py.

    python trainer.py --network 256+10 --data digits --out models/

    python trainer.py --qat --weight-bits 2 --act-bits 2 --network 64+64+64+10

Networks: "1" (one neuron: "is it a 0?"), "10" (one neuron per digit), "256+10" (256 ReLU
neurons, then 10), "64+64+64+10" (the shape of FINN's TFC). --qat trains with Brevitas
(quantization-aware, qat.py; torch and brevitas from requirements-import.txt) and exports
QONNX, which vhdl_generator.py builds from its own integers. Data: "mnist" (tensorflow-datasets), "digits" (scikit-learn's 8x8
digits, offline), a folder of MNIST IDX files, or nothing (MNIST_DIR, then tfds, then
digits; see mnist_data.py). Training is seeded: the same command gives the same model.

The .npz follows DESIGN.md: W{l} (n_out, n_in), b{l}, input_scale = 1/255 (inputs are
uint8 pixels), calibration = 256 training images (input codes) for the generator.
"""
from __future__ import annotations

import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import output_files as outfiles
from mnist_data import Dataset, load_digits_data
from model_files import FloatModel, InputError, OneLineArgumentParser

NETWORKS = {"1": (), "10": (), "256+10": (256,), "64+64+64+10": (64, 64, 64)}
INPUT_SCALE = 1.0 / 255.0
N_CALIBRATION = 256


@dataclass
class Trained:
    network: str
    model: FloatModel
    train_accuracy: float
    test_accuracy: float
    seconds: float


def labels_for(network: str, y: np.ndarray) -> np.ndarray:
    """The "1" network answers "is it a 0?": label 1 for zeros, 0 otherwise."""
    return (y == 0).astype(np.int64) if network == "1" else y


def float_predict(model: FloatModel, x_codes: np.ndarray) -> np.ndarray:
    """Class of each image with the float model (1-output: logit > 0)."""
    a = x_codes.astype(np.float64) * model.input_scale
    for l, (W, b) in enumerate(zip(model.W, model.b)):
        a = a @ W.T + b
        if l < len(model.W) - 1:
            a = np.maximum(a, 0.0)
    return (a[:, 0] > 0).astype(np.int64) if a.shape[1] == 1 else np.argmax(a, axis=1)


def int8_accuracy(network: str, model: FloatModel, ds: Dataset) -> float:
    """Test accuracy of the integer model the generator builds with its defaults (int8),
    i.e. of the hardware (a one-output model's class is "logit > 0", as labels_for wants)."""
    import quantization_functions as qf
    import generator
    q = generator.quantize(model, generator.Options(), log=lambda *_: None)
    _, classes = qf.reference_forward(q, ds.x_test.astype(np.int64))
    return float(np.mean(classes == labels_for(network, ds.y_test)))


def train(network: str, ds: Dataset, max_iter: int = 60, seed: int = 0,
          log=print) -> Trained:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    if network not in NETWORKS:
        raise InputError(f"--network must be one of {', '.join(NETWORKS)}, got {network!r}")
    y_train = labels_for(network, ds.y_train)
    clf = MLPClassifier(hidden_layer_sizes=NETWORKS[network], activation="relu",
                        max_iter=max_iter, random_state=seed, learning_rate_init=0.01)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(ds.x_train.astype(np.float64) * INPUT_SCALE, y_train)
    seconds = time.perf_counter() - t0
    Ws = [c.T.copy() for c in clf.coefs_]          # sklearn stores (n_in, n_out)
    bs = [i.copy() for i in clf.intercepts_]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(ds.x_train), min(N_CALIBRATION, len(ds.x_train)), replace=False)
    model = FloatModel(W=Ws, b=bs, input_scale=INPUT_SCALE,
                       calibration=ds.x_train[pick].astype(np.uint8),
                       source=f"trainer {network} on {ds.source}")
    train_acc = float(np.mean(float_predict(model, ds.x_train) == y_train))
    test_acc = float(np.mean(float_predict(model, ds.x_test) == labels_for(network, ds.y_test)))
    log(f"network {network}: {' -> '.join(map(str, model.topology))}, {max_iter} iterations, "
        f"{seconds:.1f} s; float accuracy train {train_acc:.4f}, test {test_acc:.4f}")
    return Trained(network, model, train_acc, test_acc, seconds)


@dataclass
class QatResult:
    onnx_path: Path
    npz_path: Path
    torch_accuracy: float        # the trained model in PyTorch, test split
    integer_accuracy: float      # our integer model read from the exported QONNX
    agreement: float             # share of test images where both give the same class
    seconds: float


def check_qat(network: str) -> None:
    """--qat can run: a network with one output per class, torch and brevitas installed."""
    import qat
    if network == "1":
        raise InputError("--qat trains networks with one output per class: --network 10, "
                         "256+10 or 64+64+64+10")
    absent = qat.missing()
    if absent:
        raise InputError(f"--qat needs torch and brevitas ({absent} is not installed): "
                         "pip install -r requirements-import.txt (in a venv of its own, "
                         "docs/import.md)")


def qat_filename(network: str, ds: Dataset, weight_bits: int, act_bits: int) -> str:
    return f"{data_name(ds.side)}_{network.replace('+', '_')}_w{weight_bits}a{act_bits}.onnx"


def train_qat(network: str, ds: Dataset, onnx_path: Path, epochs: int, seed: int,
              weight_bits: int, act_bits: int, log=print) -> QatResult:
    """Quantization-aware training (qat.py, Brevitas), exported as QONNX to onnx_path and
    as our float .npz (the dequantized weights) beside it."""
    check_qat(network)
    import model_import
    import qat
    import quantization_functions as qf
    topology = [ds.x_train.shape[1], *NETWORKS[network], 10]
    t0 = time.perf_counter()
    net = qat.train(ds.x_train, ds.y_train, topology, weight_bits, act_bits, epochs=epochs,
                    seed=seed, log=log)
    seconds = time.perf_counter() - t0
    torch_classes = qat.predict(net, ds.x_test)
    with tempfile.TemporaryDirectory() as tmp:   # then written atomically, with the ledger
        staged = Path(tmp) / onnx_path.name
        qat.export(net, topology[0], staged)
        outfiles.write_file(onnx_path, staged.read_bytes(), "the QONNX model")
    model = model_import.read_model(onnx_path)
    _, classes = qf.reference_forward(model.quantized, ds.x_test.astype(np.int64))
    npz_path = onnx_path.with_suffix(".npz")
    save_model(model, npz_path)
    return QatResult(onnx_path, npz_path, float(np.mean(torch_classes == ds.y_test)),
                     float(np.mean(classes == ds.y_test)),
                     float(np.mean(classes == torch_classes)), seconds)


def data_name(side: int) -> str:
    """"mnist" for 28x28 images, "digits" for the 8x8 ones: the start of every file name."""
    return "mnist" if side == 28 else "digits"


def model_filename(network: str, ds: Dataset) -> str:
    return f"{data_name(ds.side)}_{network.replace('+', '_')}.npz"


def save_model(model: FloatModel, path: Path) -> None:
    arrays = {}
    for l, (W, b) in enumerate(zip(model.W, model.b)):
        arrays[f"W{l}"] = W.astype(np.float32)
        arrays[f"b{l}"] = b.astype(np.float32)
    arrays["input_scale"] = np.float64(model.input_scale)
    if model.calibration is not None:
        arrays["calibration"] = model.calibration.astype(np.uint8)
    outfiles.write_file(path, lambda f: np.savez(f, **arrays), "the model")


def export_samples(ds: Dataset, folder: Path, count: int) -> list[Path]:
    """The first `count` test images as the original lab's sample files: <data>_test_<i>.npz
    (keys input = pixels / 255 shaped (1, n), label = the digit) and the test-input .coe
    for a Block Memory Generator next to it. Returns the .coe paths."""
    from generator import write_test_input_coe
    written = []
    for i, npz in enumerate(sample_npz_paths(ds.side, folder, min(count, len(ds.x_test)))):
        outfiles.write_file(npz, lambda f: np.savez(
            f, input=(ds.x_test[i:i + 1] * INPUT_SCALE).astype(np.float32),
            label=np.int64(ds.y_test[i])), "a sample image")
        written.append(write_test_input_coe(npz, input_scale=INPUT_SCALE))
    return written


def sample_npz_paths(ds_side: int, folder: Path, count: int) -> list[Path]:
    """The sample images export_samples writes: <data>_test_<i>.npz."""
    return [folder / f"{data_name(ds_side)}_test_{i:04d}.npz" for i in range(count)]


def sample_paths(ds_side: int, folder: Path, count: int) -> list[Path]:
    """Every file export_samples writes, each .npz with its .coe (checked before training)."""
    return [p for npz in sample_npz_paths(ds_side, folder, count)
            for p in (npz, npz.with_suffix(".coe"))]


def export_test_split(ds: Dataset, network: str, folder: Path) -> tuple[Path, Path]:
    """The test split as the files vunit_run.py --inputs / --labels take: X.npy (uint8
    input codes, (n, n_inputs)) and y.npy (int64 labels as the network answers them: for
    the "1" network 1 = "is a 0"). Written atomically; returns both paths."""
    paths = folder / "X.npy", folder / "y.npy"
    for path, array in zip(paths, (ds.x_test.astype(np.uint8),
                                   labels_for(network, ds.y_test).astype(np.int64))):
        outfiles.write_file(path, lambda f, a=array: np.save(f, a), "the test split")
    return paths


def main(argv: list[str] | None = None) -> int:
    p = OneLineArgumentParser(prog="trainer.py", description=__doc__.splitlines()[0])
    p.add_argument("--network", choices=list(NETWORKS), default="10",
                   help='"1": one neuron, is it a 0?; "10": one neuron per digit; "256+10": '
                        '256 ReLU neurons, then 10 (default 10)')
    p.add_argument("--data", default=None, metavar="mnist|digits|DIR",
                   help="data source (default: MNIST_DIR, then tensorflow-datasets, then "
                        "the 8x8 digits)")
    p.add_argument("--iterations", type=int, default=60, help="training epochs (default 60)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weight initialisation and the data shuffling: the same "
                        "seed gives the same model (default 0)")
    p.add_argument("--out", type=Path, default=Path("models"), metavar="DIR",
                   help="folder for the model, written as DIR/<data>_<network>.npz, e.g. "
                        "models/digits_10.npz (default models/); a file there that "
                        "trainer.py did not write is never replaced")
    p.add_argument("--samples", type=int, default=0, metavar="N",
                   help="also export the first N test images to OUT/samples/ as the lab's "
                        "sample .npz (input, label) and test-input .coe (default 0)")
    p.add_argument("--export-test", type=Path, default=None, metavar="DIR",
                   help="also write the test split to DIR/X.npy (uint8 input codes) and "
                        "DIR/y.npy (labels), for vunit_run.py --inputs DIR/X.npy --labels "
                        "DIR/y.npy")
    g = p.add_argument_group("quantization-aware training (Brevitas; pip install -r "
                             "requirements-import.txt)")
    g.add_argument("--qat", action="store_true",
                   help="train with Brevitas at --weight-bits / --act-bits and export QONNX "
                        "(OUT/<data>_<network>_w<W>a<A>.onnx, built bit-exact by "
                        "vhdl_generator.py) and its float .npz beside it")
    g.add_argument("--weight-bits", type=int, default=4, metavar="W",
                   help="with --qat: signed weight bits, 2..8 (default 4)")
    g.add_argument("--act-bits", type=int, default=4, metavar="A",
                   help="with --qat: unsigned activation bits of the hidden layers, 2..8 "
                        "(default 4)")
    args = p.parse_args(argv)
    try:
        if args.iterations < 1:
            raise InputError("--iterations must be at least 1")
        for option, bits in (("--weight-bits", args.weight_bits),
                             ("--act-bits", args.act_bits)):
            if not 2 <= bits <= 8:
                raise InputError(f"{option} must be 2..8, not {bits}")
        if args.samples < 0:
            raise InputError("--samples must be 0 or more")
        if args.qat:
            check_qat(args.network)
        for folder, option in ((args.out, "--out"), (args.export_test, "--export-test")):
            check_output_folder(folder, option)
        ds = load_digits_data(args.data)
        path = args.out / model_filename(args.network, ds)
        if args.qat:
            path = args.out / qat_filename(args.network, ds, args.weight_bits, args.act_bits)
        outputs = [path] + ([path.with_suffix(".npz")] if args.qat else []) + sample_paths(ds.side, args.out / "samples",
                                        min(args.samples, len(ds.x_test)))
        if args.export_test is not None:
            outputs += [args.export_test / "X.npy", args.export_test / "y.npy"]
        for output in outputs:     # all of them, before the training
            outfiles.check_file_replaceable(output, "an output")
        if args.qat:
            r = train_qat(args.network, ds, path, args.iterations, args.seed,
                          args.weight_bits, args.act_bits)
            print(f"QAT {args.network} w{args.weight_bits}a{args.act_bits}, "
                  f"{args.iterations} epochs, {r.seconds:.0f} s: test accuracy in PyTorch "
                  f"{r.torch_accuracy:.4f}, integer model of the QONNX (the hardware) "
                  f"{r.integer_accuracy:.4f}, same class on {r.agreement:.2%} of the images")
            print(f"wrote {r.onnx_path} (QONNX: vhdl_generator.py {r.onnx_path}) and "
                  f"{r.npz_path} (its float weights)")
        else:
            t = train(args.network, ds, args.iterations, args.seed)
            print(f"int8 model (the hardware, generator defaults): test accuracy "
                  f"{int8_accuracy(args.network, t.model, ds):.4f}")
            save_model(t.model, path)
            print(f"wrote {path}")
        if args.export_test is not None:
            x_path, y_path = export_test_split(ds, args.network, args.export_test)
            print(f"wrote {len(ds.x_test)} test images to {x_path} (input codes) and "
                  f"{y_path} (labels)")
        if args.samples:
            coes = export_samples(ds, args.out / "samples", args.samples)
            print(f"wrote {len(coes)} test images (.npz + .coe) to {args.out / 'samples'}")
    except (InputError, outfiles.OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def check_output_folder(folder: Path | None, option: str) -> None:
    """An output folder option names a folder (new or existing) that can be made."""
    if folder is None:
        return
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file; {option} wants a folder")
    outfiles.check_writable_place(folder / "x", f"files in {option}")


if __name__ == "__main__":
    sys.exit(main())
