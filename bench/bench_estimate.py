#!/usr/bin/env python3
"""Benchmark of the resource estimate (estimate.py) on 784->256->10 at the defaults: wall
seconds per phase, the tools' peak memory, the counts, and a second --part.

    python bench/bench_estimate.py [--json bench/estimate.json]

The design is the mnist_256_10 example (seeded random weights, default options). The
first estimate synthesizes (ghdl --synth, then Yosys synth_xilinx); the second, for
another part, judges the kept cells again without synthesizing. Peak memory: the largest
resident set of the child processes (getrusage RUSAGE_CHILDREN), i.e. Yosys's.
Figures, not pass/fail; say the load (printed) beside them.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import estimate  # noqa: E402
import vhdl_generator as vg  # noqa: E402
from examples import random_float_model  # noqa: E402


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--topology", default="784,256,10", help="layer sizes, comma separated")
    args = p.parse_args()
    topology = [int(n) for n in args.topology.split(",")]
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
               "topology": topology, "uptime_before": uptime()}
    with tempfile.TemporaryDirectory() as tmp:
        g = vg.generate(random_float_model(topology, 13), out=Path(tmp) / "d",
                        name="bench_est", log=lambda *_: None)
        t0 = time.perf_counter()
        first = estimate.estimate(g.out, "xc7z020", log=print)
        t_first = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t0 = time.perf_counter()
        second = estimate.estimate(g.out, "xc7a100t", log=print)
        t_second = time.perf_counter() - t0
    figures.update({
        "seconds": {"ghdl": first["seconds"]["ghdl"], "total": round(t_first, 1),
                    "yosys": round(t_first - first["seconds"]["ghdl"], 1),
                    "second_part": round(t_second, 2)},
        "peak_rss_mb": round(peak_mb),
        "counts": {k: first[k] for k in estimate.RESOURCES},
        "lut_includes": {k: first[k] for k in ("LUTRAM", "SRL")},   # as the estimate prints
        "second_part_same_cells": second["cells"] == first["cells"],
        "uptime_after": uptime()})
    print(f"{'-'.join(map(str, topology))}: estimate {t_first:.0f} s (ghdl "
          f"{first['seconds']['ghdl']:.0f} s), peak {peak_mb:.0f} MB; counts "
          f"{figures['counts']}; another --part {t_second:.2f} s (no new synthesis: "
          f"{not second['synthesized']})")
    print(f"load: {figures['uptime_before']} / {figures['uptime_after']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
