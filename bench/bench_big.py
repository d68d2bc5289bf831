#!/usr/bin/env python3
"""Benchmark: a design far beyond the PYNQ-Z2, 784->4096->10 (int8), simulated bit-exact.

    python bench/bench_big.py [--images 10] [--json bench/big.json] [--stack-kb N]

Issue 11: this design needs 1842 RAMB18 against the xc7z020's 280 (the generator warns),
and GHDL died of a segmentation fault in it at the usual 8 MB stack, without a word.
vunit_run now gives the simulator the hard stack limit. This bench generates it, runs
--images test vectors through the simulated top level (vunit_run.simulate_generated, the
--model mode) and compares logits, classes and cycles with the integer reference model.
--stack-kb N sets both the soft and the hard stack limit to N KB first (e.g. 8192), to
see the crash and its error line. Figures, not pass/fail.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import quantization_functions as qf  # noqa: E402
import vhdl_generator as vg  # noqa: E402
import vunit_run  # noqa: E402
from examples import random_float_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=10, help="test vectors to simulate")
    p.add_argument("--topology", default="784,4096,10", help="layer sizes, comma separated")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--stack-kb", type=int, default=None,
                   help="set the soft and hard stack limit to this many KB first")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench_big",
                   help="where the design is generated (replaced)")
    args = p.parse_args()
    if args.stack_kb is not None:
        resource.setrlimit(resource.RLIMIT_STACK, (args.stack_kb * 1024,) * 2)
    topology = [int(n) for n in args.topology.split(",")]
    model = random_float_model(topology, 41)
    X = vg.default_vectors(topology[0], 8, args.images, seed=5)
    t0 = time.perf_counter()
    g = vg.generate(model, out=args.out, name="big", vectors=X)
    gen_s = time.perf_counter() - t0
    print(f"generated {'->'.join(map(str, topology))} in {gen_s:.1f} s: "
          f"{g.report['totals']['ramb18']} RAMB18 for the weights, latency "
          f"{g.report['latency_cycles']} cycles", flush=True)
    t0 = time.perf_counter()
    problems: list[str] = []
    sim = vunit_run.simulate_generated(g, X, ["-q"], problems)
    sim_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    soft = resource.getrlimit(resource.RLIMIT_STACK)[0]
    stack = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KB"
    if sim is None:
        print("\n".join(problems) or "the simulation did not finish")
        print(f"stack limit {stack}; {sim_s:.1f} s")
        return 1
    ref_logits, ref_classes = qf.reference_forward(g.q, X)
    exact = (np.array_equal(sim["logits"], ref_logits)
             and np.array_equal(sim["classes"], ref_classes))
    cycles = sorted(set(sim["cycles"].tolist()))
    figures = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "topology": topology, "images": args.images, "bit_exact": bool(exact),
        "cycles": cycles, "predicted_cycles": g.report["latency_cycles"],
        "ramb18_weights": g.report["totals"]["ramb18"],
        "capacity_over": g.report["capacity"]["over"],
        "generator_seconds": round(gen_s, 1), "simulation_seconds": round(sim_s, 1),
        "simulator_peak_rss_mb": round(peak_mb), "stack_limit": stack,
    }
    print(f"{args.images} images: bit-exact {'yes' if exact else 'NO'}, cycles {cycles} "
          f"(predicted {g.report['latency_cycles']}); simulation {sim_s:.1f} s incl. "
          f"compile and elaboration, simulator peak {peak_mb:.0f} MB, stack limit {stack}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
