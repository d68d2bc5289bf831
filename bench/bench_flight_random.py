#!/usr/bin/env python3
"""Layers in flight on random shapes: every interval measured equal to the predicted one.

    python bench/bench_flight_random.py [--seed 1] [--designs 24] [-p 2]
                                        [--json bench/flight_random.json]

Draws --designs networks (2 to 4 layers, 3 to 70 inputs, 2 to 40 neurons per layer, seeded
random weights), each with random lanes per layer (1, 2, 3, 5, 8 or one per neuron) and 1
to 4 inputs per clock in the first layer, layers in flight: the shapes where the early
start (hardware_plan.early_layers) is taken, refused, or not possible mix at random.
Generates each and runs its top-level bench (every logit and class, the latency) and its
AXI4-Stream bench (images back to back: every result, and every interval between
results against report.json's interval_cycles) in GHDL through VUnit. Writes a row per
design (shape, lanes, SIMD, cycles per layer, which layers start early, the interval,
pass/fail) and exits 1 if any bench fails. About 2-3 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import generator as gen  # noqa: E402
from examples import random_float_model  # noqa: E402


def draw(rng: random.Random) -> tuple[list[int], list[int], list[int]]:
    """A random topology, lanes per layer and SIMD per layer (the first layer only)."""
    n_layers = rng.randint(2, 4)
    topology = [rng.randint(3, 70)] + [rng.randint(2, 40) for _ in range(n_layers)]
    pe = []
    for l in range(n_layers):
        p = rng.choice([None, 1, 2, 3, 5, 8])
        pe.append(topology[l + 1] if p is None else min(p, topology[l + 1]))
    simd = [rng.choice([1, 1, 2, 3, 4])] + [1] * (n_layers - 1)
    return topology, pe, simd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=1, help="draws the shapes")
    p.add_argument("--designs", type=int, default=24)
    p.add_argument("-p", type=int, default=2, help="VUnit's parallel simulations")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "flight_random.json")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="flight_random_") as tmp:
        for i in range(args.designs):
            topology, pe, simd = draw(rng)
            name = f"r{i}"
            g = gen.generate(random_float_model(topology, 100 + i), out=Path(tmp) / name,
                             name=name, vectors=gen.default_vectors(topology[0], 8, 8),
                             opts=gen.Options(in_flight=True, pe=pe, simd=simd),
                             log=lambda *_: None)
            r = g.report
            rows.append({"name": name, "topology": topology, "pe": pe, "simd": simd,
                         "cycles": [x["cycles"] for x in r["layers"]],
                         "early_start": [x["early_start"] for x in r["layers"]],
                         "interval": r["interval_cycles"], "latency": r["latency_cycles"]})
            print(f"{name}: {'-'.join(map(str, topology))} lanes {pe} SIMD {simd[0]}: "
                  f"cycles {rows[-1]['cycles']}, early {rows[-1]['early_start']}, "
                  f"interval {rows[-1]['interval']}", flush=True)
        print(f"simulating {len(rows)} designs (top level and AXI4-Stream benches) ...",
              flush=True)
        script = ("import sys; sys.path.insert(0, %r)\nfrom pathlib import Path\n"
                  "import vunit_run\n"
                  "vu = vunit_run.make_vunit(['-p', %r, '*_axis.test_back_to_back', "
                  "'*.test_all_vectors'], output_path=Path(%r))\n" % (
                      str(ROOT), str(args.p), str(Path(tmp) / "vo"))
                  + "".join("vunit_run.add_network(vu, %r, Path(%r))\n"
                            % (row["name"], str(Path(tmp) / row["name"])) for row in rows)
                  + "vu.main()\n")
        sim = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             text=True)
    passed = set(re.findall(r"^pass .*?lib_(\w+)\.(tb_\w+)\.(\w+)", sim.stdout, re.M))
    for row in rows:
        n = row["name"]
        row["top"] = (n, f"tb_{n}", "test_all_vectors") in passed
        row["axis"] = (n, f"tb_{n}_axis", "test_back_to_back") in passed
    ok = sum(r["top"] and r["axis"] for r in rows)
    early = sum(any(r["early_start"]) for r in rows)
    seconds = round(time.perf_counter() - t0, 1)
    args.json.write_text(json.dumps({"seed": args.seed, "seconds": seconds,
                                     "designs_passed": ok, "rows": rows}, indent=2) + "\n")
    print(f"{ok} of {len(rows)} designs bit-exact at their predicted latency and interval "
          f"({early} with an early start); {seconds} s; wrote {args.json}")
    if ok != len(rows):
        print("\n".join(line for line in sim.stdout.splitlines()
                        if line.startswith("fail"))[-3000:], file=sys.stderr)
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
