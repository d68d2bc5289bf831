#!/usr/bin/env python3
"""The fold matrix: every fold of a grid, bit-exact and at its predicted interval.

    python bench/bench_fold_matrix.py [--json bench/fold_matrix.json]
                                      [--markdown docs/fold.md] [-p 2]

For 5->3->2, 100->13->7->10 and 784->10 (shapes the folds do not divide), SIMD 1, 2, 3, 7
and 16 inputs per clock in the first layer (clamped to its inputs) times PE 1, 3, 5 and
one lane per neuron in every layer (clamped to each layer's neurons): 60 designs. The
quantization varies along the grid, one variant per design in turn: int8 (per-layer
scale), --per-neuron-scale, 4-bit weights, 12-bit weights, --encoding fixed (Q.6), and
every other design has its layers in flight. Each design's generated benches run in GHDL
through VUnit: the top level (every logit and class against the integer reference model,
the cycle count against report.json's latency), the AXI4-Stream wrapper (images back to
back: every result, and every interval between results against report.json's
interval_cycles) and the weights memories. Writes a JSON row per design and a table
between the markers in the markdown file. Takes about 10 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import examples  # noqa: E402
import generator  # noqa: E402

SHAPES = ([5, 3, 2], [100, 13, 7, 10], [784, 10])
SIMD = (1, 2, 3, 7, 16)
PE = (1, 3, 5, "n_out")
VARIANTS = (("int8", {}),
            ("per-neuron scale", {"per_neuron_scale": True}),
            ("4-bit weights", {"weight_bits": 4}),
            ("12-bit weights", {"weight_bits": 12}),
            ("fixed Q.6", {"encoding": "fixed", "frac_bits": 6}))
BEGIN = "<!-- BEGIN bench_fold_matrix.py -->"
END = "<!-- END bench_fold_matrix.py -->"


def designs() -> list[dict]:
    """The grid: name, topology, SIMD and PE as asked, variant, in flight."""
    out = []
    for topology in SHAPES:
        for simd in SIMD:
            for pe in PE:
                k = len(out)
                variant, opts = VARIANTS[k % len(VARIANTS)]
                out.append({"name": f"m{k:02d}", "topology": topology, "simd": simd, "pe": pe,
                            "variant": variant, "in_flight": k % 2 == 1, "opts": opts})
    return out


def generate(d: dict, work: Path) -> dict:
    topology = d["topology"]
    pe = [n for n in topology[1:]] if d["pe"] == "n_out" else [d["pe"]]
    opts = generator.Options(pe=pe, simd=[d["simd"]] + [1] * (len(topology) - 2),
                             in_flight=d["in_flight"], **d["opts"])
    n_vectors = 6 if topology[0] >= 784 else 10
    g = generator.generate(examples.random_float_model(topology, 100 + int(d["name"][1:])),
                           out=work / d["name"], name=d["name"], opts=opts,
                           vectors=generator.default_vectors(topology[0], 8, n_vectors),
                           log=lambda *_: None)
    r = g.report
    return {**{k: v for k, v in d.items() if k != "opts"},
            "lanes": [x["pe"] for x in r["layers"]], "passes": [x["passes"] for x in r["layers"]],
            "simd_used": r["layers"][0]["simd"], "latency": r["latency_cycles"],
            "interval": r["axis"]["image_period_cycles"], "vectors": n_vectors, "out": g.out}


def run_benches(rows: list[dict], work: Path, jobs: int) -> tuple[set, float]:
    """Every bench of every design in one VUnit run: the (library, bench, test) that passed."""
    script = ("import sys; sys.path.insert(0, %r)\nfrom pathlib import Path\nimport vunit_run\n"
              "vu = vunit_run.make_vunit(['-p', %r], output_path=Path(%r))\n"
              "vunit_run.quiet_warnings(vu)\n" % (str(ROOT), str(jobs), str(work / "vunit")))
    for r in rows:
        script += "vunit_run.add_network(vu, %r, Path(%r))\n" % (r["name"], str(r["out"]))
    script += "vu.main()\n"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    passed = set(re.findall(r"^pass .*?lib_(\w+)\.(tb_\w+)\.(\w+)", p.stdout, re.M))
    return passed, seconds


def markdown(data: dict) -> str:
    meta = data["meta"]
    ok = sum(r["bit_exact_and_on_time"] for r in data["rows"])
    lines = [f"Measured by `python bench/bench_fold_matrix.py` on {meta['machine']} (load "
             f"{meta['load_before']} before, {meta['load_after']} after, {meta['seconds']} s "
             f"for all benches): {ok} of {len(data['rows'])} designs bit-exact through the top "
             f"level and the AXI4-Stream wrapper, every interval as predicted.", "",
             "| design | network | SIMD asked / used | PE asked | lanes | passes | variant "
             "| in flight | latency | interval | top | AXI4-Stream | weights |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | --- | --- | --- |"]
    for r in data["rows"]:
        mark = {True: "pass", False: "FAIL"}
        lines.append(
            f"| {r['name']} | {'-'.join(map(str, r['topology']))} | {r['simd']} / "
            f"{r['simd_used']} | {r['pe']} | {','.join(map(str, r['lanes']))} | "
            f"{','.join(map(str, r['passes']))} | {r['variant']} | "
            f"{'yes' if r['in_flight'] else 'no'} | {r['latency']} | {r['interval']} | "
            f"{mark[r['top']]} | {mark[r['axis']]} | {mark[r['weights']]} |")
    return "\n".join(lines)


def write_markdown(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else "# Folding\n"
    if BEGIN not in old:
        old += ("\n## The fold matrix\n\nSIMD x PE over shapes they do not divide, with the "
                f"quantization variants (bench/bench_fold_matrix.py).\n\n{BEGIN}\n{END}\n")
    a, b = old.index(BEGIN) + len(BEGIN), old.index(END)
    path.write_text(old[:a] + "\n" + text + "\n" + old[b:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "fold_matrix.json")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "fold.md")
    p.add_argument("-p", type=int, default=2, help="parallel GHDL runs (default 2)")
    args = p.parse_args(argv)
    meta = {"machine": f"{platform.machine()}, Python {platform.python_version()}",
            "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="bram_mlp_fold_matrix_") as tmp:
        work = Path(tmp)
        rows = []
        for d in designs():
            rows.append(generate(d, work))
            print(f"generated {d['name']}: {'-'.join(map(str, d['topology']))} SIMD "
                  f"{d['simd']} PE {d['pe']} {d['variant']}", flush=True)
        print(f"running the benches of {len(rows)} designs ...", flush=True)
        passed, seconds = run_benches(rows, work, args.p)
    for r in rows:
        n = r.pop("out") and r["name"]
        r["top"] = (n, f"tb_{n}", "test_all_vectors") in passed
        r["axis"] = (n, f"tb_{n}_axis", "test_back_to_back") in passed
        r["weights"] = (n, f"tb_{n}_weights", "test_l0_rom_read") in passed
        r["bit_exact_and_on_time"] = r["top"] and r["axis"]
    meta.update(load_after=round(os.getloadavg()[0], 2), seconds=round(seconds, 1))
    data = {"meta": meta, "rows": rows}
    args.json.write_text(json.dumps(data, indent=2) + "\n")
    text = markdown(data)
    print(text)
    write_markdown(args.markdown, text)
    ok = sum(r["bit_exact_and_on_time"] for r in rows)
    print(f"{ok} of {len(rows)} designs bit-exact at their intervals; wrote {args.json}, "
          f"{args.markdown}")
    return 0 if ok == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
