"""driver/run_on_pynq.ipynb, the notebook a Zynq design gets, runs top to bottom (nbclient)
as it would on a PYNQ board: its folder laid out as the notebook asks, `pynq` replaced by
tests/fake_pynq (an AXI DMA whose hardware is the integer reference model, decoding the
bytes the driver sends on its own). So the notebook's paths, its use of the driver and its
reading of expected.csv are checked; the driver against the simulated hardware is
tests/test_cocotb_driver.py.

    python3 -m pytest tests/test_pynq_notebook.py
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cocotb_support as cs  # noqa: E402

ROOT = cs.ROOT
FAKE_PYNQ = Path(__file__).resolve().parent / "fake_pynq"


def run_on_board(tmp_path: Path, monkeypatch, key: str, test_set: bool,
                 corrupt: bool = False) -> str:
    design = cs.make_design(tmp_path, key)
    board = tmp_path / "board"
    shutil.copytree(design, board)
    name = key
    for suffix in (".bit", ".hwh"):
        (board / "driver" / f"{name}{suffix}").write_text("stand-in\n")
    if corrupt:   # one expected logit off by one: the notebook must report that vector
        path = board / "vectors" / "expected.csv"
        rows = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
        rows[1, 0] += 1
        np.savetxt(path, rows, delimiter=",", fmt="%d")
    if test_set:
        (board / "driver" / "test").mkdir()
        inputs = np.loadtxt(design / "vectors" / "inputs.csv", delimiter=",", dtype=np.int64,
                            ndmin=2)
        expected = np.loadtxt(design / "vectors" / "expected.csv", delimiter=",",
                              dtype=np.int64, ndmin=2)
        labels = expected[:, -1].copy()
        labels[0] = 1 - labels[0]           # one label the network gets "wrong"
        # uint8 as trainer.py writes 8-bit codes; wider codes as they are
        np.save(board / "driver" / "test" / "X.npy",
                inputs.astype(np.uint8) if inputs.max() < 256 else inputs)
        np.save(board / "driver" / "test" / "y.npy", labels)
    nb = nbformat.read(board / "driver" / "run_on_pynq.ipynb", as_version=4)
    # the kernel inherits the environment: the stand-in pynq first on its path
    monkeypatch.setenv("FAKE_PYNQ_DESIGN", str(design))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(FAKE_PYNQ), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={
        "metadata": {"path": str(board / "driver")}}).execute()
    return "".join(out.text for cell in nb.cells for out in cell.get("outputs", [])
                   if out.output_type == "stream")


@pytest.mark.parametrize("key", ["odd_5_3_2", "wide_logits_5_2"])
def test_notebook_runs_on_a_stand_in_board(tmp_path, monkeypatch, key):
    text = run_on_board(tmp_path, monkeypatch, key, test_set=True)
    n = len(np.loadtxt(tmp_path / key / "vectors" / "inputs.csv", delimiter=",", ndmin=2))
    assert f"{n} of {n} test vectors as the reference model" in text, text
    assert f"accuracy {(n - 1) / n:.4f} ({n - 1} of {n} images)" in text, text
    assert "images/s through the driver" in text


def test_notebook_reports_a_difference_and_a_missing_test_set(tmp_path, monkeypatch):
    """One expected logit changed: the notebook counts one vector fewer and names it."""
    text = run_on_board(tmp_path, monkeypatch, "odd_5_3_2", test_set=False, corrupt=True)
    n = len(np.loadtxt(tmp_path / "odd_5_3_2" / "vectors" / "inputs.csv", delimiter=",",
                       ndmin=2))
    lines = text.splitlines()
    assert f"{n - 1} of {n} test vectors as the reference model" in lines, text
    assert any(line.strip().startswith("vector 1:") for line in lines), text
    assert "no test set in test/" in text
