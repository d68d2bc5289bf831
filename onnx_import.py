"""Reading a float MLP from an ONNX file (docs/import.md).

What is read: one chain from the graph's input to its output of
  Gemm, or MatMul followed by Add (a fully connected layer, weights and bias from the
  graph's initializers), Relu between the layers, and, before the first layer, Flatten
  and Reshape to (batch, n); Cast to a float type, Identity and Dropout anywhere;
and after the last layer a Softmax, LogSoftmax or ArgMax, which are dropped (the argmax of
the logits is unchanged): whatever follows them (skl2onnx's class labels, ZipMap) too.
Anything else (a convolution, another activation, two paths that join again) is refused
with one line naming the node and its op. Only the `onnx` package reads the file; no
runtime is needed. The input is taken as today's .npz models take it: the pixel codes
times input_scale (1/255 unless the caller gives another).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from model_files import FloatModel, InputError, check_layers

# ops that pass a (batch, n) tensor on unchanged before the first layer
PASS_OPS = {"Cast", "Identity", "Flatten", "Reshape", "Dropout"}
# Cast targets that keep a float a float (TensorProto FLOAT, DOUBLE, FLOAT16, BFLOAT16)
FLOAT_TYPES = {1, 11, 10, 16}
# ops after the last layer that leave the argmax of the logits as it is: dropped
HEAD_OPS = {"Softmax", "LogSoftmax", "ArgMax"}
# ONNX's QDQ quantization ops: refused with their own message (QONNX's Quant & co. are
# read by qonnx_import.py)
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearMatMul", "MatMulInteger"}
QONNX_OPS = {"Quant", "BipolarQuant", "Trunc", "MultiThreshold"}
SUPPORTED = ("Gemm, MatMul + Add, Relu, Flatten/Reshape, and a final Softmax/LogSoftmax/"
             "ArgMax")


def _fail(path: Path, text: str) -> InputError:
    return InputError(f"{path}: {text}")


def load(path: Path):
    """The ONNX model in path (no external data), or InputError naming the file."""
    import onnx
    from google.protobuf.message import DecodeError

    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, expected an .onnx model file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError, RuntimeError) as exc:
        raise _fail(path, f"not a readable ONNX model (truncated or not ONNX: "
                          f"{exc.__class__.__name__})") from None
    if not model.graph.node:
        raise _fail(path, "not a readable ONNX model (no graph nodes: truncated, or not "
                          "ONNX)")
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise _fail(path, f"initializer '{t.name}' is stored in an external data file; "
                              "save the model in one file (onnx.save(model, path, "
                              "save_as_external_data=False))")
    return model


def _node_name(node) -> str:
    return f"'{node.name}'" if node.name else f"(output '{node.output[0]}')"


def _attr(node, name: str, default):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def constants(graph) -> dict[str, np.ndarray]:
    """The graph's constant tensors by name: its initializers and its Constant nodes'
    values (Reshape's shape, some exporters' weights)."""
    import onnx.numpy_helper

    consts = {t.name: onnx.numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = _attr(node, "value", None)
            if value is not None:
                consts[node.output[0]] = onnx.numpy_helper.to_array(value)
    return consts


def graph_input(path: Path, graph, known) -> str:
    """The name of the graph's one computed input (not a constant in `known`)."""
    inputs = [i for i in graph.input if i.name not in known]
    if len(inputs) != 1:
        raise _fail(path, f"{len(inputs)} graph inputs ({', '.join(i.name for i in inputs)}); "
                          "an MLP has one")
    return inputs[0].name


def consumers_of(graph, known) -> dict[str, list]:
    """For each computed tensor, the nodes that read it; a node that makes a tensor in
    `known` (a constant, or what a reader computed of constants) is no step of the chain."""
    consumers: dict[str, list] = {}
    for node in graph.node:
        if node.output and node.output[0] in known:
            continue
        for name in node.input:
            if name and name not in known:
                consumers.setdefault(name, []).append(node)
    return consumers


def next_node(path: Path, consumers: dict, tensor: str, have_layers: bool):
    """The chain's next step after `tensor`: (node, None); (None, op) when the tensor ends
    in heads after the last layer (Softmax, ArgMax, ...: dropped); (None, None) at the
    graph's end. A branch is refused."""
    nodes = consumers.get(tensor, [])
    if not nodes:
        return None, None
    if len(nodes) > 1:
        ops = ", ".join(f"{n.op_type} {_node_name(n)}" for n in nodes)
        if all(n.op_type in HEAD_OPS | {"Identity"} for n in nodes) and have_layers:
            return None, nodes[0].op_type
        raise _fail(path, f"tensor '{tensor}' feeds {len(nodes)} nodes ({ops}): a skip "
                          "connection or a branch; bram-mlp reads one chain of layers")
    return nodes[0], None


def check_no_join(path: Path, node, tensor: str, known, supported: str) -> list[str]:
    """The node's other inputs (all constants in `known`, else a skip connection)."""
    others = [n for n in node.input if n and n != tensor]
    if any(n not in known for n in others):
        raise _fail(path, f"node {_node_name(node)} ({node.op_type}) joins '{tensor}' with "
                          "another computed tensor: a skip connection; bram-mlp reads one "
                          f"chain of layers ({supported})")
    return others


def read_onnx_model(path: str | Path, input_scale: float = 1.0 / 255.0,
                    model=None) -> FloatModel:
    """The float MLP in an ONNX file as a FloatModel (W[l] (n_out, n_in), b[l]); origin
    says the format, the exporter and the opset. InputError (one line) for anything that
    is not such an MLP."""
    path = Path(path)
    model = model if model is not None else load(path)
    graph = model.graph
    consts = constants(graph)
    for node in graph.node:  # quantized ops: refused with their own message
        if node.op_type in QONNX_OPS:
            raise _fail(path, f"node {_node_name(node)} is a QONNX {node.op_type}: a "
                              "quantized model, read by qonnx_import.py (model_import."
                              "read_model dispatches QONNX files there)")
        if node.op_type in QDQ_OPS:
            raise _fail(path, f"node {_node_name(node)} is an ONNX {node.op_type} (a "
                              "quantized ONNX model in QDQ form): not read; export the "
                              "float model (torch.onnx.export) and let bram-mlp quantize "
                              "it, or export QONNX (Brevitas' export_qonnx)")
    tensor = graph_input(path, graph, consts)
    consumers = consumers_of(graph, consts)

    Ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    pending = None      # a MatMul's weights waiting for the Add of its bias
    activated = True    # the tensor so far is an input or a ReLU's output
    head = None         # the op after the last layer that ended the chain

    def finish_pending():
        nonlocal pending
        if pending is not None:
            Ws.append(pending)
            bs.append(np.zeros(pending.shape[0]))
            pending = None

    while True:
        node, ends_in = next_node(path, consumers, tensor, bool(Ws))
        if node is None:
            head = ends_in
            break
        op = node.op_type
        others = check_no_join(path, node, tensor, consts, SUPPORTED)
        if op in HEAD_OPS:
            if not Ws and pending is None:
                raise _fail(path, f"node {_node_name(node)} ({op}) before any layer")
            head = op
            break
        if op == "Cast" and _attr(node, "to", 0) not in FLOAT_TYPES:
            raise _fail(path, f"node {_node_name(node)} (Cast) to a non-float type "
                              f"{_attr(node, 'to', 0)}: the model must compute in float")
        if op in PASS_OPS:
            if Ws or pending is not None:
                if op in {"Identity", "Dropout", "Cast"}:  # a float Cast: Keras' torch export
                    tensor = node.output[0]
                    continue
                raise _fail(path, f"node {_node_name(node)} ({op}) between layers: only "
                                  f"before the first layer is it read")
            if op == "Reshape":
                shape = consts.get(node.input[1]) if len(node.input) > 1 else None
                if shape is None or len(shape) != 2:
                    raise _fail(path, f"node {_node_name(node)} (Reshape) to "
                                      f"{None if shape is None else list(shape)}: only a "
                                      "reshape to (batch, n) is read")
            if op == "Flatten" and _attr(node, "axis", 1) != 1:
                raise _fail(path, f"node {_node_name(node)} (Flatten) with axis "
                                  f"{_attr(node, 'axis', 1)}: only axis 1 is read")
            tensor = node.output[0]
            continue
        if op == "Gemm":
            finish_pending()
            if _attr(node, "transA", 0):
                raise _fail(path, f"node {_node_name(node)} (Gemm) with transA = 1")
            if node.input[0] != tensor or len(node.input) < 2 or node.input[1] not in consts:
                raise _fail(path, f"node {_node_name(node)} (Gemm): the weights must be a "
                                  f"constant second input")
            B = np.asarray(consts[node.input[1]], dtype=np.float64)
            W = (B if _attr(node, "transB", 0) else B.T) * float(_attr(node, "alpha", 1.0))
            if len(node.input) > 2 and node.input[2]:
                b = np.asarray(consts[node.input[2]], dtype=np.float64).reshape(-1)
                b = b * float(_attr(node, "beta", 1.0))
                if b.size == 1:
                    b = np.full(W.shape[0], b[0])
            else:
                b = np.zeros(W.shape[0])
            if W.ndim != 2 or b.shape != (W.shape[0],):
                raise _fail(path, f"node {_node_name(node)} (Gemm): weights {B.shape} and "
                                  f"bias {b.shape} do not make a layer")
            if not activated:
                raise _fail(path, f"node {_node_name(node)} (Gemm) follows a layer without "
                                  "a Relu between them; hidden layers need a Relu")
            Ws.append(W)
            bs.append(b)
            activated = False
        elif op == "MatMul":
            finish_pending()
            if node.input[0] != tensor or node.input[1] not in consts:
                raise _fail(path, f"node {_node_name(node)} (MatMul): the weights must be a "
                                  f"constant second input")
            B = np.asarray(consts[node.input[1]], dtype=np.float64)
            if B.ndim != 2:
                raise _fail(path, f"node {_node_name(node)} (MatMul): weights of shape "
                                  f"{B.shape}, expected (n_in, n_out)")
            if not activated:
                raise _fail(path, f"node {_node_name(node)} (MatMul) follows a layer "
                                  "without a Relu between them; hidden layers need a Relu")
            pending = B.T
            activated = False
        elif op == "Add":
            if pending is None:
                raise _fail(path, f"node {_node_name(node)} (Add) not after a MatMul: only "
                                  "a layer's bias is read as an Add")
            b = np.asarray(consts[others[0]], dtype=np.float64).reshape(-1)
            if b.size == 1:
                b = np.full(pending.shape[0], b[0])
            if b.shape != (pending.shape[0],):
                raise _fail(path, f"node {_node_name(node)} (Add): a bias of shape "
                                  f"{consts[others[0]].shape} for {pending.shape[0]} neurons")
            Ws.append(pending)
            bs.append(b)
            pending = None
        elif op == "Relu":
            finish_pending()
            if not Ws or activated:
                raise _fail(path, f"node {_node_name(node)} (Relu) not after a layer")
            activated = True
        else:
            raise _fail(path, f"node {_node_name(node)} is a {op}, which bram-mlp does not "
                              f"build; it reads MLPs of {SUPPORTED}")
        tensor = node.output[0]
    finish_pending()
    if not Ws:
        raise _fail(path, f"no fully connected layer found ({SUPPORTED})")
    if activated:
        raise _fail(path, "the last layer is followed by a Relu: the hardware's last layer "
                          "has no activation (its logits go to the argmax); export the model "
                          "without it")
    check_layers(path, Ws, bs)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    origin = {"format": "onnx", "exporter": model.producer_name or "unknown",
              "exporter_version": model.producer_version or "", "opset": opset,
              "dropped_head": head, "quantization": "post-training (bram-mlp)"}
    return FloatModel(W=Ws, b=bs, input_scale=input_scale, source=str(path), origin=origin)
