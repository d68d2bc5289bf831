"""Float -> integer quantization, VHDL literals and the integer reference model.

Everything here follows the integer arithmetic contract of DESIGN.md:

    Wq[j,i] = saturate(round_half_away(W[j,i] / sw[j]), weight_bits)
    bq[j]   = round_half_away(b[j] / (sx * sw[j]))
              sw[j] per layer, or per neuron in hidden layers (per_neuron=True); the last
              layer always has one sw for all its neurons, so that its accumulators share
              one scale and argmax ranks the classes as the float model does. A per-neuron
              sw is floored at the layer's sw / 2^8 (PER_NEURON_FLOOR): a (near-)dead
              neuron would otherwise blow its bias up at the accumulator scale
    acc[j]  = bq[j] + sum_i Wq[j,i] * x[i]
    hidden: y[j] = min(2^act_bits - 1, (max(acc[j], 0) * M[j] + R) >> S[j]),  R = 2^(S-1) or 0
            round{l} (manifest, per hidden layer) "half_up" (the default, above: a tie goes
            up) or "half_even" (a tie goes to the even result, as QONNX's ROUND and
            Brevitas do): R = 2^(S-1) - 1 + bit S of max(acc, 0) * M, for S > 0
    last:   logits = acc; class = argmax (lowest index on ties);
            one output: class = 1 if acc[0] > 0 else 0
    accumulators up to 48 bits (a DSP48E1's P register) are exact; wider is refused

The reference model (`reference_forward`) is the oracle every test compares the VHDL with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MIN_BITS = 2
MAX_BITS = 16
ENCODINGS = ("integer", "fixed")
# Requantization multiplier M is an unsigned integer below 2**M_BITS.
M_BITS = 15
# Largest right shift S we ever emit (acc * M + R stays inside int64).
MAX_SHIFT = 62
# Accumulators up to 48 bits (a DSP48E1's P register) are exact. The VHDL keeps one of at
# most 32 bits in a VHDL `integer`; a wider one as a high part (integer) and a 16-bit low
# part (see the layer template), so the per-clock arithmetic stays on integers.
MAX_ACC_BITS = 48
NARROW_ACC_BITS = 32       # up to here: one VHDL integer
ACC_LO_BITS = 16           # a wider accumulator: hi * 2^16 + lo, 0 <= lo < 2^16
# How a hidden layer's requantization rounds a tie (manifest key round{l}): half_up is the
# contract's own rule; half_even is QONNX's ROUND (numpy's round), for imported QAT models
ROUND_MODES = ("half_up", "half_even")
# A per-neuron weight step is at least the layer's step times this (DESIGN.md)
PER_NEURON_FLOOR = 2.0 ** -8
PER_NEURON_FLOOR_RULE = "sw[j] = max(max|W[j,:]|, max|W| / 2^8) / (2^(weight_bits-1) - 1)"


class QuantizationError(ValueError):
    """A model cannot be quantized with the requested settings."""


# --------------------------------------------------------------------------- rounding
def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round to nearest integer, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    x = np.asarray(x, dtype=np.float64)
    whole = np.trunc(x)
    frac = x - whole  # exact in floating point, unlike x + 0.5
    return (whole + np.sign(x) * (np.abs(frac) >= 0.5)).astype(np.int64)


def int_range(bits: int, signed: bool = True) -> tuple[int, int]:
    """(min, max) of a two's complement (signed) or unsigned integer of `bits` bits."""
    check_bits(bits, "bits", 1, 64)
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def saturate(q: np.ndarray, bits: int, signed: bool = True) -> np.ndarray:
    """Clip integers to the range of a `bits`-bit integer (no wrap-around)."""
    lo, hi = int_range(bits, signed)
    return np.clip(np.asarray(q, dtype=np.int64), lo, hi)


def check_bits(value: int, what: str, lo: int = MIN_BITS, hi: int = MAX_BITS) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise QuantizationError(f"{what} must be an integer, got {value!r}")
    if not lo <= int(value) <= hi:
        raise QuantizationError(f"{what} must be between {lo} and {hi}, got {value}")
    return int(value)


def signed_bits_for(lo: int, hi: int) -> int:
    """Smallest two's complement width that holds every integer in [lo, hi]."""
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def unsigned_bits_for(hi: int) -> int:
    """Smallest unsigned width (at least 1) that holds 0..hi."""
    return max(1, int(hi).bit_length())


# --------------------------------------------------------------------------- literals
def int_to_vhdl_hex(value: int, bits: int) -> str:
    """Two's complement VHDL bit-string literal of `value` on `bits` bits.

    int_to_vhdl_hex(-12, 8) == 'x"F4"'. Widths that are not a multiple of 4 use a binary
    literal (b"101"), which every VHDL standard accepts (VHDL-93 has no sized hex literals).
    """
    lo, hi = int_range(bits, True)
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise QuantizationError(f"{value} is not an integer")
    value = int(value)
    if not lo <= value <= hi:
        raise QuantizationError(f"{value} does not fit in a signed {bits}-bit literal")
    word = value & ((1 << bits) - 1)
    if bits % 4 == 0:
        return 'x"%0*X"' % (bits // 4, word)
    return 'b"%s"' % format(word, f"0{bits}b")


def int_to_coe_hex(value: int, bits: int) -> str:
    """Two's complement word as the bare hex digits a .coe file with radix 16 expects."""
    word = int(value) & ((1 << bits) - 1)
    return "%0*X" % ((bits + 3) // 4, word)


# --------------------------------------------------------------------------- scales
def weight_scale(W: np.ndarray, weight_bits: int, encoding: str, frac_bits: int | None,
                 per_neuron: bool) -> np.ndarray:
    """Step sw of one weight code, per neuron (shape (n_out,)); equal entries if per layer."""
    n_out = W.shape[0]
    if encoding == "fixed":
        if frac_bits is None:
            raise QuantizationError("the fixed encoding needs --frac-bits")
        return np.full(n_out, 2.0 ** -int(frac_bits))
    if encoding != "integer":
        raise QuantizationError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    qmax = (1 << (weight_bits - 1)) - 1
    layer_peak = float(np.max(np.abs(W))) if W.size else 0.0
    if per_neuron:
        # a (near-)dead neuron must not drag its step towards 0: its bias b / (sx * sw)
        # would then need a huge accumulator. The step is floored at the layer's / 2^8.
        peak = np.maximum(np.max(np.abs(W), axis=1), layer_peak * PER_NEURON_FLOOR)
    else:
        peak = np.full(n_out, layer_peak)
    peak = np.where(peak > 0, peak, 1.0)  # an all-zero neuron: any step works
    return peak / qmax


def floored_neurons(W: np.ndarray) -> int:
    """Neurons of a layer whose per-neuron step is the floor (their largest |weight| is
    below the layer's / 2^8): near-dead neurons, see weight_scale."""
    peaks = np.max(np.abs(W), axis=1)
    return int(np.sum(peaks < float(np.max(np.abs(W))) * PER_NEURON_FLOOR)) if W.size else 0


def quantize_to_int8(values: np.ndarray, bits: int = 8) -> tuple[np.ndarray, float]:
    """The original lab's helper: symmetric quantization of any float array to signed
    `bits`-bit integers (int8 by default) with one scale, as the generator quantizes a
    layer's weights (sw = max|x| / (2^(bits-1) - 1), round half away from zero).

    Returns (integers, scale); integers * scale is the value the hardware works with:
    quantize_to_int8([0.5, -1.0]) == (array([64, -127], dtype=int8), 1/127)."""
    x = np.asarray(values, dtype=np.float64)
    check_bits(bits, "bits", MIN_BITS, 8)
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise QuantizationError("quantize_to_int8 needs finite values")
    flat = x.reshape(1, -1)
    sw = weight_scale(flat, bits, "integer", None, per_neuron=False)
    q = quantize_weights(flat, sw, bits).reshape(x.shape).astype(np.int8)
    return q, float(sw[0])


def quantize_weights(W: np.ndarray, sw: np.ndarray, weight_bits: int) -> np.ndarray:
    return saturate(round_half_away(W / sw[:, None]), weight_bits)


def quantize_bias(b: np.ndarray, sx: float, sw: np.ndarray) -> np.ndarray:
    return round_half_away(b / (sx * sw))


def requant_params(ratio: np.ndarray, encoding: str) -> tuple[np.ndarray, np.ndarray]:
    """Integers M, S with M / 2**S ~= ratio (per neuron); M < 2**M_BITS.

    "integer": M keeps M_BITS significant bits. "fixed": M == 1, a pure shift (the ratio is
    a power of two by construction there).
    """
    ratio = np.asarray(ratio, dtype=np.float64)
    M = np.zeros(ratio.shape, dtype=np.int64)
    S = np.zeros(ratio.shape, dtype=np.int64)
    for j, r in enumerate(ratio):
        if not r > 0 or not math.isfinite(r):
            raise QuantizationError(f"requantization ratio must be positive, got {r}")
        if encoding == "fixed":
            e = round(math.log2(r))
            if e <= 0:
                M[j], S[j] = 1, min(-e, MAX_SHIFT)
            else:
                M[j], S[j] = 1 << e, 0
            continue
        # choose S so that M = round(r * 2^S) lies in [2^(M_BITS-1), 2^M_BITS)
        s = M_BITS - 1 - math.floor(math.log2(r))
        s = min(max(s, 0), MAX_SHIFT)
        m = int(round_half_away(r * 2.0 ** s))
        if m >= (1 << M_BITS):  # rounding pushed it over, or ratio too large for S = 0
            if s > 0:
                s -= 1
                m = int(round_half_away(r * 2.0 ** s))
            m = min(m, (1 << M_BITS) - 1)
        M[j], S[j] = max(m, 0), s
    return M, S


# --------------------------------------------------------------------------- the model
@dataclass
class QuantizedModel:
    """The integer manifest of DESIGN.md (what `<out>/quantized.npz` holds)."""

    input_bits: int
    weight_bits: int
    act_bits: int
    encoding: str
    W: list[np.ndarray]                 # int64 (n_out, n_in)
    b: list[np.ndarray]                 # int64 (n_out,)
    M: list[np.ndarray] = field(default_factory=list)   # hidden layers only
    S: list[np.ndarray] = field(default_factory=list)
    sw: list[np.ndarray] = field(default_factory=list)  # informational floats
    sx: list[float] = field(default_factory=list)
    # per hidden layer, one of ROUND_MODES; empty: "half_up" everywhere
    round: list[str] = field(default_factory=list)

    @property
    def n_layers(self) -> int:
        return len(self.W)

    @property
    def topology(self) -> list[int]:
        return [self.W[0].shape[1]] + [w.shape[0] for w in self.W]

    def round_mode(self, layer: int) -> str:
        """How hidden layer `layer` rounds a tie in its requantization (ROUND_MODES)."""
        return self.round[layer] if self.round else "half_up"

    def layer_input_bits(self, layer: int) -> int:
        return self.input_bits if layer == 0 else self.act_bits

    def acc_range(self, layer: int) -> tuple[int, int]:
        """Exact (min, max) of every partial and final sum of the layer's accumulators.

        The accumulator starts at the bias and adds one product per input, inputs being
        unsigned codes 0..2^in_bits-1, so every partial sum lies between bias + (sum of the
        negative weights) * xmax and bias + (sum of the positive weights) * xmax.
        """
        W, b = self.W[layer], self.b[layer]
        xmax = (1 << self.layer_input_bits(layer)) - 1
        pos = np.where(W > 0, W, 0).sum(axis=1) * xmax
        neg = np.where(W < 0, W, 0).sum(axis=1) * xmax
        lo = int(min(0, (b + neg).min(), b.min()))
        hi = int(max(0, (b + pos).max(), b.max()))
        return lo, hi

    def acc_bits(self, layer: int) -> int:
        lo, hi = self.acc_range(layer)
        return signed_bits_for(lo, hi)

    def validate(self) -> None:
        """Raise QuantizationError if the integers break the contract or the VHDL limits."""
        check_bits(self.weight_bits, "weight_bits")
        check_bits(self.act_bits, "act_bits")
        check_bits(self.input_bits, "input_bits")
        if self.n_layers < 1:
            raise QuantizationError("the model has no layers")
        for l in range(self.n_layers):
            W, b = self.W[l], self.b[l]
            if W.ndim != 2 or b.shape != (W.shape[0],):
                raise QuantizationError(f"layer {l}: W must be (n_out, n_in) and b (n_out,)")
            if l > 0 and W.shape[1] != self.W[l - 1].shape[0]:
                raise QuantizationError(f"layer {l}: {W.shape[1]} inputs but layer {l-1} "
                                        f"has {self.W[l-1].shape[0]} outputs")
            lo, hi = int_range(self.weight_bits)
            if W.min() < lo or W.max() > hi:
                raise QuantizationError(f"layer {l}: weights outside {self.weight_bits} bits")
            if self.acc_bits(l) > MAX_ACC_BITS:
                raise QuantizationError(self._too_wide(l))
            if l < self.n_layers - 1:
                if self.M[l].shape != (W.shape[0],) or self.S[l].shape != (W.shape[0],):
                    raise QuantizationError(f"layer {l}: M and S must have one entry per neuron")
                if self.M[l].min() < 0 or self.M[l].max() >= (1 << M_BITS):
                    raise QuantizationError(f"layer {l}: M must be in 0..2^{M_BITS}-1")
                if self.S[l].min() < 0 or self.S[l].max() > MAX_SHIFT:
                    raise QuantizationError(f"layer {l}: S must be in 0..{MAX_SHIFT}")
                if self.round_mode(l) not in ROUND_MODES:
                    raise QuantizationError(f"layer {l}: round must be one of {ROUND_MODES}, "
                                            f"not {self.round_mode(l)!r}")
        if self.round and len(self.round) != self.n_layers - 1:
            raise QuantizationError("round needs one entry per hidden layer")

    def _too_wide(self, l: int) -> str:
        """Why layer l's accumulator exceeds MAX_ACC_BITS, and what to do, in one line."""
        W, b = self.W[l], self.b[l]
        xmax = (1 << self.layer_input_bits(l)) - 1
        pos = int((np.where(W > 0, W, 0).sum(axis=1) * xmax).max())
        neg = int((np.where(W < 0, W, 0).sum(axis=1) * xmax).min())
        products = signed_bits_for(min(neg, 0), max(pos, 0))
        bias = signed_bits_for(min(int(b.min()), 0), max(int(b.max()), 0))
        head = (f"layer {l}: the accumulator needs {self.acc_bits(l)} bits, more than the "
                f"{MAX_ACC_BITS} of a DSP48E1 that the hardware holds exactly")
        if bias > products:
            sx = f" (sx = {self.sx[l]:.3g})" if self.sx else ""
            return (f"{head}: the biases alone need {bias} bits at the accumulator scale "
                    f"b / (sx * sw){sx}, the weights x inputs only {products}: a bias far "
                    "larger than the weights' range, or a tiny input_scale; check the "
                    "model's biases and input_scale")
        return (f"{head}: {W.shape[1]} inputs of {self.layer_input_bits(l)} bits times "
                f"{self.weight_bits}-bit weights need {products} bits; use fewer "
                "--weight-bits, --act-bits or --input-bits, or fewer inputs per neuron")

    # ---- manifest file
    def to_arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {
            "input_bits": np.int64(self.input_bits),
            "weight_bits": np.int64(self.weight_bits),
            "act_bits": np.int64(self.act_bits),
            "encoding": np.array(self.encoding),
            "n_layers": np.int64(self.n_layers),
        }
        for l in range(self.n_layers):
            out[f"W{l}"] = self.W[l].astype(np.int64)
            out[f"b{l}"] = self.b[l].astype(np.int64)
            out[f"acc_bits{l}"] = np.int64(self.acc_bits(l))
            if l < self.n_layers - 1:
                out[f"M{l}"] = self.M[l].astype(np.int64)
                out[f"S{l}"] = self.S[l].astype(np.int64)
                out[f"round{l}"] = np.array(self.round_mode(l))
            if self.sw:
                out[f"sw{l}"] = np.asarray(self.sw[l], dtype=np.float64)
            if self.sx:
                out[f"sx{l}"] = np.float64(self.sx[l])
        return out

    @classmethod
    def from_arrays(cls, d) -> "QuantizedModel":
        n = int(d["n_layers"])
        get = lambda k: np.asarray(d[k]).astype(np.int64)  # noqa: E731
        return cls(
            input_bits=int(d["input_bits"]), weight_bits=int(d["weight_bits"]),
            act_bits=int(d["act_bits"]), encoding=str(d["encoding"]),
            W=[get(f"W{l}") for l in range(n)], b=[get(f"b{l}") for l in range(n)],
            M=[get(f"M{l}") for l in range(n - 1)], S=[get(f"S{l}") for l in range(n - 1)],
            sw=[np.asarray(d[f"sw{l}"]) for l in range(n) if f"sw{l}" in d],
            sx=[float(d[f"sx{l}"]) for l in range(n) if f"sx{l}" in d],
            # manifests written before round{l} existed round half up
            round=[str(d[f"round{l}"]) if f"round{l}" in d else "half_up"
                   for l in range(n - 1)],
        )


def requantize(acc: np.ndarray, M: np.ndarray, S: np.ndarray, act_bits: int,
               mode: str = "half_up") -> np.ndarray:
    """ReLU + requantization of hidden accumulators (rows: images, columns: neurons).
    mode: how a tie rounds (ROUND_MODES): half_up, or half_even (to the even result)."""
    if mode not in ROUND_MODES:
        raise QuantizationError(f"round mode must be one of {ROUND_MODES}, not {mode!r}")
    acc = np.maximum(np.asarray(acc, dtype=np.int64), 0)
    M = np.asarray(M, dtype=np.int64)
    S = np.asarray(S, dtype=np.int64)
    R = np.where(S > 0, np.left_shift(np.int64(1), np.maximum(S - 1, 0)), 0)
    product = acc * M
    if mode == "half_even":
        # a tie (remainder exactly 2^(S-1)) goes up only when the result below it is odd
        R = np.where(S > 0, R - 1 + (np.right_shift(product, S) & 1), 0)
    y = np.right_shift(product + R, S)
    return np.minimum(y, (1 << act_bits) - 1)


def reference_forward(q: QuantizedModel, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer reference model: input codes (n, n_in) -> (logits (n, n_out), classes (n,))."""
    x = np.asarray(X, dtype=np.int64)
    if x.ndim == 1:
        x = x[None, :]
    for l in range(q.n_layers):
        acc = x @ q.W[l].T + q.b[l][None, :]
        last = l == q.n_layers - 1
        x = acc if last else requantize(acc, q.M[l], q.S[l], q.act_bits, q.round_mode(l))
    logits = x
    if logits.shape[1] == 1:
        classes = (logits[:, 0] > 0).astype(np.int64)
    else:
        classes = np.argmax(logits, axis=1).astype(np.int64)  # first maximum on ties
    return logits, classes


# --------------------------------------------------------------------------- what is lost
def quantization_loss(Ws: list[np.ndarray], bs: list[np.ndarray],
                      q: QuantizedModel) -> list[dict]:
    """Per layer, how much of the float model survives quantization:
    zero_weight_share: share of all weights that are 0 as integers; lost_weight_share:
    share of the weights that are not 0 in the float model but quantize to 0;
    clipped_weight_share: share of the weights beyond the rails of weight_bits, saturated
    (the fixed encoding with too many frac_bits); max_abs_weight: the largest |W|;
    bias_max_rel_error: largest |bq * sx * sw - b| / |b| over the non-zero biases."""
    out = []
    lo, hi = int_range(q.weight_bits)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        Wq, bq = q.W[l], q.b[l]
        nonzero = W != 0
        lost = float((Wq[nonzero] == 0).mean()) if nonzero.any() else 0.0
        clipped = 0.0
        if q.sw:
            raw = round_half_away(W / np.asarray(q.sw[l], dtype=np.float64)[:, None])
            clipped = float(((raw > hi) | (raw < lo)).mean())
        rel = 0.0
        if q.sw and q.sx and np.any(b != 0):
            back = bq * q.sx[l] * np.asarray(q.sw[l])
            rel = float(np.max(np.abs(back - b)[b != 0] / np.abs(b[b != 0])))
        out.append({"zero_weight_share": round(float((Wq == 0).mean()), 6),
                    "lost_weight_share": round(lost, 6),
                    "clipped_weight_share": round(clipped, 6),
                    "max_abs_weight": float(np.max(np.abs(W))) if W.size else 0.0,
                    "bias_max_rel_error": round(rel, 6)})
    return out


def frac_bits_that_fit(max_abs_weight: float, weight_bits: int) -> int | None:
    """The most fraction bits of the fixed encoding with which no weight of magnitude up to
    max_abs_weight saturates at weight_bits (None: any, the weights are all 0)."""
    if not max_abs_weight > 0:
        return None
    hi = int_range(weight_bits)[1]
    f = math.floor(math.log2((hi + 0.5) / max_abs_weight))
    while f > -64 and round_half_away(max_abs_weight * 2.0 ** f) > hi:
        f -= 1
    return f


# --------------------------------------------------------------------------- float -> int
def float_forward(Ws: list[np.ndarray], bs: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Float model; returns the activations of every layer (ReLU on hidden layers)."""
    outs = []
    a = np.asarray(x, dtype=np.float64)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        a = a @ W.T + b
        if l < len(Ws) - 1:
            a = np.maximum(a, 0.0)
        outs.append(a)
    return outs


def quantize_model(Ws: list[np.ndarray], bs: list[np.ndarray], *, input_scale: float,
                   calibration: np.ndarray, weight_bits: int = 8, act_bits: int = 8,
                   input_bits: int = 8, encoding: str = "integer",
                   frac_bits: int | None = None, per_neuron: bool = False) -> QuantizedModel:
    """Quantize a float MLP following DESIGN.md.

    calibration: input codes (n, n_in) used to find each hidden layer's activation range.
    per_neuron: one weight scale per neuron in the hidden layers; the last layer keeps one
    scale for all its neurons (argmax over logits at different scales could pick another
    class than the float model).
    """
    check_bits(weight_bits, "weight_bits")
    check_bits(act_bits, "act_bits")
    check_bits(input_bits, "input_bits")
    if encoding not in ENCODINGS:
        raise QuantizationError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    if encoding == "fixed":
        if frac_bits is None:
            raise QuantizationError("the fixed encoding needs frac_bits (--frac-bits)")
        check_bits(frac_bits, "frac_bits", 0, 30)
    float_acts = float_forward(Ws, bs, np.asarray(calibration, dtype=np.float64) * input_scale)
    sx = float(input_scale)
    Wq, bq, Ms, Ss, sws, sxs = [], [], [], [], [], []
    for l, (W, b) in enumerate(zip(Ws, bs)):
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        last = l == len(Ws) - 1
        sw = weight_scale(W, weight_bits, encoding, frac_bits, per_neuron and not last)
        step = sx * sw                       # the accumulator's step, per neuron
        if not np.all(np.isfinite(step)) or step.min() < np.finfo(np.float64).tiny:
            raise QuantizationError(
                f"layer {l}: the weights are too small to quantize (max |W| = "
                f"{np.abs(W).max():.3g}, input step {sx:.3g}): the accumulator's step "
                "sx * sw underflows a float64; scale this layer's weights and biases up "
                "(and the next layer's weights down by the same factor)")
        Wq.append(quantize_weights(W, sw, weight_bits))
        bias = b / step
        if not np.all(np.isfinite(bias)) or np.abs(bias).max() >= 2.0 ** 62:
            raise QuantizationError(
                f"layer {l}: the biases at the accumulator scale b / (sx * sw) reach "
                f"{np.abs(bias).max():.3g} (sx = {sx:.3g}), far beyond the {MAX_ACC_BITS}-bit "
                "accumulator: a bias far larger than the weights' range, or a tiny "
                "input_scale; check the model's biases and input_scale")
        bq.append(quantize_bias(b, sx, sw))
        sws.append(sw)
        sxs.append(sx)
        if last:
            break
        peak = float(float_acts[l].max()) if float_acts[l].size else 0.0
        if not peak > 0:
            peak = 1.0  # the layer never fires on the calibration data
        sy = peak / ((1 << act_bits) - 1)
        if encoding == "fixed":
            # a power-of-two step per layer: the shift is exact and the next layer's
            # scale is the true one
            e = max(0, math.ceil(math.log2(sy / (sx * sw[0]))))
            e = min(e, MAX_SHIFT)
            sy = sx * sw[0] * 2.0 ** e
            M, S = np.ones(W.shape[0], np.int64), np.full(W.shape[0], e, np.int64)
        else:
            M, S = requant_params(sx * sw / sy, encoding)
        Ms.append(M)
        Ss.append(S)
        sx = sy
    q = QuantizedModel(input_bits=input_bits, weight_bits=weight_bits, act_bits=act_bits,
                       encoding=encoding, W=Wq, b=bq, M=Ms, S=Ss, sw=sws, sx=sxs)
    q.validate()
    return q
