#!/usr/bin/env python3
"""Quantization-aware training to hardware: FINN's TFC shape (784-64-64-64-10) trained
with Brevitas at 2/2 and 4/4 bits, exported as QONNX, built and simulated bit-exact.

    # in a venv with requirements.txt and requirements-import.txt (torch, brevitas):
    python bench/bench_qat.py [--data DIR] [--epochs 40] [--images N]
                              [--json bench/qat.json] [--markdown docs/import.md]

For each width: trainer.train_qat (qat.py) on the training images, then on the test
images the accuracy of the model in PyTorch, of the QONNX file executed by the qonnx
package (its own Quant op), of our integer model read from that file (qonnx_import.py,
quantization_functions.reference_forward) and of the generated VHDL simulated in GHDL;
on how many images the hardware equals the integer model (every logit and the class) and
gives the QONNX model's class. Data: --data, else MNIST_DIR, else the offline split
(8,000 / 2,000 images of MNIST's test set: not comparable with published MNIST
accuracies). The models go to build/qat_models/ (not committed).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import trainer  # noqa: E402
import vhdl_generator as vg  # noqa: E402
from bench_mnist import (bench_meta, load_average, load_dataset,  # noqa: E402
                         put_table, simulate_against_model)
from model_import import read_model  # noqa: E402

BEGIN = "<!-- BEGIN bench_qat.py -->"
END = "<!-- END bench_qat.py -->"
NETWORK = "64+64+64+10"
WIDTHS = ((2, 2), (4, 4))


def qonnx_classes(path: Path, x: np.ndarray) -> np.ndarray:
    """The QONNX model's classes, executed by the qonnx package, fed code / 256."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    mw = ModelWrapper(str(path))
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    return np.array([int(np.argmax(execute_onnx(mw, {iname: (x[i:i + 1] / 256.0).astype(
        np.float32)})[oname])) for i in range(len(x))])


def measure(ds, w: int, a: int, epochs: int, models: Path, work: Path, n: int) -> dict:
    path = models / trainer.qat_filename(NETWORK, ds, w, a)
    print(f"{path.name}: training {epochs} epochs ...", flush=True)
    r = trainer.train_qat(NETWORK, ds, path, epochs, 0, w, a, log=lambda *_: None)
    X, y = ds.x_test[:n].astype(np.int64), ds.y_test[:n]
    t0 = time.perf_counter()
    qc = qonnx_classes(path, X)
    qonnx_s = time.perf_counter() - t0
    model = read_model(path)
    name = path.stem
    g = vg.generate(model, out=work / name, name=name, vectors=X[:50], log=lambda *_: None)
    sim, ref_classes, same, ghdl_s = simulate_against_model(g, X, name)
    row = {
        "file": path.name, "network": "784->64->64->64->10", "weight_bits": w, "act_bits": a,
        "epochs": epochs, "train_seconds": round(r.seconds, 1), "test_images": int(len(X)),
        "pytorch_accuracy": round(r.torch_accuracy, 4) if n >= len(ds.x_test) else None,
        "qonnx_accuracy": round(float(np.mean(qc == y)), 4),
        "integer_model_accuracy": round(float(np.mean(ref_classes == y)), 4),
        "hardware_accuracy": round(float(np.mean(sim["classes"] == y)), 4),
        "hardware_equal_to_int_model": int(np.sum(same)),
        "hardware_class_equal_to_qonnx": int(np.sum(sim["classes"] == qc)),
        "cycles_per_inference": sorted(set(int(c) for c in sim["cycles"])),
        "origin": model.origin,
        "resources": {k: g.report["totals"][k] for k in ("ramb18", "multipliers")
                      if k in g.report["totals"]},
        "qonnx_seconds": round(qonnx_s, 1), "ghdl_wall_seconds": round(ghdl_s, 1),
    }
    print(f"  PyTorch {row['pytorch_accuracy']}, QONNX {row['qonnx_accuracy']:.4f}, integer "
          f"{row['integer_model_accuracy']:.4f}, hardware {row['hardware_accuracy']:.4f}; "
          f"hardware == integer model on {row['hardware_equal_to_int_model']}/{len(X)}, "
          f"class == QONNX on {row['hardware_class_equal_to_qonnx']}/{len(X)}; "
          f"GHDL {ghdl_s:.1f} s", flush=True)
    return row


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"Measured by `python bench/bench_qat.py` on {meta['machine']} (load "
             f"{meta['load_before']} before, {meta['load_after']} after). Data: {meta['data']}."
             " Brevitas QAT of 784-64-64-64-10 (FINN's TFC shape, without its BatchNorm), "
             f"{rows[0]['epochs']} epochs; QONNX run by the qonnx package; hardware: the "
             "generated VHDL in GHDL.", "",
             "| weights / activations | PyTorch | QONNX | integer model | hardware | "
             "hardware == integer model | hardware class == QONNX | cycles |",
             "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for r in rows:
        pt = "-" if r["pytorch_accuracy"] is None else f"{r['pytorch_accuracy']:.4f}"
        lines.append(f"| {r['weight_bits']} / {r['act_bits']} bits | {pt} | "
                     f"{r['qonnx_accuracy']:.4f} | {r['integer_model_accuracy']:.4f} | "
                     f"{r['hardware_accuracy']:.4f} | {r['hardware_equal_to_int_model']}/"
                     f"{r['test_images']} | {r['hardware_class_equal_to_qonnx']}/"
                     f"{r['test_images']} | "
                     f"{', '.join(map(str, r['cycles_per_inference']))} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, metavar="DIR")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--images", type=int, default=None, help="the first N test images only")
    p.add_argument("--models", type=Path, default=ROOT / "build" / "qat_models")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "qat.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "import.md")
    args = p.parse_args()
    loaded = load_dataset(args.data)
    if loaded is None:
        return 2
    data, ds = loaded
    n = args.images or len(ds.x_test)
    meta = bench_meta(data, ds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, a in WIDTHS:
            rows.append(measure(ds, w, a, args.epochs, args.models, Path(tmp), n))
    meta["load_after"] = load_average()
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, meta)
    written = put_table(args.markdown, BEGIN, END, text)
    print(text)
    print(f"wrote {args.json}" + (f" and {args.markdown}" if written else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
