"""The house has one way through (issue 13): the project's modules import each other without
a circle, the library modules never import the entry scripts a user runs, and one hardware
plan is what the report and the templates read.

The imports are read from the source (ast), every `import` and `from ... import` anywhere
in a module, functions included: an import inside a function is an edge too."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# what a user runs; everything else is a library module below them
ENTRY_SCRIPTS = {"vhdl_generator", "vunit_run", "trainer"}


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    return {p.stem: p for p in sorted(root.glob("*.py"))}


def import_edges(root: Path = ROOT) -> set[tuple[str, str]]:
    """(importer, imported) for every import of a project module by a project module."""
    mods = project_modules(root)
    edges = set()
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module.split(".")[0]]
            else:
                continue
            edges |= {(name, t) for t in targets if t in mods and t != name}
    return edges


def find_circle(edges: set[tuple[str, str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (depth-first search)."""
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}     # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circle():
    edges = import_edges()
    circle = find_circle(edges)
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_library_modules_never_import_an_entry_script():
    wrong = sorted((a, b) for a, b in import_edges()
                   if b in ENTRY_SCRIPTS and a not in ENTRY_SCRIPTS)
    assert not wrong, f"library modules importing an entry script: {wrong}"


def test_the_circle_finder_finds_circles(tmp_path):
    """The check can fail: three modules importing around a circle, and one importing
    inside a function, are found."""
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("from c import x\n")
    (tmp_path / "c.py").write_text("def f():\n    import a\n")
    (tmp_path / "d.py").write_text("import a\n")
    circle = find_circle(import_edges(tmp_path))
    assert circle is not None and set(circle) == {"a", "b", "c"}
    (tmp_path / "c.py").write_text("x = 1\n")
    assert find_circle(import_edges(tmp_path)) is None


# --------------------------------------------------------------------------- one plan
def test_report_and_templates_read_one_plan(tmp_path, monkeypatch):
    """generate() makes the hardware plan once; report.json and the layer VHDL follow it.
    A plan changed on its way (the DSP split of layer 0) shows up in both, so neither
    computes its own."""
    import generator
    import hardware_plan
    from examples import random_float_model
    calls = []
    real = hardware_plan.plan_design

    def altered(q, part, budget, per_rom, pe=None, in_flight=False, simd=None,
                dsp_pairs=False):
        plan = real(q, part, budget, per_rom, pe, in_flight, simd, dsp_pairs)
        plan.layers[0].dsp_lanes = plan.layers[0].dsp_macs = plan.layers[0].dsp_blocks = 2
        plan.layers[0].lut_macs = plan.layers[0].n_out - 2
        calls.append(plan)
        return plan

    monkeypatch.setattr(generator, "plan_design", altered)
    g = generator.generate(random_float_model([6, 5, 3], 1), out=tmp_path / "d", name="p",
                           vectors=generator.default_vectors(6, 8, 3), log=lambda *_: None)
    assert len(calls) == 1
    assert g.report["layers"][0]["dsp_macs"] == 2 and g.report["layers"][0]["lut_macs"] == 3
    assert (tmp_path / "d" / "p_l0_lut_mults.vhd").is_file()
    assert re.search(r"constant N_DSP_c\s*: natural\s*:= 2;",
                     (tmp_path / "d" / "p_l0_pkg.vhd").read_text())
    assert "(2 of 5) multiply in DSP blocks" in (tmp_path / "d" / "p_l0_layer.vhd").read_text()


def test_plan_figures_follow_the_documented_rules():
    """The plan's numbers, worked out by hand for 784 -> 256 -> 10 int8 at the defaults
    (DSP budget 165, one ROM per layer): latency (1+784+2+6) + (256+13+6) + 11 = 1079 (layer
    0's start register, inputs, read latency: the input buffer's RAM and output register, the
    hidden layer's read port;
    6 multiply-accumulate stages per layer; the argmax's copy, then one logit per clock), a
    1024 x 2048-bit ROM needs ceil(2048/18) = 114 RAMB18, a 256 x 80-bit one ceil(80/36) = 3;
    DSP blocks: 165 multiply-accumulates + 2 for the hidden layer's requantizer (max(acc, 0)
    in two 16-bit parts, each times M) = 167."""
    import hardware_plan as hp
    import quantization_functions as qf
    q = qf.QuantizedModel(input_bits=8, weight_bits=8, act_bits=8, encoding="integer",
                          W=[np.ones((256, 784), np.int64), np.ones((10, 256), np.int64)],
                          b=[np.zeros(256, np.int64), np.zeros(10, np.int64)],
                          M=[np.ones(256, np.int64)], S=[np.zeros(256, np.int64)])
    plan = hp.plan_design(q, "xc7z020", 165, None)
    assert plan.latency_cycles == 1079 and plan.ideal_cycles == 1040
    assert [x.ramb18 for x in plan.layers] == [114, 3]
    assert [(x.dsp_macs, x.lut_macs) for x in plan.layers] == [(165, 91), (0, 10)]
    assert [x.cycles for x in plan.layers] == [793, 275]
    assert plan.axis_period_cycles == 1080
    assert plan.capacity["needs"]["DSP48E1"] == 167


def test_rom_block_rams_take_the_cheaper_primitive():
    """A 4096 x 512-bit ROM (784->256 folded into 64 lanes: 4 passes x 784 words) takes 57
    RAMB36 (4096 x 9 each) = 114 RAMB18-equivalents, not 128 RAMB18 (4096 x 4 each): the
    Yosys estimate of that design maps 118 in all (114 + 3 for layer 1 + 1 input buffer,
    README). Shapes where both take the same stay as they were: 1024 x 2048 bits 114."""
    import hardware_plan as hp
    assert hp.ramb18_per_rom(4096, 512) == 114
    assert hp.ramb18_per_rom(1024, 2048) == 114 and hp.ramb18_per_rom(256, 80) == 3


def test_wide_rom_is_read_in_slices_of_about_8_block_rams():
    """Worked by hand from the block RAM shapes: a 1024 x 2048-bit ROM of int8 weights (784
    -> 256 unfolded) is read as slices of 18 weights (144 bits = 8 x 18, eight RAMB18 of
    1024 x 18), 15 slices of which the last holds 256 - 14 x 18 = 4 weights (32 bits, 2
    RAMB18): 14 x 8 + 2 = 114 block RAMs, as many as the one ROM; one address copy per
    slice. A 512 x 320-bit ROM (40 int8 neurons, 5 inputs): slices of 36 weights (288 bits
    = 8 x 36). A ROM of 8 block RAMs or fewer is one slice: 256 x 80 bits, 10 weights."""
    import hardware_plan as hp
    assert hp.rom_slice(1024, 2048, 8) == 18 and hp.rom_group(1024, 18 * 8) == 1
    assert 14 * hp.ramb18_per_rom(1024, 18 * 8) + hp.ramb18_per_rom(1024, 4 * 8) == 114
    assert hp.rom_slice(8, 320, 8) == 36 and hp.rom_group(8, 36 * 8) == 1
    assert hp.rom_slice(256, 80, 8) == 10 and hp.rom_group(256, 10 * 8) == 2
