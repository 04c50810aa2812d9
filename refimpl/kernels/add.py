"""ADD: element-wise sum of two tensors with NumPy broadcasting (rank <= 6).

Layouts are irrelevant (element-wise); shapes broadcast right-aligned.

Supported: float32; int8 / uint8 (quantized, general rescaling path); int16 quantized
(zero points 0; general path or the power-of-two path); int16 / int32 / int64 plain
integers (wrapping add, activation clamp).

The quantized pipeline is written for both ADD and SUB: :func:`quantized_add_sub_params`
precomputes the multipliers and :func:`add_sub_quantized` evaluates ``a + b`` or
``a - b`` (``sign=-1``), so a SUB kernel only has to supply its own Prepare quirks
(it accepts an output multiplier above one, see :func:`quantized_add_sub_params`).

Mirrors: tensorflow/lite/kernels/add.cc (Prepare, EvalAdd, EvalAddQuantized),
internal/reference/integer_ops/add.h (AddFunc), internal/reference/add.h
(AddElementwise, the int16 POT ``Add``), micro/kernels/add_common.cc (TFLM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (
    checked_log2,
    multiply_by_quantized_multiplier,
    wrap32,
    quantize_multiplier,
    rounding_divide_by_pot,
)
from ..context import Kernel, OpContext, TensorInfo
from .elementwise import (
    ACT_NONE,
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
class QuantizedAddSubParams:
    """Fixed-point parameters of the general quantized ADD/SUB path (TFLite ``OpData``).

    Real model: ``out = s1*(q1-zp1) +/- s2*(q2-zp2)``, rescaled to ``s_out``. Each
    input is lifted by ``2**left_shift`` and scaled by ``s_i / (2*max(s1, s2))`` (a
    multiplier <= 1/2), the sum is scaled by ``2*max(s1, s2) / (2**left_shift * s_out)``.
    Multipliers are Q0.31 with ``real = multiplier * 2**(shift - 31)``; ``shift <= 0``
    except for SUB's output multiplier, which may exceed one.
    """

    left_shift: int
    input1_offset: int  # = -zero_point_1
    input1_multiplier: int
    input1_shift: int
    input2_offset: int  # = -zero_point_2
    input2_multiplier: int
    input2_shift: int
    output_offset: int  # = zero_point_out
    output_multiplier: int
    output_shift: int
    output_activation_min: int
    output_activation_max: int


@dataclass(frozen=True)
class Int16PotParams:
    """The int16 power-of-two ADD/SUB path: one input is right-shifted, then added or
    subtracted and clamped."""

    input1_shift: int  # <= 0: log2(s1) - log2(s_out)
    input2_shift: int  # <= 0; at most one of the two is non-zero
    output_activation_min: int
    output_activation_max: int


@dataclass(frozen=True)
class XnnAddSubParams:
    """XNNPACK's quantized ADD / SUB (``xnn_init_qs8_add_minmax_scalar_params``).

    ``ra = fl32(s1 / s_out)``, ``rb = fl32(s2 / s_out)``; ``shift = 20 - e`` where ``e`` is
    the binary exponent of ``max(ra, rb)`` (``2**e <= max < 2**(e+1)``); the multipliers
    keep about 21 bits: ``a_multiplier = lrintf(ra * 2**shift)`` (ties to even), and
    ``b_multiplier`` likewise, negated for SUB.
    """

    a_multiplier: int
    b_multiplier: int
    shift: int
    a_zero_point: int
    b_zero_point: int
    output_zero_point: int
    output_min: int
    output_max: int


def xnn_add_sub_params(s1: float, s2: float, s_out: float, zp1: int, zp2: int, zp_out: int,
                       act_min: int, act_max: int, sign: int = 1) -> XnnAddSubParams | None:
    """XNNPACK's parameters, or None when the delegate refuses the node (a ratio
    ``s_i / s_out`` outside ``[2**-10, 2**8)``)."""
    ra = np.float32(np.float32(s1) / np.float32(s_out))
    rb = np.float32(np.float32(s2) / np.float32(s_out))
    if not all(2.0**-10 <= float(r) < 2.0**8 for r in (ra, rb)):
        return None
    e = int(np.frexp(max(ra, rb))[1]) - 1
    shift = 20 - e
    ma = int(np.rint(np.float32(ra * np.float32(2.0**shift))))
    mb = int(np.rint(np.float32(rb * np.float32(2.0**shift))))
    return XnnAddSubParams(ma, sign * mb, shift, zp1, zp2, zp_out, act_min, act_max)


def add_sub_xnnpack(q1: np.ndarray, q2: np.ndarray, p: XnnAddSubParams,
                    out_dtype: np.dtype) -> np.ndarray:
    """XNNPACK ``qs8-vadd`` / ``qs8-vaddc``: one int32 sum, one rounding (half up).

    Arithmetic
    ----------
    ::

        acc = 2**(shift-1) - a_mult*zp1 - b_mult*zp2 + q1*a_mult + q2*b_mult     (int32)
        out = clamp((acc >> shift) + zp_out, output_min, output_max)
    """
    bias = (1 << (p.shift - 1)) - p.a_multiplier * p.a_zero_point - p.b_multiplier * p.b_zero_point
    acc = bias + q1.astype(np.int64) * p.a_multiplier + q2.astype(np.int64) * p.b_multiplier
    out = (acc >> p.shift) + p.output_zero_point
    return np.clip(out, p.output_min, p.output_max).astype(out_dtype)


@dataclass(frozen=True)
class OpData:
    """What ADD's invoke needs.

    kind : ``"float"``, ``"int"`` (plain wrapping integers), ``"quantized"`` (general
        path), ``"int16_pot"`` or ``"xnnpack"`` (flavour ``xnnpack``, node delegated).
    """

    kind: str
    output_shape: tuple[int, ...]
    output_dtype: np.dtype
    activation: int
    quantized: QuantizedAddSubParams | None = None
    pot: Int16PotParams | None = None
    xnn: XnnAddSubParams | None = None


def xnnpack_variant(ctx: OpContext, in1: TensorInfo, in2: TensorInfo, out: TensorInfo,
                    params: QuantizedAddSubParams, sign: int = 1) -> XnnAddSubParams | None:
    """The XNNPACK parameters when flavour ``xnnpack`` and the delegate takes this
    int8 / uint8 ADD or SUB node, else None."""
    if not ctx.flavor.xnnpack or np.dtype(out.dtype) not in _QUANTIZED_8BIT:
        return None
    return xnn_add_sub_params(
        float(in1.scale[0]), float(in2.scale[0]), float(out.scale[0]),
        int(in1.zero_point[0]), int(in2.zero_point[0]), int(out.zero_point[0]),
        params.output_activation_min, params.output_activation_max, sign)


# --------------------------------------------------------------------------------------
# Prepare helpers shared with SUB
# --------------------------------------------------------------------------------------
def quantize_multiplier_smaller_than_one(ctx: OpContext, real: float, what: str) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: requires ``0 < real < 1`` and a shift <= 0.

    TFLite checks this with ``TFLITE_CHECK`` (the process aborts); here it is an error.
    """
    if not 0.0 < real < 1.0:
        raise ctx.error(
            f"{what} multiplier {real!r} is outside (0, 1); TFLite aborts on such "
            "quantization parameters (QuantizeMultiplierSmallerThanOneExp)"
        )
    m, shift = quantize_multiplier(real)
    if shift > 0:  # real within 2**-32 of one rounds up to 1.0
        raise ctx.error(f"{what} multiplier {real!r} rounds to 1.0; TFLite aborts here")
    return m, shift


def quantized_add_sub_params(
    ctx: OpContext,
    input1: TensorInfo,
    input2: TensorInfo,
    output: TensorInfo,
    activation: int,
    *,
    allow_output_multiplier_above_one: bool = False,
) -> QuantizedAddSubParams:
    """Precompute the general quantized ADD/SUB path (int8, uint8, int16).

    ``left_shift`` is 20 for 8-bit outputs and 15 for int16 (``65535 << 15 < 2**31``,
    so the int32 sum cannot overflow). ``twice_max = 2 * max(s1, s2)`` is taken in float
    (exact doubling); ``(1 << left_shift) * s_out`` is a float product (a power of two,
    exact); the three ratios are divided in double::

        real1 = s1 / twice_max;  real2 = s2 / twice_max
        real_out = twice_max / ((1 << left_shift) * s_out)

    (TFLM's SUB source, ``CalculateOpDataSub`` in micro/kernels/sub_common.cc, declares
    these quotients ``float``; the TFLM wheel 8f6596d nevertheless matches the double
    evaluation, e.g. on seanet sub0/sub1/sub3 where the float32 ratios give other
    multipliers — checked in compare/dev_check_int16.py.)

    ``allow_output_multiplier_above_one``: LiteRT's SUB uses
    ``QuantizeMultiplierGreaterThanOne`` when ``real_out > 1`` (very narrow output
    ranges); ADD (and TFLM's SUB) abort instead. ``output_shift`` is then >= 1; see
    :mod:`refimpl.kernels.sub` for what LiteRT computes with it.
    """
    s1, zp1 = require_per_tensor(ctx, input1, "input 1")
    s2, zp2 = require_per_tensor(ctx, input2, "input 2")
    s_out, zp_out = require_per_tensor(ctx, output, "output")
    left_shift = 15 if output.dtype == np.dtype(np.int16) else 20
    twice_max = float(np.float32(2) * max(np.float32(s1), np.float32(s2)))  # exact doubling
    out_denominator = float(np.float32(np.float32(1 << left_shift) * np.float32(s_out)))
    real1 = s1 / twice_max
    real2 = s2 / twice_max
    real_out = twice_max / out_denominator
    m1, sh1 = quantize_multiplier_smaller_than_one(ctx, real1, "input 1")
    m2, sh2 = quantize_multiplier_smaller_than_one(ctx, real2, "input 2")
    if allow_output_multiplier_above_one and real_out > 1.0:
        mo, sho = quantize_multiplier(real_out)
    else:
        mo, sho = quantize_multiplier_smaller_than_one(ctx, real_out, "output")
    lo, hi = quantized_activation_range(ctx, activation, output)
    return QuantizedAddSubParams(
        left_shift=left_shift,
        input1_offset=-zp1,
        input1_multiplier=m1,
        input1_shift=sh1,
        input2_offset=-zp2,
        input2_multiplier=m2,
        input2_shift=sh2,
        output_offset=zp_out,
        output_multiplier=mo,
        output_shift=sho,
        output_activation_min=lo,
        output_activation_max=hi,
    )


def pot_scale_int16_requested(ctx: OpContext) -> bool:
    """The op's ``pot_scale_int16`` as LiteRT sees it.

    With an options table the schema default is true; without one LiteRT's parser leaves
    the params struct value-initialised (``AllocatePOD`` runs ``T()``), i.e. false, so
    the general path is taken (``ParseAdd`` / ``ParseSub`` in flatbuffer_conversions.cc).
    """
    if ctx.options is None:
        return False
    return bool(getattr(ctx.options, "pot_scale_int16", True))


def int16_pot_params(
    ctx: OpContext, in1: TensorInfo, in2: TensorInfo, out: TensorInfo, act: int
) -> Int16PotParams | None:
    """The POT path's shifts, or None when a scale is not a power of two (general path).

    ``input_i_shift = log2(s_i) - log2(s_out)``; one of them must be 0 and both <= 0
    (LiteRT ``TF_LITE_ENSURE``s, so other combinations are errors).
    """
    logs = [checked_log2(float(t.scale[0])) for t in (in1, in2, out)]
    if not all(is_pot for is_pot, _ in logs):
        return None
    sh1 = logs[0][1] - logs[2][1]
    sh2 = logs[1][1] - logs[2][1]
    if not ((sh1 == 0 or sh2 == 0) and sh1 <= 0 and sh2 <= 0):
        raise ctx.error(
            f"int16 power-of-two {ctx.op_name} needs one input at the output scale and the "
            f"other finer; got input shifts {sh1}, {sh2}"
        )
    lo, hi = quantized_activation_range(ctx, act, out)
    return Int16PotParams(sh1, sh2, lo, hi)


# --------------------------------------------------------------------------------------
# Evaluation helpers shared with SUB
# --------------------------------------------------------------------------------------
def add_sub_quantized(
    q1: np.ndarray, q2: np.ndarray, p: QuantizedAddSubParams, out_dtype: np.dtype, sign: int = 1
) -> np.ndarray:
    """General quantized ADD (``sign=1``) / SUB (``sign=-1``), broadcasting.

    Arithmetic
    ----------
    ::

        a   = (q1 + input1_offset) * 2**left_shift                        # int32, exact
        b   = (q2 + input2_offset) * 2**left_shift
        a'  = RDBPOT(SRDHM(a, input1_multiplier), -input1_shift)          # half up, then half away
        b'  = RDBPOT(SRDHM(b, input2_multiplier), -input2_shift)
        raw = MBQM_double(a' + sign * b', output_multiplier, output_shift) + output_offset
        out = clamp(raw, output_activation_min, output_activation_max)

    ``MBQM_double`` with a shift <= 0 is exactly TFLite's
    ``MultiplyByQuantizedMultiplierSmallerThanOneExp``. Each input is scaled on its own
    shape before broadcasting (the per-element arithmetic is identical).
    """
    a = (q1.astype(np.int64) + p.input1_offset) << p.left_shift
    b = (q2.astype(np.int64) + p.input2_offset) << p.left_shift
    a = multiply_by_quantized_multiplier(a, p.input1_multiplier, p.input1_shift)
    b = multiply_by_quantized_multiplier(b, p.input2_multiplier, p.input2_shift)
    raw = a + b if sign > 0 else a - b
    out = multiply_by_quantized_multiplier(raw, p.output_multiplier, p.output_shift)
    out = out + p.output_offset
    out = np.minimum(np.maximum(out, p.output_activation_min), p.output_activation_max)
    return out.astype(out_dtype)


#: int8 elements per vector step of LiteRT's optimized ``AddElementwiseInt8``
OPT_ADD_BLOCK = 16
#: ... and of ``AddScalarBroadcast``
OPT_ADD_SCALAR_BLOCK = 8


def _wrap16(x: np.ndarray) -> np.ndarray:
    return ((x + 2**15) & 0xFFFF) - 2**15


def add_optimized_8bit(q1: np.ndarray, q2: np.ndarray, p: QuantizedAddSubParams,
                       dtype: np.dtype = np.dtype(np.int8)) -> np.ndarray:
    """LiteRT's optimized int8 / uint8 ADD (``AddElementwise*`` / ``AddScalarBroadcast``).

    uint8 (``optimized_ops.h``) uses the scalar-broadcast body below in *both* run kinds,
    in 8-element blocks, and narrows to [0, 255] (``vqmovun``); int8 as follows.

    The output is computed in runs (:func:`.elementwise.five_fold_runs`: equal shapes are
    one run). In an element-wise run, whole 16-element blocks take the element-wise body;
    in a scalar-broadcast run, whole 8-element blocks take the scalar body; the rest of
    each run, and every element of a generic broadcast, takes the reference formula
    (:func:`add_sub_quantized`).

    Arithmetic (element-wise body)
    ------------------------------
    ::

        a   = SRDHM((q1 + input1_offset) << (left_shift + input1_shift), input1_multiplier)
        b   = SRDHM((q2 + input2_offset) << (left_shift + input2_shift), input2_multiplier)
        s   = RDBPOT(SRDHM(wrap32(a + b), output_multiplier), -output_shift)
        out = clamp(sat8(wrap16(wrap16(s) + output_offset)), act_min, act_max)

    Arithmetic (scalar-broadcast body)
    ----------------------------------
    ::

        a   = SRDHM((q1 + input1_offset) << left_shift, input1_multiplier) >> -input1_shift
        b   = SRDHM((q2 + input2_offset) << left_shift, input2_multiplier) >> -input2_shift
        s, out as above

    Differences from the reference: the element-wise body folds each input's right
    shift into its left shift (one rounding instead of two), the scalar body shifts right
    with a *flooring* ``vshl`` instead of a rounding divide; both narrow the result to
    int16 with a *truncating* ``vmovn`` before the offset is added, so a rescaled sum
    beyond int16 wraps around (e.g. a saturated -128 can come out as 127). Mirrors:
    internal/optimized/integer_ops/add.h (NEON_2_SSE on x86; ``vshl`` by a negative
    count is an arithmetic shift right).
    """
    from ..arithmetic import saturating_rounding_doubling_high_mul as srdhm

    dtype = np.dtype(dtype)
    unsigned = dtype == np.dtype(np.uint8)
    ref = add_sub_quantized(q1, q2, p, np.dtype(np.int64))
    runs = five_fold_runs(q1.shape, q2.shape)
    if runs is None:
        return ref.astype(dtype)
    scalar_body = runs.scalar or unsigned
    block = OPT_ADD_SCALAR_BLOCK if scalar_body else OPT_ADD_BLOCK
    mask = runs.body_mask(ref.shape, block)
    if not mask.any():
        return ref.astype(dtype)
    x1 = q1.astype(np.int64) + p.input1_offset
    x2 = q2.astype(np.int64) + p.input2_offset
    if scalar_body:
        def scaled(x: np.ndarray, m: int, shift: int) -> np.ndarray:
            v = srdhm(wrap32(x << p.left_shift), m)
            return v >> -shift if shift <= 0 else wrap32(v << shift)
    else:
        def scaled(x: np.ndarray, m: int, shift: int) -> np.ndarray:
            total = p.left_shift + shift
            v = wrap32(x << total) if total >= 0 else x >> -total
            return srdhm(v, m)
    a = scaled(x1, p.input1_multiplier, p.input1_shift)
    b = scaled(x2, p.input2_multiplier, p.input2_shift)
    s = rounding_divide_by_pot(srdhm(wrap32(a + b), p.output_multiplier), -p.output_shift)
    s = np.clip(_wrap16(_wrap16(s) + p.output_offset), *((0, 255) if unsigned else (-128, 127)))
    body = np.clip(s, p.output_activation_min, p.output_activation_max)
    return np.where(mask, np.broadcast_to(body, mask.shape), ref).astype(dtype)


def add_int16_pot(
    q1: np.ndarray, q2: np.ndarray, p: Int16PotParams, sign: int = 1
) -> np.ndarray:
    """int16 power-of-two ADD (``sign=1``) / SUB (``sign=-1``), broadcasting.

    Arithmetic
    ----------
    ::

        a = RDBPOT(q1, -input1_shift);  b = RDBPOT(q2, -input2_shift)   # half away from 0
        ADD: out = clamp(sat16(a + b), act_min, act_max)
        SUB: out = clamp(a - b, act_min, act_max)                         # int32 difference

    At most one shift is non-zero, and a zero shift is the identity. The activation range
    lies inside int16, so ADD's saturation to int16 before the clamp changes nothing.

    Mirrors: ``reference_ops::Add(int16, pot_scale=true)`` (reference/add.h),
    ``Sub16`` / ``BroadcastSub16POTSlow`` (reference/sub.h).
    """
    a = rounding_divide_by_pot(q1.astype(np.int64), -p.input1_shift)
    b = rounding_divide_by_pot(q2.astype(np.int64), -p.input2_shift)
    total = a + b if sign > 0 else a - b
    out = np.minimum(np.maximum(total, p.output_activation_min), p.output_activation_max)
    return out.astype(np.int16)


def wrapping_int_op(x1: np.ndarray, x2: np.ndarray, dtype: np.dtype, op) -> np.ndarray:
    """``op`` on plain integers with C-style wraparound to ``dtype`` (int16/int32/int64)."""
    if dtype == np.dtype(np.int64):
        with np.errstate(over="ignore"):
            return op(x1.astype(np.int64), x2.astype(np.int64))  # NumPy int64 arrays wrap
    return op(x1.astype(np.int64), x2.astype(np.int64)).astype(dtype)  # astype wraps


# --------------------------------------------------------------------------------------
# ADD kernel
# --------------------------------------------------------------------------------------
def prepare(ctx: OpContext) -> OpData:
    """Validate ADD, choose the path and precompute its parameters."""
    in1, in2, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if in1.dtype != in2.dtype:
        raise ctx.error(f"input types differ: {in1.describe()} vs {in2.describe()}")
    if out.dtype != in1.dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {in1.dtype.name}")
    act = fused_activation(ctx)
    shape = broadcast_shape(ctx, in1.shape, in2.shape)
    ctx.set_output_shape(0, shape)
    dtype = np.dtype(out.dtype)

    if dtype == np.dtype(np.float32):
        return OpData("float", shape, dtype, act)
    if dtype in _QUANTIZED_8BIT or (dtype == np.dtype(np.int16) and out.is_quantized):
        if dtype == np.dtype(np.int16):
            return _prepare_int16(ctx, in1, in2, out, act, shape)
        params = quantized_add_sub_params(ctx, in1, in2, out, act)
        xnn = xnnpack_variant(ctx, in1, in2, out, params)
        if xnn is not None:
            return OpData("xnnpack", shape, dtype, act, params, xnn=xnn)
        if ctx.flavor.optimized and dtype in _QUANTIZED_8BIT:
            return OpData("optimized", shape, dtype, act, params)
        return OpData("quantized", shape, dtype, act, params)
    if dtype in _PLAIN_INT:
        return OpData("int", shape, dtype, act)
    raise ctx.unsupported(supported="float32, int8, uint8, int16, int32, int64")


def _prepare_int16(ctx, in1, in2, out, act, shape) -> OpData:
    """int16: symmetric (zp 0); POT path if ``pot_scale_int16`` and all scales are powers of two.

    TFLM ignores ``pot_scale_int16`` and always takes the general path.
    """
    for role, t in (("input 1", in1), ("input 2", in2), ("output", out)):
        require_per_tensor(ctx, t, role)
        if int(t.zero_point[0]) != 0:
            raise ctx.error(f"int16 {role} {t.describe()} must have zero point 0")
    if pot_scale_int16_requested(ctx) and ctx.flavor.name != "tflm":
        pot = int16_pot_params(ctx, in1, in2, out, act)
        if pot is not None:
            if tuple(in1.shape) != tuple(in2.shape):
                raise ctx.unsupported(
                    "int16 power-of-two ADD with broadcasting (TFLite has no broadcasting "
                    "kernel for this path)"
                )
            return OpData("int16_pot", shape, np.dtype(np.int16), act, pot=pot)
    params = quantized_add_sub_params(ctx, in1, in2, out, act)
    return OpData("quantized", shape, np.dtype(np.int16), act, params)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Evaluate ADD on the path chosen in :func:`prepare`."""
    x1, x2 = inputs[0], inputs[1]
    if data.kind == "float":
        with np.errstate(over="ignore", invalid="ignore"):  # inf / NaN behave as in C
            total = x1.astype(np.float32) + x2.astype(np.float32)
        out = apply_float_activation(total, data.activation)
    elif data.kind == "quantized":
        assert data.quantized is not None
        out = add_sub_quantized(x1, x2, data.quantized, data.output_dtype)
    elif data.kind == "optimized":
        assert data.quantized is not None
        out = add_optimized_8bit(x1, x2, data.quantized, data.output_dtype)
    elif data.kind == "xnnpack":
        assert data.xnn is not None
        out = add_sub_xnnpack(x1, x2, data.xnn, data.output_dtype)
    elif data.kind == "int16_pot":
        assert data.pot is not None
        out = add_int16_pot(x1, x2, data.pot)
    else:
        out = wrapping_int_op(x1, x2, data.output_dtype, np.add)
        out = apply_int_activation(out, data.activation, data.output_dtype)
    return [np.broadcast_to(out, data.output_shape).astype(data.output_dtype, copy=True)]


ADD = Kernel(prepare, invoke)

__all__ = [
    "ADD",
    "ACT_NONE",
    "OpData",
    "QuantizedAddSubParams",
    "Int16PotParams",
    "quantized_add_sub_params",
    "quantize_multiplier_smaller_than_one",
    "add_sub_quantized",
    "add_int16_pot",
    "add_sub_xnnpack",
    "xnn_add_sub_params",
    "xnnpack_variant",
    "XnnAddSubParams",
    "checked_log2",
    "int16_pot_params",
    "pot_scale_int16_requested",
    "wrapping_int_op",
]
