#!/usr/bin/env python3
"""Benchmark of the core flow on 784->256->10 (int8): generator seconds and GHDL speed.

    python bench/bench_core.py [--images 200] [--json bench/core.json] [--fold auto]

Generator: wall time of vhdl_generator.generate() (read -> quantize -> render -> write),
best of 3. GHDL: the network testbench drives N images through <name>_top (784 input
writes + the inference each); the simulation is run for N and for N/10 images and the
difference gives the steady-state rate without analysis and elaboration. --fold auto: the
same for the fold the tool picks for the xc7z020 (bench/core_auto.json). Figures, not
pass/fail: this machine's numbers go in the closing notes and docs.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vhdl_generator as vg  # noqa: E402
from bench_networks import Case, simulate, time_generator  # noqa: E402 (bench/ itself)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=200, help="images in the long run")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--neurons-per-rom", default="all", help="as for vhdl_generator.py")
    p.add_argument("--dsp-budget", type=int, default=None, help="as for vhdl_generator.py")
    p.add_argument("--fold", choices=["auto"], default=None, help="as for vhdl_generator.py")
    args = p.parse_args()
    opts = vg.Options(neurons_per_rom=vg.parse_neurons_per_rom(args.neurons_per_rom),
                      dsp_budget=args.dsp_budget, fold=args.fold)
    case = Case("bench_256_10", [784, 256, 10], 13, opts, "784->256->10", args.images)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        gen_s = time_generator(case, work)
        print(f"generator 784->256->10: {gen_s:.2f} s (best of 3)", flush=True)
        short = max(1, args.images // 10)
        t_short, _ = simulate(case, short, work)
        t_long, latency = simulate(case, args.images, work)
        report = json.loads((work / f"sim_{case.name}_{args.images}" / "report.json").read_text())
    rate = (args.images - short) / (t_long - t_short)
    # input writes (one per input word) + start + inference, as the tb drives them
    per_image_cycles = -(-784 // report["layers"][0]["simd"]) + 1 + latency
    figures = {
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "neurons_per_rom": args.neurons_per_rom, "dsp_budget": opts.budget(),
        "fold": report.get("fold") and {k: report["fold"][k] for k in ("pe", "simd", "interval")},
        "generator_seconds_784_256_10": round(gen_s, 3),
        "ghdl_images": {"short": short, "long": args.images},
        "ghdl_test_seconds": {"short": round(t_short, 3), "long": round(t_long, 3)},
        "ghdl_inferences_per_second": round(rate, 1),
        "ghdl_inferences_per_second_overall": round(args.images / t_long, 1),
        "cycles_per_inference": latency,
        "simulated_cycles_per_second": round(rate * per_image_cycles),
    }
    print(f"GHDL 784->256->10{' --fold auto' if args.fold else ''}: {args.images} images in {t_long:.2f} s, {short} in "
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
