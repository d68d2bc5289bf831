"""One door for every model format: read_model(path) -> FloatModel, chosen by the file's
suffix: .onnx (onnx_import.py; a QONNX one, with Quant nodes: qonnx_import.py), .keras /
.h5 (keras_import.py), else bram-mlp's own .npz (model_files.py). Each reader raises
model_files.InputError with one line that names the file and the problem."""
from __future__ import annotations

from pathlib import Path

from model_files import FloatModel, read_float_model


def read_model(path: str | Path) -> FloatModel:
    """The float MLP in `path`: an .onnx, .keras or .h5 file (docs/import.md) or an .npz
    (README)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        import onnx_import   # the onnx package is loaded only for ONNX files
        import qonnx_import

        model = onnx_import.load(path)
        if qonnx_import.is_qonnx(model):   # Brevitas / FINN: built from its own integers
            return qonnx_import.read_qonnx_model(path, model)
        return onnx_import.read_onnx_model(path, model=model)
    if suffix in (".keras", ".h5", ".hdf5"):
        import keras_import

        return keras_import.read_keras_model(path)
    return read_float_model(path)
