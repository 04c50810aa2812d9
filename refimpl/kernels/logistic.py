"""LOGISTIC (sigmoid), elementwise: float32, int8 / uint8 and int16 quantized.

Two different int8 algorithms, chosen by the flavour (arithmetic.md §2.9):

* LiteRT (``tflite-ref``): a 256-entry table built in Prepare with float32
  ``1.0f / (1.0f + expf(-x))`` (``LUTPopulate`` in tflite/kernels/activations.cc
  ``SigmoidPrepare``), then a lookup. int8 and uint8.
* TFLM (``tflm``): gemmlowp fixed point, ``reference_integer_ops::Logistic``
  (tensorflow/lite/kernels/internal/reference/integer_ops/logistic.h), int8 only.

Output quantization: the runtimes check different things, and refimpl checks exactly
what each checks. LiteRT requires the output scale to equal 1/256 (any zero point: the
table honours it). TFLM requires the output zero point -128 and ignores the scale (its
arithmetic writes codes meaning ``(q + 128) / 256`` whatever the tensor says).

int16 (16x8; zero points 0, output scale 2**-15) is one algorithm in both runtimes:
a 256-entry table of ``sigmoid(i/24)`` with 9-bit linear interpolation
(:func:`~refimpl.fixedpoint.sigmoid_lut16`, ``reference_integer_ops::Logistic``).
LiteRT additionally requires the output scale to be exactly 1/32768. (LiteRT's
*optimized* kernel runs gemmlowp fixed point for power-of-two input scales; not
reproduced, ``BUILTIN_REF`` uses the table.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from ..arithmetic import (
    checked_log2,
    multiply_by_quantized_multiplier,
    rounding_divide_by_pot,
)
from ..context import Kernel, OpContext
from ..flavors import TFLM

#: Integer bits of the rescaled input of the fixed-point path (Q4.27).
INPUT_INTEGER_BITS = 4
#: Float path: inputs above this give exactly 1, below the lower cutoff exp(x).
CUTOFF_UPPER = np.float32(16.619047164916992188)
CUTOFF_LOWER = np.float32(-9.0)


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"lut"`` (LiteRT int8/uint8), ``"fixed_point"`` (TFLM int8),
        ``"int16"`` (the table, both runtimes; ``input_multiplier`` / ``input_left_shift``
        then hold the int16 rescaling, multiplier 0 meaning a power-of-two input scale)
        or ``"int16_gemmlowp"`` (LiteRT's optimized kernel for a power-of-two input scale:
        :func:`gemmlowp_int16`).
    lut : ndarray of int64, shape (256,) or None
        Output code for input code ``q`` at index ``q - qmin``.
    input_zero_point : int
    input_multiplier, input_left_shift : int
        ``s_in * 2**27 = input_multiplier * 2**(input_left_shift - 31)``.
    input_range_radius : int
        Inputs with ``|q - zp| >= radius`` saturate to -128 / 127.
    """

    kind: str
    lut: np.ndarray | None = None
    input_zero_point: int = 0
    input_multiplier: int = 0
    input_left_shift: int = 0
    input_range_radius: int = 0


def prepare(ctx: OpContext) -> OpData:
    """Validate and precompute (the LUT, or the fixed-point input rescaling).

    Mirrors: ``SigmoidPrepare<kReference>`` (tflite/kernels/activations.cc) and
    ``CalculateArithmeticOpDataLogistic`` (tensorflow/lite/micro/kernels/logistic_common.cc).
    """
    x = ctx.input(0)
    out = ctx.output(0)
    ctx.set_output_shape(0, x.shape)
    in_dtype, out_dtype = np.dtype(x.dtype), np.dtype(out.dtype)
    if in_dtype != out_dtype:
        raise ctx.unsupported(f"input {in_dtype.name} but output {out_dtype.name}")
    if in_dtype == np.float32:
        return OpData(kind="float")
    tflm = ctx.flavor.name == TFLM.name
    if in_dtype == np.int16:
        return _prepare_int16(ctx)
    allowed = (np.int8,) if tflm else (np.int8, np.uint8)
    if in_dtype not in [np.dtype(t) for t in allowed]:
        raise ctx.unsupported(
            supported="float32, int16, " + ", ".join(np.dtype(t).name for t in allowed)
        )
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    s_in, zp_in = float(x.scale[0]), int(x.zero_point[0])
    s_out, zp_out = float(out.scale[0]), int(out.zero_point[0])

    if tflm:
        ctx.require(zp_out == -128, f"int8 output zero point must be -128, got {zp_out}")
        try:
            multiplier, shift, radius = fp.activation_input_rescaling(s_in, INPUT_INTEGER_BITS)
        except ValueError:
            raise ctx.unsupported(
                f"input scale {s_in!r} < 2**-28 gives TFLM a negative input shift "
                "(undefined behaviour upstream)"
            ) from None
        return OpData(kind="fixed_point", input_zero_point=zp_in, input_multiplier=multiplier,
                      input_left_shift=shift, input_range_radius=radius)

    # LiteRT: `output->params.scale == 1. / 256` (float promoted to double, exact compare).
    ctx.require(s_out == 1.0 / 256, f"output scale must be exactly 1/256, got {s_out!r}")
    lut = fp.lut_populate_int8(s_in, zp_in, s_out, zp_out, fp.sigmoidf, in_dtype)
    return OpData(kind="lut", lut=lut)


def int16_kind(ctx: OpContext, input_multiplier: int) -> str:
    """Which int16 path runs: ``"int16"`` (the table) or ``"int16_gemmlowp"``.

    A power-of-two input scale (``input_multiplier == 0``: 2**-12, and for TANH also
    2**-11) on LiteRT's optimized resolver runs ``optimized_ops::Logistic`` / ``Tanh``
    on int16: gemmlowp's 16-bit fixed-point ``logistic`` / ``tanh`` applied to the raw
    input read as Q3.12 (after a saturating doubling when the scale is 2**-11), not the
    table. The reference kernels and TFLM use the table for every scale.
    """
    return "int16_gemmlowp" if input_multiplier == 0 and ctx.flavor.optimized else "int16"


def gemmlowp_int16(x: np.ndarray, input_left_shift: int, tanh: bool) -> np.ndarray:
    """LiteRT's optimized int16 LOGISTIC / TANH for a power-of-two input scale.

    ::

        a = x                                   # raw int16 read as Q3.12 (s_in = 2**-12)
        a = sat16(x << 1)                       # s_in = 2**-11 (TANH only): Q3.12 again
        out = logistic16(a) or tanh16(a)        # gemmlowp, 16-bit raws, Q0.15 out

    (:func:`~refimpl.fixedpoint.logistic16` / :func:`~refimpl.fixedpoint.tanh16`). The
    SSE4 vector body and the scalar tail of the kernel agree bit for bit: gemmlowp's
    ``_mm_mulhrs_epi16`` product rounds half up like the scalar code, and the halving
    sums it uses only see non-negative values. Checked on all 65,536 int16 inputs
    against ai-edge-litert 2.3.0 (optimized resolver and XNNPACK's fallback).
    Mirrors: tflite/kernels/internal/optimized/optimized_ops.h (``Logistic`` / ``Tanh``
    on int16_t), gemmlowp fixedpoint/fixedpoint.h and fixedpoint_sse.h.
    """
    a = np.asarray(x, np.int64)
    if input_left_shift:
        a = fp._shift16(a, input_left_shift)  # SaturatingRoundingMultiplyByPOT<1>
    return fp.tanh16(a, 3) if tanh else fp.logistic16(a, 3)


def _prepare_int16(ctx: OpContext) -> OpData:
    """int16: zero points 0, output scale 2**-15, input rescaled to ``1/(3*4096)`` units.

    See :func:`~refimpl.fixedpoint.int16_activation_input_rescaling` (power-of-two input
    scales take the multiplier-free path). Identical in LiteRT and TFLM.
    """
    x, out = ctx.input(0), ctx.output(0)
    tflm = ctx.flavor.name == TFLM.name
    for t, role in ((x, "input"), (out, "output")):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"{role} {t.describe()} needs per-tensor quantization")
        ctx.require(int(t.zero_point[0]) == 0,
                    f"int16 {role} {t.describe()} must have zero point 0")
    # LiteRT's sigmoid also requires exactly 1/32768 (``output->params.scale == 1. / 32768``).
    if not tflm:
        ctx.require(float(np.float32(out.scale[0])) == 1.0 / 32768,
                    f"int16 output scale must be exactly 1/32768, got {float(out.scale[0])!r}")
    is_pot, log2 = checked_log2(float(out.scale[0]))
    ctx.require(is_pot and log2 == -15,
                f"int16 output scale must be 2**-15, got {float(out.scale[0])!r}")
    multiplier, shift = fp.int16_activation_input_rescaling(float(x.scale[0]), tanh=False)
    return OpData(kind=int16_kind(ctx, multiplier), input_multiplier=multiplier,
                  input_left_shift=shift)


def logistic_float(x: np.ndarray) -> np.ndarray:
    """float32 sigmoid as LiteRT's and TFLM's reference kernel computes it.

    ::

        x > 16.619047164916992188f : 1.0f
        x < -9.0f                  : expf(x)
        otherwise                  : 1.0f / (1.0f + expf(-x))      (float32 steps)

    Tolerance: bit-exact except where refimpl's correctly rounded ``expf`` and glibc's
    differ (1 ulp on ~0.06% of arguments), giving at most ~1 ulp in the result.
    """
    x = np.asarray(x, np.float32)
    mid = fp.sigmoidf(x)
    low = fp.expf(x)
    return np.where(x > CUTOFF_UPPER, np.float32(1), np.where(x < CUTOFF_LOWER, low, mid)).astype(
        np.float32
    )


def logistic_fixed_point(q: np.ndarray, data: OpData) -> np.ndarray:
    """TFLM int8 logistic on int64 codes; returns int64 codes in [-128, 127].

    ::

        d = q - zp_in
        d <= -radius: -128 ;  d >= radius: 127
        else: z = MBQM_double(d, input_multiplier, input_left_shift)     # Q4.27
              y = gemmlowp logistic(z)                                  # Q0.31
              out = clamp(RDBPOT(y, 23) - 128, -128, 127)                # Q0.31 -> 1/256
    """
    d = np.asarray(q, np.int64) - data.input_zero_point
    z = multiply_by_quantized_multiplier(d, data.input_multiplier, data.input_left_shift)
    y = fp.logistic(z, INPUT_INTEGER_BITS)
    mid = np.clip(rounding_divide_by_pot(y, 31 - 8) - 128, -128, 127)
    radius = data.input_range_radius
    return np.where(d <= -radius, -128, np.where(d >= radius, 127, mid))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Elementwise sigmoid of ``inputs[0]`` (any shape).

    Arithmetic: float -> :func:`logistic_float`; LiteRT int8/uint8 ->
    ``out = lut[q - qmin]`` (table of :func:`~refimpl.fixedpoint.lut_populate_int8`);
    TFLM int8 -> :func:`logistic_fixed_point`.

    Mirrors: ``reference_ops::Logistic`` (reference/logistic.h),
    ``optimized_integer_ops::LookupTable``, ``reference_integer_ops::Logistic``.
    """
    x = inputs[0]
    out_dtype = ctx.output(0).dtype
    if data.kind == "int16":
        y = fp.sigmoid_lut16(x, data.input_multiplier, data.input_left_shift)
        return [y.astype(out_dtype)]
    if data.kind == "int16_gemmlowp":
        return [gemmlowp_int16(x, data.input_left_shift, tanh=False).astype(out_dtype)]
    if data.kind == "float":
        return [logistic_float(x)]
    if data.kind == "lut":
        assert data.lut is not None
        qmin = np.iinfo(x.dtype).min
        return [data.lut[np.asarray(x, np.int64) - qmin].astype(out_dtype)]
    return [logistic_fixed_point(x, data).astype(out_dtype)]


LOGISTIC = Kernel(prepare, invoke)
