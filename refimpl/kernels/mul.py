"""MUL: element-wise product of two tensors with NumPy broadcasting (rank <= 6).

Supported: float32; int8 / uint8 (quantized); int16 quantized (zero points 0); int16 /
int32 / int64 plain integers (wrapping product, activation clamp).

The real multiplier ``s1 * s2 / s_out`` is evaluated in float32 by TFLite (``mul.cc``:
an all-``float`` expression, widened to double afterwards) and in double by TFLM
(``mul_common.cc``); ``ctx.flavor.mul_multiplier`` selects which. The two can give
different Q0.31 multipliers and so different outputs (arithmetic.md §1.2, §2.7).

Mirrors: tensorflow/lite/kernels/mul.cc (Prepare, EvalMul, EvalQuantized),
internal/reference/integer_ops/mul.h (MulElementwise), micro/kernels/mul_common.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import multiply_by_quantized_multiplier, quantize_multiplier
from ..context import Kernel, OpContext
from ..flavors import Precision
from .add import wrapping_int_op
from .elementwise import (
    apply_float_activation,
    apply_int_activation,
    broadcast_shape,
    five_fold_runs,
    fused_activation,
    quantized_activation_range,
    require_per_tensor,
)

_QUANTIZED_8BIT = (np.dtype(np.int8), np.dtype(np.uint8))
_PLAIN_INT = (np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))


@dataclass(frozen=True)
class OpData:
    """What MUL's invoke needs (field names as in TFLite's ``ArithmeticParams``).

    kind : ``"float"``, ``"int"`` (plain wrapping integers), ``"quantized"`` (the
        reference formula), ``"optimized"`` (LiteRT's optimized int8 kernel,
        :func:`mul_optimized_8bit`) or ``"xnnpack"`` (:func:`mul_xnnpack`).
    real_multiplier : ``s1 * s2 / s_out`` as evaluated by the flavour (quantized only).
    output_multiplier, output_shift : its Q0.31 form, ``real = m * 2**(shift - 31)``.
    """

    kind: str
    output_shape: tuple[int, ...]
    output_dtype: np.dtype
    activation: int
    input1_offset: int = 0  # = -zero_point_1
    input2_offset: int = 0  # = -zero_point_2
    output_offset: int = 0  # = zero_point_out
    real_multiplier: float = 0.0
    output_multiplier: int = 0
    output_shift: int = 0
    output_activation_min: int = 0
    output_activation_max: int = 0
    #: XNNPACK's float32 scale ``fl32(fl32(s1 * s2) / s_out)`` (kind ``"xnnpack"``)
    xnn_scale: float = 0.0


#: elements per vector step of LiteRT's optimized ``MulElementwise`` /
#: ``MulSimpleBroadcast``: int8 16, uint8 8
OPT_MUL_BLOCK = {np.dtype(np.int8): 16, np.dtype(np.uint8): 8}


def mul_optimized_8bit(q1: np.ndarray, q2: np.ndarray, d: OpData) -> np.ndarray:
    """LiteRT's optimized int8 / uint8 MUL (``MulElementwise`` / ``MulSimpleBroadcast``).

    uint8 runs the same body in 8-element blocks and narrows to [0, 255] with
    ``vqmovun`` (``optimized_ops.h``); its scalar-broadcast body narrows the rescaled
    product to int16 with a *truncating* ``vmovn``. int8 is described below.

    The output is computed in runs (:func:`.elementwise.five_fold_runs`); in each
    run, whole 16-element blocks take the vector body and the rest the reference formula
    (:func:`mul_quantized`); element-wise and scalar-broadcast runs share the body.
    Generic broadcasts run the reference formula throughout.

    Arithmetic (body)
    -----------------
    ::

        prod = (q1 + input1_offset) * (q2 + input2_offset)                   (int32)
        raw  = RDBPOT(SRDHM(wrap32(prod << max(shift, 0)), m), max(-shift, 0))
        out  = clamp(sat8(wrap16(sat16(raw) + output_offset)), act_min, act_max)

    It differs from the reference in one place: the rescaled product is narrowed to
    int16 with saturation (``vqmovn_s32``) and the output offset is then added in int16,
    which *wraps*. A product that should saturate at 127 can therefore come out as -128
    (e.g. ``raw`` = 40000 saturates to 32767, ``+ 7`` wraps to -32762, narrows to
    -128). Reachable with multipliers above about 0.5 and large ``|q - zp|``.
    Mirrors: internal/optimized/integer_ops/mul.h (NEON_2_SSE on x86), measured on
    ai-edge-litert 2.3.0 (16-element blocks, saturating narrow; multipliers >= 1 shift
    the product left *before* the high multiply, like the reference).
    """
    from ..arithmetic import rounding_divide_by_pot, wrap32
    from ..arithmetic import saturating_rounding_doubling_high_mul as srdhm

    ref = mul_quantized(q1, q2, d).astype(np.int64)
    dtype = np.dtype(d.output_dtype)
    runs = five_fold_runs(q1.shape, q2.shape)
    body_mask = None if runs is None else runs.body_mask(ref.shape, OPT_MUL_BLOCK[dtype])
    if body_mask is None or not body_mask.any():
        return ref.astype(dtype)
    prod = (q1.astype(np.int64) + d.input1_offset) * (q2.astype(np.int64) + d.input2_offset)
    left, right = max(d.output_shift, 0), max(-d.output_shift, 0)
    raw = rounding_divide_by_pot(srdhm(wrap32(prod << left), d.output_multiplier), right)
    wrap16 = lambda v: ((v + 2**15) & 0xFFFF) - 2**15  # noqa: E731  (int16 add wraps)
    unsigned = dtype == np.dtype(np.uint8)
    lo, hi = (0, 255) if unsigned else (-128, 127)  # vqmovun / vqmovn
    # uint8's scalar-broadcast body narrows with a truncating vmovn, every other a vqmovn
    narrowed = wrap16(raw) if unsigned and runs.scalar else np.clip(raw, -32768, 32767)
    body = np.clip(wrap16(narrowed + d.output_offset), lo, hi)
    body = np.minimum(np.maximum(body, d.output_activation_min), d.output_activation_max)
    return np.where(body_mask, np.broadcast_to(body, body_mask.shape), ref).astype(dtype)


def mul_xnnpack(q1: np.ndarray, q2: np.ndarray, d: OpData) -> np.ndarray:
    """XNNPACK ``qs8-vmul`` (fp32 requantization).

    ``out = rne(clamp(fl32(float((q1 - zp1) * (q2 - zp2)) * scale), lo - zp, hi - zp)) + zp``
    with ``scale = fl32(fl32(s1 * s2) / s_out)``; ties to even.
    """
    prod = (q1.astype(np.int64) + d.input1_offset) * (q2.astype(np.int64) + d.input2_offset)
    v = (prod.astype(np.float32) * np.float32(d.xnn_scale)).astype(np.float32)
    v = np.clip(v, np.float32(d.output_activation_min - d.output_offset),
                np.float32(d.output_activation_max - d.output_offset))
    return (np.rint(v).astype(np.int64) + d.output_offset).astype(d.output_dtype)


def mul_real_multiplier(s1: float, s2: float, s_out: float, precision: Precision) -> float:
    """``s1 * s2 / s_out``: float32 throughout (TFLite) or double throughout (TFLM)."""
    if precision is Precision.F32:
        return float(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(s_out))
    d1, d2, d_out = (np.float64(np.float32(s)) for s in (s1, s2, s_out))
    return float(d1 * d2 / d_out)


def prepare(ctx: OpContext) -> OpData:
    """Validate MUL, pick the path, precompute the multiplier and clamp range."""
    in1, in2, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if in1.dtype != in2.dtype:
        raise ctx.error(f"input types differ: {in1.describe()} vs {in2.describe()}")
    if out.dtype != in1.dtype:
        raise ctx.unsupported(
            f"output {out.describe()} with inputs of type {np.dtype(in1.dtype).name}",
            supported="same type in and out (int16 x int16 -> int8, an LSTM variant, is not "
            "implemented)",
        )
    act = fused_activation(ctx)
    shape = broadcast_shape(ctx, in1.shape, in2.shape)
    ctx.set_output_shape(0, shape)
    dtype = np.dtype(out.dtype)

    if dtype == np.dtype(np.float32):
        return OpData("float", shape, dtype, act)
    if dtype in _QUANTIZED_8BIT or (dtype == np.dtype(np.int16) and out.is_quantized):
        s1, zp1 = require_per_tensor(ctx, in1, "input 1")
        s2, zp2 = require_per_tensor(ctx, in2, "input 2")
        s_out, zp_out = require_per_tensor(ctx, out, "output")
        if dtype == np.dtype(np.int16) and (zp1, zp2, zp_out) != (0, 0, 0):
            raise ctx.error(
                f"int16 MUL needs zero points 0 (got {zp1}, {zp2} -> {zp_out}): "
                "the int32 product could overflow otherwise"
            )
        real = mul_real_multiplier(s1, s2, s_out, ctx.flavor.mul_multiplier)
        m, shift = quantize_multiplier(real)
        lo, hi = quantized_activation_range(ctx, act, out)
        kind = "quantized"
        xnn_scale = float(np.float32(np.float32(np.float32(s1) * np.float32(s2))
                                     / np.float32(s_out)))
        if ctx.flavor.xnnpack and dtype in _QUANTIZED_8BIT and 2.0**-16 <= xnn_scale < 256.0:
            kind = "xnnpack"  # the delegate takes int8 / uint8 MUL with a moderate scale
        elif ctx.flavor.optimized and dtype in _QUANTIZED_8BIT:
            kind = "optimized"
        return OpData(
            kind, shape, dtype, act, xnn_scale=xnn_scale,
            input1_offset=-zp1, input2_offset=-zp2, output_offset=zp_out,
            real_multiplier=real, output_multiplier=m, output_shift=shift,
            output_activation_min=lo, output_activation_max=hi,
        )  # fmt: skip
    if dtype in _PLAIN_INT:
        return OpData("int", shape, dtype, act)
    raise ctx.unsupported(supported="float32, int8, uint8, int16, int32, int64")


def mul_quantized(q1: np.ndarray, q2: np.ndarray, d: OpData) -> np.ndarray:
    """Quantized MUL, broadcasting.

    Arithmetic
    ----------
    ::

        prod = (q1 + input1_offset) * (q2 + input2_offset)                 # int32, exact
        raw  = MBQM_double(prod, output_multiplier, output_shift) + output_offset
        out  = clamp(raw, output_activation_min, output_activation_max)

    ``MBQM_double``: gemmlowp double rounding (SRDHM half up, then RDBPOT half away
    from zero); a positive shift multiplies ``prod`` by ``2**shift`` in int32 first.
    """
    prod = (q1.astype(np.int64) + d.input1_offset) * (q2.astype(np.int64) + d.input2_offset)
    raw = multiply_by_quantized_multiplier(prod, d.output_multiplier, d.output_shift)
    raw = raw + d.output_offset
    out = np.minimum(np.maximum(raw, d.output_activation_min), d.output_activation_max)
    return out.astype(d.output_dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Evaluate MUL on the path chosen in :func:`prepare`."""
    x1, x2 = inputs[0], inputs[1]
    if data.kind == "float":
        with np.errstate(over="ignore", invalid="ignore"):  # inf / NaN behave as in C
            prod = x1.astype(np.float32) * x2.astype(np.float32)
        out = apply_float_activation(prod, data.activation)
    elif data.kind == "quantized":
        out = mul_quantized(x1, x2, data)
    elif data.kind == "optimized":
        out = mul_optimized_8bit(x1, x2, data)
    elif data.kind == "xnnpack":
        out = mul_xnnpack(x1, x2, data)
    else:
        out = wrapping_int_op(x1, x2, data.output_dtype, np.multiply)
        out = apply_int_activation(out, data.activation, data.output_dtype)
    return [np.broadcast_to(out, data.output_shape).astype(data.output_dtype, copy=True)]


MUL = Kernel(prepare, invoke)
