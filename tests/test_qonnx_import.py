"""QONNX import (qonnx_import.py): Brevitas QAT models (the committed fixtures, made by
tests/fixtures/make_onnx_fixtures.py --brevitas with qat.py and Brevitas' export_qonnx)
are built from their own integers: our integer model's logits are the QONNX model's
(executed by the qonnx package, the reference) divided by the last layer's step, on every
image; the hardware equals our integer model; anything the contract cannot hold is
refused with one line naming the node, or warned about with the size of the difference."""
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
sys.path.insert(0, str(PROJECT))

import model_import  # noqa: E402
import qonnx_import  # noqa: E402
import quantization_functions as qf  # noqa: E402
from test_bad_inputs import assert_clean_failure, run_generator  # noqa: E402
from test_onnx_import import digits_codes  # noqa: E402

QAT = {bits: FIXTURES / f"brevitas_64_16_16_10_w{bits}a{bits}.onnx" for bits in (2, 4)}
DOMAIN = "qonnx.custom_op.general"


def run_qonnx(path: Path, x_codes: np.ndarray) -> np.ndarray:
    """The QONNX model's logits, executed by the qonnx package (its own Quant), fed
    code / 256 as the model was trained (qat.py)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    mw = ModelWrapper(str(path)).transform(InferShapes())
    iname, oname = mw.graph.input[0].name, mw.graph.output[0].name
    # the exported graph's input shape is (1, n): one image per run
    return np.concatenate([execute_onnx(mw, {iname: (x_codes[i:i + 1] / 256.0)
                                             .astype(np.float32)})[oname]
                           for i in range(len(x_codes))])


@pytest.mark.parametrize("bits", sorted(QAT))
def test_qat_model_is_built_from_its_own_integers(bits):
    m = model_import.read_model(QAT[bits])
    q = m.quantized
    assert q.topology == [64, 16, 16, 10]
    assert (q.weight_bits, q.act_bits, q.input_bits) == (bits, bits, 8)
    assert q.round == ["half_even", "half_even"]
    assert m.origin["format"] == "qonnx" and m.origin["exact"] and not m.origin["warnings"]
    assert m.input_scale == 2.0 ** -8
    lo, hi = qf.int_range(bits)
    assert all(lo <= W.min() and W.max() <= hi for W in q.W)
    # Brevitas' power-of-two steps: every requantization is a shift (M a power of two)
    assert all(np.all((M & (M - 1)) == 0) for M in q.M)
    x = digits_codes(400)
    logits, classes = qf.reference_forward(q, x)
    theirs = run_qonnx(QAT[bits], x)
    step = q.sx[-1] * q.sw[-1][0]
    # exact: the same integers times one power-of-two step, not merely close
    np.testing.assert_array_equal(logits * step, theirs.astype(np.float64))
    assert np.array_equal(classes, theirs.argmax(1))


def test_qat_model_simulates_bit_exact(tmp_path):
    """vunit_run.py --model X.onnx (QONNX): the hardware equals the integer model on every
    image, its classes are the QONNX model's, and report.json says where the integers came
    from."""
    x = digits_codes(30)
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([sys.executable, str(PROJECT / "vunit_run.py"), "--model",
                          str(QAT[2]), "--inputs", str(tmp_path / "x.npy"), "--results",
                          str(tmp_path / "r.npz"), "--out", str(tmp_path / "sim")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "equal to the integer reference model: yes" in res.stdout
    assert "quantization from the model (QONNX Quant nodes)" in res.stdout
    with np.load(tmp_path / "r.npz") as r:
        assert np.array_equal(r["classes"], run_qonnx(QAT[2], x).argmax(1))
    report = json.loads((tmp_path / "sim" / "report.json").read_text())
    origin = report["model_origin"]
    assert origin["format"] == "qonnx" and origin["exporter"] == "pytorch"
    assert origin["opset"] >= 17 and "weights 2 bits, activations 2 bits" in origin["quantization"]
    assert [l["round"] for l in report["layers"]] == ["half_even", "half_even", None]
    with np.load(tmp_path / "sim" / "quantized.npz") as d:
        assert str(d["round0"]) == "half_even" and int(d["weight_bits"]) == 2


def test_exact_requant():
    assert qonnx_import.exact_requant(0.25) == (1, 2)
    assert qonnx_import.exact_requant(3.0) == (3, 0)
    assert qonnx_import.exact_requant(3 / 1024) == (3, 10)
    assert qonnx_import.exact_requant(1 / 255) is None            # not a dyadic of 15 bits
    assert qonnx_import.exact_requant(float(2 ** 15)) is None      # M would need 16 bits


# --------------------------------------------------------------------------- hand-made graphs
def quant(inp: str, out: str, scale: str, bits: str, name: str, signed: int = 1,
          narrow: int = 0, zero: str = "zero", mode: str = "ROUND"):
    return helper.make_node("Quant", [inp, scale, zero, bits], [out], name=name,
                            domain=DOMAIN, signed=signed, narrow=narrow, rounding_mode=mode)


def mlp(middle=None, act_scale=0.25, w0_scale=0.125, w1_scale=0.125, zero=0.0,
        act_after=True, relu=True, extra_inits=None, b0=None, tail=()):
    """x (4 inputs) -> Quant (8 bits, 2^-8) -> Gemm (3 neurons) -> Relu -> Quant (2 bits)
    -> Gemm (2 outputs); `middle` replaces the nodes between the two layers."""
    rng = np.random.default_rng(0)
    inits = {"w0": rng.integers(-3, 4, (3, 4)) * w0_scale,
             "w1": rng.integers(-3, 4, (2, 3)) * w1_scale,
             "b0": np.array([1.0, -2.0, 3.0]) * 2.0 ** -8 * w0_scale if b0 is None else b0,
             "sin": np.array(2.0 ** -8), "sw0": np.asarray(w0_scale), "sw1": np.asarray(w1_scale),
             "sact": np.asarray(act_scale), "b8": np.array(8.0), "b2": np.array(2.0),
             "b4": np.array(4.0), "zero": np.array(zero), "zero0": np.array(0.0),
             **(extra_inits or {})}
    nodes = [quant("x", "xq", "sin", "b8", "in_quant", signed=0, zero="zero0"),
             quant("w0", "w0q", "sw0", "b4", "w0_quant", narrow=1, zero="zero0"),
             quant("w1", "w1q", "sw1", "b4", "w1_quant", narrow=1, zero="zero0"),
             helper.make_node("Gemm", ["xq", "w0q", "b0"], ["h"], name="fc0", transB=1)]
    if middle is None:
        middle = ([helper.make_node("Relu", ["h"], ["r"], name="relu0")] if relu else
                  [helper.make_node("Identity", ["h"], ["r"])])
        middle.append(quant("r", "a", "sact", "b2", "act_quant", signed=0, zero="zero"))
    nodes += middle
    nodes.append(helper.make_node("Gemm", ["a", "w1q"], ["z" if tail else "y"], name="fc1",
                                  transB=1))
    nodes += list(tail)
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                               helper.make_opsetid(DOMAIN, 1)])


def test_hand_made_qonnx_reads_its_integers_and_runs_as_qonnx(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(mlp(), str(path))
    m = model_import.read_model(path)
    q = m.quantized
    assert q.topology == [4, 3, 2] and q.act_bits == 2 and q.weight_bits == 4
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(q.W[0], rng.integers(-3, 4, (3, 4)))
    np.testing.assert_array_equal(q.b[0], [1, -2, 3])   # a float bias on the step: exact
    # ratio 2^-8 * 2^-3 / 2^-2 = 2^-9: M = 1, S = 9
    assert q.M[0].tolist() == [1, 1, 1] and q.S[0].tolist() == [9, 9, 9]
    x = rng.integers(0, 256, (50, 4))
    logits, _ = qf.reference_forward(q, x)
    np.testing.assert_array_equal(logits * q.sx[-1] * q.sw[-1][0],
                                  run_qonnx(path, x).astype(np.float64))


def test_approximations_are_warned_with_their_size(tmp_path):
    """A requantization ratio that is no 15-bit dyadic and a bias off the accumulator step
    are built approximately, each with one warning line that says by how much."""
    path = tmp_path / "m.onnx"
    onnx.save(mlp(act_scale=0.3, b0=np.array([0.1, 0.2, -0.3])), str(path))
    m = model_import.read_model(path)
    assert not m.origin["exact"]
    text = " | ".join(m.origin["warnings"])
    assert "layer 0: the requantization ratio" in text and "approximates it to" in text
    assert "layer 0: the bias is not on the accumulator step" in text
    res = run_generator(path, tmp_path / "out")
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("warning:") == 2, res.stdout


def test_a_last_layer_with_a_step_per_neuron_is_brought_to_one_step(tmp_path):
    """The contract's last layer has one step (argmax over logits at different steps would
    rank the classes differently): per-neuron steps are brought to the largest, with one
    warning line that counts the weights that change."""
    path = tmp_path / "pc.onnx"
    onnx.save(mlp(w1_scale=np.array([[0.125], [0.0625]])), str(path))
    m = model_import.read_model(path)
    warning = " | ".join(m.origin["warnings"])
    assert "layer 1 (the last) has a weight step per neuron" in warning
    assert "brought to one step 0.125" in warning and "weights change" in warning
    q = m.quantized
    assert np.unique(q.sw[1]).size == 1 and not m.origin["exact"]
    x = np.random.default_rng(2).integers(0, 256, (200, 4))
    _, classes = qf.reference_forward(q, x)
    assert np.mean(classes == run_qonnx(path, x).argmax(1)) >= 0.9


BN_INITS = {"g": [1.5, -0.7, 0.9], "bb": [0.1, 0.0, -0.2], "m": [0.05, -0.1, 0.2],
            "v": [0.5, 2.0, 1.0]}


def test_batchnorm_and_tensornorm_are_folded(tmp_path):
    """A BatchNormalization between a layer and its Relu (a negative gamma among them) is
    folded into the weights' signs, the step (so M / 2^S, approximated with a warning) and
    the bias; FINN's TensorNorm after the last layer (one scale, one offset) is dropped.
    The classes agree with the QONNX model's on nearly every input (the approximation)."""
    middle = [helper.make_node("BatchNormalization", ["h", "g", "bb", "m", "v"], ["n"],
                               name="bn0"),
              helper.make_node("Relu", ["n"], ["r"]),
              quant("r", "a", "sact", "b2", "act_quant", signed=0, zero="zero0")]
    tail = [helper.make_node("Mul", ["z", "tn_a"], ["t"], name="tn_mul"),
            helper.make_node("Add", ["t", "tn_c"], ["y"], name="tn_add")]
    path = tmp_path / "bn.onnx"
    onnx.save(mlp(middle=middle, tail=tail, extra_inits={**BN_INITS, "tn_a": np.array(2.0),
                                                         "tn_c": np.array(0.5)}), str(path))
    m = model_import.read_model(path)
    folded = " | ".join(m.origin["folded"])
    assert "layer 0: BatchNormalization 'bn0' folded" in folded
    assert "layer 1: Mul 'tn_mul', Add 'tn_add' dropped" in folded
    assert any("requantization ratio" in w for w in m.origin["warnings"])
    q = m.quantized
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(q.W[0][1], -rng.integers(-3, 4, (3, 4))[1])  # gamma < 0
    x = np.random.default_rng(1).integers(0, 256, (300, 4))
    _, classes = qf.reference_forward(q, x)
    theirs = run_qonnx(path, x).argmax(1)
    assert np.mean(classes == theirs) >= 0.97, np.mean(classes == theirs)


BAD = {
    "zero_point": (dict(zero=1.0), ["act_quant", "zero point"]),
    "batchnorm_after_relu": (dict(middle=[
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("BatchNormalization", ["r", "g", "bb", "m", "v"], ["n"], name="bn0"),
        quant("n", "a", "sact", "b2", "act_quant", signed=0)], extra_inits=BN_INITS),
        ["bn0", "not right after a layer"]),
    "bipolar": (dict(middle=[helper.make_node("Relu", ["h"], ["r"]),
                             helper.make_node("BipolarQuant", ["r", "sact"], ["a"],
                                              name="bip", domain=DOMAIN)]),
                ["bip", "BipolarQuant", "1-bit"]),
    "float_relu": (dict(middle=[helper.make_node("Relu", ["h"], ["a"], name="relu0")]),
                   ["fc1", "not quantized"]),
    "no_relu": (dict(relu=False), ["fc1", "without a Relu"]),
    "per_channel_act": (dict(act_scale=np.full(3, 0.25)), ["act_quant", "per channel"]),
    "conv": (dict(middle=[helper.make_node("Conv", ["h", "g"], ["r"], name="conv0"),
                          quant("r", "a", "sact", "b2", "act_quant", signed=0)],
                  extra_inits={"g": np.ones((3, 3, 1))}), ["conv0", "Conv"]),
    "skip": (dict(middle=[helper.make_node("Relu", ["h"], ["r"]),
                          quant("r", "a0", "sact", "b2", "act_quant", signed=0),
                          helper.make_node("Add", ["a0", "h"], ["a"], name="skip_add")]),
             ["skip connection"]),
    "sigmoid": (dict(middle=[helper.make_node("Sigmoid", ["h"], ["r"], name="sig0"),
                             quant("r", "a", "sact", "b2", "act_quant", signed=0)]),
                ["sig0", "Sigmoid"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_what_the_contract_cannot_hold_is_refused_naming_the_node(case, tmp_path):
    kwargs, words = BAD[case]
    path = tmp_path / f"{case}.onnx"
    onnx.save(mlp(**kwargs), str(path))
    line = assert_clean_failure(run_generator(path, tmp_path / "out"), tmp_path / "out",
                                str(path))
    for w in words:
        assert w in line, line


def test_a_truncated_qonnx_file_and_external_data_are_refused(tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(QAT[2].read_bytes()[:3000])
    line = assert_clean_failure(run_generator(path, tmp_path / "out"), tmp_path / "out",
                                str(path))
    assert "truncated" in line
    path = tmp_path / "ext.onnx"
    onnx.save(mlp(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.data", size_threshold=0)
    line = assert_clean_failure(run_generator(path, tmp_path / "out"), tmp_path / "out",
                                str(path))
    assert "external data" in line
