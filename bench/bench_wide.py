#!/usr/bin/env python3
"""Benchmark: accumulators of 33 to 48 bits (16-bit weights and activations), bit-exact in
GHDL, and how fast they simulate beside a 32-bit design of the same shape.

    python bench/bench_wide.py [--vectors 50] [--images 500] [--json bench/wide.json]

Issue 11: a 200-40-20-10 network at 16-bit weights and activations needs 35-bit
accumulators, which were refused (32 was the limit, and exactly 32 crashed GHDL). The
VHDL now keeps such an accumulator as two integers (hi * 2^16 + lo) so the per-clock
arithmetic stays on integers. For each case: --vectors test vectors through the top level
and the AXI4-Stream wrapper, checked by the testbenches against the integer reference
model (and here once more from results.csv), then the steady-state GHDL rate: a run of
--images images minus a run of a tenth of them (analysis and elaboration drop out), in
inferences/s and simulated clocks/s (input writes included). Figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import quantization_functions as qf  # noqa: E402
import vhdl_generator as vg  # noqa: E402
import vunit_run  # noqa: E402
from vunit_console import run_quietly  # noqa: E402
from examples import random_float_model  # noqa: E402


@dataclass
class Case:
    name: str
    topology: list[int]
    opts: vg.Options
    what: str


CASES = [
    Case("w16_200_40_20_10", [200, 40, 20, 10], vg.Options(weight_bits=16, act_bits=16),
         "16-bit weights and activations (hls4ml's default width)"),
    Case("w8_200_40_20_10", [200, 40, 20, 10], vg.Options(),
         "the same shape at the defaults (8 bits): accumulators of at most 32 bits"),
    Case("w16_784_64_10", [784, 64, 10], vg.Options(weight_bits=16, act_bits=16),
         "784 inputs, 16-bit weights and activations: only layer 1 is wide"),
    Case("w16i16_784_64_10", [784, 64, 10],
         vg.Options(weight_bits=16, act_bits=16, input_bits=16),
         "784 inputs of 16 bits, 16-bit weights and activations: every layer wide"),
    Case("w8_784_64_10", [784, 64, 10], vg.Options(),
         "the same shape at the defaults (8 bits): accumulators of at most 32 bits"),
]


def run_benches(g: vg.Generated, n: int, work: Path, pattern: str) -> dict:
    """Run the design's benches matching pattern; {test name: (status, seconds, csv)}."""
    vu = vunit_run.make_vunit(["-q", pattern], output_path=work / f"vunit_{g.name}_{n}")
    vunit_run.add_network(vu, g.name, g.out, check=True, n_vectors=n)
    vunit_run.quiet_warnings(vu)
    seen: dict = {}

    def post_run(results) -> None:
        for key, test in results.get_report().tests.items():
            seen[key] = (vunit_run.test_status(test), float(test.time),
                         test.path / "results.csv")
    try:
        run_quietly(vu, post_run)
    except SystemExit:
        pass
    return seen


def generate(case: Case, n: int, work: Path) -> vg.Generated:
    X = vg.default_vectors(case.topology[0], case.opts.input_bits, n, seed=5)
    return vg.generate(random_float_model(case.topology, 17), out=work / f"{case.name}_{n}",
                       name=case.name, opts=case.opts, vectors=X, log=lambda *_: None)


def measure(case: Case, n_vectors: int, n_images: int, work: Path) -> dict:
    g = generate(case, n_vectors, work)
    acc_bits = [g.q.acc_bits(l) for l in range(g.q.n_layers)]
    seen = run_benches(g, n_vectors, work, f"lib_{case.name}.*")
    X = np.loadtxt(g.out / "vectors" / "inputs.csv", delimiter=",", dtype=np.int64, ndmin=2)
    ref_logits, ref_classes = qf.reference_forward(g.q, X)
    wide = vg.wide_acc(acc_bits[-1])
    exact = {}
    for bench in (f"tb_{case.name}.test_all_vectors", f"tb_{case.name}_axis.test_back_to_back"):
        status, _, csv = seen.get(f"lib_{case.name}.{bench}", ("not run", 0, None))
        ok = status == "passed"
        if ok:
            rows = np.loadtxt(csv, delimiter=",", dtype=np.int64, ndmin=2)
            logits, rest = vg.outputs_from_columns(rows, g.q.topology[-1], wide)
            ok = np.array_equal(logits, ref_logits) and np.array_equal(rest[:, 0], ref_classes)
        exact[bench.split(".")[0]] = bool(ok)
    times = {}
    for n in (max(1, n_images // 10), n_images):
        gi = generate(case, n, work)
        res = run_benches(gi, n, work, f"lib_{case.name}.tb_{case.name}.*")
        status, seconds, _ = next(iter(res.values()))
        if status != "passed":
            raise SystemExit(f"{case.name}: the timing run of {n} images failed")
        times[n] = seconds
    (short, t_short), (long, t_long) = sorted(times.items())
    rate = (long - short) / (t_long - t_short)
    clocks = case.topology[0] + 1 + g.report["latency_cycles"]   # as the bench drives it
    return {"name": case.name, "topology": case.topology, "what": case.what,
            "weight_bits": case.opts.weight_bits, "act_bits": case.opts.act_bits,
            "acc_bits": acc_bits, "vectors": n_vectors, "bit_exact": exact,
            "ghdl_images": [short, long], "ghdl_seconds": [round(t_short, 3), round(t_long, 3)],
            "ghdl_inferences_per_second": round(rate, 1),
            "simulated_clocks_per_second": round(rate * clocks)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vectors", type=int, default=50, help="bit-exact test vectors")
    p.add_argument("--images", type=int, default=500, help="images in the long timing run")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
               "uptime_before": load, "cases": []}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            r = measure(case, args.vectors, args.images, Path(tmp))
            figures["cases"].append(r)
            print(f"{r['name']:<18} {'-'.join(map(str, r['topology'])):<14} acc bits "
                  f"{'/'.join(map(str, r['acc_bits'])):<9} bit-exact "
                  f"{'yes' if all(r['bit_exact'].values()) else 'NO'} ({r['vectors']} vectors, "
                  f"top + AXIS)  GHDL {r['ghdl_inferences_per_second']:>7.1f} inf/s, "
                  f"{r['simulated_clocks_per_second']:>8} clocks/s", flush=True)
    by = {r["name"]: r for r in figures["cases"]}
    ratio = (by["w8_784_64_10"]["simulated_clocks_per_second"]
             / by["w16i16_784_64_10"]["simulated_clocks_per_second"])
    figures["narrow_over_wide_speed"] = round(ratio, 2)
    ratio_200 = (by["w8_200_40_20_10"]["simulated_clocks_per_second"]
                 / by["w16_200_40_20_10"]["simulated_clocks_per_second"])
    figures["narrow_over_wide_speed_200_40_20_10"] = round(ratio_200, 2)
    print(f"200-40-20-10: the 32-bit design simulates {ratio_200:.2f}x as fast as the 16-bit "
          "one (criterion: at most 2x)")
    figures["uptime_after"] = subprocess.run(["uptime"], capture_output=True,
                                             text=True).stdout.strip()
    print(f"784-64-10: the 32-bit design simulates {ratio:.2f}x as fast as the one wide in "
          "every layer (criterion: at most 2x)")
    print(f"load: {figures['uptime_before']} / {figures['uptime_after']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if all(all(r["bit_exact"].values()) for r in figures["cases"]) else 1


if __name__ == "__main__":
    sys.exit(main())
