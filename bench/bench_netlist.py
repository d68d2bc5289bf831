#!/usr/bin/env python3
"""Synthesis makes what GHDL simulates, for the big network: the Verilog netlist of
784->256->10's <name>_top (estimate.ghdl_to_verilog, the one the estimate and implement.py
read) simulated in Icarus Verilog through the cocotb test of the top level, bit-exact and
cycle-exact against the Python integer reference model.

    python bench/bench_netlist.py [--topology 784,256,10] [--json bench/netlist.json]

The cocotb test (tests/test_cocotb_top.py) writes 12 images in random order, checks class,
logits and the clocks from start to done, then a start while busy and a reset mid-image.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import generator  # noqa: E402
from examples import random_float_model  # noqa: E402
from test_netlist import netlist, run_netlist  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topology", default="784,256,10")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "netlist.json")
    args = p.parse_args(argv)
    topology = [int(t) for t in args.topology.split(",")]
    name = "net_" + "_".join(map(str, topology))
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bram_mlp_netlist_") as tmp:
        tmp = Path(tmp)
        g = generator.generate(random_float_model(topology, 13), out=tmp / name, name=name,
                               log=lambda *_: None)
        t0 = time.perf_counter()
        verilog = netlist(g.out, f"{name}_top", tmp / "work")
        t_synth = time.perf_counter() - t0
        t1 = time.perf_counter()
        exact = run_netlist(g.out, f"{name}_top", "test_cocotb_top", verilog, tmp / "sim")
        t_sim = time.perf_counter() - t1
        size = verilog.stat().st_size
    row = {"topology": topology, "top": f"{name}_top", "bit_exact_and_cycle_exact": exact,
           "latency_cycles": g.report["latency_cycles"], "netlist_bytes": size,
           "seconds": {"ghdl_synth": round(t_synth, 1), "icarus_cocotb": round(t_sim, 1)},
           "load_before": load_before, "load_after": round(os.getloadavg()[0], 2)}
    args.json.write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row, indent=2))
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
