#!/usr/bin/env python3
"""vunit_run.py: simulate the VHDL in GHDL through VUnit and prove it bit-exact.

    python vunit_run.py                 generate the example networks, run every testbench,
                                        print a summary (bit-exact, cycles, sizes)
    python vunit_run.py -p 2 -v         VUnit's own options pass through (-p, -v,
                                        --xunit-xml, test patterns such as '*mnist_10*');
                                        without -v one progress line per phase (generate,
                                        compile, simulate k of n), failures in full
    python vunit_run.py --model M.npz --inputs X.npy --results R.npz [--out DIR]
                                        run any inputs through the simulated hardware;
                                        R.npz gets logits, classes and cycles as measured

See README.md. Needs GHDL on the PATH (Debian/Ubuntu: apt-get install ghdl).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

import output_files as outfiles
import quantization_functions as qf
from labs import LabError
from model_files import InputError, OneLineArgumentParser, read_input_codes
from model_import import read_model
import generator as gen
from vunit_console import run_quietly
# VUnit set-up and simulation live in simulation.py (below this script and the labs); the
# names the benches and tests use are re-exported here
from simulation import (CHUNK_IMAGES, GENERATED, HDL, ROOT, add_components,  # noqa: F401
                        add_network, add_requantizer_vectors, make_vunit, quiet_warnings,
                        raise_stack_limit, read_generated, set_vector_generics,
                        silent_stops, simulate_generated, test_status, verbose,
                        watchdog_clocks, write_requantizer_vectors)

__all__ = ["main", "CHUNK_IMAGES", "GENERATED", "HDL", "ROOT", "add_components", "add_network",
           "add_requantizer_vectors", "make_vunit", "quiet_warnings", "raise_stack_limit",
           "read_generated", "set_vector_generics", "silent_stops", "simulate_generated",
           "test_status", "verbose", "watchdog_clocks", "write_requantizer_vectors",
           "write_results", "is_xunit_report"]

EXAMPLES_DIR = GENERATED / "examples"   # apart from the user's designs in hdl/generated/<name>


# --------------------------------------------------------------------------- arguments
def own_parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(
        prog="vunit_run.py", add_help=False, allow_abbrev=False,
        description="Simulate bram-mlp's VHDL in GHDL (VUnit). Without --model: generate "
                    "the example networks and run every testbench. With --model/--inputs/"
                    "--results: run the given inputs through the simulated hardware; with "
                    "--design DIR/--inputs/--results: the same for a design generated "
                    "earlier into DIR.")
    p.add_argument("-h", "--help", action="store_true", help="show this help and VUnit's")
    m = p.add_argument_group("run your own inputs through the simulated hardware")
    m.add_argument("--model", type=Path,
                   help="float model .npz, .onnx, .keras or .h5 (generated with the "
                        "quantization and hardware options below), or a QONNX .onnx "
                        "(Brevitas: its own quantization, the hardware options below)")
    m.add_argument("--design", type=Path, metavar="DIR",
                   help="instead of --model: a folder vhdl_generator.py wrote (its "
                        "report.json and quantized.npz say how it was made); nothing in it "
                        "is written")
    m.add_argument("--inputs", type=Path, metavar="X.npy",
                   help="input images (n_images, n_inputs): integer codes (uint8 pixels by "
                        "default) or the scaled floats the network was trained on "
                        "(code = x / input_scale, e.g. pixels / 255)")
    m.add_argument("--results", type=Path, metavar="R.npz",
                   help="where to write logits (n, n_out), classes (n,), cycles (n,)")
    m.add_argument("--labels", type=Path, metavar="y.npy",
                   help="labels of the inputs (n_images,) (trainer.py --export-test writes "
                        "them): also print the hardware's accuracy")
    m.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="generate the design into DIR (default: a temporary folder), as "
                        "vhdl_generator.py --out does: a new or empty folder or an earlier "
                        "output, replaced as a whole; a folder holding any file the "
                        "generator did not write is refused")
    t = p.add_argument_group("teaching labs (labs/lab1.md ...)")
    t.add_argument("--lab", type=int, metavar="N",
                   help="grade lab N (1, 2, 3): your labs/work/labN/ file against the lab's "
                        "checks, a pass/fail table with a hint per failure (writes the "
                        "exercise file first if it is missing)")
    t.add_argument("--lab-dir", type=Path, default=None, metavar="DIR",
                   help="the students' folder holding labN/ (default labs/work; an "
                        "instructor can point it at a student's submission: a missing "
                        "labN/ file there is an error, nothing is written)")
    t.add_argument("--reference", action="store_true",
                   help="with --lab: grade the instructor's reference in hdl/ instead")
    t.add_argument("--wave", action="store_true",
                   help="write a GHDL waveform (.vcd) per test; with --lab also a GTKWave "
                        "save file (.gtkw) per test in labs/work/labN/waves/ (waves_reference/ "
                        "with --reference) that opens on "
                        "the lab's signals")
    gen.add_generator_options(p)
    return p


LAB_OPTIONS = ("lab_dir", "reference")                 # only with --lab
MODEL_OPTIONS = ("inputs", "results", "out", "labels")  # only with --model (or --design)
BOTH = ("help", "wave", "lab", "model", "design")


def given_options(argv: list[str]) -> list[str]:
    """The dests of the options argv gives (whatever their values), in parser order."""
    p = own_parser()
    for a in p._actions:
        a.default = argparse.SUPPRESS
    given = vars(p.parse_known_args(argv)[0])
    return [a.dest for a in p._actions if a.dest in given]


def check_mode(given: list[str]) -> None:
    """One mode per run: --lab N, --model M (with --inputs/--results/--out and the
    generator options), or neither (the example networks). An option of another mode
    would do nothing: refused."""
    def opt(dest: str) -> str:
        return "--" + dest.replace("_", "-")

    def listed(dests: list[str]) -> str:
        return ", ".join(map(opt, dests))

    generator = [d for d in given if d not in LAB_OPTIONS + MODEL_OPTIONS + BOTH]
    if "design" in given:
        wrong = [d for d in given if d in ("model", "out", "lab") + LAB_OPTIONS] + generator
        if wrong:
            raise InputError(f"--design DIR simulates the design as it was generated; "
                             f"{listed(wrong)} {'does' if len(wrong) == 1 else 'do'} not go "
                             "with it (regenerate with --model M.npz and the options instead)")
        return
    if "lab" in given:
        wrong = [d for d in given if d in ("model",) + MODEL_OPTIONS] + generator
        if wrong:
            raise InputError(f"--lab N grades a lab on its own network; {listed(wrong)} "
                             f"{'does' if len(wrong) == 1 else 'do'} not go with it (run "
                             "--model M --inputs X.npy --results R.npz separately)")
        return
    wrong = [d for d in given if d in LAB_OPTIONS]
    if wrong:
        raise InputError(f"{listed(wrong)} {'goes' if len(wrong) == 1 else 'go'} with --lab N")
    if "model" not in given:
        wrong = [d for d in given if d in MODEL_OPTIONS] + generator
        if wrong:
            raise InputError(f"{listed(wrong)} {'needs' if len(wrong) == 1 else 'need'} "
                             "--model M.npz or --design DIR (without them, vunit_run.py "
                             "runs the example networks with their own options)")


def run_inputs(args: argparse.Namespace) -> list[Path | None]:
    """Every file this run reads: no output may be one of them."""
    return [getattr(args, k, None) for k in ("model", "design", "inputs", "labels",
                                             "calibration", "lab_dir")]


def check_inputs_and_results(args: argparse.Namespace, mode: str, folder: Path | None) -> None:
    """--inputs and --results are given, and R.npz can be written (outside the design, not
    over an input, not over a file bram-mlp did not write)."""
    missing = [o for o, v in (("--inputs", args.inputs), ("--results", args.results))
               if v is None]
    if missing:
        raise InputError(f"{mode} needs {' and '.join(missing)}")
    check_results_path(args.results, folder, run_inputs(args))


def model_mode(args: argparse.Namespace, vunit_argv: list[str]) -> int:
    """--model/--inputs/--results: generate, simulate every row, write R.npz."""
    check_inputs_and_results(args, "--model", args.out)
    opts = gen.options_from_args(args)  # checks --name and the bit widths too
    if args.out is not None:  # the output folder, before any work (as vhdl_generator.py)
        name = gen.check_name(args.name if args.name is not None
                             else gen.default_name(args.model))
        gen.check_output(args.out, name, [args.model, args.inputs, args.calibration])
    model = read_model(args.model)
    X = read_input_codes(args.inputs, model.W[0].shape[1], opts.input_bits, model.input_scale)
    labels = read_labels(args.labels, len(X), model.topology[-1])
    out = args.out
    if out is None:
        tmp_design = Path(tempfile.mkdtemp(prefix="bram_mlp_design_"))
        out = tmp_design / "design"
    problems: list[str] = []
    try:
        print(f"generating {args.model} into {out} ({len(X)} input rows)")
        g = gen.generate_from_args(args, vectors=X, out=out)
        sim = simulate_generated(g, X, vunit_argv, problems)
    finally:
        if args.out is None:
            shutil.rmtree(tmp_design, ignore_errors=True)
    if sim is None:
        for line in problems or ["error: the simulation did not finish; see the log above"]:
            print(line, file=sys.stderr)
        return 1
    return finish(args, g, X, sim, labels)


def finish(args: argparse.Namespace, g: gen.Generated, X: np.ndarray,
           sim: dict[str, np.ndarray], labels: np.ndarray | None) -> int:
    """Write R.npz, compare with the integer reference model, print the accuracy."""
    write_results(args.results, sim, run_inputs(args))
    ref_logits, ref_classes = qf.reference_forward(g.q, X)
    same = (np.array_equal(ref_logits, sim["logits"])
            and np.array_equal(ref_classes, sim["classes"]) and bool(sim["axis_equal"]))
    cycles = sim["cycles"]
    interval = int(sim["interval"])
    streamed = (f"through the AXI4-Stream wrapper one image every {interval} clocks"
                if interval > 0 else "one image through the AXI4-Stream wrapper")
    print(f"wrote {args.results}: {len(X)} images, cycles per image "
          f"{cycles.min()}..{cycles.max()} (predicted {g.report['latency_cycles']}), "
          f"{streamed} (predicted {g.report['interval_cycles']}); "
          f"equal to the integer reference model: {'yes' if same else 'NO'}")
    if labels is not None:
        right = int(np.sum(sim["classes"] == labels))
        print(f"accuracy of the simulated hardware against {args.labels}: "
              f"{right / len(labels):.4f} ({right} of {len(labels)} images)")
    return 0 if same else 1


def read_labels(path: Path | None, n_images: int, n_classes: int) -> np.ndarray | None:
    """y.npy: one integer class per image (0..n_classes-1; a one-output network: 0 or 1)."""
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        y = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc.__class__.__name__})") from None
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "iu":
        raise InputError(f"{path}: labels must be an integer array (n_images,)")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != n_images:
        raise InputError(f"{path}: must hold one label per input image ({n_images}), got "
                         f"shape {y.shape}")
    top = max(n_classes, 2) - 1
    if y.min() < 0 or y.max() > top:
        raise InputError(f"{path}: labels must be classes 0..{top}, got {y.min()}..{y.max()}")
    return y.astype(np.int64)


def design_mode(args: argparse.Namespace, vunit_argv: list[str]) -> int:
    """--design DIR/--inputs/--results: simulate a design generated earlier, as it is."""
    check_inputs_and_results(args, "--design", args.design)
    g = read_generated(args.design)
    scale = g.q.sx[0] if g.q.sx else 1.0 / 255.0
    X = read_input_codes(args.inputs, g.q.topology[0], g.q.input_bits, scale)
    labels = read_labels(args.labels, len(X), g.q.topology[-1])
    print(f"simulating {args.design} ({g.name}, {'-'.join(map(str, g.q.topology))}; "
          f"{len(X)} input rows)")
    problems: list[str] = []
    sim = simulate_generated(g, X, vunit_argv, problems)
    if sim is None:
        for line in problems or ["error: the simulation did not finish; see the log above"]:
            print(line, file=sys.stderr)
        return 1
    return finish(args, g, X, sim, labels)


def check_results_path(results: Path, out: Path | None,
                       inputs: list[Path | None] = ()) -> None:
    """--results R.npz can be written once the simulation is done: checked before it (the
    rules of output_files: new, or an earlier results file of ours; never an input)."""
    if results.suffix != ".npz":
        raise InputError(f"{results}: the results file must end in .npz")
    if out is not None and results.resolve().is_relative_to(Path(out).resolve()):
        raise InputError(f"{results}: inside the design folder {out}, which holds only "
                         "what the generator writes; write the results elsewhere")
    try:
        outfiles.check_file_replaceable(results, "the results", inputs)
    except outfiles.OutputError as exc:
        raise InputError(str(exc)) from None


def write_results(path: Path, sim: dict[str, np.ndarray],
                  inputs: list[Path | None] = ()) -> None:
    """R.npz, atomically (output_files.write_file)."""
    try:
        outfiles.write_file(path, lambda f: np.savez(f, **sim), "the results", inputs)
    except outfiles.OutputError as exc:
        raise InputError(str(exc)) from None


# What VUnit itself puts at the top of its output folder (-o, default vunit_out): a
# folder holding anything else is not VUnit's, and --clean would delete it all.
VUNIT_OUTPUT_NAMES = {"project_database", "preprocessed", "codecs", "test_output", "ghdl",
                      "nvc", "none", "modelsim", "rivierapro", "activehdl", "incisive"}


def vunit_output_default(args: argparse.Namespace) -> Path | None:
    """Where VUnit writes when -o is not given: vunit_out/ for the example networks (None:
    a temporary folder or the labs' own build folder, nothing of the user's)."""
    if args.lab is None and args.model is None and args.design is None:
        return ROOT / "vunit_out"
    return None


def check_vunit_outputs(vunit_argv: list[str], inputs: list[Path | None],
                        default_output: Path | None) -> None:
    """VUnit's own outputs keep the promise too, checked before anything runs: -o DIR
    (VUnit renews its preprocessed/, test_output/ ... folders in it, and --clean deletes
    the whole folder) must be new or hold only VUnit's folders, and no input of the run;
    -x FILE (the xunit report) must be new or an earlier xunit report, and no input."""
    vargs = parse_vunit_argv(vunit_argv)
    given = any(a in ("-o", "--output-path") or a.startswith("--output-path=")
                for a in vunit_argv)
    folder = Path(vargs.output_path) if given else default_output
    try:
        if folder is not None:
            check_vunit_folder(folder, inputs, vargs.clean)
        if vargs.xunit_xml:
            xml = Path(vargs.xunit_xml)
            outfiles.check_not_an_input(xml, inputs, "the xunit report (-x)")
            if xml.is_dir():
                raise InputError(f"{xml}: is a folder; -x wants a file name for the xunit report")
            if (xml.exists() or xml.is_symlink()) and not is_xunit_report(xml):
                raise InputError(f"{xml}: exists and is not an xunit report; -x would "
                                 "overwrite it: give -x another file name")
            outfiles.check_writable_place(xml, "the xunit report (-x)")
    except outfiles.OutputError as exc:
        raise InputError(str(exc)) from None


def parse_vunit_argv(vunit_argv: list[str]) -> argparse.Namespace:
    """VUnit's options as VUnit reads them; an option neither vunit_run.py nor VUnit knows
    is one error line here, before any work (not VUnit's usage block after generating)."""
    import contextlib
    import io
    from vunit.vunit_cli import VUnitCLI
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
            return VUnitCLI().parse_args(vunit_argv)
    except SystemExit:
        last = [line for line in said.getvalue().splitlines() if line.strip()][-1:]
        why = last[0].split("error: ", 1)[-1] if last else " ".join(vunit_argv)
        raise InputError(f"{why} (vunit_run.py --help lists its options and VUnit's)") from None


def check_vunit_folder(folder: Path, inputs: list[Path | None], clean: bool) -> None:
    """-o DIR: new, or holding only VUnit's own folders (and, in vunit_out/, the labs'
    build folder), and none of the run's inputs."""
    outfiles.check_not_an_input(folder, inputs, "VUnit's output folder (-o)")
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise InputError(f"{folder}: VUnit's output folder (-o) exists and is not a folder")
    if not folder.is_dir():
        return
    ours = VUNIT_OUTPUT_NAMES | ({"labs"} if same_path(folder, ROOT / "vunit_out") else set())
    other = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                   if p.name not in ours)
    if other:
        raise InputError(
            f"{folder}: VUnit's output folder (-o) holds files VUnit did not write "
            f"({outfiles.names(other)}), which "
            f"{'--clean deletes' if clean else 'VUnit may replace'}"
            ": move them out, or give -o a new folder")


def same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def is_xunit_report(path: Path) -> bool:
    """path is an xunit/JUnit XML report (root <testsuite> or <testsuites>), as -x writes."""
    import xml.etree.ElementTree as ET
    try:
        if path.is_symlink() or not path.is_file():
            return False
        return ET.parse(path).getroot().tag in ("testsuite", "testsuites")
    except (OSError, ET.ParseError):
        return False


def generate_examples(log=print) -> list:
    import examples
    made = []
    for ex in examples.examples():
        n_in = ex.model.topology[0]
        vectors = (examples.extreme_vectors(n_in, ex.n_vectors) if ex.name.startswith("extremes")
                   else gen.default_vectors(n_in, 8, ex.n_vectors, ex.seed))
        g = gen.generate(ex.model, out=EXAMPLES_DIR / ex.name, name=ex.name, opts=ex.opts,
                        vectors=vectors, log=lambda *_: None)
        made.append((ex, g))
    log(f"generated {len(made)} example networks into {EXAMPLES_DIR.relative_to(ROOT)}/")
    return made


def summarize(made: list, results) -> None:
    """One line per network: bit-exact, cycles measured vs predicted, ROMs, where the
    multiply-accumulates are (DSP blocks / LUTs), the interval through the AXI4-Stream
    wrapper, the multiply-accumulate lanes per layer (fewer than the neurons: folded)."""
    tests = results.get_report().tests
    print()
    print(f"{'network':<22} {'topology':<18} {'bits':<10} {'vectors':>7} {'bit-exact':>9} "
          f"{'cycles':>7} {'predicted':>9} {'ideal':>6} {'ROMs':>5} {'MACs dsp/lut':>12} "
          f"{'axis/img':>8} {'lanes':<10}")
    def read_csv(path: Path) -> np.ndarray:
        return np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)

    for ex, g in made:
        r = g.report
        exp = read_csv(g.out / "vectors" / "expected.csv")   # logits..., class
        key = f"lib_{g.name}.tb_{g.name}.test_all_vectors"
        test = tests.get(key)
        exact, cyc = "not run", "-"
        if test is not None and (test.path / "results.csv").exists():
            sim = read_csv(test.path / "results.csv")
            n_out = exp.shape[1] - 1
            exact = "yes" if np.array_equal(sim[:, :n_out + 1], exp) else "NO"
            cyc = "/".join(str(c) for c in sorted(set(sim[:, n_out + 1])))
        elif test is not None:
            exact = test_status(test)
        axis = "-"
        test = tests.get(f"lib_{g.name}.tb_{g.name}_axis.test_back_to_back")
        if test is not None and (test.path / "results.csv").exists():
            sim = read_csv(test.path / "results.csv")
            if not np.array_equal(sim[:, :-1], exp):
                exact = "NO"
            axis = "/".join(str(c) for c in sorted(set(sim[1:, -1]))) or "-"
        elif test is not None:
            axis = test_status(test)
            exact = "NO" if axis == "failed" else exact
        bits = f"w{r['weight_bits']}-{r['encoding'][:3]}"
        print(f"{g.name:<22} {'-'.join(map(str, r['topology'])):<18} {bits:<10} "
              f"{r['vectors']:>7} {exact:>9} {cyc:>7} {r['latency_cycles']:>9} "
              f"{r['ideal_cycles']:>6} {r['totals']['roms']:>5} "
              f"{str(r['totals']['dsp_macs']) + '/' + str(r['totals']['lut_macs']):>12} "
              f"{axis:>8} {','.join(str(x['pe']) for x in r['layers']):<10}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, vunit_argv = own_parser().parse_known_args(argv)
    if args.help:
        own_parser().print_help()
        print("\nVUnit's options (passed through). Checked first, so that no file of yours "
              "is lost: -o DIR must be new or hold only VUnit's own folders (test_output/, "
              "ghdl/, preprocessed/, ...; --clean deletes DIR whole), -x FILE may replace only "
              "an earlier xunit report, and neither may name an input of the run.\n")
        make_vunit(["--help"])
        return 0
    if args.wave and "--gtkwave-fmt" not in vunit_argv:
        vunit_argv = vunit_argv + ["--gtkwave-fmt", "vcd"]   # VUnit: <test>/ghdl/wave.vcd
    try:
        check_mode(given_options(argv))
        check_vunit_outputs(vunit_argv, run_inputs(args), vunit_output_default(args))
        if args.lab is not None:
            import labs
            return labs.run_lab(args.lab, reference=args.reference, wave=args.wave,
                                work_dir=args.lab_dir or labs.WORK_DIR,
                                vunit_argv=vunit_argv)
        if args.model is not None:
            return model_mode(args, vunit_argv)
        if args.design is not None:
            return design_mode(args, vunit_argv)
        made = generate_examples()
    except (InputError, gen.GeneratorError, outfiles.OutputError, qf.QuantizationError,
            LabError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    vu = make_vunit(vunit_argv, output_path=ROOT / "vunit_out")
    add_components(vu)
    for ex, g in made:
        add_network(vu, g.name, g.out, n_vectors=ex.n_vectors)
    quiet_warnings(vu)
    if args.wave:
        print("waveforms: vunit_out/test_output/<test>/ghdl/wave.vcd (open with gtkwave)")
    try:
        def post_run(results) -> None:
            summarize(made, results)
            for line in silent_stops(results):
                print(line, file=sys.stderr)

        run_quietly(vu, post_run, verbose(vunit_argv))
    except SystemExit as exc:
        return exc.code or 0
    return 0




if __name__ == "__main__":
    sys.exit(main())
