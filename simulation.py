"""simulation.py: simulate generated designs in GHDL through VUnit (the library below
vunit_run.py and the labs).

make_vunit sets VUnit up (stack, colours, output folder); add_network adds a generated
design with its testbenches and vectors; add_components adds the hand-written VHDL of hdl/
with its benches; simulate_generated runs any input codes through a design and returns what
the hardware computed. vunit_run.py is the command line on top.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

import generator as gen
import quantization_functions as qf
from hardware_plan import wide_acc
from model_files import InputError
from vunit_console import run_quietly

ROOT = Path(__file__).resolve().parent
HDL = ROOT / "hdl"
GENERATED = HDL / "generated"
CHUNK_IMAGES = 250  # images per simulation run in simulate_generated


def read_generated(folder: Path) -> gen.Generated:
    """A folder vhdl_generator.py wrote, as generate() returned it."""
    report_path, manifest = folder / "report.json", folder / "quantized.npz"
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        raise InputError(f"{folder}: no readable report.json: not a folder vhdl_generator.py "
                         "wrote (--design wants its --out DIR)") from None
    if not isinstance(report, dict) or not str(report.get("tool", "")).startswith("bram-mlp"):
        raise InputError(f"{report_path}: not a bram-mlp report")
    try:
        with np.load(manifest, allow_pickle=False) as d:
            q = qf.QuantizedModel.from_arrays(d)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{manifest}: unreadable integer manifest "
                         f"({exc.__class__.__name__})") from None
    name = str(report.get("name", ""))
    if not (folder / f"{name}_top.vhd").is_file() or not (folder / "tb" / f"tb_{name}.vhd").is_file():
        raise InputError(f"{folder}: {name}_top.vhd or tb/tb_{name}.vhd is missing; "
                         "regenerate the design")
    coe = folder / "coe"
    return gen.Generated(out=folder, coe=coe, name=name, q=q, report=report)


def simulate_generated(g: gen.Generated, X: np.ndarray, vunit_argv: list[str] | None = None,
                       problems: list[str] | None = None) -> dict[str, np.ndarray] | None:
    """Run the rows of X (input codes) through the generated design in GHDL.

    Returns {"logits": (n, n_out), "classes": (n,), "cycles": (n,)} as the top-level
    testbench measured them (cycles: start to done), and from the AXI4-Stream testbench,
    which streams the same images back to back: "axis_clocks" (n,), the clocks from the
    result before to this one (the first image of each run of CHUNK_IMAGES: from its first
    input beat), "interval" (the clocks between results in steady state, the most frequent
    of those; -1 with a single image) and "axis_equal" (its results equal the top level's).
    None if a simulation did not finish; then `problems` (if given) gets one error line per
    simulation that crashed without a message. Python API of --model mode."""
    vunit_argv = list(vunit_argv or [])
    # a private VUnit output folder: a library of the same name compiled from another
    # folder (e.g. the example of the same name) must never mix into this run
    tmp = Path(tempfile.mkdtemp(prefix="bram_mlp_"))
    try:
        if not any(a == "-p" or a.startswith("--num-threads") for a in vunit_argv):
            vunit_argv = ["-p", str(os.cpu_count() or 1)] + vunit_argv
        benches = (f"tb_{g.name}", f"tb_{g.name}_axis")
        vu = make_vunit(vunit_argv + [f"lib_{g.name}.{tb}.*" for tb in benches],
                        output_path=tmp / "vunit_out")
        lib = add_network(vu, g.name, g.out, check=False, n_vectors=len(X))
        # GHDL 2.0 crashes loading a very large CSV (seen at 2000 x 784), so the images go
        # in chunks, one VUnit run each (they also run in parallel with -p)
        chunks = []
        for k, start in enumerate(range(0, len(X), CHUNK_IMAGES)):
            rows = X[start:start + CHUNK_IMAGES]
            path = tmp / f"inputs_{k:04d}.csv"
            np.savetxt(path, rows, fmt="%d", delimiter=",")
            chunks.append(f"chunk{k:04d}")
            for tb in benches:
                lib.test_bench(tb).add_config(name=chunks[-1], generics={
                    "INPUTS_FILE": str(path), "EXPECTED_FILE": "none",
                    "WATCHDOG_CLOCKS": watchdog_clocks(g.report, len(rows))})
        quiet_warnings(vu)
        outcome: dict = {}
        crashes: list[str] = []

        def post_run(results) -> None:
            for key, test in results.get_report().tests.items():
                if test_status(test) == "passed":
                    _, tb, chunk = key.split(".")[:3]
                    outcome[(tb, chunk)] = test.path / "results.csv"
            crashes.extend(silent_stops(results))

        try:
            run_quietly(vu, post_run, verbose(vunit_argv))
        except SystemExit:
            pass  # VUnit always exits; the outcome says what passed
        if any((tb, c) not in outcome for tb in benches for c in chunks):
            if problems is not None:
                problems.extend(crashes)
            return None
        top, axis = (np.vstack([np.loadtxt(outcome[(tb, c)], delimiter=",", dtype=np.int64,
                                           ndmin=2) for c in chunks]) for tb in benches)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wide = wide_acc(g.q.acc_bits(g.q.n_layers - 1))
    n_out = g.q.W[-1].shape[0]
    logits, rest = gen.outputs_from_columns(top, n_out, wide)
    axis_logits, axis_rest = gen.outputs_from_columns(axis, n_out, wide)
    clocks = axis_rest[:, 1]
    steady = np.delete(clocks, np.arange(0, len(clocks), CHUNK_IMAGES))  # not a run's first
    interval = int(np.bincount(steady).argmax()) if steady.size else -1
    return {"logits": logits, "classes": rest[:, 0], "cycles": rest[:, 1],
            "axis_clocks": clocks, "interval": np.int64(interval),
            "axis_equal": np.bool_(np.array_equal(axis_logits, logits)
                                   and np.array_equal(axis_rest[:, 0], rest[:, 0]))}


# --------------------------------------------------------------------------- VUnit set-up
def raise_stack_limit() -> int:
    """Give the simulator processes all the stack the system allows (the soft limit up to
    the hard one; children inherit it). GHDL keeps a design's large constants (the weights
    ROMs) on the stack: 784->4096->10 needs more than the usual 8 MB, and GHDL then dies of
    a segmentation fault without a word. Returns the soft limit in bytes (-1: unlimited)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_STACK, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return -1 if soft == resource.RLIM_INFINITY else soft


def silent_stops(results) -> list[str]:
    """Tests that failed without any message from the testbench or GHDL: the simulator
    crashed (a segmentation fault, most often the stack). One error line for all of them,
    with the reason, or none."""
    crashed = []
    for key, test in results.get_report().tests.items():
        if test_status(test) != "failed":
            continue
        try:
            text = (test.path / "output.txt").read_text(errors="replace").lower()
        except OSError:
            text = ""
        if not any(word in text for word in ("error", "failure", "failed", "fatal")):
            crashed.append(key)   # else the bench or GHDL said why
    if not crashed:
        return []
    limit = raise_stack_limit()
    have = "unlimited" if limit < 0 else f"{limit // 1024} KB"
    which = crashed[0] if len(crashed) == 1 else f"{len(crashed)} simulations ({crashed[0]}, ...)"
    return [f"error: {which}: GHDL stopped without a message (a crash: most often the "
            f"stack, whose limit is {have}; a large design needs more: run "
            "`ulimit -s unlimited` in this shell, or raise the hard limit, and try again)"]


def make_vunit(argv: list[str], output_path: Path | None = None):
    from vunit import VUnit
    raise_stack_limit()
    if not sys.stdout.isatty() and "--no-color" not in argv:
        argv = ["--no-color"] + argv   # no escape codes into a file or a pipe
    if output_path is not None and "-o" not in argv and "--output-path" not in argv:
        argv = ["--output-path", str(output_path)] + argv
    vu = VUnit.from_argv(argv=argv, compile_builtins=False)
    vu.add_vhdl_builtins()
    return vu


def test_status(test) -> str:
    """'passed', 'failed', ... of a VUnit TestResult (an enum or a plain string)."""
    return str(getattr(test.status, "name", test.status))


def watchdog_clocks(report: dict, n_images: int) -> int:
    """Generous bound on a network testbench's clocks per image: the input writes (or
    beats), the inference and the result (the AXI4-Stream wrapper sends one beat per
    output, which bounds an image with many outputs and few inputs)."""
    n_in, n_out = report["topology"][0], report["topology"][-1]
    return n_images * (n_in + report["latency_cycles"] + n_out + 8) + 1000


def quiet_warnings(vu) -> None:
    """Hide GHDL's -Whide notes on VUnit's own sources and -Wlibrary notes when a design
    is regenerated into another folder under the same library name: noise, not problems."""
    vu.set_compile_option("ghdl.a_flags", ["-Wno-hide", "-Wno-library"])


def add_network(vu, name: str, folder: Path, check: bool = True, n_vectors: int = 50):
    """A library lib_<name> with the generated design and its testbench."""
    lib = vu.add_library(f"lib_{name}")
    lib.add_source_files(folder / "*.vhd")
    lib.add_source_files(folder / "tb" / "*.vhd")
    report = json.loads((folder / "report.json").read_text())
    set_vector_generics(lib.test_bench(f"tb_{name}"), folder, report, n_vectors, check)
    lib.test_bench(f"tb_{name}_weights").set_generic("VECTORS_DIR", str(folder / "vectors"))
    axis = lib.test_bench(f"tb_{name}_axis")
    set_vector_generics(axis, folder, report, n_vectors, check)
    axis.set_generic("PERIOD_CLOCKS", report["axis"]["image_period_cycles"])
    return lib


def set_vector_generics(tb, folder: Path, report: dict, n_vectors: int,
                        check: bool = True) -> None:
    """A network bench's test vectors (folder/vectors) and its watchdog."""
    tb.set_generic("INPUTS_FILE", str(folder / "vectors" / "inputs.csv"))
    tb.set_generic("EXPECTED_FILE", str(folder / "vectors" / "expected.csv") if check else "none")
    tb.set_generic("WATCHDOG_CLOCKS", watchdog_clocks(report, n_vectors))


def add_components(vu) -> None:
    """Library bram_mlp: the hand-written VHDL and its component testbenches."""
    lib = vu.add_library("bram_mlp")
    lib.add_source_files(HDL / "*.vhd")
    lib.add_source_files(HDL / "tb" / "*.vhd")
    add_requantizer_vectors(lib, GENERATED / "requantizer_vectors.csv")
    lib.test_bench("tb_requantizer_even").set_generic(
        "VECTORS_FILE", str(GENERATED / "requantizer_vectors.csv"))


def add_requantizer_vectors(lib, path: Path) -> None:
    """Write the requantizer's vectors to path and point lib's tb_requantizer at them."""
    write_requantizer_vectors(path)
    lib.test_bench("tb_requantizer").set_generic("VECTORS_FILE", str(path))


REQUANTIZER_KINDS = ("relu", "rounding", "saturation", "random", "ties")


def write_requantizer_vectors(path: Path) -> None:
    """acc, M, S, the expected y (act_bits 8) from the Python reference model, the kind of
    case (an index into REQUANTIZER_KINDS: each kind is its own test in the bench) and the
    expected y when a tie rounds to even (the bench's ROUND_HALF_EVEN requantizer)."""
    rng = np.random.default_rng(7)
    cases = {
        # negative and zero accumulators give 0, positive ones pass (x M / 2^S)
        "relu": [(0, 16384, 14), (-5, 16384, 14), (-2**31, 32767, 3), (-1, 1, 0),
                 (5, 1, 0), (1000, 16384, 14)],
        "rounding": [(3, 1, 1), (5, 1, 1), (1, 1, 1), (2, 3, 2), (6, 1, 2), (1000, 16384, 16),
                     (123456789, 20000, 30), (7, 1, 2)],
        "saturation": [(255, 1, 0), (256, 1, 0), (2**31 - 1, 32767, 62),
                       (2**31 - 1, 32767, 0), (2**31 - 1, 32767, 40),
                       (2**31 - 1, 32767, 38), (511, 1, 1), (509, 1, 1)],
        "random": [(int(rng.integers(-2**31, 2**31)), int(rng.integers(0, 2**15)),
                    int(rng.integers(0, 40))) for _ in range(200)],
        # exact ties, odd and even results below them, and shifts beyond the product
        "ties": [(1, 1, 1), (3, 1, 1), (5, 1, 1), (7, 1, 1), (6, 1, 2), (10, 1, 2),
                 (5, 3, 1), (2**30, 1, 31), (3 * 2**29, 1, 30), (2**31 - 1, 32767, 46),
                 (2**31 - 1, 32767, 47), (2**31 - 1, 32767, 50), (2**31 - 1, 32767, 62),
                 (2**31 - 2**15, 32767, 46), (511, 1, 1), (509, 1, 1)]
                + [(2 * int(rng.integers(0, 2**20)) + 1, 1 << int(k), int(k) + 1)
                   for k in rng.integers(0, 14, 40)],
    }
    rows = [(*c, REQUANTIZER_KINDS.index(kind)) for kind, cs in cases.items() for c in cs]
    a = np.array(rows, dtype=np.int64)
    y = qf.requantize(a[:, 0], a[:, 1], a[:, 2], 8)
    y_even = qf.requantize(a[:, 0], a[:, 1], a[:, 2], 8, "half_even")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, np.column_stack([a[:, :3], y, a[:, 3], y_even]), fmt="%d", delimiter=",")


def verbose(vunit_argv: list[str]) -> bool:
    """-v: VUnit's own full output instead of one progress line per phase."""
    return any(a in ("-v", "--verbose") for a in vunit_argv)
