"""The teaching labs: the reference passes every check, the untouched exercise fails them
with hints, a student's file is never overwritten, waveforms and their PNG are written."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import labs  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)


def table(stdout: str) -> dict[str, str]:
    """check name -> pass / FAIL / not run, from the grading table."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(r"(tb_\w+\.test_\w+)\s+(pass|FAIL|not run)\b", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


@pytest.mark.parametrize("lab", sorted(labs.LABS))
def test_reference_passes_every_check(lab):
    r = run("vunit_run.py", "--lab", str(lab), "--reference", "-p", "2")
    rows = table(r.stdout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    assert rows == {check: "pass" for check in labs.LABS[lab].hints}
    n = len(labs.LABS[lab].hints)
    assert f"{n} of {n} checks pass" in r.stdout


@pytest.mark.parametrize("lab", sorted(labs.LABS))
def test_untouched_exercise_fails_with_hints(lab, tmp_path):
    w = run("vhdl_generator.py", "--exercise", str(lab), "--out", str(tmp_path))
    assert w.returncode == 0, w.stderr
    piece = tmp_path / f"lab{lab}" / f"{labs.LABS[lab].piece}.vhd"
    assert "TODO (lab" in piece.read_text()
    r = run("vunit_run.py", "--lab", str(lab), "--lab-dir", str(tmp_path), "-p", "2")
    rows = table(r.stdout)
    assert r.returncode == 1
    assert set(rows) == set(labs.LABS[lab].hints)        # every check ran
    failed = [c for c, s in rows.items() if s == "FAIL"]
    assert failed, r.stdout[-3000:]
    network_check = list(labs.LABS[lab].hints)[-1]       # the whole-network bench
    assert rows[network_check] == "FAIL"
    for check in failed:                                 # each failure carries its hint
        assert labs.LABS[lab].hints[check][:40] in r.stdout
    assert "bench:" in r.stdout                          # and what the bench said


def test_a_common_mistake_gets_its_own_hint(tmp_path):
    """Lab 1 with the pixel sign-extended (255 read as -1): the unsigned-pixel check fails
    with its hint, the bias check still passes."""
    ref = (ROOT / "hdl" / "neuron_mac.vhd").read_text()
    wrong = ref.replace("signed('0' & x)", "resize(signed(x), X_BITS + 1)")
    assert wrong != ref
    (tmp_path / "lab1").mkdir()
    (tmp_path / "lab1" / "neuron_mac.vhd").write_text(wrong)
    r = run("vunit_run.py", "--lab", "1", "--lab-dir", str(tmp_path), "-p", "2")
    rows = table(r.stdout)
    assert r.returncode == 1
    assert rows["tb_neuron_mac.test_pixels_are_unsigned"] == "FAIL"
    assert rows["tb_neuron_mac.test_load_sets_the_bias"] == "pass"
    assert "use signed('0' & x), not signed(x)" in r.stdout


def test_exercise_never_overwrites_a_students_file(tmp_path):
    lab = labs.get_lab(2)
    path = labs.write_exercise(lab, tmp_path, log=lambda *_: None)
    path.write_text(path.read_text() + "-- my work\n")
    said = []
    labs.write_exercise(lab, tmp_path, log=said.append)
    assert path.read_text().endswith("-- my work\n")
    assert "kept" in said[0]


def test_exercise_keeps_everything_outside_the_region():
    for lab in labs.LABS.values():
        ref = (ROOT / "hdl" / f"{lab.piece}.vhd").read_text()
        ex = labs.exercise_text(lab)
        head, _, tail = ref.partition(labs.BEGIN_MARK)
        assert head in ex and tail.split(labs.END_MARK)[1] in ex
        assert lab.stub in ex


def test_wave_files_and_png(tmp_path):
    r = run("vunit_run.py", "--lab", "1", "--reference", "--wave", "--lab-dir", str(tmp_path),
            "lab.tb_lab1.*")
    assert r.returncode == 0, r.stdout[-2000:]
    vcd = tmp_path / "lab1" / "waves_reference" / "tb_lab1.test_image_logits.vcd"
    gtkw = vcd.with_suffix(".gtkw")
    assert vcd.is_file() and gtkw.is_file()
    listed = [line for line in gtkw.read_text().splitlines() if line.startswith("tb_lab1.")]
    header = vcd.read_text(errors="replace").split("$enddefinitions")[0]
    for name in ("addr", "w_data", "acc", "done"):
        assert any(l.split("[")[0] == f"tb_lab1.{name}" for l in listed), listed
        assert re.search(rf"\$var \w+ \d+ \S+ {name}(\[|\s)", header), name
    import wave_png
    png = wave_png.render(vcd, labs.vcd_signals(vcd, labs.LABS[1].wave_signals),
                          tmp_path / "w.png", title="lab 1")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
