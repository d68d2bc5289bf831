"""trainer.ipynb runs top to bottom, headless (nbclient), and ends with a bit-exact GHDL run."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model_files import read_float_model  # noqa: E402

# real MNIST in IDX form: MNIST_DIR, else the offline split beside the project
SHARED_MNIST = Path(os.environ.get("MNIST_DIR")
                    or ROOT.parent / "shared" / "datasets" / "mnist-t10k-split")


def run_notebook(params: str, env: dict[str, str] | None = None) -> str:
    """Execute trainer.ipynb with its parameters cell replaced; return all text output."""
    nb = nbformat.read(ROOT / "trainer.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "trainer.ipynb needs exactly one cell tagged 'parameters'"
    tagged[0].source = params
    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text.append(out.text)
    return "".join(text)


def test_notebook_on_digits_256_10(tmp_path):
    out = run_notebook(f'NETWORK = "256+10"\nDATA = "digits"\nITERATIONS = 60\n'
                       f'OUT = r"{tmp_path}"\nSIMULATE = 20\n')
    assert "sklearn:digits" in out
    assert "topology 64 -> 256 -> 10" in out
    assert "equal to the integer reference model: yes" in out
    assert "hardware logits equal to the int8 model on every image: True" in out
    model = read_float_model(tmp_path / "digits_256_10.npz")
    assert model.topology == [64, 256, 10] and model.calibration is not None
    assert (tmp_path / "samples" / "digits_test_0000.coe").is_file()
    assert (tmp_path / "vhdl_digits_256_10" / "digits_256_10_top.vhd").is_file()
    sim = np.load(tmp_path / "simulate_results.npz")
    # 1 + 64 + 2 + 6 (layer 0) + 256 + 13 + 6 (layer 1) + 11 (argmax) clocks, labs/lab3.md
    assert sim["logits"].shape == (20, 10) and set(sim["cycles"]) == {359}
    # the QAT cell: runs where torch and brevitas are installed, else says what to install
    import qat
    if qat.missing():
        assert "QAT needs torch and brevitas" in out and "requirements-import.txt" in out
    else:
        assert "test accuracy in PyTorch" in out


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="offline MNIST split not present")
def test_notebook_uses_mnist_dir(tmp_path):
    out = run_notebook(f'NETWORK = "1"\nDATA = None\nITERATIONS = 10\n'
                       f'OUT = r"{tmp_path}"\nSIMULATE = 5\n', env={"MNIST_DIR": str(SHARED_MNIST)})
    assert "MNIST_DIR is set" in out and "topology 784 -> 1" in out
    assert "hardware logits equal to the int8 model on every image: True" in out
    assert (tmp_path / "mnist_1.npz").is_file()
