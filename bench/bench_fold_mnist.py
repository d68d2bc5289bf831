#!/usr/bin/env python3
"""The automatic fold of the trained 784->256->10 on MNIST: bit-exact, and its interval measured.

    python bench/bench_fold_mnist.py [--part xc7z020] [--images 200] [--estimate]
                                     [--data DIR] [--json bench/fold_mnist.json]

Trains 784->256->10 with trainer.py's settings (seed 0, as bench/bench_mnist.py; data:
--data, else MNIST_DIR, else ../shared/datasets/mnist-t10k-split), generates it with
--fold auto for --part (layers in flight), and simulates the first --images test images in
GHDL (vunit_run.simulate_generated: the top-level bench one image at a time, then the
AXI4-Stream bench streaming them back to back): every logit and class against the integer
reference model, the cycles per image and the measured interval against report.json's.
--estimate: afterwards the Yosys estimate of the design (estimate.py, synth_xilinx; about
7-9 minutes and 1 GB here for this network) and whether it fits the part. Prints the
figures and writes them to the JSON. Exit 1 when the hardware differs from the model or
the interval from the prediction.
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
import estimate  # noqa: E402
import generator as gen  # noqa: E402
import quantization_functions as qf  # noqa: E402
import trainer  # noqa: E402
import vunit_run  # noqa: E402
from bench_mnist import load_dataset  # noqa: E402 (bench/ itself)


def load() -> str:
    """The 1-minute load average, to quote beside the figures."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", default="xc7z020", help="the part --fold auto plans for")
    p.add_argument("--images", type=int, default=200, help="test images to simulate")
    p.add_argument("--estimate", action="store_true",
                   help="also the Yosys estimate (synth_xilinx, minutes)")
    p.add_argument("--data", default=None, metavar="mnist|digits|DIR")
    p.add_argument("--iterations", type=int, default=60, help="training iterations")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "fold_mnist.json")
    args = p.parse_args(argv)
    loaded = load_dataset(args.data)
    if loaded is None:
        return 2
    _, ds = loaded
    print(f"training 784->256->10 ({args.iterations} iterations, seed 0) ...", flush=True)
    t = trainer.train("256+10", ds, args.iterations, seed=0)
    X = ds.x_test[:args.images].astype(np.int64)
    y = trainer.labels_for("256+10", ds.y_test)[:args.images]
    opts = gen.Options(fold="auto", part=args.part)
    row: dict = {"part": args.part, "images": int(len(X)), "load_before": load()}
    with tempfile.TemporaryDirectory(prefix="bench_fold_mnist_") as tmp:
        g = gen.generate(t.model, out=Path(tmp) / "d", name="mnist_256_10_auto",
                         vectors=X[:50], opts=opts, log=lambda *_: None)
        r = g.report
        print(f"fold: lanes {r['fold']['pe']}, inputs per clock {r['fold']['simd']}, "
              f"early start {[x['early_start'] for x in r['layers']]}; predicted latency "
              f"{r['latency_cycles']}, interval {r['interval_cycles']}", flush=True)
        print(f"simulating {len(X)} images in GHDL (top level, then AXI4-Stream) ...",
              flush=True)
        t0 = time.perf_counter()
        sim = vunit_run.simulate_generated(g, X, ["-q", "-p", "2"])
        ghdl_s = time.perf_counter() - t0
        if sim is None:
            print("error: the simulation did not finish", file=sys.stderr)
            return 1
        ref_logits, ref_classes = qf.reference_forward(g.q, X)
        same = np.all(sim["logits"] == ref_logits, axis=1) & (sim["classes"] == ref_classes)
        row.update({
            "pe": r["fold"]["pe"], "simd": r["fold"]["simd"],
            "dsp_pairs": r["fold"].get("dsp_pairs"),
            "early_start": [x["early_start"] for x in r["layers"]],
            "predicted_latency": r["latency_cycles"],
            "predicted_interval": r["interval_cycles"],
            "measured_cycles": sorted(set(int(c) for c in sim["cycles"])),
            "measured_interval": int(sim["interval"]),
            "axis_equal": bool(sim["axis_equal"]),
            "equal_to_int_model": int(np.sum(same)),
            "hardware_accuracy": round(float(np.mean(sim["classes"] == y)), 4),
            "inferences_per_s_at_100mhz": round(100e6 / r["interval_cycles"]),
            "ghdl_seconds": round(ghdl_s, 1), "load_after_sim": load(),
            "tool_count": {k: r["fold"][k] for k in ("multipliers", "dsp_macs", "dsp_blocks",
                                                     "lut_macs", "ramb18", "lut_mult_luts")
                           if k in r["fold"]},
        })
        print(f"equal to the integer model on {row['equal_to_int_model']} of {len(X)} "
              f"images (AXI4-Stream results equal: {row['axis_equal']}), cycles "
              f"{row['measured_cycles']} (predicted {row['predicted_latency']}), interval "
              f"measured {row['measured_interval']} (predicted {row['predicted_interval']}), "
              f"accuracy {row['hardware_accuracy']:.4f}; GHDL {ghdl_s:.0f} s, load "
              f"{row['load_before']} -> {row['load_after_sim']}", flush=True)
        if args.estimate:
            print("Yosys estimate (synth_xilinx) ...", flush=True)
            t0 = time.perf_counter()
            e = estimate.estimate(g.out, args.part, log=lambda *_: None)
            row["estimate"] = {k: e[k] for k in ("LUT", "FF", "RAMB18_equivalent", "DSP48E1",
                                                 "CARRY4", "fits", "share") if k in e}
            row["estimate"]["seconds"] = round(time.perf_counter() - t0, 1)
            row["load_after_estimate"] = load()
            print(f"estimate: {json.dumps(row['estimate'])}", flush=True)
    row["machine"] = (f"{platform.machine()}, Python {platform.python_version()}, "
                      f"{os.cpu_count()} cores")
    args.json.write_text(json.dumps(row, indent=2) + "\n")
    print(f"wrote {args.json}")
    ok = (row["equal_to_int_model"] == len(X) and row["axis_equal"]
          and row["measured_interval"] == row["predicted_interval"]
          and row["measured_cycles"] == [row["predicted_latency"]])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
