#!/usr/bin/env python3
"""Imported models on MNIST: the exporter's float model, ours as read, int8, and the
simulated hardware, bit-exact against the integer model.

    KERAS_BACKEND=torch python bench/make_import_models.py     # in the import venv, first
    python bench/bench_import.py [--models build/import_models] [--images N]
                                 [--json bench/import.json] [--markdown docs/import.md]

For each model file in --models (.onnx, .keras, .h5): read it (model_import.read_model),
measure on the test images the accuracy of the model as its runtime computes it
(onnxruntime for an .onnx file), of the float model as read, of the int8 integer model
(quantization_functions.reference_forward, the generator's defaults), and of the
generated VHDL simulated in GHDL (vunit_run.simulate_generated), and on how many images
the hardware's logits and class equal the integer model's. Data: --data, else MNIST_DIR,
else the offline split (8,000 / 2,000 images of MNIST's test set: not comparable with
published MNIST accuracies).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import vhdl_generator as vg  # noqa: E402
from bench_mnist import (bench_meta, load_average, load_dataset,  # noqa: E402
                         put_table, simulate_against_model)
from model_import import read_model  # noqa: E402
from trainer import float_predict  # noqa: E402

BEGIN = "<!-- BEGIN bench_import.py -->"
END = "<!-- END bench_import.py -->"


def runtime_classes(path: Path, x: np.ndarray) -> np.ndarray | None:
    """The classes the model's own runtime gives (onnxruntime for .onnx), else None."""
    if path.suffix != ".onnx":
        return None
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dims = [d if isinstance(d, int) else -1 for d in inp.shape]
    feed = (x / 255.0).astype(np.float32).reshape([len(x)] + dims[1:])
    outs = [o for o, meta in zip(sess.run(None, {inp.name: feed}), sess.get_outputs())
            if "float" in meta.type]
    return outs[0].argmax(1)


def measure(path: Path, X: np.ndarray, y: np.ndarray, work: Path) -> dict:
    model = read_model(path)
    name = path.stem.replace("-", "_")
    g = vg.generate(model, out=work / name, name=name, vectors=X[:50], log=lambda *_: None)
    rt = runtime_classes(path, X)
    sim, ref_classes, same, ghdl_s = simulate_against_model(g, X, str(path))
    fl = float_predict(model, X)
    row = {
        "file": path.name, "origin": model.origin,
        "topology": "->".join(map(str, model.topology)), "test_images": int(len(X)),
        "runtime_accuracy": None if rt is None else round(float(np.mean(rt == y)), 4),
        "float_accuracy": round(float(np.mean(fl == y)), 4),
        "float_equal_to_runtime": None if rt is None else int(np.sum(fl == rt)),
        "int8_model_accuracy": round(float(np.mean(ref_classes == y)), 4),
        "hardware_accuracy": round(float(np.mean(sim["classes"] == y)), 4),
        "hardware_equal_to_int_model": int(np.sum(same)),
        "cycles_per_inference": sorted(set(int(c) for c in sim["cycles"])),
        "ghdl_wall_seconds": round(ghdl_s, 1),
    }
    print(f"  runtime {row['runtime_accuracy']}, float {row['float_accuracy']:.4f}, int8 "
          f"{row['int8_model_accuracy']:.4f}, hardware {row['hardware_accuracy']:.4f}; "
          f"hardware == int model on {row['hardware_equal_to_int_model']}/{len(X)}; "
          f"GHDL {ghdl_s:.1f} s", flush=True)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Measured by `python bench/bench_import.py` on {meta['machine']} "
             f"(load {meta['load_before']} before, {meta['load_after']} after). Data: "
             f"{meta['data']}; int8 with the generator's defaults; hardware: the generated "
             "VHDL in GHDL.", "",
             "| file | exporter | runtime | float as read (= runtime) | int8 model | hardware "
             "| hardware == int8 model | cycles |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in rows:
        o = r["origin"]
        exporter = f"{o.get('exporter')} {o.get('exporter_version', '')}".strip()
        runtime = "-" if r["runtime_accuracy"] is None else f"{r['runtime_accuracy']:.4f}"
        same = ("" if r["float_equal_to_runtime"] is None
                else f" ({r['float_equal_to_runtime']}/{r['test_images']})")
        lines.append(f"| {r['file']} | {exporter} | {runtime} | {r['float_accuracy']:.4f}"
                     f"{same} | {r['int8_model_accuracy']:.4f} | {r['hardware_accuracy']:.4f} "
                     f"| {r['hardware_equal_to_int_model']}/{r['test_images']} | "
                     f"{', '.join(map(str, r['cycles_per_inference']))} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=ROOT / "build" / "import_models")
    p.add_argument("--data", default=None, metavar="DIR")
    p.add_argument("--images", type=int, default=None, help="the first N test images only")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "import.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "import.md")
    args = p.parse_args()
    files = sorted(f for f in args.models.glob("*") if f.suffix in (".onnx", ".keras", ".h5"))
    if not files:
        print(f"error: {args.models}: no .onnx, .keras or .h5 models (make them with "
              "bench/make_import_models.py)", file=sys.stderr)
        return 2
    loaded = load_dataset(args.data)
    if loaded is None:
        return 2
    data, ds = loaded
    X, y = ds.x_test.astype(np.int64), ds.y_test
    if args.images:
        X, y = X[:args.images], y[:args.images]
    meta = bench_meta(data, ds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            print(f"{f.name}:", flush=True)
            rows.append(measure(f, X, y, Path(tmp)))
    meta["load_after"] = load_average()
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, meta)
    written = put_table(args.markdown, BEGIN, END, text)
    print(text)
    print(f"wrote {args.json}" + (f" and {args.markdown}" if written else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
