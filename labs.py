"""labs.py: the teaching labs' exercises and their grading (used by vhdl_generator.py
--exercise N and vunit_run.py --lab N).

Each lab is about one hand-written piece of the datapath in hdl/:
    lab 1  neuron_mac.vhd   one neuron's multiply-accumulate      (784 -> 1, "is it a 0?")
    lab 2  argmax.vhd       the class from the 10 logits          (784 -> 10)
    lab 3  requantizer.vhd  ReLU + requantization of a hidden layer (784 -> 256 -> 10)
The reference file marks the lab's region with "LAB EXERCISE BEGIN" / "LAB EXERCISE END";
the exercise is the same file with that region replaced by a TODO stub that compiles.
The student's copy lives in labs/work/lab<N>/ (never overwritten); grading compiles it
in place of the reference and runs the lab's VUnit testbenches: the piece's own bench and
a bench of a whole network that uses it, with expected values from the Python integer
reference model.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import output_files as outfiles

ROOT = Path(__file__).resolve().parent
HDL = ROOT / "hdl"
LABS_DIR = ROOT / "labs"
WORK_DIR = LABS_DIR / "work"          # the students' files (not in git)
BUILD_DIR = ROOT / "vunit_out" / "labs"  # generated lab designs and VUnit output
BEGIN_MARK = "-- LAB EXERCISE BEGIN"
END_MARK = "-- LAB EXERCISE END"


class LabError(ValueError):
    """A lab that does not exist, a student file without its markers, ..."""


@dataclass
class Lab:
    number: int
    title: str
    piece: str                      # hdl/<piece>.vhd
    topology: list[int]             # the lab's network (seeded random weights)
    n_vectors: int                  # test images for the network bench
    stub: str                       # what replaces the exercise region
    hints: dict[str, str]           # check name -> what to look at when it fails
    wave_test: str                  # the check whose waveform the sheet shows
    wave_signals: list[str]         # VCD names (scope.signal), in display order
    seed: int = 11

    @property
    def name(self) -> str:
        return f"lab{self.number}"


LABS: dict[int, Lab] = {
    1: Lab(
        number=1, title='One neuron: "is it a 0?"', piece="neuron_mac",
        topology=[784, 1], n_vectors=5,
        stub="""\
  -- TODO (lab 1): the multiply-accumulate of one neuron, in a clocked process:
  --   on a rising edge of clk:
  --     if load = '1':  acc_r <= the bias                         (signed(bias))
  --     elsif en = '1': acc_r <= acc_r + w * x
  --   w is a two's complement weight (x"FF" is -1); x is an unsigned pixel (x"FF" is 255):
  --   numeric_std multiplies signed by signed or unsigned by unsigned, so think about how
  --   to make the pixel a signed number without changing its value; and the product has
  --   fewer bits than acc_r: resize it to ACC_BITS before adding it.
  -- Your code goes here, between the BEGIN and END lines (keep them: they mark the region).
""",
        hints={
            "tb_neuron_mac.test_load_sets_the_bias":
                "load = '1' must copy bias into the accumulator on the clock edge",
            "tb_neuron_mac.test_one_product_per_enabled_clock":
                "en = '1' must add exactly one product w * x per rising edge",
            "tb_neuron_mac.test_negative_weights":
                "w is two's complement: x\"FF\" is -1; use signed(w)",
            "tb_neuron_mac.test_pixels_are_unsigned":
                "x is an unsigned pixel: x\"FF\" is 255; use signed('0' & x), not signed(x)",
            "tb_neuron_mac.test_holds_without_enable":
                "with load = '0' and en = '0' the accumulator must keep its value",
            "tb_neuron_mac.test_full_image_extremes":
                "784 products of -128 x 255 = -25,589,760 (26 bits): the pixel must be "
                "unsigned and the product resized to ACC_BITS before adding",
            "tb_lab1.test_image_logits":
                "the neuron wired to the weights memory and the test input must give the "
                "Python model's logit for each image: check the unit tests above first",
        },
        wave_test="tb_lab1.test_image_logits",
        wave_signals=["tb_lab1.clk", "tb_lab1.load", "tb_lab1.addr", "tb_lab1.w_data",
                      "tb_lab1.x_data", "tb_lab1.en", "tb_lab1.acc", "tb_lab1.done"],
    ),
    2: Lab(
        number=2, title="A layer of 10 neurons", piece="argmax",
        topology=[784, 10], n_vectors=20,
        stub="""\
  -- TODO (lab 2): the class of the network, one logit compared per clock (the signals
  -- waiting, next_index, best_value, best_index, scanning are declared above).
  --   N = 1 (a yes/no network): on the clock where start = '1', class_out <= 1 when the
  --     logit is above 0, else 0, and done <= '1' (latency 1).
  --   N > 1, in a clocked process:
  --     when start = '1': copy the logits into waiting (logit 0 in the low ACC_BITS
  --       bits), next_index <= 0, scanning <= '1'. Only copy: the logits come from
  --       registers that may sit far away, so nothing is compared in this clock;
  --     then on each clock while scanning: the logit in waiting's low bits (logit
  --       next_index) becomes best_value / best_index when it is logit 0 or strictly
  --       greater than best_value (ties go to the lowest index), shift waiting down by
  --       ACC_BITS, next_index <= next_index + 1; on the clock that compares logit N - 1,
  --       class_out <= the index of the winner, done <= '1' for one clock, scanning <= '0'
  --       (done comes N + 1 clocks after start: the copy, then one clock per logit).
  --   logit j is logits((j + 1) * ACC_BITS - 1 downto j * ACC_BITS), two's complement
  --   (signed(...) from numeric_std makes it a number: best_value is signed(ACC_BITS - 1
  --   downto 0), and > compares two signed numbers as numbers);
  --   class_out <= int_to_slv(index, CLASS_BITS); done <= '0' while rst = '1'.
  -- Your code goes here, between the BEGIN and END lines (keep them: they mark the region).
  class_out <= (others => '0');
  done      <= '0';
""",
        hints={
            "tb_argmax.test_largest_wins":
                "compare the logits as signed numbers (signed(...) from numeric_std) and keep the "
                "index of the largest; done must pulse once, N + 1 clocks after start (5 in "
                "this test: the copy, then one logit compared per clock)",
            "tb_argmax.test_ties_go_to_the_lowest_index":
                "replace the best only when a logit is strictly greater (>), not >=",
            "tb_argmax.test_two_and_three_logits":
                "with 2 or 3 logits done must still pulse once, N + 1 clocks after start, "
                "with the class: the scan ends on the clock that compares logit N - 1",
            "tb_argmax.test_single_output_is_logit_above_zero":
                "with N = 1 the class is 1 when the logit is above 0 (0 itself is 'no')",
            "tb_lab2.test_all_vectors":
                "the whole 784 -> 10 network with your argmax: its class must match the "
                "Python model; check the tb_argmax tests first",
        },
        wave_test="tb_lab2.test_all_vectors",
        wave_signals=["tb_lab2.clk", "tb_lab2.start", "tb_lab2.dut.i_core.x_addr",
                      "tb_lab2.dut.i_core.x_data", "tb_lab2.dut.i_core.i_l0.weight_0",
                      "tb_lab2.dut.i_core.i_l0.acc_0", "tb_lab2.dut.i_core.l0_done",
                      "tb_lab2.done", "tb_lab2.class_out"],
    ),
    3: Lab(
        number=3, title="256+10: a hidden layer and requantization", piece="requantizer",
        topology=[784, 256, 10], n_vectors=20,
        stub="""\
  -- TODO (lab 3): ReLU and requantization, y = min(2^ACT_BITS - 1, (max(acc, 0) * m + r) >> s)
  -- with r = 2^(s-1) when s > 0 (rounds halves up), else 0: a pipeline, one step per clock,
  -- taking a new acc every clock. The signals are declared above; valid(k) says that
  -- stage k + 1 holds a value (valid <= valid(valid'high - 1 downto 0) & en, every clock).
  --   clock 1 (en = '1'): a := max(acc, 0) as unsigned(2 * PART_BITS_c - 1 downto 0)
  --     (acc's sign bit decides: acc itself when the bit is '0', else 0);
  --     parts(k) <= its 16-bit part k (to_integer); m_r <= m; half(1) <= 2^(s-1) (0 when
  --     s = 0); shift(1) <= s.
  --   clocks 2 .. 4: dsp_mults (above) multiplies: part_products(k) = parts(k) * m_r;
  --     meanwhile half(k) <= half(k - 1) and shift(k) <= shift(k - 1) carry r and s along.
  --   clock 5: products <= part_products (every clock: a copy beside the add);
  --   clock 6 (valid(4)): prod <= products(1) * 2^16 + products(0) (unsigned);
  --   clock 7 (valid(5)): rounded <= prod + half(6);
  --   clock 8 (valid(6)): shifted <= rounded >> shift(7);
  --   clock 9 (valid(7)): y <= shifted, or Y_MAX_c when shifted > Y_MAX_c (never wrap).
  -- Your code goes here, between the BEGIN and END lines (keep them: they mark the region).
  y <= (others => '0');
""",
        hints={
            "tb_requantizer.test_relu":
                "a negative (or zero) accumulator must give 0 and a positive one its "
                "value x M / 2^S: ReLU before multiplying",
            "tb_requantizer.test_rounding_half_up":
                "add 2^(s-1) before shifting right by s (only when s > 0): halves round up",
            "tb_requantizer.test_saturation":
                "results above 2^ACT_BITS - 1 must give 2^ACT_BITS - 1, never wrap; keep a "
                "bit more than the product for the rounding add",
            "tb_requantizer.test_random":
                "random cases from the Python model, one per clock: check the three tests "
                "above first; y must be valid exactly 9 clocks after en",
            "tb_lab3.test_all_vectors":
                "the whole 784 -> 256 -> 10 network with your requantizer: every logit "
                "must match the Python model; check the tb_requantizer tests first",
        },
        wave_test="tb_lab3.test_all_vectors",
        wave_signals=["tb_lab3.clk", "tb_lab3.start", "tb_lab3.dut.i_core.x_addr",
                      "tb_lab3.dut.i_core.i_l0.acc_0", "tb_lab3.dut.i_core.l0_done",
                      "tb_lab3.dut.i_core.i_l1.x_addr", "tb_lab3.dut.i_core.i_l1.x_data",
                      "tb_lab3.dut.i_core.i_l1.acc_0", "tb_lab3.done"],
    ),
}


def get_lab(number: int) -> Lab:
    if number not in LABS:
        raise LabError(f"there is no lab {number}: labs are {', '.join(map(str, LABS))}")
    return LABS[number]


# --------------------------------------------------------------------------- exercises
def exercise_text(lab: Lab) -> str:
    """The reference file with its exercise region replaced by the lab's TODO stub."""
    ref = (HDL / f"{lab.piece}.vhd").read_text()
    pattern = re.compile(r"(  " + re.escape(BEGIN_MARK) + r"[^\n]*\n).*?(  "
                         + re.escape(END_MARK) + r"\n)", re.S)
    if not pattern.search(ref):
        raise LabError(f"hdl/{lab.piece}.vhd has no {BEGIN_MARK} / {END_MARK} region")
    head = (f"-- Lab {lab.number} exercise (written by vhdl_generator.py --exercise "
            f"{lab.number}): fill in the TODO region, then run\n"
            f"--     python3 vunit_run.py --lab {lab.number}\n"
            f"-- Instructions: labs/lab{lab.number}.md\n")
    return head + pattern.sub(lambda m: m.group(1) + lab.stub + m.group(2), ref, count=1)


def student_file(lab: Lab, work_dir: Path = WORK_DIR) -> Path:
    return work_dir / lab.name / f"{lab.piece}.vhd"


def write_exercise(lab: Lab, work_dir: Path = WORK_DIR, log=print) -> Path:
    """Write the student's copy, unless one exists (a student's work is never replaced)."""
    path = student_file(lab, work_dir)
    if path.exists():
        log(f"{path} exists: kept as it is (delete it to start lab {lab.number} afresh)")
        return path
    try:
        outfiles.write_file(path, exercise_text(lab), "the exercise")
    except outfiles.OutputError as exc:
        raise LabError(f"{exc}; pick another folder") from None
    log(f"wrote {path}: fill in its TODO region")
    return path


# --------------------------------------------------------------------------- grading
def lab_design(lab: Lab, build: Path):
    """Generate the lab's network (seeded random weights) with its test vectors."""
    import examples
    import generator
    model = examples.random_float_model(lab.topology, lab.seed)
    # random images first (what the waveform shows), all-zero and all-255 images last
    X = np.roll(generator.default_vectors(lab.topology[0], 8, lab.n_vectors, seed=lab.seed), -2, 0)
    return generator.generate(model, out=build / "design", name=lab.name, vectors=X,
                       source=f"labs.py lab {lab.number}", log=lambda *_: None)


def add_lab_sources(vu, lab: Lab, g, piece_file: Path) -> None:
    """Library `lab`: the generated design with piece_file in place of hdl/<piece>.vhd,
    the piece's own testbench and the lab's network testbench."""
    import simulation
    lib = vu.add_library("lab")
    design = sorted(p for p in g.out.glob("*.vhd") if p.name != f"{lab.piece}.vhd")
    lib.add_source_files(design)
    lib.add_source_file(piece_file)
    lib.add_source_file(HDL / "tb" / f"tb_{lab.piece}.vhd")
    vectors = g.out / "vectors"
    if lab.number == 1:
        lib.add_source_file(LABS_DIR / "tb" / "tb_lab1.vhd")
        tb = lib.test_bench("tb_lab1")
        tb.set_generic("INPUTS_FILE", str(vectors / "inputs.csv"))
        tb.set_generic("EXPECTED_FILE", str(vectors / "expected.csv"))
        tb.set_generic("N_IMAGES", lab.n_vectors)
    else:
        lib.add_source_file(g.out / "tb" / f"tb_{lab.name}.vhd")
        simulation.set_vector_generics(lib.test_bench(f"tb_{lab.name}"), g.out, g.report,
                                      lab.n_vectors)
    if lab.piece == "requantizer":
        simulation.add_requantizer_vectors(lib, g.out.parent / "requantizer_vectors.csv")


def first_error(output: Path) -> str:
    """The first failed check's message in a VUnit test's output.txt."""
    if not output.is_file():
        return ""
    for line in output.read_text(errors="replace").splitlines():
        if "ERROR" in line or "FAILURE" in line or "failure" in line.lower():
            msg = re.sub(r"\s+", " ", line.split("ERROR -", 1)[-1]).strip()
            return msg[:110]
    return ""


def run_lab(number: int, reference: bool = False, wave: bool = False,
            work_dir: Path = WORK_DIR, vunit_argv: list[str] | None = None,
            log=print) -> int:
    """Grade lab `number`: print a pass/fail table with a hint per failure. 0 if all pass.

    A missing student file is written from the exercise in labs/work (the student's first
    run); in any other work_dir (--lab-dir, a submission) it is a LabError, nothing written."""
    import simulation
    lab = get_lab(number)
    mode = "reference" if reference else "student"
    piece_file = HDL / f"{lab.piece}.vhd" if reference else student_file(lab, work_dir)
    if not reference and work_dir.exists() and not work_dir.is_dir():
        raise LabError(f"{work_dir}: not a folder (--lab-dir wants the folder holding "
                       f"{lab.name}/)")
    if not reference and not piece_file.exists():
        if Path(work_dir).resolve() != WORK_DIR.resolve():
            # a submission folder (--lab-dir): grade what is there, create nothing
            raise LabError(f"no submission to grade: {piece_file} does not exist (write the "
                           f"exercise there with: python3 vhdl_generator.py --exercise "
                           f"{lab.number} --out {work_dir})")
        write_exercise(lab, work_dir, log)   # labs/work: the student's first run
    # one build folder per graded file: a library compiled from another student's file
    # (or a failed compile of it) must never stand in for this one
    key = hashlib.sha1(str(piece_file.resolve()).encode()).hexdigest()[:8]
    build = BUILD_DIR / f"{lab.name}_{mode}_{key}"
    g = lab_design(lab, build)
    argv = list(vunit_argv or [])
    if not {"-v", "--verbose"} & set(argv) and "--no-color" not in argv:
        argv.append("--no-color")  # the log goes to a file unless -v
    if wave and "--gtkwave-fmt" not in argv:
        argv += ["--gtkwave-fmt", "vcd"]
    vu = simulation.make_vunit(argv, output_path=build / "vunit")
    add_lab_sources(vu, lab, g, piece_file)
    simulation.quiet_warnings(vu)
    outcome: dict[str, tuple[str, Path]] = {}

    def post_run(results) -> None:
        for key, test in results.get_report().tests.items():
            check = key.split(".", 1)[1]  # drop the library name
            outcome[check] = (simulation.test_status(test), Path(test.path))

    shown = piece_file.relative_to(ROOT) if piece_file.is_relative_to(ROOT) else piece_file
    log(f"Lab {lab.number}: {lab.title}: grading {shown} ...")
    verbose = bool({"-v", "--verbose"} & set(argv))
    log_file = build / "vunit.log"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(sys.stdout if verbose else buffer):
        try:
            vu.main(post_run=post_run)
        except SystemExit:
            pass
    if not verbose:
        log_file.write_text(buffer.getvalue())
        if not outcome:   # nothing ran: show the compiler's complaint
            log("\n".join(line for line in buffer.getvalue().splitlines()
                          if "error" in line.lower() or ".vhd:" in line)[-4000:])
    code = report(lab, outcome, wave, work_dir, log,
                  waves="waves_reference" if reference else "waves")
    if not verbose:
        log(f"(VUnit's full log: {log_file}; -v shows it while running)")
    return code


def report(lab: Lab, outcome: dict, wave: bool, work_dir: Path, log=print,
           waves: str = "waves") -> int:
    """The grading table. A check missing from a run that did run others was left out by a
    test pattern: it is listed as not selected and not counted."""
    width = max(len(c) for c in lab.hints) + 2
    log("")
    log(f"Lab {lab.number}: {lab.title}")
    log(f"{'check':<{width}}result   hint / what the bench said")
    passed = selected = 0
    for check, hint in lab.hints.items():
        status, path = outcome.get(check, ("not run", None))
        if status == "not run" and outcome:
            log(f"{check:<{width}}-        (not selected)")
            continue
        selected += 1
        if status == "passed":
            passed += 1
            log(f"{check:<{width}}pass")
            continue
        if not outcome:
            hint = "did not run: the VHDL did not compile (see the compiler message above)"
        log(f"{check:<{width}}{'FAIL' if status != 'not run' else 'not run':<9}{hint}")
        said = first_error(path / "output.txt") if path is not None else ""
        if said:
            log(f"{'':<{width}}         bench: {said}")
    log(f"{passed} of {selected} checks pass")
    if passed < selected:
        log("Fix the first FAIL first: the later checks build on the earlier ones.")
    if wave:
        write_waves(lab, outcome, work_dir / lab.name / waves, log)
    return 0 if passed == selected and selected > 0 else 1


# --------------------------------------------------------------------------- waveforms
def write_waves(lab: Lab, outcome: dict, folder: Path, log=print) -> list[Path]:
    """Copy each test's VCD to folder/<check>.vcd (labs/work/lab<N>/waves/, or
    waves_reference/ for the reference), with a GTKWave save file (.gtkw) that opens on
    the lab's signals. A file there that bram-mlp did not write, or one changed since (a
    layout the student saved from GTKWave), is kept as it is and said so (output_files)."""
    written = []
    for check, (_, path) in outcome.items():
        vcd = Path(path) / "ghdl" / "wave.vcd"
        if not vcd.is_file():
            continue
        dest = folder / f"{check}.vcd"
        gtkw = dest.with_suffix(".gtkw")
        signals = lab.wave_signals if check == lab.wave_test else None
        said = []
        for target, content in ((dest, vcd.read_bytes()),
                                (gtkw, gtkw_text(dest, vcd_signals(vcd, signals)))):
            try:
                outfiles.write_file(target, content, "the waveform")
                said.append(str(target) if target == dest else f"gtkwave {target}")
            except outfiles.OutputError:
                said.append(f"{target.name} kept as it is: you changed it, or bram-mlp "
                            "did not write it")
        written.append(dest)
        log(f"wave: {said[0]}  ({said[1]})")
    if not written:
        log("no waveform was written (did the simulation run?)")
    return written


def vcd_signals(vcd: Path, wanted: list[str] | None) -> list[tuple[str, int]]:
    """(full GTKWave name incl. [msb:lsb], width) of each wanted signal found in the VCD;
    wanted None: every signal of the testbench itself (the top scope)."""
    found: dict[str, tuple[str, int]] = {}
    scope: list[str] = []
    with vcd.open() as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "$scope":
                scope.append(parts[2])
            elif parts[0] == "$upscope":
                scope.pop()
            elif parts[0] == "$var":
                width, ref = int(parts[2]), parts[4]          # ref: "addr[9:0]" or "addr"
                bits = parts[5] if len(parts) > 6 and parts[5].startswith("[") else ""
                key = ".".join(scope + [ref.split("[")[0]])
                found.setdefault(key, (".".join(scope + [ref]) + bits, width))
            elif parts[0] == "$enddefinitions":
                break
    if wanted is None:
        return [v for k, v in found.items() if k.count(".") == 1]
    return [found[w] for w in wanted if w in found]


def gtkw_text(vcd: Path, signals: list[tuple[str, int]]) -> str:
    """A GTKWave save file for vcd: the dump file and the signals (bits binary, buses
    decimal)."""
    lines = [f'[dumpfile] "{vcd.name}"', "[timestart] 0"]
    for name, width in signals:
        lines.append("@28" if width == 1 else "@424")   # binary / signed decimal
        lines.append(name)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """python labs.py --png N [--out FILE]: render lab N's reference waveform to PNG."""
    import argparse
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--png", type=int, required=True, metavar="N")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    import wave_png
    try:
        lab = get_lab(args.png)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    work = BUILD_DIR / "png_work"
    code = run_lab(lab.number, reference=True, wave=True, work_dir=work,
                   vunit_argv=["-q", f"lab.{lab.wave_test}"])
    vcd = work / lab.name / "waves_reference" / f"{lab.wave_test}.vcd"
    out = args.out or LABS_DIR / "img" / f"{lab.name}_wave.png"
    wave_png.render(vcd, vcd_signals(vcd, lab.wave_signals), out,
                    title=f"Lab {lab.number}: {lab.wave_test}")
    print(f"wrote {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
