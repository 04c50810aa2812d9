"""Standalone RELU, RELU6, RELU_N1_TO_1 and RELU_0_TO_1.

float32: a plain clamp written as the C++ comparisons (``x < lo ? lo : x`` ...), so NaN
and ``-0.0`` pass through unchanged (verified: LiteRT REF RELU keeps ``-0.0``).

Quantized (int8, uint8; int16 for RELU and RELU6 with zero points 0): the op
*requantizes* from the input to the output parameters and clamps
(arithmetic.md §2.12)::

    m, shift = QuantizeMultiplier(s_in / s_out)    # f32 division in TFLite; f64 per flavour
    lo = max(qmin, zp_out + roundf(fl32(act_min / s_out)))
    hi = qmax (RELU) or min(qmax, zp_out + roundf(fl32(act_max / s_out)))
    out = min(max(zp_out + MBQM_double(q - zp_in, m, shift), lo), hi)

``ctx.flavor.relu_multiplier`` chooses float32 (TFLite) or float64 (the TFLM wheel)
for the division.

**TFLM's RELU6 is different** (``ctx.flavor.name == "tflm"``): it does *not* requantize.
It clamps the raw input codes to ``[zp_in, Q_in(6)]`` with
``Q_in(6) = clamp(round(fl32(6 / s_in)) + zp_in)`` in the *input* quantization, and
writes those codes unchanged, ignoring the output's scale and zero point
(micro/kernels/activations_common.cc ``Relu6Prepare``, activations.h
``Relu6Quantized``). When the converter gives the RELU6 output other parameters than
its input (the usual case) TFLM's result differs from TFLite's.

Mirrors: tensorflow/lite/kernels/activations.cc (ReluPrepare, QuantizedReluX, ReluEval,
Relu1Eval, Relu6Eval, Relu0to1Eval), internal/reference/reference_ops.h (ReluX),
micro/kernels/activations{,_common}.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (
    multiply_by_quantized_multiplier,
    qrange,
    quantize_multiplier,
    round_half_away,
)
from ..context import Kernel, OpContext
from ..flavors import Precision
from .elementwise import require_per_tensor

_F32, _I8, _U8, _I16 = (np.dtype(t) for t in (np.float32, np.int8, np.uint8, np.int16))


@dataclass(frozen=True)
class OpData:
    """kind: ``"float"``, ``"requantize"`` (TFLite ReluX) or ``"clamp"`` (TFLM RELU6).

    float_min / float_max : the real bounds (``inf`` for RELU's upper bound).
    input_offset / output_offset are the zero points themselves (TFLite ``ReluParams``).
    """

    kind: str
    output_dtype: np.dtype
    float_min: float
    float_max: float
    input_offset: int = 0
    output_offset: int = 0
    real_multiplier: float = 0.0
    output_multiplier: int = 0
    output_shift: int = 0
    quantized_activation_min: int = 0
    quantized_activation_max: int = 0


def relu_real_multiplier(s_in: float, s_out: float, precision: Precision) -> float:
    """``s_in / s_out`` in float32 (TFLite ``ReluPrepare``) or float64 (TFLM wheel)."""
    if precision is Precision.F32:
        return float(np.float32(s_in) / np.float32(s_out))
    return float(np.float64(np.float32(s_in)) / np.float64(np.float32(s_out)))


def _quantized_bound(bound: float, scale: float, zero_point: int) -> int:
    """``zero_point + (int)roundf(fl32(bound / scale))``."""
    return zero_point + int(round_half_away(float(np.float32(bound) / np.float32(scale))))


def _make_prepare(op: str, act_min: float, act_max: float, dtypes: tuple[np.dtype, ...]):
    def prepare(ctx: OpContext) -> OpData:
        inp, out = ctx.input(0), ctx.output(0)
        ctx.set_output_shape(0, inp.shape)
        dtype = np.dtype(inp.dtype)
        if np.dtype(out.dtype) != dtype:
            raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
        if dtype not in dtypes:
            raise ctx.unsupported(supported=", ".join(t.name for t in dtypes))
        if dtype == _F32:
            return OpData("float", dtype, act_min, act_max)
        s_in, zp_in = require_per_tensor(ctx, inp, "input")
        s_out, zp_out = require_per_tensor(ctx, out, "output")
        if dtype == _I16 and (zp_in, zp_out) != (0, 0):
            raise ctx.error(f"int16 {op} needs zero points 0 (got {zp_in} -> {zp_out})")
        qmin, qmax = qrange(dtype)
        if op == "RELU6" and ctx.flavor.name == "tflm":
            # TFLM: clamp in the input's quantization, no requantization (see module doc).
            six = min(max(_quantized_bound(6.0, s_in, zp_in), qmin), qmax)
            return OpData(
                "clamp", dtype, act_min, act_max, input_offset=zp_in, output_offset=zp_in,
                quantized_activation_min=zp_in, quantized_activation_max=six,
            )  # fmt: skip
        real = relu_real_multiplier(s_in, s_out, ctx.flavor.relu_multiplier)
        m, shift = quantize_multiplier(real)
        lo = max(qmin, _quantized_bound(act_min, s_out, zp_out))
        hi = qmax if act_max == np.inf else min(qmax, _quantized_bound(act_max, s_out, zp_out))
        return OpData(
            "requantize", dtype, act_min, act_max, input_offset=zp_in, output_offset=zp_out,
            real_multiplier=real, output_multiplier=m, output_shift=shift,
            quantized_activation_min=lo, quantized_activation_max=hi,
        )  # fmt: skip

    prepare.__doc__ = f"Validate {op} and precompute its requantization and clamp range."
    return prepare


def relu_float(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``val > hi ? hi : val < lo ? lo : val`` in float32 (NaN and -0.0 pass through)."""
    x = x.astype(np.float32, copy=False)
    y = np.where(x < np.float32(lo), np.float32(lo), x)
    if hi != np.inf:
        y = np.where(x > np.float32(hi), np.float32(hi), y)
    return y.astype(np.float32, copy=False)


def relu_quantized(q: np.ndarray, d: OpData) -> np.ndarray:
    """TFLite ``ReluX``: requantize then clamp (see module doc for the formula)."""
    y = multiply_by_quantized_multiplier(q.astype(np.int64) - d.input_offset,
                                         d.output_multiplier, d.output_shift)
    y = y + d.output_offset
    y = np.minimum(np.maximum(y, d.quantized_activation_min), d.quantized_activation_max)
    return y.astype(d.output_dtype)


def relu6_tflm_clamp(q: np.ndarray, d: OpData) -> np.ndarray:
    """TFLM ``Relu6Quantized``: ``val > six ? six : val < zero ? zero : val`` on raw codes."""
    lo, hi = d.quantized_activation_min, d.quantized_activation_max
    y = np.where(q < lo, lo, q)
    y = np.where(q > hi, hi, y)
    return y.astype(d.output_dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply the activation prepared by one of the ``prepare`` functions above."""
    x = inputs[0]
    if data.kind == "float":
        return [relu_float(x, data.float_min, data.float_max)]
    if data.kind == "clamp":
        return [relu6_tflm_clamp(x, data)]
    return [relu_quantized(x, data)]


RELU = Kernel(_make_prepare("RELU", 0.0, np.inf, (_F32, _I8, _U8, _I16)), invoke)
RELU6 = Kernel(_make_prepare("RELU6", 0.0, 6.0, (_F32, _I8, _U8, _I16)), invoke)
RELU_N1_TO_1 = Kernel(_make_prepare("RELU_N1_TO_1", -1.0, 1.0, (_F32, _I8, _U8)), invoke)
RELU_0_TO_1 = Kernel(_make_prepare("RELU_0_TO_1", 0.0, 1.0, (_F32, _I8, _U8)), invoke)
