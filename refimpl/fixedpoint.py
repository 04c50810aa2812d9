"""gemmlowp fixed-point arithmetic, vectorised over NumPy int64 arrays holding int32.

The quantized SOFTMAX of LiteRT's reference kernels and TFLM, and TFLM's int8
LOGISTIC / TANH, evaluate ``exp``, ``1/(1+x)`` and friends in the 32-bit fixed-point
arithmetic of gemmlowp (``fixedpoint/fixedpoint.h``). This module restates that
arithmetic function by function, so that every raw integer matches the C++ code.

Representation
--------------
A fixed-point value with ``I`` integer bits ("Q(I).(31-I)") is an int32 ``raw``
meaning ``raw * 2**-(31 - I)``. All functions take and return int64 NumPy arrays
(or scalars) whose values are int32; where C++ wraps around (gemmlowp's ``+`` and
``-`` on int32 do not saturate) the functions here wrap explicitly with
:func:`~refimpl.arithmetic.wrap32`.

Operations and their rounding
-----------------------------
``a * b``  (``mul``)
    :func:`~refimpl.arithmetic.saturating_rounding_doubling_high_mul`: the high half
    of ``2*a*b``, rounded half **up**; saturates only for ``INT32_MIN * INT32_MIN``.
    A Q(Ia) times a Q(Ib) is a Q(Ia+Ib).
``a + b``, ``a - b``, ``-a``
    int32 wrap-around, no rounding.
multiply by ``2**e`` at fixed ``I`` (``saturating_rounding_multiply_by_pot``)
    ``e > 0``: left shift, saturating to [INT32_MIN, INT32_MAX];
    ``e < 0``: :func:`~refimpl.arithmetic.rounding_divide_by_pot`, half **away from zero**.
change of format Q(I) -> Q(J) (``rescale``)
    the previous operation with ``e = I - J``.
``rounding_half_sum(a, b)``
    ``(a + b + sign(a + b)) / 2`` in int64 with C truncation, ``sign(0) = +1``;
    i.e. the average rounded half away from zero.

Mirrors: google/gemmlowp ``fixedpoint/fixedpoint.h`` (``exp_on_negative_values``,
``one_over_one_plus_x_for_x_in_0_1``, ``one_minus_x_over_one_plus_x_for_x_in_0_1``,
``logistic``, ``tanh``) and ``GetReciprocal`` / ``CalculateInputRadius`` of
tensorflow/lite/kernels/internal (common.h, quantization_util.cc). Written anew.

The module also holds the float32 helpers shared by the float and LUT-based int8
LOGISTIC / TANH / SOFTMAX kernels (:func:`expf`, :func:`tanhf`, :func:`sigmoidf`,
:func:`lut_populate_int8`); see the section "float32 elementary functions" below.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import libm

from .arithmetic import (
    INT32_MAX,
    INT32_MIN,
    I64Array,
    checked_log2,
    round_half_away,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap32,
)

# --------------------------------------------------------------------------------------
# Constants: raw int32 values as gemmlowp writes them. Each is the real number times
# 2**(31 - I) rounded to nearest (tests/test_fixedpoint.py recomputes every one).
# --------------------------------------------------------------------------------------
#: exp(-1/8) in Q0.31 (the centre of the Taylor expansion on [-1/4, 0)).
EXP_MINUS_ONE_EIGHTH_Q0 = 1895147668
#: 1/3 in Q0.31.
ONE_THIRD_Q0 = 715827883
#: 48/17 in Q2.29 (Newton-Raphson initial guess, constant term).
FORTY_EIGHT_OVER_SEVENTEEN_Q2 = 1515870810
#: -32/17 in Q2.29 (Newton-Raphson initial guess, linear term).
MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2 = -1010580540
#: ``(k, exp(-2**k) in Q0.31)``: the barrel shifter of :func:`exp_on_negative_values`.
EXP_OF_MINUS_POWERS_OF_TWO_Q0: tuple[tuple[int, int], ...] = (
    (-2, 1672461947),  # exp(-1/4)
    (-1, 1302514674),  # exp(-1/2)
    (0, 790015084),  # exp(-1)
    (1, 290630308),  # exp(-2)
    (2, 39332535),  # exp(-4)
    (3, 720401),  # exp(-8)
    (4, 242),  # exp(-16)
)


def raw(x: np.ndarray | int) -> I64Array:
    """View integer data as the int64 carrier used throughout (no value change)."""
    return np.asarray(x, dtype=np.int64)


def one(integer_bits: int) -> int:
    """Raw value of 1.0 in Q(I): ``INT32_MAX`` for I = 0 (1.0 is not representable),
    else ``2**(31 - I)``."""
    return INT32_MAX if integer_bits == 0 else 1 << (31 - integer_bits)


def constant_pot(integer_bits: int, exponent: int) -> int:
    """Raw value of ``2**exponent`` in Q(I) (exact; must fit below bit 31)."""
    offset = 31 - integer_bits + exponent
    assert 0 <= offset < 31, "power of two not representable in this format"
    return 1 << offset


# --------------------------------------------------------------------------------------
# Elementary operations
# --------------------------------------------------------------------------------------
def add(a: np.ndarray | int, b: np.ndarray | int) -> I64Array:
    """``a + b`` with int32 wrap-around (gemmlowp does not saturate 32-bit adds)."""
    return wrap32(raw(a) + raw(b))


def sub(a: np.ndarray | int, b: np.ndarray | int) -> I64Array:
    """``a - b`` with int32 wrap-around."""
    return wrap32(raw(a) - raw(b))


def neg(a: np.ndarray | int) -> I64Array:
    """``-a`` with int32 wrap-around (``-INT32_MIN == INT32_MIN``)."""
    return wrap32(-raw(a))


def mul(a: np.ndarray | int, b: np.ndarray | int) -> I64Array:
    """Fixed-point product: Q(Ia) x Q(Ib) -> Q(Ia+Ib), rounded half up (SRDHM)."""
    return saturating_rounding_doubling_high_mul(raw(a), raw(b))


def saturating_shift_left(x: np.ndarray | int, exponent: int) -> I64Array:
    """``x * 2**exponent`` (exponent > 0) saturated to the int32 range.

    gemmlowp saturates when ``x > 2**(31-e) - 1`` (to INT32_MAX) or
    ``x < -(2**(31-e) - 1)`` (to INT32_MIN); ``x = -2**(31-e)`` shifts exactly.
    """
    assert 0 < exponent < 31
    x = raw(x)
    threshold = (1 << (31 - exponent)) - 1
    shifted = x << exponent
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def saturating_rounding_multiply_by_pot(x: np.ndarray | int, exponent: int) -> I64Array:
    """gemmlowp ``SaturatingRoundingMultiplyByPOT<exponent>``.

    ``exponent > 0``: saturating left shift; ``exponent < 0``: divide by ``2**-exponent``
    rounding half away from zero; ``0``: identity.
    """
    if exponent > 0:
        return saturating_shift_left(x, exponent)
    if exponent < 0:
        return rounding_divide_by_pot(raw(x), -exponent)
    return raw(x)


def rescale(x: np.ndarray | int, src_integer_bits: int, dst_integer_bits: int) -> I64Array:
    """gemmlowp ``Rescale<dst>``: the same real value in Q(dst) (saturating / rounding)."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a: np.ndarray | int, b: np.ndarray | int) -> I64Array:
    """``(a + b) / 2`` rounded half away from zero, computed without overflow.

    gemmlowp: ``sum = int64(a) + b; (sum + (sum >= 0 ? 1 : -1)) / 2`` with C's
    truncating division (NumPy ``>>`` floors, so negative values are negated first).
    """
    s = raw(a) + raw(b)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t >> 1, -((-t) >> 1))


def count_leading_zeros_u32(x: np.ndarray | int) -> I64Array:
    """Leading zero bits of ``x`` read as uint32 (``__builtin_clz``; 32 for 0)."""
    u = raw(x) & 0xFFFFFFFF
    # frexp of an integer below 2**53 is exact: u = m * 2**e with m in [0.5, 1),
    # so e is the bit length of u (0 for u = 0).
    _, bit_length = np.frexp(u.astype(np.float64))
    return 32 - bit_length.astype(np.int64)


# --------------------------------------------------------------------------------------
# exp
# --------------------------------------------------------------------------------------
def exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> I64Array:
    """``exp(a)`` for ``a`` in [-1/4, 0), Q0.31 -> Q0.31.

    Fourth-order Taylor expansion around -1/8, with ``x = a + 1/8``::

        x2 = x*x;  x3 = x2*x;  x4 = x2*x2                       (SRDHM, half up)
        t  = ((x4 / 4 + x3) * (1/3) + x2) / 2                     (/4, /2: RDBPOT)
           = x2/2 + x3/6 + x4/24
        exp(a) = e^(-1/8) + e^(-1/8) * (x + t)                   (wrapping +)
    """
    c = EXP_MINUS_ONE_EIGHTH_Q0
    x = add(a, constant_pot(0, -3))
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(add(mul(add(x4_over_4, x3), ONE_THIRD_Q0), x2), -1)
    return add(c, mul(c, add(x, poly)))


def exp_on_negative_values(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """``exp(a)`` for ``a <= 0`` given in Q(I); result in Q0.31.

    Arithmetic (``F = 31 - I`` fractional bits, ``q = 2**(F-2)`` is 1/4)::

        a_mod = (a & (q - 1)) - q              # in [-1/4, 0): a = a_mod - remainder
        r = exp_quarter(rescale(a_mod, I -> 0))   # saturating left shift by I
        remainder = a_mod - a                  # a non-negative multiple of 1/4
        for k = -2..4 with I > k:              # barrel shifter
            if bit (F + k) of remainder: r = r * exp(-2**k)      (SRDHM)
        if I > 5 and a < -32: r = 0            # (raw < -2**(36 - I))
        if a == 0: r = INT32_MAX               # exactly 1.0 is not representable

    Precision: within a few units of 2**-31 of the true value over [-16, 0]
    (tests/test_fixedpoint.py states the bound it checks).
    """
    a = raw(a)
    frac_bits = 31 - integer_bits
    quarter = constant_pot(integer_bits, -2)
    a_mod = sub(a & (quarter - 1), quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod, integer_bits, 0)
    )
    remainder = sub(a_mod, a)
    for k, multiplier in EXP_OF_MINUS_POWERS_OF_TWO_Q0:
        if integer_bits > k:
            bit = 1 << (frac_bits + k)
            result = np.where((remainder & bit) != 0, mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))  # -32.0 in Q(I)
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, one(0), result)


# --------------------------------------------------------------------------------------
# Division by Newton-Raphson
# --------------------------------------------------------------------------------------
def _newton_one_over_half_denominator(half_denominator: np.ndarray) -> I64Array:
    """``1 / h`` in Q2.29 for ``h = (1 + a)/2`` in Q0.31 (``h`` in [1/2, 1)).

    Initial guess ``48/17 - 32/17 * h``, then three Newton-Raphson steps::

        x = x + rescale(x * (1 - h*x), Q4 -> Q2)      # saturating left shift by 2
    """
    h = half_denominator
    x = add(FORTY_EIGHT_OVER_SEVENTEEN_Q2, mul(h, MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2))
    one_q2 = one(2)
    for _ in range(3):
        one_minus_hx = sub(one_q2, mul(h, x))  # Q0 * Q2 -> Q2
        x = add(x, rescale(mul(x, one_minus_hx), 4, 2))  # Q2 * Q2 -> Q4 -> Q2
    return x


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray | int) -> I64Array:
    """``1 / (1 + a)`` for ``a`` in [0, 1), Q0.31 -> Q0.31.

    ``h = rounding_half_sum(a, INT32_MAX)`` (= (1 + a)/2), ``x = 1/h`` in Q2.29 by
    Newton-Raphson, and ``1/(1+a) = x/2``: the raw of ``x`` read as Q1.30
    (exact halving) rescaled to Q0.31, i.e. a saturating left shift by 1.
    """
    x = _newton_one_over_half_denominator(rounding_half_sum(a, one(0)))
    return rescale(x, 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: np.ndarray | int) -> I64Array:
    """``(1 - a) / (1 + a)`` for ``a`` in [0, 1), Q0.31 -> Q0.31.

    Same Newton-Raphson ``x = 2/(1+a)`` in Q2.29, then ``x - 1`` (wrapping) rescaled
    Q2 -> Q0 (saturating left shift by 2).
    """
    x = _newton_one_over_half_denominator(rounding_half_sum(a, one(0)))
    return rescale(sub(x, one(2)), 2, 0)


# --------------------------------------------------------------------------------------
# logistic and tanh
# --------------------------------------------------------------------------------------
def logistic(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """``1 / (1 + exp(-a))`` for ``a`` in Q(I); result in Q0.31.

    ::

        p = one_over_one_plus_x(exp_on_negative_values(-|a|))    # logistic(|a|)
        a > 0: p;   a < 0: INT32_MAX - p (wrapping);   a == 0: 2**30 (exactly 1/2)

    ``|a|`` is computed as ``-a`` with wrap-around, as in C.
    """
    a = raw(a)
    positive = a > 0
    abs_a = np.where(positive, a, neg(a))
    p = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(neg(abs_a), integer_bits))
    result = np.where(positive, p, sub(one(0), p))
    return np.where(a == 0, 1 << 30, result)


def tanh(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """``tanh(a)`` for ``a`` in Q(I); result in Q0.31.

    ``tanh(|a|) = (1 - exp(-2|a|)) / (1 + exp(-2|a|))``; the doubling is exact: the
    raw of ``-|a|`` is reinterpreted as Q(I+1)::

        t = one_minus_x_over_one_plus_x(exp_on_negative_values(-|a| as Q(I+1)))
        a > 0: t;   a < 0: -t;   a == 0: 0
    """
    a = raw(a)
    negative = a < 0
    n = np.where(negative, a, neg(a))  # -|a|
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, neg(t), t))


# --------------------------------------------------------------------------------------
# TFLite helpers built on the above
# --------------------------------------------------------------------------------------
def get_reciprocal(x: np.ndarray | int, x_integer_digits: int) -> tuple[I64Array, I64Array]:
    """TFLite ``GetReciprocal``: ``1/x`` for a positive Q(x_integer_digits) ``x``.

    ::

        headroom_plus_one = clz32(x)
        num_bits_over_unit = x_integer_digits - headroom_plus_one
        shifted_minus_one = int32((uint32(x) << headroom_plus_one) - 2**31)   # in [0, 1)
        scale = one_over_one_plus_x(shifted_minus_one)                         # Q0.31

    so that ``1/x = scale * 2**-num_bits_over_unit``. Returns ``(scale,
    num_bits_over_unit)``. ``x`` must be non-zero (C would shift by 32).
    """
    u = raw(x) & 0xFFFFFFFF
    headroom_plus_one = count_leading_zeros_u32(u)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((u << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(shifted), num_bits_over_unit


def calculate_input_radius(
    input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31
) -> int:
    """TFLite ``CalculateInputRadius``: the largest input difference kept in range.

    ``floor((2**I - 1) * 2**(total - I) / 2**left_shift)``; upstream evaluates it in
    double, where every step is exact, so integer shifts give the same value.
    Requires ``input_left_shift >= 0`` (C shifts ``1LL << left_shift``).
    """
    if input_left_shift < 0:
        raise ValueError(f"input_left_shift {input_left_shift} < 0")
    numerator = ((1 << input_integer_bits) - 1) << (total_signed_bits - input_integer_bits)
    return numerator >> input_left_shift


def activation_input_rescaling(input_scale: float, input_integer_bits: int) -> tuple[int, int, int]:
    """TFLM's int8 LOGISTIC / TANH rescaling of ``q - zp`` to Q(I).(31-I) (I = 4).

    ::

        m, e = frexp(f64(s_in) * 2**(31 - I))        # m in [0.5, 1)
        input_multiplier = round_half_away(m * 2**31)  # exact: s_in has 24 bits
        input_left_shift = e                           # used by MBQM: left if > 0
        input_range_radius = floor((2**I - 1) * 2**(31 - I) / 2**e)

    Returns ``(input_multiplier, input_left_shift, input_range_radius)``. Raises
    ValueError when ``e < 0`` (``s_in < 2**-(32 - I)``): upstream then shifts by a
    negative amount.

    Mirrors: ``CalculateArithmeticOpDataLogistic`` (micro/kernels/logistic_common.cc),
    ``CalculateArithmeticOpData`` (micro/kernels/tanh.cc).
    """
    real = float(np.float32(input_scale)) * float(1 << (31 - input_integer_bits))
    mantissa, exponent = math.frexp(real)
    multiplier = int(round_half_away(mantissa * 2.0**31))
    assert multiplier < 2**31, "a float32 scale has 24 significant bits"
    radius = calculate_input_radius(input_integer_bits, exponent, 31)
    return multiplier, exponent, radius


# --------------------------------------------------------------------------------------
# float32 elementary functions shared by the LUT kernels (LOGISTIC, TANH) and SOFTMAX
# --------------------------------------------------------------------------------------
def expf(x: np.ndarray) -> np.ndarray:
    """float32 ``exp`` exactly as glibc's ``expf`` (what ``std::exp(float)`` calls).

    See :mod:`refimpl.libm`: rounding the double ``exp`` once to float32 instead would
    disagree with glibc on ~6 in 10 000 arguments, by one ulp.
    """
    return libm.expf(x)


def tanhf(x: np.ndarray) -> np.ndarray:
    """float32 ``tanh`` rounded once from the double result (correctly rounded, nearly).

    glibc 2.36's ``tanhf`` (what LiteRT and TFLM call) is *not* correctly rounded: it
    differs from this by 1 ulp on ~17% and by 2 ulp on ~0.4% of random arguments.
    """
    return np.tanh(np.asarray(x, np.float32).astype(np.float64)).astype(np.float32)


def sigmoidf(x: np.ndarray) -> np.ndarray:
    """``1.0f / (1.0f + expf(-x))`` evaluated in float32 (the LiteRT LUT lambda)."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore"):
        return (np.float32(1) / (np.float32(1) + expf(-x))).astype(np.float32)


def lut_populate_int8(
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    transform: Callable[[np.ndarray], np.ndarray],
    dtype: np.dtype | type,
) -> np.ndarray:
    """The 256-entry table of LiteRT ``LUTPopulateInt8`` (all steps in float32).

    For every code ``q`` of ``dtype`` (int8 or uint8)::

        x   = fl32(s_in * float(q - zp_in))
        y   = transform(x)                         # float32 in, float32 out
        r   = roundf(fl32(y * fl32(1 / s_out)))    # half away from zero
        v   = int(fl32(r + zp_out))                # truncating float -> int32 cast
        lut[q - qmin] = clamp(v, qmin, qmax)

    A float too large for int32 converts to INT32_MIN (x86 ``cvttss2si``), as in C.
    Returns an int64 array of 256 values indexed by ``q - qmin``.
    """
    info = np.iinfo(dtype)
    q = np.arange(info.min, info.max + 1, dtype=np.int64)
    x = (np.float32(input_scale) * (q - input_zero_point).astype(np.float32)).astype(np.float32)
    y = np.asarray(transform(x), dtype=np.float32)
    inverse_scale = np.float32(np.float32(1) / np.float32(output_scale))
    with np.errstate(over="ignore", invalid="ignore"):
        rescaled = (y * inverse_scale).astype(np.float32)
        # roundf of a float32 is exact: round the (exact) double value half away.
        rounded = round_half_away(rescaled.astype(np.float64)).astype(np.float32)
        v = (rounded + np.float32(output_zero_point)).astype(np.float32)
        in_range = np.abs(v.astype(np.float64)) < 2.0**31  # NaN compares False
        as_int = np.where(in_range, np.trunc(np.where(in_range, v, 0)), INT32_MIN)
    return np.clip(as_int.astype(np.int64), info.min, info.max)



# --------------------------------------------------------------------------------------
# int16 lookup tables with linear interpolation (SOFTMAX int16)
# --------------------------------------------------------------------------------------
#: Entries of an int16 LUT: 512 segments over the int16 input range, plus the end point.
INT16_LUT_SIZE = 513


def exp_f64(x: np.ndarray) -> np.ndarray:
    """Double ``std::exp`` element by element through the C library (``math.exp``).

    NumPy's own float64 ``exp`` may use a SIMD implementation that rounds differently
    from glibc; ``math.exp`` calls the same libm ``exp`` the runtimes call.
    """
    return np.array([math.exp(v) for v in np.asarray(x, np.float64).reshape(-1)],
                    np.float64).reshape(np.shape(x))


def lut_populate_int16(
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    transform: Callable[[np.ndarray], np.ndarray],
    float_type: type,
) -> np.ndarray:
    """The 513-entry table of ``detail::LUTPopulateInt16<FloatT>`` (internal/common.h).

    Every operation is evaluated in ``float_type`` (``np.float64`` for LiteRT's
    deprecated double overload, ``np.float32`` for the float one TFLM uses), rounding
    after each step, ``round`` = half away from zero::

        in_min  = s_in  * (-32768 - zp_in);   in_max  = s_in  * (32767 - zp_in)
        out_min = s_out * (-32768 - zp_out);  out_max = s_out * (32767 - zp_out)
        step = (in_max - in_min) / 512;  half = step / 2
        inv  = 65536 / (out_max - out_min)
        for i < 512:
            v  = f(in_min + i*step);  vm = f(in_min + i*step + half)
            vn = f(in_min + (i+1)*step)
            sample = round(v * inv)
            interp = round((vn * inv + round(v * inv)) / 2)   # midpoint of the segment
            bias   = round((interp - round(vm * inv)) / 2)    # half its error, pre-corrected
            lut[i] = clamp(sample - bias, -32768, 32767)
        lut[512] = clamp(round(f(in_max) * inv), -32768, 32767)

    ``transform`` takes and returns arrays of ``float_type``. Returns int64 values.
    """
    ft = np.dtype(float_type).type
    s_in, s_out = ft(input_scale), ft(output_scale)
    in_min = ft(s_in * ft(-32768 - input_zero_point))
    in_max = ft(s_in * ft(32767 - input_zero_point))
    out_min = ft(s_out * ft(-32768 - output_zero_point))
    out_max = ft(s_out * ft(32767 - output_zero_point))
    step = ft(ft(in_max - in_min) / ft(512))
    half_step = ft(step / ft(2))
    inv = ft(ft(65536) / ft(out_max - out_min))
    i = np.arange(512).astype(ft)
    start = (in_min + (i * step).astype(ft)).astype(ft)
    val = np.asarray(transform(start), ft)
    val_mid = np.asarray(transform((start + half_step).astype(ft)), ft)
    val_next = np.asarray(transform((in_min + ((i + ft(1)) * step).astype(ft)).astype(ft)), ft)

    def rnd(v: np.ndarray) -> np.ndarray:  # TfLiteRound: half away from zero, same type
        return round_half_away(np.asarray(v, ft).astype(np.float64)).astype(ft)

    sample = rnd(val * inv)
    interp = rnd(((val_next * inv).astype(ft) + sample).astype(ft) / ft(2))
    err = (interp - rnd(val_mid * inv)).astype(ft)
    bias = rnd(err / ft(2))
    lut = np.empty(INT16_LUT_SIZE, np.int64)
    lut[:512] = np.clip((sample - bias).astype(ft), -32768, 32767).astype(np.int64)
    last = rnd(np.asarray(transform(np.array([in_max], ft)), ft) * inv)
    lut[512] = int(np.clip(last, -32768, 32767)[0])
    return lut


def lut_lookup_int16(value: np.ndarray, lut: np.ndarray) -> I64Array:
    """``LUTLookup(int16, lut)``: table lookup with 7-bit linear interpolation.

    ::

        index = 256 + (v >> 7);  offset = v & 127          # 9 high bits, 7 low bits
        slope = int16(lut[index + 1] - lut[index])
        out   = int16(lut[index] + ((slope * offset + 64) >> 7))   # half up
    """
    v = raw(value)
    index = 256 + (v >> 7)
    offset = v & 0x7F
    base = lut[index]
    slope = ((lut[index + 1] - base + 32768) & 0xFFFF) - 32768  # int16 variable
    return ((base + ((slope * offset + 64) >> 7) + 32768) & 0xFFFF) - 32768


# --------------------------------------------------------------------------------------
# 16-bit gemmlowp fixed point (LiteRT's integer LSTM gates)
# --------------------------------------------------------------------------------------
# The same algorithms as above with int16 raws: a Q(I) value is ``raw * 2**-(15 - I)``.
# Differences from the 32-bit code, all from gemmlowp's scalar int16 specialisations:
# products round with a 15-bit SRDHM, ``+`` / ``-`` wrap in int16 except the final
# addition of the exp Taylor step (``AddSaturatingIf16Bit``), and every constant is
# the 32-bit raw literal rounded by ``RoundingDivideByPOT(raw, 16)``
# (``RescaleConstantInitializer``), e.g. exp(-16) = 242 becomes 0.
INT16_MIN = -(2**15)
INT16_MAX = 2**15 - 1


def wrap16(x: np.ndarray | int) -> I64Array:
    """Reduce to int16 two's complement (C's ``static_cast<int16_t>`` of an int)."""
    return ((raw(x) + 2**15) & 0xFFFF) - 2**15


def sat16(x: np.ndarray | int) -> I64Array:
    """Clamp to [-32768, 32767]."""
    return np.clip(raw(x), INT16_MIN, INT16_MAX)


def srdhm16(a: np.ndarray | int, b: np.ndarray | int) -> I64Array:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` on int16: ``floor((a*b + 2**14) / 2**15)``.

    Rounds half up (gemmlowp's sign-dependent nudge plus truncating division is the same
    thing); ``-32768 * -32768`` saturates to 32767.
    """
    a, b = raw(a), raw(b)
    r = (a * b + (1 << 14)) >> 15
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, r)


def constant16(raw32: int) -> int:
    """A gemmlowp constant given as a 32-bit raw, as the int16 code sees it.

    ``RoundingDivideByPOT(raw32, 16)`` (half away from zero), then int16.
    """
    return int(rounding_divide_by_pot(np.int64(raw32), 16))


def _shift16(x: np.ndarray | int, exponent: int) -> I64Array:
    """``SaturatingRoundingMultiplyByPOT<exponent>`` on int16 raws.

    ``exponent > 0``: left shift saturating when ``x > 2**(15-e) - 1`` (to 32767) or
    ``x < -(2**(15-e) - 1)`` (to -32768); ``< 0``: rounding divide, half away from zero.
    """
    x = raw(x)
    if exponent > 0:
        threshold = (1 << (15 - exponent)) - 1
        return np.where(x > threshold, INT16_MAX,
                        np.where(x < -threshold, INT16_MIN, x << exponent))
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    return x


def one16(integer_bits: int) -> int:
    """Raw 1.0 in an int16 Q(I): 32767 for I = 0, else ``2**(15 - I)``."""
    return INT16_MAX if integer_bits == 0 else 1 << (15 - integer_bits)


def _exp_quarter16(a: np.ndarray) -> I64Array:
    """``exp(a)`` for ``a`` in [-1/4, 0), int16 Q0.15 (see the 32-bit version)."""
    c = constant16(EXP_MINUS_ONE_EIGHTH_Q0)
    x = wrap16(a + (1 << 12))  # a + 1/8
    x2 = srdhm16(x, x)
    x3 = srdhm16(x2, x)
    x4 = srdhm16(x2, x2)
    inner = wrap16(srdhm16(wrap16(_shift16(x4, -2) + x3), constant16(ONE_THIRD_Q0)) + x2)
    poly = _shift16(inner, -1)
    return sat16(c + srdhm16(c, wrap16(x + poly)))  # AddSaturatingIf16Bit


def exp_on_negative_values16(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """``exp(a)`` for ``a <= 0`` in int16 Q(I); result int16 Q0.15.

    Same steps as :func:`exp_on_negative_values` with 15 - I fractional bits; the
    barrel-shifter multipliers are the int16 constants (exp(-16) rounds to 0), and the
    clamp below -32 applies for I > 5.
    """
    a = raw(a)
    frac_bits = 15 - integer_bits
    quarter = 1 << (frac_bits - 2)
    a_mod = wrap16((a & (quarter - 1)) - quarter)
    result = _exp_quarter16(_shift16(a_mod, integer_bits))  # rescale Q(I) -> Q0
    remainder = wrap16(a_mod - a)
    for k, multiplier in EXP_OF_MINUS_POWERS_OF_TWO_Q0:
        if integer_bits > k:
            bit = 1 << (frac_bits + k)
            result = np.where((remainder & bit) != 0,
                              srdhm16(result, constant16(multiplier)), result)
    if integer_bits > 5:
        result = np.where(a < constant16(-(1 << (36 - integer_bits))), 0, result)
    return np.where(a == 0, INT16_MAX, result)


def _newton16(a: np.ndarray) -> I64Array:
    """``2 / (1 + a)`` in int16 Q2.13 for ``a`` in Q0.15 (three Newton-Raphson steps)."""
    h = rounding_half_sum(a, INT16_MAX)  # (1 + a) / 2, fits int16
    x = wrap16(constant16(FORTY_EIGHT_OVER_SEVENTEEN_Q2)
               + srdhm16(h, constant16(MINUS_THIRTY_TWO_OVER_SEVENTEEN_Q2)))
    for _ in range(3):
        one_minus_hx = wrap16(one16(2) - srdhm16(h, x))
        x = wrap16(x + _shift16(srdhm16(x, one_minus_hx), 2))  # Q4 -> Q2
    return x


def logistic16(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """gemmlowp ``logistic`` on int16: Q(I) in, Q0.15 out.

    ::

        p = one_over_one_plus_x(exp_on_negative_values(-|a|))   # Newton, Q2.13 -> Q0.15
        a > 0: p;  a < 0: 32767 - p (wrapping);  a == 0: 16384

    Mirrors: gemmlowp ``logistic<int16_t, I>``, as LiteRT's
    ``PortableApplySigmoid`` calls it with I = 3 (portable_tensor_utils.cc).
    """
    a = raw(a)
    positive = a > 0
    abs_a = np.where(positive, a, wrap16(-a))
    e = exp_on_negative_values16(wrap16(-abs_a), integer_bits)
    p = _shift16(_newton16(e), 1)  # Q2.13 read as Q1.14, rescaled to Q0.15
    result = np.where(positive, p, wrap16(INT16_MAX - p))
    return np.where(a == 0, constant16(1 << 30), result)


def tanh16(a: np.ndarray | int, integer_bits: int) -> I64Array:
    """gemmlowp ``tanh`` on int16: Q(I) in, Q0.15 out.

    ``t = (1 - e) / (1 + e)`` with ``e = exp(-2|a|)`` (the raw of ``-|a|`` read as
    Q(I+1)); ``a < 0: -t``; ``a == 0: 0``.

    Mirrors: gemmlowp ``tanh<int16_t, I>`` (``PortableApplyTanh``, I = 0..6).
    """
    a = raw(a)
    negative = a < 0
    n = np.where(negative, a, wrap16(-a))
    e = exp_on_negative_values16(n, integer_bits + 1)
    t = _shift16(wrap16(_newton16(e) - one16(2)), 2)
    return np.where(a == 0, 0, np.where(negative, wrap16(-t), t))


# --------------------------------------------------------------------------------------
# int16 LOGISTIC / TANH (LiteRT reference and TFLM; TFLM's LSTM gates): a 256-entry
# table with linear interpolation
# --------------------------------------------------------------------------------------
#: ``sigmoid(i / 24)`` in unsigned 0.16 fixed point, i = 0..255, as tabulated in
#: tensorflow/lite/kernels/internal/common.h (``sigmoid_table_uint16``). The entries are
#: data, not a formula: rounding the exact sigmoid reproduces 212 of them and is one
#: below the table for the other 44 (tests/test_fixedpoint.py checks the bound).
SIGMOID_TABLE_UINT16 = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498,
    40149, 40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255,
    46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865,
    52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174,
    56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288,
    59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441,
    61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886,
    62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835,
    63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450,
    64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845,
    64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097,
    65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
    65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508,
    65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517, 65517, 65518,
    65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525,
    65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529,
    65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531,
    65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533,
    65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65535], dtype=np.int64)


def _lut_input16(x: np.ndarray, multiplier: int, shift: int) -> I64Array:
    """The int16 LUT kernels' input rescaling: ``(x * m + round) >> shift`` (half up).

    ``multiplier == 0`` means a power-of-two input scale: ``m = 3 << shift``, no shift.
    The factor 3 turns a Q3.12 value into units of 1/1536: the table's step 1/24 is
    then 512 units (sigmoid) and 256 units of ``2x`` (tanh).
    """
    if multiplier == 0:
        multiplier, shift = 3 << shift, 0
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    # int32 arithmetic in C: only a huge multiplier (input scale above ~2.7) can wrap
    return wrap32(raw(x) * multiplier + rounding) >> shift


def sigmoid_lut16(x: np.ndarray, multiplier: int = 0, shift: int = 0) -> I64Array:
    """TFLM int16 ``Logistic``: Q3.12 input (after rescaling), Q0.15 output.

    ::

        v = (x * multiplier + round) >> shift        # with multiplier 0: v = 3x * 2**shift
        u = |v|;  i = u >> 9;  frac = u & 511        # table step 1/24 <-> 512 units of v
        r = i >= 255 ? 0x7FFF << 10
                     : (T[i] << 9) + frac * (T[i+1] - T[i])       # 0.25 fixed point
        r = v >= 0 ? r + 2**9 : 2**25 - r + 2**9 - 1              # sigmoid(-x) = 1 - s
        out = r >> 10                                              # uint32 shift

    Mirrors: ``reference_integer_ops::Logistic(int32, int32, int32, const int16_t*,
    int16_t*)`` (internal/reference/integer_ops/logistic.h).
    """
    v = _lut_input16(x, multiplier, shift)
    u = np.abs(v)
    i = u >> 9
    idx = np.minimum(i, 254)
    lo, hi = SIGMOID_TABLE_UINT16[idx], SIGMOID_TABLE_UINT16[idx + 1]
    r = np.where(i >= 255, 0x7FFF << 10, (lo << 9) + (u & 0x1FF) * (hi - lo))
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return r >> 10


def tanh_lut16(x: np.ndarray, multiplier: int = 0, shift: int = 0) -> I64Array:
    """TFLM int16 ``Tanh`` via ``tanh(x) = 2 sigmoid(2x) - 1``: Q0.15 output.

    ::

        v = (x * multiplier + round) >> shift
        u = |v|;  i = u >> 8;  frac = u & 255
        r = i >= 255 ? 0xFFFF << 8 : (T[i] << 8) + frac * (T[i+1] - T[i])
        r = v >= 0 ? r - 2**23 + 2**7 : -r + 2**23 + 2**7 - 1     # int32
        out = r >> 8                                                # arithmetic shift

    Mirrors: ``reference_integer_ops::Tanh(int32, int32, const RuntimeShape&, const
    int16_t*, ...)`` (internal/reference/integer_ops/tanh.h).
    """
    v = _lut_input16(x, multiplier, shift)
    u = np.abs(v)
    i = u >> 8
    idx = np.minimum(i, 254)
    lo, hi = SIGMOID_TABLE_UINT16[idx], SIGMOID_TABLE_UINT16[idx + 1]
    r = np.where(i >= 255, 0xFFFF << 8, (lo << 8) + (u & 0xFF) * (hi - lo))
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return r >> 8


# --------------------------------------------------------------------------------------
# int16 LOGISTIC / TANH Prepare (both runtimes): the input rescaling for the table above
# --------------------------------------------------------------------------------------
def int16_activation_input_rescaling(input_scale: float, tanh: bool) -> tuple[int, int]:
    """``(input_multiplier, input_left_shift)`` of the int16 LOGISTIC / TANH Prepare.

    Power-of-two case: ``s_in = 2**e`` (``CheckedLog2``) with ``12 + e == 0`` (tanh:
    ``0`` or ``1``): multiplier 0 and shift ``12 + e`` (the kernel uses ``3 << shift``).
    Otherwise, in double, the scale is brought to ``1/(3*4096)`` units::

        m = f64(s_in) * 4096 * 3;  shift = 0
        while m <= 32767/2 and shift <= 30: m *= 2; shift += 1
        input_multiplier = int(m)       # truncation

    Mirrors: ``SigmoidPrepare`` / ``TanhPrepare`` (tflite/kernels/activations.cc),
    ``CalculateArithmeticOpDataLogistic`` (micro/kernels/logistic_common.cc),
    ``CalculateArithmeticOpData`` (micro/kernels/tanh.cc).
    """
    is_pot, log2 = checked_log2(input_scale)
    shift = 12 + log2
    if is_pot and (shift == 0 or (tanh and shift == 1)):
        return 0, shift
    m = float(np.float32(input_scale)) * 4096.0 * 3.0
    shift = 0
    while m <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        m *= 2.0
    return int(m), shift


# --------------------------------------------------------------------------------------
# Integer layer normalization of LiteRT's int8 LSTM
# --------------------------------------------------------------------------------------
def inv_sqrt_quantized_multiplier_exp(x: np.ndarray, reverse_shift: int
                                      ) -> tuple[I64Array, I64Array]:
    """TFLite ``GetInvSqrtQuantizedMultiplierExp``: ``1/sqrt(x)`` as (Q0.31 multiplier, shift).

    For int32 ``x > 1`` (``x <= 1`` gives ``(INT32_MAX, 0)``)::

        shift = 11;  while x >= 2**29: x /= 4, shift += 1
        p = (clz32(x) - 1) / 2 - 1;  shift -= p;  x <<= 2p        # x in [2**27, 2**29)
        h = RDBPOT(x >> 1, 1)                       # x/2 in Q3.28
        y = 1.0 (Q3.28); 5 times: y = sat<<3(1.5*y - h * sat<<6(y*y*y))    (SRDHM products)
        m = SRDHM(y, sqrt(2)/2);  if shift < 0: m <<= -shift, shift = 0
        return m, shift * reverse_shift

    Element-wise on an int64 array of int32 values.
    """
    x = raw(x)
    small = x <= 1
    v = np.where(small, 2, x)
    shift = np.full(v.shape, 11, np.int64)
    for _ in range(2):  # an int32 is below 2**29 after at most two divisions by 4
        big = v >= (1 << 29)
        v = np.where(big, v // 4, v)  # v > 0: floor division is C's
        shift = shift + big
    pairs = (count_leading_zeros_u32(v) - 1) // 2 - 1
    shift = shift - pairs
    v = v << (2 * pairs)
    half_input = rounding_divide_by_pot(v >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    y = np.full(v.shape, 1 << 28, np.int64)
    for _ in range(5):
        y3 = saturating_shift_left(mul(mul(y, y), y), 6)  # Q9 -> Q3
        y = saturating_shift_left(sub(mul(half_three, y), mul(half_input, y3)), 3)  # Q6 -> Q3
    m = mul(y, 1518500250)  # sqrt(2)/2 in Q0.31
    m = np.where(shift < 0, wrap32(m << np.maximum(-shift, 0)), m)
    shift = np.maximum(shift, 0)
    return np.where(small, INT32_MAX, m), np.where(small, 0, shift * reverse_shift)


def layer_norm_int16(x: np.ndarray, weights: np.ndarray, bias: np.ndarray, scale_multiplier: int,
                     scale_shift: int, variance_limit: int) -> I64Array:
    """LiteRT ``PortableApplyLayerNorm`` on int16 rows ``x [B, n]`` (Q3.12 gate values).

    Per row, all in integers (``/`` truncates toward zero as in C)::

        mean = sum(x) * 1024 / n                       (int64, then int32)
        var  = (sum(x*x) * (2**20 / n) - mean**2) / 2**20;  var < 1: var = variance_limit
        (m, s) = inv_sqrt_quantized_multiplier_exp(var, -1)
        r  = MBQM(1024 x - mean, m, s)
        v  = wrap32(r * w + b);  v = (v +- 512) / 1024   (rounded half away from zero)
        out = sat16(MBQM(v, scale_multiplier, scale_shift + 12))

    (``2**20 / n`` is exact only for power-of-two ``n``; upstream's own TODO says so.)
    """
    from .arithmetic import multiply_by_quantized_multiplier as mbqm

    x = raw(x)
    n = x.shape[-1]
    total = x.sum(axis=-1)
    mean = _c_div(total * 1024, n)
    variance = (x * x).sum(axis=-1) * ((1 << 20) // n) - mean * mean
    variance2 = wrap32(_c_div(variance, 1 << 20))
    variance2 = np.where(variance2 < 1, variance_limit, variance2)
    m, s = inv_sqrt_quantized_multiplier_exp(variance2, -1)
    rescaled = mbqm(wrap32(1024 * x - mean[..., None]), m[..., None], s[..., None])
    v = wrap32(rescaled * raw(weights) + raw(bias))
    v = _c_div(np.where(v > 0, v + 512, v - 512), 1024)
    out = mbqm(v, scale_multiplier, scale_shift + 12)
    return np.clip(out, -(2**15), 2**15 - 1)


def _c_div(a: np.ndarray, b: int) -> I64Array:
    """C integer division (truncation toward zero) of int64 values by a positive int."""
    a = raw(a)
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


# --------------------------------------------------------------------------------------
# float32 functions as LiteRT's Eigen (SSE, no FMA) and glibc evaluate them
# --------------------------------------------------------------------------------------
_F32 = np.float32


def eigen_tanh_f32(x: np.ndarray) -> np.ndarray:
    """Eigen ``ptanh_float`` without FMA: the [9/8] odd/even rational approximation.

    ::

        x  = clamp(x, -7.90738964080810547, 7.90738964080810547)
        p  = ((a0 x^2 + a1) x^2 + a2) x^2 + a3            (a: 1.394553628e-8 ...)
        q  = (((b0 x^2 + b1) x^2 + b2) x^2 + b3) x^2 + 1  (b: 8.015776984e-7 ...)
        tanh = (x^3 p + x) / q                           every step rounded to float32

    Packets and Eigen's scalar path compute the same. (With FMA the clamp is 8.0177 and
    the products fuse; LiteRT's x86 wheel uses neither: checked on 1M arguments.)
    """
    f = _F32
    v = np.maximum(np.minimum(np.asarray(x, f), f(7.90738964080810547)), f(-7.90738964080810547))
    x2 = (v * v).astype(f)
    x3 = (x2 * v).astype(f)
    p = f(1.394553628e-8)
    for a in (2.102733560e-5, 3.520756727e-3, 1.340216100e-1):
        p = (p * x2 + f(a)).astype(f)
    q = f(8.015776984e-7)
    for b in (3.326951409e-4, 2.597254514e-2, 4.673548340e-1, 1.0):
        q = (q * x2 + f(b)).astype(f)
    return ((x3 * p + v).astype(f) / q).astype(f)


def eigen_logistic_f32(x: np.ndarray) -> np.ndarray:
    """Eigen ``scalar_logistic_op<float>::packetOp`` without FMA (what SSE packets compute).

    ::

        x = min(x, 16.6355324) / 2                  # exp(x) = exp(x/2)^2
        m = floor(x * log2(e) + 1/2);  r = (x - m * 0.693359375) + m * 2.12194440e-4
        p = 1 + r + r^2 (p2 + p4 r^2 + r (p3 + p5 r^2))    (degree-5 minimax, float32)
        e = (p * 2**m)^2;   logistic = e / (1 + e);   x < -104: 0
    """
    f = _F32
    x = np.asarray(x, f)
    v = (np.minimum(x, f(16.6355324)) * f(0.5)).astype(f)
    m = np.floor((v * f(1.44269504088896341)).astype(f) + f(0.5)).astype(f)
    r = (m * f(-0.693359375) + v).astype(f)
    r = (m * f(2.12194440e-4) + r).astype(f)
    r2 = (r * r).astype(f)
    p_even = (r2 * f(4.1898667812347412109375e-2) + f(0.49999141693115234375)).astype(f)
    p_odd = (r2 * f(8.33471305668354034423828125e-3) + f(0.16666877269744873046875)).astype(f)
    p = (r * p_odd + p_even).astype(f)
    p = (r2 * p + (r + f(1)).astype(f)).astype(f)
    e = (p * np.ldexp(f(1), m.astype(np.int32))).astype(f)  # 2**m is exact here
    e = (e * e).astype(f)
    with np.errstate(invalid="ignore"):
        out = (e / (f(1) + e)).astype(f)
    return np.where(x < f(-104), f(0), out)


def eigen_logistic_scalar_f32(x: np.ndarray) -> np.ndarray:
    """Eigen's scalar ``scalar_logistic_op<float>``: ``e = expf(min(x, 16.6355324)); e/(1+e)``.

    Used for the elements of a vector that do not fill a whole packet.
    """
    f = _F32
    with np.errstate(over="ignore", invalid="ignore"):
        e = expf(np.minimum(np.asarray(x, f), f(16.6355324)))
        return (e / (f(1) + e)).astype(f)


def _f32_bits(x: np.ndarray) -> I64Array:
    return np.asarray(x, np.float32).view(np.int32).astype(np.int64)


def _f32_from_bits(b: np.ndarray) -> np.ndarray:
    return np.asarray(b, np.int64).astype(np.uint32).view(np.float32)


def _times_pow2_f32(y: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``y * 2**k`` by adding ``k`` to the exponent field (fdlibm's SET_FLOAT_WORD trick)."""
    return _f32_from_bits(_f32_bits(y) + (raw(k) << 23))


def expm1f_glibc(x: np.ndarray) -> np.ndarray:
    """glibc's ``expm1f`` (the Sun fdlibm algorithm in float32), for |x| < 88.

    Reduction ``x = k ln2 + r`` (``ln2 = ln2_hi + ln2_lo``, with a correction ``c``),
    ``expm1(r)`` by a rational approximation with the 5 coefficients Q1..Q5 in
    ``hxs = r^2/2``, then reassembly depending on ``k`` (0, +-1, 2..22, 23..56, else),
    multiplying by ``2**k`` through the exponent bits. Every operation in float32,
    no FMA. Branches are evaluated for all elements and selected.
    """
    f = _F32
    x = np.asarray(x, f)
    one, half = f(1), f(0.5)
    ln2_hi, ln2_lo, inv_ln2 = f(6.9313812256e-01), f(9.0580006145e-06), f(1.4426950216e+00)
    hx = _f32_bits(x) & 0x7FFFFFFF
    neg = x < 0
    sign = np.where(neg, f(-1), f(1))
    reduce = hx > 0x3EB17218  # |x| > ln2 / 2
    near = reduce & (hx < 0x3F851592)  # |x| < 3 ln2 / 2: k = +-1
    k_far = np.trunc(np.where(reduce & ~near, ((inv_ln2 * x).astype(f) + sign * half)
                              .astype(f), 0)).astype(np.int64)
    k = np.where(near, np.where(neg, -1, 1), np.where(reduce, k_far, 0))
    t = k_far.astype(f)
    hi = np.where(near, (x - sign * ln2_hi).astype(f), (x - (t * ln2_hi).astype(f)).astype(f))
    lo = np.where(near, sign * ln2_lo, (t * ln2_lo).astype(f))
    r = np.where(reduce, (hi - lo).astype(f), x)
    c = np.where(reduce, ((hi - r).astype(f) - lo).astype(f), f(0))
    hfx = (half * r).astype(f)
    hxs = (r * hfx).astype(f)
    poly = f(-2.0109921195e-07)
    for q in (4.0082177293e-06, -7.9365076090e-05, 1.5873016091e-03, -3.3333335072e-02):
        poly = (f(q) + (hxs * poly).astype(f)).astype(f)
    r1 = (one + (hxs * poly).astype(f)).astype(f)
    t3 = (f(3) - (r1 * hfx).astype(f)).astype(f)
    e = (hxs * ((r1 - t3).astype(f) / (f(6) - (r * t3).astype(f))).astype(f)).astype(f)
    out_k0 = (r - ((r * e).astype(f) - hxs).astype(f)).astype(f)
    e = (((r * (e - c).astype(f)).astype(f) - c).astype(f) - hxs).astype(f)
    out_m1 = ((half * (r - e).astype(f)).astype(f) - half).astype(f)
    out_p1 = np.where(r < f(-0.25), (f(-2) * (e - (r + half).astype(f)).astype(f)).astype(f),
                      (one + (f(2) * (r - e).astype(f)).astype(f)).astype(f))
    kc = np.clip(k, -126, 127)
    out_far = (_times_pow2_f32((one - (e - r).astype(f)).astype(f), kc) - one).astype(f)
    t_lo = _f32_from_bits(0x3F800000 - (0x1000000 >> np.clip(k, 0, 24)))  # 1 - 2**-k
    out_lo = _times_pow2_f32((t_lo - (e - r).astype(f)).astype(f), kc)
    t_hi = _f32_from_bits((0x7F - np.clip(k, 0, 127)) << 23)  # 2**-k
    out_hi = _times_pow2_f32(((r - (e + t_hi).astype(f)).astype(f) + one).astype(f), kc)
    out = np.where(k == 0, out_k0, np.where(k == -1, out_m1, np.where(k == 1, out_p1, np.where(
        (k <= -2) | (k > 56), out_far, np.where(k < 23, out_lo, out_hi)))))
    out = np.where(hx < 0x33000000, x, out)  # |x| < 2**-25: x
    return np.where(neg & (hx >= 0x4195B844), f(-1), out).astype(f)  # x < -27 ln2: -1


def tanhf_glibc(x: np.ndarray) -> np.ndarray:
    """glibc's ``tanhf`` (what ``std::tanh(float)`` calls on this machine, glibc 2.36).

    ::

        |x| >= 22: +-1;   |x| < 2**-55: x (1 + x)
        |x| >= 1 : t = expm1f(2|x|);  1 - 2 / (t + 2)
        else     : t = expm1f(-2|x|); -t / (t + 2)          sign of x restored

    Not correctly rounded (:func:`tanhf` is): they differ by 1-2 ulp on ~17% of
    arguments. tests/test_fixedpoint.py compares with the C library through ctypes.
    """
    f = _F32
    x = np.asarray(x, f)
    ax = np.abs(x)
    ix = _f32_bits(x) & 0x7FFFFFFF
    large = ix >= 0x3F800000
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t = expm1f_glibc(np.where(ix < 0x41B00000, np.where(large, f(2) * ax, f(-2) * ax), f(0)))
        z = np.where(large, (f(1) - (f(2) / (t + f(2))).astype(f)).astype(f),
                     (-t / (t + f(2))).astype(f))
    z = np.where(ix < 0x24000000, (ax * (f(1) + ax)).astype(f), z)
    z = np.where(ix >= 0x41B00000, f(1), z)
    z = np.where(np.isnan(x), x, z)
    return np.where(x < 0, -z, z).astype(f)


# --------------------------------------------------------------------------------------
# float32 matrix products in the summation orders of TFLM's loops and LiteRT's Eigen
# --------------------------------------------------------------------------------------
# ``x [B, K] @ w [K, N]`` with every product and every sum rounded to float32 (no FMA),
# evaluated for all B x N outputs at once with one accumulator array per partial sum.
# Eigen's orders are those of the x86 LiteRT wheel (SSE, 4-float packets), checked
# against LiteRT's optimized float FULLY_CONNECTED and LSTM, and a C++ build of the same
# Eigen (tests/kernels/test_unidirectional_sequence_lstm.py, compare/dev_check_lstm.py).
EIGEN_PACKET_FLOATS = 4


def matmul_f32_in_order(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sum over k = 0, 1, ... (TFLM ``reference_ops::FullyConnected``; Eigen's blocked
    GEMM per output while K stays below its cache-dependent depth block)."""
    acc = np.zeros((x.shape[0], w.shape[1]), np.float32)
    for k in range(w.shape[0]):
        acc += x[:, k:k + 1] * w[k]
    return acc


def _lanes_f32(x: np.ndarray, w: np.ndarray, ks: range) -> list[np.ndarray]:
    """Four packet lanes: lane l sums ``x[:, k] * w[k]`` over the k of ``ks`` with k % 4 = l."""
    lanes = [np.zeros((x.shape[0], w.shape[1]), np.float32) for _ in range(EIGEN_PACKET_FLOATS)]
    for k in ks:
        lanes[k % EIGEN_PACKET_FLOATS] += x[:, k:k + 1] * w[k]
    return lanes


def _packet_f32(x: np.ndarray, w: np.ndarray, j: int) -> list[np.ndarray]:
    return _lanes_f32(x, w, range(j * EIGEN_PACKET_FLOATS, (j + 1) * EIGEN_PACKET_FLOATS))


def _add_lanes_f32(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    return [u + v for u, v in zip(a, b)]


def _predux_and_tail_f32(lanes: list[np.ndarray], x: np.ndarray, w: np.ndarray,
                         start: int) -> np.ndarray:
    """SSE ``predux`` ``(l0 + l2) + (l1 + l3)``, then ``+ x[:, k] w[k]`` for k >= start."""
    acc = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
    for k in range(start, w.shape[0]):
        acc += x[:, k:k + 1] * w[k]
    return acc


def eigen_gemv_f32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eigen's row-major GEMV (``general_matrix_vector_product<..., RowMajor, ...>``).

    Per output: four lane sums over the whole packets (lane l: k = l, l+4, ...),
    ``predux``, then the last ``K mod 4`` products one by one.
    """
    full = w.shape[0] - w.shape[0] % EIGEN_PACKET_FLOATS
    return _predux_and_tail_f32(_lanes_f32(x, w, range(full)), x, w, full)


def eigen_dot_f32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eigen's ``inner_product_impl`` (a 1 x K times K x 1 product): 4 packet accumulators.

    Packet j goes to accumulator j mod 4; then ``a2 += a3``, ``a1 += a2``, ``a0 += a1``
    (each only when that many packets exist), ``predux`` and the ``K mod 4`` last
    products. Below one packet: in order.
    """
    n = w.shape[0] // EIGEN_PACKET_FLOATS
    if n == 0:
        return matmul_f32_in_order(x, w)
    acc = [_packet_f32(x, w, j) for j in range(min(n, 4))]
    for j in range(4, n):
        acc[j % 4] = _add_lanes_f32(acc[j % 4], _packet_f32(x, w, j))
    for hi in (3, 2, 1):
        if n > hi:
            acc[hi - 1] = _add_lanes_f32(acc[hi - 1], acc[hi])
    return _predux_and_tail_f32(acc[0], x, w, n * EIGEN_PACKET_FLOATS)


def eigen_lazy_product_f32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eigen's coefficient-based product (a small GEMM): one ``redux`` sum per output.

    Packets 0 and 1 start two accumulators, later packets add to them alternately up to
    the last even count, the two are added, an unpaired last packet is added, then
    ``predux`` and the ``K mod 4`` last products (``redux_impl<...,
    LinearVectorizedTraversal, NoUnrolling>``). Below one packet: in order.
    """
    n = w.shape[0] // EIGEN_PACKET_FLOATS
    if n == 0:
        return matmul_f32_in_order(x, w)
    paired = n // 2 * 2
    acc = [_packet_f32(x, w, j) for j in range(min(n, 2))]
    for j in range(2, paired):
        acc[j % 2] = _add_lanes_f32(acc[j % 2], _packet_f32(x, w, j))
    if n > 1:
        acc[0] = _add_lanes_f32(acc[0], acc[1])
        if n > paired:
            acc[0] = _add_lanes_f32(acc[0], _packet_f32(x, w, paired))
    return _predux_and_tail_f32(acc[0], x, w, n * EIGEN_PACKET_FLOATS)


def eigen_product_f32(x: np.ndarray, w: np.ndarray, calls_per_row: bool) -> np.ndarray:
    """``x @ w`` as LiteRT's ``cpu_backend_gemm`` (float, no ruy) computes it on x86.

    ``calls_per_row``: one Gemm call per row of ``x`` (B = 1 per call), else one call for
    all B rows. Eigen (``cpu_backend_gemm_eigen.cc`` and Eigen's product dispatch), with
    ``K, R = w.shape``::

        B == 1: R == 1 -> dot product, else GEMV
        B > 1 : R == 1 -> GEMV (a row vector times a matrix)
                K + R + B < 20 -> coefficient-based product (EIGEN_GEMM_TO_COEFFBASED_THRESHOLD)
                else -> blocked GEMM, in order (verified for K <= 600; deeper products
                        are split by a cache-dependent depth block and differ)
    """
    cols = 1 if calls_per_row else x.shape[0]
    depth, rows = w.shape
    if cols == 1:
        return eigen_dot_f32(x, w) if rows == 1 else eigen_gemv_f32(x, w)
    if rows == 1:
        return eigen_gemv_f32(x, w)
    if depth + rows + cols < 20:
        return eigen_lazy_product_f32(x, w)
    return matmul_f32_in_order(x, w)
