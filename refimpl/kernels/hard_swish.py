"""HARD_SWISH: ``x * relu6(x + 3) / 6`` element-wise; float32, int8, uint8 (LiteRT only).

Float32 (``r = min(6, max(0, x + 3))``, every step rounded to float32):

* LiteRT ``BUILTIN_REF`` and TFLM: ``(x * r) / 6``;
* LiteRT ``BUILTIN`` (``optimized_ops::HardSwish``; ``USE_NEON`` is defined on x86 through
  NEON_2_SSE): ``(x * fl32(1/6)) * r`` for the elements covered by its 16- and 4-wide
  vector loops, i.e. the first ``4 * floor(n / 4)`` of the ``n`` elements of the whole
  tensor, and ``(x * r) * fl32(1/6)`` for the remaining ``n mod 4``;
* XNNPACK (which delegates float32 HARD_SWISH): ``min(max(fma(x, fl32(1/6), 1/2), 0), 1)
  * x`` with denormals flushed (:func:`hard_swish_xnnpack`).

Quantized (arithmetic.md §2.13; the same in LiteRT REF, BUILTIN and TFLM; XNNPACK does
not take quantized HARD_SWISH). Prepare, all float32::

    hires = fl32(s_in / 128)
    (m_out, e_out) = QuantizeMultiplier(fl32(hires / s_out));  e_out <= 0 required
    (m_rel, e_rel) = QuantizeMultiplier(fl32(hires / fl32(3 / 32768)))
    m16 = DownScaleInt32ToInt16Multiplier(m) = (m + 2**15) >> 16, or 32767 if m >= 2**31-1-2**15

Eval, int16 arithmetic (``SRDHM16(a, b) = floor((a*b + 2**14) / 2**15)``, saturating
only ``-32768 * -32768``)::

    v  = (q - zp_in) * 128
    po = SRDHM16(v, m_out16)                                   # x on the output scale
    r  = v;  if e_rel > 0: r = sat16(r << (e_rel - 1))
    r  = SRDHM16(r, m_rel16);  if e_rel > 0: r = sat16(r << 1)
    if e_rel < 0: r = RDBPOT(r, -e_rel)                         # r = x/3 in Q0.15
    r  = (r + 2**15) >> 1                                       # relu6(x+3)/6 in [0, 1]
    p  = trunc(r * po / 2**15)                                  # no rounding here
    out = clamp(RDBPOT(p, -e_out) + zp_out)     # int16 in C; cannot overflow for 8-bit q

``RDBPOT`` here is gemmlowp's int16 version: for a shift of 16 or more it returns
``x >= 0 ? 1 : -1`` (:func:`rounding_divide_by_pot16`).

Mirrors: tflite/kernels/activations.cc (HardSwishPrepare, HardSwishEval),
internal/reference/hard_swish.h, internal/optimized/optimized_ops.h (HardSwish float),
internal/common.h (DownScaleInt32ToInt16Multiplier),
tensorflow/lite/micro/kernels/hard_swish{,_common}.cc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import fixedpoint as fp
from ..arithmetic import INT32_MAX, qrange, quantize_multiplier, rounding_divide_by_pot
from ..context import Kernel, OpContext
from .elementwise import require_per_tensor
from .unary import flush_denormals, fma_f32, simd_max, simd_min

_F32, _I8, _U8 = np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.uint8)
f32 = np.float32
ONE_SIXTH = f32(f32(1) / f32(6))
XNN_SIXTH = f32(float.fromhex("0x1.555556p-3"))  # the same float32 value, as XNNPACK writes it


@dataclass(frozen=True)
class OpData:
    """Field names as in TFLite's ``HardSwishParams``; ``kind`` float or quantized."""

    kind: str
    dtype: np.dtype
    float_order: str = "ref"  # "ref", "optimized" or "xnnpack" (float32 only)
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier_fixedpoint_int16: int = 0
    output_multiplier_exponent: int = 0
    reluish_multiplier_fixedpoint_int16: int = 0
    reluish_multiplier_exponent: int = 0


def downscale_int32_to_int16_multiplier(m: int) -> int:
    """``DownScaleInt32ToInt16Multiplier``: round a Q0.31 multiplier to Q0.15 (half up)."""
    if m >= INT32_MAX - (1 << 15):
        return 32767
    return (m + (1 << 15)) >> 16


def prepare(ctx: OpContext) -> OpData:
    """Validate HARD_SWISH and precompute the two 16-bit multipliers."""
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1,
                "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    dtype = np.dtype(inp.dtype)
    allowed = (_F32, _I8) if ctx.flavor.tflm else (_F32, _I8, _U8)
    if dtype not in allowed:
        raise ctx.unsupported(supported=", ".join(t.name for t in allowed))
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    if dtype == _F32:
        order = ("xnnpack" if ctx.flavor.xnnpack else
                 "optimized" if ctx.flavor.optimized else "ref")
        return OpData("float", dtype, float_order=order)
    s_in, zp_in = require_per_tensor(ctx, inp, "input")
    s_out, zp_out = require_per_tensor(ctx, out, "output")
    hires = f32(f32(1.0 / 128.0) * f32(s_in))
    m_out, e_out = quantize_multiplier(float(f32(hires / f32(s_out))))
    if e_out > 0:
        raise ctx.error(f"output multiplier {float(hires / f32(s_out))!r} needs a left shift "
                        f"({e_out}); HARD_SWISH requires s_in / 128 / s_out < 1")
    m_rel, e_rel = quantize_multiplier(float(f32(hires / f32(3.0 / 32768.0))))
    return OpData(
        "quantized", dtype, input_zero_point=zp_in, output_zero_point=zp_out,
        output_multiplier_fixedpoint_int16=downscale_int32_to_int16_multiplier(m_out),
        output_multiplier_exponent=e_out,
        reluish_multiplier_fixedpoint_int16=downscale_int32_to_int16_multiplier(m_rel),
        reluish_multiplier_exponent=e_rel,
    )


def hard_swish_float(x: np.ndarray, order: str) -> np.ndarray:
    """Float32 HARD_SWISH in the evaluation order of ``order`` (module docstring)."""
    x = np.asarray(x, f32)
    with np.errstate(all="ignore"):
        r = np.minimum(f32(6), np.maximum(f32(0), (x + f32(3)).astype(f32)))
        ref = ((x * r).astype(f32) / f32(6)).astype(f32)
        if order == "ref":
            return ref
        if order == "xnnpack":
            return hard_swish_xnnpack(x)
        scaled_first = ((x * ONE_SIXTH).astype(f32) * r).astype(f32)
        tail_first = ((x * r).astype(f32) * ONE_SIXTH).astype(f32)
    flat_scaled, flat_tail = scaled_first.reshape(-1), tail_first.reshape(-1)
    n_vec = 4 * (flat_scaled.size // 4)
    return np.concatenate([flat_scaled[:n_vec], flat_tail[n_vec:]]).reshape(x.shape)


def hard_swish_xnnpack(x: np.ndarray) -> np.ndarray:
    """XNNPACK ``f32-vhswish``: ``min(max(fma(x, fl32(1/6), 0.5), 0), 1) * x``, with the
    delegate's DAZ / FTZ and x86 ``maxps`` / ``minps`` (NaN -> the second operand)."""
    x = flush_denormals(np.asarray(x, f32))
    acc = simd_min(simd_max(fma_f32(x, XNN_SIXTH, f32(0.5)), f32(0)), f32(1))
    with np.errstate(all="ignore"):
        return flush_denormals((acc * x).astype(f32))


def rounding_divide_by_pot16(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT`` on int16 values, including its exponent >= 16 case.

    Up to 15 it is the usual division rounded half away from zero. From 16 on, the
    int16 mask ``2**e - 1`` truncates to -1, so the "remainder > threshold" test is true
    for every ``x >= 0`` and false for every ``x < 0``: the result is 1 for ``x >= 0``
    and -1 for ``x < 0`` (not 0). Measured: HARD_SWISH with ``s_in / 128 / s_out <
    2**-16`` gives ``zp_out + 1`` / ``zp_out - 1`` on LiteRT and TFLM.
    """
    x = np.asarray(x, np.int64)
    if exponent <= 15:
        return rounding_divide_by_pot(x, exponent)
    return np.where(x < 0, -1, 1)


def hard_swish_quantized(q: np.ndarray, d: OpData,
                         rdbpot: Callable[[np.ndarray, int], np.ndarray] | None = None
                         ) -> np.ndarray:
    """Quantized HARD_SWISH in 16-bit fixed point (module docstring).

    ``rdbpot`` replaces the two rounding right shifts (default: gemmlowp's int16 one,
    :func:`rounding_divide_by_pot16`); passing the plain
    :func:`~refimpl.arithmetic.rounding_divide_by_pot` gives the result intended for
    shifts of 16 or more (compare/cases/hard_swish.py uses it as the "correct" output).
    """
    rdbpot = rounding_divide_by_pot16 if rdbpot is None else rdbpot
    v = (q.astype(np.int64) - d.input_zero_point) * 128
    po = fp.srdhm16(v, d.output_multiplier_fixedpoint_int16)
    r = v
    e_rel = d.reluish_multiplier_exponent
    if e_rel > 0:
        r = fp.sat16(r << (e_rel - 1))
    r = fp.srdhm16(r, d.reluish_multiplier_fixedpoint_int16)
    if e_rel > 0:
        r = fp.sat16(r << 1)
    elif e_rel < 0:
        r = rdbpot(r, -e_rel)
    r = (r + (1 << 15)) >> 1
    prod = r * po  # |prod| < 2**30: C's truncating division by 2**15
    p = np.where(prod >= 0, prod >> 15, -((-prod) >> 15))
    y = rdbpot(p, -d.output_multiplier_exponent) + d.output_zero_point
    lo, hi = qrange(d.dtype)
    return np.clip(y, lo, hi).astype(d.dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply HARD_SWISH to ``inputs[0]``."""
    if data.kind == "float":
        return [hard_swish_float(inputs[0], data.float_order)]
    return [hard_swish_quantized(np.asarray(inputs[0]), data)]


HARD_SWISH = Kernel(prepare, invoke)
