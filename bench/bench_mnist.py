#!/usr/bin/env python3
"""Accuracy of the lab's three networks on MNIST: float, integer model, simulated hardware.

    python bench/bench_mnist.py [--data DIR] [--iterations 60] [--json bench/mnist.json]
                                [--markdown docs/accuracy.md]

For each network ("1": is it a 0?, "10", "256+10"): train with trainer.py's settings
(seeded), quantize to int8 with the generator's defaults, then measure on every test image
- the float model's accuracy (numpy),
- the integer reference model's accuracy (quantization_functions.reference_forward),
- the simulated hardware's accuracy: the generated VHDL run in GHDL through
  vunit_run.simulate_generated (the --model mode), and on how many images its logits and
  class equal the integer model's.
Data: --data, else MNIST_DIR, else ../shared/datasets/mnist-t10k-split (the offline split:
8,000 training / 2,000 test images taken from MNIST's official test set, so the figures
are NOT comparable with published MNIST accuracies). Figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import quantization_functions as qf  # noqa: E402
import trainer  # noqa: E402
import vhdl_generator as vg  # noqa: E402
import vunit_run  # noqa: E402
from mnist_data import load_digits_data  # noqa: E402
from model_files import InputError  # noqa: E402

OFFLINE_SPLIT = ROOT.parent / "shared" / "datasets" / "mnist-t10k-split"


def load_dataset(data_arg: str | None):
    """The data the MNIST benches train and test on: --data, else MNIST_DIR, else the
    offline split. Returns (the source given to load_digits_data, the dataset), or None
    after printing the error line."""
    data = data_arg or os.environ.get("MNIST_DIR") or (
        str(OFFLINE_SPLIT) if OFFLINE_SPLIT.is_dir() else None)
    try:
        return data, load_digits_data(data)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def data_description(data, ds) -> str:
    """What the benches say they measured on: the offline split by name (never this
    machine's path), else the dataset's source."""
    if Path(str(data)) == OFFLINE_SPLIT:
        return "MNIST offline split (8,000 train / 2,000 test, from MNIST's test set)"
    return ds.source


def load_average() -> str:
    """The 1-minute load average, said beside every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def bench_meta(data, ds) -> dict:
    """The machine, the data and the load before a bench's runs."""
    return {"machine": f"{platform.machine()}, Python {platform.python_version()}",
            "data": data_description(data, ds), "load_before": load_average()}


def put_table(path: Path, begin: str, end: str, text: str) -> bool:
    """Replace what lies between the markers begin and end in the file at path with text;
    False (nothing written) when the file or a marker is missing."""
    doc = path.read_text() if path.exists() else ""
    if begin not in doc or end not in doc:
        return False
    head, rest = doc.split(begin, 1)
    path.write_text(head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1])
    return True


def simulate_against_model(g, X: np.ndarray, name: str):
    """The generated design g simulated in GHDL on the codes X (vunit_run.simulate_generated,
    the --model mode): (its results, the integer model's classes, on which images every
    logit and the class equal the integer model's, GHDL seconds). For the 1-neuron network
    the class is the yes/no answer "logit > 0"."""
    ref_logits, ref_classes = qf.reference_forward(g.q, X)
    print(f"  simulating {len(X)} images in GHDL ...", flush=True)
    t0 = time.perf_counter()
    sim = vunit_run.simulate_generated(g, X, ["-q"])
    seconds = time.perf_counter() - t0
    if sim is None:
        raise SystemExit(f"{name}: the simulation did not finish")
    same = np.all(sim["logits"] == ref_logits, axis=1) & (sim["classes"] == ref_classes)
    return sim, ref_classes, same, seconds


def measure(network: str, ds, iterations: int, work: Path) -> dict:
    t = trainer.train(network, ds, iterations, seed=0)
    y = trainer.labels_for(network, ds.y_test)
    X = ds.x_test.astype(np.int64)
    name = "mnist_" + network.replace("+", "_")
    g = vg.generate(t.model, out=work / name, name=name, vectors=X[:50], log=lambda *_: None)
    sim, ref_classes, same, ghdl_s = simulate_against_model(g, X, name)
    row = {
        "network": network,
        "topology": "->".join(map(str, t.model.topology)),
        "test_images": int(len(X)),
        "train_seconds": round(t.seconds, 2),
        "float_accuracy": round(t.test_accuracy, 4),
        "int8_model_accuracy": round(float(np.mean(ref_classes == y)), 4),
        "hardware_accuracy": round(float(np.mean(sim["classes"] == y)), 4),
        "hardware_equal_to_int_model": int(np.sum(same)),
        "cycles_per_inference": sorted(set(int(c) for c in sim["cycles"])),
        "ghdl_wall_seconds": round(ghdl_s, 1),
    }
    row["int8_minus_float_points"] = round(
        100 * (row["int8_model_accuracy"] - row["float_accuracy"]), 2)
    print(f"  float {row['float_accuracy']:.4f}, int8 model {row['int8_model_accuracy']:.4f}"
          f", hardware {row['hardware_accuracy']:.4f}; hardware == int model on "
          f"{row['hardware_equal_to_int_model']}/{len(X)} images; GHDL {ghdl_s:.1f} s",
          flush=True)
    return row


def markdown(rows: list[dict], source: str, iterations: int) -> str:
    lines = [
        "# Accuracy: float, int8 integer model, simulated hardware",
        "",
        "Written by `python bench/bench_mnist.py` (do not edit by hand). Data: "
        f"{source}; {iterations} training iterations, seed 0; int8 weights, activations "
        "and inputs with the generator's defaults. \"Hardware\" is the generated VHDL "
        "simulated in GHDL (`vunit_run.simulate_generated`, the `--model` mode).",
        "",
        "| network | topology | float | int8 model | hardware | int8 - float | "
        "hardware == int8 model | cycles | GHDL wall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['network']} | {r['topology']} | {r['float_accuracy']:.4f} | "
            f"{r['int8_model_accuracy']:.4f} | {r['hardware_accuracy']:.4f} | "
            f"{r['int8_minus_float_points']:+.2f} pt | "
            f"{r['hardware_equal_to_int_model']}/{r['test_images']} | "
            f"{', '.join(map(str, r['cycles_per_inference']))} | "
            f"{r['ghdl_wall_seconds']:.1f} s |")
    lines += ["", "The 1-neuron network answers \"is it a 0?\" (the sign of its logit); its "
              "accuracy is over that yes/no question, so it is not comparable with the "
              "10-class networks.", ""]
    if "offline" in source:
        lines += ["The MNIST offline split trains on 8,000 and tests on 2,000 images that "
                  "all come from MNIST's official test set: these figures are not "
                  "comparable with published MNIST accuracies.", ""]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, metavar="mnist|digits|DIR",
                   help="data source (default: MNIST_DIR, else the offline split)")
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--networks", default="1,10,256+10")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "mnist.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "accuracy.md")
    args = p.parse_args()
    loaded = load_dataset(args.data)
    if loaded is None:
        return 2
    data, ds = loaded
    source = data_description(data, ds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for network in args.networks.split(","):
            print(f"network {network}:", flush=True)
            rows.append(measure(network, ds, args.iterations, Path(tmp)))
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}, "
                          f"{os.cpu_count()} cores",
               "data": source, "iterations": args.iterations, "networks": rows}
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    args.markdown.write_text(markdown(rows, source, args.iterations))
    print(markdown(rows, source, args.iterations))
    print(f"wrote {args.json} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
