#!/usr/bin/env python3
"""Cycles per image through the AXI4-Stream wrapper <name>_axis, against the core's latency.

    python bench/bench_axis.py [--images 4] [--json bench/axis.json]

For the example networks mnist_10 (784->10) and mnist_256_10 (784->256->10), int8: the
images are streamed back to back into s_axis (tvalid always high), m_axis tready is held
high, and the clock of every transfer is recorded (cocotb + cocotbext-axi, GHDL). Printed:
the clocks between consecutive results (the steady-state cycles per image), the clocks
from the first input beat of image 0 to the last output beat of its result, and the
core's latency (report.json, the clocks from start to done that vunit_run.py measures).
Every result is also compared with the Python integer reference model. Figures, not
pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
import cocotb_support as cs  # noqa: E402

RESULT_ENV = "BRAM_MLP_BENCH_RESULT"
IMAGES_ENV = "BRAM_MLP_BENCH_IMAGES"
NETWORKS = ("mnist_10", "mnist_256_10")

try:
    import cocotb
    from cocotb.triggers import ClockCycles, RisingEdge
    from cocotbext.axi import AxiStreamFrame
except ImportError:
    cocotb = None

# simulated time after which a cocotb test fails instead of waiting forever (a hang)
SIM_TIMEOUT_MS = 50

if cocotb is not None:

    @cocotb.test(timeout_time=SIM_TIMEOUT_MS, timeout_unit="ms")
    async def measure_back_to_back(dut):
        d = cs.load_design()
        n_images = int(os.environ.get(IMAGES_ENV, "4"))
        X = d.random_images(n_images, seed=51)
        source, sink = await cs.start_stream_models(dut)
        events = {"in": [], "in_last": [], "out_first": [], "out_last": []}
        clock = 0
        first_out_beat = True

        async def monitor():
            nonlocal clock, first_out_beat
            while True:
                await RisingEdge(dut.aclk)
                clock += 1
                if dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
                    events["in"].append(clock)
                    if dut.s_axis_tlast.value == 1:
                        events["in_last"].append(clock)
                if dut.m_axis_tvalid.value == 1 and dut.m_axis_tready.value == 1:
                    if first_out_beat:
                        events["out_first"].append(clock)
                    first_out_beat = dut.m_axis_tlast.value == 1
                    if first_out_beat:
                        events["out_last"].append(clock)

        cocotb.start_soon(monitor())
        await ClockCycles(dut.aclk, 3)
        dut.aresetn.value = 1
        for x in X:
            source.send_nowait(AxiStreamFrame(d.words(x)))
        frames = [await sink.recv() for _ in X]
        logits, classes = d.reference(X)
        exact = all(
            list(f.tdata) == [int(c)] + [int(v) & 0xFFFFFFFF for v in row]
            for f, row, c in zip(frames, logits, classes))
        out = events["out_last"]
        result = {
            "images": n_images, "latency_cycles": d.latency,
            "first_image_in_to_result_out": out[0] - events["in"][0] + 1,
            "tlast_in_to_result_out": [b - a for a, b in zip(events["in_last"], out)],
            "cycles_between_results": [b - a for a, b in zip(out, out[1:])],
            "equal_to_reference": exact,
        }
        Path(os.environ[RESULT_ENV]).write_text(json.dumps(result))


def measure(key: str, work: Path, n_images: int) -> dict:
    import examples
    import vhdl_generator as vg
    ex = next(e for e in examples.examples() if e.name == key)
    g = vg.generate(ex.model, out=work / key, name=key, opts=ex.opts, log=lambda *_: None)
    result_file = work / f"{key}.json"
    cs.run_cocotb(g.out, f"{key}_axis", "bench_axis", work / f"sim_{key}",
                  extra_env={RESULT_ENV: str(result_file), IMAGES_ENV: str(n_images)})
    r = json.loads(result_file.read_text())
    r["topology"] = "->".join(map(str, g.report["topology"]))
    return r


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=4, help="images streamed back to back")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    if cocotb is None or cs.GHDL is None:
        print("error: needs GHDL, cocotb and cocotbext-axi (pip install -r requirements.txt)",
              file=sys.stderr)
        return 2
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key in NETWORKS:
            figures[key] = measure(key, Path(tmp), args.images)
    print(f"\n{'network':<14} {'topology':<12} {'core latency':>12} {'cycles/image':>13} "
          f"{'image 0 in->out':>16} {'TLAST in->out':>14} {'bit-exact':>9}")
    for key, r in figures.items():
        per_image = "/".join(str(c) for c in sorted(set(r["cycles_between_results"])))
        tlast = "/".join(str(c) for c in sorted(set(r["tlast_in_to_result_out"])))
        print(f"{key:<14} {r['topology']:<12} {r['latency_cycles']:>12} {per_image:>13} "
              f"{r['first_image_in_to_result_out']:>16} {tlast:>14} "
              f"{'yes' if r['equal_to_reference'] else 'NO':>9}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
