"""Reading a float MLP from a Keras file, .keras (Keras 3) or .h5 (legacy HDF5), with
h5py: no TensorFlow, no Keras (docs/import.md).

What is read: a Sequential or Functional model that is one chain of
  Dense (activation relu in a hidden layer; linear or softmax in the last, softmax dropped:
  the argmax is unchanged), Activation / ReLU layers (relu; a final softmax or linear),
  and InputLayer, Flatten, Dropout (passed over).
Anything else (Conv2D, another activation, a merge of two paths) is refused with one line
naming the layer and its class. The input is the pixel codes times input_scale (1/255),
as for the .npz models.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from model_files import FloatModel, InputError, check_layers

PASS_LAYERS = {"InputLayer", "Flatten", "Dropout"}
SUPPORTED = "Dense (relu; a final linear or softmax), ReLU/Activation, Flatten, Dropout"


def _fail(path: Path, text: str) -> InputError:
    return InputError(f"{path}: {text}")


def _inbound_names(layer: dict) -> set[str]:
    """The names of the layers a Functional model's layer takes its input from (Keras 3's
    keras_history, or the legacy [[name, node, tensor, kwargs]] lists)."""
    names: set[str] = set()

    def walk(x):
        if isinstance(x, dict):
            hist = x.get("keras_history")
            if isinstance(hist, list) and hist and isinstance(hist[0], str):
                names.add(hist[0])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            if len(x) >= 3 and isinstance(x[0], str) and isinstance(x[1], int):
                names.add(x[0])
            else:
                for v in x:
                    walk(v)

    walk(layer.get("inbound_nodes", []))
    return names


def _read_keras3(path: Path) -> tuple[dict, dict, callable]:
    """(model config, metadata, weights(layer name) -> [arrays]) of a .keras zip."""
    import h5py

    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            meta = json.loads(z.read("metadata.json")) if "metadata.json" in z.namelist() else {}
            weights = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
    except KeyError as exc:
        raise _fail(path, f"not a Keras 3 .keras archive ({exc.args[0]} missing)") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _fail(path, f"not a readable .keras file (truncated or not Keras: "
                          f"{exc.__class__.__name__})") from None

    def layer_weights(name: str) -> list[np.ndarray]:
        group = weights.get(f"layers/{name}/vars")
        if group is None:
            raise _fail(path, f"layer '{name}' has no weights in model.weights.h5")
        return [np.asarray(group[k]) for k in sorted(group, key=int)]

    return config, meta, layer_weights


def _read_h5(path: Path) -> tuple[dict, dict, callable]:
    """(model config, metadata, weights(layer name) -> [arrays]) of a legacy .h5 file."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise _fail(path, f"not a readable HDF5 file (truncated or not Keras: "
                          f"{str(exc)[:60]})") from None
    if "model_config" not in f.attrs:
        raise _fail(path, "an HDF5 file without a Keras model_config (weights only? save "
                          "the whole model: model.save(path))")
    raw = f.attrs["model_config"]
    config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    meta = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in f.attrs.items()
            if k in ("keras_version", "backend")}
    root = f["model_weights"] if "model_weights" in f else f

    def layer_weights(name: str) -> list[np.ndarray]:
        if name not in root:
            raise _fail(path, f"layer '{name}' has no weights in the file")
        g = root[name]
        names = [n.decode() if isinstance(n, bytes) else str(n)
                 for n in g.attrs.get("weight_names", [])]
        return [np.asarray(g[n]) for n in names]

    return config, meta, layer_weights


def read_keras_model(path: str | Path, input_scale: float = 1.0 / 255.0) -> FloatModel:
    """The float MLP in a .keras or .h5 file as a FloatModel; InputError (one line) for
    anything that is not such an MLP."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, expected a .keras or .h5 model file")
    config, meta, layer_weights = (_read_keras3(path) if path.suffix.lower() == ".keras"
                                   else _read_h5(path))
    kind = config.get("class_name")
    if kind not in ("Sequential", "Functional", "Model"):
        raise _fail(path, f"a Keras {kind}, expected a Sequential or Functional model")
    layers = config.get("config", {}).get("layers", [])
    Ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    activated = True   # the tensor so far is the input or a relu's output
    head = None
    previous = None
    for i, layer in enumerate(layers):
        cls = layer.get("class_name")
        cfg = layer.get("config", {})
        name = cfg.get("name", f"#{i}")
        if kind != "Sequential" and cls != "InputLayer":
            inbound = _inbound_names(layer)
            if inbound != {previous}:
                raise _fail(path, f"layer '{name}' ({cls}) takes its input from "
                                  f"{sorted(inbound) or 'nothing'}, not from the layer before "
                                  f"('{previous}'): a skip connection or a branch; bram-mlp "
                                  f"reads one chain of layers")
        previous = name
        if head is not None and cls not in PASS_LAYERS:
            raise _fail(path, f"layer '{name}' ({cls}) after the final {head}")
        if cls in PASS_LAYERS:
            if cls == "Flatten" and Ws:
                raise _fail(path, f"layer '{name}' (Flatten) between layers")
            continue
        if cls == "Dense":
            if not activated:
                raise _fail(path, f"layer '{name}' (Dense) follows a layer without a relu "
                                  "between them; hidden layers need a relu")
            arrays = layer_weights(name)
            kernel = np.asarray(arrays[0], dtype=np.float64)
            if kernel.ndim != 2:
                raise _fail(path, f"layer '{name}' (Dense): a kernel of shape {kernel.shape}")
            bias = (np.asarray(arrays[1], dtype=np.float64) if cfg.get("use_bias", True)
                    and len(arrays) > 1 else np.zeros(kernel.shape[1]))
            Ws.append(kernel.T)
            bs.append(bias.reshape(-1))
            activated = False
            act = cfg.get("activation", "linear")
        elif cls == "ReLU":
            act = "relu"
        elif cls == "Activation":
            act = cfg.get("activation", "linear")
        else:
            raise _fail(path, f"layer '{name}' is a {cls}, which bram-mlp does not build; it "
                              f"reads MLPs of {SUPPORTED}")
        if isinstance(act, dict):   # a serialized activation object
            act = act.get("config", {}).get("name", act.get("class_name", "?"))
        if act == "relu":
            if not Ws or activated:
                raise _fail(path, f"layer '{name}' ({cls}): a relu not after a layer")
            activated = True
        elif act == "softmax":
            head = "softmax"
        elif act != "linear":
            raise _fail(path, f"layer '{name}' ({cls}) has activation '{act}': bram-mlp "
                              "builds relu between layers and a linear (or softmax) last layer")
    if not Ws:
        raise _fail(path, f"no Dense layer found ({SUPPORTED})")
    if activated:
        raise _fail(path, "the last Dense layer is followed by a relu: the hardware's last "
                          "layer has no activation (its logits go to the argmax)")
    check_layers(path, Ws, bs, layer="Dense layer", units="units")
    origin = {"format": "keras" if path.suffix.lower() == ".keras" else "keras-h5",
              "exporter": "keras", "exporter_version": meta.get("keras_version", ""),
              "backend": meta.get("backend", ""), "dropped_head": head,
              "quantization": "post-training (bram-mlp)"}
    return FloatModel(W=Ws, b=bs, input_scale=input_scale, source=str(path), origin=origin)
