"""Unit tests of quantization_functions.py against the integer contract of DESIGN.md.

Every expected value here is worked out by hand (see the comments) or from first principles
(exact rational arithmetic with fractions.Fraction, Python integers), never by calling the
function under test.
"""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quantization_functions as qf  # noqa: E402
from quantization_functions import QuantizationError, QuantizedModel  # noqa: E402


# --------------------------------------------------------------------------- helpers
def exact_half_away(x: float | Fraction) -> int:
    """Round half away from zero in exact rational arithmetic (the test's own oracle)."""
    f = Fraction(x)
    mag = math.floor(abs(f) + Fraction(1, 2))
    return mag if f >= 0 else -mag


def smallest_signed_width(lo: int, hi: int) -> int:
    """Smallest n such that -2^(n-1) <= lo and hi <= 2^(n-1) - 1 (plain Python ints)."""
    n = 1
    while not (-(2 ** (n - 1)) <= lo and hi <= 2 ** (n - 1) - 1):
        n += 1
    return n


def hand_model(W, b, M=(), S=(), act_bits=8, input_bits=8, weight_bits=8) -> QuantizedModel:
    return QuantizedModel(
        input_bits=input_bits, weight_bits=weight_bits, act_bits=act_bits, encoding="integer",
        W=[np.array(w, dtype=np.int64) for w in W], b=[np.array(x, dtype=np.int64) for x in b],
        M=[np.array(m, dtype=np.int64) for m in M], S=[np.array(s, dtype=np.int64) for s in S])


# --------------------------------------------------------------------------- literals
@pytest.mark.parametrize("value, bits, literal", [
    (-12, 8, 'x"F4"'),       # -12 = 256 - 12 = 244 = 0xF4
    (127, 8, 'x"7F"'),
    (-128, 8, 'x"80"'),
    (0, 8, 'x"00"'),
    (-1, 4, 'x"F"'),
    (7, 4, 'x"7"'),
    (-8, 4, 'x"8"'),
    (-12, 12, 'x"FF4"'),     # 4096 - 12 = 4084 = 0xFF4
    (2047, 12, 'x"7FF"'),
    (-12, 16, 'x"FFF4"'),
    (32767, 16, 'x"7FFF"'),
    (-32768, 16, 'x"8000"'),
    (1, 16, 'x"0001"'),
])
def test_hex_literal_for_widths_multiple_of_4(value, bits, literal):
    assert qf.int_to_vhdl_hex(value, bits) == literal


@pytest.mark.parametrize("value, bits, literal", [
    (-1, 3, 'b"111"'),
    (3, 3, 'b"011"'),
    (-4, 3, 'b"100"'),
    (5, 5, 'b"00101"'),
    (-16, 5, 'b"10000"'),    # 32 - 16 = 16 = 10000b
    (-11, 5, 'b"10101"'),    # 32 - 11 = 21 = 10101b
    (1, 2, 'b"01"'),
    (-2, 2, 'b"10"'),
    (-1, 7, 'b"1111111"'),
    (100, 10, 'b"0001100100"'),
])
def test_binary_literal_for_other_widths(value, bits, literal):
    assert qf.int_to_vhdl_hex(value, bits) == literal


@pytest.mark.parametrize("value, bits", [
    (128, 8), (-129, 8), (8, 4), (-9, 4), (4, 3), (-5, 3), (2, 2), (32768, 16), (-32769, 16),
])
def test_literal_out_of_range_raises(value, bits):
    with pytest.raises(QuantizationError):
        qf.int_to_vhdl_hex(value, bits)


def _literal_cases() -> list[tuple[int, int]]:
    cases = []
    for bits in range(2, 17):
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        for v in sorted({lo, lo + 1, -1, 0, 1, hi - 1, hi, -12, 5}):
            if lo <= v <= hi:
                cases.append((bits, v))
    return cases


@pytest.mark.skipif(shutil.which("ghdl") is None, reason="ghdl not on PATH")
def test_literals_analyse_and_have_their_value_in_ghdl(tmp_path):
    """Literals of widths 2..16 analyse as VHDL-93 constants, and GHDL reads back the value."""
    cases = _literal_cases()
    consts = "\n".join(
        f"  constant c_{i} : std_logic_vector({bits - 1} downto 0) := "
        f"{qf.int_to_vhdl_hex(v, bits)};"
        for i, (bits, v) in enumerate(cases))
    pkg = ("library ieee;\nuse ieee.std_logic_1164.all;\n\n"
           f"package literals_pkg is\n{consts}\nend package literals_pkg;\n")
    checks = "\n".join(
        f"    assert to_integer(signed(c_{i})) = {v} report \"c_{i} ({bits} bits) is not {v}\" "
        "severity failure;"
        for i, (bits, v) in enumerate(cases))
    tb = ("library ieee;\nuse ieee.std_logic_1164.all;\nuse ieee.numeric_std.all;\n"
          "use work.literals_pkg.all;\n\nentity literals_check is\nend entity literals_check;\n\n"
          "architecture sim of literals_check is\nbegin\n  p_check : process\n  begin\n"
          f"{checks}\n    report \"literals ok\";\n    wait;\n  end process p_check;\n"
          "end architecture sim;\n")
    (tmp_path / "literals_pkg.vhd").write_text(pkg)
    (tmp_path / "literals_check.vhd").write_text(tb)
    work = tmp_path / "work"
    work.mkdir()
    ghdl = ["ghdl", "-a", "--std=93c", f"--workdir={work}"]
    r = subprocess.run(ghdl + [str(tmp_path / "literals_pkg.vhd")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(ghdl + [str(tmp_path / "literals_check.vhd")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["ghdl", "--elab-run", "--std=93c", f"--workdir={work}",
                        "literals_check"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "literals ok" in out
    assert "is not" not in out


# --------------------------------------------------------------------------- rounding
@pytest.mark.parametrize("x, expected", [
    (2.5, 3), (-2.5, -3), (0.5, 1), (-0.5, -1), (1.49, 1), (-1.49, -1), (1.5, 2),
    (-1.5, -2), (0.0, 0), (3.0, 3), (-3.0, -3), (126.5, 127), (-127.5, -128), (0.49, 0),
])
def test_round_half_away(x, expected):
    assert int(qf.round_half_away(x)) == expected


def test_round_half_away_on_arrays_keeps_shape_and_is_integer():
    r = qf.round_half_away(np.array([[2.5, -2.5], [0.4, -0.6]]))
    assert r.shape == (2, 2)
    assert r.dtype.kind == "i"
    assert r.tolist() == [[3, -3], [0, -1]]


def test_round_half_away_is_exact_near_halves_and_for_large_values():
    just_below_half = np.nextafter(0.5, 0.0)          # 0.49999999999999994
    assert int(qf.round_half_away(just_below_half)) == 0
    assert int(qf.round_half_away(-just_below_half)) == 0
    assert int(qf.round_half_away(float(2 ** 52 + 1))) == 2 ** 52 + 1


def test_saturate_clips():
    assert qf.saturate(np.array([200]), 8).tolist() == [127]
    assert qf.saturate(np.array([-300]), 8).tolist() == [-128]
    assert qf.saturate(np.array([-128, -5, 0, 127]), 8).tolist() == [-128, -5, 0, 127]
    assert qf.saturate(np.array([8, -9, 3]), 4).tolist() == [7, -8, 3]
    assert qf.saturate(np.array([300, -1, 17]), 8, signed=False).tolist() == [255, 0, 17]


def test_saturate_never_wraps_unlike_astype_int8():
    big = np.array([200, -300, 1000])
    # the original lab's astype(int8) wraps modulo 256: 200 -> -56, -300 -> -44, 1000 -> -24
    wrapped = big.astype(np.int8)
    assert wrapped.tolist() == [200 - 256, -300 + 256, 1000 - 4 * 256]
    clipped = qf.saturate(big, 8)
    assert clipped.tolist() == [127, -128, 127]
    assert not np.array_equal(clipped, wrapped)


# --------------------------------------------------------------------------- quantize_model
# Weights chosen so every W/sw is exact in binary floating point (sw is a power of two).
W_LAYER = np.array([[127 / 64, -0.5, 3 / 128],      # max |W| = 127/64 -> sw = 1/64
                    [-5 / 128, 1.0, -1.0]])
# W / sw = [[127, -32, 1.5 -> 2], [-2.5 -> -3, 64, -64]]
WQ_LAYER = [[127, -32, 2], [-3, 64, -64]]


def test_quantize_model_integer_per_layer_weights():
    b = np.array([0.1, -0.2])
    sx = 1 / 255
    q = qf.quantize_model([W_LAYER], [b], input_scale=sx, calibration=np.zeros((1, 3)))
    sw = np.max(np.abs(W_LAYER)) / 127
    assert sw == 1 / 64
    assert q.W[0].tolist() == WQ_LAYER
    assert q.W[0].tolist() == [[exact_half_away(w / sw) for w in row] for row in W_LAYER]
    assert np.all(q.sw[0] == sw)
    assert q.sx[0] == sx
    # bias on the accumulator scale: b / (sx * sw) = 0.1 * 255 * 64 = 1632, -3264
    assert q.b[0].tolist() == [exact_half_away(Fraction(v) / (Fraction(sx) * Fraction(sw)))
                               for v in b]
    assert q.b[0].tolist() == [1632, -3264]
    assert q.n_layers == 1 and q.M == [] and q.S == []


def test_quantize_model_per_neuron_scale_uses_row_max():
    W = np.array([[127 / 64, -0.5, 3 / 128],        # row max 127/64  -> sw0 = 1/64
                  [-5 / 256, 0.5, -127 / 128]])     # row max 127/128 -> sw1 = 1/128
    last = [np.ones((1, 2))], [np.zeros(1)]          # W is a hidden layer: per-neuron there
    q = qf.quantize_model([W] + last[0], [np.zeros(2)] + last[1], input_scale=1 / 255,
                          calibration=np.zeros((1, 3)), per_neuron=True)
    sw = np.max(np.abs(W), axis=1) / 127
    assert sw.tolist() == [1 / 64, 1 / 128]
    assert q.sw[0].tolist() == sw.tolist()
    # row 0: 127, -32, 1.5 -> 2 ; row 1: -2.5 -> -3, 64, -127
    assert q.W[0].tolist() == [[127, -32, 2], [-3, 64, -127]]
    # per layer, row 1 would have been quantized with 1/64: -1.25 -> -1, 32, -63.5 -> -64
    q_layer = qf.quantize_model([W] + last[0], [np.zeros(2)] + last[1], input_scale=1 / 255,
                                calibration=np.zeros((1, 3)), per_neuron=False)
    assert q_layer.W[0].tolist() == [[127, -32, 2], [-1, 32, -64]]


def test_per_neuron_scale_leaves_the_last_layer_on_one_scale():
    # issue 11: per-neuron scales in the last layer put the logits on different scales, and
    # argmax over them picked class 1 here (hardware logits 113475 vs 129540) while the
    # float model says class 0 (3.5 vs 2.4)
    W = np.array([[1, 1, 1, .5], [.6, .6, .6, .6]])
    X = np.full((1, 4), 255)
    q = qf.quantize_model([W], [np.zeros(2)], input_scale=1 / 255, calibration=X,
                          per_neuron=True)
    assert q.sw[0].tolist() == [1 / 127, 1 / 127]
    # 1 -> 127, .5 -> 63.5 -> 64, .6 -> 76.2 -> 76
    assert q.W[0].tolist() == [[127, 127, 127, 64], [76, 76, 76, 76]]
    logits, classes = qf.reference_forward(q, X)
    assert logits.tolist() == [[255 * 445, 255 * 304]]
    float_logits = qf.float_forward([W], [np.zeros(2)], X / 255)[-1]
    assert float_logits.round(6).tolist() == [[3.5, 2.4]]
    assert classes.tolist() == [0] == np.argmax(float_logits, axis=1).tolist()


def test_per_neuron_scale_applies_to_hidden_layers():
    W0 = np.array([[2.0, -1.0], [0.5, 0.25]])           # row peaks 2 and 0.5
    W1 = np.array([[1.0, -0.5], [0.1, 0.2]])            # row peaks 1 and 0.2
    q = qf.quantize_model([W0, W1], [np.zeros(2), np.zeros(2)], input_scale=1 / 255,
                          calibration=np.full((1, 2), 255), per_neuron=True)
    assert q.sw[0].tolist() == [2 / 127, 0.5 / 127]     # hidden: one scale per neuron
    assert q.sw[1].tolist() == [1 / 127, 1 / 127]       # last: the layer's peak for all


def test_quantize_model_bias_rounds_half_away_on_accumulator_scale():
    sx, sw = 2.0 ** -8, 2.0 ** -6                    # sx * sw = 2^-14, exact
    W = np.array([[127 / 64, 0.0], [0.0, -127 / 64]])
    unit = sx * sw
    b = np.array([2.5 * unit, -2.5 * unit])
    q = qf.quantize_model([W], [b], input_scale=sx, calibration=np.zeros((1, 2)))
    assert q.sw[0].tolist() == [sw, sw]
    assert q.b[0].tolist() == [3, -3]
    b2 = np.array([1.25 * unit, -0.5 * unit])       # 1.25 -> 1, -0.5 -> -1
    q2 = qf.quantize_model([W], [b2], input_scale=sx, calibration=np.zeros((1, 2)))
    assert q2.b[0].tolist() == [1, -1]


def _float_hidden_peak(W0, b0, X, input_scale) -> float:
    """Largest ReLU output of layer 0 on calibration codes X (the test's own float model)."""
    peak = 0.0
    for x in X:
        for j in range(W0.shape[0]):
            a = sum(float(W0[j, i]) * float(x[i]) * input_scale for i in range(W0.shape[1]))
            peak = max(peak, a + float(b0[j]))
    return peak


def test_quantize_model_fixed_encoding_is_a_pure_shift():
    frac = 6
    W0 = np.array([[0.5, -0.25, 3.0],              # 3.0 * 64 = 192 -> saturates at 127
                   [-2.5, 1 / 128, 0.75]])         # -160 -> -128; 0.5 -> 1 (half away)
    b0 = np.array([0.1, 0.2])
    W1 = np.array([[1.0, -1.0], [-3 / 128, 0.5]])  # -1.5 -> -2
    b1 = np.array([0.0, 0.05])
    X = np.array([[255, 0, 255], [10, 20, 30], [0, 0, 0], [255, 255, 255]])
    sx0 = 1 / 255
    q = qf.quantize_model([W0, W1], [b0, b1], input_scale=sx0, calibration=X,
                          encoding="fixed", frac_bits=frac)
    step = 2.0 ** -frac
    for l in range(2):
        assert q.sw[l].tolist() == [step, step]
    assert q.W[0].tolist() == [[32, -16, 127], [-128, 1, 48]]
    assert q.W[1].tolist() == [[64, -64], [-2, 32]]
    assert q.M[0].tolist() == [1, 1]                 # M is 1: a pure shift
    S = int(q.S[0][0])
    assert q.S[0].tolist() == [S, S] and S >= 0
    # the next layer's input step is exactly sx*sw*2^S, and it covers the calibrated range
    assert q.sx[1] == sx0 * step * 2.0 ** S
    peak = _float_hidden_peak(W0, b0, X, sx0)
    assert q.sx[1] * 255 >= peak * (1 - 1e-12)
    assert S == 0 or q.sx[1] / 2 * 255 < peak       # and it is the smallest such power of 2
    # bias at the accumulator scale: b / (sx * sw)
    assert q.b[0].tolist() == [exact_half_away(Fraction(v) / (Fraction(sx0) * Fraction(step)))
                               for v in b0]
    assert q.b[1].tolist() == [exact_half_away(Fraction(v) / (Fraction(q.sx[1]) * Fraction(step)))
                               for v in b1]


def test_quantize_model_integer_two_layers_requant_ratio():
    W0 = np.array([[127 / 64, -0.5, 3 / 128], [-5 / 128, 1.0, -1.0]])
    b0 = np.array([0.01, 0.02])
    W1 = np.array([[0.3, -0.25], [1.0, 0.125]])
    b1 = np.zeros(2)
    X = np.array([[255, 0, 0], [0, 255, 0], [12, 200, 7]])
    sx0 = 1 / 255
    q = qf.quantize_model([W0, W1], [b0, b1], input_scale=sx0, calibration=X)
    sw0 = 1 / 64                                     # 127/64 / 127
    peak = _float_hidden_peak(W0, b0, X, sx0)       # neuron 0 on [255, 0, 0]: 127/64 + 0.01
    sy = peak / 255
    ratio = sx0 * sw0 / sy
    M, S = q.M[0].astype(float), q.S[0].astype(float)
    assert np.all(q.M[0] < 2 ** 15)
    assert np.all(np.abs(M / 2 ** S - ratio) / ratio <= 2.0 ** -14)
    assert math.isclose(q.sx[1], sy, rel_tol=1e-12)
    assert math.isclose(peak, 127 / 64 + 0.01)
    # sw1 = 1/127: 0.3*127 = 38.1 -> 38, -31.75 -> -32, 127, 15.875 -> 16
    assert q.W[1].tolist() == [[38, -32], [127, 16]]


def test_quantize_model_refuses_bad_settings():
    W, b = [W_LAYER], [np.zeros(2)]
    kw = dict(input_scale=1 / 255, calibration=np.zeros((1, 3)))
    with pytest.raises(QuantizationError):
        qf.quantize_model(W, b, weight_bits=1, **kw)
    with pytest.raises(QuantizationError):
        qf.quantize_model(W, b, act_bits=17, **kw)
    with pytest.raises(QuantizationError):
        qf.quantize_model(W, b, encoding="fixed", **kw)       # no frac_bits
    with pytest.raises(QuantizationError):
        qf.quantize_model(W, b, encoding="float", **kw)


# --------------------------------------------------------------------------- requantization
def test_requant_params_precision_over_a_range_of_ratios():
    ratios = np.geomspace(1e-6, 100.0, 301)
    M, S = qf.requant_params(ratios, "integer")
    assert M.shape == S.shape == ratios.shape
    assert np.all(M >= 0) and np.all(M < 2 ** 15)
    assert np.all(S >= 0)
    for r, m, s in zip(ratios, M.tolist(), S.tolist()):
        approx = Fraction(m, 2 ** s)
        assert abs(approx - Fraction(r)) <= Fraction(r) * Fraction(1, 2 ** 14), (r, m, s)


@pytest.mark.parametrize("ratio, m_over_2s", [
    (1.0, 1.0), (0.5, 0.5), (0.25, 0.25), (2.0 ** -10, 2.0 ** -10), (3.0, 3.0),
])
def test_requant_params_exact_for_simple_ratios(ratio, m_over_2s):
    M, S = qf.requant_params(np.array([ratio]), "integer")
    assert int(M[0]) / 2 ** int(S[0]) == m_over_2s


def test_requant_params_fixed_is_power_of_two_shift():
    M, S = qf.requant_params(np.array([2.0 ** -5, 1.0, 2.0 ** -12]), "fixed")
    assert M.tolist() == [1, 1, 1]
    assert S.tolist() == [5, 0, 12]


@pytest.mark.parametrize("ratio", [0.0, -1.0, float("nan"), float("inf")])
def test_requant_params_refuses_non_positive_ratio(ratio):
    with pytest.raises(QuantizationError):
        qf.requant_params(np.array([ratio]), "integer")


@pytest.mark.parametrize("acc, M, S, act_bits, expected", [
    (3, 1, 1, 8, 2),        # 1.5 -> 2 (a half rounds up)
    (1, 1, 1, 8, 1),        # 0.5 -> 1
    (2, 1, 2, 8, 1),        # 0.5 -> 1
    (5, 1, 2, 8, 1),        # 1.25 -> 1
    (1, 1, 2, 8, 0),        # 0.25 -> 0
    (6, 1, 2, 8, 2),        # 1.5 -> 2
    (5, 3, 2, 8, 4),        # 15/4 = 3.75 -> 4
    (7, 3, 0, 8, 21),       # S = 0: no rounding term, 21
    (10, 3, 2, 8, 8),       # 30/4 = 7.5 -> 8
    (-7, 3, 1, 8, 0),       # ReLU
    (-1, 1, 0, 8, 0),       # ReLU
    (0, 5, 3, 8, 0),
    (1000, 1, 0, 8, 255),   # saturates at 2^8 - 1
    (1000, 1, 0, 4, 15),    # saturates at 2^4 - 1
    (511, 1, 1, 8, 255),    # 255.5 -> 256 -> saturates at 255
    (509, 1, 1, 8, 255),    # 254.5 -> 255
    (507, 1, 1, 8, 254),    # 253.5 -> 254
])
def test_requantize_hand_cases(acc, M, S, act_bits, expected):
    y = qf.requantize(np.array([[acc]]), np.array([M]), np.array([S]), act_bits)
    assert y.tolist() == [[expected]]


@pytest.mark.parametrize("acc, M, S, expected", [
    (1, 1, 1, 0),           # 0.5 -> 0 (even), half up would give 1
    (3, 1, 1, 2),           # 1.5 -> 2
    (5, 1, 1, 2),           # 2.5 -> 2, half up would give 3
    (7, 1, 1, 4),           # 3.5 -> 4
    (6, 1, 2, 2),           # 1.5 -> 2
    (10, 1, 2, 2),          # 2.5 -> 2
    (11, 1, 2, 3),          # 2.75 -> 3: not a tie
    (9, 1, 2, 2),           # 2.25 -> 2
    (5, 3, 1, 8),           # 7.5 -> 8
    (9, 1, 0, 9),           # no shift, no rounding
    (-5, 1, 1, 0),          # ReLU
    (511, 1, 1, 255),       # 255.5 -> 256 -> saturates
])
def test_requantize_half_even_hand_cases(acc, M, S, expected):
    y = qf.requantize(np.array([[acc]]), np.array([M]), np.array([S]), 8, "half_even")
    assert y.tolist() == [[expected]]


def test_requantize_half_even_is_numpys_round():
    # numpy rounds halves to even (as QONNX's Quant does): exact in float64 here, as
    # acc * M / 2^S < 2^53 is a dyadic number
    rng = np.random.default_rng(3)
    acc = rng.integers(-2 ** 10, 2 ** 12, 5000)
    M = rng.integers(0, 2 ** 6, 5000)
    S = rng.integers(0, 12, 5000)
    S[::7] = 1                         # plenty of exact ties
    expected = np.minimum(np.round(np.maximum(acc, 0) * M / 2.0 ** S), 2 ** 16 - 1)
    assert np.array_equal(qf.requantize(acc, M, S, 16, "half_even"), expected.astype(np.int64))
    ties = (qf.requantize(acc, M, S, 16, "half_up") != expected).sum()
    assert ties > 100                  # the modes differ: the check can tell them apart


def test_round_mode_is_in_the_manifest_and_old_manifests_round_half_up():
    q = hand_model(W=[[[1, -2], [3, 1]], [[1, 0]]], b=[[0, 0], [0]], M=[[1, 1]], S=[[1, 1]],
                   act_bits=4)
    q.round = ["half_even"]
    d = q.to_arrays()
    assert str(d["round0"]) == "half_even"
    assert qf.QuantizedModel.from_arrays(d).round_mode(0) == "half_even"
    del d["round0"]
    assert qf.QuantizedModel.from_arrays(d).round_mode(0) == "half_up"
    q.round = ["nearest"]
    with pytest.raises(qf.QuantizationError, match="round must be one of"):
        q.validate()


def test_requantize_per_neuron_columns():
    acc = np.array([[3, 5, -4], [8, 1000, 7]])
    M = np.array([1, 3, 2])
    S = np.array([1, 2, 0])
    # column 0: 3/2 = 1.5 -> 2, 8/2 = 4; column 1: 15/4 -> 4, 3000/4 = 750 -> 255;
    # column 2: ReLU -> 0, 14
    assert qf.requantize(acc, M, S, 8).tolist() == [[2, 4, 0], [4, 255, 14]]


def test_requantize_large_accumulator_does_not_overflow():
    # acc near 2^31, M near 2^15: acc * M ~ 2^46 must be exact
    acc = 2 ** 31 - 1
    M, S = 2 ** 15 - 1, 40
    expected = min(2 ** 16 - 1, (acc * M + 2 ** (S - 1)) >> S)   # Python ints
    y = qf.requantize(np.array([[acc]]), np.array([M]), np.array([S]), 16)
    assert y.tolist() == [[expected]]
    assert expected == 64                                          # 2^46/2^40 = 64


# --------------------------------------------------------------------------- reference model
def test_reference_forward_two_layers_by_hand():
    # layer 0: 2 inputs -> 2 hidden, act_bits 4 (max 15)
    #   acc0 = 4 + x0 - 2 x1 ;  y0 = (relu(acc0) * 1 + 1) >> 1
    #   acc1 = -10 + 3 x0 + x1 ; y1 = (relu(acc1) * 3 + 2) >> 2
    # layer 1: logits = [y0, y1 - 3, y0]  (rows 0 and 2 equal: always a tie)
    q = hand_model(W=[[[1, -2], [3, 1]], [[1, 0], [0, 1], [1, 0]]],
                   b=[[4, -10], [0, -3, 0]], M=[[1, 3]], S=[[1, 2]], act_bits=4)
    X = np.array([[10, 3],    # acc [8, 23] -> y [4, 69/4=17.25 -> 17 -> 15] -> [4, 12, 4]
                  [1, 0],     # acc [5, -7] -> y [2.5 -> 3, 0]              -> [3, -3, 3]
                  [0, 20],    # acc [-36, 10] -> y [0, 7.5 -> 8]            -> [0, 5, 0]
                  [0, 5],     # acc [-6, -5] -> y [0, 0]                    -> [0, -3, 0]
                  [0, 0]])    # acc [4, -10] -> y [2, 0]                    -> [2, -3, 2]
    logits, classes = qf.reference_forward(q, X)
    assert logits.tolist() == [[4, 12, 4], [3, -3, 3], [0, 5, 0], [0, -3, 0], [2, -3, 2]]
    assert classes.tolist() == [1, 0, 1, 0, 0]      # ties between 0 and 2 go to 0


def test_reference_forward_ties_go_to_lowest_index():
    q = hand_model(W=[[[0], [1], [1]]], b=[[3, 0, 0]])
    logits, classes = qf.reference_forward(q, np.array([[3], [4], [2], [0]]))
    assert logits.tolist() == [[3, 3, 3], [3, 4, 4], [3, 2, 2], [3, 0, 0]]
    assert classes.tolist() == [0, 1, 0, 0]


def test_reference_forward_single_output_is_positive_test():
    q = hand_model(W=[[[2, -1]]], b=[[-1]])
    X = np.array([[1, 1], [1, 0], [0, 1], [255, 0], [0, 0]])
    logits, classes = qf.reference_forward(q, X)
    assert logits.tolist() == [[0], [1], [-2], [509], [-1]]
    assert classes.tolist() == [0, 1, 0, 1, 0]     # class 1 iff logit > 0 (0 -> class 0)


def test_reference_forward_accepts_one_image_as_1d():
    q = hand_model(W=[[[1, 2], [3, -1]]], b=[[0, 1]])
    logits, classes = qf.reference_forward(q, np.array([5, 7]))
    assert logits.tolist() == [[19, 9]]
    assert classes.tolist() == [0]


def test_reference_forward_sums_784_products_exactly():
    # 784 inputs at 255 with weight 127: 127 * 255 * 784 = 127 * 199,920 = 25,389,840
    full = 127 * 255 * 784
    assert full == 25_389_840
    q = hand_model(W=[np.full((2, 784), 127)], b=[[0, -full + 1]])
    logits, classes = qf.reference_forward(q, np.full((1, 784), 255))
    assert logits.tolist() == [[25_389_840, 1]]
    assert classes.tolist() == [0]


# --------------------------------------------------------------------------- accumulator width
def test_acc_bits_all_minus_128_weights_784_inputs():
    q = hand_model(W=[np.full((1, 784), -128)], b=[[0]])
    lo = -128 * 255 * 784
    assert lo == -25_589_760
    assert q.acc_range(0) == (lo, 0)
    expected = smallest_signed_width(lo, 0)
    assert expected == 26            # 2^24 = 16,777,216 < 25,589,760 <= 2^25
    assert q.acc_bits(0) == expected


@pytest.mark.parametrize("weights, bias, input_bits", [
    ([[127] * 784], [0], 8),
    ([[0, 0]], [127], 8),
    ([[0, 0]], [128], 8),
    ([[0, 0]], [-128], 8),
    ([[0, 0]], [-129], 8),
    ([[3, -2, 1], [-1, -1, -1]], [5, -7], 4),
    ([[1]], [0], 1),
])
def test_acc_bits_is_smallest_signed_width(weights, bias, input_bits):
    W = np.array(weights, dtype=np.int64)
    q = hand_model(W=[W], b=[bias], input_bits=input_bits)
    xmax = 2 ** input_bits - 1
    # worst cases, with Python ints: every input at 0 or xmax, whichever pushes the sum out
    lo = min([0] + [b + sum(w * xmax for w in row if w < 0) for row, b in zip(weights, bias)]
             + list(bias))
    hi = max([0] + [b + sum(w * xmax for w in row if w > 0) for row, b in zip(weights, bias)]
             + list(bias))
    assert q.acc_range(0) == (lo, hi)
    assert q.acc_bits(0) == smallest_signed_width(lo, hi)


def test_acc_bits_of_hidden_layer_uses_act_bits():
    q = hand_model(W=[[[1]], [[-100]]], b=[[0], [0]], M=[[1]], S=[[0]], act_bits=4)
    assert q.acc_range(1) == (-100 * 15, 0)
    assert q.acc_bits(1) == smallest_signed_width(-1500, 0) == 12


# --------------------------------------------------------------------------- manifest round trip
def test_manifest_round_trip_through_npz(tmp_path):
    q = QuantizedModel(
        input_bits=8, weight_bits=6, act_bits=5, encoding="fixed",
        W=[np.array([[1, -2, 31], [-32, 0, 7]]), np.array([[3, -4]])],
        b=[np.array([100, -7]), np.array([-123456])],
        M=[np.array([1, 1])], S=[np.array([4, 4])],
        sw=[np.array([0.25, 0.25]), np.array([0.25])], sx=[1 / 255, 0.0625])
    path = tmp_path / "quantized.npz"
    np.savez(path, **q.to_arrays())
    with np.load(path, allow_pickle=False) as d:
        assert int(d["acc_bits0"]) == smallest_signed_width(-7 - 32 * 255, 100 + 32 * 255)
        r = QuantizedModel.from_arrays(d)
    assert (r.input_bits, r.weight_bits, r.act_bits, r.encoding) == (8, 6, 5, "fixed")
    assert r.n_layers == 2
    for a, b in zip(r.W + r.b + r.M + r.S, q.W + q.b + q.M + q.S):
        assert a.dtype == np.int64
        assert a.tolist() == b.tolist()
    assert [s.tolist() for s in r.sw] == [[0.25, 0.25], [0.25]]
    assert r.sx == [1 / 255, 0.0625]
    X = np.array([[0, 0, 0], [255, 1, 2], [9, 200, 31]])
    assert qf.reference_forward(r, X)[0].tolist() == qf.reference_forward(q, X)[0].tolist()


def test_manifest_round_trip_single_layer_without_scales(tmp_path):
    q = hand_model(W=[[[1, -1]]], b=[[2]])
    path = tmp_path / "q.npz"
    np.savez(path, **q.to_arrays())
    with np.load(path, allow_pickle=False) as d:
        assert sorted(d.files) == sorted(["input_bits", "weight_bits", "act_bits", "encoding",
                                          "n_layers", "W0", "b0", "acc_bits0"])
        r = QuantizedModel.from_arrays(d)
    assert r.W[0].tolist() == [[1, -1]] and r.b[0].tolist() == [2]
    assert r.M == [] and r.S == [] and r.sw == [] and r.sx == []
    assert r.encoding == "integer"
