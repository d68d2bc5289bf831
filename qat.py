"""Quantization-aware training with Brevitas (trainer.py --qat), exported as QONNX.

The network is built so that bram-mlp's integer contract holds it exactly (docs/import.md):
    input   QuantIdentity: the pixel codes, unsigned input_bits, step 2^-input_bits (the
            model is fed code / 2^input_bits, so the quantized input is the code itself)
    layers  QuantLinear: weights signed weight_bits, one power-of-two step per layer
            (Int8WeightPerTensorFixedPoint); bias at the accumulator step (Int32Bias)
    hidden  QuantReLU: unsigned act_bits, one power-of-two step per layer
            (Uint8ActPerTensorFixedPoint), rounding half to even (QONNX's ROUND)
    last    QuantLinear without an output quantizer: its accumulators are the logits
With power-of-two steps every requantization ratio is a power of two, so the hardware's
M / 2^S is the model's ratio exactly and the generated VHDL equals the QONNX model.

torch and brevitas are heavy (requirements-import.txt): this module imports them only when
called.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

INPUT_BITS = 8
# what QAT needs beyond requirements.txt (requirements-import.txt)
NEEDS = ("torch", "brevitas", "onnxoptimizer")


def missing() -> str | None:
    """The first package QAT needs that is not installed, or None."""
    import importlib.util

    return next((name for name in NEEDS if importlib.util.find_spec(name) is None), None)


def build_mlp(topology: list[int], weight_bits: int, act_bits: int,
              input_bits: int = INPUT_BITS):
    """A Brevitas MLP of `topology` (e.g. [784, 64, 64, 64, 10])."""
    import torch
    import brevitas.nn as qnn
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import (Int8WeightPerTensorFixedPoint, Int32Bias,
                                Uint8ActPerTensorFixedPoint)

    class InputCodes(Uint8ActPerTensorFixedPoint):
        """The input's step is fixed: 1.0 / (2^bits - 1) rounded up to a power of two,
        2^-bits: the model takes code / 2^bits and the quantizer gives the code back."""
        scaling_impl_type = ScalingImplType.CONST
        scaling_const = 1.0
        max_val = 1.0

    layers = [qnn.QuantIdentity(act_quant=InputCodes, bit_width=input_bits,
                                return_quant_tensor=True)]
    for l, (n_in, n_out) in enumerate(zip(topology[:-1], topology[1:])):
        last = l == len(topology) - 2
        layers.append(qnn.QuantLinear(n_in, n_out, bias=True,
                                      weight_quant=Int8WeightPerTensorFixedPoint,
                                      weight_bit_width=weight_bits, bias_quant=Int32Bias,
                                      return_quant_tensor=not last))
        if not last:
            layers.append(qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint,
                                        bit_width=act_bits, return_quant_tensor=True))
    return torch.nn.Sequential(*layers)


def train(x_train: np.ndarray, y_train: np.ndarray, topology: list[int], weight_bits: int,
          act_bits: int, epochs: int = 20, seed: int = 0, batch: int = 64,
          lr: float = 0.01, log=print):
    """Train on uint8 codes x_train (n, n_in) and labels; returns the model (eval mode)."""
    import torch

    torch.manual_seed(seed)
    net = build_mlp(topology, weight_bits, act_bits)
    x = torch.tensor(x_train / 2.0 ** INPUT_BITS, dtype=torch.float32)
    y = torch.tensor(np.asarray(y_train), dtype=torch.int64)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        log(f"qat: epoch {epoch + 1}/{epochs}, loss {total / len(x):.4f}, "
            f"{time.perf_counter() - t0:.0f} s")
    net.eval()
    return net


def predict(net, x_codes: np.ndarray) -> np.ndarray:
    """The trained model's classes in PyTorch (for the accuracy beside the QONNX one)."""
    import torch

    with torch.no_grad():
        out = net(torch.tensor(x_codes / 2.0 ** INPUT_BITS, dtype=torch.float32))
    return np.argmax(np.asarray(out), axis=1)


def export(net, n_in: int, path: Path) -> None:
    """The model as QONNX (brevitas.export.export_qonnx), input code / 2^input_bits, in
    one file (torch's exporter may leave a <path>.data beside it: folded back in)."""
    import onnx
    import torch
    from brevitas.export import export_qonnx

    path = Path(path)
    data = path.with_name(path.name + ".data")
    existed = data.exists()
    export_qonnx(net, torch.zeros(1, n_in), str(path))
    model = onnx.load(str(path))             # with any external data
    onnx.save(model, str(path), save_as_external_data=False)
    if data.exists() and not existed:
        data.unlink()
