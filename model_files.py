"""Reading and checking the files users hand to bram-mlp (float models, input arrays).

Every problem raises InputError with one line that names the file and says what is wrong;
the command-line tools print that line and exit with status 2, without a traceback.
Files are always read with allow_pickle=False.
"""
from __future__ import annotations

import argparse
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from output_files import name_too_long


class InputError(ValueError):
    """A user-supplied file or option is unusable; the message says why."""


@dataclass
class FloatModel:
    """A float MLP as in DESIGN.md: W[l] (n_out, n_in), b[l] (n_out,)."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    input_scale: float = 1.0 / 255.0
    calibration: np.ndarray | None = None
    source: str = "<memory>"
    # where the model came from: format, exporter, opset, what quantization is taken from
    # it (report.json "model_origin"); None: an .npz of our own
    origin: dict | None = None
    # the model's own integers (a QONNX model, qonnx_import.py): the generator builds them
    # as they are instead of quantizing W and b (then the model's dequantized weights)
    quantized: object | None = None

    @property
    def topology(self) -> list[int]:
        return [self.W[0].shape[1]] + [w.shape[0] for w in self.W]


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected an .npz model file")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x93NUMPY"):
        raise InputError(f"{path}: a single .npy array, not an .npz model; save the model "
                         "with np.savez(path, W0=..., b0=..., ...)")
    if not magic.startswith(b"PK"):
        raise InputError(f"{path}: not an .npz file (numpy's np.savez archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {}
            for key in data.files:
                try:
                    out[key] = data[key]
                except ValueError as exc:  # object arrays need pickle
                    if "pickle" in str(exc).lower():
                        raise InputError(f"{path}: array '{key}' holds Python objects "
                                         "(pickled); save plain numeric arrays") from None
                    raise InputError(f"{path}: array '{key}' is unreadable: {exc}") from None
                _check_member(path, key, out[key])
            return out
    except InputError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc.__class__.__name__}: "
                         f"{str(exc)[:80]})") from None


def _check_member(path: Path, key: str, value) -> None:
    """np.load hands back an archive member that is not an .npy file as raw bytes."""
    if not isinstance(value, np.ndarray):
        raise InputError(f"{path}: member '{key}' is not a numpy array (.npy) file; save "
                         "the arrays with np.savez")


def _float_array(path: Path, key: str, arr: np.ndarray, ndim: int) -> np.ndarray:
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{path}: '{key}' must be numeric, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        shape = "(n_out, n_in)" if ndim == 2 else "(n_out,)"
        raise InputError(f"{path}: '{key}' must be {ndim}-D {shape}, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{path}: '{key}' is empty")
    a = arr.astype(np.float64)
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.any(np.isnan(a)) else "Inf"
        raise InputError(f"{path}: '{key}' contains {bad}")
    return a


def read_float_model(path: str | Path) -> FloatModel:
    """Read a float model .npz (W0,b0,W1,b1,... or the original lab's W[,b]); other
    formats: model_import.read_model."""
    path = Path(path)
    data = _load_npz(path)
    keys = set(data)
    if "W0" in keys:
        n = 0
        while f"W{n}" in keys:
            n += 1
        Ws, bs = [], []
        for l in range(n):
            W = _float_array(path, f"W{l}", data[f"W{l}"], 2)
            if f"b{l}" in keys:
                b = _float_array(path, f"b{l}", data[f"b{l}"], 1)
            else:
                raise InputError(f"{path}: 'W{l}' has no bias 'b{l}'")
            Ws.append(W)
            bs.append(b)
        extra = sorted(k for k in keys if re.fullmatch(r"[Wb]\d+", k) and int(k[1:]) >= n)
        if extra:
            raise InputError(f"{path}: {', '.join(extra)} found but W{n} is missing")
    elif "W" in keys:  # the original lab's single-layer file
        W = _float_array(path, "W", data["W"], 2)
        b = _float_array(path, "b", data["b"], 1) if "b" in keys else np.zeros(W.shape[0])
        Ws, bs = [W], [b]
    else:
        raise InputError(f"{path}: no weights found: expected keys W0, b0, W1, b1, ... "
                         f"(or W and b), got {sorted(keys) or 'none'}")
    for l, (W, b) in enumerate(zip(Ws, bs)):
        if b.shape[0] != W.shape[0]:
            raise InputError(f"{path}: b{l} has {b.shape[0]} entries but W{l} has "
                             f"{W.shape[0]} neurons (W{l} must be (n_out, n_in); Keras and PyTorch's "
                             "x @ W store (n_in, n_out): save W.T)")
        if l > 0 and W.shape[1] != Ws[l - 1].shape[0]:
            raise InputError(f"{path}: layers do not chain: W{l} takes {W.shape[1]} inputs "
                             f"but layer {l - 1} has {Ws[l - 1].shape[0]} neurons")
    input_scale = 1.0 / 255.0
    if "input_scale" in keys:
        s = data["input_scale"]
        if s.dtype.kind not in "fiu" or s.size != 1:
            raise InputError(f"{path}: 'input_scale' must be one number")
        input_scale = float(s.reshape(()))
        if not np.isfinite(input_scale) or input_scale <= 0:
            raise InputError(f"{path}: 'input_scale' must be a positive finite number, "
                             f"got {input_scale}")
    calibration = None
    if "calibration" in keys:
        # the dtype and shape here; the grid and the range where --input-bits is known
        # (vhdl_generator.quantize: check_input_codes), so that the error quotes them
        calibration = np.asarray(data["calibration"])
        n_in = Ws[0].shape[1]
        if calibration.dtype.kind not in "iuf" or calibration.dtype == np.bool_:
            raise InputError(f"{path}: 'calibration' must hold input codes (integers) or "
                             f"scaled floats, got dtype {calibration.dtype}")
        if calibration.ndim == 1 and calibration.size == n_in:
            calibration = calibration[None, :]
        if calibration.ndim != 2 or calibration.shape[1] != n_in or not len(calibration):
            raise InputError(f"{path}: 'calibration' must have shape (n_images, {n_in}), "
                             f"got {data['calibration'].shape}")
    return FloatModel(W=Ws, b=bs, input_scale=input_scale, calibration=calibration,
                      source=str(path))


def check_layers(path: Path, Ws: list[np.ndarray], bs: list[np.ndarray],
                 layer: str = "layer", units: str = "neurons") -> None:
    """An imported model's layers (onnx_import, keras_import): W[l] (n_out, n_in) chain
    from one layer to the next, each bias has one entry per unit, nothing is NaN or Inf;
    InputError naming the file otherwise."""
    for l in range(1, len(Ws)):
        if Ws[l].shape[1] != Ws[l - 1].shape[0]:
            raise InputError(f"{path}: layers do not chain: {layer} {l} takes "
                             f"{Ws[l].shape[1]} inputs but {layer} {l - 1} has "
                             f"{Ws[l - 1].shape[0]} {units}")
    for l, (W, b) in enumerate(zip(Ws, bs)):
        if b.shape != (W.shape[0],):
            raise InputError(f"{path}: {layer} {l}: a bias of shape {b.shape} for "
                             f"{W.shape[0]} {units}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise InputError(f"{path}: {layer} {l}'s weights or bias contain NaN or Inf")


DEFAULT_INPUT_SCALE = 1.0 / 255.0
GRID_TOLERANCE = 1e-6   # of a code step: how far a scaled float may lie off the code grid
MAX_GRID_TOLERANCE = 0.25  # of a code step: never more, whatever the float type (+ its rounding)


def check_input_codes(X: np.ndarray, n_inputs: int, input_bits: int, where: str,
                      input_scale: float = DEFAULT_INPUT_SCALE) -> np.ndarray:
    """Input images (n, n_inputs) -> input codes, int64, checked. One rule everywhere:
    an integer array holds input codes (unsigned, input_bits each, e.g. uint8 pixels); a
    float array holds the scaled values the network was trained on, and code =
    rint(x / input_scale), refused if a value lies off that grid or outside the codes'
    range. Off the grid means farther from a code than the float type's own rounding
    allows (1e-6 of a code step + 2 eps x code: what computing and storing code x
    input_scale in that type can cost), and never more than a quarter of a code step,
    whatever the float type: a type too coarse to hold the codes that closely (float16 for
    16-bit codes) is refused."""
    X = np.asarray(X)
    if X.dtype.kind not in "iuf" or X.dtype == np.bool_:
        raise InputError(f"{where}: input images must be integer codes (e.g. uint8 pixels) "
                         f"or scaled floats, got dtype {X.dtype}")
    if X.ndim == 1 and X.size == n_inputs:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise InputError(f"{where}: must have shape (n_images, {n_inputs}), got {X.shape}")
    if X.shape[0] == 0:
        raise InputError(f"{where}: holds no images")
    hi = (1 << input_bits) - 1
    if X.dtype.kind == "f":
        if not np.all(np.isfinite(X)):
            raise InputError(f"{where}: holds NaN or Inf")
        eps = float(np.finfo(X.dtype).eps)
        if eps / 2 * hi > MAX_GRID_TOLERANCE:
            raise InputError(f"{where}: {X.dtype} cannot hold {input_bits}-bit input codes "
                             f"x input_scale closely enough to tell the codes apart: pass "
                             "integer codes, or float32/float64")
        codes = X.astype(np.float64) / input_scale
        nearest = np.rint(codes)
        tolerance = np.minimum(GRID_TOLERANCE + 2 * eps * np.abs(nearest), MAX_GRID_TOLERANCE)
        off = np.abs(codes - nearest) > tolerance
        outside = (nearest < 0) | (nearest > hi)
        if off.any() or outside.any():
            bad = float(X[off | outside].flat[0])
            why = "off the code grid" if off.any() else "out of range"
            raise InputError(
                f"{where}: floats are read as scaled inputs (code x {input_scale:g}, 0.0.."
                f"{hi * input_scale:g}); {int((off | outside).sum())} values are {why} "
                f"(e.g. {bad:g}): pass integer codes (e.g. uint8 pixels 0..{hi}) or the "
                "scaled floats the network was trained on")
        X = nearest
    if X.min() < 0 or X.max() > hi:
        raise InputError(f"{where}: input codes must be in 0..{hi} ({input_bits}-bit "
                         f"unsigned), got {X.min()}..{X.max()}")
    return X.astype(np.int64)


def read_input_codes(path: str | Path, n_inputs: int, input_bits: int = 8,
                     input_scale: float = DEFAULT_INPUT_SCALE) -> np.ndarray:
    """Read X.npy (or an .npz with key X or inputs) of input images: integer codes or
    scaled floats (see check_input_codes)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        msg = "holds Python objects (pickled)" if "pickle" in str(exc).lower() else \
            f"not a readable .npy file ({exc.__class__.__name__})"
        raise InputError(f"{path}: {msg}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            key = next((k for k in ("X", "inputs", "input") if k in data.files), None)
            if key is None:
                raise InputError(f"{path}: expected an array X (n_images, {n_inputs})")
            try:
                data = data[key]
            except ValueError:
                raise InputError(f"{path}: '{key}' holds Python objects (pickled)") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise InputError(f"{path}: '{key}' is unreadable ({exc.__class__.__name__})"
                                 ) from None
            _check_member(path, key, data)
    return check_input_codes(data, n_inputs, input_bits, str(path), input_scale)


def read_test_input(path: str | Path, input_bits: int = 8,
                    input_scale: float = DEFAULT_INPUT_SCALE) -> tuple[np.ndarray, int | None]:
    """One test image as the original lab saves it: an .npz with `input` (shape (n,) or
    (1, n)) and optionally `label`. `input` holds codes as integers (e.g. uint8 pixels) or,
    as floats, the scaled inputs the network was trained on (pixels / 255, 0.0 .. 1.0),
    which become codes with rint(x / input_scale) (see check_input_codes).
    Returns (codes int64 (n,), label or None)."""
    path = Path(path)
    data = _load_npz(path)
    if "input" not in data:
        raise InputError(f"{path}: no array 'input' (expected keys input, label; has "
                         f"{', '.join(sorted(data)) or 'nothing'})")
    x = np.asarray(data["input"])
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.size == 0:
        raise InputError(f"{path}: 'input' must be one image, shape (n,) or (1, n), got "
                         f"{np.asarray(data['input']).shape}")
    codes = check_input_codes(x, x.size, input_bits, f"{path}: 'input'", input_scale)[0]
    label = None
    if "label" in data:
        lab = np.asarray(data["label"]).reshape(-1)
        if lab.size != 1 or lab.dtype.kind not in "iuf":
            raise InputError(f"{path}: 'label' must be one number, got shape "
                             f"{np.asarray(data['label']).shape}")
        label = int(lab[0])
    return codes, label


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad option is one "error:" line (and exit status 2), not the usage
    block: the same shape as every other error of the tool."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        """Also: no path option names a file or folder longer than a file system allows
        (255 bytes), which would otherwise surface as an OSError deep inside a command."""
        ns, rest = super().parse_known_args(args, namespace)
        for value in vars(ns).values():
            for path in value if isinstance(value, list) else [value]:
                if isinstance(path, Path) and name_too_long(path):
                    self.exit(2, f"error: {path}: a name in this path is longer than 255 "
                                 "bytes, more than a file system allows; choose a shorter "
                                 "one\n")
        return ns, rest
