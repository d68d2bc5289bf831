#!/usr/bin/env python3
"""Benchmark of the core flow on 784->256->10 (int8): generator seconds and GHDL speed.

    python bench/bench_core.py [--images 200] [--json bench/core.json]

Generator: wall time of vhdl_generator.generate() (read -> quantize -> render -> write),
best of 3. GHDL: the network testbench drives N images through <name>_top (784 input
writes + the inference each); the simulation is run for N and for N/10 images and the
difference gives the steady-state rate without analysis and elaboration. Figures, not
pass/fail: this machine's numbers go in the closing notes and docs.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import examples  # noqa: E402
import vhdl_generator as vg  # noqa: E402
import vunit_run  # noqa: E402


def time_generator(model, out: Path, opts: vg.Options, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        vg.generate(model, out=out, name="bench_256_10", opts=opts, log=lambda *_: None)
        best = min(best, time.perf_counter() - t0)
    return best


def simulate(model, n_images: int, work: Path, opts: vg.Options) -> tuple[float, dict]:
    """Wall seconds of the VUnit test (elaboration + simulation) for n_images."""
    X = vg.default_vectors(784, 8, n_images, seed=5)
    g = vg.generate(model, out=work / f"design_{n_images}", name="bench_256_10",
                    vectors=X, opts=opts, log=lambda *_: None)
    vu = vunit_run.make_vunit(["-q", "lib_bench_256_10.*"], output_path=work / "vunit_out")
    vunit_run.add_network(vu, g.name, g.out, check=True, n_vectors=n_images)
    seen: dict = {}

    def post_run(results):
        for test in results.get_report().tests.values():
            seen["status"] = vunit_run.test_status(test)
            seen["time"] = float(test.time)
            seen["csv"] = test.path / "results.csv"

    t0 = time.perf_counter()
    try:
        vu.main(post_run=post_run)
    except SystemExit:
        pass
    wall = time.perf_counter() - t0
    if seen.get("status") != "passed":
        raise SystemExit(f"simulation of {n_images} images failed: {seen}")
    sim = np.loadtxt(seen["csv"], delimiter=",", dtype=np.int64, ndmin=2)
    return seen["time"], {"wall_incl_compile": wall, "cycles": int(sim[0, -1])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=200, help="images in the long run")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--neurons-per-rom", default="all", help="as for vhdl_generator.py")
    p.add_argument("--dsp-budget", type=int, default=None, help="as for vhdl_generator.py")
    args = p.parse_args()
    opts = vg.Options(neurons_per_rom=vg.parse_neurons_per_rom(args.neurons_per_rom),
                      dsp_budget=args.dsp_budget)
    model = examples.random_float_model([784, 256, 10], 13)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gen_s = time_generator(model, work / "gen", opts)
        print(f"generator 784->256->10: {gen_s:.2f} s (best of 3)", flush=True)
        short = max(1, args.images // 10)
        t_short, info_short = simulate(model, short, work, opts)
        t_long, info_long = simulate(model, args.images, work, opts)
    rate = (args.images - short) / (t_long - t_short)
    latency = info_long["cycles"]
    per_image_cycles = 784 + 1 + latency  # input writes + start + inference, as the tb drives
    figures = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "neurons_per_rom": args.neurons_per_rom, "dsp_budget": opts.budget(),
        "generator_seconds_784_256_10": round(gen_s, 3),
        "ghdl_images": {"short": short, "long": args.images},
        "ghdl_test_seconds": {"short": round(t_short, 3), "long": round(t_long, 3)},
        "ghdl_inferences_per_second": round(rate, 1),
        "ghdl_inferences_per_second_overall": round(args.images / t_long, 1),
        "cycles_per_inference": latency,
        "simulated_cycles_per_second": round(rate * per_image_cycles),
    }
    print(f"GHDL 784->256->10: {args.images} images in {t_long:.2f} s, {short} in "
          f"{t_short:.2f} s -> {rate:.1f} inferences/s steady state "
          f"({args.images / t_long:.1f}/s overall incl. elaboration); "
          f"{latency} cycles per inference, ~{figures['simulated_cycles_per_second']} "
          "simulated cycles/s (input writes included)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
