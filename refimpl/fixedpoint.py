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

