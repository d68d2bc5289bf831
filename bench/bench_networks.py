#!/usr/bin/env python3
"""Figures of the example networks: cycles vs ideal, estimated resources, GHDL speed, generator time.

    python bench/bench_networks.py [--quick] [--jobs 2] [--json bench/networks.json]
                                   [--markdown docs/figures.md]

For each network below: the generator's wall time (best of 3), cycles per inference as
simulated in GHDL against the ideal (one input per clock per layer, the sum of the layers'
inputs), GHDL inferences per second in steady state (a run of N images minus a run of N/10,
so analysis and elaboration drop out), and the open-tool resource estimate (estimate.py:
GHDL synthesis + Yosys synth_xilinx, xc7z020). The 784->256->10 variants show what each
hardware option costs. Writes the figures as JSON and refreshes the table in docs/figures.md
(between its BEGIN/END markers). Simulations run one at a time; estimates in --jobs parallel
processes afterwards (a 784->256->10 estimate takes Yosys several minutes and ~2.5 GB).
--quick leaves out the 784->256->10 estimates; --table-only rewrites the markdown table from
the JSON (no measuring), with the descriptions of the cases below.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import estimate  # noqa: E402
import examples  # noqa: E402
import vhdl_generator as vg  # noqa: E402
import vunit_run  # noqa: E402

BEGIN = "<!-- BEGIN bench_networks.py -->"
END = "<!-- END bench_networks.py -->"


@dataclass
class Case:
    name: str
    topology: list[int]
    seed: int
    opts: vg.Options
    what: str
    images: int = 200

    def model(self):
        return examples.random_float_model(self.topology, self.seed)


def cases() -> list[Case]:
    o = vg.Options
    return [
        Case("mnist_1", [784, 1], 11, o(), "defaults"),
        Case("mnist_10", [784, 10], 12, o(), "defaults"),
        Case("odd_100_13_7_10", [100, 13, 7, 10], 15, o(), "defaults", images=1000),
        Case("mnist_256_10", [784, 256, 10], 13, o(), "defaults: one ROM per layer, "
             "DSP budget 165"),
        Case("mnist_256_10_planned", [784, 256, 10], 13, o(neurons_per_rom=1, dsp_budget=266),
             "as first planned: one ROM and one DSP per neuron"),
        Case("mnist_256_10_rom1", [784, 256, 10], 13, o(neurons_per_rom=1),
             "one ROM per neuron, DSP budget 165"),
        Case("mnist_256_10_alldsp", [784, 256, 10], 13, o(dsp_budget=266),
             "one ROM per layer, every multiplier in a DSP"),
    ]


def time_generator(case: Case, work: Path) -> float:
    model = case.model()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        vg.generate(model, out=work / "gen", name=case.name, opts=case.opts,
                    log=lambda *_: None)
        best = min(best, time.perf_counter() - t0)
    return best


def simulate(case: Case, n_images: int, work: Path) -> tuple[float, int]:
    """Seconds VUnit reports for the testbench (elaboration + simulation), and the cycles."""
    X = vg.default_vectors(case.topology[0], 8, n_images, seed=5)
    g = vg.generate(case.model(), out=work / f"sim_{case.name}_{n_images}", name=case.name,
                    opts=case.opts, vectors=X, log=lambda *_: None)
    vu = vunit_run.make_vunit(["-q", f"lib_{case.name}.tb_{case.name}.*"],
                              output_path=work / f"vunit_{case.name}_{n_images}")
    vunit_run.add_network(vu, g.name, g.out, check=True, n_vectors=n_images)
    vunit_run.quiet_warnings(vu)
    seen: dict = {}

    def post_run(results) -> None:
        for test in results.get_report().tests.values():
            seen.update(status=vunit_run.test_status(test), time=float(test.time),
                        csv=test.path / "results.csv")
    try:
        vu.main(post_run=post_run)
    except SystemExit:
        pass
    if seen.get("status") != "passed":
        raise SystemExit(f"{case.name}: simulation of {n_images} images failed (not bit-exact "
                         f"or crashed): {seen}")
    sim = np.loadtxt(seen["csv"], delimiter=",", dtype=np.int64, ndmin=2)
    return seen["time"], int(sim[0, -1])


def estimate_case(case: Case, work: Path) -> dict:
    g = vg.generate(case.model(), out=work / f"est_{case.name}", name=case.name,
                    opts=case.opts, log=lambda *_: None)
    return estimate.estimate(g.out, case.opts.part, log=lambda *_: None)


def measure(case: Case, work: Path) -> dict:
    gen_s = time_generator(case, work)
    short = max(1, case.images // 10)
    t_short, _ = simulate(case, short, work)
    t_long, cycles = simulate(case, case.images, work)
    report = vg.generate(case.model(), out=work / "gen", name=case.name, opts=case.opts,
                         log=lambda *_: None).report
    row = {
        "name": case.name, "what": case.what, "topology": case.topology,
        "neurons_per_rom": report["neurons_per_rom"], "dsp_budget": report["dsp_budget"],
        "roms": report["totals"]["roms"], "dsp_macs": report["totals"]["dsp_macs"],
        "lut_macs": report["totals"]["lut_macs"],
        "cycles": cycles, "predicted_cycles": report["latency_cycles"],
        "ideal_cycles": report["ideal_cycles"],
        "generator_seconds": round(gen_s, 3),
        "ghdl_images": [short, case.images],
        "ghdl_inferences_per_second": round((case.images - short) / (t_long - t_short), 1),
    }
    print(f"{case.name}: {cycles} cycles (ideal {row['ideal_cycles']}), generator "
          f"{gen_s:.2f} s, GHDL {row['ghdl_inferences_per_second']} inferences/s", flush=True)
    return row


def markdown(rows: list[dict], machine: str) -> str:
    head = ("| network | options | cycles | ideal | LUT | FF | RAMB18-eq. | DSP48E1 | CARRY4 "
            "| fits xc7z020 | GHDL inf./s | generator s |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n")
    lines = []
    for r in rows:
        e = r.get("estimate")
        res = (f"{e['LUT']} | {e['FF']} | {e['used']['RAMB18']} | {e['DSP48E1']} | "
               f"{e['CARRY4']} | {'yes' if e['fits'] else '**no**'}") if e else \
            "- | - | - | - | - | not estimated"
        lines.append(f"| {r['name']} ({'-'.join(map(str, r['topology']))}) | {r['what']} "
                     f"| {r['cycles']} | {r['ideal_cycles']} | {res} | "
                     f"{r['ghdl_inferences_per_second']} | {r['generator_seconds']} |")
    return (f"{BEGIN}\nMeasured by `python bench/bench_networks.py` on {machine}; "
            "resources are Yosys `synth_xilinx -family xc7` estimates (estimate.py), "
            "RAMB18-eq. = RAMB18 + 2 x RAMB36.\n\n" + head + "\n".join(lines) + f"\n{END}")


def refresh_markdown(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else (
        "# Figures\n\nWhat the example networks cost and how fast they simulate.\n\n"
        f"{BEGIN}\n{END}\n")
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{BEGIN}\n{END}\n"
    before, rest = text.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    path.write_text(before + table + after)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="no 784->256->10 estimates")
    p.add_argument("--jobs", type=int, default=2, help="estimates in parallel (default 2)")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "networks.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "figures.md")
    p.add_argument("--table-only", action="store_true",
                   help="only rewrite the markdown table from the JSON")
    args = p.parse_args()
    if args.table_only:
        data = json.loads(args.json.read_text())
        what = {c.name: c.what for c in cases()}
        for r in data["networks"]:
            r["what"] = what.get(r["name"], r["what"])
        args.json.write_text(json.dumps(data, indent=2) + "\n")
        refresh_markdown(args.markdown, markdown(data["networks"], data["machine"]))
        print(f"wrote {args.json} (descriptions) and {args.markdown}")
        return 0
    machine = f"{platform.machine()}, Python {platform.python_version()}, GHDL 2.0 mcode"
    with tempfile.TemporaryDirectory(prefix="bram_mlp_bench_") as tmp:
        work = Path(tmp)
        all_cases = cases()
        rows = [measure(c, work) for c in all_cases]
        todo = [(c, r) for c, r in zip(all_cases, rows)
                if not (args.quick and c.topology == [784, 256, 10])]
        print(f"estimating {len(todo)} designs, {args.jobs} at a time ...", flush=True)
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [(r, pool.submit(estimate_case, c, work)) for c, r in todo]
            for r, fut in futures:
                e = fut.result()
                r["estimate"] = {k: e[k] for k in ("part", "LUT", "FF", "RAMB18", "RAMB36",
                                                   "DSP48E1", "CARRY4", "LUTRAM", "fits",
                                                   "used", "share", "yosys_version",
                                                   "seconds")}
                print(f"{r['name']}: " + estimate.table(e).splitlines()[0].split(": ", 1)[1]
                      + f"; LUT {e['LUT']}, FF {e['FF']}, RAMB18-eq. {e['used']['RAMB18']}, "
                      f"DSP48E1 {e['DSP48E1']}, CARRY4 {e['CARRY4']} "
                      f"(Yosys {e['seconds']['total']} s)", flush=True)
    args.json.write_text(json.dumps({"machine": machine, "networks": rows}, indent=2) + "\n")
    refresh_markdown(args.markdown, markdown(rows, machine))
    print(f"wrote {args.json} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
