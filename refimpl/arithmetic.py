"""Quantization arithmetic: the only place integer and rounding semantics live.

Everything here works on NumPy ``int64`` arrays that *hold* int32 values, so that
intermediate products never wrap silently; where C code wraps or saturates in int32,
the function says so and does it explicitly. Each function states its rounding:

* **half away from zero** (``rha``): C ``round`` / ``std::round`` / ``TfLiteRound``;
* **half up** (``rhu``): ``floor(v + 1/2)``, i.e. ``(x + 2**(k-1)) >> k``;
* **half to even** (``rne``): ``np.rint`` (NumPy's default, *not* C's ``round``);
* **floor**: NumPy ``//`` and ``>>`` on signed integers (C ``/`` truncates instead).

The real-number model of an affine-quantized tensor is::

    real = scale * (q - zero_point)

and an op whose integer accumulator ``acc`` carries scale ``S_acc`` writes::

    q_out = zero_point_out + acc * (S_acc / S_out)

where the real multiplier ``S_acc / S_out`` is represented as a Q0.31 integer and a
power-of-two shift: ``S_acc / S_out = multiplier * 2**(shift - 31)``
(:func:`quantize_multiplier`). :func:`requantize` applies it with one of the runtime
variants of :class:`~refimpl.flavors.Requant`.

Mirrors: tensorflow/lite/kernels/internal/quantization_util.cc, common.h/.cc and
gemmlowp fixedpoint/fixedpoint.h (written anew from their documented arithmetic).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .flavors import Requant

I64Array = NDArray[np.int64]
F64Array = NDArray[np.float64]
F32Array = NDArray[np.float32]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

#: Storage-type limits used by every clamp.
QRANGE: dict[np.dtype, tuple[int, int]] = {
    np.dtype(np.int8): (-128, 127),
    np.dtype(np.uint8): (0, 255),
    np.dtype(np.int16): (-32768, 32767),
    np.dtype(np.int32): (INT32_MIN, INT32_MAX),
}


def qrange(dtype: np.dtype | type) -> tuple[int, int]:
    """``(qmin, qmax)`` of an integer storage type."""
    return QRANGE[np.dtype(dtype)]


# --------------------------------------------------------------------------------------
# Rounding of real numbers
# --------------------------------------------------------------------------------------
def round_half_away(v: np.ndarray | float) -> np.ndarray:
    """Round to nearest, ties away from zero (C ``round``), exactly, as float64.

    ``floor(v + 0.5)`` is *not* exact: for ``v = 0.49999999999999994`` the addition
    itself rounds up to 1.0. Splitting off the integer part first is exact, because
    ``v - trunc(v)`` is always representable.
    """
    v = np.asarray(v, dtype=np.float64)
    whole = np.trunc(v)
    frac = v - whole
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(v), 0.0)


def round_half_away_f32(v: np.ndarray | float) -> np.ndarray:
    """``roundf`` of float32 values; returned as float64 holding integers."""
    return round_half_away(np.asarray(v, dtype=np.float32).astype(np.float64))


def wrap32(x: np.ndarray) -> np.ndarray:
    """Reduce int64 values to int32 two's complement (what compiled C does on overflow)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def sat32(x: np.ndarray) -> np.ndarray:
    """Clamp int64 values to [INT32_MIN, INT32_MAX]."""
    return np.clip(x, INT32_MIN, INT32_MAX)


# --------------------------------------------------------------------------------------
# Real multiplier -> (Q0.31 multiplier, shift)
# --------------------------------------------------------------------------------------
def quantize_multiplier(real: float) -> tuple[int, int]:
    """Represent ``real`` as ``multiplier * 2**(shift - 31)``, multiplier in [2**30, 2**31).

    Steps (double precision throughout):

    1. ``real == 0`` gives ``(0, 0)``.
    2. ``q, e = frexp(real)`` so that ``q`` is in [0.5, 1) and ``real = q * 2**e``.
    3. ``m = round_half_away(q * 2**31)`` (``q * 2**31`` is exact: a power-of-two scaling).
    4. If rounding reached ``2**31``: ``m = 2**30, e += 1``.
    5. If ``e < -31`` the multiplier is flushed to ``(0, 0)``: a tiny real multiplier
       (below about 2**-32) makes the op output zero points only.

    ``shift > 0`` is a left shift (real >= 1), ``shift < 0`` a right shift.

    Mirrors: ``QuantizeMultiplier`` (quantization_util.cc), double-rounding build.
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    q, e = math.frexp(real)
    m = int(round_half_away(q * 2.0**31))
    if m == 2**31:
        m //= 2
        e += 1
    if e < -31:
        return 0, 0
    return m, e


def quantize_multiplier_array(real: np.ndarray) -> tuple[I64Array, I64Array]:
    """Vectorised :func:`quantize_multiplier` (per-channel multipliers).

    Returns ``(multiplier, shift)`` as int64 arrays of ``real``'s shape.
    """
    real = np.asarray(real, dtype=np.float64)
    q, e = np.frexp(real)
    m = round_half_away(q * 2.0**31).astype(np.int64)
    e = e.astype(np.int64)
    overflow = m == 2**31
    m = np.where(overflow, m // 2, m)
    e = np.where(overflow, e + 1, e)
    tiny = (e < -31) | (real == 0.0)
    return np.where(tiny, 0, m), np.where(tiny, 0, e)


# --------------------------------------------------------------------------------------
# Fixed-point primitives (gemmlowp)
# --------------------------------------------------------------------------------------
def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> I64Array:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` (SRDHM) of int32 values.

    Returns the high 32 bits of ``2 * a * b``, rounded half **up**::

        srdhm(a, b) = floor((a * b + 2**30) / 2**31)

    (gemmlowp adds a sign-dependent nudge and truncates toward zero; the two forms are
    equal for every input.) The single overflow case ``a == b == INT32_MIN`` saturates
    to ``INT32_MAX``. Same result as ARM ``vqrdmulh``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    r = (a * b + (1 << 30)) >> 31  # >> on int64 is a floor shift
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, r)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> I64Array:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded half **away from zero**.

    ``exponent`` in [0, 31] (scalar or array broadcastable to ``x``)::

        mask = 2**e - 1;  remainder = x & mask
        threshold = mask >> 1, plus one when x < 0
        result = (x >> e) + (remainder > threshold)
    """
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def _left_shift_wrapped(x: np.ndarray, left: np.ndarray) -> I64Array:
    """``wrap32(x * 2**left)``: C's int32 ``x * (1 << left)``; identity when all left == 0."""
    x = np.asarray(x, dtype=np.int64)
    if not np.any(left):
        return x
    return wrap32(x * (np.int64(1) << left))


def multiply_by_quantized_multiplier(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> I64Array:
    """``x * multiplier * 2**(shift - 31)`` with gemmlowp **double rounding** (variant A).

    Definition::

        left  = max(shift, 0);  right = max(-shift, 0)
        y = wrap32(x * 2**left)                  # int32 multiply, wraps like C
        s = srdhm(y, multiplier)                 # rounding 1: half up
        r = rounding_divide_by_pot(s, right)     # rounding 2: half away from zero

    ``x`` holds int32 accumulators; ``multiplier`` (in [0, 2**31), as
    :func:`quantize_multiplier` makes them) and ``shift`` may be per-channel arrays
    broadcasting against ``x`` (channel last). This is the default of every shipped
    LiteRT and TFLM build (``TFLITE_SINGLE_ROUNDING`` undefined).

    Evaluation (same integers, fewer passes over memory): with ``p = y * multiplier``,
    ``s = floor((p + 2**30) / 2**31)``, and for right >= 1 the second rounding is
    ``floor((s + 2**(right-1) - [s < 0]) / 2**right)``. Two nested floor divisions by
    positive integers merge into one (``floor((floor(a/b) + c) / d) = floor((a + c*b) / (b*d))``),
    so::

        r = (p + 2**30 + 2**(30+right) - 2**31 * [p + 2**30 < 0]) >> (31 + right)

    (right == 0: ``r = (p + 2**30) >> 31``). |p| < 2**62, so nothing overflows int64;
    the multiplier is never INT32_MIN, so srdhm's saturation case cannot arise.
    ``tests/test_arithmetic.py`` checks this form against the two-step definition.

    Mirrors: ``MultiplyByQuantizedMultiplier(int32_t, int32_t, int)`` in common.cc.
    """
    shift = np.asarray(shift, dtype=np.int64)
    p = _left_shift_wrapped(x, np.maximum(shift, 0)) * np.asarray(multiplier, dtype=np.int64)
    return _merged_rounding(p, _MergedShift.make(shift, 0, away_from_zero=True))


@dataclass(frozen=True)
class _MergedShift:
    """Per-channel constants of the merged one-shift evaluation of variants A and D.

    ``r + offset = (p + addend + (sign_mask & ((p + 2**30) >> 63))) >> total_shift``
    where ``addend = 2**30 + 2**(30+right) + offset * 2**(31+right)`` (a constant added
    before a floor shift by ``31 + right`` comes out as ``offset`` after it), and
    ``sign_mask`` is ``-2**31`` (round half away from zero, right >= 1) or 0.
    """

    addend: I64Array
    total_shift: I64Array
    sign_mask: I64Array | None

    @staticmethod
    def make(shift: np.ndarray, offset: int, *, away_from_zero: bool) -> "_MergedShift":
        right = np.maximum(-np.asarray(shift, dtype=np.int64), 0)
        total = 31 + right
        addend = (np.int64(1) << 30) + np.where(right > 0, np.int64(1) << (30 + right), 0)
        addend = addend + (np.int64(offset) << total)
        mask = None
        if away_from_zero:
            mask = np.where(right > 0, np.int64(-(2**31)), np.int64(0))
        return _MergedShift(addend, total, mask)


def _merged_rounding(p: np.ndarray, c: _MergedShift) -> I64Array:
    """Apply :class:`_MergedShift` to products ``p`` (int64, modified in place if owned)."""
    if c.sign_mask is not None and np.any(c.sign_mask):
        t = p + (1 << 30)
        t >>= 63  # -1 where the first rounding's result s is negative, else 0
        t &= c.sign_mask
        t += p
    else:
        t = p
    t += c.addend
    t >>= c.total_shift
    return t


def multiply_by_quantized_multiplier_neon(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> I64Array:
    """Variant D: ``vqrdmulh`` then a rounding right shift that rounds half **up**.

    What LiteRT's optimized x86 kernels compute (ruy AVX2 and the NEON_2_SSE paths)::

        s = srdhm(wrap32(x * 2**left), multiplier)     # half up
        r = (s + 2**(right-1)) >> right                  # half up (not away from zero)

    Differs from :func:`multiply_by_quantized_multiplier` only on negative exact ties
    of the final shift. Merged into one shift as there (no sign term this time)::

        r = (p + 2**30 + 2**(30+right)) >> (31 + right),   p = y * multiplier
    """
    shift = np.asarray(shift, dtype=np.int64)
    p = _left_shift_wrapped(x, np.maximum(shift, 0)) * np.asarray(multiplier, dtype=np.int64)
    return _merged_rounding(p, _MergedShift.make(shift, 0, away_from_zero=False))


def multiply_by_quantized_multiplier_int64(
    x: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> I64Array:
    """Variant C, for int64 accumulators (16x8 kernels): one rounding, half **up**.

    The Q0.31 multiplier is first cut to 15-16 bits::

        m16 = (multiplier + 2**15) >> 16   (0x7FFF when multiplier >= 0x7FFF0000)
        total_shift = 15 - shift
        result = wrap32((x * m16 + 2**(total_shift-1)) >> total_shift)

    Valid for |x| < 2**47 and shift in [-31, 7].
    Mirrors: ``MultiplyByQuantizedMultiplier(int64_t, int32_t, int)`` in common.cc.
    """
    m = np.asarray(multiplier, dtype=np.int64)
    m16 = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
    total_shift = 15 - np.asarray(shift, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    return wrap32((x * m16 + (np.int64(1) << (total_shift - 1))) >> total_shift)


# --------------------------------------------------------------------------------------
# Requantization of accumulators, as a pluggable choice
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Requantizer:
    """Scales int32 accumulators by ``S_acc / S_out`` with one runtime's rounding.

    Build it in ``prepare`` with :func:`make_requantizer`; call it in ``invoke`` on
    accumulators whose last axis is the output channel. It returns the rescaled
    value *before* the output zero point is added and before clamping.

    Attributes
    ----------
    how : Requant
    real : ndarray of float64, shape (C,) or (1,)
        The effective real multiplier ``S_in * S_w[c] / S_out`` in double.
    multiplier, shift : ndarray of int64
        Its Q0.31 form (:func:`quantize_multiplier_array`).
    xnn_scale : ndarray of float32
        ``fl32(fl32(S_in * S_w[c]) / S_out)`` (XNNPACK's float32 scale).
    """

    how: Requant
    real: F64Array
    multiplier: I64Array
    shift: I64Array
    xnn_scale: F32Array

    def __call__(self, acc: np.ndarray) -> I64Array:
        if self.how is Requant.DOUBLE_ROUNDING:
            return multiply_by_quantized_multiplier(acc, self.multiplier, self.shift)
        if self.how is Requant.NEON:
            return multiply_by_quantized_multiplier_neon(acc, self.multiplier, self.shift)
        if self.how is Requant.FLOAT64:
            # round_half_away(double(acc) * real): LiteRT reference FULLY_CONNECTED
            return round_half_away(np.asarray(acc, np.float64) * self.real).astype(np.int64)
        if self.how is Requant.XNN_FP32:
            v = np.asarray(acc).astype(np.float32) * self.xnn_scale  # float32 product
            return np.rint(v).astype(np.int64)  # round half to even (XNNPACK magic bias)
        raise AssertionError(self.how)

    def to_output(
        self,
        acc: np.ndarray,
        *,
        bias: np.ndarray | None,
        output_offset: int,
        act_min: int,
        act_max: int,
        dtype: np.dtype | type,
        wrap: bool = True,
        acc_bound: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """The whole output stage of a conv / fully-connected layer, fused and chunked.

        ::

            y = requantize(wrap32(acc + bias)) + output_offset
            out = clamp(y, act_min, act_max).astype(dtype)

        ``acc`` may hold the integer accumulators in any numeric dtype (the exact float32
        / float64 result of :func:`exact_matmul`, or int64); channel is the last axis.
        The work runs on blocks of about 64 K elements so that the int64 temporaries stay
        in cache (the arithmetic is element-wise, so blocking cannot change a result).
        ``acc_bound``, when given, bounds ``|acc + bias|``; below 2**31 the int32 wrap is
        provably the identity and is skipped.
        """
        if acc_bound is not None and acc_bound < 2**31:
            wrap = False
        channels = acc.shape[-1] if acc.ndim else 1
        flat = acc.reshape(-1, channels)
        if out is None:
            out = np.empty(acc.shape, dtype=dtype)
        out_flat = out.reshape(-1, channels)
        rows = max(1, _BLOCK_ELEMENTS // max(channels, 1))
        b = None if bias is None else np.asarray(bias, np.int64).reshape(-1)
        # Fixed-point variants without a left shift: fold the output offset into the
        # merged rounding constants (see multiply_by_quantized_multiplier).
        # When the clamp's floor is at or above the output zero point (a fused RELU or
        # RELU6), every negative first-rounding result s < 0 ends at act_min whichever
        # way its tie rounds (both roundings give r <= 0, and r + offset <= act_min):
        # then rounding half away from zero may be evaluated as half up, which drops
        # the sign term. The clamp makes the two indistinguishable, so this is exact.
        merged = None
        if self.how in (Requant.DOUBLE_ROUNDING, Requant.NEON) and not np.any(self.shift > 0):
            away = self.how is Requant.DOUBLE_ROUNDING and act_min < output_offset
            merged = _MergedShift.make(self.shift, output_offset, away_from_zero=away)
        for start in range(0, flat.shape[0], rows):
            stop = start + rows
            src = flat[start:stop]
            if b is not None:  # acc + bias in one pass (float64 holds these sums exactly)
                block = np.add(src, b, dtype=np.int64, casting="unsafe")
            else:
                block = src.astype(np.int64)
            if wrap:
                block = wrap32(block)  # the C accumulator is int32
            if merged is not None:
                block *= self.multiplier
                y = _merged_rounding(block, merged)
            else:
                y = self(block)
                if self.how is Requant.FLOAT64:
                    # (int32) of an out-of-range double is INT32_MIN on x86 (cvttsd2si)
                    y[(y > INT32_MAX) | (y < INT32_MIN)] = INT32_MIN
                y += output_offset
            # clamp and narrow in one pass
            np.clip(y, act_min, act_max, out=out_flat[start:stop], casting="unsafe")
        return out


_BLOCK_ELEMENTS = 1 << 16


def make_requantizer(
    how: Requant,
    input_scale: float,
    filter_scale: np.ndarray,
    output_scale: float,
    *,
    product_in_float32: bool = False,
) -> Requantizer:
    """Precompute the requantization of an accumulator with scale ``S_in * S_w[c]``.

    Parameters
    ----------
    input_scale, output_scale : float (float32 values from the model)
    filter_scale : array of float32, shape (C,) or (1,)
    product_in_float32 : bool
        Evaluate ``S_in * S_w`` in float32 before dividing by ``S_out`` in double,
        as ``GetQuantizedConvolutionMultipler`` does for per-tensor FULLY_CONNECTED.
        Otherwise every operand is widened to double first (per-channel path).
    """
    s_in = np.float32(input_scale)
    s_w = np.asarray(filter_scale, dtype=np.float32).reshape(-1)
    s_out = np.float32(output_scale)
    if product_in_float32:
        real = (s_in * s_w).astype(np.float64) / np.float64(s_out)
    else:
        real = np.float64(s_in) * s_w.astype(np.float64) / np.float64(s_out)
    m, sh = quantize_multiplier_array(real)
    xnn = ((s_in * s_w).astype(np.float32) / s_out).astype(np.float32)
    return Requantizer(how, real, m, sh, xnn)


# --------------------------------------------------------------------------------------
# Activation ranges, quantize / dequantize
# --------------------------------------------------------------------------------------
def quantize_value_f32(value: float, scale: float, zero_point: int) -> int:
    """``zero_point + round_half_away(fl32(value / scale))`` (float32 division)."""
    return int(zero_point) + int(round_half_away_f32(np.float32(value) / np.float32(scale)))


def activation_range_quantized(
    activation: int, scale: float, zero_point: int, dtype: np.dtype | type
) -> tuple[int, int]:
    """Integer clamp range of a fused activation on a quantized output.

    ``activation`` is the schema's ActivationFunctionType value (0 NONE, 1 RELU,
    2 RELU_N1_TO_1, 3 RELU6). A real bound ``f`` maps to
    ``zero_point + round_half_away(fl32(f / scale))``, intersected with the storage range.

    Mirrors: ``CalculateActivationRangeQuantized`` (kernel_util.cc).
    """
    qmin, qmax = qrange(dtype)
    if activation == 0:
        return qmin, qmax
    if activation == 1:
        return max(qmin, quantize_value_f32(0.0, scale, zero_point)), qmax
    if activation == 3:
        return (
            max(qmin, quantize_value_f32(0.0, scale, zero_point)),
            min(qmax, quantize_value_f32(6.0, scale, zero_point)),
        )
    if activation == 2:
        return (
            max(qmin, quantize_value_f32(-1.0, scale, zero_point)),
            min(qmax, quantize_value_f32(1.0, scale, zero_point)),
        )
    raise ValueError(f"fused activation {activation} has no quantized range")


def activation_float(x: np.ndarray, activation: int) -> np.ndarray:
    """Apply a fused activation to float32 values (NONE, RELU, RELU_N1_TO_1, RELU6, TANH)."""
    if activation == 0:
        return x
    if activation == 1:
        return np.maximum(x, np.float32(0))
    if activation == 2:
        return np.clip(x, np.float32(-1), np.float32(1))
    if activation == 3:
        return np.clip(x, np.float32(0), np.float32(6))
    if activation == 4:
        return np.tanh(x)
    raise ValueError(f"fused activation {activation} is not supported on float")


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype | type) -> np.ndarray:
    """float32 -> integer, LiteRT reference / TFLM rounding.

    ``q = clamp(zero_point + round_half_away(fl32(x / scale)), qmin, qmax)``
    (float32 division, ties away from zero).
    """
    qmin, qmax = qrange(dtype)
    v = np.asarray(x, np.float32) / np.float32(scale)
    q = round_half_away(v.astype(np.float64)) + int(zero_point)
    return np.clip(q, qmin, qmax).astype(dtype)


def dequantize(q: np.ndarray, scale: np.ndarray | float, zero_point: np.ndarray | int) -> np.ndarray:
    """integer -> float32: ``real = scale * (q - zero_point)``.

    Computed in double and rounded once to float32; the double product is exact, so
    this equals the correctly rounded float32 product.
    """
    s = np.asarray(scale, np.float32).astype(np.float64)
    return (s * (np.asarray(q, np.int64) - np.asarray(zero_point, np.int64))).astype(np.float32)


# --------------------------------------------------------------------------------------
# Exact integer GEMM through floating-point BLAS
# --------------------------------------------------------------------------------------
FLOAT32_EXACT_LIMIT = 2**24
FLOAT64_EXACT_LIMIT = 2**53


def gemm_float_dtype(max_abs_lhs: int, rhs_abs_colsum_max: float) -> type:
    """Pick a float type in which an integer matmul is provably exact.

    Every partial sum of ``sum_k a[i,k] * b[k,j]`` is bounded by
    ``max|a| * max_j sum_k |b[k,j]|``. Integers up to 2**24 (float32) or 2**53
    (float64) are exact, and so is every addition of them whose result stays in range,
    *whatever the summation order BLAS chooses*. So when the bound is below the limit
    the float result equals the int64 result exactly.

    Returns ``np.float32``, ``np.float64``, or ``np.int64`` (no float type is safe).
    """
    bound = float(max_abs_lhs) * float(rhs_abs_colsum_max)
    if bound < FLOAT32_EXACT_LIMIT:
        return np.float32
    if bound < FLOAT64_EXACT_LIMIT:
        return np.float64
    return np.int64


def exact_matmul(
    lhs: np.ndarray, rhs: np.ndarray, compute_dtype: type, *, as_int64: bool = True
) -> np.ndarray:
    """``lhs @ rhs`` of integer-valued arrays, exactly.

    ``compute_dtype`` must come from :func:`gemm_float_dtype` for these operands
    (or be ``np.int64``, the slow always-exact fallback). The result is int64, or, with
    ``as_int64=False``, left in ``compute_dtype`` (its values are still exact integers).
    """
    if compute_dtype is np.int64:
        return np.matmul(lhs.astype(np.int64), rhs.astype(np.int64))
    out = np.matmul(lhs.astype(compute_dtype, copy=False), rhs.astype(compute_dtype, copy=False))
    return out.astype(np.int64) if as_int64 else out


# --------------------------------------------------------------------------------------
# 16x8 output stage with an int64 accumulator (variant C)
# --------------------------------------------------------------------------------------
def requantize_int64_to_output(
    acc: np.ndarray,
    *,
    bias: np.ndarray | None,
    multiplier: np.ndarray,
    shift: np.ndarray,
    act_min: int,
    act_max: int,
    dtype: np.dtype | type,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Output stage of the 16x8 conv-style kernels whose accumulator is int64.

    ::

        y   = multiply_by_quantized_multiplier_int64(acc + bias, multiplier[c], shift[c])
        out = clamp(y, act_min, act_max).astype(dtype)        # no output offset (zp 0)

    ``acc`` holds exact integer accumulators (int64, or an exactly integer-valued float
    array), channel last; ``multiplier`` / ``shift`` broadcast along that channel axis.
    The int64 sum ``acc + bias`` does not wrap (|acc| < 2**47 is what variant C
    assumes). Runs on blocks of about 64 K elements like :meth:`Requantizer.to_output`.

    Mirrors: the int64 ``AccumScalar`` branch of ``reference_integer_ops::ConvPerChannel``,
    ``DepthwiseConvPerChannel``, ``TransposeConv`` (16x8) and TFLM's FULLY_CONNECTED.
    """
    channels = acc.shape[-1] if acc.ndim else 1
    flat = acc.reshape(-1, channels)
    if out is None:
        out = np.empty(acc.shape, dtype=dtype)
    out_flat = out.reshape(-1, channels)
    m = np.asarray(multiplier, np.int64).reshape(-1)
    s = np.asarray(shift, np.int64).reshape(-1)
    b = None if bias is None else np.asarray(bias, np.int64).reshape(-1)
    rows = max(1, _BLOCK_ELEMENTS // max(channels, 1))
    for start in range(0, flat.shape[0], rows):
        src = flat[start:start + rows]
        if b is not None:
            block = np.add(src, b, dtype=np.int64, casting="unsafe")
        else:
            block = src.astype(np.int64)
        y = multiply_by_quantized_multiplier_int64(block, m, s)
        np.clip(y, act_min, act_max, out=out_flat[start:start + rows], casting="unsafe")
    return out


# --------------------------------------------------------------------------------------
# Power-of-two scales (int16 ADD/SUB POT path, int16 LOGISTIC / TANH)
# --------------------------------------------------------------------------------------
def checked_log2(scale: float) -> tuple[bool, int]:
    """``CheckedLog2``: is ``scale`` a power of two (within 1e-3 in log2), and which one.

    Evaluated in float32 like the C++ (``std::log(x) * (1.0f / std::log(2.0f))``, then
    ``TfLiteRound``, half away from zero); returns ``(is_pot, rounded log2)``.

    Mirrors: ``CheckedLog2`` (tensorflow/lite/kernels/internal/quantization_util.h).
    """
    x = np.float32(scale)
    inv_log2 = np.float32(1.0) / np.log(np.float32(2.0), dtype=np.float32)
    x_log2 = np.float32(np.log(x, dtype=np.float32) * inv_log2)
    rounded = np.float32(round_half_away(float(x_log2)))
    return bool(abs(np.float32(x_log2 - rounded)) < np.float32(1e-3)), int(rounded)


# ------------------------------------------------------------------------------------
# Fused multiply-add in float32
# ------------------------------------------------------------------------------------
def fma_f32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> F32Array:
    """``fmaf(a, b, c)`` elementwise: ``a * b + c`` with one float32 rounding, not two.

    XNNPACK's x86 micro-kernels finish with ``_mm*_fmadd_ps``; evaluating ``a * b`` and
    ``+ c`` as two float32 operations differs from it in the last bit on a few percent
    of outputs. NumPy has no fused multiply-add, so it is built exactly from float64:

    1. ``p = a * b`` in float64 is exact (two 24-bit significands make at most 48 bits,
       and float32 exponents cannot overflow or underflow float64).
    2. ``s = p + c`` in float64 rounds once; its rounding error ``e`` is recovered
       exactly with Knuth's TwoSum.
    3. Rounding ``s`` straight to float32 could round twice (double rounding). Instead
       ``s`` is first made *round-to-odd*: when ``e != 0`` and the last bit of ``s`` is
       even, step one ulp towards the true value. A round-to-odd result carrying at
       least two more bits than the target (53 >= 24 + 2) then rounds to float32
       exactly as the infinitely precise ``a * b + c`` would (Boldo & Melquiond, 2008).
    """
    a64 = np.asarray(a, np.float32).astype(np.float64)
    b64 = np.asarray(b, np.float32).astype(np.float64)
    c64 = np.asarray(c, np.float32).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf and NaN pass through
        p = a64 * b64  # exact
        s = np.asarray(p + c64, np.float64)
        t = s - p  # TwoSum: e = (p - (s - t)) + (c - t) is the exact error of s
        e = (p - (s - t)) + (c64 - t)
        even = (s.view(np.int64) & 1) == 0
        fix = (e != 0) & even & np.isfinite(s) & np.isfinite(e)
        if np.any(fix):
            s = np.where(fix, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return np.asarray(s).astype(np.float32)
