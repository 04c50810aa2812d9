"""SOFTMAX over the last axis: float32, quantized int8 / uint8, and int16 (16x8) inputs.

Layout: any rank >= 1; every row along the last axis is normalised independently
(the leading axes are flattened into a batch of rows).

Quantized arithmetic (int8 -> int8, int8 -> int16, uint8 -> uint8) is gemmlowp fixed
point, identical in LiteRT's reference kernel and TFLM (arithmetic.md §2.8); the
flavours differ only in the output quantization they accept. Two conditions make the
real runtimes abort (SIGABRT, verified on ai-edge-litert 2.3.0 BUILTIN_REF and the
tflite-micro wheel); refimpl raises :class:`~refimpl.errors.OpError` instead:

* prepare: ``beta * input_scale * 2**26 <= 1`` -- ``PreprocessSoftmaxScaling`` hands
  this real multiplier to ``QuantizeMultiplierGreaterThanOne``, whose
  ``TFLITE_CHECK_GT(multiplier, 1.)`` fails (tflite/kernels/internal/
  quantization_util.cc; reached from ``SoftmaxPrepare`` in tflite/kernels/activations.cc
  and ``CalculateSoftmaxParams`` in tensorflow/lite/micro/kernels/softmax_common.cc).
  That is an input scale (times beta) of at most 2**-26 ~ 1.49e-8.
* invoke: a row whose sum of exponentials, in Q12.19, reaches 2**28 (a real sum of
  512 or more, e.g. >= 512 near-equal logits): the output exponent
  ``num_bits_over_unit + 31 - bits(output)`` exceeds 31 and
  ``TFLITE_CHECK(0 <= exponent && exponent <= 31)`` in reference/softmax.h fails.

int16 -> int16 (zero points 0, output scale 1/32768) is a different algorithm, two
interpolated 513-entry tables (``exp`` on [-10, 0] and ``1/(1+x)`` on [0, 1]), see
:func:`_softmax_int16`. The flavours differ in how the tables are built (arithmetic.md
§2.8): LiteRT calls the deprecated double overload of ``LUTPopulate`` (every step in
float64, ``std::exp(double)``), TFLM the float one (float32, ``expf``); the
``1/(1+x)`` tables then differ in 2 of 513 entries, which moves a few outputs by one.
The input multiplier ``s_in * beta / (10/65535)`` is also evaluated differently:
LiteRT multiplies the two floats in float32 (``input->params.scale * params->beta``)
before the double division, TFLM widens both to double first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from ..arithmetic import (
    round_half_away,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    qrange,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap32,
)
from ..context import Kernel, OpContext
from ..flavors import TFLM

#: Integer bits of the scaled input differences fed to exp (Q5.26).
SCALED_DIFF_INTEGER_BITS = 5
#: Integer bits of the accumulated sum of exponentials (Q12.19).
ACCUMULATION_INTEGER_BITS = 12


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"quantized"`` (gemmlowp), ``"int16"`` or ``"optimized_lut"``.
    beta : float
        float32 beta from the options (float path).
    input_multiplier, input_left_shift : int
        ``beta * s_in * 2**26`` (capped at 2**31 - 1) as Q0.31 and a left shift >= 0.
    diff_min : int
        ``-CalculateInputRadius(5, input_left_shift)``: differences from the row
        maximum below this contribute nothing and output the type minimum.
    output_bits : int
        8 or 16 (bits of the output type; sets the final right shift).
    output_min, output_max : int
        Output type range; ``output_min`` doubles as the implied output zero point.
    exp_lut, one_over_one_plus_x_lut : ndarray of int64, shape (513,) or None
        int16 path: the interpolated tables (kind ``"int16"``); ``input_multiplier`` and
        ``input_left_shift`` are then ``s_in * beta / (10/65535)`` in Q0.31 form.
    """

    kind: str
    beta: float = 1.0
    input_multiplier: int = 0
    input_left_shift: int = 0
    diff_min: int = 0
    output_bits: int = 8
    output_min: int = -128
    output_max: int = 127
    exp_lut: np.ndarray | None = None
    one_over_one_plus_x_lut: np.ndarray | None = None
    #: kind ``"optimized_lut"`` (LiteRT's optimized 8-bit kernel): float parameters
    input_scale: float = 0.0
    output_scale: float = 0.0
    output_zero_point: int = 0


def _beta(ctx: OpContext) -> float:
    # Schema default for SoftmaxOptions.beta is 0.0 when the table is absent.
    return float(np.float32(ctx.options.beta)) if ctx.options is not None else 0.0


def _check_output_quantization(ctx: OpContext, in_dtype: np.dtype, out_dtype: np.dtype) -> None:
    """Output scale / zero point accepted by each runtime's Prepare."""
    out = ctx.output(0)
    tflm = ctx.flavor.name == TFLM.name
    if not out.is_quantized:
        raise ctx.error(f"output {out.describe()} has no quantization parameters")
    scale = np.float32(out.scale[0])
    zp = int(out.zero_point[0])
    if in_dtype == np.int8 and out_dtype == np.int8:
        ctx.require(zp == -128, f"int8 output zero point must be -128, got {zp}")
        target = np.float32(1.0 / 256)
        if tflm:  # TFLM: exact float equality
            ctx.require(scale == target, f"int8 output scale must be exactly 1/256, got {scale!r}")
        else:  # LiteRT: TF_LITE_ENSURE_NEAR with tolerance 0.001/256, in float32
            delta = np.float32(abs(scale - target))
            ctx.require(
                delta <= np.float32(np.float32(0.001) * target),
                f"int8 output scale must be 1/256 (+-0.1%), got {scale!r}",
            )
    elif in_dtype == np.int8 and out_dtype == np.int16 and tflm:
        ctx.require(zp == -32768, f"int16 output zero point must be -32768, got {zp}")
        target = np.float32(1.0 / 65536)
        ctx.require(
            np.float32(abs(scale - target)) <= np.float32(np.float32(0.001) * target),
            f"int16 output scale must be 1/65536 (+-0.1%), got {scale!r}",
        )
    # LiteRT checks nothing for int8 -> int16 and uint8 -> uint8: the kernel writes
    # codes in the implied quantization (scale 2**-bits, zero point = type minimum).


def prepare(ctx: OpContext) -> OpData:
    """Validate and precompute.

    Arithmetic (quantized, double precision as upstream)::

        real = min(f64(beta) * f64(s_in) * 2**26, 2**31 - 1)
        real <= 1  -> error (the runtimes abort here)
        input_multiplier, input_left_shift = QuantizeMultiplier(real)      # shift >= 1
        diff_min = -floor(31 * 2**26 / 2**input_left_shift)

    Mirrors: ``SoftmaxPrepare<kReference>`` (tflite/kernels/activations.cc),
    ``PreprocessSoftmaxScaling`` and ``CalculateInputRadius`` (quantization_util.cc),
    ``CalculateSoftmaxParams`` (tensorflow/lite/micro/kernels/softmax_common.cc).
    """
    x = ctx.input(0)
    out = ctx.output(0)
    ctx.require(len(x.shape) >= 1, f"input {x.describe()} must have rank >= 1")
    in_dtype, out_dtype = np.dtype(x.dtype), np.dtype(out.dtype)
    tflm = ctx.flavor.name == TFLM.name
    ctx.set_output_shape(0, x.shape)
    beta = _beta(ctx)

    if in_dtype == np.float32:
        if out_dtype != np.float32:
            raise ctx.unsupported(supported="float32 -> float32")
        return OpData(kind="float", beta=beta)

    if in_dtype == np.int16:
        if out_dtype != np.int16:
            raise ctx.unsupported(supported="int16 -> int16")
        return _prepare_int16(ctx, beta)

    supported = {(np.dtype(np.int8), np.dtype(np.int8)), (np.dtype(np.int8), np.dtype(np.int16))}
    if not tflm:
        supported.add((np.dtype(np.uint8), np.dtype(np.uint8)))
    if (in_dtype, out_dtype) not in supported:
        names = ", ".join(f"{a.name} -> {b.name}" for a, b in sorted(supported, key=str))
        raise ctx.unsupported(supported=f"float32 -> float32, int16 -> int16, {names}")
    ctx.require(x.is_quantized and not x.is_per_channel,
                f"input {x.describe()} needs per-tensor quantization")
    _check_output_quantization(ctx, in_dtype, out_dtype)

    input_scale = float(np.float32(x.scale[0]))
    if ctx.flavor.optimized and (in_dtype, out_dtype) in (
            (np.dtype(np.int8), np.dtype(np.int8)), (np.dtype(np.uint8), np.dtype(np.uint8))):
        out_min, out_max = qrange(out_dtype)
        return OpData(kind="optimized_lut", beta=beta, input_scale=input_scale,
                      output_scale=float(np.float32(ctx.output(0).scale[0])),
                      output_zero_point=int(ctx.output(0).zero_point[0]),
                      output_min=out_min, output_max=out_max)
    real = min(beta * input_scale * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), 2.0**31 - 1.0)
    if not real > 1.0:
        raise ctx.error(
            f"input_beta_real_multiplier = beta * input_scale * 2**26 = {beta!r} * "
            f"{input_scale!r} * 2**26 = {real!r} is not > 1: LiteRT's and TFLM's "
            "QuantizeMultiplierGreaterThanOne check fails (both abort in Prepare); "
            "beta * input_scale must exceed 2**-26"
        )
    multiplier, left_shift = quantize_multiplier(real)
    assert left_shift >= 1
    diff_min = -fp.calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    out_min, out_max = qrange(out_dtype)
    return OpData(
        kind="quantized",
        beta=beta,
        input_multiplier=multiplier,
        input_left_shift=left_shift,
        diff_min=diff_min,
        output_bits=8 * out_dtype.itemsize,
        output_min=out_min,
        output_max=out_max,
    )


def _prepare_int16(ctx: OpContext, beta: float) -> OpData:
    """int16 -> int16: check the quantization, build both tables, rescale the input.

    Arithmetic::

        LiteRT: real = f64(fl32(s_in * beta)) / (10.0 / 65535.0)
        TFLM:   real = f64(s_in) * f64(beta) / (10.0 / 65535.0)
        input_multiplier, input_left_shift = QuantizeMultiplier(real)
        exp_lut  = LUTPopulateInt16(10/65535, 32767, 2/65535, 0, exp)       # x in [-10, 0]
        recip_lut = LUTPopulateInt16(1/65535, -32768, 2/65535, 0, 1/(1+x))  # x in [0, 1]

    (tables in float64 for LiteRT, float32 for TFLM, where the scales are the float32
    quotients ``10.0f / 65535``.)

    Mirrors: ``SoftmaxPrepare`` (tflite/kernels/activations.cc), ``CalculateSoftmaxParams``
    and ``InitializeLutForInt16`` (micro/kernels/softmax_common.cc).
    """
    x, out = ctx.input(0), ctx.output(0)
    tflm = ctx.flavor.name == TFLM.name
    for t, role in ((x, "input"), (out, "output")):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"{role} {t.describe()} needs per-tensor quantization")
        ctx.require(int(t.zero_point[0]) == 0,
                    f"int16 {role} {t.describe()} must have zero point 0")
    scale = np.float32(out.scale[0])
    target = np.float32(1.0 / 32768)
    ctx.require(  # TF_LITE_ENSURE_NEAR in float32, both runtimes
        np.float32(abs(scale - target)) <= np.float32(np.float32(0.001) * target),
        f"int16 output scale must be 1/32768 (+-0.1%), got {scale!r}",
    )
    s_in = np.float32(x.scale[0])
    if tflm:
        real = float(s_in) * float(np.float32(beta)) / (10.0 / 65535.0)
        ft, exp_fn = np.float32, fp.expf

        def recip(v: np.ndarray) -> np.ndarray:
            return (np.float32(1) / (np.float32(1) + v)).astype(np.float32)

        exp_scale, recip_scale, out_scale = (np.float32(np.float32(v) / np.float32(65535))
                                             for v in (10.0, 1.0, 2.0))
    else:
        real = float(np.float32(s_in * np.float32(beta))) / (10.0 / 65535.0)
        ft, exp_fn = np.float64, fp.exp_f64

        def recip(v: np.ndarray) -> np.ndarray:
            return 1.0 / (1.0 + v)

        exp_scale, recip_scale, out_scale = 10.0 / 65535, 1.0 / 65535, 2.0 / 65535
    multiplier, shift = quantize_multiplier(real)
    return OpData(
        kind="int16",
        beta=beta,
        input_multiplier=multiplier,
        input_left_shift=shift,
        output_bits=16,
        output_min=-32768,
        output_max=32767,
        exp_lut=fp.lut_populate_int16(exp_scale, 32767, out_scale, 0, exp_fn, ft),
        one_over_one_plus_x_lut=fp.lut_populate_int16(recip_scale, -32768, out_scale, 0,
                                                       recip, ft),
    )


def _softmax_int16(ctx: OpContext, data: OpData, x: np.ndarray) -> np.ndarray:
    """int16 softmax of each last-axis row (``reference_ops::SoftmaxInt16``).

    Arithmetic (per row; ``mx`` = row maximum)::

        z_c  = MBQM_double(q_c - mx, input_multiplier, input_left_shift)   # [-65535, 0] ~ [-10, 0]
        e_c  = LUTLookup(clamp(z_c + 32767, -32768, 32767), exp_lut)        # Q0.15
        S    = sum_c e_c                                                    # int32
        h    = clz32(S)                                                     # headroom + 1
        t    = ((S << (h - 1)) + 2**13) >> 14                               # S in [1, 2) as Q1.15
        r    = LUTLookup(clamp(t - 2**15 - 2**16, -32768, 32767), recip_lut)   # 1/S, Q0.15
        out_c = clamp((e_c * r + 2**(30 - h)) >> (31 - h), 0, 32767)        # half up

    The output means ``out / 32768``.
    """
    assert data.exp_lut is not None and data.one_over_one_plus_x_lut is not None
    q = np.asarray(x, np.int64)
    if q.size == 0:
        return q
    rows = q.reshape(-1, q.shape[-1])
    diff = rows - rows.max(axis=-1, keepdims=True)
    scaled = multiply_by_quantized_multiplier(diff, data.input_multiplier, data.input_left_shift)
    exps = fp.lut_lookup_int16(np.clip(scaled + 32767, -32768, 32767), data.exp_lut)
    sum_of_exps = wrap32(exps.sum(axis=-1))  # int32 accumulation
    if np.any(sum_of_exps <= 0):
        raise ctx.error("a row's sum of int16 exponentials overflows int32 (over 65535 "
                        "elements); the runtimes' behaviour is undefined there")
    headroom_plus_one = fp.count_leading_zeros_u32(sum_of_exps)
    shifted_sum = ((sum_of_exps << (headroom_plus_one - 1)) + (1 << 13)) >> 14
    sym = np.clip(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767)
    reciprocal = fp.lut_lookup_int16(sym, data.one_over_one_plus_x_lut)
    right_shift = (31 - headroom_plus_one)[:, None]
    result = (exps * reciprocal[:, None] + (np.int64(1) << (right_shift - 1))) >> right_shift
    return np.clip(wrap32(result), 0, 32767).reshape(q.shape)


def _softmax_float(x: np.ndarray, beta: float) -> np.ndarray:
    """float32 reference softmax of each last-axis row.

    Arithmetic (every operation in float32, as ``reference_ops::Softmax<float>``)::

        mx   = max over the row (NaNs ignored, as std::max does)
        e_c  = expf((x_c - mx) * beta)
        sum  = ((0 + e_0) + e_1) + ...          # sequential, left to right
        out  = e_c / sum

    Tolerance: bit-exact except where :func:`~refimpl.fixedpoint.expf` and glibc
    ``expf`` round differently (1 ulp, ~0.06% of arguments), which then moves the
    sum and the quotients by an ulp or so.
    """
    x = np.asarray(x, np.float32)
    lowest = np.finfo(np.float32).min
    mx = np.fmax.reduce(x, axis=-1, keepdims=True, initial=lowest)
    e = fp.expf(((x - mx).astype(np.float32) * np.float32(beta)).astype(np.float32))
    if e.shape[-1] == 0:
        return e
    total = np.add.accumulate(e, axis=-1, dtype=np.float32)[..., -1:]  # strictly sequential
    total = (total + np.float32(0)).astype(np.float32)  # C starts from +0.0f
    return (e / total).astype(np.float32)


def _softmax_quantized(ctx: OpContext, data: OpData, x: np.ndarray) -> np.ndarray:
    """gemmlowp softmax of each last-axis row (see :func:`invoke`)."""
    q = np.asarray(x, np.int64)
    if q.size == 0:
        return q
    rows = q.reshape(-1, q.shape[-1])
    diff = rows - rows.max(axis=-1, keepdims=True)
    kept = diff >= data.diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne: int32 multiply by 2**shift, then SRDHM.
    scaled = saturating_rounding_doubling_high_mul(
        wrap32(diff << data.input_left_shift), data.input_multiplier
    )
    exps = fp.exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)  # Q0.31
    # Rescale Q0.31 -> Q12.19 is RDBPOT by 12; int32 additions wrap (order irrelevant).
    contributions = np.where(kept, fp.rescale(exps, 0, ACCUMULATION_INTEGER_BITS), 0)
    sum_of_exps = wrap32(contributions.sum(axis=-1))
    num_bits_over_unit = ACCUMULATION_INTEGER_BITS - fp.count_leading_zeros_u32(sum_of_exps)
    exponent = num_bits_over_unit + 31 - data.output_bits
    bad = (exponent < 0) | (exponent > 31) | (sum_of_exps == 0)
    if np.any(bad):
        row = int(np.flatnonzero(bad)[0])
        raise ctx.error(
            f"row {row}: sum of exponentials {int(sum_of_exps[row])} (Q12.19 raw, "
            f"= {int(sum_of_exps[row]) / 2**19:g}) gives output exponent "
            f"{int(exponent[row])} outside [0, 31]; LiteRT and TFLM abort here "
            "(TFLITE_CHECK in reference_ops::Softmax). With an 8-bit output every row "
            "needs a sum of exponentials below 512 (2**28 raw)"
        )
    reciprocal, _ = fp.get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS)
    unsat = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(reciprocal[:, None], exps), exponent[:, None]
    )
    out = np.clip(unsat + data.output_min, data.output_min, data.output_max)
    out = np.where(kept, out, data.output_min)
    return out.reshape(q.shape)


def _softmax_optimized_lut(data: OpData, x: np.ndarray) -> np.ndarray:
    """LiteRT's optimized 8-bit softmax (x86 build: the float lookup table).

    Arithmetic
    ----------
    ::

        T[255 - v] = expf(fl32(-s_in * beta) * v)          for v = 0..255   (float32)
        per row:  mx = max(q);  S = sum_c T[255 - mx + q_c]  (float32, in order)
                  inv = fl32(1 / fl32(S * s_out))
                  out_c = clamp(rha(fl32(T[255 - mx + q_c] * inv)) + zp_out)

    No Prepare check on ``beta * s_in``, and long rows cannot overflow a float sum, so
    models the reference kernel aborts on run here. Mirrors:
    internal/optimized/optimized_ops.h ``Softmax`` (``PopulateSoftmaxLookupTable``).
    """
    from ..libm import expf

    v = np.arange(256, dtype=np.float32)
    scale = np.float32(np.float32(-data.input_scale) * np.float32(data.beta))
    table = np.empty(256, np.float32)
    table[255 - np.arange(256)] = expf((scale * v).astype(np.float32))
    q = np.asarray(x, np.int64)
    rows = q.reshape(-1, q.shape[-1]) if q.size else q.reshape(0, 1)
    idx = 255 - rows.max(axis=-1, keepdims=True) + rows
    terms = table[idx]
    # float32 sum in index order: np.add.accumulate is strictly sequential (np.sum is not)
    total = np.add.accumulate(terms, axis=-1, dtype=np.float32)[:, -1]
    inv = (np.float32(1.0) / (total * np.float32(data.output_scale)).astype(np.float32)).astype(np.float32)
    y = (terms * inv[:, None]).astype(np.float32)
    out = round_half_away(y.astype(np.float64)) + data.output_zero_point
    return np.clip(out, data.output_min, data.output_max).reshape(q.shape)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Softmax of ``inputs[0]`` along its last axis.

    Arithmetic (quantized; per row, ``mx`` = row maximum, ``d_c = q_c - mx <= 0``)::

        if d_c < diff_min: out_c = output_min                         (exp negligible)
        z_c   = SRDHM(d_c * 2**input_left_shift, input_multiplier)     # Q5.26
        e_c   = exp_on_negative_values(z_c)                             # Q0.31
        S     = sum_c RDBPOT(e_c, 12)                                   # Q12.19, int32 wrap
        recip, nbits = GetReciprocal(S, 12)                             # 1/S = recip*2^-nbits
        out_c = clamp(RDBPOT(SRDHM(recip, e_c), nbits + 31 - output_bits) + output_min)

    The output means ``(out - output_min) * 2**-output_bits`` (int8: zero point -128,
    scale 1/256). Float: :func:`_softmax_float`; int16: :func:`_softmax_int16`.

    Mirrors: ``reference_ops::Softmax`` (tflite/kernels/internal/reference/softmax.h).
    """
    out_dtype = ctx.output(0).dtype
    if data.kind == "float":
        return [_softmax_float(inputs[0], data.beta)]
    if data.kind == "int16":
        return [_softmax_int16(ctx, data, inputs[0]).astype(out_dtype)]
    if data.kind == "optimized_lut":
        return [_softmax_optimized_lut(data, inputs[0]).astype(out_dtype)]
    return [_softmax_quantized(ctx, data, inputs[0]).astype(out_dtype)]


SOFTMAX = Kernel(prepare, invoke)
