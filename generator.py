"""generator.py: the generator as a library: a float model -> VHDL, .coe files, vectors, report.

Pipeline (generate): read (model_files) -> quantize (quantization_functions) -> plan
(hardware_plan) -> render (Jinja2 templates/, laying out the plan) -> write
(output_files: a temporary folder swapped in only when everything succeeded).

vhdl_generator.py is the command line on top of this module (and re-exports its names,
the API the labs' instructions use: vhdl_generator.write_test_input_coe, ...).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined

import board_files
import estimate
import output_files as outfiles
import quantization_functions as qf
from fpga_parts import DEFAULT_PART, PARTS, PartError, check_part, default_dsp_budget, is_ecp5
from hardware_plan import (DesignPlan, addr_bits, argmax_latency, auto_dsp_for_macs, choose_fold,
                           plan_design, ramb18_per_rom, rom_group)
from model_files import (FloatModel, InputError, check_input_codes,
                         read_input_codes, read_test_input)
from model_import import read_model

VERSION = "0.1.0"
PROJECT_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = PROJECT_DIR / "templates"
HDL_DIR = PROJECT_DIR / "hdl"
# hand-written synthesizable files every generated design needs (copied into --out)
HDL_FILES = ("bram_mlp_pkg.vhd", "argmax.vhd", "input_buffer.vhd", "requantizer.vhd",
             "dsp_mults.vhd")
# and, only in a design whose accumulators need more than 32 bits, their wide forms
HDL_WIDE_FILES = ("requantizer_wide.vhd",)
# and, only in a design with two lanes per DSP block (--dsp-pairs), their multipliers
HDL_PAIRS_FILES = ("dsp_mult_pairs.vhd",)
N_INPUT_COE = 10            # test-input .coe files written (the first vectors)
DEFAULT_VECTORS = 50
DEFAULT_CLOCK_MHZ = 100.0

VHDL_RESERVED = frozenset("""
abs access after alias all and architecture array assert assume assume_guarantee attribute
begin block body buffer bus case component configuration constant context cover default
disconnect downto else elsif end entity exit fairness file for force function generate generic
group guarded if impure in inertial inout is label library linkage literal loop map mod nand
new next nor not null of on open or others out package parameter port postponed procedure
process property protected pure range record register reject release rem report restrict
restrict_guarantee return rol ror select sequence severity signal shared sla sll sra srl strong
subtype then to transport type unaffected units until use variable vmode vprop vunit wait when
while with xnor xor
""".split())


class GeneratorError(ValueError):
    """Bad options (e.g. a name that is not a VHDL identifier)."""


# --------------------------------------------------------------------------- options
@dataclass
class Options:
    weight_bits: int = 8
    act_bits: int = 8
    input_bits: int = 8
    encoding: str = "integer"
    frac_bits: int | None = None
    per_neuron_scale: bool = False
    # hardware: neurons per ROM word (None: all of the layer's, one wide ROM per layer) and
    # the multiply-accumulates in DSP blocks (None: the default budget of `part`)
    neurons_per_rom: int | None = None
    dsp_budget: int | None = None
    # folding: multiply-accumulate lanes per layer (None: one per neuron; one value: every
    # layer; a list: one per layer), hardware_plan.py
    pe: list[int] | None = None
    simd: list[int] | None = None       # inputs per clock per layer (None: 1)
    # two lanes per DSP48E1 where the widths allow (hdl/dsp_mult_pairs.vhd); None: only
    # with --fold auto / --target-fps on a Xilinx part
    dsp_pairs: bool | None = None
    # layers in flight: layer k works on the next image while layer k + 1 finishes this one
    in_flight: bool = False
    # let the tool choose the lanes (hardware_plan.choose_fold; layers in flight): "auto",
    # the fastest fold that fits the part, or with target_fps the cheapest that reaches it
    fold: str | None = None
    target_fps: float | None = None
    part: str = DEFAULT_PART
    # the clock the design is meant to run at (MHz): report.json's inferences per second
    # at it, and implement.py's constraint (a target until a router says it is met)
    clock_mhz: float = DEFAULT_CLOCK_MHZ
    # mark_debug on the signals worth an ILA at bring-up (start, done, class, each layer's
    # done, the AXI4-Stream handshakes); build.tcl marks the stream nets for debug too
    debug_probes: bool = False

    def describe(self) -> str:
        enc = self.encoding if self.encoding == "integer" else f"fixed Q.{self.frac_bits}"
        scale = ", per-neuron scale" if self.per_neuron_scale else ""
        return (f"{self.weight_bits}-bit weights ({enc}{scale}), {self.act_bits}-bit "
                f"activations, {self.input_bits}-bit inputs")

    def budget(self) -> int:
        return default_dsp_budget(self.part) if self.dsp_budget is None else self.dsp_budget


def check_name(name: str) -> str:
    """A design name must be a basic VHDL identifier and not a reserved word."""
    if not re.fullmatch(r"[A-Za-z](_?[A-Za-z0-9])*", name or ""):
        raise GeneratorError(
            f"name '{name}' is not a VHDL identifier: use letters, digits and single "
            "underscores, starting with a letter and not ending with '_'")
    if name.lower() in VHDL_RESERVED:
        raise GeneratorError(f"name '{name}' is a VHDL reserved word; pick another --name")
    if name.lower() == "bram_mlp":
        raise GeneratorError("name 'bram_mlp' would clash with bram_mlp_pkg; pick another --name")
    return name.lower()


# --------------------------------------------------------------------------- output folders
# The rule (output_files.py): the generator never deletes or overwrites a file it did not
# write. Each output folder holds a ledger of the files written there with their sha256
# (output_files.LEDGER; report.json's "files" says the same for the reader); a folder is
# replaced only when it holds nothing else and none of those files was changed since.
REPORT = "report.json"


def _generated_name_patterns(name: str) -> list[re.Pattern]:
    """Names the generator writes for design `name` (for folders written before report.json
    had a manifest): the same kinds of file as render_design, for any layer count."""
    n = re.escape(name)
    hdl = "|".join(re.escape(h) for h in HDL_FILES + HDL_WIDE_FILES + HDL_PAIRS_FILES)
    return [re.compile(p) for p in (
        rf"{n}_(pkg|core|top|axis)\.vhd", rf"{n}_l\d+_(pkg|weights|layer|lut_mults)\.vhd",
        rf"({hdl})", r"quantized\.npz", r"report\.json",
        r"vectors/(inputs|expected|weights_l\d+)\.csv",
        rf"tb/tb_{n}(_axis|_weights)?\.vhd",
        rf"coe/{n}_input_\d{{4}}\.coe", rf"coe/{n}_l\d+_weights\.coe",
        r"vivado/(build|lab)\.tcl", rf"vivado/{n}_axis_ooc\.xdc",
        r"driver/bram_mlp_(driver\.py|layout\.h|test_data\.h|dma\.[ch])",
        r"driver/run_on_pynq\.ipynb")]


def _read_report(folder: Path) -> dict | None:
    """folder/report.json if it is a bram-mlp report, else None."""
    path = folder / REPORT
    if path.is_symlink() or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(report, dict) or not str(report.get("tool", "")).startswith("bram-mlp"):
        return None
    return report


def _legacy_design(folder: Path, name: str | None,
                   prefix: str = "") -> tuple[dict | None, list] | None:
    """How to judge an output written before ledgers: by report.json's "files" manifest
    (the paths under `prefix`), or, older still, by the generator's file names. None: no
    bram-mlp report, so not ours."""
    report = _read_report(folder)
    if report is None:
        return None
    files = report.get("files")
    patterns = _generated_name_patterns(str(report.get("name", "")) or (name or ""))
    if prefix:
        patterns = [re.compile(p.pattern[len(prefix):]) for p in patterns
                    if p.pattern.startswith(prefix)]
    if not isinstance(files, dict):
        return None, patterns
    manifest = {k[len(prefix):]: v for k, v in files.items() if k.startswith(prefix)}
    if not prefix:
        manifest[REPORT] = outfiles.sha256_file(folder / REPORT)   # then not covered: taken as is
    return manifest, patterns


def check_output(dest: Path | None, name: str, inputs: list[Path | None] = ()) -> None:
    """Everything about where design `name` goes, before any work: the folders may be
    replaced as a whole (output_files.check_folder_replaceable) and no input lies inside
    them. Without --out, coe/<name>/ is judged by its own ledger: a coe folder without one
    (and without the earlier output in hdl/generated/<name>/ that listed it) is refused."""
    folders = output_folders(dest, name)
    hdl_dir = folders[""]
    replaced = [hdl_dir] if dest is not None else list(folders.values())
    for folder in replaced:
        outfiles.check_not_an_input(folder, inputs, "the output folder")
    outfiles.check_folder_replaceable(hdl_dir, legacy=lambda f: _legacy_design(f, name))
    if dest is None:
        outfiles.check_folder_replaceable(
            folders["coe/"], option="--out (or another --name)",
            legacy=lambda f: _legacy_design(hdl_dir, name, "coe/"))


def output_folders(dest: Path | None, name: str) -> dict[str, Path]:
    """Where design `name` goes: {"": the VHDL folder, "coe/": the coe folder}."""
    if dest is None:
        return {"": PROJECT_DIR / "hdl" / "generated" / name, "coe/": PROJECT_DIR / "coe" / name}
    return {"": Path(dest), "coe/": Path(dest) / "coe"}


def default_name(model_path: Path) -> str:
    """A VHDL-safe name from a model file name: 'mnist-256+10.npz' -> 'mnist_256_10'."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", model_path.stem).strip("_").lower() or "net"
    if not stem[0].isalpha():
        stem = "net_" + stem
    if stem in VHDL_RESERVED:
        stem += "_net"
    return stem


# --------------------------------------------------------------------------- quantize
def quantize(model: FloatModel, opts: Options, calibration: np.ndarray | None = None,
             log=print) -> qf.QuantizedModel:
    n_in = model.W[0].shape[1]
    if calibration is None and model.calibration is not None:
        calibration = check_input_codes(model.calibration, n_in, opts.input_bits,
                                        f"{model.source}: 'calibration'", model.input_scale)
    if calibration is None and len(model.W) > 1:
        log("note: no calibration data (--calibration X.npy or a 'calibration' array in the "
            "model); calibrating hidden layers on 256 random inputs")
    if calibration is None:
        rng = np.random.default_rng(0)
        calibration = rng.integers(0, 1 << opts.input_bits, (256, n_in))
    return qf.quantize_model(
        model.W, model.b, input_scale=model.input_scale, calibration=calibration,
        weight_bits=opts.weight_bits, act_bits=opts.act_bits, input_bits=opts.input_bits,
        encoding=opts.encoding, frac_bits=opts.frac_bits, per_neuron=opts.per_neuron_scale)


def default_vectors(n_inputs: int, input_bits: int, n: int = DEFAULT_VECTORS,
                    seed: int = 1) -> np.ndarray:
    """Test inputs: all zeros, all at maximum, then random codes (half of them sparse)."""
    hi = (1 << input_bits) - 1
    rng = np.random.default_rng(seed)
    X = rng.integers(0, hi + 1, (max(n, 2), n_inputs))
    sparse = rng.random(X.shape) < 0.8
    X[1::2][sparse[1::2]] = 0          # odd rows look more like pen strokes on a blank page
    X[0] = 0
    X[1] = hi
    return X[:max(n, 2)].astype(np.int64)


def dsp_pairs_on_ecp5(part: str) -> str:
    return (f"--dsp-pairs for {part}: an ECP5's MULT18X18D takes 18-bit operands, too narrow "
            f"for two products; leave --dsp-pairs out")


def make_plan(q: qf.QuantizedModel, opts: Options, source: str = "the model") -> DesignPlan:
    """The hardware plan of q with the options' hardware choices (hardware_plan)."""
    where = f"{source} ({' -> '.join(map(str, q.topology))})"
    for option, values in (("--pe", opts.pe), ("--simd", opts.simd)):
        if values is not None and len(values) not in (1, q.n_layers):
            raise GeneratorError(f"{option} for {where}: {len(values)} values for "
                                 f"{q.n_layers} layers: give one value, or one per layer")
    if opts.dsp_pairs and is_ecp5(opts.part):
        raise GeneratorError(dsp_pairs_on_ecp5(opts.part))
    if opts.fold is not None or opts.target_fps is not None:
        return auto_plan(q, opts, where)
    try:
        plan = plan_design(q, opts.part, opts.budget(), opts.neurons_per_rom, opts.pe,
                           opts.in_flight, opts.simd, bool(opts.dsp_pairs))
    except ValueError as exc:    # SIMD asked of a later layer
        raise GeneratorError(f"--simd for {where}: {exc}") from None
    for x in plan.layers:
        if (x.folded or x.simd > 1) and x.wide:
            raise GeneratorError(
                f"--pe/--simd for {source}: layer {x.layer}'s accumulators need "
                f"{x.acc_bits} bits, more than 32, and folding such a layer is not built yet: "
                f"give it --pe {x.n_out} (one lane per neuron) and --simd 1")
    return plan


def auto_plan(q: qf.QuantizedModel, opts: Options, where: str) -> DesignPlan:
    """--fold auto / --target-fps: the lanes and the first layer's inputs per clock
    hardware_plan.choose_fold picks, layers in flight; the plan records the choice
    (report.json "fold")."""
    chosen = "--target-fps" if opts.fold is None else "--fold auto"
    if opts.pe is not None or opts.simd is not None:
        raise GeneratorError(f"{chosen} chooses the lanes itself: leave out --pe and --simd "
                             f"(or give them without {chosen})")
    target = None
    if opts.target_fps is not None:
        target = math.floor(opts.clock_mhz * 1e6 / opts.target_fps)
    try:
        fold = choose_fold(q, opts.part, opts.dsp_budget, target, dsp_pairs=opts.dsp_pairs)
    except ValueError as exc:
        raise GeneratorError(f"{chosen} for {where}: {exc}") from None
    plan = plan_design(q, opts.part, auto_dsp_for_macs(q, opts.part, opts.dsp_budget),
                       opts.neurons_per_rom, fold.pe, True, fold.simd, fold.dsp_pairs)
    plan.fold = {"mode": "target-fps" if opts.fold is None else "auto", **fold.as_dict(),
                 "target_fps": opts.target_fps}
    return plan


def model_origin(model: FloatModel | None) -> dict:
    """report.json's model_origin: the format the model was read from (an ONNX file: its
    exporter and opset), and whose quantization the design has."""
    if model is None:
        return {"format": "quantized", "quantization": "given as integers"}
    return model.origin or {"format": "npz", "quantization": "post-training (bram-mlp)"}


def build_report(q: qf.QuantizedModel, plan: DesignPlan, name: str, source: str,
                 opts: Options, model: FloatModel | None = None) -> dict:
    """report.json: the plan's figures, the quantization settings and what quantization
    lost per layer."""
    layers = []
    loss = qf.quantization_loss(model.W, model.b, q) if model is not None else None
    for x in plan.layers:
        l = x.layer
        layers.append({
            "layer": l, "n_in": x.n_in, "n_out": x.n_out, "hidden": x.hidden,
            "input_bits": x.input_bits, "acc_bits": x.acc_bits,
            "acc_min": x.acc_min, "acc_max": x.acc_max, "x_latency": x.x_latency,
            "cycles": x.cycles,
            "pe": x.pe, "passes": x.passes, "pe_asked": plan.pe[l],
            "simd": x.simd, "groups": x.groups,
            # layers in flight: takes the next image once this one's inputs are issued
            "early_start": x.early,
            "rom": {"count": x.n_roms, "neurons_per_rom": x.pack, "depth": x.rom_depth,
                    "used_words": x.used_words, "width": x.rom_width,
                    # read as slices of this many bits, each a memory of its own
                    "slice_width": x.rom_slice * q.weight_bits},
            "ramb18": x.ramb18,
            "mac_multipliers": x.pe * x.simd,
            "dsp_macs": x.dsp_macs,
            "dsp_pairs": x.dsp_pairs,
            "dsp_blocks": x.dsp_blocks,
            "lut_macs": x.lut_macs,
            "requant_multipliers": x.requant_multipliers,
            # how the requantization rounds a tie (manifest round{l}); None: the last layer
            "round": q.round_mode(l) if x.hidden else None,
            # what quantization lost (None when generated from integers)
            **(loss[l] if loss is not None else {"zero_weight_share": None,
                                                 "lost_weight_share": None,
                                                 "clipped_weight_share": None,
                                                 "max_abs_weight": None,
                                                 "bias_max_rel_error": None}),
            # near-dead neurons whose per-neuron weight step is the floor (see
            # per_neuron_scale_rule); 0 without --per-neuron-scale and in the last layer
            "floored_neurons": (qf.floored_neurons(np.asarray(model.W[l]))
                                if model is not None and opts.per_neuron_scale
                                and opts.encoding == "integer" and x.hidden else 0),
        })
    report = {
        "tool": f"bram-mlp {VERSION}", "name": name, "source": source,
        # the model's format and exporter, and which quantization came from it
        "model_origin": model_origin(model),
        "topology": q.topology, "encoding": q.encoding,
        "frac_bits": opts.frac_bits, "per_neuron_scale": opts.per_neuron_scale,
        "per_neuron_scale_rule": (qf.PER_NEURON_FLOOR_RULE + " (hidden layers; the last "
                                  "layer keeps one step)") if opts.per_neuron_scale else None,
        "input_bits": q.input_bits, "weight_bits": q.weight_bits, "act_bits": q.act_bits,
        "part": plan.part, "dsp_budget": plan.dsp_budget,
        "neurons_per_rom": "all" if plan.neurons_per_rom is None else plan.neurons_per_rom,
        "latency_cycles": plan.latency_cycles,
        # layers in flight: the interval between images is the slowest stage's clocks
        "in_flight": plan.in_flight,
        # --fold auto / --target-fps: the lanes chosen, the predicted interval, what they
        # cost by the tool's own count and what keeps a faster fold out (null otherwise)
        "fold": plan.fold,
        "interval_cycles": plan.axis_period_cycles,
        "ideal_cycles": plan.ideal_cycles,
        "layers": layers,
        "input_buffer": {"depth": plan.input_buffer_depth, "width": plan.input_word_bits},
        "totals": {
            "roms": plan.roms,
            # the weights ROMs (the input buffer, a RAM, comes on top: see input_buffer)
            "ramb18": plan.ramb18,
            "multipliers": plan.multipliers,
            "dsp_macs": plan.dsp_macs,
            "dsp_blocks": plan.dsp_blocks,  # of those (fewer than dsp_macs with DSP pairs)
            "lut_macs": plan.lut_macs,
        },
        "top": f"{name}_top", "core": f"{name}_core",
        "axis": {"entity": f"{name}_axis", "s_axis_bits": plan.s_axis_bits,
                 "m_axis_bits": plan.m_axis_bits, "m_axis_beats": q.topology[-1] + 1,
                 "input_buffer_words": 2 * plan.input_buffer_depth,  # two images
                 "result_slots": plan.result_slots,
                 # back to back without backpressure (DesignPlan.axis_period_cycles)
                 "image_period_cycles": plan.axis_period_cycles},
        "capacity": plan.capacity,
        # the target clock: a promise until implement.py (--implement) measures the Fmax
        "clock_mhz": opts.clock_mhz,
        "debug_probes": opts.debug_probes,
        "inferences_per_second_at_clock": round(
            opts.clock_mhz * 1e6 / plan.axis_period_cycles, 1),
    }
    return report


LOST_WEIGHTS_WARNING = 0.5   # warn when more than half of a layer's weights quantize to 0
CLIPPED_WEIGHTS_WARNING = 0.01  # warn when more than 1% of a layer's weights saturate


def collapse_warning(report: dict) -> str | None:
    """One warning line when most of a layer's (non-zero float) weights quantize to 0."""
    bad = [x for x in report["layers"]
           if (x["lost_weight_share"] or 0) > LOST_WEIGHTS_WARNING]
    if not bad:
        return None
    where = ", ".join(f"layer {x['layer']} {100 * x['lost_weight_share']:.0f}%" for x in bad)
    if report["encoding"] == "fixed":
        advice = (f"more --frac-bits (now {report['frac_bits']}) or the integer encoding, "
                  "whose scale follows the weights")
    else:
        # --per-neuron-scale helps hidden layers only: the last keeps one scale
        hidden = any(x["hidden"] for x in bad)
        advice = (f"more --weight-bits (now {report['weight_bits']}) or --per-neuron-scale"
                  if not report["per_neuron_scale"] and hidden else
                  f"more --weight-bits (now {report['weight_bits']})")
    return (f"warning: {report['name']}: most weights quantize to 0 ({where} of the "
            f"non-zero weights): the network has lost most of what it learned; use {advice} "
            "(report.json: lost_weight_share per layer)")


def clipping_warning(report: dict) -> str | None:
    """One warning line when more than CLIPPED_WEIGHTS_WARNING of a layer's weights
    saturate at the rails of --weight-bits (the fixed encoding with too many --frac-bits),
    naming the layers, the share and the --frac-bits that would fit."""
    bad = [x for x in report["layers"]
           if (x.get("clipped_weight_share") or 0) > CLIPPED_WEIGHTS_WARNING]
    if not bad:
        return None
    parts = []
    for x in bad:
        fit = qf.frac_bits_that_fit(x["max_abs_weight"], report["weight_bits"])
        parts.append(f"layer {x['layer']} {100 * x['clipped_weight_share']:.1f}%"
                     + (f" (max |W| {x['max_abs_weight']:.3g}: --frac-bits {fit} fits)"
                        if fit is not None else ""))
    now = (f"--frac-bits {report['frac_bits']}" if report["encoding"] == "fixed"
           else "the weight scale")
    return (f"warning: {report['name']}: weights clip at the rails of "
            f"{report['weight_bits']}-bit weights with {now}: {'; '.join(parts)}; the "
            "clipped weights are saturated, and accuracy suffers (report.json: "
            "clipped_weight_share per layer)")


def capacity_warning(report: dict) -> str | None:
    """One warning line when the design needs more than the part has, else None."""
    cap = report["capacity"]
    if not cap["over"]:
        return None
    ecp5 = is_ecp5(cap["part"])
    what = {"RAMB18": ("DP16KD" if ecp5 else "RAMB18") + " (weights ROMs and input buffer)",
            "DSP48E1": ("MULT18X18D" if ecp5 else "DSP48E1")
            + " (multiply-accumulates and requantizers)",
            "LUT_multipliers_LUT": "LUT for its LUT multipliers alone (about)"}
    parts = [f"{cap['needs'][k]} {what[k]}, the part has {cap['has'][k]}" for k in cap["over"]]
    return (f"warning: {report['name']} does not fit the {cap['part']}: it needs "
            + "; ".join(parts) + ". The files are written and simulate, but will not build "
            "on this part: use fewer neurons or weight bits, another --neurons-per-rom or "
            "--dsp-budget, or a bigger --part")


# --------------------------------------------------------------------------- render
def _rows(items: list[str], per_row: int) -> list[str]:
    return [", ".join(items[i:i + per_row]) for i in range(0, len(items), per_row)]


def _literal_table(bits: int) -> np.ndarray:
    """VHDL literal of every code of a signed `bits`-bit integer, indexed by code & mask."""
    lo, hi = qf.int_range(bits)
    table = np.empty(1 << bits, dtype=object)
    for v in range(lo, hi + 1):
        table[v & ((1 << bits) - 1)] = qf.int_to_vhdl_hex(v, bits)
    return table


def _rom_note(depth: int, width: int, n_roms: int) -> str:
    """How many 18 Kb block RAMs the ROMs take, for the package comment."""
    n = ramb18_per_rom(depth, width)
    size = "one RAMB18" if n == 1 else f"{n} RAMB18s (synthesis cuts the word)"
    return f": {size}{' each' if n_roms > 1 else ''}"


def _neuron_comment(model: FloatModel | None, q: qf.QuantizedModel, l: int, j: int) -> str:
    wq = q.W[l][j]
    if model is not None:
        w = model.W[l][j]
        return (f"float weights in [{w.min():.4g}, {w.max():.4g}], sum {w.sum():.4g}, "
                f"bias {model.b[l][j]:.4g}; integers in [{wq.min()}, {wq.max()}]")
    return f"integer weights in [{wq.min()}, {wq.max()}], sum {wq.sum()}"


def render_design(q: qf.QuantizedModel, name: str, source: str, opts: Options,
                  vectors: np.ndarray, model: FloatModel | None = None,
                  plan: DesignPlan | None = None) -> dict[str, str | bytes]:
    """Every output file, as {relative path: content}. The templates lay out `plan` (made
    from opts when not given): its numbers, nothing computed again."""
    plan = plan or make_plan(q, opts)
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    topology = " -> ".join(str(n) for n in q.topology)
    common = {"version": VERSION, "source": Path(source).name, "name": name,
              "topology": topology, "settings": opts.describe()}
    files: dict[str, str | bytes] = {}
    literals = _literal_table(q.weight_bits)

    def render(template: str, title: str, **ctx) -> str:
        return env.get_template(template).render(file_title=title, **common, **ctx)

    layers_ctx = []
    for hw in plan.layers:
        l, n_out, n_in, hidden = hw.layer, hw.n_out, hw.n_in, hw.hidden
        lo, hi = hw.acc_min, hw.acc_max
        mask = (1 << q.weight_bits) - 1
        roms = []
        for j in range(n_out):
            lits = list(literals[q.W[l][j] & mask])
            roms.append({"index": j, "comment": _neuron_comment(model, q, l, j),
                         "rows": _rows(lits, 16)})
        ctx = {
            "l": l, "n_in": n_in, "n_out": n_out, "hidden": hidden,
            "addr_bits": hw.addr_bits, "index_bits": addr_bits(n_in), "in_bits": hw.input_bits,
            "weight_bits": q.weight_bits, "acc_bits": hw.acc_bits,
            "acc_min": lo, "acc_max": hi, "x_latency": hw.x_latency,
            "bias_rows": _rows([f"{j} => {vhdl_integer(v)}" for j, v in enumerate(q.b[l])], 8),
            "acc_min_vhdl": vhdl_integer(lo),
            "wide": hw.wide, "acc_lo_bits": qf.ACC_LO_BITS,
            "acc_hi_min": lo >> qf.ACC_LO_BITS, "acc_hi_max": hi >> qf.ACC_LO_BITS,
            "bias_hi_rows": _rows([f"{j} => {int(v) >> qf.ACC_LO_BITS}"
                                   for j, v in enumerate(q.b[l])], 8),
            "bias_lo_rows": _rows([f"{j} => {int(v) & ((1 << qf.ACC_LO_BITS) - 1)}"
                                   for j, v in enumerate(q.b[l])], 8),
            "roms": roms,
            "pe": hw.pe, "passes": hw.passes, "folded": hw.folded,
            "simd": hw.simd, "groups": hw.groups, "lane_roms": hw.folded or hw.simd > 1,
            "in_flight": plan.in_flight, "early": hw.early, "cycles": hw.cycles,
            "w_addr_bits": hw.w_addr_bits,
            "lane_acc_min_vhdl": vhdl_integer(min(lo, 0)), "lane_acc_max": max(hi, 0),
            **_product_ranges(q.weight_bits, hw.input_bits, hw.simd),
            "pack": hw.pack, "n_roms": hw.n_roms, "n_dsp": hw.dsp_lanes,
            "rom_group": rom_group(hw.rom_depth, hw.rom_slice * q.weight_bits),
            "rom_slice": hw.rom_slice, "n_slices": hw.n_slices,
            "dsp_pairs": hw.dsp_pairs, "dsp_blocks": hw.dsp_blocks,
            "dsp_budget": plan.dsp_budget,
            "rom_note": _rom_note(hw.rom_depth, hw.rom_width, hw.n_roms),
        }
        if hidden:
            ctx.update({
                "act_bits": q.act_bits, "out_addr_bits": plan.layers[l + 1].addr_bits,
                "m_bits": qf.M_BITS, "s_max": qf.MAX_SHIFT,
                "m_rows": _rows([f"{j} => {v}" for j, v in enumerate(q.M[l])], 8),
                "s_rows": _rows([f"{j} => {v}" for j, v in enumerate(q.S[l])], 8),
                "round_half_even": q.round_mode(l) == "half_even",
            })
        layers_ctx.append(ctx)
        files[f"{name}_l{l}_pkg.vhd"] = render(
            "layer_pkg.vhd.j2", f"{name}_l{l}_pkg: weights and constants of layer {l}", **ctx)
        files[f"{name}_l{l}_weights.vhd"] = render(
            "weights.vhd.j2", f"{name}_l{l}_weights: weights memory of layer {l}", **ctx)
        files[f"{name}_l{l}_layer.vhd"] = render(
            "layer.vhd.j2", f"{name}_l{l}_layer: layer {l}", **ctx)
        if hw.lut_macs:
            files[f"{name}_l{l}_lut_mults.vhd"] = render(
                "lut_mults.vhd.j2", f"{name}_l{l}_lut_mults: LUT multipliers of layer {l}",
                **ctx)

    n_outputs = q.W[-1].shape[0]
    net = {"n_inputs": q.topology[0], "input_bits": q.input_bits,
           "input_addr_bits": plan.layers[0].addr_bits, "n_outputs": n_outputs,
           "argmax_latency": argmax_latency(n_outputs),
           "input_simd": plan.layers[0].simd, "input_words": plan.input_words,
           "logit_bits": plan.layers[-1].acc_bits,
           "class_bits": plan.class_bits, "latency": plan.latency_cycles,
           "s_axis_bits": plan.s_axis_bits, "m_axis_bits": plan.m_axis_bits,
           "wide_logits": plan.wide_logits,
           "in_flight": plan.in_flight, "argmax_gate": plan.argmax_gate,
           "debug_probes": opts.debug_probes,
           "n_slots": plan.result_slots,
           "interval": plan.axis_period_cycles,
           "layers": layers_ctx}
    files[f"{name}_pkg.vhd"] = render("network_pkg.vhd.j2", f"{name}_pkg: network sizes", **net)
    files[f"{name}_core.vhd"] = render("core.vhd.j2", f"{name}_core: layers + argmax", **net)
    files[f"{name}_top.vhd"] = render("top.vhd.j2", f"{name}_top: input buffer + core", **net)
    files[f"{name}_axis.vhd"] = render(
        "axis.vhd.j2", f"{name}_axis: AXI4-Stream wrapper (ping-pong input buffer + core)", **net)
    files[f"tb/tb_{name}.vhd"] = render("tb_network.vhd.j2", f"tb_{name}: VUnit testbench", **net)
    files[f"tb/tb_{name}_axis.vhd"] = render(
        "tb_axis.vhd.j2", f"tb_{name}_axis: VUnit testbench of the AXI4-Stream wrapper", **net)
    files[f"tb/tb_{name}_weights.vhd"] = render(
        "tb_weights.vhd.j2", f"tb_{name}_weights: VUnit testbench of the weights memories", **net)
    for hdl in (HDL_FILES + (HDL_WIDE_FILES if plan.any_wide else ())
                + (HDL_PAIRS_FILES if any(x.dsp_pairs and x.dsp_lanes for x in plan.layers) else ())):
        files[hdl] = (HDL_DIR / hdl).read_text()

    # the Vivado build script (block design with a Zynq's DMA, or the core out of context)
    if board_files.has_vivado_flow(opts.part):
        # in analysis order: Vivado's non-project flow (--ooc) reads them in turn
        sources = estimate.analysis_order(f for f in files if f.endswith(".vhd") and "/" not in f)
        vivado = board_files.vivado_context(name, plan, opts.part, opts.clock_mhz, sources,
                                            opts.debug_probes)
        files["vivado/build.tcl"] = render(
            "build.tcl.j2", f"{name}: Vivado build script (block design with AXI DMA, or "
            "out of context)", **vivado)
        files[f"vivado/{vivado['xdc_name']}"] = render(
            "constraints.xdc.j2", f"{name}_axis: clock constraint for out-of-context builds",
            **vivado)
        if not plan.in_flight:   # the lab wires the layers one after the other
            files["vivado/lab.tcl"] = render(
                "lab.tcl.j2", f"{name}: Vivado script of the hand-wired lab path (test "
                "image ROM, weights memories, layers, VIO)",
                **{**net, **board_files.lab_context(name, plan, vivado, q.input_bits,
                                                    min(N_INPUT_COE, len(vectors)))})

    # test vectors from the integer reference model (the oracle)
    logits, classes = qf.reference_forward(q, vectors)
    files["vectors/inputs.csv"] = _csv(vectors)
    files["vectors/expected.csv"] = _csv(outputs_to_columns(
        logits, classes, plan.wide_logits))
    for l in range(q.n_layers):
        files[f"vectors/weights_l{l}.csv"] = _csv(q.W[l].T)  # row i: every neuron's weight i

    # .coe files
    for v in range(min(N_INPUT_COE, len(vectors))):
        files[f"coe/{name}_input_{v:04d}.coe"] = input_coe(vectors[v], q.input_bits,
                                                           f"{name} test vector {v}",
                                                           plan.layers[0].simd)
    for l in range(q.n_layers):
        files[f"coe/{name}_l{l}_weights.coe"] = weights_coe(
            q.W[l], q.weight_bits, f"{name} layer {l} weights", plan.layers[l].pe,
            plan.layers[l].simd)

    # the drivers a Zynq's processing system runs: PYNQ (Python) and bare metal (C)
    if board_files.has_pynq_flow(opts.part):
        layout = board_files.driver_layout(name, plan, q.input_bits, q.topology[0],
                                           opts.clock_mhz)
        driver = board_files.driver_context(layout)
        files["driver/bram_mlp_driver.py"] = render(
            "bram_mlp_driver.py.j2", f"{name}: PYNQ driver (AXI DMA)", **driver)
        files["driver/run_on_pynq.ipynb"] = board_files.pynq_notebook(
            name, layout,
            f"Generated by bram-mlp {VERSION} (vhdl_generator.py) from {Path(source).name}.")
        files["driver/bram_mlp_layout.h"] = render(
            "bram_mlp_layout.h.j2", f"{name}: image and result layout of the AXI DMA transfers",
            **driver)
        files["driver/bram_mlp_test_data.h"] = render(
            "bram_mlp_test_data.h.j2", f"{name}: test vectors and the reference model's results",
            **board_files.c_test_data(vectors, logits, classes))
        for c_file in board_files.C_DRIVER_FILES:
            files[f"driver/{c_file}"] = (board_files.DRIVERS_DIR / c_file).read_text()

    import io
    buf = io.BytesIO()
    np.savez(buf, **q.to_arrays())
    files["quantized.npz"] = buf.getvalue()
    report = build_report(q, plan, name, source, opts, model)
    report["vectors"] = int(len(vectors))
    # what the generator wrote (everything but report.json itself), for the reader; the
    # folder's ledger (output_files.LEDGER) lists the same and report.json, and decides
    # what a later run may replace
    report["files"] = {rel: outfiles.sha256_of(content) for rel, content in sorted(files.items())}
    files[REPORT] = json.dumps(report, indent=2) + "\n"
    return files


def _product_ranges(weight_bits: int, in_bits: int, simd: int) -> dict:
    """The range of one product weight * input (a weight_t times an unsigned input code)
    and of the sum of SIMD of them, clamped to a VHDL integer: the registers that hold them
    get these subtypes, so that synthesis makes them as wide as they need (about
    weight_bits + in_bits bits), not 32 bits."""
    x_max = 2 ** in_bits - 1
    p_min, p_max = -(2 ** (weight_bits - 1)) * x_max, (2 ** (weight_bits - 1) - 1) * x_max
    return {"product_min_vhdl": vhdl_integer(max(p_min, -2 ** 31)),
            "product_max": min(p_max, 2 ** 31 - 1),
            "product_sum_min_vhdl": vhdl_integer(max(simd * p_min, -2 ** 31)),
            "product_sum_max": min(simd * p_max, 2 ** 31 - 1)}


def vhdl_integer(v: int) -> str:
    """An integer as a VHDL expression: -2^31 is not a literal (2147483648 is no integer)."""
    v = int(v)
    return "(-2147483647 - 1)" if v == -2 ** 31 else str(v)


def outputs_to_columns(logits: np.ndarray, classes: np.ndarray, wide: bool) -> np.ndarray:
    """The rows of expected.csv / results.csv: logits then the class (the benches add the
    clocks). VUnit's integer arrays hold 32 bits, so a wide logit takes two columns:
    hi = logit >> 16 (rounded down), lo = logit & 0xFFFF."""
    logits = np.asarray(logits, dtype=np.int64)
    if wide:
        pairs = np.stack([logits >> qf.ACC_LO_BITS, logits & ((1 << qf.ACC_LO_BITS) - 1)],
                         axis=2)
        logits = pairs.reshape(len(logits), -1)
    return np.column_stack([logits, classes])


def outputs_from_columns(rows: np.ndarray, n_outputs: int, wide: bool
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(logits (n, n_outputs) int64, the columns after them) of an expected/results CSV."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.int64))
    if not wide:
        return rows[:, :n_outputs], rows[:, n_outputs:]
    pairs = rows[:, :2 * n_outputs].reshape(len(rows), n_outputs, 2)
    return (pairs[:, :, 0] << qf.ACC_LO_BITS) + pairs[:, :, 1], rows[:, 2 * n_outputs:]


def _csv(a: np.ndarray) -> str:
    a = np.atleast_2d(np.asarray(a, dtype=np.int64))
    return "".join(",".join(str(int(x)) for x in row) + "\n" for row in a)


def input_coe(x: np.ndarray, input_bits: int, title: str, simd: int = 1) -> str:
    """Test-input .coe: one word per input (radix 16); with a first layer taking simd inputs
    per clock, one word per simd inputs (the first in the low bits, 0 beyond the last), as
    the input memory holds them."""
    codes = [int(v) for v in x] + [0] * (-len(x) % simd)
    packed = [sum(codes[w * simd + k] << (k * input_bits) for k in range(simd))
              for w in range(len(codes) // simd)]
    words = ",\n".join(qf.int_to_coe_hex(v, input_bits * simd) for v in packed)
    per = "one per word" if simd == 1 else f"{simd} per word, the first in the low bits"
    return (f"; {title}: {len(x)} inputs, {input_bits}-bit unsigned, {per}\n"
            f"memory_initialization_radix=16;\nmemory_initialization_vector=\n{words};\n")


def write_test_input_coe(npz_path: str | Path, coe_path: str | Path | None = None,
                         input_bits: int = 8, input_scale: float = 1.0 / 255.0) -> Path:
    """The original lab's export: one image (.npz with keys input, label) -> a test-input
    .coe for a Block Memory Generator (radix 16, one input code per word, input 0 first).

    `input` holds codes (uint8 pixels) or the scaled floats (pixels / 255); see
    model_files.read_test_input. Default output: the .npz path with suffix .coe.
    Returns the path written (atomically: a temporary file renamed into place)."""
    npz_path = Path(npz_path)
    codes, label = read_test_input(npz_path, input_bits, input_scale)
    coe_path = npz_path.with_suffix(".coe") if coe_path is None else Path(coe_path)
    if coe_path.suffix != ".coe":
        raise InputError(f"{coe_path}: a test-input file must end in .coe")
    if coe_path.is_dir():
        raise InputError(f"{coe_path}: is a folder")
    title = f"test input from {npz_path.name}" + ("" if label is None else f", label {label}")
    text = input_coe(codes, input_bits, title)
    try:
        return outfiles.write_file(coe_path, text, "the test-input .coe", inputs=[npz_path])
    except outfiles.OutputError as exc:
        raise InputError(str(exc)) from None


def write_layer_weights_mem(npz_path: str | Path, out: str | Path | None = None,
                            layer: int = 0, image_npz: str | Path | None = None,
                            opts: Options | None = None, name: str | None = None) -> Path:
    """The original lab's export: from a model .npz, the VHDL of one layer's weights
    memory (one synchronous block-RAM ROM per neuron on a shared address, the lab's
    clk/addr/dout interface). Built on generate(): the whole design is written to `out`
    (default hdl/generated/<name>/), so the memory comes with its package, and with
    `image_npz` (the lab's sample file: input, label) that image is the test vector, so
    the testbenches expect the integer model's result for it (vectors/expected.csv).
    Returns the path of <name>_l<layer>_weights.vhd."""
    model = read_model(npz_path)
    if not isinstance(layer, int) or not 0 <= layer < len(model.W):
        raise GeneratorError(f"{npz_path}: layer must be 0..{len(model.W) - 1}, not {layer}")
    opts = opts or Options()
    vectors = None
    if image_npz is not None:
        codes, _ = read_test_input(image_npz, opts.input_bits, model.input_scale)
        if codes.size != model.W[0].shape[1]:
            raise InputError(f"{image_npz}: 'input' has {codes.size} values, the model "
                             f"{npz_path} takes {model.W[0].shape[1]}")
        vectors = codes[None, :]
    g = generate(model, out=None if out is None else Path(out), name=name, opts=opts,
                 vectors=vectors, source=str(npz_path))
    return g.out / f"{g.name}_l{layer}_weights.vhd"


def weights_coe(Wq: np.ndarray, weight_bits: int, title: str, pe: int | None = None,
                simd: int = 1) -> str:
    """Weights .coe: word i packs all neurons' weight i, neuron 0 in the low bits. Folded
    into pe lanes taking simd inputs per clock (hardware_plan.py): word p * groups + g packs,
    lane by lane (lane 0 in the low bits), weights g * simd .. g * simd + simd - 1 of neuron
    p * pe + lane (input g * simd in the low bits of the lane's field), 0 where there is no
    such neuron or input."""
    n_out, n_in = Wq.shape
    pe = n_out if pe is None else pe
    passes, groups = -(-n_out // pe), -(-n_in // simd)
    mask = (1 << weight_bits) - 1
    width = pe * simd * weight_bits
    words = []
    for p in range(passes):
        for g in range(groups):
            word = 0
            for j in range(min(pe, n_out - p * pe)):
                for k in range(min(simd, n_in - g * simd)):
                    w = int(Wq[p * pe + j, g * simd + k]) & mask
                    word |= w << ((j * simd + k) * weight_bits)
            words.append("%0*X" % ((width + 3) // 4, word))
    if passes == 1 and simd == 1:
        what = (f"{n_in} words of {width} bits ({n_out} neurons x {weight_bits}-bit "
                f"two's complement, neuron 0 in the low bits)")
    else:
        what = (f"{passes} passes x {groups} words of {width} bits ({pe} lanes x {simd} "
                f"inputs x {weight_bits}-bit two's complement, lane 0 in the low bits; word "
                f"p * {groups} + g: inputs g * {simd} .. of neurons p * {pe} + lane)")
    return (f"; {title}: {what}\n"
            f"memory_initialization_radix=16;\nmemory_initialization_vector=\n"
            + ",\n".join(words) + ";\n")


@dataclass
class Generated:
    out: Path
    coe: Path
    name: str
    q: qf.QuantizedModel
    report: dict = field(default_factory=dict)


def generate(model: FloatModel | qf.QuantizedModel, *, out: Path | None = None,
             name: str | None = None, opts: Options | None = None,
             calibration: np.ndarray | None = None, vectors: np.ndarray | None = None,
             source: str | None = None, log=print) -> Generated:
    """Quantize (unless given a QuantizedModel), render and write. Returns where it went."""
    opts = opts or Options()
    if name is None:
        name = default_name(Path(source or getattr(model, "source", "net")))
    name = check_name(name)
    # where it goes, checked before any work: nothing of the user's is ever replaced
    folders = output_folders(out, name)
    out_dir, coe_dir = folders[""], folders["coe/"]
    targets = {"": out_dir} if out is not None else folders
    check_output(out, name)
    source = source or getattr(model, "source", "<memory>")
    try:
        given = model if isinstance(model, qf.QuantizedModel) else model.quantized
        if given is not None:
            # integers given (a QuantizedModel, or a QONNX model's own): built as they are
            q, float_model = given, (None if given is model else model)
            q.validate()
            if float_model is not None:
                log(f"{source}: quantization "
                    f"{float_model.origin.get('quantization', 'from the model')}; the "
                    "quantization options (--weight-bits, ...) are not used")
                for note in float_model.origin.get("folded", []):
                    log(f"note: {source}: {note}")
                for warning in float_model.origin.get("warnings", []):
                    log(f"warning: {source}: {warning}")
            opts = dataclasses.replace(opts, weight_bits=q.weight_bits, act_bits=q.act_bits,
                                       input_bits=q.input_bits, encoding=q.encoding)
        else:
            q, float_model = quantize(model, opts, calibration, log), model
    except qf.QuantizationError as exc:
        raise qf.QuantizationError(f"{source}: {exc}") from None   # name the model file
    if vectors is None:
        vectors = default_vectors(q.topology[0], q.input_bits)
    else:
        scale = q.sx[0] if q.sx else getattr(model, "input_scale", 1.0 / 255.0)
        vectors = check_input_codes(vectors, q.topology[0], q.input_bits, "test vectors", scale)
    plan = make_plan(q, opts, source)  # computed once; the templates and report.json read it
    files = render_design(q, name, source, opts, vectors, float_model, plan)
    outfiles.write_folders(files, targets)
    report = json.loads(files["report.json"])
    for warning in (collapse_warning(report), clipping_warning(report),
                    capacity_warning(report)):
        if warning:
            log(warning)
    return Generated(out=out_dir, coe=coe_dir, name=name, q=q, report=report)


# --------------------------------------------------------------------------- CLI
def add_generator_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("quantization and naming")
    g.add_argument("--weight-bits", type=int, default=8, metavar="N",
                   help="weight width in bits, 2..16 (default 8)")
    g.add_argument("--act-bits", type=int, default=8, metavar="N",
                   help="hidden activation width in bits, 2..16 (default 8)")
    g.add_argument("--input-bits", type=int, default=8, metavar="N",
                   help="input code width (default 8: MNIST pixels 0..255)")
    g.add_argument("--encoding", choices=qf.ENCODINGS, default="integer",
                   help="integer: symmetric scale max|W|/(2^(b-1)-1); fixed: Qm.n with "
                        "--frac-bits fraction bits (default integer)")
    g.add_argument("--frac-bits", type=int, default=None, metavar="N",
                   help="fraction bits of the fixed encoding (weights step 2^-N)")
    g.add_argument("--per-neuron-scale", action="store_true",
                   help="one weight scale per neuron instead of per layer in the hidden layers "
                        "(integer encoding); the last layer keeps one scale for all its "
                        "neurons, so that the class ranks as in the float model")
    g.add_argument("--calibration", type=Path, default=None, metavar="X.npy",
                   help="input images (n, n_inputs) to calibrate activation ranges: integer "
                        "codes (uint8 pixels), or floats read as the scaled inputs, code = x / "
                        "input_scale, on that grid (default: the model's 'calibration' "
                        "array, else random inputs)")
    g.add_argument("--name", default=None,
                   help="VHDL name prefix of the design (default: from the model file name)")
    h = p.add_argument_group("hardware")
    h.add_argument("--neurons-per-rom", default="all", metavar="N|all",
                   help="neurons whose weights share one ROM word (they share the address): "
                        "1 = one ROM per neuron; all (default) = one ROM per layer, a word "
                        "holds every neuron's weight, and synthesis cuts it into block RAMs "
                        "(18 bits of a word per RAMB18 at 513..1024 inputs, 36 up to 512)")
    h.add_argument("--dsp-budget", type=int, default=None, metavar="N",
                   help="multiply-accumulates in DSP48 blocks, filled layer by layer; the "
                        "other neurons get LUT multipliers (default: 75%% of the --part's "
                        "DSP48E1, 165 for xc7z020)")
    h.add_argument("--pe", default=None, metavar="P[,P...]",
                   help="fold: multiply-accumulate lanes per layer (one value for every "
                        "layer, or one per layer); a layer with P lanes computes its neurons "
                        "in ceil(neurons / P) passes over its inputs, P times fewer "
                        "multipliers for about that many times the clocks; a value above a "
                        "layer's neurons is one lane per neuron (default: one per neuron)")
    h.add_argument("--simd", default=None, metavar="S[,S...]",
                   help="inputs per clock per layer (one value for every layer, or one per "
                        "layer; only the first layer may take more than 1 so far): S times "
                        "the multipliers of each lane for about S times fewer clocks; a value "
                        "above a layer's inputs is one clock per pass (default 1)")
    h.add_argument("--dsp-pairs", action=argparse.BooleanOptionalAction, default=None,
                   help="two multiply-accumulate lanes per DSP48E1: their weights packed "
                        "into one operand, the product split again (exact; 8-bit weights "
                        "and inputs or narrower; not on an ECP5): the DSP blocks hold twice "
                        "the lanes. Default: on with --fold auto / --target-fps on a Xilinx "
                        "part, off otherwise (--no-dsp-pairs keeps auto from it)")
    h.add_argument("--in-flight", action="store_true",
                   help="layers in flight: layer k takes the next image while layer k + 1 "
                        "finishes this one (each hidden layer keeps a copy of its results "
                        "for the next: more flip-flops), so images follow each other every "
                        "slowest-layer clocks instead of every latency + 1 (the AXI4-Stream "
                        "wrapper streams them so); the latency of one image is unchanged")
    h.add_argument("--fold", choices=["auto"], default=None,
                   help="auto: choose the lanes per layer (--pe) and the first layer's "
                        "inputs per clock (--simd, at most 128 bits of codes) and put the "
                        "layers in flight: the fastest fold that fits --part (its DSP blocks, "
                        "LUT multipliers and SIMD adders up to half its LUTs (none on an "
                        "ECP5), its block RAM), every layer given the fewest multipliers "
                        "that keep up with the slowest; the summary and report.json say what "
                        "was chosen and what keeps a faster fold out")
    h.add_argument("--target-fps", type=float, default=None, metavar="F",
                   help="like --fold auto, but the cheapest fold that reaches F inferences "
                        "per second at --clock-mhz (an image every clock / F clocks at most)")
    h.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ, metavar="MHZ",
                   help=f"the clock the design is meant for (default {DEFAULT_CLOCK_MHZ:g}): "
                        "report.json's inferences per second at it, and the constraint of "
                        "--implement, which measures what the design reaches")
    h.add_argument("--debug-probes", action="store_true",
                   help="mark the signals worth watching on the board with mark_debug (the "
                        "core's start, done and class, each layer's done, the AXI4-Stream "
                        "wrapper's handshakes and tlast_error) and the block design's "
                        "stream nets for debug: Vivado's Set Up Debug then offers them to an "
                        "ILA (docs/vivado_block_design.md); no effect on what it computes")
    h.add_argument("--part", default=DEFAULT_PART, metavar="PART",
                   help=f"target FPGA: {', '.join(PARTS)}; sets the default --dsp-budget and "
                        f"what --estimate compares with (default {DEFAULT_PART}, the PYNQ-Z2's)")


def options_from_args(args: argparse.Namespace) -> Options:
    for what in ("weight_bits", "act_bits", "input_bits"):
        qf.check_bits(getattr(args, what), "--" + what.replace("_", "-"))
    if args.encoding == "fixed" and args.frac_bits is None:
        raise GeneratorError("--encoding fixed needs --frac-bits N")
    if args.frac_bits is not None:
        if args.encoding != "fixed":
            raise GeneratorError("--frac-bits only applies to --encoding fixed")
        qf.check_bits(args.frac_bits, "--frac-bits", 0, 30)
    if args.name is not None:
        check_name(args.name)
    try:
        part = check_part(args.part)
    except PartError as exc:
        raise GeneratorError(str(exc)) from None
    if getattr(args, "dsp_pairs", None) and is_ecp5(part):
        raise GeneratorError(dsp_pairs_on_ecp5(part))
    return Options(weight_bits=args.weight_bits, act_bits=args.act_bits,
                   input_bits=args.input_bits, encoding=args.encoding,
                   frac_bits=args.frac_bits, per_neuron_scale=args.per_neuron_scale,
                   neurons_per_rom=parse_neurons_per_rom(args.neurons_per_rom),
                   dsp_budget=check_dsp_budget(args.dsp_budget), part=part,
                   pe=parse_per_layer(getattr(args, "pe", None), "--pe"),
                   in_flight=bool(getattr(args, "in_flight", False)),
                   simd=parse_per_layer(getattr(args, "simd", None), "--simd"),
                   dsp_pairs=getattr(args, "dsp_pairs", None),
                   fold=getattr(args, "fold", None),
                   target_fps=check_target_fps(getattr(args, "target_fps", None)),
                   clock_mhz=check_clock_mhz(args.clock_mhz),
                   debug_probes=bool(getattr(args, "debug_probes", False)))


def check_target_fps(fps: float | None) -> float | None:
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise GeneratorError(f"--target-fps must be a positive number, not {fps:g}")
    return fps


def check_clock_mhz(mhz: float) -> float:
    if not (mhz > 0 and math.isfinite(mhz)):
        raise GeneratorError(f"--clock-mhz must be a positive number, not {mhz:g}")
    return float(mhz)


def parse_neurons_per_rom(text: str) -> int | None:
    if text == "all":
        return None
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise GeneratorError(f"--neurons-per-rom must be all or a whole number from 1, "
                             f"not '{text}'")
    return int(text)


def parse_per_layer(text: str | None, option: str) -> list[int] | None:
    """'4' or '16,4,1': one whole number from 1 per layer, or one for all."""
    if text is None:
        return None
    parts = text.split(",")
    if not all(re.fullmatch(r"[0-9]+", t.strip()) and int(t) >= 1 for t in parts):
        raise GeneratorError(f"{option} takes whole numbers from 1, one for every layer or "
                             f"one per layer separated by commas (e.g. 16 or 64,10), "
                             f"not '{text}'")
    return [int(t) for t in parts]


def check_dsp_budget(budget: int | None) -> int | None:
    if budget is not None and budget < 0:
        raise GeneratorError(f"--dsp-budget must be 0 or more, not {budget}")
    return budget


def generate_from_args(args: argparse.Namespace, vectors: np.ndarray | None = None,
                       out: Path | None = None, log=print) -> Generated:
    opts = options_from_args(args)
    model = read_model(args.model)
    calibration = None
    if args.calibration is not None:
        calibration = read_input_codes(args.calibration, model.W[0].shape[1], opts.input_bits,
                                       model.input_scale)
    name = args.name if args.name is not None else default_name(Path(args.model))
    return generate(model, out=out if out is not None else args.out, name=name, opts=opts,
                    calibration=calibration, vectors=vectors, source=str(args.model), log=log)
