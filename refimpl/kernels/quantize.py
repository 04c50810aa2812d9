"""QUANTIZE: float32 -> int8 / uint8 / int16, and integer -> integer requantization.

Two uses of one op:

* **quantize** (float32 input): per-tensor or per-channel (``quantized_dimension``);
* **requantize** (integer input): int8/uint8 -> int8/uint8/int16, int16 -> int8/int16/int32,
  int32 -> int8/int16, all with one per-tensor multiplier ``s_in / s_out``.

The arithmetic is the same in both flavours; they differ in what they accept: TFLM has
no float -> uint8 and no per-channel quantization, adds int8 -> int32, accepts only
uint8 -> int8 from uint8, and does not require int16 -> int16 zero points to be 0.

Mirrors: tensorflow/lite/kernels/quantize.cc (Prepare, Eval),
internal/reference/quantize.h (AffineQuantize, PerChannelQuantize),
internal/reference/requantize.h (Requantize); TFLM's quantize_common.cc runs the same
reference functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (
    INT32_MIN,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_neon,
    qrange,
    quantize_multiplier,
    round_half_away,
    wrap32,
)
from ..context import Kernel, OpContext

_I8, _U8, _I16, _I32 = (np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.int32))

#: Requantization pairs LiteRT accepts (input dtype -> output dtypes).
REQUANTIZE_PAIRS: dict[np.dtype, tuple[np.dtype, ...]] = {
    _I8: (_I8, _U8, _I16),
    _U8: (_I8, _U8, _I16),
    _I16: (_I8, _I16, _I32),
    _I32: (_I8, _I16),
}
#: Requantization pairs TFLM evaluates (``EvalQuantizeReference``, quantize_common.cc).
TFLM_REQUANTIZE_PAIRS: dict[np.dtype, tuple[np.dtype, ...]] = {
    _I8: (_I8, _U8, _I16, _I32),
    _U8: (_I8,),
    _I16: (_I8, _I16, _I32),
    _I32: (_I8, _I16),
}


@dataclass(frozen=True)
class OpData:
    """Precomputed QUANTIZE parameters.

    kind : ``"quantize"`` (float input) or ``"requantize"`` (integer input).
    scale, zero_point : output parameters, shape (C,) per channel or (1,) per tensor
        (quantize only); ``axis`` is the channel axis, or None per tensor.
    output_multiplier, output_shift : ``s_in / s_out = m * 2**(shift - 31)`` (requantize).
    flip_sign_bit : the int8 <-> uint8 shortcut ``out = in XOR 0x80`` applies.
    """

    kind: str
    output_dtype: np.dtype
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    axis: int | None = None
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    flip_sign_bit: bool = False
    #: ``"ref"`` (reference kernels, TFLM), ``"opt"`` (LiteRT's optimized kernels) or
    #: ``"xnn"`` (the XNNPACK delegate took the node)
    variant: str = "ref"
    #: XNNPACK requantize: the ratio with 8 fractional bits, ``lrintf(256 * s_in / s_out)``
    xnn_multiplier: int = 0


def quantize_reference(
    x: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int, dtype: np.dtype
) -> np.ndarray:
    """float32 -> integer exactly as the reference kernels compute it on x86-64.

    Arithmetic
    ----------
    ::

        r = roundf(fl32(x / scale))              # float32 division, ties away from zero
        i = int32(r)                             # C cast; x86 gives INT32_MIN when r is
                                                 # NaN or outside [-2**31, 2**31)
        q = clamp(wrap32(i + zero_point), qmin, qmax)

    The out-of-range cast is the one difference from
    :func:`refimpl.arithmetic.quantize` (which saturates): for ``+inf``, ``NaN`` or any
    ``|x / scale| >= 2**31`` LiteRT BUILTIN_REF returns ``qmin`` when ``zero_point >= 0``
    and ``qmax`` when ``zero_point < 0`` (the int32 addition wraps) — verified on
    LiteRT 2.3.0 with zero points 68 and -128. ``scale`` / ``zero_point`` may be
    arrays broadcasting against ``x`` (per-channel).
    """
    qmin, qmax = qrange(dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        v = np.asarray(x, np.float32) / np.asarray(scale, np.float32)
        r = round_half_away(v.astype(np.float64))
    valid = (r >= -(2.0**31)) & (r < 2.0**31)  # False for NaN
    i = np.where(valid, np.where(valid, r, 0.0).astype(np.int64), INT32_MIN)
    q = wrap32(i + np.asarray(zero_point, np.int64))
    return np.clip(q, qmin, qmax).astype(dtype)


#: Elements per vector step of the optimized kernels (AffineQuantize: 8 floats;
#: Requantize: 16 bytes); the remaining "tail" elements take the scalar formula.
OPT_QUANTIZE_BLOCK = 8
OPT_REQUANTIZE_BLOCK = 16


def quantize_optimized(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype
                       ) -> np.ndarray:
    """float32 -> integer as LiteRT's optimized ``AffineQuantize`` computes it on x86.

    Arithmetic
    ----------
    ::

        r = fl32(1.0 / f64(scale))                     # reciprocal in double, then float
        body (first 8*floor(n/8) elements, flat order):
            q = clamp(rne(fl32(x * r)) + zp)           # vcvtnq: ties to even
        tail:
            q = clamp(rha(f64(x) / f64(scale)) + zp)   # std::round on a double quotient

    Mirrors: internal/optimized/optimized_ops.h ``AffineQuantize`` (NEON_2_SSE).
    """
    qmin, qmax = qrange(dtype)
    flat = np.asarray(x, np.float32).reshape(-1)
    n_body = flat.size // OPT_QUANTIZE_BLOCK * OPT_QUANTIZE_BLOCK
    r = np.float32(1.0 / np.float64(np.float32(scale)))
    out = np.empty(flat.size, np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        body = np.rint((flat[:n_body] * r).astype(np.float32).astype(np.float64))
        tail = round_half_away(flat[n_body:].astype(np.float64) / np.float64(np.float32(scale)))
    out[:n_body] = np.clip(body, -(2.0**31), 2.0**31 - 1)
    out[n_body:] = np.clip(tail, -(2.0**31), 2.0**31 - 1)
    q = np.clip(out + int(zero_point), qmin, qmax)
    return q.reshape(np.shape(x)).astype(dtype)


def quantize_xnnpack(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype
                     ) -> np.ndarray:
    """float32 -> int8 / uint8 as XNNPACK's ``f32-qs8-vcvt`` micro-kernels compute it.

    ``q = rne(clamp(fl32(x * fl32(1 / scale)), qmin - zp, qmax - zp)) + zp`` for every
    element (float reciprocal; ties to even; no scalar tail formula).
    """
    qmin, qmax = qrange(dtype)
    inv = np.float32(np.float32(1.0) / np.float32(scale))
    with np.errstate(over="ignore", invalid="ignore"):
        v = (np.asarray(x, np.float32) * inv).astype(np.float32)
        v = np.clip(v, np.float32(qmin - zero_point), np.float32(qmax - zero_point))
    return (np.rint(v).astype(np.int64) + int(zero_point)).astype(dtype)


def requantize_optimized(q: np.ndarray, data: OpData) -> np.ndarray:
    """LiteRT's optimized ``Requantize``: (D) on whole 16-element blocks, (A) on the tail.

    The vector body evaluates ``vqrdmulh`` then a rounding shift that rounds half up
    (:func:`~refimpl.arithmetic.multiply_by_quantized_multiplier_neon`); leftover
    elements take the reference formula (:func:`requantize`).
    """
    if data.flip_sign_bit:
        return requantize(q, data)
    qmin, qmax = qrange(data.output_dtype)
    flat = q.reshape(-1).astype(np.int64)
    n_body = flat.size // OPT_REQUANTIZE_BLOCK * OPT_REQUANTIZE_BLOCK
    d = wrap32(flat - data.input_zero_point)
    y = np.empty_like(d)
    y[:n_body] = multiply_by_quantized_multiplier_neon(d[:n_body], data.output_multiplier,
                                                       data.output_shift)
    y[n_body:] = multiply_by_quantized_multiplier(d[n_body:], data.output_multiplier,
                                                  data.output_shift)
    y = wrap32(y + data.output_zero_point)
    return np.clip(y, qmin, qmax).astype(data.output_dtype).reshape(q.shape)


def requantize_xnnpack(q: np.ndarray, data: OpData) -> np.ndarray:
    """XNNPACK ``qs8-vcvt``: a ratio with only 8 fractional bits, rounding half up.

    ``M = lrintf(256 * fl32(s_in / s_out))``;
    ``out = clamp(((zp_out << 8) - M * zp_in + 128 + q * M) >> 8)``.
    """
    qmin, qmax = qrange(data.output_dtype)
    m = data.xnn_multiplier
    acc = (data.output_zero_point << 8) - m * data.input_zero_point + 128 + q.astype(np.int64) * m
    return np.clip(acc >> 8, qmin, qmax).astype(data.output_dtype)


def requantize(
    q: np.ndarray, data: OpData
) -> np.ndarray:
    """Integer -> integer requantization (TFLite ``reference_ops::Requantize``).

    Arithmetic
    ----------
    ::

        if flip_sign_bit:  out = q XOR 0x80        # int8 <-> uint8, same scale, zp +-128
        else:              out = clamp(MBQM_double(q - zp_in, m, shift) + zp_out, qmin, qmax)

    ``q - zp_in`` and the final addition are int32 operations (wrapping in C).
    """
    if data.flip_sign_bit:
        return (q.view(np.uint8) ^ np.uint8(0x80)).view(data.output_dtype)
    qmin, qmax = qrange(data.output_dtype)
    d = wrap32(q.astype(np.int64) - data.input_zero_point)
    y = multiply_by_quantized_multiplier(d, data.output_multiplier, data.output_shift)
    y = wrap32(y + data.output_zero_point)
    return np.clip(y, qmin, qmax).astype(data.output_dtype)


def prepare(ctx: OpContext) -> OpData:
    """Validate QUANTIZE and precompute the quantization or requantization parameters."""
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    in_dtype, out_dtype = np.dtype(inp.dtype), np.dtype(out.dtype)
    if not out.is_quantized:
        raise ctx.error(f"output {out.describe()} has no quantization parameters")

    tflm = ctx.flavor.name == "tflm"
    if in_dtype == np.dtype(np.float32):
        float_outputs = (_I8, _I16) if tflm else (_I8, _U8, _I16)
        if out_dtype not in float_outputs:
            names = ", ".join(t.name for t in float_outputs)
            raise ctx.unsupported(supported=f"float32 -> {names}")
        if tflm and out.is_per_channel:  # TF_LITE_ENSURE(scale->size == 1)
            raise ctx.unsupported("per-channel quantization", supported="per-tensor (TFLM)")
        scale = out.scale.astype(np.float32)
        zp = out.zero_point.astype(np.int64)
        axis = None
        if out.is_per_channel:
            axis = out.quantized_dimension
            rank = len(inp.shape)
            if not 0 <= axis < rank or inp.shape[axis] != scale.size:
                raise ctx.error(
                    f"per-channel output {out.describe()}: {scale.size} scales do not match "
                    f"dimension {axis} of input shape {list(inp.shape)}"
                )
            if zp.size == 1:  # TFLite repeats a single zero point for every channel
                zp = np.full(scale.size, zp[0], np.int64)
            bshape = [1] * rank
            bshape[axis] = scale.size
            scale, zp = scale.reshape(bshape), zp.reshape(bshape)
        else:
            scale, zp = scale[:1], zp[:1]
        variant = "ref"
        if ctx.flavor.optimized and axis is None:
            variant = "opt"
            if ctx.flavor.xnnpack and out_dtype in (_I8, _U8):
                variant = "xnn"  # XNNPACK converts float -> int8 / uint8 itself
        return OpData("quantize", out_dtype, scale=scale, zero_point=zp, axis=axis,
                      variant=variant)

    pairs = TFLM_REQUANTIZE_PAIRS if tflm else REQUANTIZE_PAIRS
    if in_dtype not in pairs:
        raise ctx.unsupported(supported="float32, int8, uint8, int16 or int32 input")
    if out_dtype not in pairs[in_dtype]:
        allowed = ", ".join(t.name for t in pairs[in_dtype])
        raise ctx.unsupported(supported=f"{in_dtype.name} -> {allowed}")
    if not inp.is_quantized:
        raise ctx.error(f"input {inp.describe()} has no quantization parameters")
    if inp.is_per_channel or out.is_per_channel:
        raise ctx.unsupported("per-channel requantization", supported="per-tensor parameters")
    zp_in, zp_out = int(inp.zero_point[0]), int(out.zero_point[0])
    if in_dtype == _I16 and out_dtype == _I16 and (zp_in, zp_out) != (0, 0) and not tflm:
        raise ctx.error(
            f"int16 -> int16 requantization needs zero points 0 (got {zp_in}, {zp_out})"
        )
    real = np.float64(np.float32(inp.scale[0])) / np.float64(np.float32(out.scale[0]))
    m, shift = quantize_multiplier(float(real))
    # The reference kernel's shortcut: same scale (m, shift) == (2**30, 1) and a zero
    # point change of exactly 128 between int8 and uint8. (Its result equals the
    # general formula's; it is kept for fidelity.)
    same_scale = (m, shift) == (1 << 30, 1)
    flip = same_scale and (
        (in_dtype == _I8 and out_dtype == _U8 and zp_in - zp_out == -128)
        or (in_dtype == _U8 and out_dtype == _I8 and zp_in - zp_out == 128)
    )
    variant, xnn_m = "ref", 0
    if ctx.flavor.optimized and in_dtype in (_I8, _U8) and out_dtype in (_I8, _U8):
        variant = "opt"
        ratio = np.float32(np.float32(inp.scale[0]) / np.float32(out.scale[0]))
        if ctx.flavor.xnnpack and in_dtype == out_dtype and 1 / 256 <= ratio <= 128:
            variant = "xnn"  # XNNPACK's qs8/qu8 convert takes the node
            xnn_m = int(np.rint(np.float32(256.0) * ratio))
    return OpData(
        "requantize", out_dtype, input_zero_point=zp_in, output_zero_point=zp_out,
        output_multiplier=m, output_shift=shift, flip_sign_bit=flip, variant=variant,
        xnn_multiplier=xnn_m,
    )  # fmt: skip


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Quantize (float input) or requantize (integer input)."""
    x = inputs[0]
    if data.kind == "quantize":
        assert data.scale is not None and data.zero_point is not None
        if data.variant == "xnn":
            return [quantize_xnnpack(x, float(data.scale.flat[0]),
                                     int(data.zero_point.flat[0]), data.output_dtype)]
        if data.variant == "opt":
            return [quantize_optimized(x, float(data.scale.flat[0]),
                                       int(data.zero_point.flat[0]), data.output_dtype)]
        return [quantize_reference(x, data.scale, data.zero_point, data.output_dtype)]
    if data.variant == "xnn":
        return [requantize_xnnpack(x, data)]
    if data.variant == "opt":
        return [requantize_optimized(x, data)]
    return [requantize(x, data)]


QUANTIZE = Kernel(prepare, invoke)
