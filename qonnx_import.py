"""Reading a quantized MLP from a QONNX file (Brevitas' export_qonnx, FINN; docs/import.md).

What is read: one chain from the graph's input to its output of
  Quant on the input (the input codes: unsigned, zero point 0; its step is input_scale),
  Gemm, or MatMul followed by Add, whose weights pass through a Quant (signed integers and
  a step per layer or per neuron) and whose bias is a Quant at the accumulator step
  (Brevitas' Int32Bias) or a float,
  Relu followed by a Quant (or a Quant followed by Relu) between the layers: the hidden
  layer's activations (unsigned act_bits codes, one step per layer),
and the pass-through and head ops that onnx_import.py reads (Identity, Dropout, float
Cast, Flatten/Reshape before the first layer; a final Softmax/LogSoftmax/ArgMax dropped).

The model's own integers are used, not re-quantized: W{l} are the weight Quants' integers,
b{l} the bias at the accumulator step sx * sw, and each hidden layer's requantization
M / 2^S is the model's ratio sx * sw / sy, exact when it is a power of two times an
integer below 2^15 (Brevitas' *FixedPoint quantizers give powers of two); the layers
round a tie to even as QONNX's ROUND does (round{l} = half_even). Where the contract
cannot hold the model exactly (a ratio that needs more bits, a bias off the accumulator
step, a last layer with a step per neuron) the reader says so in one warning line each
with the size of the approximation (FloatModel.origin["warnings"]). A BatchNormalization
(or Mul/Div/Add/Sub by constants: FINN's TensorNorm) between a layer and its Relu is folded
into the weights' signs, the step and the bias (origin["folded"]); one scale and offset for
all logits after the last layer are dropped. Anything else (another op, BipolarQuant,
Trunc, MultiThreshold, a zero point other than 0, per-channel activation steps) is refused
with one line naming the node.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

import quantization_functions as qf
from model_files import FloatModel, check_layers
from onnx_import import (FLOAT_TYPES, HEAD_OPS, PASS_OPS, QONNX_OPS, _attr, _fail, _node_name,
                         check_no_join, constants, consumers_of, graph_input, load, next_node)

# the domains Brevitas and FINN give QONNX's ops
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas",
                 "finn")
# per-neuron affine ops after a layer (BatchNorm, FINN's TensorNorm as Mul/Add): folded
AFFINE_OPS = {"BatchNormalization", "Mul", "Div", "Add", "Sub"}
# QONNX rounding modes -> the contract's round{l}
ROUNDING = {"ROUND": "half_even", "HALF_EVEN": "half_even", "HALF_UP": "half_up"}
SUPPORTED = ("Quant, Gemm, MatMul + Add, Relu, Flatten/Reshape, and a final "
             "Softmax/LogSoftmax/ArgMax")


def is_qonnx(model) -> bool:
    """Whether an ONNX model holds QONNX's quantization ops."""
    return any(n.op_type in QONNX_OPS and (n.domain in QONNX_DOMAINS or not n.domain)
               for n in model.graph.node)


def _quant_values(path: Path, node, consts: dict) -> dict:
    """A Quant node's parameters (scale, zero point, bit width from constants; signed,
    narrow, rounding_mode); InputError if they are not constants."""
    names = list(node.input) + [""] * (4 - len(node.input))
    for role, name in zip(("scale", "zero point", "bit width"), names[1:4]):
        if name not in consts:
            raise _fail(path, f"node {_node_name(node)} (Quant): its {role} is not a constant")
    zp = np.asarray(consts[names[2]], dtype=np.float64)
    if np.any(zp != 0):
        raise _fail(path, f"node {_node_name(node)} (Quant): zero point {zp.ravel()[:4]} is "
                          "not 0; bram-mlp's integers are symmetric (zero point 0)")
    bits = np.asarray(consts[names[3]], dtype=np.float64).ravel()
    if bits.size != 1 or bits[0] != round(bits[0]):
        raise _fail(path, f"node {_node_name(node)} (Quant): bit width {bits} is not one "
                          "integer")
    mode = _attr(node, "rounding_mode", b"ROUND")
    mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
    return {"scale": np.asarray(consts[names[1]], dtype=np.float32),
            "bits": int(bits[0]), "signed": bool(_attr(node, "signed", 1)),
            "narrow": bool(_attr(node, "narrow", 0)), "rounding": mode, "node": node}


def _round(path: Path, node, mode: str, x: np.ndarray) -> np.ndarray:
    """qonnx's rounding functions for the weights' integers."""
    if mode in ("ROUND", "HALF_EVEN"):
        return np.round(x)
    if mode == "HALF_UP":
        return np.sign(x) * np.floor(np.abs(x) + 0.5)
    if mode == "FLOOR":
        return np.floor(x)
    if mode == "CEIL":
        return np.ceil(x)
    raise _fail(path, f"node {_node_name(node)} (Quant): rounding mode {mode} is not read "
                      "(ROUND, HALF_EVEN, HALF_UP, FLOOR, CEIL are)")


def _int_range(q: dict) -> tuple[int, int]:
    bits = q["bits"]
    if q["signed"]:
        return -(1 << (bits - 1)) + (1 if q["narrow"] else 0), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1 - (1 if q["narrow"] else 0)


def _integers(path: Path, q: dict, values: np.ndarray) -> np.ndarray:
    """What a Quant makes of a constant, as integers (qonnx's int_quant: clip, round)."""
    lo, hi = _int_range(q)
    x = np.asarray(values, dtype=np.float32) / q["scale"]
    x = np.clip(x, lo, hi)
    return _round(path, q["node"], q["rounding"], x).astype(np.int64)


def exact_requant(ratio: float) -> tuple[int, int] | None:
    """(M, S) with M / 2^S == ratio exactly, M < 2^M_BITS, S <= MAX_SHIFT; None if none."""
    f = Fraction(ratio)
    s = max(0, f.denominator.bit_length() - 1)      # a float's denominator is 2^s
    m = f * (1 << s)
    if m.denominator != 1 or m.numerator >= (1 << qf.M_BITS) or s > qf.MAX_SHIFT:
        return None
    return int(m.numerator), s


def read_qonnx_model(path: str | Path, model=None,
                     input_scale: float = 1.0 / 255.0) -> FloatModel:
    """The QONNX MLP in `path` as a FloatModel (its dequantized weights, for comments and
    the float accuracy) with the model's own integers in .quantized."""
    path = Path(path)
    model = model if model is not None else load(path)
    graph = model.graph
    consts = constants(graph)
    # Quant nodes of constants (weights, biases): their integers, by output name
    quantized: dict[str, tuple[dict, np.ndarray]] = {}
    for node in graph.node:
        if node.op_type in ("BipolarQuant", "Trunc", "MultiThreshold"):
            what = {"BipolarQuant": "1-bit (bipolar) quantization is not built",
                    "Trunc": "truncation (of an average pool) is not read",
                    "MultiThreshold": "a FINN-streamlined graph is not read; export the "
                                      "Brevitas model with export_qonnx, before FINN's "
                                      "transformations"}[node.op_type]
            raise _fail(path, f"node {_node_name(node)} is a QONNX {node.op_type}: {what}")
        if node.op_type == "Quant" and node.input[0] in consts:
            q = _quant_values(path, node, consts)
            quantized[node.output[0]] = (q, _integers(path, q, consts[node.input[0]]))
    known = consts.keys() | quantized.keys()     # constants, and the weights made of them
    tensor = graph_input(path, graph, consts)
    consumers = consumers_of(graph, known)

    layers: list[dict] = []     # per layer: W (ints), sw, bias (ints or floats), act quant
    input_q: dict | None = None
    # where the chain is: input (before the first layer), matmul (a MatMul waiting for its
    # bias), layer (after a layer), relu (after its Relu), act (its activations quantized),
    # layer_quant (a Quant right after a layer: a Relu must follow, or it is the output's)
    state = "input"
    head = None
    final_quant = None
    while True:
        node, ends_in = next_node(path, consumers, tensor, bool(layers))
        if node is None:
            head = ends_in
            break
        op = node.op_type
        # (a Quant's other inputs are checked as its scale, zero point and bit width)
        others = ([n for n in node.input if n and n != tensor] if op == "Quant" else
                  check_no_join(path, node, tensor, known, SUPPORTED))
        if op in HEAD_OPS:
            if not layers:
                raise _fail(path, f"node {_node_name(node)} ({op}) before any layer")
            head = op
            break
        if op == "Cast" and _attr(node, "to", 0) not in FLOAT_TYPES:
            raise _fail(path, f"node {_node_name(node)} (Cast) to a non-float type")
        if op in PASS_OPS:
            if layers and op not in {"Identity", "Dropout", "Cast"}:
                raise _fail(path, f"node {_node_name(node)} ({op}) between layers: only "
                                  "before the first layer is it read")
            tensor = node.output[0]
            continue
        if op == "Quant":
            q = _quant_values(path, node, consts)
            if np.asarray(q["scale"]).size != 1:
                raise _fail(path, f"node {_node_name(node)} (Quant): a step per channel on "
                                  "activations; bram-mlp's activations have one step per layer")
            if state == "input":
                if input_q is not None:
                    raise _fail(path, f"node {_node_name(node)} (Quant): a second Quant on "
                                      "the input")
                if q["signed"]:
                    raise _fail(path, f"node {_node_name(node)} (Quant): a signed input; "
                                      "bram-mlp's inputs are unsigned codes (pixels)")
                input_q = q
            elif state in ("relu", "layer"):
                if layers[-1].get("act") is not None:
                    raise _fail(path, f"node {_node_name(node)} (Quant): a second Quant "
                                      f"after layer {len(layers) - 1}")
                layers[-1]["act"] = q
                state = "act" if state == "relu" else "layer_quant"
            else:
                raise _fail(path, f"node {_node_name(node)} (Quant) after a quantized "
                                  "tensor: only one Quant between two layers is read")
            tensor = node.output[0]
            continue
        if op in ("Gemm", "MatMul"):
            if state in ("layer", "layer_quant"):
                raise _fail(path, f"node {_node_name(node)} ({op}) follows a layer without "
                                  "a Relu between them; hidden layers need a Relu")
            if state == "relu":
                raise _fail(path, f"node {_node_name(node)} ({op}): layer "
                                  f"{len(layers) - 1}'s Relu output is not quantized (no "
                                  "Quant): the hardware's activations are integers")
            if node.input[0] != tensor:
                raise _fail(path, f"node {_node_name(node)} ({op}): the activations must be "
                                  "the first input")
            wname = node.input[1]
            if wname not in quantized:
                raise _fail(path, f"node {_node_name(node)} ({op}): its weights do not pass "
                                  "through a Quant (a float layer in a QONNX model); "
                                  "quantize every layer's weights (QuantLinear)")
            wq, Wint = quantized[wname]
            if op == "Gemm":
                if _attr(node, "transA", 0) or float(_attr(node, "alpha", 1.0)) != 1.0 \
                        or float(_attr(node, "beta", 1.0)) != 1.0:
                    raise _fail(path, f"node {_node_name(node)} (Gemm) with transA, alpha or "
                                      "beta: not read")
                trans = bool(_attr(node, "transB", 0))
            else:
                trans = False
            W = Wint if trans else Wint.T
            scale = np.asarray(wq["scale"], dtype=np.float64)
            if scale.size == 1:
                sw = np.full(W.shape[0], float(scale.ravel()[0]))
            elif scale.size == W.shape[0]:
                sw = scale.ravel().copy()
            else:
                raise _fail(path, f"node {_node_name(node)} ({op}): a weight step of shape "
                                  f"{scale.shape} for {W.shape[0]} neurons")
            layer = {"W": W, "sw": sw, "wq": wq, "node": node, "bias": None, "act": None}
            if op == "Gemm" and len(node.input) > 2 and node.input[2]:
                layer["bias"] = node.input[2]
            layers.append(layer)
            state = "layer" if op == "Gemm" else "matmul"
        elif op == "Add" and state == "matmul":
            layers[-1]["bias"] = others[0]
            state = "layer"
        elif op in AFFINE_OPS:
            if state not in ("layer", "matmul"):
                raise _fail(path, f"node {_node_name(node)} ({op}) not right after a layer: "
                                  "a BatchNormalization, Mul, Div, Add or Sub is folded only "
                                  "between a layer and its Relu")
            layers[-1]["affine"] = _compose(path, node, consts, layers[-1])
            layers[-1].setdefault("folded", []).append(f"{op} {_node_name(node)}")
            state = "layer"
        elif op == "Relu":
            if state == "layer_quant":       # Quant, then Relu: a signed activation
                state = "act"
            elif state in ("layer", "matmul"):
                state = "relu"
            else:
                raise _fail(path, f"node {_node_name(node)} (Relu) not after a layer")
        else:
            raise _fail(path, f"node {_node_name(node)} is a {op}, which bram-mlp does not "
                              f"build; it reads QONNX MLPs of {SUPPORTED}")
        tensor = node.output[0]
    if not layers:
        raise _fail(path, f"no fully connected layer found ({SUPPORTED})")
    if state in ("relu", "act"):
        raise _fail(path, "the last layer is followed by a Relu: the hardware's last layer "
                          "has no activation (its logits go to the argmax)")
    if state == "layer_quant":
        final_quant = layers[-1]["act"]
        layers[-1]["act"] = None
    return _to_model(path, model, layers, input_q, head, final_quant, consts, quantized,
                     input_scale)


def _to_model(path: Path, model, layers: list[dict], input_q: dict | None, head,
              final_quant: dict | None, consts: dict, quantized: dict,
              input_scale: float) -> FloatModel:
    """The contract's integers from the layers the walk found, with a warning per
    approximation."""
    warnings: list[str] = []
    n = len(layers)
    if input_q is not None:
        input_bits = input_q["bits"]
        sx = float(np.asarray(input_q["scale"]).ravel()[0])
    else:
        input_bits, sx = 8, float(input_scale)
        warnings.append(f"the model's input has no Quant: taken as 8-bit codes times "
                        f"{sx:.6g}, as a float model's")
    input_scale_used = sx
    act_bits_all = {_act_bits(l["act"]) for l in layers[:-1]}
    if len(act_bits_all) > 1:
        raise _fail(path, f"the hidden layers' activations have {sorted(act_bits_all)} bits: "
                          "the hardware has one activation width")
    act_bits = act_bits_all.pop() if act_bits_all else 8
    weight_bits = max(l["wq"]["bits"] for l in layers)
    folded: list[str] = []
    Ws, bs, Ms, Ss, rounds, sws, sxs, Wf, bf = [], [], [], [], [], [], [], [], []
    for k, layer in enumerate(layers):
        last = k == n - 1
        W, sw = layer["W"], layer["sw"]
        bias_value = None
        affine = layer.get("affine")
        if affine is not None and last and W.shape[0] > 1 and np.unique(affine[0]).size == 1 \
                and affine[0][0] > 0 and np.unique(affine[1]).size == 1:
            # one positive scale and one offset for all logits (FINN's TensorNorm): the
            # class is the same without them
            folded.append(f"layer {k}: {', '.join(layer['folded'])} dropped (one positive "
                          "scale and one offset for every logit: the class is the same)")
            affine = None
        if affine is not None:
            # z -> a z + c per neuron: a's sign goes into the neuron's weights, |a| into its
            # step (so the requantization), and the bias becomes a b + c
            a, c = affine
            sign = np.where(a < 0, -1, 1)
            W = W * sign[:, None]
            W[a == 0] = 0
            bias_value = a * _bias_value(layer, consts, quantized) + c
            sw = np.where(a == 0, sw, sw * np.abs(a))
            folded.append(f"layer {k}: {', '.join(layer['folded'])} folded into its "
                          "weights' signs, its step and its bias")
        if last and np.unique(sw).size > 1:
            # the contract's last layer has one step (argmax over logits at different steps
            # would rank the classes differently): bring the neurons to the largest
            common = float(sw.max())
            lo, hi = qf.int_range(weight_bits)
            W2 = np.clip(qf.round_half_away(W * (sw / common)[:, None]), lo, hi).astype(np.int64)
            changed = int(np.sum(W2 * common != W * sw[:, None]))
            warnings.append(f"layer {k} (the last) has a weight step per neuron "
                            f"({sw.min():.3g} .. {common:.3g}): brought to one step "
                            f"{common:.3g}, {changed} of {W.size} weights change (the "
                            "hardware's logits share one step)")
            W, sw = W2, np.full(W.shape[0], common)
        step = sx * sw
        if bias_value is None:
            bias = _bias(path, layer, consts, quantized, step, k, warnings)
        else:
            bias = _on_step(bias_value, step, k, warnings)
        Ws.append(W)
        bs.append(bias)
        sws.append(sw)
        sxs.append(sx)
        Wf.append(W * sw[:, None])
        bf.append(bias * step)
        if last:
            break
        act = layer["act"]
        sy = float(np.asarray(act["scale"]).ravel()[0])
        rounding = ROUNDING.get(act["rounding"])
        if rounding is None:
            raise _fail(path, f"node {_node_name(act['node'])} (Quant): rounding mode "
                              f"{act['rounding']} on activations is not built (ROUND, "
                              "HALF_EVEN and HALF_UP are)")
        M = np.zeros(W.shape[0], np.int64)
        S = np.zeros(W.shape[0], np.int64)
        worst = 0.0
        for j, r in enumerate(step / sy):
            exact = exact_requant(float(r))
            if exact is None:
                m, s = qf.requant_params(np.array([r]), "integer")
                M[j], S[j] = int(m[0]), int(s[0])
                worst = max(worst, abs(M[j] / 2.0 ** S[j] - r) / r)
            else:
                M[j], S[j] = exact
        if worst > 0:
            warnings.append(f"layer {k}: the requantization ratio sx * sw / sy is not a "
                            f"power of two times an integer below 2^{qf.M_BITS}: M / 2^S "
                            f"approximates it to {worst:.2g} (relative); results may differ "
                            "from the model's by one step where a value lies that close to "
                            "a rounding edge")
        Ms.append(M)
        Ss.append(S)
        rounds.append(rounding)
        sx = sy
    if final_quant is not None:
        warnings.append("the last layer's output Quant is dropped: the hardware's logits are "
                        "the accumulators (the class is the same unless that Quant made "
                        "two logits equal)")
    check_layers(path, Wf, bf)
    # a sign flipped by a fold may need one bit more (-2^(b-1) -> 2^(b-1))
    weight_bits = max(weight_bits, *(qf.signed_bits_for(int(W.min()), int(W.max())) for W in Ws))
    q = qf.QuantizedModel(input_bits=input_bits, weight_bits=weight_bits, act_bits=act_bits,
                          encoding="integer", W=Ws, b=bs, M=Ms, S=Ss, sw=sws, sx=sxs,
                          round=rounds)
    try:
        q.validate()
    except qf.QuantizationError as exc:
        raise _fail(path, str(exc)) from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    origin = {"format": "qonnx", "exporter": model.producer_name or "unknown",
              "exporter_version": model.producer_version or "", "opset": opset,
              "dropped_head": head,
              "quantization": (f"from the model (QONNX Quant nodes): weights {weight_bits} "
                               f"bits, activations {act_bits} bits, input {input_bits} bits "
                               f"step {input_scale_used:.6g}, ties rounded "
                               f"{'to even' if 'half_even' in rounds else 'up'}"),
              "exact": not warnings or all(w.startswith("the last layer's output Quant")
                                           for w in warnings),
              "folded": folded, "warnings": warnings}
    return FloatModel(W=Wf, b=bf, input_scale=input_scale_used, source=str(path),
                      origin=origin, quantized=q)


def _compose(path: Path, node, consts: dict, layer: dict) -> tuple[np.ndarray, np.ndarray]:
    """The layer's affine map z -> a z + c (per neuron) after `node` is applied too."""
    n = layer["W"].shape[0]
    a, c = layer.get("affine", (np.ones(n), np.zeros(n)))

    def const(name: str, what: str) -> np.ndarray:
        if name not in consts:
            raise _fail(path, f"node {_node_name(node)} ({node.op_type}): its {what} is not "
                              "a constant")
        v = np.asarray(consts[name], dtype=np.float64).ravel()
        if v.size not in (1, n):
            raise _fail(path, f"node {_node_name(node)} ({node.op_type}): {v.size} values "
                              f"for {n} neurons")
        return np.broadcast_to(v, (n,)).astype(np.float64)

    op = node.op_type
    if op == "BatchNormalization":
        if len(node.input) < 5:
            raise _fail(path, f"node {_node_name(node)} (BatchNormalization): 5 inputs needed")
        gamma, beta, mean, var = (const(x, w) for x, w in zip(
            node.input[1:5], ("scale", "bias", "mean", "variance")))
        k = gamma / np.sqrt(var + float(_attr(node, "epsilon", 1e-5)))
        return a * k, (c - mean) * k + beta
    other = const(node.input[1] if node.input[0] != node.input[1] else node.input[0],
                  "other input")
    if op == "Mul":
        return a * other, c * other
    if op == "Div":
        if np.any(other == 0):
            raise _fail(path, f"node {_node_name(node)} (Div): division by 0")
        return a / other, c / other
    if op == "Sub" and node.input[1] not in consts:
        raise _fail(path, f"node {_node_name(node)} (Sub): only a constant subtracted is read")
    return a, c + other if op == "Add" else c - other


def _act_bits(q: dict) -> int:
    """A hidden layer's activation width: unsigned bits, or a signed Quant's positive half
    (a Quant before the Relu)."""
    return q["bits"] - 1 if q["signed"] else q["bits"]


def _bias(path: Path, layer: dict, consts: dict, quantized: dict, step: np.ndarray, k: int,
          warnings: list[str]) -> np.ndarray:
    """Layer k's bias at the accumulator step: the model's integers when its Quant's step
    is the accumulator's, else rounded there (with a warning saying how far)."""
    name = layer["bias"]
    n_out = layer["W"].shape[0]
    if name is None:
        return np.zeros(n_out, np.int64)
    if name not in quantized:       # a float bias
        return _on_step(_bias_value(layer, consts, quantized), step, k, warnings)
    bq, bint = quantized[name]
    if np.asarray(bq["scale"]).size not in (1, n_out):
        raise _fail(path, f"layer {k}: a bias step of shape {np.shape(bq['scale'])}")
    bstep = np.broadcast_to(np.asarray(bq["scale"], dtype=np.float64).ravel(), (n_out,))
    bint = np.broadcast_to(bint.ravel(), (n_out,)).astype(np.int64)
    ratio = bstep / step
    if np.all(ratio == np.round(ratio)):   # Int32Bias: the accumulator's step, exactly
        return bint * np.round(ratio).astype(np.int64)
    return _on_step(bint * bstep, step, k, warnings)


def _bias_value(layer: dict, consts: dict, quantized: dict) -> np.ndarray:
    """The layer's bias as the model computes it (float64, per neuron)."""
    name = layer["bias"]
    n_out = layer["W"].shape[0]
    if name is None:
        return np.zeros(n_out)
    if name in quantized:
        bq, bint = quantized[name]
        return (np.broadcast_to(bint.ravel(), (n_out,))
                * np.broadcast_to(np.asarray(bq["scale"], dtype=np.float64).ravel(), (n_out,)))
    return np.broadcast_to(np.asarray(consts[name], dtype=np.float64).ravel(), (n_out,))


def _on_step(value: np.ndarray, step: np.ndarray, k: int, warnings: list[str]) -> np.ndarray:
    """A bias value rounded to the accumulator step, with a warning if it was off it."""
    b = qf.round_half_away(value / step).astype(np.int64)
    err = float(np.abs(b - value / step).max())
    if err > 0:
        warnings.append(f"layer {k}: the bias is not on the accumulator step sx * sw: "
                        f"rounded to it, off by up to {err:.2g} of a step")
    return b
