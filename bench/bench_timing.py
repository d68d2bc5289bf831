#!/usr/bin/env python3
"""At what clock the designs run: place and route with open tools, three seeds each.

    python bench/bench_timing.py [--seeds 1,2,3] [--clock-mhz 125] [--only NAME,...]
                                 [--json bench/timing.json] [--markdown docs/timing.md]
    python bench/bench_timing.py --examples [--fit [budget|fold]] [--seeds 1] [--only NAME,...]

--examples: the same for every example network of `python vunit_run.py` (examples.py,
their own weights and options), one seed by default, into bench/timing_examples.json and
the second table of docs/timing.md. An example with more multipliers in DSP blocks than
the part's MULT18X18D is refused by implement.py at once and recorded so; with --fit it
is generated again as the refusal advises (the --dsp-budget that fits, or --fit fold:
folded for the part) and placed.

For each network below (seeded random weights, int8, the generator's defaults, as the
example networks): implement.py on LFE5U-85F-6BG381C out of context (Yosys synth_ecp5,
nextpnr-ecp5 with a 125 MHz constraint, the floor the designs must meet): Fmax per placement seed and their spread, the
critical path of the first seed (where it starts and ends in the VHDL, logic and routing
ns), LUT4 / FF / DP16KD / MULT18X18D, cycles per inference, inferences per second at Fmax,
and the wall time of each step. A design that cannot be placed (more multipliers than the
part's 156 MULT18X18D) is recorded with nextpnr's reason. Run it on an idle machine: the
Fmax figures do not depend on the load, the seconds do (the load is recorded).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import estimate  # noqa: E402
import examples  # noqa: E402
import generator  # noqa: E402
import implement  # noqa: E402
import output_files  # noqa: E402

BEGIN = "<!-- BEGIN bench_timing.py -->"
END = "<!-- END bench_timing.py -->"
BEGIN_EX = "<!-- BEGIN bench_timing.py --examples -->"
END_EX = "<!-- END bench_timing.py --examples -->"
# name, topology, weights seed, generator options (generator.Options). 784-256-10 unfolded
# with the DSP budget that fits the LFE5U-85F's 156 MULT18X18D: 150 multiply-accumulates +
# the requantizer's 2 (implement.check_multipliers_fit), 116 neurons on LUT multipliers;
# folded into 128 + 10 lanes (2 passes over the pixels for layer 0), every multiplier in a
# MULT18X18D, layers in flight; and as --fold auto chooses for the LFE5U-85F (128 + 2 lanes)
CASES = [("net_5_3_2", [5, 3, 2], 1, {}), ("net_100_13_7_10", [100, 13, 7, 10], 3, {}),
         ("mnist_1", [784, 1], 11, {}), ("mnist_10", [784, 10], 12, {}),
         ("mnist_256_10", [784, 256, 10], 13, {"dsp_budget": 150}),
         ("mnist_256_10_pe128", [784, 256, 10], 13, {"pe": [128, 10], "in_flight": True,
                                                     "part": "lfe5u-85f", "dsp_budget": 150}),
         ("mnist_256_10_auto", [784, 256, 10], 13, {"fold": "auto", "part": "lfe5u-85f"})]


def measure(name: str, topology: list[int], seed: int, options: dict,
            seeds: list[int], clock_mhz: float, work: Path) -> dict:
    out = work / name
    g = generator.generate(examples.random_float_model(topology, seed), out=out, name=name,
                           vectors=generator.default_vectors(topology[0], 8, 4),
                           opts=generator.Options(**options), log=lambda *_: None)
    return implement_row(g, name, topology, options, seeds, clock_mhz)


def example_options(ex: examples.Example) -> dict:
    """The generator options an example sets (those that differ from the defaults)."""
    default = generator.Options()
    return {k: v for k, v in vars(ex.opts).items() if v != getattr(default, k)}


def measure_example(ex: examples.Example, seeds: list[int], clock_mhz: float,
                    work: Path, fit: str | None = None) -> dict:
    """An example network as vunit_run.py generates it, placed and routed. With fit, one
    with more DSP multipliers than the part has is generated again as implement.py's
    refusal advises, as a user would: fit "budget", with the --dsp-budget it names (the
    rest on LUT multipliers); fit "fold", folded for the part (--fold auto --part)."""
    def generate(opts: generator.Options, out: Path):
        return generator.generate(ex.model, out=out, name=ex.name,
                                  vectors=generator.default_vectors(ex.model.topology[0], 8, 4),
                                  opts=opts, log=lambda *_: None)
    g = generate(ex.opts, work / ex.name)
    options = example_options(ex)
    budget = implement.fitting_dsp_budget(g.report, implement.DEFAULT_ECP5)
    if not (fit and budget is not None):
        return implement_row(g, ex.name, list(g.q.topology), options, seeds, clock_mhz)
    refit = (f"as generated it needs {implement.mult18_needed(g.report)} MULT18X18D, "
             f"the part has {implement.ECP5_PARTS[implement.DEFAULT_ECP5]['MULT18X18D']}")
    if fit == "fold":
        part = implement.PART_NAME_FOR_ECP5[implement.DEFAULT_ECP5]   # lfe5u-85f
        changes = {"fold": "auto", "part": part, "dsp_budget": None}
        options = {**{k: v for k, v in options.items() if k != "dsp_budget"},
                   "fold": "auto", "part": part}
    else:
        changes = {"dsp_budget": budget}
        options = {**options, "dsp_budget": budget}
    flags = ", ".join(flag(k, v) for k, v in changes.items() if v is not None)
    print(f"  {refit}: generated again with {flags}", flush=True)
    g = generate(dataclasses.replace(ex.opts, **changes), work / (ex.name + "_fit"))
    row = implement_row(g, ex.name, list(g.q.topology), options, seeds, clock_mhz)
    row["refit"] = refit
    return row


def implement_row(g, name: str, topology: list[int], options: dict, seeds: list[int],
                  clock_mhz: float) -> dict:
    out = g.out
    row = {"name": name, "topology": topology, "options": options,
           "cycles": g.report["latency_cycles"],
           "interval": g.report["axis"]["image_period_cycles"]}
    t0 = time.perf_counter()
    try:
        r = implement.implement(out, clock_mhz=clock_mhz, seed=seeds,
                                log=lambda line: print("  " + line))
    except (estimate.EstimateError, output_files.OutputError) as exc:
        row.update({"placed": False, "why": str(exc), "seconds": round(time.perf_counter() - t0, 1)})
        return row
    fmaxes = [v for v in r["fmax_by_seed"].values() if v is not None]
    row.update({"placed": True, "fmax_by_seed": r["fmax_by_seed"],
                "fmax_min": min(fmaxes), "fmax_max": max(fmaxes),
                "critical_path": r["critical_path"], "used": r["used"],
                "inferences_per_second_at_fmax": r["inferences_per_second_at_fmax"],
                "seconds": r["seconds"], "peak_memory_mb": r.get("peak_memory_mb", {})})
    return row


def flag(key: str, value) -> str:
    """A generator option as its command-line flag: pe [128, 10] -> --pe 128,10."""
    name = "--" + key.replace("_", "-")
    if value is True:
        return name
    return f"{name} {','.join(map(str, value)) if isinstance(value, list) else value}"


def markdown(rows: list[dict], meta: dict) -> str:
    command = "python bench/bench_timing.py" + (" --examples" if meta.get("examples") else "")
    lines = [f"Measured by `{command}` on {meta['machine']}, "
             f"{meta['part']}, nextpnr-ecp5 out of context, "
             f"{meta.get('clock_mhz', 100):g} MHz constraint, seeds "
             f"{meta['seeds']}; load (1-minute average) before/after each network's run in the last column.",
             "",
             "| network | cycles | interval | Fmax MHz (seeds) | critical path (seed "
             f"{meta['seeds'][0]}) | LUT4 | FF | DP16KD | MULT18X18D | inferences/s at the "
             "slowest seed's Fmax | Yosys s / MB | nextpnr s / MB (per seed) | load |",
             "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        topo = "-".join(map(str, r["topology"])) + "".join(
            f", {flag(k, v)}" for k, v in r.get("options", {}).items()) + (
            f"; {r['refit']}" if r.get("refit") else "")
        if not r["placed"]:
            lines.append(f"| {r['name']} ({topo}) | {r['cycles']} | {r.get('interval', '')} | "
                         f"not placed: {r['why'][:160]} | | | | | | | | | |")
            continue
        cp, u, s = r["critical_path"], r["used"], r["seconds"]
        mb = r.get("peak_memory_mb", {})
        load = "/".join(map(str, r.get("load", [meta["load_before"], meta["load_after"]])))
        seeds = " / ".join(f"{v}" for v in r["fmax_by_seed"].values())
        path = (f"{cp['total_ns']} ns ({cp['logic_ns']} logic): "
                f"{implement.design_part(cp['from'])} -> "
                f"{implement.design_part(cp['to'])}") if cp else "-"
        lines.append(f"| {r['name']} ({topo}) | {r['cycles']} | {r.get('interval', '')} | "
                     f"{seeds} | {path} | "
                     f"{u.get('LUT4', 0)} | {u.get('FF', 0)} | {u.get('DP16KD', 0)} | "
                     f"{u.get('MULT18X18D', 0)} | {r['inferences_per_second_at_fmax']:,.0f} | "
                     f"{s.get('yosys')} / {mb.get('yosys', '-')} | "
                     f"{s.get('nextpnr')} / {mb.get('nextpnr', '-')} | {load} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", action="store_true",
                   help="the example networks of vunit_run.py instead (one seed by default), "
                        "into bench/timing_examples.json and docs/timing.md's second table")
    p.add_argument("--fit", nargs="?", const="budget", choices=["budget", "fold"], default=None,
                   help="with --examples: an example with more DSP multipliers than the "
                        "part has is generated again as the refusal advises and placed, "
                        "instead of recorded as refused: budget (the default), with the "
                        "--dsp-budget that fits; fold, with --fold auto for the part")
    p.add_argument("--seeds", type=implement.parse_seeds, default=None,
                   help="placement seeds (default 1,2,3; with --examples 1)")
    p.add_argument("--clock-mhz", type=float, default=125.0,
                   help="the constraint nextpnr places and routes for (default 125)")
    p.add_argument("--only", default=None,
                   help="networks by name, comma-separated (default: all); the JSON keeps "
                        "the other networks' rows of the last run")
    p.add_argument("--json", type=Path, default=None,
                   help="default bench/timing.json (--examples: bench/timing_examples.json)")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "timing.md")
    p.add_argument("--table-only", action="store_true",
                   help="rewrite the markdown table from the JSON, measuring nothing")
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = [1] if args.examples else [1, 2, 3]
    if args.json is None:
        args.json = ROOT / "bench" / ("timing_examples.json" if args.examples else "timing.json")
    markers = (BEGIN_EX, END_EX) if args.examples else (BEGIN, END)
    if args.table_only:
        data = json.loads(args.json.read_text())
        write_markdown(args.markdown, markdown(data["rows"], data["meta"]), markers)
        return 0
    if args.examples:
        cases = [(ex.name, ex) for ex in examples.examples()]
    else:
        cases = [(name, (topology, seed, options)) for name, topology, seed, options in CASES]
    meta = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
            "part": implement.DEFAULT_ECP5, "seeds": args.seeds, "clock_mhz": args.clock_mhz,
            "load_before": round(os.getloadavg()[0], 2), "examples": args.examples}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bram_mlp_timing_") as tmp:
        for name, case in cases:
            if args.only and name not in args.only.split(","):
                continue
            print(f"{name} ...", flush=True)
            if args.examples:
                row = measure_example(case, args.seeds, args.clock_mhz, Path(tmp), args.fit)
            else:
                topology, seed, options = case
                row = measure(name, topology, seed, options, args.seeds, args.clock_mhz,
                              Path(tmp))
            rows.append(row)
            print(f"{name}: " + (f"Fmax {row['fmax_by_seed']} MHz" if row["placed"]
                                 else f"not placed: {row['why']}"), flush=True)
    meta["load_after"] = round(os.getloadavg()[0], 2)
    for row in rows:
        row["load"] = [meta["load_before"], meta["load_after"]]
    if args.only and args.json.exists():
        # keep the other networks' rows of an earlier run (in the order of CASES)
        last = json.loads(args.json.read_text())
        old = {r["name"]: {"load": [last["meta"]["load_before"], last["meta"]["load_after"]],
                           **r} for r in last["rows"]}
        old.update({r["name"]: r for r in rows})
        rows = [old[name] for name, _ in cases if name in old]
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    text = markdown(rows, meta)
    print(text)
    write_markdown(args.markdown, text, markers)
    return 0


def write_markdown(path: Path | None, text: str, markers: tuple[str, str] = (BEGIN, END)) -> None:
    """The table between the markers of path (created with a heading if new; the markers
    appended if the file lacks them)."""
    if not path:
        return
    begin, end = markers
    old = path.read_text() if path.exists() else (
        "# Timing\n\nAt what clock the generated designs run, placed and routed with "
        "open tools (implement.py).\n\n")
    if begin not in old:
        old = old.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    a, b = old.index(begin) + len(begin), old.index(end)
    path.write_text(old[:a] + "\n" + text + "\n" + old[b:])


if __name__ == "__main__":
    sys.exit(main())
