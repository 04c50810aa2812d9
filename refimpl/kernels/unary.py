"""Element-wise unary math: ABS, NEG, SQRT, RSQRT, FLOOR, CEIL, SQUARE.

(EXP, LOG, SIN and COS, which need glibc's float32 algorithms and, quantized, lookup
tables, live in :mod:`.unary_math`.)

Types each runtime has a kernel for (x86-64 wheels ai-edge-litert 2.3.0 and the TFLM
wheel, measured with single-op models):

=========  ==========================================  ==========================
op         LiteRT (REF = BUILTIN)                      TFLM
=========  ==========================================  ==========================
ABS        float32, int8, int16 (quantized or raw),    float32, int8, int16
           int32
NEG        float32, int32, int64, int8, int16 (raw     float32
           values: quantization is ignored)
SQRT       float32, int8, int16 (quantized)            float32
RSQRT      float32, int8 (fixed point), int16 (LUT)    float32, int8, int16
                                                       (both fixed point)
FLOOR      float32                                     float32
CEIL       float32 (not in BUILTIN_REF)                float32
SQUARE     float32                                     float32
=========  ==========================================  ==========================

Float arithmetic: ``fabs``, negation, ``floor``, ``ceil``, ``x * x`` and ``sqrtf`` are
exact IEEE operations; RSQRT is ``1.0f / sqrtf(x)`` (two correctly rounded steps).
XNNPACK (float32 only) flushes denormals and approximates SQRT / RSQRT, see
:func:`xnnpack_float`.

Quantized arithmetic (int16 always with zero points 0)
------------------------------------------------------
ABS (``needs_rescale = s_in != s_out`` as floats)::

    v = |q - zp_in|
    out = clamp(v + zp_out)                                   if not needs_rescale
    out = clamp(MBQM_double(v, m, e) + zp_out)               otherwise
    (m, e) = QuantizeMultiplier(double(fl32(s_in / s_out)))

SQRT (float in the loop; LiteRT only)::

    x = fl32(s_in * float(q - zp_in))    # must be >= 0, else the invoke fails
    out = clamp(wrap32(int(fl32(sqrtf(x) / s_out)) + zp_out))    # truncation, not rounding
    int(v) is x86's cvttss2si: INT32_MIN beyond the int32 range (then -> qmin, or qmax
    after the wrap when zp_out < 0)

RSQRT int8 (LiteRT and TFLM) and int16 (TFLM), gemmlowp fixed point::

    v = q - zp_in                         # must be >= 0, else the invoke fails
    v == 0: out = qmax
    (mi, ei) = GetInvSqrtQuantizedMultiplierExp(v, -1)     # 1/sqrt(v), Newton-Raphson
    t = MBQM_double(1, mi, ei + 20)                        # 2**20 / sqrt(v)
    out = clamp(MBQM_double(t, m, e - 20) + zp_out)
    (m, e) = QuantizeMultiplier(1.0 / double(fl32(sqrtf(s_in) * s_out)))     # LiteRT
    (m, e) = QuantizeMultiplier(1.0 / (sqrt(double(s_in)) * double(s_out)))   # TFLM wheel

RSQRT int16 (LiteRT): the 513-entry interpolated table of ``LUTPopulate<int16_t>`` over
``1.0f / sqrtf(x)`` (``x <= 0`` maps to ``32767 * s_out``), looked up with ``LUTLookup``.

NEG on int8 / int16 / int32 / int64 negates the stored integer (two's complement wrap:
``-(-128) = -128``), whatever the quantization says.

Mirrors: tflite/kernels/elementwise.cc (GenericPrepare, AbsEvalQuantized,
SqrtEvalQuantized, RsqrtEvalQuantizedInt8/Int16), neg.cc, floor.cc, ceil.cc,
internal/common.h (GetInvSqrtQuantizedMultiplierExp, LUTPopulateInt16, LUTLookup);
tensorflow/lite/micro/kernels/elementwise.cc, neg.cc, floor.cc, ceil.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from ..arithmetic import (  # fma_f32: re-exported for the XNNPACK float kernels
    fma_f32,
    multiply_by_quantized_multiplier,
    qrange,
    quantize_multiplier,
    wrap32,
)
from ..context import Kernel, OpContext
from .elementwise import require_per_tensor

_F32, _I8, _I16, _I32, _I64 = (
    np.dtype(t) for t in (np.float32, np.int8, np.int16, np.int32, np.int64)
)

#: Input types with a kernel, per op and runtime family (see the module docstring).
SUPPORTED: dict[str, dict[str, tuple[np.dtype, ...]]] = {
    "tflite": {
        "ABS": (_F32, _I8, _I16, _I32),
        "NEG": (_F32, _I32, _I64, _I8, _I16),
        "SQRT": (_F32, _I8, _I16),
        "RSQRT": (_F32, _I8, _I16),
        "FLOOR": (_F32,), "CEIL": (_F32,), "SQUARE": (_F32,),
    },
    "tflm": {
        "ABS": (_F32, _I8, _I16),
        "NEG": (_F32,),
        "SQRT": (_F32,),
        "RSQRT": (_F32, _I8, _I16),
        "FLOOR": (_F32,), "CEIL": (_F32,), "SQUARE": (_F32,),
    },
}

#: RSQRT's fixed-point path keeps ``2**20 / sqrt(v)`` as an integer (``kShift``).
RSQRT_SHIFT = 20


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    kind : ``"float"``, ``"int"`` (raw integers), ``"abs"``, ``"sqrt"``,
        ``"rsqrt_fixed"`` or ``"rsqrt_lut"``.
    needs_rescale : ABS only: ``s_in != s_out`` (as float32).
    output_multiplier, output_shift : ``real = m * 2**(shift - 31)``; ABS: ``s_in/s_out``,
        RSQRT: ``1 / (sqrt(s_in) * s_out)``.
    lut : RSQRT int16 (LiteRT): the 513 int16 table entries.
    """

    op: str
    kind: str
    dtype: np.dtype
    input_scale: float = 0.0
    input_offset: int = 0  # = zero_point_in (subtracted)
    output_scale: float = 0.0
    output_offset: int = 0  # = zero_point_out (added)
    needs_rescale: bool = False
    output_multiplier: int = 0
    output_shift: int = 0
    lut: np.ndarray | None = None
    delegated: bool = False  # float32 under the xnnpack flavour: the delegate runs it


#: Smallest normal float32.
FLT_MIN = np.float32(np.finfo(np.float32).tiny)


def flush_denormals(x: np.ndarray) -> np.ndarray:
    """Denormal float32 values replaced by a zero of the same sign.

    XNNPACK runs its kernels with the x86 MXCSR flags DAZ (denormal inputs read as
    zero) and FTZ (denormal results written as zero) set; apply it to the input and to
    the result of an XNNPACK float32 kernel. (Measured: NEG(-1e-40) = 0, CEIL(1e-40) = 0.)
    """
    x = np.asarray(x, np.float32)
    tiny = (np.abs(x) < FLT_MIN) & (x != 0)
    return np.where(tiny, np.copysign(np.float32(0), x), x).astype(np.float32)


def simd_max(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """x86 ``maxps(a, b)``: ``a > b ? a : b`` -- the second operand when either is NaN."""
    a = np.asarray(a, np.float32)
    return np.where(a > b, a, np.float32(b)).astype(np.float32)


def simd_min(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """x86 ``minps(a, b)``: ``a < b ? a : b`` -- the second operand when either is NaN."""
    a = np.asarray(a, np.float32)
    return np.where(a < b, a, np.float32(b)).astype(np.float32)


def _supported(ctx: OpContext) -> tuple[np.dtype, ...]:
    return SUPPORTED["tflm" if ctx.flavor.tflm else "tflite"][ctx.op_name]


def prepare(ctx: OpContext) -> OpData:
    """Validate the op and precompute its quantized parameters."""
    op = ctx.op_name
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1,
                "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    dtype = np.dtype(inp.dtype)
    allowed = _supported(ctx)
    if dtype not in allowed:
        raise ctx.unsupported(supported=", ".join(t.name for t in allowed))
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    if dtype == _F32:
        return OpData(op, "float", dtype, delegated=ctx.flavor.xnnpack)
    quantized = dtype == _I8 or (dtype == _I16 and inp.is_quantized)
    if op == "NEG" or not quantized:  # NEG, ABS int32 / raw int16
        return OpData(op, "int", dtype)
    s_in, zp_in = require_per_tensor(ctx, inp, "input")
    s_out, zp_out = require_per_tensor(ctx, out, "output")
    if dtype == _I16 and (zp_in, zp_out) != (0, 0):
        raise ctx.error(f"int16 {op} needs zero points 0 (got {zp_in} -> {zp_out})")
    common = dict(input_scale=s_in, input_offset=zp_in, output_scale=s_out,
                  output_offset=zp_out)
    f_in, f_out = np.float32(s_in), np.float32(s_out)
    if op == "ABS":
        rescale = bool(f_in != f_out)
        m, e = quantize_multiplier(float(f_in / f_out)) if rescale else (0, 0)
        return OpData(op, "abs", dtype, needs_rescale=rescale, output_multiplier=m,
                      output_shift=e, **common)
    if op == "SQRT":
        return OpData(op, "sqrt", dtype, **common)
    # RSQRT
    if dtype == _I16 and not ctx.flavor.tflm:
        return OpData(op, "rsqrt_lut", dtype, lut=_rsqrt_lut16(s_in, s_out), **common)
    m, e = quantize_multiplier(rsqrt_real_multiplier(s_in, s_out, ctx.flavor.tflm))
    return OpData(op, "rsqrt_fixed", dtype, output_multiplier=m, output_shift=e, **common)


def rsqrt_real_multiplier(s_in: float, s_out: float, tflm: bool) -> float:
    """``1 / (sqrt(s_in) * s_out)`` as each runtime evaluates it.

    LiteRT (source): ``1. / (std::sqrt(float) * float)``, a float32 product widened.
    The TFLM wheel behaves as if the square root and product were double: with the
    float32 expression 262 of the 32768 int16 codes differ by one at ``s_in = 0.01,
    s_out = 2**-12`` (ties of the final rounding), with the double one none (measured,
    also 0 of 32768 at four other scale pairs). For int8 the two never differed (150
    random scale pairs x 256 codes on both runtimes).
    """
    f_in, f_out = np.float32(s_in), np.float32(s_out)
    if tflm:
        return 1.0 / (float(np.sqrt(np.float64(f_in))) * float(f_out))
    return 1.0 / float(np.float32(np.sqrt(f_in) * f_out))


def _rsqrt_lut16(s_in: float, s_out: float) -> np.ndarray:
    """``LUTPopulate<int16_t>`` (float overload) of ``1/sqrtf(x)``, ``x <= 0 -> 32767*s_out``."""
    big = np.float32(np.float32(32767) * np.float32(s_out))

    def f(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = (np.float32(1) / np.sqrt(np.where(x > 0, x, np.float32(1)))).astype(np.float32)
        return np.where(x > 0, y, big).astype(np.float32)

    return fp.lut_populate_int16(s_in, 0, s_out, 0, f, np.float32)


# ------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------
def unary_float(op: str, x: np.ndarray) -> np.ndarray:
    """The float32 function of ``op`` (see the module docstring for the rounding)."""
    x = np.asarray(x, np.float32)
    with np.errstate(all="ignore"):
        if op == "ABS":
            return np.abs(x)
        if op == "NEG":
            return np.negative(x)
        if op == "SQRT":
            return np.sqrt(x)
        if op == "RSQRT":
            return (np.float32(1) / np.sqrt(x)).astype(np.float32)
        if op == "FLOOR":
            return np.floor(x)
        if op == "CEIL":
            return np.ceil(x)
        if op == "SQUARE":
            return (x * x).astype(np.float32)
    raise AssertionError(op)


def xnnpack_float(op: str, x: np.ndarray) -> np.ndarray:
    """The float32 function as the XNNPACK delegate computes it (after DAZ, before FTZ).

    ABS, NEG, FLOOR, CEIL, SQUARE: exact, as :func:`unary_float` (ABS clears the sign
    bit and is the one op whose denormals are not flushed, measured). SQRT / RSQRT on x86
    use a hardware reciprocal-square-root estimate refined by Newton-Raphson: within 2
    ulps of the correctly rounded result (measured), not reproduced; refimpl keeps the
    IEEE result except that XNNPACK's RSQRT of ``±0`` is NaN (``0 * inf`` in the
    refinement), not ``inf``.
    """
    y = unary_float(op, x)
    if op == "RSQRT":
        y = np.where(np.asarray(x) == 0, np.float32(np.nan), y).astype(np.float32)
    return y


def unary_int(op: str, q: np.ndarray) -> np.ndarray:
    """ABS / NEG of raw integers with C's two's-complement wrap (``|INT_MIN| = INT_MIN``)."""
    dtype = np.asarray(q).dtype
    with np.errstate(over="ignore"):
        return (np.abs(q) if op == "ABS" else np.negative(q)).astype(dtype)


def abs_quantized(q: np.ndarray, d: OpData) -> np.ndarray:
    """Quantized ABS (module docstring)."""
    v = np.abs(q.astype(np.int64) - d.input_offset)
    if d.needs_rescale:
        v = multiply_by_quantized_multiplier(v, d.output_multiplier, d.output_shift)
    lo, hi = qrange(d.dtype)
    return np.clip(wrap32(v + d.output_offset), lo, hi).astype(d.dtype)  # int32 sum in C


def sqrt_quantized(q: np.ndarray, d: OpData) -> np.ndarray:
    """Quantized SQRT through float32, truncating (module docstring)."""
    x = (np.float32(d.input_scale) * (q.astype(np.int64) - d.input_offset).astype(np.float32))
    y = (np.sqrt(x.astype(np.float32)) / np.float32(d.output_scale)).astype(np.float32)
    lo, hi = qrange(d.dtype)
    # float -> int is C truncation; beyond int32 x86 gives INT32_MIN (measured: s_in = 1,
    # s_out = 2**-30 turns sqrt(127) into -128), and adding the zero point wraps.
    y64 = y.astype(np.float64)
    inside = np.abs(y64) < 2.0**31
    t = np.where(inside, np.trunc(np.where(inside, y64, 0.0)), -(2.0**31)).astype(np.int64)
    return np.clip(wrap32(t + d.output_offset), lo, hi).astype(d.dtype)


def rsqrt_fixed_point(q: np.ndarray, d: OpData) -> np.ndarray:
    """Quantized RSQRT in gemmlowp fixed point (module docstring)."""
    v = q.astype(np.int64) - d.input_offset
    m_inv, e_inv = fp.inv_sqrt_quantized_multiplier_exp(v, -1)
    t = multiply_by_quantized_multiplier(np.ones_like(v), m_inv, e_inv + RSQRT_SHIFT)
    y = wrap32(multiply_by_quantized_multiplier(t, d.output_multiplier,
                                                d.output_shift - RSQRT_SHIFT) + d.output_offset)
    lo, hi = qrange(d.dtype)
    return np.where(v == 0, hi, np.clip(y, lo, hi)).astype(d.dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply the op to ``inputs[0]``."""
    x = np.asarray(inputs[0])
    if data.kind == "float" and data.delegated and data.op != "ABS":  # ABS: a bit mask
        return [flush_denormals(xnnpack_float(data.op, flush_denormals(x)))]
    if data.kind == "float":
        return [unary_float(data.op, x)]
    if data.kind == "int":
        return [unary_int(data.op, x)]
    if data.kind == "abs":
        return [abs_quantized(x, data)]
    if data.op == "SQRT" and np.any(
            np.float32(data.input_scale) * (x.astype(np.int64) - data.input_offset) < 0):
        raise ctx.error("Sqrt is only defined for non-negative values")
    if data.op == "RSQRT" and np.any(x.astype(np.int64) < data.input_offset):
        raise ctx.error("Rsqrt is only defined for positive values")
    if data.kind == "sqrt":
        return [sqrt_quantized(x, data)]
    if data.kind == "rsqrt_fixed":
        return [rsqrt_fixed_point(x, data)]
    return [fp.lut_lookup_int16(x, data.lut).astype(data.dtype)]


_KERNEL = Kernel(prepare, invoke)
ABS = NEG = SQRT = RSQRT = FLOOR = CEIL = SQUARE = _KERNEL
