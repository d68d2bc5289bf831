#!/usr/bin/env python3
"""Synthesis makes what GHDL simulates, for the big network: the Verilog netlist of
784->256->10's <name>_top (estimate.ghdl_to_verilog, the one the estimate and implement.py
read) simulated with Verilator, bit-exact and cycle-exact against the Python integer
reference model.

    python bench/bench_netlist.py [--topology 784,256,10] [--images 20] [--json bench/netlist.json]
                                  [--corrupt-expected]

Icarus Verilog runs this netlist at a few clocks per second (the tests use it for the small
networks, through the cocotb benches); Verilator compiles it to C++. Debian's Verilator
(5.006) is older than cocotb 2.1 accepts, so the bench drives the netlist from a small
Verilog testbench written here (`verilator --binary --timing`): it writes each image into
the top level's input buffer, pulses start, counts the clocks to done and compares class
and every logit with the reference model's (expected values computed in Python from
quantized.npz, not from the VHDL). Figures, not pass/fail (the exit status is 1 when a
result differs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import generator  # noqa: E402
import hardware_plan as hp  # noqa: E402
import quantization_functions as qf  # noqa: E402
from examples import random_float_model  # noqa: E402
from test_netlist import netlist  # noqa: E402


def testbench(top: str, n_images: int, n_in: int, in_bits: int, addr_bits: int,
              n_out: int, logit_bits: int, class_bits: int, latency: int) -> str:
    """A self-checking Verilog testbench for <top> reading inputs.hex / expected.hex."""
    lw = n_out * logit_bits
    return f"""`timescale 1ns/1ps
// bench_netlist.py: drives {top} (the GHDL netlist) image by image and checks each result.
module tb;
  reg clk = 0;
  always #5 clk = ~clk;
  reg rst = 1, wr_en = 0, start = 0;
  reg [{addr_bits - 1}:0] wr_addr = 0;
  reg [{in_bits - 1}:0] wr_data = 0;
  wire busy, done;
  wire [{class_bits - 1}:0] class_out;
  wire [{lw - 1}:0] logits;
  {top} dut (.clk(clk), .rst(rst), .wr_en(wr_en), .wr_addr(wr_addr), .wr_data(wr_data),
             .start(start), .busy(busy), .done(done), .class_out(class_out), .logits(logits));

  reg [{in_bits - 1}:0] inputs [0:{n_images * n_in - 1}];
  reg [{lw + class_bits - 1}:0] expected [0:{n_images - 1}];  // {{class, logits}}
  integer v, i, cycles, exact, cmin, cmax;
  initial begin
    $readmemh("inputs.hex", inputs);
    $readmemh("expected.hex", expected);
    exact = 0; cmin = 1 << 30; cmax = 0;
    repeat (3) @(negedge clk);
    rst = 0;
    for (v = 0; v < {n_images}; v = v + 1) begin
      for (i = 0; i < {n_in}; i = i + 1) begin
        @(negedge clk);
        wr_en = 1; wr_addr = i; wr_data = inputs[v * {n_in} + i];
      end
      @(negedge clk);
      wr_en = 0; start = 1;
      @(posedge clk);           // the edge that samples start
      // clocks from the edge that samples start to the edge that samples done (as the
      // VHDL benches count them): done seen at the falling edge after it rose, + 1
      cycles = 1;
      while (1) begin
        @(negedge clk);
        start = 0;
        if (done) break;
        if (cycles > {4 * latency}) begin $display("vector %0d: no done", v); $finish; end
        @(posedge clk);
        cycles = cycles + 1;
      end
      if (cycles < cmin) cmin = cycles;
      if (cycles > cmax) cmax = cycles;
      if ({{class_out, logits}} === expected[v]) exact = exact + 1;
      else $display("vector %0d: got class %0d logits %h, expected %h", v, class_out, logits, expected[v]);
    end
    $display("BENCH images=%0d exact=%0d cycles_min=%0d cycles_max=%0d", {n_images}, exact, cmin, cmax);
    $finish;
  end
endmodule
"""


def hex_words(values: np.ndarray, bits: int) -> str:
    digits = (bits + 3) // 4
    return "\n".join(f"{int(v) & ((1 << bits) - 1):0{digits}x}" for v in values) + "\n"


def expected_words(logits: np.ndarray, classes: np.ndarray, logit_bits: int,
                   class_bits: int) -> str:
    """{class, logit n-1, ..., logit 0} per image, as the top level's ports put them."""
    lines = []
    for row, c in zip(logits, classes):
        word = int(c)
        for value in reversed(row):
            word = (word << logit_bits) | (int(value) & ((1 << logit_bits) - 1))
        width = class_bits + len(row) * logit_bits
        lines.append(f"{word:0{(width + 3) // 4}x}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topology", default="784,256,10")
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "netlist.json")
    p.add_argument("--corrupt-expected", action="store_true",
                   help="add 1 to logit 0 of image 0's expected value: the check must fail")
    args = p.parse_args(argv)
    verilator = shutil.which("verilator")
    if verilator is None:
        print("bench_netlist: needs Verilator (apt-get install verilator)", file=sys.stderr)
        return 2
    topology = [int(t) for t in args.topology.split(",")]
    name = "net_" + "_".join(map(str, topology))
    top = f"{name}_top"
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bram_mlp_netlist_") as tmp:
        tmp = Path(tmp)
        g = generator.generate(random_float_model(topology, 13), out=tmp / name, name=name,
                               log=lambda *_: None)
        r = g.report
        rng = np.random.default_rng(5)
        images = rng.integers(0, 1 << r["input_bits"], (args.images, topology[0]))
        images[0] = 0
        images[1] = (1 << r["input_bits"]) - 1
        with np.load(g.out / "quantized.npz", allow_pickle=False) as d:
            q = qf.QuantizedModel.from_arrays(d)   # the manifest: what the generator wrote
        logits, classes = qf.reference_forward(q, images)
        if args.corrupt_expected:
            logits[0, 0] += 1
        logit_bits = r["layers"][-1]["acc_bits"]
        class_bits = hp.addr_bits(max(topology[-1], 2))   # as hardware_plan sizes the ports
        addr_bits = hp.addr_bits(topology[0])
        t0 = time.perf_counter()
        verilog = netlist(g.out, top, tmp / "work")
        t_synth = time.perf_counter() - t0
        sim = tmp / "sim"
        sim.mkdir()
        (sim / "tb.v").write_text(testbench(top, args.images, topology[0], r["input_bits"],
                                            addr_bits, topology[-1], logit_bits, class_bits,
                                            r["latency_cycles"]))
        (sim / "inputs.hex").write_text(hex_words(images.reshape(-1), r["input_bits"]))
        (sim / "expected.hex").write_text(expected_words(logits, classes, logit_bits,
                                                         class_bits))
        t1 = time.perf_counter()
        build = subprocess.run(
            [verilator, "--binary", "--timing", "-j", "2", "-Wno-fatal", "-Wno-lint",
             "-Wno-style", "--top-module", "tb", "-o", "sim", "tb.v", str(verilog)],
            cwd=sim, capture_output=True, text=True, timeout=7200)
        t_build = time.perf_counter() - t1
        if build.returncode != 0:
            print(build.stdout[-3000:] + build.stderr[-3000:], file=sys.stderr)
            return 1
        t2 = time.perf_counter()
        run = subprocess.run([str(sim / "obj_dir" / "sim")], cwd=sim, capture_output=True,
                             text=True, timeout=7200)
        t_run = time.perf_counter() - t2
        print(run.stdout[-3000:])
        summary = [line for line in run.stdout.splitlines() if line.startswith("BENCH ")]
        figures = dict(kv.split("=") for kv in summary[0].split()[1:]) if summary else {}
        size = verilog.stat().st_size
    exact = figures.get("exact") == str(args.images)
    cycles = (int(figures.get("cycles_min", -1)), int(figures.get("cycles_max", -1)))
    row = {"topology": topology, "top": top, "images": args.images,
           "bit_exact": exact, "cycles_measured": list(cycles),
           "latency_cycles_predicted": r["latency_cycles"],
           "cycle_exact": cycles == (r["latency_cycles"], r["latency_cycles"]),
           "netlist_bytes": size,
           "simulator": subprocess.run([verilator, "--version"], capture_output=True,
                                       text=True).stdout.strip(),
           "seconds": {"ghdl_synth": round(t_synth, 1), "verilator_build": round(t_build, 1),
                       "simulation": round(t_run, 1)},
           "load_before": load_before, "load_after": round(os.getloadavg()[0], 2)}
    args.json.write_text(json.dumps(row, indent=2) + "\n")
    print(json.dumps(row, indent=2))
    return 0 if exact and row["cycle_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
