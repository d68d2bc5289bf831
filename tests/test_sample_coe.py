"""The original lab's test-input export: one image (.npz input, label) -> .coe."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model_files import InputError  # noqa: E402
from vhdl_generator import write_test_input_coe  # noqa: E402


def read_coe_words(path: Path) -> tuple[int, list[str]]:
    """Parse a Xilinx .coe independently: ';' comments, radix, comma-separated vector."""
    body = "\n".join(line.split(";", 1)[0] if line.startswith(";") else line
                     for line in path.read_text().splitlines())
    radix = int(body.split("memory_initialization_radix=")[1].split(";")[0])
    vector = body.split("memory_initialization_vector=")[1].split(";")[0]
    return radix, [w.strip() for w in vector.split(",")]


def test_scaled_floats_become_the_original_pixels(tmp_path):
    pixels = np.arange(784) % 256                     # every code 0..255 appears
    npz = tmp_path / "sample.npz"
    np.savez(npz, input=(pixels[None, :] / 255.0).astype(np.float32), label=np.int64(3))
    coe = write_test_input_coe(npz)
    assert coe == tmp_path / "sample.coe"
    radix, words = read_coe_words(coe)
    assert radix == 16 and len(words) == 784
    assert [int(w, 16) for w in words] == pixels.tolist()
    assert all(len(w) == 2 for w in words)            # 8-bit words: two hex digits
    assert "label 3" in coe.read_text().splitlines()[0]


def test_binary_float_image_is_scaled_not_codes(tmp_path):
    """0.0 / 1.0 floats are black / white pixels (0 / 255), not the codes 0 / 1."""
    npz = tmp_path / "bin.npz"
    np.savez(npz, input=np.array([[0.0, 1.0, 1.0, 0.0]], dtype=np.float32))
    assert read_coe_words(write_test_input_coe(npz))[1] == ["00", "FF", "FF", "00"]


def test_integer_codes_and_explicit_path(tmp_path):
    npz = tmp_path / "s.npz"
    np.savez(npz, input=np.array([0, 1, 15, 16, 255], dtype=np.uint8))
    coe = write_test_input_coe(npz, tmp_path / "out.coe")
    assert read_coe_words(coe)[1] == ["00", "01", "0F", "10", "FF"]


@pytest.mark.parametrize("arrays, message", [
    ({"label": np.int64(1)}, "no array 'input'"),
    ({"input": np.zeros((2, 784))}, "one image"),
    ({"input": np.array([0.5, 1.5, 2.25])}, "floats are read as scaled inputs"),
    ({"input": np.array([0.0, 255.0])}, "out of range.*pass integer codes"),
    ({"input": np.array([-3, 4])}, "0..255"),
    ({"input": np.array([0.1, np.nan])}, "NaN"),
    ({"input": np.zeros(4), "label": np.array([1, 2])}, "'label' must be one number"),
])
def test_bad_samples_are_one_clear_error(tmp_path, arrays, message):
    npz = tmp_path / "bad.npz"
    np.savez(npz, **arrays)
    with pytest.raises(InputError, match=message):
        write_test_input_coe(npz)
    assert not (tmp_path / "bad.coe").exists()       # nothing half-written


def test_trainer_exports_samples(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "trainer.py"), "--data", "digits",
                        "--network", "1", "--iterations", "5", "--out", str(tmp_path),
                        "--samples", "3"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import mnist_data
    ds = mnist_data.load_digits_data("digits", log=lambda _: None)
    for i in range(3):
        coe = tmp_path / "samples" / f"digits_test_{i:04d}.coe"
        assert [int(w, 16) for w in read_coe_words(coe)[1]] == ds.x_test[i].tolist()
        with np.load(coe.with_suffix(".npz")) as z:
            assert int(z["label"]) == ds.y_test[i] and z["input"].shape == (1, 64)


# --------------------------------------------------------------------------- the lab's names
def test_quantize_to_int8_gives_integers_and_the_scale():
    """The original lab's quantization_functions.quantize_to_int8: (values, scale)."""
    from quantization_functions import quantize_to_int8
    q, scale = quantize_to_int8(np.array([0.5, -1.0, 0.25, 0.0]))
    assert scale == 1 / 127                         # max|x| / 127
    assert q.dtype == np.int8
    assert q.tolist() == [64, -127, 32, 0]          # 63.5 -> 64, 31.75 -> 32 (half away)
    q4, s4 = quantize_to_int8(np.array([[0.7, -0.1]]), bits=4)
    assert s4 == pytest.approx(0.1) and q4.tolist() == [[7, -1]]


def test_write_layer_weights_mem_with_an_image(tmp_path):
    """The original lab's vhdl_generator.write_layer_weights_mem: one layer's per-neuron
    ROMs as VHDL, and an image's expected result in the simulation's vectors."""
    from vhdl_generator import write_layer_weights_mem
    rng = np.random.default_rng(2)
    W, b = rng.normal(0, 0.3, (3, 6)), rng.normal(0, 0.1, 3)
    np.savez(tmp_path / "lab.npz", W=W, b=b)
    pixels = np.array([0, 255, 17, 128, 3, 90], dtype=np.uint8)
    np.savez(tmp_path / "img.npz", input=pixels[None, :] / 255.0, label=np.int64(2))
    path = write_layer_weights_mem(tmp_path / "lab.npz", tmp_path / "out",
                                   image_npz=tmp_path / "img.npz")
    assert path == tmp_path / "out" / "lab_l0_weights.vhd" and path.is_file()
    text = path.read_text()
    assert "entity lab_l0_weights" in text and "dout" in text
    assert (tmp_path / "out" / "vectors" / "inputs.csv").read_text() == "0,255,17,128,3,90\n"
    # the expected logits are the integer model's, recomputed here from the contract
    sw = np.max(np.abs(W)) / 127
    Wq = np.array([[int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in row] for row in W / sw])
    bq = np.array([int(np.sign(v) * np.floor(abs(v) + 0.5)) for v in b / (sw / 255)])
    logits = Wq @ pixels.astype(np.int64) + bq
    expected = (tmp_path / "out" / "vectors" / "expected.csv").read_text().strip()
    assert expected == ",".join(map(str, [*logits, int(np.argmax(logits))]))


def test_write_layer_weights_mem_refuses_a_missing_layer(tmp_path):
    from vhdl_generator import GeneratorError, write_layer_weights_mem
    np.savez(tmp_path / "lab.npz", W=np.ones((2, 3)), b=np.zeros(2))
    with pytest.raises(GeneratorError, match="layer must be 0..0"):
        write_layer_weights_mem(tmp_path / "lab.npz", tmp_path / "out", layer=1)
    assert not (tmp_path / "out").exists()
