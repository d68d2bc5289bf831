"""The example networks `python vunit_run.py` generates and simulates.

They cover the shapes of the lab (784->1, 784->10, 784->256->10), odd shapes, both
encodings and weight widths 4, 8 and 12, plus integer networks at the arithmetic extremes
(every weight -2^(b-1) or 2^(b-1)-1 with every input at its maximum).

The float weights are seeded random numbers, not trained networks: what is proven here is
that the VHDL equals the integer reference model bit for bit, whatever the weights. Trained
MNIST models come from trainer.ipynb / the trainer module.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import quantization_functions as qf
from model_files import FloatModel
from generator import Options, default_vectors


@dataclass
class Example:
    name: str
    model: FloatModel | qf.QuantizedModel
    opts: Options = field(default_factory=Options)
    n_vectors: int = 50
    seed: int = 1


def random_float_model(topology: list[int], seed: int) -> FloatModel:
    """He-style random weights and small biases; calibration: random sparse images."""
    rng = np.random.default_rng(seed)
    Ws, bs = [], []
    for n_in, n_out in zip(topology[:-1], topology[1:]):
        Ws.append(rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in)))
        bs.append(rng.normal(0.0, 0.1, n_out))
    calibration = default_vectors(topology[0], 8, n=256, seed=seed + 100)
    return FloatModel(W=Ws, b=bs, calibration=calibration,
                      source=f"random_{'_'.join(map(str, topology))}_seed{seed}.npz")


def extremes_model(n_in: int, weight_bits: int, act_bits: int = 8) -> qf.QuantizedModel:
    """Integer network at the extremes: n_in -> 2 -> 2.

    Layer 0: neuron 0 has every weight at -2^(b-1), neuron 1 every weight at 2^(b-1)-1, so
    with every input at 255 the accumulators reach the most negative and most positive
    values any network of this size can. Layer 1 does the same on the activations.
    """
    lo, hi = qf.int_range(weight_bits)
    W0 = np.array([[lo] * n_in, [hi] * n_in], dtype=np.int64)
    W1 = np.array([[lo, hi], [hi, lo]], dtype=np.int64)
    b0 = np.array([0, 1], dtype=np.int64)
    b1 = np.array([-1, 0], dtype=np.int64)
    # requantize neuron 1 so that the all-max input lands exactly at saturation
    acc_max = hi * n_in * 255 + 1
    M, S = qf.requant_params(np.array([1.0, 255.0 / acc_max]), "integer")
    return qf.QuantizedModel(input_bits=8, weight_bits=weight_bits, act_bits=act_bits,
                             encoding="integer", W=[W0, W1], b=[b0, b1], M=[M], S=[S])


def examples() -> list[Example]:
    ex = [
        Example("mnist_1", random_float_model([784, 1], 11)),
        Example("mnist_10", random_float_model([784, 10], 12)),
        Example("mnist_256_10", random_float_model([784, 256, 10], 13)),
        Example("odd_5_3_2", random_float_model([5, 3, 2], 14)),
        Example("odd_100_13_7_10", random_float_model([100, 13, 7, 10], 15)),
        # weight widths 4 and 12, both encodings, per-neuron scales
        Example("mnist_10_w4", random_float_model([784, 10], 12), Options(weight_bits=4)),
        Example("mnist_256_10_w12", random_float_model([784, 256, 10], 13),
                Options(weight_bits=12, per_neuron_scale=True)),
        Example("odd_5_3_2_w12", random_float_model([5, 3, 2], 14), Options(weight_bits=12)),
        Example("odd_100_13_7_10_w4pn", random_float_model([100, 13, 7, 10], 15),
                Options(weight_bits=4, per_neuron_scale=True)),
        Example("fixed_100_13_7_10", random_float_model([100, 13, 7, 10], 15),
                Options(encoding="fixed", frac_bits=6)),
        Example("fixed_784_10_w4", random_float_model([784, 10], 12),
                Options(weight_bits=4, encoding="fixed", frac_bits=3)),
        Example("fixed_5_3_2_w12", random_float_model([5, 3, 2], 14),
                Options(weight_bits=12, act_bits=6, encoding="fixed", frac_bits=10)),
        # the multiply-accumulate at its extremes
        Example("extremes_w4", extremes_model(784, 4)),
        Example("extremes_w8", extremes_model(784, 8)),
        Example("extremes_w12", extremes_model(784, 12)),
        # hardware options (the defaults above: one wide ROM per layer, the DSP budget of the
        # xc7z020, 165, which mnist_256_10 exceeds: its last 101 neurons multiply in LUTs)
        Example("mnist_256_10_rom1", random_float_model([784, 256, 10], 13),
                Options(neurons_per_rom=1, dsp_budget=266)),   # one ROM + one DSP per neuron
        Example("mnist_10_rom4_dsp3", random_float_model([784, 10], 12),
                Options(neurons_per_rom=4, dsp_budget=3)),     # last ROM half empty, mixed
        Example("odd_100_13_7_10_lut", random_float_model([100, 13, 7, 10], 15),
                Options(neurons_per_rom=5, dsp_budget=0)),     # every multiplier in LUTs
        Example("extremes_w12_lut", extremes_model(784, 12), Options(dsp_budget=1)),
        # folded (--pe): fewer multiply-accumulate lanes than neurons, in passes
        Example("odd_100_13_7_10_pe3", random_float_model([100, 13, 7, 10], 15),
                Options(pe=[3], neurons_per_rom=2, dsp_budget=4)),  # 2 lanes per ROM, 4 DSP
        Example("mnist_256_10_pe64", random_float_model([784, 256, 10], 13),
                Options(pe=[64, 10])),            # 4 passes of 64 lanes, 74 multipliers
        Example("extremes_w8_pe1", extremes_model(784, 8), Options(pe=[1])),
        # layers in flight: an image every slowest-layer clocks through the AXI4-Stream wrapper
        Example("mnist_256_10_flight", random_float_model([784, 256, 10], 13),
                Options(in_flight=True)),
        Example("odd_100_13_7_10_flight", random_float_model([100, 13, 7, 10], 15),
                Options(in_flight=True)),
        # output-bound: the AXI4-Stream wrapper's 101 result beats take longer than the
        # 6-clock inference, so an image comes out every 101 clocks, not every latency + 1
        Example("wide_3_100", random_float_model([3, 100], 16)),
    ]
    return ex


def extreme_vectors(n_in: int, n: int = 50) -> np.ndarray:
    """All inputs at maximum first, then the usual mix."""
    X = default_vectors(n_in, 8, n)
    X[0] = 255
    X[1] = 0
    return X
