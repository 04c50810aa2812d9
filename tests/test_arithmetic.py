"""Quantization arithmetic against values worked out by hand.

Every expected value below is derived in the comment next to it from the definition of
the primitive (gemmlowp / TFLite semantics), not taken from refimpl's output.
"""

from __future__ import annotations

import numpy as np
import pytest

from refimpl import arithmetic as ar
from refimpl.flavors import Requant

I32MAX = 2**31 - 1
I32MIN = -(2**31)


# ---------------------------------------------------------------------------------------
# round_half_away
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "v, expected",
    [
        (2.5, 3.0),  # tie -> away from zero (np.round would give 2)
        (-2.5, -3.0),
        (0.5, 1.0),
        (-0.5, -1.0),
        (1.4999999999999998, 1.0),
        (0.49999999999999994, 0.0),  # floor(v + 0.5) wrongly gives 1.0 here
        (-0.49999999999999994, -0.0),
        (1e300, 1e300),
    ],
    ids=lambda x: repr(x),
)
def test_round_half_away_is_c_round(v, expected):
    assert ar.round_half_away(v) == expected


# ---------------------------------------------------------------------------------------
# quantize_multiplier
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "real, expected",
    [
        (0.0, (0, 0)),  # zero multiplier is special-cased
        (0.5, (2**30, 0)),  # frexp(0.5) = (0.5, 0); 0.5 * 2^31 = 2^30
        (1.0, (2**30, 1)),  # frexp(1) = (0.5, 1): a left shift of 1
        (0.75, (1610612736, 0)),  # 0.75 * 2^31
        (2.0**-32, (2**30, -31)),  # smallest exponent kept
        (2.0**-33, (0, 0)),  # exponent -32 < -31: flushed to zero
        (0.5 + 2.0**-32, (2**30 + 1, 0)),  # q*2^31 = 2^30 + 0.5, a tie: away from zero
        (1.0 - 2.0**-33, (2**30, 1)),  # q*2^31 = 2^31 - 0.25 rounds to 2^31: renormalised
        (3.0, (3 * 2**29, 2)),  # frexp(3) = (0.75, 2)
    ],
    ids=["zero", "half", "one", "0.75", "2^-32", "2^-33-flushed", "tie", "overflow", "three"],
)
def test_quantize_multiplier_hand_values(real, expected):
    assert ar.quantize_multiplier(real) == expected


def test_quantize_multiplier_array_matches_scalar():
    rng = np.random.default_rng(0)
    reals = np.concatenate(
        [rng.uniform(0, 4, 200), 2.0 ** rng.uniform(-40, 8, 200), [0.0, 2.0**-33, 0.5 + 2.0**-32]]
    )
    m, s = ar.quantize_multiplier_array(reals)
    for r, mi, si in zip(reals, m, s):
        assert (int(mi), int(si)) == ar.quantize_multiplier(float(r))


def test_quantize_multiplier_represents_the_real_value():
    rng = np.random.default_rng(1)
    for r in 2.0 ** rng.uniform(-30, 5, 500):
        m, s = ar.quantize_multiplier(float(r))
        assert 2**30 <= m < 2**31
        assert abs(m * 2.0 ** (s - 31) - r) <= r * 2.0**-31


# ---------------------------------------------------------------------------------------
# SRDHM and RDBPOT
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, expected",
    [
        (2**30, 2**30, 2**29),  # 2*2^60/2^32 = 2^29 exactly
        (2**15, 2**15, 1),  # 2*a*b/2^32 = 0.5: tie rounds up
        (-(2**15), 2**15, 0),  # -0.5: tie rounds up, to 0 (not away from zero)
        (-(2**15) - 1, 2**15, -1),  # -0.50002 -> -1
        (I32MIN, I32MIN, I32MAX),  # the one saturating case
        (I32MIN, I32MAX, I32MIN + 1),  # -(2^31 - 1) exactly
        (0, 12345, 0),
        (7, 0, 0),
    ],
    ids=["exact", "pos-tie", "neg-tie", "neg-past-tie", "saturate", "min*max", "zero-a", "zero-b"],
)
def test_srdhm_hand_values(a, b, expected):
    assert int(ar.saturating_rounding_doubling_high_mul(np.int64(a), b)) == expected


@pytest.mark.parametrize(
    "x, e, expected",
    [
        (5, 1, 3),  # 2.5 -> 3 (away from zero)
        (-5, 1, -3),  # -2.5 -> -3
        (3, 1, 2),  # 1.5 -> 2
        (-3, 1, -2),  # -1.5 -> -2
        (-6, 2, -2),  # -1.5 -> -2
        (-7, 2, -2),  # -1.75 -> -2
        (-5, 2, -1),  # -1.25 -> -1
        (4, 2, 1),
        (9, 0, 9),  # exponent 0: identity
        (-9, 0, -9),
        (2**30, 31, 1),  # 0.5 -> 1
        (-(2**30), 31, -1),  # -0.5 -> -1
        (I32MAX, 31, 1),
        (I32MIN, 31, -1),
    ],
)
def test_rounding_divide_by_pot_hand_values(x, e, expected):
    assert int(ar.rounding_divide_by_pot(np.int64(x), e)) == expected


def test_rounding_divide_by_pot_accepts_per_element_exponents():
    got = ar.rounding_divide_by_pot(np.array([5, 5, 5, -5]), np.array([0, 1, 2, 1]))
    assert got.tolist() == [5, 3, 1, -3]  # 5, 2.5->3, 1.25->1, -2.5->-3


# ---------------------------------------------------------------------------------------
# multiply_by_quantized_multiplier and its variants
# ---------------------------------------------------------------------------------------
HALF = 2**30  # Q0.31 multiplier meaning 0.5


@pytest.mark.parametrize(
    "x, m, shift, double, neon, int64",
    [
        # real multiplier 0.5 * 2^-1 = 0.25
        # x=10: srdhm = floor(5 + 0.5) = 5; then 5/2 = 2.5 -> 3 (away) | 3 (half up)
        # int64: m16 = (2^30 + 2^15) >> 16 = 16384, (10*16384 + 2^15) >> 16 = 3
        (10, HALF, -1, 3, 3, 3),
        # x=-10: srdhm = floor(-5 + 0.5) = -5; -2.5 -> -3 (away) | -2 (half up)
        # int64: (-163840 + 32768) >> 16 = -2
        (-10, HALF, -1, -3, -2, -2),
        # x=1: true 0.25, but srdhm(1, 2^30) = floor(0.5 + 0.5) = 1, then 1/2 = 0.5 -> 1:
        # double rounding gives 1 where a single rounding gives 0
        (1, HALF, -1, 1, 1, 0),
        # left shift: real 0.5 * 2^2 = 2; x=3: wrap32(3 << 2) = 12, srdhm(12, 2^30) = 6
        (3, HALF, 2, 6, 6, 6),
        # left shift that overflows int32: 2^30 << 2 = 2^32 wraps to 0 (double/neon)
        (2**30, HALF, 2, 0, 0, 2**31 - 2**32),
        # multiplier 0: everything is 0
        (123456, 0, 0, 0, 0, 0),
        # tiny multiplier 2^-32: x = INT32_MAX -> srdhm = 2^30, then / 2^31 = 0.5 -> 1;
        # int64: ts = 46, ((2^31-1) * 2^14 + 2^45) >> 46 = (2^46 - 2^14) >> 46 = 0
        (I32MAX, HALF, -31, 1, 1, 0),
    ],
    ids=["pos-tie", "neg-tie", "double-rounding", "left-shift", "wrap", "mult-0", "tiny"],
)
def test_mbqm_variants_hand_values(x, m, shift, double, neon, int64):
    xa = np.int64(x)
    assert int(ar.multiply_by_quantized_multiplier(xa, m, shift)) == double
    assert int(ar.multiply_by_quantized_multiplier_neon(xa, m, shift)) == neon
    if shift <= 7:
        # int64 variant: for x = 2^30, shift 2: m16 = 16384, ts = 13:
        # (2^30 * 2^14 + 2^12) >> 13 = 2^31, then wrapped to int32 -> -2^31
        assert int(ar.multiply_by_quantized_multiplier_int64(xa, m, shift)) == int64


def test_mbqm_int64_multiplier_is_cut_to_16_bits():
    # m >= 0x7FFF0000 -> m16 = 0x7FFF; shift 0 -> ts = 15: (x * 32767 + 2^14) >> 15
    assert int(ar.multiply_by_quantized_multiplier_int64(np.int64(1000), 0x7FFFFFFF, 0)) == 1000
    # (1000*32767 + 16384) >> 15 = 32783384 >> 15 = 1000 (32783384 / 32768 = 1000.47)


def test_mbqm_per_channel_broadcasts_over_last_axis():
    acc = np.array([[10, 10], [-10, -10]])
    m = np.array([HALF, HALF])
    s = np.array([-1, 0])  # 0.25 and 0.5
    got = ar.multiply_by_quantized_multiplier(acc, m, s)
    # 10*0.25=2.5->3, 10*0.5=5, -2.5->-3, -5
    assert got.tolist() == [[3, 5], [-3, -5]]


@pytest.mark.parametrize(
    "how, expected",
    [
        (Requant.DOUBLE_ROUNDING, [3, -3, 1]),
        (Requant.NEON, [3, -2, 1]),
        (Requant.FLOAT64, [3, -3, 0]),  # round(10*0.25)=3, round(-2.5)=-3, round(0.25)=0
        (Requant.XNN_FP32, [2, -2, 0]),  # ties to even: 2.5 -> 2, -2.5 -> -2
    ],
)
def test_requantizer_variants_on_ties(how, expected):
    # s_in * s_w / s_out = 0.5 * 0.5 / 1 = 0.25 exactly
    rq = ar.make_requantizer(how, 0.5, np.array([0.5], np.float32), 1.0)
    assert rq(np.array([10, -10, 1])).tolist() == expected


# ---------------------------------------------------------------------------------------
# Activation ranges, quantize, dequantize
# ---------------------------------------------------------------------------------------
def test_activation_range_relu6_uses_float32_division():
    # 0.1f = 0.100000001490116...; 6 / 0.1f = 59.99999911 -> nearest float32 is 60.0
    # Q(6) = -128 + 60 = -68; Q(0) = -128
    assert ar.activation_range_quantized(3, 0.1, -128, np.int8) == (-128, -68)
    assert ar.activation_range_quantized(1, 0.1, -5, np.int8) == (-5, 127)
    assert ar.activation_range_quantized(0, 0.1, -5, np.int8) == (-128, 127)
    # RELU_N1_TO_1 with scale 1/64, zp 0: [-64, 64]
    assert ar.activation_range_quantized(2, 1 / 64, 0, np.int8) == (-64, 64)


def test_quantize_rounds_half_away_and_saturates():
    x = np.array([0.25, -0.25, 0.75, 1000.0, -1000.0], np.float32)
    # scale 0.5: 0.5 -> 1, -0.5 -> -1, 1.5 -> 2; then + zp 3; clamps at 127 / -128
    got = ar.quantize(x, 0.5, 3, np.int8)
    assert got.tolist() == [4, 2, 5, 127, -128]
    assert got.dtype == np.int8


def test_dequantize_is_scale_times_offset():
    q = np.array([-128, 0, 127], np.int8)
    assert ar.dequantize(q, 0.5, -128).tolist() == [0.0, 64.0, 127.5]


# ---------------------------------------------------------------------------------------
# Exact GEMM through float BLAS
# ---------------------------------------------------------------------------------------
def test_gemm_float_dtype_chooses_by_bound():
    # 255 * 127 * 500 = 16_192_500 < 2^24 = 16_777_216: float32 is exact
    assert ar.gemm_float_dtype(255, 127 * 500) is np.float32
    # 255 * 127 * 600 = 19_431_000 > 2^24: needs float64
    assert ar.gemm_float_dtype(255, 127 * 600) is np.float64
    # past 2^53 nothing but int64 is safe
    assert ar.gemm_float_dtype(2**30, 2**30) is np.int64


def test_exact_matmul_at_int32_extremes():
    # Accumulators close to INT32_MAX and INT32_MIN: K = 66_000 products of 255 * 127.
    k = 66_000
    lhs = np.full((2, k), 255, np.int64)
    lhs[1] = -255
    rhs = np.full((k, 3), 127, np.int64)
    rhs[::2, 1] = -127  # alternating signs: partial sums swing, end near 0
    rhs[:, 2] = np.where(np.arange(k) % 7 == 0, -128, 127)
    expected = lhs @ rhs  # int64 reference
    assert expected[0, 0] == 255 * 127 * k and expected[0, 0] < 2**31
    dt = ar.gemm_float_dtype(255, float(np.abs(rhs).sum(axis=0).max()))
    assert dt is np.float64
    got = ar.exact_matmul(lhs, rhs, dt)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_float32_gemm_is_not_exact_past_the_bound():
    # The bound matters: an odd sum above 2^24 has no float32 representation.
    k = 200_000
    lhs = np.full((1, k), 255, np.int64)
    rhs = np.full((k, 1), 127, np.int64)
    rhs[0, 0] = 126  # exact total 255*127*k - 255 = 6_476_999_745, odd
    exact = lhs @ rhs
    assert exact[0, 0] == 6_476_999_745
    f32 = ar.exact_matmul(lhs, rhs, np.float32)
    assert f32[0, 0] != exact[0, 0]
    dt = ar.gemm_float_dtype(255, float(np.abs(rhs).sum(axis=0).max()))
    assert dt is np.float64
    assert ar.exact_matmul(lhs, rhs, dt)[0, 0] == exact[0, 0]


@pytest.mark.parametrize("shift", list(range(-31, 8)))
def test_mbqm_merged_shift_equals_two_step_definition(shift):
    # The implementation merges srdhm's floor and the rounding shift into one shift;
    # compare with the literal composition of the two gemmlowp primitives.
    rng = np.random.default_rng(shift + 100)
    x = np.concatenate([
        rng.integers(I32MIN, I32MAX, 4000, endpoint=True),
        rng.integers(-(2**12), 2**12, 4000),
        [I32MIN, I32MIN + 1, -1, 0, 1, I32MAX - 1, I32MAX],
    ]).astype(np.int64)
    for m in [0, 1, 2**30, 2**30 + 1, 1518500250, I32MAX, *rng.integers(2**30, 2**31, 5)]:
        left, right = max(shift, 0), max(-shift, 0)
        y = ar.wrap32(x << left)
        s = ar.saturating_rounding_doubling_high_mul(y, m)
        two_step = ar.rounding_divide_by_pot(s, right)
        np.testing.assert_array_equal(ar.multiply_by_quantized_multiplier(x, m, shift), two_step)
        # variant D: same first step, then (s + 2^(right-1)) >> right
        neon = (s + ((1 << right) >> 1)) >> right
        np.testing.assert_array_equal(ar.multiply_by_quantized_multiplier_neon(x, m, shift), neon)


@pytest.mark.parametrize("how", [Requant.DOUBLE_ROUNDING, Requant.NEON, Requant.FLOAT64])
@pytest.mark.parametrize("act", [(-128, 127), (-5, 127), (-3, 127), (-3, 40)],
                         ids=["none", "relu", "below-zp", "relu6"])
def test_to_output_equals_the_stepwise_definition(how, act):
    # to_output fuses, blocks and (for RELU-like clamps) simplifies the rounding; it
    # must equal clamp(requantize(wrap32(acc + bias)) + offset) element for element.
    rng = np.random.default_rng(7)
    channels = 5
    acc = rng.integers(-(2**20), 2**20, (70_000, channels))
    acc[:200] = rng.integers(-64, 64, (200, channels))  # small values: many exact ties
    bias = rng.integers(-1000, 1000, channels)
    scales = np.array([0.5, 0.25, 2.0**-9, 0.37, 1.5e-3], np.float32)
    rq = ar.make_requantizer(how, 0.5, scales, 1.0)
    offset = -5 if act[0] != -3 else -4
    lo, hi = act
    got = rq.to_output(acc.astype(np.float32 if how is not Requant.FLOAT64 else np.float64),
                       bias=bias, output_offset=offset, act_min=lo, act_max=hi, dtype=np.int8)
    want = np.clip(rq(ar.wrap32(acc + bias)) + offset, lo, hi).astype(np.int8)
    np.testing.assert_array_equal(got, want)
