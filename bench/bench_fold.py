#!/usr/bin/env python3
"""Folding: interval against resources over a sweep of folds, and the fold --fold auto picks.

    python bench/bench_fold.py [--network 784-256-10] [--part xc7z020] [--simulate]
                               [--estimate [all|auto|ends]] [--json bench/fold.json]
                               [--png docs/img/fold.png]
                               [--markdown docs/fold.md]

For the network (seeded random weights, int8): the default design (a lane per neuron, one
input per clock, layers one after the other), then the first layer folded into PE lanes
(its neurons / 1, 2, 4, 8, 16) taking SIMD inputs per clock (1, 2, 4), the later layers
given the fewest lanes that keep up (as --fold auto balances them), layers in flight, two
lanes per DSP block where the blocks run short (--dsp-pairs, as --fold auto on a Xilinx
part); and the fold --fold auto picks for --part. For each: the predicted interval and latency
(report.json), the tool's own count (multipliers in DSP blocks and in LUTs, the LUTs of the
LUT multipliers and SIMD adders, RAMB18) and whether that fits the part by the rule --fold
auto uses. --simulate: the generated AXI4-Stream bench streams images back to back and
checks every result and every interval against the prediction (GHDL, a few seconds to a
minute per fold). --estimate: the Yosys estimate of each (estimate.py, minutes per fold
for 784->256->10: run it in the background), its LUT/FF/RAMB18/DSP48E1 and whether it
fits, beside the tool's count. Writes the JSON, a PNG (interval against DSP blocks and LUT
multipliers, the auto fold marked) and the table between the markers of the markdown file.
"""
from __future__ import annotations

import argparse
import json
import math
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
import hardware_plan as hp  # noqa: E402
import vunit_run  # noqa: E402
from fpga_parts import PARTS, is_ecp5  # noqa: E402
from vunit_console import run_quietly  # noqa: E402

def markers(network: str) -> tuple[str, str]:
    """The markers of a network's table in the markdown file (one table per network)."""
    return (f"<!-- BEGIN bench_fold.py {network} -->", f"<!-- END bench_fold.py {network} -->")
SEED = 13


def parse_topology(text: str) -> list[int]:
    try:
        topology = [int(t) for t in text.split("-")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a topology is sizes joined by '-', e.g. 784-256-10, "
                                         f"not '{text}'") from None
    if len(topology) < 2 or min(topology) < 1:
        raise argparse.ArgumentTypeError(f"'{text}': at least two sizes, each from 1")
    return topology


def balanced(q, pe0: int, simd0: int) -> tuple[list[int], list[int]]:
    """The first layer as given; each later layer the fewest lanes that keep up with it."""
    n_out, n_in = q.W[0].shape
    clocks = hp.stage_clocks(n_in, 0, math.ceil(n_out / pe0), simd0)
    pe, simd = [pe0], [simd0]
    for l in range(1, q.n_layers):
        shape = hp.shape_within(q.W[l].shape[1], q.W[l].shape[0], l, clocks, 1)
        lanes = shape[0] if shape else q.W[l].shape[0]  # a layer slower than layer 0 anyway
        pe.append(lanes)
        simd.append(1)
    return pe, simd


def folds(q, part: str) -> list[tuple[str, generator.Options]]:
    """(label, generator options) of the sweep, the default first and the auto fold last."""
    n_out = q.W[0].shape[0]
    dsp = hp.auto_dsp_for_macs(q, part, None)  # every DSP block, as --fold auto has them
    pairs = not is_ecp5(part)                   # and two lanes per block where needed
    out = [("default", generator.Options(part=part))]
    seen = set()
    for div in (1, 2, 4, 8, 16):
        pe0 = max(1, math.ceil(n_out / div))
        for simd0 in (1, 2, 4):
            if (pe0, simd0) in seen:
                continue
            seen.add((pe0, simd0))
            pe, simd = balanced(q, pe0, simd0)
            out.append((f"pe {','.join(map(str, pe))} simd {simd0}",
                        generator.Options(part=part, pe=pe, simd=simd, in_flight=True,
                                          dsp_budget=dsp, dsp_pairs=pairs)))
    out.append(("--fold auto", generator.Options(part=part, fold="auto")))
    return out


def model_fits(q, plan, part: str) -> tuple[dict, bool]:
    """The tool's count of a plan and whether it fits by --fold auto's rule."""
    pe = [x.pe for x in plan.layers]
    simd = [x.simd for x in plan.layers]
    cost = hp.fold_cost(q, pe, simd, plan.dsp_budget, any(x.dsp_pairs for x in plan.layers))
    requant = sum(x.requant_multipliers for x in plan.layers)
    return {**cost, "dsp": cost["dsp_blocks"] + requant}, not hp.fold_limit(cost, part)


def simulate(g, work: Path) -> dict:
    """The design's AXI4-Stream bench (images back to back, every interval checked)."""
    vu = vunit_run.make_vunit([f"lib_{g.name}.tb_{g.name}_axis.*", "-p", "1"],
                              output_path=work / "vunit")
    vunit_run.add_network(vu, g.name, g.out)
    vunit_run.quiet_warnings(vu)
    t0 = time.perf_counter()
    code = 1
    try:
        run_quietly(vu)
    except SystemExit as exc:
        code = exc.code
    return {"axis_bench_passed": code == 0, "seconds": round(time.perf_counter() - t0, 1)}


def measure(label: str, opts: generator.Options, topology: list[int], part: str,
            work: Path, do_sim: bool, do_estimate: bool) -> dict:
    name = "fold_" + "".join(c if c.isalnum() else "_" for c in label).strip("_")
    name = "_".join(p for p in name.split("_") if p)
    g = generator.generate(examples.random_float_model(topology, SEED), out=work / name,
                           name=name, vectors=generator.default_vectors(topology[0], 8, 6),
                           opts=opts, log=lambda *_: None)
    plan = generator.make_plan(g.q, opts)
    cost, fits = model_fits(g.q, plan, part)
    r = g.report
    row = {"label": label, "pe": [x["pe"] for x in r["layers"]],
           "simd": [x["simd"] for x in r["layers"]], "in_flight": r["in_flight"],
           "interval": r["interval_cycles"], "latency": r["latency_cycles"],
           "model": cost, "model_fits": fits}
    if do_sim:
        row["simulation"] = simulate(g, work / (name + "_sim"))
    if do_estimate:
        e = estimate.estimate(g.out, part, log=lambda *_: None)
        row["estimate"] = {k: e["used"][k] for k in ("LUT", "FF", "RAMB18", "DSP48E1")}
        row["estimate_fits"] = e["fits"]
        row["estimate_seconds"] = e.get("seconds")
    return row


def markdown(data: dict) -> str:
    meta = data["meta"]
    lines = [f"Measured by `python bench/bench_fold.py` on {meta['machine']} "
             f"({meta['network']} int8, {meta['part']}, load {meta['load_before']} before, "
             f"{meta['load_after']} after). Model: the tool's own count; fits: by the rule "
             f"of `--fold auto` (DSP blocks, LUT multipliers and SIMD adders within half the "
             f"LUTs, RAMB18).", "",
             "| fold | lanes | SIMD | interval | latency | DSP blocks / LUT multipliers | model LUT "
             "| RAMB18 | fits (model) | AXI4-Stream bench | Yosys LUT / FF / RAMB18 / DSP |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | --- | --- | --- |"]
    for r in data["rows"]:
        m, sim, est = r["model"], r.get("simulation"), r.get("estimate")
        sim_text = ("-" if sim is None else
                    ("bit-exact, interval as predicted" if sim["axis_bench_passed"] else "FAILED"))
        est_text = ("-" if est is None else
                    f"{est['LUT']:,} / {est['FF']:,} / {est['RAMB18']} / {est['DSP48E1']}"
                    f" ({'fits' if r['estimate_fits'] else 'does not fit'})")
        lines.append(f"| {r['label']} | {','.join(map(str, r['pe']))} | "
                     f"{','.join(map(str, r['simd']))} | {r['interval']} | {r['latency']} | "
                     f"{m['dsp']} / {m['lut_macs']} | {m['lut_mult_luts']:,} | {m['ramb18']} | "
                     f"{'yes' if r['model_fits'] else 'no'} | {sim_text} | {est_text} |")
    return "\n".join(lines)


def picture(data: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = data["rows"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, (key, title) in enumerate((("dsp", "DSP blocks (model)"),
                                      ("lut_mult_luts", "LUTs of LUT multipliers + SIMD adders (model)"))):
        for r in rows:
            x, y = r["model"][key], r["interval"]
            auto = r["label"] == "--fold auto"
            ax[k].scatter(x, y, marker="*" if auto else "o", s=160 if auto else 30,
                          color="C3" if auto else ("C0" if r["model_fits"] else "C7"),
                          zorder=3 if auto else 2)
            if auto or r["label"] == "default":
                ax[k].annotate(r["label"], (x, y), textcoords="offset points", xytext=(6, 6),
                               fontsize=8)
        part = PARTS[data["meta"]["part"]]
        limit = part["DSP48E1"] if key == "dsp" else part["LUT"] * hp.AUTO_LUT_MULT_SHARE
        ax[k].axvline(limit, color="C3", linestyle="--", linewidth=1)
        ax[k].set_xlabel(title)
        ax[k].set_ylabel("clocks per image (interval)")
        ax[k].set_yscale("log")
        ax[k].grid(True, alpha=0.3)
    fig.suptitle(f"{data['meta']['network']} int8 on {data['meta']['part']}: blue fits, grey "
                 "does not, red star: --fold auto, dashed: the part's limit")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(path: Path, text: str, network: str, png: Path) -> None:
    """The table between the network's markers; a new section for a network not there yet."""
    begin, end = markers(network)
    old = path.read_text() if path.exists() else (
        "# Folding\n\nInterval against resources over a sweep of folds (bench/bench_fold.py).\n")
    if begin not in old:
        old += (f"\n## {network}\n\n![folds of {network}](img/{png.name})\n\n"
                f"{begin}\n{end}\n")
    a, b = old.index(begin) + len(begin), old.index(end)
    path.write_text(old[:a] + "\n" + text + "\n" + old[b:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--network", type=parse_topology, default=[784, 256, 10])
    p.add_argument("--part", default="xc7z020")
    p.add_argument("--simulate", action="store_true",
                   help="run each fold's AXI4-Stream bench (bit-exact, interval checked)")
    p.add_argument("--estimate", nargs="?", const="all", choices=["all", "auto", "ends"],
                   default=None,
                   help="Yosys estimate of each fold (minutes each for 784-256-10); 'auto': "
                        "of the --fold auto one only; 'ends': of the default design and "
                        "the auto fold")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "fold.json")
    p.add_argument("--png", type=Path, default=ROOT / "docs" / "img" / "fold.png")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "fold.md")
    args = p.parse_args(argv)
    topology = args.network
    meta = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
            "network": "-".join(map(str, topology)), "part": args.part,
            "load_before": round(os.getloadavg()[0], 2)}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bram_mlp_fold_") as tmp:
        probe = generator.generate(examples.random_float_model(topology, SEED),
                                   out=Path(tmp) / "probe", name="probe",
                                   vectors=generator.default_vectors(topology[0], 8, 2),
                                   log=lambda *_: None)
        q = probe.q
        for label, opts in folds(q, args.part):
            print(f"{label} ...", flush=True)
            estimate_it = (args.estimate == "all"
                           or (args.estimate in ("auto", "ends") and label == "--fold auto")
                           or (args.estimate == "ends" and label == "default"))
            row = measure(label, opts, topology, args.part, Path(tmp), args.simulate,
                          estimate_it)
            print(f"  interval {row['interval']}, model {row['model']}, fits "
                  f"{row['model_fits']}" + (f", bench {row['simulation']}" if args.simulate
                                            else ""), flush=True)
            rows.append(row)
    meta["load_after"] = round(os.getloadavg()[0], 2)
    data = {"meta": meta, "rows": rows}
    args.json.write_text(json.dumps(data, indent=2) + "\n")
    text = markdown(data)
    print(text)
    write_markdown(args.markdown, text, meta["network"], args.png)
    picture(data, args.png)
    print(f"wrote {args.json}, {args.markdown}, {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
