#!/usr/bin/env python3
"""vhdl_generator.py: a trained MLP (.npz) -> readable VHDL, .coe files, test vectors, report.

    python vhdl_generator.py models/net.npz --out build/net

writes into build/net: the VHDL (add every .vhd to a Vivado project), quantized.npz (the
integer manifest), report.json, vectors/ (test vectors for the testbenches), tb/ (the VUnit
testbench) and coe/ (Xilinx .coe files). See README.md and ../shared/DESIGN.md.

The command line only: the pipeline (read -> quantize -> plan -> render -> write) is
generator.py, whose names this module re-exports as the API the labs' instructions and
the notebook use (vhdl_generator.generate, write_test_input_coe, write_layer_weights_mem).
"""
from __future__ import annotations

import sys
from pathlib import Path

import estimate
import implement
import labs
import output_files as outfiles
import quantization_functions as qf
# the generator's API, under the names the README, the labs and the notebook use
from generator import (DEFAULT_VECTORS, HDL_FILES, HDL_WIDE_FILES, VERSION,  # noqa: F401
                       GeneratorError, Generated, Options, add_generator_options,
                       build_report, check_name, check_output, default_name,
                       default_vectors, generate, generate_from_args, input_coe, make_plan,
                       options_from_args, output_folders, outputs_from_columns,
                       outputs_to_columns, parse_neurons_per_rom, quantize, render_design,
                       weights_coe, write_layer_weights_mem, write_test_input_coe)
from fpga_parts import is_ecp5
from hardware_plan import wide_acc  # noqa: F401

__all__ = ["DEFAULT_VECTORS", "HDL_FILES", "HDL_WIDE_FILES", "VERSION", "GeneratorError",
           "Generated", "Options", "add_generator_options", "build_report", "check_name",
           "check_output", "default_name", "default_vectors", "generate",
           "generate_from_args", "input_coe", "make_plan", "options_from_args",
           "output_folders", "outputs_from_columns", "outputs_to_columns",
           "parse_neurons_per_rom", "quantize", "render_design", "weights_coe",
           "write_layer_weights_mem", "write_test_input_coe", "wide_acc", "main"]
from model_files import InputError, OneLineArgumentParser, read_input_codes
from model_import import read_model


def main(argv: list[str] | None = None) -> int:
    p = OneLineArgumentParser(
        prog="vhdl_generator.py",
        description="Turn a trained MLP (.npz: W0,b0,W1,b1,... with W shaped (n_out, n_in), "
                    "or the lab's W,b) into VHDL with block-RAM weight ROMs, .coe "
                    "files, test vectors and a report. Simulate it with vunit_run.py.")
    p.add_argument("model", type=Path, nargs="?",
                   help="float model: .npz (W0, b0, W1, b1, ...), .onnx, .keras or .h5; "
                        "or a quantized QONNX .onnx (Brevitas), built from its own integers "
                        "(docs/import.md)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: hdl/generated/<name>/ and coe/<name>/): "
                        "a new or empty folder, or an earlier output, which is replaced as a "
                        "whole on success; a folder holding any file the generator did not "
                        "write (or one changed since) is refused, nothing is touched")
    p.add_argument("--vectors", type=Path, default=None, metavar="X.npy",
                   help=f"test inputs for the testbench (default: {DEFAULT_VECTORS} "
                        "generated vectors): integer codes (uint8 pixels), or floats read as "
                        "the scaled inputs, code = x / input_scale, which must lie on that "
                        "grid")
    p.add_argument("--estimate", action="store_true",
                   help="afterwards estimate the FPGA resources with GHDL + Yosys (needs "
                        "--out; writes DIR/estimate.json and prints a table; see estimate.py)")
    p.add_argument("--implement", action="store_true",
                   help="afterwards place and route the design with open tools (Yosys "
                        "synth_ecp5 + nextpnr-ecp5, out of context) and report the clock it "
                        "reaches (needs --out; writes DIR/implement.json; see implement.py)")
    p.add_argument("--ecp5-part", default=None, metavar="PART",
                   help=f"with --implement: the ECP5 part, {', '.join(implement.ECP5_PARTS)} "
                        f"(default: the one --part names, lfe5u-85f -> LFE5U-85F-6BG381C; "
                        f"else {implement.DEFAULT_ECP5}, the ULX3S board's)")
    p.add_argument("--exercise", type=int, default=None, metavar="LAB",
                   help="student mode: write lab LAB's exercise (1: neuron_mac, 2: argmax, "
                        "3: requantizer; the lab's hand-written piece with its body replaced "
                        "by a TODO region) to labs/work/labLAB/ (or --out DIR: DIR/labLAB/), "
                        "never over an existing file; grade it with vunit_run.py --lab LAB")
    add_generator_options(p)
    args = p.parse_args(argv)
    if args.exercise is not None:
        try:
            path = labs.write_exercise(labs.get_lab(args.exercise), args.out or labs.WORK_DIR)
        except labs.LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        lab_dir = "" if args.out is None else f" --lab-dir {args.out}"
        print(f"instructions: labs/lab{args.exercise}.md; the lab's check: "
              f"python3 vunit_run.py --lab {args.exercise}{lab_dir}")
        return 0 if path.exists() else 1
    if args.model is None:
        p.error("give a model .npz (or --exercise LAB)")
    try:
        for flag in ("estimate", "implement"):
            if getattr(args, flag) and args.out is None:
                raise GeneratorError(f"--{flag} needs --out DIR")
        if args.implement and args.ecp5_part is not None:
            implement.check_ecp5_part(args.ecp5_part)
        if args.estimate and is_ecp5(args.part):
            raise GeneratorError(f"--estimate maps to Xilinx 7-series cells, and --part "
                                 f"{args.part} is a Lattice ECP5: use --implement")
        options_from_args(args)  # every option checked before any work
        name = check_name(args.name if args.name is not None else default_name(args.model))
        check_output(args.out, name, [args.model, args.vectors, args.calibration])
        vectors = None
        if args.vectors is not None:
            model = read_model(args.model)
            vectors = read_input_codes(args.vectors, model.W[0].shape[1], args.input_bits,
                                       model.input_scale)
        g = generate_from_args(args, vectors)
        print_summary(g)
        if args.estimate:
            result = estimate.estimate(g.out, args.part)
            print(estimate.table(result))
            print(f"estimate: {g.out / 'estimate.json'}")
        if args.implement:
            result = implement.implement(g.out, args.ecp5_part, args.clock_mhz)
            print(implement.table(result))
            print(f"implementation: {g.out / implement.IMPLEMENT}")
    except (InputError, GeneratorError, outfiles.OutputError, qf.QuantizationError,
            estimate.EstimateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def dsp_blocks(counts: dict) -> str:
    """'DSP blocks', or with DSP pairs '64 DSP blocks (two per block)'."""
    blocks = counts["dsp_blocks"]
    return ("DSP blocks" if blocks == counts["dsp_macs"] else
            f"{blocks} DSP blocks (two per block where paired)")


def print_summary(g: Generated) -> None:
    r = g.report
    t = r["totals"]
    n_requant = sum(x["requant_multipliers"] for x in r["layers"])
    n_hidden = sum(1 for x in r["layers"] if x["hidden"])
    requant = (f", and {n_requant} in the "
               f"{'requantizer' if n_hidden == 1 else f'{n_hidden} requantizers'}"
               if n_requant else "")
    print(f"{g.name}: {' -> '.join(map(str, r['topology']))}, {r['weight_bits']}-bit weights, "
          f"latency {r['latency_cycles']} cycles (ideal {r['ideal_cycles']}), "
          f"{t['roms']} ROM{'s' if t['roms'] != 1 else ''} / {t['ramb18']} RAMB18, "
          f"{plural(t['multipliers'], 'multiplier')}: {t['dsp_macs']} "
          f"multiply-accumulate{'s' if t['dsp_macs'] != 1 else ''} in "
          f"{dsp_blocks(t)}, {t['lut_macs']} in LUTs{requant}")
    folded = [x for x in r["layers"] if x["passes"] > 1]
    if folded:
        print("folded: " + ", ".join(
            f"layer {x['layer']} {plural(x['pe'], 'lane')} x {x['passes']} passes "
            f"({x['cycles']} clocks)" for x in folded))
    fold = r.get("fold")
    if fold:
        what = ("the fastest that fits " + r["part"] if fold["mode"] == "auto" else
                f"the cheapest that reaches {fold['target_fps']:,.0f} inferences/s at "
                f"{r['clock_mhz']:g} MHz: {fold['target_interval']} clocks per image at most")
        simd = ("" if set(fold["simd"]) == {1} else
                f", inputs per clock {','.join(map(str, fold['simd']))}")
        print(f"fold {'auto' if fold['mode'] == 'auto' else '--target-fps'}: lanes "
              f"{','.join(map(str, fold['pe']))}{simd}, layers in flight, one image every "
              f"{fold['interval']} clocks ({what}; by the tool's count {fold['dsp_macs']} "
              f"multipliers in {dsp_blocks(fold)}, {fold['lut_macs']} in LUTs, "
              f"{fold['ramb18']} RAMB18 with the input buffer)")
        if fold["limit"]:
            print(f"a faster fold does not fit: {fold['limit']}")
    for x in r["layers"]:
        if fold is None and x.get("pe_asked") is not None and x["pe_asked"] > x["n_out"]:
            print(f"note: --pe {x['pe_asked']} for layer {x['layer']}, which has "
                  f"{plural(x['n_out'], 'neuron')}: one lane per neuron ({x['n_out']})")
    print(f"target clock {r['clock_mhz']:g} MHz: one image every "
          f"{r['axis']['image_period_cycles']} clocks, "
          f"{r['inferences_per_second_at_clock']:,.0f} inferences/s if it closes there "
          "(--implement measures the clock it reaches)")
    print(f"VHDL, report, vectors: {g.out}")
    print(f".coe files:            {g.coe}")
    if (g.out / "vivado" / "build.tcl").exists():
        print(f"Vivado:                vivado -mode batch -source {g.out / 'vivado' / 'build.tcl'}"
              " -tclargs --impl (docs/vivado_block_design.md)")
    if (g.out / "driver").is_dir():
        print(f"on the board:          {g.out / 'driver'} (PYNQ driver and notebook, "
              "bare-metal C)")


if __name__ == "__main__":
    sys.exit(main())
