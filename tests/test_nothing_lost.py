"""Nothing of the user's is lost, round 2 (issue 23): every command writes through
output_files.py, no output is an input of the same run, every folder is judged by its own
ledger, estimate.json / report.json / waveform layouts / VUnit's -o and -x keep the promise,
and the trainer refuses bad output paths before training.

Each refusal is checked as in test_bad_inputs: exit 2, one `error:` line naming the path,
no traceback, and the whole tree byte-identical before and after."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from test_bad_inputs import (GENERATOR, PROJECT, project_design,  # noqa: F401 (a fixture)
                             refused, run_generator, run_vunit, small_net, tree_state)

sys.path.insert(0, str(PROJECT))
LEDGER = ".bram-mlp-files.json"      # LEDGER (not imported: the tests run
                                     # against code without the module too)

TRAINER = PROJECT / "trainer.py"
ESTIMATE = PROJECT / "estimate.py"


def run(script: Path, *args, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *map(str, args)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def good_model(tmp_path) -> Path:
    path = tmp_path / "good.npz"
    np.savez(path, **small_net(np.random.default_rng(42)))
    return path


@pytest.fixture
def inputs(tmp_path) -> Path:
    path = tmp_path / "X.npy"
    np.save(path, np.random.default_rng(1).integers(0, 256, (3, 5), dtype=np.uint8))
    return path


# --------------------------------------------------------------------------- 1: one module
# Every call that creates or replaces a file, outside output_files.py, must be one of these:
# the tool's own scratch and build places (temporary folders, vunit_out/, the generated
# requantizer vectors), never a path a user names or owns.
WRITERS = {"write_text", "write_bytes", "savez", "save", "savetxt", "copyfile", "copy",
           "copy2", "replace", "rename", "rmtree", "unlink", "remove", "mkstemp"}
ALLOWED = {
    ("vunit_run.py", "write_requantizer_vectors", "savetxt"),   # hdl/generated/, ours
    ("vunit_run.py", "model_mode", "rmtree"),                   # its own temporary design
    ("vunit_run.py", "simulate_generated", "rmtree"),           # its own temporary folder
    ("vunit_run.py", "simulate_generated", "savetxt"),          # inputs in that folder
    ("labs.py", "run_lab", "write_text"),                       # vunit_out/labs/.../vunit.log
    ("estimate.py", "without_vivado_attributes", "write_text"), # a temporary work folder
    ("estimate.py", "run_yosys", "write_text"),
    ("vhdl_generator.py", "render_design", "savez"),            # into memory (BytesIO)
}
MODULES = ["vhdl_generator.py", "vunit_run.py", "estimate.py", "labs.py", "trainer.py",
           "model_files.py", "mnist_data.py", "quantization_functions.py", "examples.py",
           "vunit_console.py", "fpga_parts.py"]


def is_writer(call: ast.Call) -> str | None:
    """The name of a call that writes or deletes a file, else None. str.replace (two
    arguments) and ndarray.copy (no receiver module) are not writers; Path.replace/rename
    (one argument) and os.replace/rename (module os) are."""
    f = call.func
    called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    receiver = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
    if called in ("replace", "rename"):
        path_method = len(call.args) == 1 and receiver != "dataclasses"
        return called if receiver == "os" or path_method else None
    if called in ("copy", "copy2", "copyfile", "rmtree"):
        return called if receiver == "shutil" else None
    return called if called in WRITERS else None


def writing_calls(path: Path) -> list[tuple[str, str, str, int]]:
    """(file, enclosing function, call name, line) of every writing call, outside the
    lambdas handed to output_files.write_file as the content writer."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, func: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Lambda):
                continue
            name = func
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name if func == "<module>" else func
            if isinstance(child, ast.Call) and is_writer(child):
                found.append((path.name, name, is_writer(child), child.lineno))
            visit(child, name)
    visit(tree, "<module>")
    return found


def test_only_output_files_writes_what_a_user_sees():
    """1: outside output_files.py, nothing creates, replaces or deletes a file except in the
    tool's own scratch places (the list above, each one read and justified)."""
    assert (PROJECT / "output_files.py").is_file()
    stray = [c for m in MODULES for c in writing_calls(PROJECT / m)
             if c[:3] not in ALLOWED]
    assert not stray, "writes outside output_files.py: " + ", ".join(
        f"{f}:{line} {func}() {call}" for f, func, call, line in stray)


def test_output_files_imports_nothing_of_the_project():
    tree = ast.parse((PROJECT / "output_files.py").read_text())
    own = {p.stem for p in PROJECT.glob("*.py")}
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names} | {n.module.split(".")[0] for n in ast.walk(tree)
                                     if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & own


# --------------------------------------------------------------------------- 2: inputs
@pytest.mark.parametrize("which", ["model", "symlink to the model", "hard link to the model",
                                   "calibration", "inputs"])
def test_results_never_replace_an_input(good_model, tmp_path, which):
    """2: --results naming the model (directly, through a link, a hard link), the
    --calibration or the --inputs .npz: refused before any work, every file kept."""
    X = tmp_path / "X.npz"
    np.savez(X, np.random.default_rng(1).integers(0, 256, (3, 5), dtype=np.uint8))
    cal = tmp_path / "cal.npz"
    np.savez(cal, np.random.default_rng(2).integers(0, 256, (4, 5), dtype=np.uint8))
    results = {"model": good_model, "calibration": cal, "inputs": X}.get(which)
    if which.startswith("symlink"):
        results = tmp_path / "link.npz"
        results.symlink_to(good_model)
    elif which.startswith("hard"):
        results = tmp_path / "hard.npz"
        os.link(good_model, results)
    before = tree_state(tmp_path)
    res = run_vunit("--model", good_model, "--inputs", X, "--calibration", cal,
                    "--results", results)
    line = refused(res, str(results))
    assert "input" in line
    assert tree_state(tmp_path) == before


def test_results_never_replace_a_file_bram_mlp_did_not_write(good_model, inputs, tmp_path):
    """2: an existing R.npz that is not an earlier results file of ours is kept."""
    results = tmp_path / "R.npz"
    np.savez(results, mine=np.arange(3))
    before = tree_state(tmp_path)
    refused(run_vunit("--model", good_model, "--inputs", inputs, "--results", results),
            str(results), "did not write")
    assert tree_state(tmp_path) == before


def test_xunit_report_never_replaces_an_input(good_model, tmp_path):
    """2 and 6: -x naming the model is refused before any work."""
    X = tmp_path / "X.npy"
    np.save(X, np.zeros((2, 5), dtype=np.uint8))
    before = tree_state(tmp_path)
    refused(run_vunit("--model", good_model, "--inputs", X, "--results", tmp_path / "R.npz",
                      "-x", good_model), str(good_model))
    assert tree_state(tmp_path) == before


# --------------------------------------------------------------------------- 3: coe/<name>/
def generate_in_project(model: Path, name: str) -> subprocess.CompletedProcess:
    return run(GENERATOR, model, "--name", name)


@pytest.mark.parametrize("change", ["edited weights coe", "user's input coe"])
def test_coe_folder_is_judged_by_its_own_ledger(good_model, tmp_path, project_design, change):
    """3: without --out, hdl/generated/<name>/ deleted, coe/<name>/ holding a hand-edited
    <name>_l0_weights.coe or a user's <name>_input_9999.coe: refused, every file kept."""
    name, (hdl_dir, coe_dir) = project_design
    assert generate_in_project(good_model, name).returncode == 0
    shutil.rmtree(hdl_dir)
    if change == "edited weights coe":
        f = coe_dir / f"{name}_l0_weights.coe"
        f.write_text(f.read_text().replace("memory_initialization_radix=16;",
                                           "memory_initialization_radix=16; ; my fix"))
    else:
        f = coe_dir / f"{name}_input_9999.coe"
        f.write_text("memory_initialization_radix=16;\nmemory_initialization_vector=\n00;\n")
    before = tree_state(tmp_path, coe_dir)
    refused(generate_in_project(good_model, name), str(coe_dir), f.name)
    assert tree_state(tmp_path, coe_dir) == before
    assert not hdl_dir.exists()


def test_coe_folder_of_ours_is_replaced_without_the_design_folder(good_model, project_design):
    """3, control: coe/<name>/ as the generator left it is replaced, hdl/generated/<name>/
    gone or not."""
    name, (hdl_dir, coe_dir) = project_design
    assert generate_in_project(good_model, name).returncode == 0
    shutil.rmtree(hdl_dir)
    res = generate_in_project(good_model, name)
    assert res.returncode == 0, res.stderr
    assert (coe_dir / f"{name}_l0_weights.coe").is_file() and (coe_dir / LEDGER).is_file()


# --------------------------------------------------------------------------- 4: estimate, report
@pytest.fixture
def design(good_model, tmp_path) -> Path:
    out = tmp_path / "design"
    res = run_generator(good_model, out)
    assert res.returncode == 0, res.stderr
    return out


def test_estimate_keeps_a_users_estimate_json(design, tmp_path):
    """4: estimate.py DIR with the user's own estimate.json there (the generator refuses to
    replace it too): refused before any synthesis, the file kept."""
    mine = design / "estimate.json"
    mine.write_text(json.dumps({"tool": "bram-mlp 0.1.0", "LUT": 1, "mine": True}) + "\n")
    before = tree_state(tmp_path)
    refused(run(ESTIMATE, design), "estimate.json")
    assert tree_state(tmp_path) == before


def test_estimate_json_saying_bram_mlp_is_not_enough(good_model, design, tmp_path):
    """4: an estimate.json that says "tool": "bram-mlp..." but is not in the folder's ledger
    is the user's: the generator refuses to delete it."""
    (design / "estimate.json").write_text(json.dumps({"tool": "bram-mlp 0.1.0"}) + "\n")
    before = tree_state(tmp_path)
    refused(run_generator(good_model, design), "estimate.json")
    assert tree_state(tmp_path) == before


def test_edited_report_json_is_kept(good_model, design, tmp_path):
    """4: report.json edited by the user is covered by the ledger: refused, named changed."""
    report = design / "report.json"
    report.write_text(report.read_text().replace('"topology"', '"my_note": "v2",\n  "topology"'))
    before = tree_state(tmp_path)
    line = refused(run_generator(good_model, design), "report.json")
    assert "changed" in line
    assert tree_state(tmp_path) == before


def test_output_of_the_previous_version_is_still_replaced(good_model, design, tmp_path):
    """A folder the previous version wrote (report.json's manifest, no ledger) is judged by
    that manifest: replaced when unchanged, refused with a user's file in it."""
    (design / LEDGER).unlink()
    (design / "notes.txt").write_text("mine\n")
    before = tree_state(tmp_path)
    refused(run_generator(good_model, design), "notes.txt")
    assert tree_state(tmp_path) == before
    (design / "notes.txt").unlink()
    res = run_generator(good_model, design)
    assert res.returncode == 0, res.stderr
    assert (design / LEDGER).is_file()


# --------------------------------------------------------------------------- 5: waveforms
def fake_outcome(tmp_path: Path, lab) -> dict:
    """A grading outcome whose test wrote a small VCD, as GHDL does (no simulation)."""
    test_dir = tmp_path / "vunit_test"
    (test_dir / "ghdl").mkdir(parents=True)
    (test_dir / "ghdl" / "wave.vcd").write_text(
        "$scope module tb $end\n$var reg 1 ! clk $end\n$upscope $end\n$enddefinitions $end\n"
        "#0\n0!\n#5\n1!\n")
    return {lab.wave_test: ("passed", test_dir)}


@pytest.mark.parametrize("where", ["labs/work", "a --lab-dir submission"])
def test_saved_waveform_layout_is_kept(tmp_path, where):
    """5: --wave writes labN/waves/<test>.vcd and .gtkw; a .gtkw the student saved from
    GTKWave since is kept (and said so); the one untouched is rewritten."""
    import labs
    lab = labs.get_lab(1)
    waves = tmp_path / where.split()[0] / lab.name / "waves"
    outcome = fake_outcome(tmp_path, lab)
    said: list[str] = []
    labs.write_waves(lab, outcome, waves, said.append)
    gtkw = waves / f"{lab.wave_test}.gtkw"
    assert gtkw.is_file() and (waves / f"{lab.wave_test}.vcd").is_file()
    saved = gtkw.read_text() + "@22\ntb.my_own_signal[7:0]\n"
    gtkw.write_text(saved)
    said.clear()
    labs.write_waves(lab, outcome, waves, said.append)
    assert gtkw.read_text() == saved
    assert "kept" in " ".join(said)


# --------------------------------------------------------------------------- 6: VUnit -o, -x
def test_vunit_clean_keeps_user_files_in_the_output_folder(tmp_path):
    """6: -o DIR --clean with DIR/notes.txt: refused before anything runs, notes kept."""
    out = tmp_path / "sim"
    (out / "test_output").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes\n")
    before = tree_state(tmp_path)
    refused(run_vunit("-o", out, "--clean"), str(out), "notes.txt", "--clean")
    assert tree_state(tmp_path) == before


def test_vunit_xunit_keeps_a_file_that_is_no_xunit_report(tmp_path):
    """6: -x user/report.xml over the user's own XML: refused before anything runs."""
    xml = tmp_path / "user" / "report.xml"
    xml.parent.mkdir()
    xml.write_text("<thesis><chapter>1</chapter></thesis>\n")
    before = tree_state(tmp_path)
    refused(run_vunit("-x", xml, "-o", tmp_path / "sim"), str(xml))
    assert tree_state(tmp_path) == before


def test_an_xunit_report_is_recognised(tmp_path):
    """6, control: an earlier xunit report may be replaced; other XML, text, or a missing
    file is not one."""
    import vunit_run
    cases = {"r.xml": '<?xml version="1.0"?>\n<testsuite name="x" tests="0"></testsuite>\n',
             "s.xml": "<testsuites></testsuites>\n", "t.xml": "<thesis/>\n", "u.xml": "plain"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
    assert [vunit_run.is_xunit_report(tmp_path / n) for n in cases] == [True, True, False, False]
    assert not vunit_run.is_xunit_report(tmp_path / "missing.xml")


# --------------------------------------------------------------------------- 10: trainer paths
@pytest.mark.parametrize("case", ["--out FILE", "--out FILE/sub", "--export-test FILE",
                                  "long name"])
def test_trainer_refuses_bad_output_paths_before_training(tmp_path, case):
    """10: one error line, exit 2, nothing written (the model is not written first)."""
    f = tmp_path / "file.txt"
    f.write_text("mine\n")
    out = {"--out FILE": f, "--out FILE/sub": f / "sub"}.get(case, tmp_path / "models")
    args = ["--network", "1", "--data", "digits", "--iterations", "1", "--out", out]
    if case == "--export-test FILE":
        args += ["--export-test", f]
    if case == "long name":
        args += ["--export-test", tmp_path / ("x" * 300)]
    before = tree_state(tmp_path)
    named = {"long name": "x" * 300}.get(case, str(f))
    refused(run(TRAINER, *args), named)
    assert tree_state(tmp_path) == before


def test_trainer_keeps_a_model_file_it_did_not_write(tmp_path):
    """1: models/digits_1.npz of the user's (not in the folder's ledger) is kept; the
    trainer's own earlier model is replaced."""
    models = tmp_path / "models"
    models.mkdir()
    mine = models / "digits_1.npz"
    np.savez(mine, W0=np.ones((1, 64)))
    before = tree_state(tmp_path)
    args = ["--network", "1", "--data", "digits", "--iterations", "1", "--out", models]
    refused(run(TRAINER, *args), str(mine))
    assert tree_state(tmp_path) == before
    mine.unlink()
    for _ in range(2):
        res = run(TRAINER, *args)
        assert res.returncode == 0, res.stderr
    assert mine.is_file()


# --------------------------------------------------------------------------- 8: dead neurons
def dead_neuron_model(path: Path) -> Path:
    """64 -> 16 -> 4 with three hidden neurons whose weights are about 1e-12 (as the
    trainer's 256+10 on the digits makes them) and ordinary biases."""
    rng = np.random.default_rng(11)
    arrays = small_net(rng, (64, 16, 4))
    arrays["W0"][[2, 7, 9]] = rng.normal(0, 1e-12, (3, 64))
    arrays["b0"][[2, 7, 9]] = [0.05, -0.02, 0.01]
    np.savez(path, **arrays, calibration=rng.integers(0, 256, (64, 64), dtype=np.uint8))
    return path


def test_per_neuron_scale_takes_dead_neurons(tmp_path):
    """8: with --per-neuron-scale a (near-)dead neuron's step is floored at the layer's / 2^8:
    the design generates (was: "the accumulator needs 52 bits"), report.json counts the
    floored neurons and states the rule, and the accumulator stays as narrow as without the
    option."""
    import quantization_functions as qf
    model = dead_neuron_model(tmp_path / "dead.npz")
    res = run_generator(model, tmp_path / "pn", "--per-neuron-scale")
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "pn" / "report.json").read_text())
    assert report["layers"][0]["floored_neurons"] == 3
    assert report["layers"][1]["floored_neurons"] == 0
    assert "2^8" in report["per_neuron_scale_rule"]
    plain = run_generator(model, tmp_path / "pl")
    assert plain.returncode == 0, plain.stderr
    plain_bits = json.loads((tmp_path / "pl" / "report.json").read_text())["layers"][0]["acc_bits"]
    assert report["layers"][0]["acc_bits"] <= plain_bits + 8
    with np.load(tmp_path / "pn" / "quantized.npz") as q, np.load(model) as m:
        sw = q["sw0"]
        layer_sw = np.abs(m["W0"]).max() / 127
        assert np.allclose(sw[[2, 7, 9]], layer_sw / 2 ** 8)     # the floor
        live = [j for j in range(16) if j not in (2, 7, 9)]
        assert np.allclose(sw[live], np.abs(m["W0"][live]).max(axis=1) / 127)
    assert qf.PER_NEURON_FLOOR == 2.0 ** -8


def test_trainers_256_10_generates_with_per_neuron_scale_bit_exact(tmp_path):
    """8: the trainer's own 256+10 on the digits (three dead hidden neurons) goes through
    --per-neuron-scale and simulates bit-exact in GHDL."""
    res = run(TRAINER, "--network", "256+10", "--data", "digits", "--out", tmp_path / "m",
              "--export-test", tmp_path / "t", timeout=300)
    assert res.returncode == 0, res.stderr
    model = tmp_path / "m" / "digits_256_10.npz"
    X = np.load(tmp_path / "t" / "X.npy")[:12]
    np.save(tmp_path / "X12.npy", X)
    res = run_vunit("--model", model, "--inputs", tmp_path / "X12.npy", "--results",
                    tmp_path / "R.npz", "--per-neuron-scale", "--out", tmp_path / "d",
                    timeout=600)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "equal to the integer reference model: yes" in res.stdout
    report = json.loads((tmp_path / "d" / "report.json").read_text())
    assert report["per_neuron_scale"] and report["layers"][0]["floored_neurons"] >= 1


# --------------------------------------------------------------------------- 9: clipping
def test_clipping_weights_warn_with_the_frac_bits_that_fit(tmp_path):
    """9: --encoding fixed --frac-bits 12 with weights up to about 2: most of them saturate
    at the 8-bit rails (127 / 4096 = 0.031). One warning line naming the layer, the share and
    the --frac-bits that fits; report.json counts the share per layer."""
    rng = np.random.default_rng(3)
    W0 = rng.normal(0, 0.5, (10, 64))
    W0.flat[0] = 2.0
    np.savez(tmp_path / "m.npz", W0=W0, b0=np.zeros(10))
    out = tmp_path / "fx"
    res = run_generator(tmp_path / "m.npz", out, "--encoding", "fixed", "--frac-bits", "12")
    assert res.returncode == 0, res.stderr
    warnings = [l for l in (res.stdout + res.stderr).splitlines() if l.startswith("warning:")]
    assert len(warnings) == 1, res.stdout + res.stderr
    share = float(np.mean(np.abs(np.round(W0 * 4096)) > 127))
    assert share > 0.9
    report = json.loads((out / "report.json").read_text())
    assert report["layers"][0]["clipped_weight_share"] == pytest.approx(share, abs=1e-6)
    # 2.0 x 2^f <= 127.5: f = 5 fits (64), 6 does not (128)
    assert f"layer 0 {100 * share:.1f}%" in warnings[0] and "--frac-bits 5 fits" in warnings[0]
    # a fit gives no warning, and 1% is the line
    res = run_generator(tmp_path / "m.npz", tmp_path / "fx5", "--encoding", "fixed",
                        "--frac-bits", "5")
    assert "warning:" not in res.stdout + res.stderr
    assert json.loads((tmp_path / "fx5" / "report.json").read_text())["layers"][0][
        "clipped_weight_share"] == 0


# --------------------------------------------------------------------------- 10: one line
def test_weights_too_small_for_a_float64_step_are_one_line(tmp_path):
    """10: 1e-320 weights: one error line naming the model and the cause (not numpy's
    RuntimeWarning lines and "reach nan")."""
    np.savez(tmp_path / "tiny.npz", W0=np.full((2, 5), 1e-320), b0=np.zeros(2))
    before = tree_state(tmp_path)
    res = run_generator(tmp_path / "tiny.npz", tmp_path / "o")
    line = refused(res, "tiny.npz", "too small")
    assert "nan" not in line and "RuntimeWarning" not in res.stdout + res.stderr
    assert tree_state(tmp_path) == before


def test_unknown_option_in_model_mode_is_one_line_before_any_work(good_model, inputs,
                                                                 tmp_path):
    """10: vunit_run.py --model ... --bogus: one error line, nothing generated (was: the
    design generated first, then VUnit's usage block)."""
    before = tree_state(tmp_path)
    res = run_vunit("--model", good_model, "--inputs", inputs, "--results", tmp_path / "R.npz",
                    "--out", tmp_path / "d", "--bogus")
    refused(res, "--bogus")
    assert "generating" not in res.stdout
    assert tree_state(tmp_path) == before


def test_a_long_name_in_any_path_option_is_one_line(good_model, tmp_path):
    """10: a path component over 255 bytes, as the model, --out or --results."""
    long = tmp_path / ("m" * 300 + ".npz")
    before = tree_state(tmp_path)
    refused(run_generator(long, tmp_path / "o"), "m" * 300)
    refused(run_generator(good_model, tmp_path / ("o" * 300)), "o" * 300)
    refused(run_vunit("--model", good_model, "--inputs", good_model, "--results", long),
            "m" * 300)
    assert tree_state(tmp_path) == before


# --------------------------------------------------------------------------- 11: grid rule
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_one_grid_rule_for_every_float_type(dtype):
    """11: 0.3 of a code step off the grid is refused for every float type (float16 was
    accepted: its tolerance grew to a whole step); pixels / 255 in the type, by division or
    by multiplication with 1/255 computed in the type, are accepted and give the pixels."""
    from model_files import InputError, check_input_codes
    pixels = np.arange(256)[None, :]
    assert check_input_codes((pixels / 255).astype(dtype), 256, 8, "X").tolist() == pixels.tolist()
    by_mul = pixels.astype(dtype) * dtype(1 / 255)
    assert check_input_codes(by_mul, 256, 8, "X").tolist() == pixels.tolist()
    for code in (3, 100, 200, 254):
        off = np.full((1, 4), (code + 0.3) / 255).astype(dtype)
        with pytest.raises(InputError, match="off the code grid"):
            check_input_codes(off, 4, 8, "X")


def test_a_float_type_too_coarse_for_the_codes_is_refused():
    """11: float16 cannot tell 16-bit codes x scale apart: refused with the reason."""
    from model_files import InputError, check_input_codes
    with pytest.raises(InputError, match="float16 cannot hold 16-bit"):
        check_input_codes(np.zeros((1, 4), np.float16), 4, 16, "X", 1 / 65535)


# --------------------------------------------------------------------------- 12: messages
def test_collapse_warning_does_not_recommend_per_neuron_scale_for_the_last_layer(tmp_path):
    """12: only the last layer collapses (3-bit weights, one large weight): the advice is
    more --weight-bits, not --per-neuron-scale, which the last layer does not take."""
    rng = np.random.default_rng(6)
    arrays = small_net(rng, (40, 8, 30))
    arrays["W1"].flat[0] = 100.0
    np.savez(tmp_path / "m.npz", **arrays)
    res = run_generator(tmp_path / "m.npz", tmp_path / "o", "--weight-bits", "3")
    warnings = [l for l in res.stdout.splitlines() if "quantize to 0" in l]
    assert len(warnings) == 1 and "layer 1" in warnings[0] and "layer 0" not in warnings[0]
    assert "--per-neuron-scale" not in warnings[0] and "--weight-bits" in warnings[0]


def test_calibration_in_the_model_quotes_the_designs_range(tmp_path):
    """12: an 8-bit design whose model carries calibration codes of 70000 is told 0..255
    (was 0..65535, the reader's 16-bit range)."""
    arrays = small_net(np.random.default_rng(1))
    np.savez(tmp_path / "m.npz", **arrays, calibration=np.full((4, 5), 70000))
    line = refused(run_generator(tmp_path / "m.npz", tmp_path / "o"), "m.npz", "calibration")
    assert "0..255" in line and "65535" not in line


def test_quantization_errors_name_the_model_file(tmp_path):
    """12: a bias that needs more than 48 bits: the error names the model file."""
    arrays = small_net(np.random.default_rng(1))
    arrays["b0"][0] = 1e12
    np.savez(tmp_path / "huge_bias.npz", **arrays)
    refused(run_generator(tmp_path / "huge_bias.npz", tmp_path / "o"), "huge_bias.npz", "bias")


def test_help_texts_are_right():
    """12: vunit_run.py --help does not send --calibration to an option it lacks
    (--vectors); trainer.py --help explains --seed and what --out writes."""
    v = run(PROJECT / "vunit_run.py", "--help").stdout
    cal = v[v.index("  --calibration"):v.index("  --name")]
    assert "--vectors" not in cal and "input_scale" in cal
    t = run(TRAINER, "--help").stdout
    seed = t[t.index("  --seed"):t.index("  --out")]
    assert "same model" in seed
    out = t[t.index("  --out"):]
    assert ".npz" in out and "digits_10.npz" in out


def test_vunit_output_folder_never_holds_the_design_simulated(good_model, inputs, tmp_path):
    """2 and 6: vunit_run.py --design D ... -o PARENT --clean, PARENT holding D: refused
    (--clean would delete the design being simulated)."""
    design = tmp_path / "work" / "design"
    assert run_generator(good_model, design).returncode == 0
    before = tree_state(tmp_path)
    refused(run_vunit("--design", design, "--inputs", inputs, "--results", tmp_path / "R.npz",
                      "-o", tmp_path / "work", "--clean"), str(design))
    assert tree_state(tmp_path) == before
