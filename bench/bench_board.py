#!/usr/bin/env python3
"""What the generator writes to take 784->256->10 to a board, checked as the tests check
small networks (issue 17): the file lists of vivado/ and driver/, the Vivado scripts run
in tclsh against the stand-ins of Vivado's commands (tests/vivado_stub.tcl), the C example
compiled with gcc -Wall -Wextra (warnings counted), and the PYNQ driver run unchanged
against the GHDL simulation of <name>_axis through cocotb, 50 images compared with the
integer reference model.

    python bench/bench_board.py [--images 50] [--json bench/board.json]

The design is the mnist_256_10 example (seeded random weights, default options, the
PYNQ-Z2's xc7z020). Figures, not pass/fail; the load is printed beside the times.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
import cocotb_support as cs  # noqa: E402
import test_cocotb_driver as driver_test  # noqa: E402
import test_vivado_scripts as scripts  # noqa: E402
import vhdl_generator as vg  # noqa: E402
from examples import random_float_model  # noqa: E402


def load() -> float:
    return round(os.getloadavg()[0], 2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=50, help="images through the driver (50)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()
    figures = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
               "network": "784-256-10 (mnist_256_10, default options, xc7z020)",
               "load_before": load()}
    with tempfile.TemporaryDirectory(prefix="bram_mlp_board_") as tmp:
        tmp = Path(tmp)
        name = "mnist_256_10"
        g = vg.generate(random_float_model([784, 256, 10], 13), out=tmp / name, name=name,
                        log=lambda *_: None)
        design = g.out
        figures["files"] = {folder: sorted(f.name for f in (design / folder).iterdir())
                            for folder in ("vivado", "driver")}
        print("vivado/:", ", ".join(figures["files"]["vivado"]))
        print("driver/:", ", ".join(figures["files"]["driver"]))

        # the scripts under the stand-ins: every Vivado command, option, IP, pin checked
        figures["tclsh"] = {}
        for script, argv in (("build.tcl", []), ("build.tcl", ["--impl"]),
                             ("build.tcl", ["--ooc", "--impl"]), ("lab.tcl", ["--impl"])):
            cwd = tmp / f"tcl_{script}_{'_'.join(argv) or 'default'}"
            cwd.mkdir()
            res, calls = scripts.run_script(design, cwd, *argv,
                                            script=design / "vivado" / script)
            key = " ".join([script, *argv])
            figures["tclsh"][key] = {"exit": res.returncode, "vivado_calls": len(calls),
                                     "stderr": res.stderr.strip()}
            print(f"tclsh {key}: exit {res.returncode}, {len(calls)} Vivado commands checked"
                  + (f"; {res.stderr.strip()}" if res.stderr.strip() else ""))

        # the C example: warnings with -Wall -Wextra, both BSP flavours
        stub = ROOT / "tests" / "xilinx_stub"
        warnings = {}
        for flavour, flags in (("device id", []), ("sdt", ["-DSDT"])):
            res = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", *flags, "-I", str(stub),
                                  "-I", str(design / "driver"), "-c",
                                  str(design / "driver" / "bram_mlp_dma.c"), "-o",
                                  str(tmp / "dma.o")], capture_output=True, text=True)
            warnings[flavour] = {"exit": res.returncode,
                                 "warnings": len(re.findall(r"warning:", res.stderr))}
        figures["gcc_wall_wextra"] = warnings
        print("gcc -Wall -Wextra:", warnings)

        # the PYNQ driver against GHDL
        t0 = time.perf_counter()
        sim = tmp / "sim"
        env = {driver_test.IMAGES_ENV: str(args.images), driver_test.BATCH_ENV: "16",
               "BRAM_MLP_DRIVER_TIMEOUT_MS": str(args.images * 0.02 + 1)}
        log_path = tmp / "cocotb.log"
        with open(log_path, "w") as log:
            saved = os.dup(1), os.dup(2)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                os.environ.update({k: v for k, v in env.items()
                                   if k == "BRAM_MLP_DRIVER_TIMEOUT_MS"})
                cs.run_cocotb(design, f"{name}_axis", "test_cocotb_driver", sim, extra_env=env)
                ok = True
            except SystemExit as exc:
                ok = exc.code == 0
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        text = log_path.read_text()
        lines = [line.strip() for line in text.splitlines()
                 if "driver:" in line or "TESTS=" in line]
        seconds = round(time.perf_counter() - t0, 1)
        figures["driver_against_ghdl"] = {"images": args.images, "passed": ok,
                                          "seconds": seconds, "log": lines}
        print(f"driver against GHDL ({seconds} s, {'passed' if ok else 'FAILED'}):")
        for line in lines:
            print("  " + line)
    figures["load_after"] = load()
    print(f"load {figures['load_before']} / {figures['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
