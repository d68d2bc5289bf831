"""Model import (onnx_import.py, keras_import.py): a float MLP written by a real exporter
(the committed fixtures, made by tests/fixtures/make_onnx_fixtures.py with skl2onnx,
torch.onnx and Keras) is read as the exporter's model computes (onnxruntime is the
reference; for the .keras and .h5 files, Keras' own ONNX export of the same model),
simulates bit-exact through vunit_run.py, and anything that is not such an MLP is
refused with one line, exit 2, nothing written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SKL = FIXTURES / "skl_64_16_10.onnx"
sys.path.insert(0, str(PROJECT))

import model_files  # noqa: E402
import quantization_functions as qf  # noqa: E402
import model_import  # noqa: E402
import onnx_import  # noqa: E402
from test_bad_inputs import assert_clean_failure, run_generator  # noqa: E402

KERAS = FIXTURES / "keras_64_16_10.keras"
EXPORTED = [SKL, FIXTURES / "torch_64_16_10.onnx", FIXTURES / "keras_64_16_10.onnx"]
# a Keras file and the ONNX file Keras exported from the same model (model.export)
KERAS_FILES = [(KERAS, FIXTURES / "keras_64_16_10.onnx"),
               (FIXTURES / "keras_64_16_10.h5", FIXTURES / "keras_64_16_10.onnx")]


def digits_codes(n: int) -> np.ndarray:
    """The first n of scikit-learn's 8x8 digits as codes 0..255 (as the fixtures were
    trained on them)."""
    from sklearn.datasets import load_digits

    return np.round(load_digits().data[:n] * 255 / 16).astype(np.uint8)


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    """The model's first float output (logits or probabilities) in onnxruntime."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else -1 for d in inp.shape]
    feed = x.astype(np.float32).reshape([len(x)] + [d for d in shape[1:]])
    outs = [o for o, meta in zip(sess.run(None, {inp.name: feed}), sess.get_outputs())
            if "float" in meta.type]
    return outs[0]


def float_logits(m: model_files.FloatModel, x: np.ndarray) -> np.ndarray:
    """The float model's logits for input codes x (quantization_functions.float_forward)."""
    return qf.float_forward(m.W, m.b, x * m.input_scale)[-1]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("path", EXPORTED, ids=lambda p: p.stem)
def test_exported_model_reads_as_the_exporter_computes_it(path):
    m = model_import.read_model(path)
    assert m.topology == [64, 16, 10]
    assert m.origin["format"] == "onnx" and m.origin["opset"] >= 17
    x = digits_codes(300).astype(np.float64)
    ours = float_logits(m, x)
    theirs = run_onnx(path, x * m.input_scale)
    if m.origin["dropped_head"] == "Softmax":   # skl2onnx, Keras: probabilities
        ours = softmax(ours)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert np.mean(ours.argmax(1) == theirs.argmax(1)) == 1.0


@pytest.mark.parametrize("path,exported", KERAS_FILES, ids=lambda p: p.name)
def test_keras_file_reads_as_keras_computes_it(path, exported):
    m = model_import.read_model(path)
    assert m.topology == [64, 16, 10] and m.origin["exporter"] == "keras"
    x = digits_codes(300).astype(np.float64)
    np.testing.assert_allclose(softmax(float_logits(m, x)),
                               run_onnx(exported, x * m.input_scale), rtol=1e-4, atol=1e-5)


def test_onnx_model_simulates_bit_exact(tmp_path):
    """vunit_run.py --model X.onnx: the hardware equals the integer model on every image,
    and its classes agree with onnxruntime's on nearly all of them (int8 vs float)."""
    x = digits_codes(40)
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([sys.executable, str(PROJECT / "vunit_run.py"), "--model", str(SKL),
                          "--inputs", str(tmp_path / "x.npy"), "--results",
                          str(tmp_path / "r.npz"), "--out", str(tmp_path / "sim")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "equal to the integer reference model: yes" in res.stdout
    r = np.load(tmp_path / "r.npz")
    hw = r["classes"] if "classes" in r.files else r["class"]
    onnx_classes = run_onnx(SKL, x / 255.0).argmax(1)
    assert np.mean(hw == onnx_classes) >= 0.95, (hw, onnx_classes)
    report = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert report["model_origin"]["exporter"] == "skl2onnx"


# --------------------------------------------------------------------------- bad models
def graph_model(nodes, inits, n_in=4, n_out=3, out_name="y", **save) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


W1 = np.arange(12).reshape(4, 3) / 10
B1 = np.ones(3)


def conv_model():
    return graph_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")],
                       {"w": np.ones((1, 1, 3, 3))})


def sigmoid_model():
    return graph_model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                        helper.make_node("Add", ["h", "b"], ["a"]),
                        helper.make_node("Sigmoid", ["a"], ["y"], name="act1")],
                       {"w": W1, "b": B1})


def skip_model():
    return graph_model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                        helper.make_node("Relu", ["h"], ["r"]),
                        helper.make_node("MatMul", ["r", "w2"], ["h2"]),
                        helper.make_node("Add", ["h2", "r"], ["y"], name="skip_add")],
                       {"w": W1, "w2": np.eye(3)})


def qdq_model():
    """ONNX's own quantized form (QuantizeLinear / DequantizeLinear), not QONNX."""
    quant = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="input_quant")
    return graph_model([quant, helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
                        helper.make_node("MatMul", ["xd", "w"], ["y"])],
                       {"w": W1, "s": np.ones(1), "z": np.zeros(1)})


BAD = {
    "qdq": (qdq_model, ["input_quant", "QuantizeLinear", "QONNX"]),
    "conv": (conv_model, ["conv1", "Conv"]),
    "sigmoid": (sigmoid_model, ["act1", "Sigmoid"]),
    "skip": (skip_model, ["skip"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_unsupported_graph_is_refused_naming_the_node(case, tmp_path):
    make, words = BAD[case]
    path = tmp_path / f"{case}.onnx"
    onnx.save(make(), str(path))
    line = assert_clean_failure(run_generator(path, tmp_path / "out"), tmp_path / "out",
                                str(path))
    for w in words:
        assert w in line, line


def test_truncated_onnx_is_refused(tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(SKL.read_bytes()[:1500])
    res = run_generator(path, tmp_path / "out")
    assert res.returncode == 2
    line = assert_clean_failure(res, tmp_path / "out", str(path))
    assert "truncated" in line


def test_onnx_with_external_data_is_refused(tmp_path):
    model = graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"])], {"w": W1, "b": B1})
    path = tmp_path / "ext.onnx"
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.data", size_threshold=0)
    line = assert_clean_failure(run_generator(path, tmp_path / "out"), tmp_path / "out",
                                str(path))
    assert "external data" in line
    assert (tmp_path / "ext.data").exists()   # the weights were outside indeed


def test_trailing_relu_and_missing_relu_are_refused(tmp_path):
    """The hardware's hidden layers need a ReLU and its last layer has none."""
    trailing = graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
                            helper.make_node("Relu", ["h"], ["y"])], {"w": W1, "b": B1})
    stacked = graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["h"]),
                           helper.make_node("Gemm", ["h", "w2"], ["y"], name="second")],
                          {"w": W1, "b": B1, "w2": np.eye(3)})
    for model, word in ((trailing, "followed by a Relu"), (stacked, "without a Relu")):
        path = tmp_path / "m.onnx"
        onnx.save(model, str(path))
        with pytest.raises(model_files.InputError, match=word):
            onnx_import.read_onnx_model(path)


def test_gemm_attributes_are_applied(tmp_path):
    """transB, alpha and beta of a Gemm, checked against onnxruntime."""
    w = np.arange(12, dtype=np.float64).reshape(3, 4) / 7 - 0.5   # (n_out, n_in): transB
    model = graph_model([helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1,
                                          alpha=0.5, beta=2.0)], {"w": w, "b": B1})
    path = tmp_path / "gemm.onnx"
    onnx.save(model, str(path))
    m = onnx_import.read_onnx_model(path)
    x = np.random.default_rng(0).random((5, 4))
    np.testing.assert_allclose(float_logits(m, x / m.input_scale), run_onnx(path, x),
                               rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- bad Keras files
def keras_with(tmp_path: Path, name: str, config: dict) -> Path:
    """The fixture's .keras archive with another config.json (its weights kept)."""
    import zipfile

    out = tmp_path / name
    with zipfile.ZipFile(KERAS) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = json.dumps(config) if item == "config.json" else src.read(item)
            dst.writestr(item, data)
    return out


def fixture_config() -> dict:
    import zipfile

    with zipfile.ZipFile(KERAS) as z:
        return json.loads(z.read("config.json"))


def test_bad_keras_models_are_refused(tmp_path):
    conv = fixture_config()
    conv["config"]["layers"][1]["class_name"] = "Conv2D"
    sigmoid = fixture_config()
    sigmoid["config"]["layers"][1]["config"]["activation"] = "sigmoid"

    def functional(name, inbound):
        return {"class_name": "Dense", "config": {"name": name, "units": 16},
                "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                    "keras_history": [n, 0, 0]}} for n in inbound]}]}
    skip = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"name": "input_layer"}, "inbound_nodes": []},
        functional("dense", ["input_layer"]),
        {**functional("add", ["input_layer", "dense"]), "class_name": "Add"}]}}
    cases = {"conv.keras": (conv, ["Conv2D"]), "sigmoid.keras": (sigmoid, ["sigmoid"]),
             "skip.keras": (skip, ["skip connection", "add"])}
    for name, (config, words) in cases.items():
        path = keras_with(tmp_path, name, config)
        out = tmp_path / ("out_" + name)
        line = assert_clean_failure(run_generator(path, out), out, str(path))
        for w in words:
            assert w in line, line
    for fixture in (KERAS, FIXTURES / "keras_64_16_10.h5"):
        cut = tmp_path / ("cut" + fixture.suffix)
        cut.write_bytes(fixture.read_bytes()[:2000])
        res = run_generator(cut, tmp_path / "out_cut")
        assert res.returncode == 2
        assert "truncated" in assert_clean_failure(res, tmp_path / "out_cut", str(cut))
