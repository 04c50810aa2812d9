"""LEAKY_RELU: ``x > 0 ? x : alpha * x`` element-wise (any shape).

Supported: float32; int8 / int16 (zero points 0 in LiteRT) quantized; uint8 (LiteRT only).

Quantized arithmetic (arithmetic.md §2.14): two requantizations, one per sign of the
input, chosen on the integer difference ``d = q - zp_in``::

    identity: m_id, s_id = QuantizeMultiplier(s_in / s_out)
    alpha:    m_a,  s_a  = QuantizeMultiplier(s_in * alpha / s_out)     # negative if alpha < 0
    d >= 0:   out = zp_out + MBQM_double(d, m_id, s_id)
    d <  0:   out = zp_out + MBQM_double(d, |m_a|, s_a), negated when alpha < 0
    out = clamp(out, qmin, qmax)

The flavours differ in the precision of the two real multipliers (``ctx.flavor
.relu_multiplier``): LiteRT evaluates ``input->params.scale * params->alpha /
output->params.scale`` and ``s_in / s_out`` with float operands, i.e. in float32, then
widens; the TFLM wheel (8f6596d) behaves as double (its Aug-2026 source still shows the
float expressions; arithmetic.md §1.2). The two can round to different Q0.31
multipliers, which changes some outputs by one code (the seanet LEAKY_RELU goldens,
made with LiteRT, therefore differ from TFLM on a few models).

Negative alpha: LiteRT (since "Fix Leaky Relu for negative alpha values", Mar 2026) and
TFLM scale by ``|m_a|`` and negate, rather than passing a negative multiplier to
``MultiplyByQuantizedMultiplier``; the two differ only on exact rounding ties.

Mirrors: tensorflow/lite/kernels/activations.cc (LeakyReluPrepare, LeakyReluEval,
QuantizeLeakyRelu), internal/reference/leaky_relu.h (LeakyRelu, QuantizeLeakyRelu),
micro/kernels/leaky_relu{,_common}.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import INT32_MIN, multiply_by_quantized_multiplier, qrange, quantize_multiplier
from ..context import Kernel, OpContext
from ..flavors import Precision
from .elementwise import require_per_tensor

_F32, _I8, _U8, _I16 = (np.dtype(t) for t in (np.float32, np.int8, np.uint8, np.int16))


@dataclass(frozen=True)
class OpData:
    """kind ``"float"`` or ``"quantized"``; field names as in TFLite's ``LeakyReluParams``.

    real_multiplier_alpha / real_multiplier_identity : the real ratios as the flavour
        evaluates them; output_multiplier_* / output_shift_* their Q0.31 form
        (``real = m * 2**(shift - 31)``; ``output_multiplier_alpha < 0`` iff alpha < 0).
    """

    kind: str
    output_dtype: np.dtype
    alpha: np.float32
    input_offset: int = 0  # = zero_point_in (subtracted)
    output_offset: int = 0  # = zero_point_out (added)
    real_multiplier_alpha: float = 0.0
    output_multiplier_alpha: int = 0
    output_shift_alpha: int = 0
    real_multiplier_identity: float = 0.0
    output_multiplier_identity: int = 0
    output_shift_identity: int = 0
    #: XNNPACK (kind ``"xnnpack"``): the two ratios with 8 fractional bits
    xnn_positive_multiplier: int = 0
    xnn_negative_multiplier: int = 0


def leaky_relu_real_multipliers(
    s_in: float, alpha: float, s_out: float, precision: Precision
) -> tuple[float, float]:
    """``(s_in * alpha / s_out, s_in / s_out)`` in float32 (LiteRT) or double (TFLM wheel)."""
    f_in, f_alpha, f_out = np.float32(s_in), np.float32(alpha), np.float32(s_out)
    if precision is Precision.F32:
        return float(np.float32(f_in * f_alpha) / f_out), float(f_in / f_out)
    d_in, d_alpha, d_out = float(f_in), float(f_alpha), float(f_out)
    return d_in * d_alpha / d_out, d_in / d_out


def prepare(ctx: OpContext) -> OpData:
    """Validate LEAKY_RELU and precompute both requantizations."""
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    dtype = np.dtype(inp.dtype)
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    alpha = np.float32(0.0)  # LeakyReluOptions.alpha: schema default 0.0, also without a table
    if ctx.options is not None:
        alpha = np.float32(getattr(ctx.options, "alpha", 0.0))
    tflm = ctx.flavor.name == "tflm"
    if dtype == _F32:
        return OpData("float", dtype, alpha)
    allowed = (_I8, _I16) if tflm else (_I8, _U8, _I16)
    if dtype not in allowed:
        raise ctx.unsupported(supported="float32, " + ", ".join(t.name for t in allowed))
    s_in, zp_in = require_per_tensor(ctx, inp, "input")
    s_out, zp_out = require_per_tensor(ctx, out, "output")
    if dtype == _I16 and not tflm and (zp_in, zp_out) != (0, 0):
        raise ctx.error(f"int16 LEAKY_RELU needs zero points 0 (got {zp_in} -> {zp_out})")
    real_alpha, real_id = leaky_relu_real_multipliers(
        s_in, float(alpha), s_out, ctx.flavor.relu_multiplier
    )
    m_a, sh_a = quantize_multiplier(real_alpha)
    m_id, sh_id = quantize_multiplier(real_id)
    ratio = np.float32(np.float32(s_in) / np.float32(s_out))
    if ctx.flavor.xnnpack and dtype in (_I8, _U8) and 1 / 256 <= ratio <= 128:
        # XNNPACK qs8/qu8 vlrelu: Mp = lrintf(256 * s_in/s_out), Mn = lrintf(256 * ratio * alpha)
        mp = int(np.rint(np.float32(256.0) * ratio))
        mn = int(np.rint(np.float32(256.0) * np.float32(ratio * np.float32(alpha))))
        return OpData("xnnpack", dtype, alpha, input_offset=zp_in, output_offset=zp_out,
                      xnn_positive_multiplier=mp, xnn_negative_multiplier=mn)
    if m_a == INT32_MIN:  # |m_a| would overflow int32 (q rounds to exactly -1.0)
        raise ctx.unsupported(f"alpha multiplier {real_alpha!r} rounds to -2**31")
    return OpData(
        "quantized", dtype, alpha, input_offset=zp_in, output_offset=zp_out,
        real_multiplier_alpha=real_alpha, output_multiplier_alpha=m_a, output_shift_alpha=sh_a,
        real_multiplier_identity=real_id, output_multiplier_identity=m_id,
        output_shift_identity=sh_id,
    )  # fmt: skip


def leaky_relu_float(x: np.ndarray, alpha: np.float32) -> np.ndarray:
    """``val > 0 ? val : val * alpha`` in float32 (NaN and -0.0 take the ``alpha`` branch)."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x > 0, x, x * np.float32(alpha)).astype(np.float32)


def leaky_relu_quantized(q: np.ndarray, d: OpData) -> np.ndarray:
    """Quantized LEAKY_RELU (see the module docstring for the formula)."""
    diff = q.astype(np.int64) - d.input_offset
    identity = multiply_by_quantized_multiplier(
        diff, d.output_multiplier_identity, d.output_shift_identity
    )
    scaled = multiply_by_quantized_multiplier(
        diff, abs(d.output_multiplier_alpha), d.output_shift_alpha
    )
    if d.output_multiplier_alpha < 0:
        scaled = -scaled
    y = d.output_offset + np.where(diff >= 0, identity, scaled)
    qmin, qmax = qrange(d.output_dtype)
    return np.clip(y, qmin, qmax).astype(d.output_dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply LEAKY_RELU to ``inputs[0]``."""
    if data.kind == "float":
        return [leaky_relu_float(inputs[0], data.alpha)]
    if data.kind == "xnnpack":
        return [leaky_relu_xnnpack(inputs[0], data)]
    return [leaky_relu_quantized(inputs[0], data)]


def leaky_relu_xnnpack(q: np.ndarray, d: OpData) -> np.ndarray:
    """XNNPACK ``qs8-vlrelu``: 8 fractional bits, rounding half up.

    ``d = q - zp_in``; ``out = clamp(((zp_out << 8) + 128 + d * (d >= 0 ? Mp : Mn)) >> 8)``
    with ``Mp = lrintf(256 * fl32(s_in / s_out))``, ``Mn = lrintf(256 * fl32(ratio * alpha))``.
    """
    lo, hi = (-128, 127) if d.output_dtype == _I8 else (0, 255)
    diff = q.astype(np.int64) - d.input_offset
    m = np.where(diff >= 0, d.xnn_positive_multiplier, d.xnn_negative_multiplier)
    acc = (d.output_offset << 8) + 128 + diff * m
    return np.clip(acc >> 8, lo, hi).astype(d.output_dtype)


LEAKY_RELU = Kernel(prepare, invoke)
