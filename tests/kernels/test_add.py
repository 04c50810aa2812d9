"""ADD: hand-computed fixed-point goldens, broadcasting, float clamping, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLM
from refimpl.kernels.add import ADD, add_sub_quantized, checked_log2, quantized_add_sub_params

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def add_ctx(t1, t2, out, act=0, **kw):
    return ctx("ADD", [t1, t2], [out], fused_activation_function=act, **kw)


# ------------------------------------------------------------------------------------------
# Scalar transcription of TFLite's AddFunc with Python integers (the oracle)
# ------------------------------------------------------------------------------------------
def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul: nudge by sign, truncate toward zero."""
    if a == b == -(2**31):
        return 2**31 - 1
    p = a * b
    nudge = (1 << 30) if p >= 0 else 1 - (1 << 30)
    t = p + nudge
    return t // (1 << 31) if t >= 0 else -((-t) // (1 << 31))


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem, thr = x & mask, (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def add_func(q1, q2, p) -> int:
    a = rdbpot(srdhm((q1 + p.input1_offset) << p.left_shift, p.input1_multiplier), -p.input1_shift)
    b = rdbpot(srdhm((q2 + p.input2_offset) << p.left_shift, p.input2_multiplier), -p.input2_shift)
    raw = rdbpot(srdhm(a + b, p.output_multiplier), -p.output_shift) + p.output_offset
    return min(p.output_activation_max, max(p.output_activation_min, raw))


# ------------------------------------------------------------------------------------------
def test_multipliers_for_scales_half_and_quarter():
    # twice_max = 2 * max(0.5, 0.25) = 1.0
    # real1 = 0.5  = 0.5 * 2**0   -> m1 = 2**30, shift 0
    # real2 = 0.25 = 0.5 * 2**-1  -> m2 = 2**30, shift -1
    # real_out = 1.0 / (2**20 * 1.0) = 0.5 * 2**-19 -> mo = 2**30, shift -19
    c = add_ctx(tensor(I8, [4], 0.5, 0), tensor(I8, [4], 0.25, 0), tensor(I8, [4], 1.0, 0))
    p = ADD.prepare(c).quantized
    assert (p.left_shift, p.input1_multiplier, p.input1_shift) == (20, 2**30, 0)
    assert (p.input2_multiplier, p.input2_shift) == (2**30, -1)
    assert (p.output_multiplier, p.output_shift) == (2**30, -19)


@pytest.mark.parametrize(
    "q1, q2, zp_out, expected",
    [
        # 0.5*3 + 0.25*5 = 2.75: a = 3<<20 -> SRDHM(.,2**30) = 1572864; b = 5<<20 -> 2621440,
        # RDBPOT(.,1) = 1310720; sum 2883584 -> SRDHM = 1441792 -> RDBPOT(.,19) = 2.75 -> 3
        (3, 5, 0, 3),
        (1, 0, 0, 1),  # 0.5 exactly: tie rounds away from zero -> 1
        (-1, 0, 0, -1),  # -0.5 -> -1 (away from zero, not half up)
        (3, 5, 100, 103),  # + output zero point
        (127, 127, 100, 127),  # 95.25 + 100 saturates at 127
        (-128, -128, -100, -128),  # -96 - 100 saturates at -128
    ],
    ids=["2.75", "tie+0.5", "tie-0.5", "zp_out", "sat_high", "sat_low"],
)
def test_int8_hand_computed_elements(q1, q2, zp_out, expected):
    c = add_ctx(tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.25, 0), tensor(I8, [1], 1.0, zp_out))
    assert run(ADD, c, [q1], [q2])[0].tolist() == [expected]


def test_input_zero_points_are_subtracted():
    # q1 = 13 with zp 10 means 3, q2 = 3 with zp -2 means 5: same 2.75 -> 3 as above
    c = add_ctx(tensor(I8, [1], 0.5, 10), tensor(I8, [1], 0.25, -2), tensor(I8, [1], 1.0, 0))
    assert run(ADD, c, [13], [3])[0].tolist() == [3]


@pytest.mark.parametrize("dtype", [I8, U8], ids=["int8", "uint8"])
def test_matches_scalar_transcription_with_broadcasting(dtype):
    rng = np.random.default_rng(0)
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    zp = (lambda z: z) if dtype == I8 else (lambda z: z + 128)
    t1 = tensor(dtype, [2, 1, 3], 0.0371, zp(-7))
    t2 = tensor(dtype, [4, 1], 0.0113, zp(20))
    out = tensor(dtype, [2, 4, 3], 0.0529, zp(3))
    c = add_ctx(t1, t2, out, act=1)
    x1 = rng.integers(lo, hi + 1, [2, 1, 3])
    x2 = rng.integers(lo, hi + 1, [4, 1])
    got = run(ADD, c, x1, x2)[0]
    p = ADD.prepare(c).quantized
    b1, b2 = np.broadcast_arrays(x1, x2)
    want = np.array([add_func(int(a), int(b), p) for a, b in zip(b1.ravel(), b2.ravel())])
    assert got.shape == (2, 4, 3) and got.dtype == dtype
    np.testing.assert_array_equal(got.ravel(), want)


def test_fused_relu6_clamps_to_quantized_six():
    # s_out = 0.05, zp -128: Q(0) = -128, Q(6) = -128 + roundf(6 / 0.05) = -8
    t = tensor(I8, [3], 0.1, 0)
    c = add_ctx(t, tensor(I8, [3], 0.1, 0), tensor(I8, [3], 0.05, -128), act=3)
    p = ADD.prepare(c).quantized
    assert (p.output_activation_min, p.output_activation_max) == (-128, -8)
    # 0.1*(50+50) = 10 -> clamp to Q(6) = -8; -1 -> clamp to Q(0); 0.1*(10+5) = 1.5 -> -98
    assert run(ADD, c, [50, -5, 10], [50, -5, 5])[0].tolist() == [-8, -128, -98]


def test_fused_tanh_is_a_plain_range_like_tflite():
    c = add_ctx(tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.01, 0), act=4)
    p = ADD.prepare(c).quantized
    assert (p.output_activation_min, p.output_activation_max) == (-128, 127)


def test_float_add_clamps_infinity_to_float_max_and_keeps_nan():
    # CalculateActivationRange<float>(NONE) = [lowest, max]: LiteRT REF returns 3.4028235e38
    # for 3e38 + 3e38 and for inf + 1 (verified on LiteRT 2.3.0).
    c = add_ctx(tensor(F32, [4]), tensor(F32, [4]), tensor(F32, [4]))
    got = run(ADD, c, [3e38, -3e38, np.inf, np.nan], [3e38, -3e38, 1, 1])[0]
    fmax = np.finfo(np.float32).max
    assert got[:3].tolist() == [fmax, -fmax, fmax] and np.isnan(got[3])


def test_float_relu_n1_to_1_and_broadcast():
    c = add_ctx(tensor(F32, [2, 1]), tensor(F32, [3]), tensor(F32, [2, 3]), act=2)
    got = run(ADD, c, [[0.25], [-2.0]], [0.5, 1.0, -0.75])[0]
    want = np.clip(np.array([[0.25], [-2.0]]) + [0.5, 1.0, -0.75], -1, 1)
    np.testing.assert_array_equal(got, want)


def test_int32_add_wraps_and_applies_relu():
    c = add_ctx(tensor(np.int32, [3]), tensor(np.int32, [3]), tensor(np.int32, [3]), act=1)
    got = run(ADD, c, [2**31 - 1, -5, 7], [1, 2, 1])[0]
    assert got.tolist() == [0, 0, 8]  # INT32_MAX + 1 wraps to INT32_MIN, RELU clamps to 0


def test_int16_general_path_uses_left_shift_15():
    c = add_ctx(tensor(I16, [3], 2e-4, 0), tensor(I16, [3], 3e-4, 0), tensor(I16, [3], 5e-4, 0))
    data = ADD.prepare(c)
    assert data.kind == "quantized" and data.quantized.left_shift == 15
    x1, x2 = [30000, -32768, 123], [-20000, -32768, 456]
    want = [add_func(a, b, data.quantized) for a, b in zip(x1, x2)]
    assert run(ADD, c, x1, x2)[0].tolist() == want


def test_int16_pot_path_shifts_one_input_and_saturates():
    # s1 = s_out = 2**-10, s2 = 2**-12: input 2 is right-shifted by 2 (round half away)
    t = lambda e: tensor(I16, [4], 2.0**e, 0)  # noqa: E731
    c = add_ctx(t(-10), t(-12), t(-10), pot_scale_int16=True)
    data = ADD.prepare(c)
    assert data.kind == "int16_pot" and (data.pot.input1_shift, data.pot.input2_shift) == (0, -2)
    # 6/4 = 1.5 -> 2; -6/4 -> -2; 5/4 -> 1; 32767 + 2 saturates
    assert run(ADD, c, [10, 10, 10, 32767], [6, -6, 5, 6])[0].tolist() == [12, 8, 11, 32767]


def test_pot_flag_is_false_without_an_options_table():
    # LiteRT's parser value-initialises TfLiteAddParams when AddOptions is absent, so
    # pot_scale_int16 reads false there (the schema default true applies to a present table).
    t = lambda e: tensor(I16, [4], 2.0**e, 0)  # noqa: E731
    assert ADD.prepare(ctx("ADD", [t(-10), t(-12)], [t(-10)])).kind == "quantized"
    assert ADD.prepare(add_ctx(t(-10), t(-12), t(-10))).kind == "int16_pot"


def test_tflm_ignores_pot_scale_int16():
    t = lambda e: tensor(I16, [4], 2.0**e, 0)  # noqa: E731
    c = add_ctx(t(-10), t(-12), t(-10), pot_scale_int16=True, flavor=TFLM)
    assert ADD.prepare(c).kind == "quantized"


def test_checked_log2_accepts_powers_of_two_only():
    assert checked_log2(2.0**-12) == (True, -12)
    assert checked_log2(0.3)[0] is False


def test_sub_reuse_subtracts_with_the_same_multipliers():
    c = add_ctx(tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.25, 0), tensor(I8, [1], 1.0, 0))
    p = quantized_add_sub_params(c, c.inputs[0], c.inputs[1], c.outputs[0], 0)
    # 0.5*3 - 0.25*5 = 0.25 -> 0 ; 0.5*1 - 0.25*4 = -0.5 -> -1 (away from zero)
    got = add_sub_quantized(np.array([3, 1]), np.array([5, 4]), p, np.dtype(I8), sign=-1)
    assert got.tolist() == [0, -1]


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------
def test_incompatible_broadcast_is_error_naming_node():
    c = add_ctx(tensor(F32, [2, 3]), tensor(F32, [4]), tensor(F32, [2, 3]))
    with pytest.raises(OpError, match=r"node 7 \(ADD\).*cannot be broadcast"):
        ADD.prepare(c)


def test_rank_7_broadcast_is_error():
    c = add_ctx(tensor(F32, [1] * 7), tensor(F32, [2]), tensor(F32, [1] * 6 + [2]))
    with pytest.raises(OpError, match="at most 6"):
        ADD.prepare(c)


def test_mismatched_input_types_is_error():
    c = add_ctx(tensor(I8, [2], 0.5, 0), tensor(U8, [2], 0.5, 0), tensor(I8, [2], 0.5, 0))
    with pytest.raises(OpError, match="input types differ"):
        ADD.prepare(c)


def test_output_multiplier_not_below_one_is_error():
    # 2*max(1,1) / (2**20 * 1e-7) > 1: TFLite aborts in QuantizeMultiplierSmallerThanOneExp
    c = add_ctx(tensor(I8, [1], 1.0, 0), tensor(I8, [1], 1.0, 0), tensor(I8, [1], 1e-7, 0))
    with pytest.raises(OpError, match="outside \\(0, 1\\)"):
        ADD.prepare(c)


def test_int16_nonzero_zero_point_is_error():
    c = add_ctx(tensor(I16, [1], 0.5, 1), tensor(I16, [1], 0.5, 0), tensor(I16, [1], 0.5, 0))
    with pytest.raises(OpError, match="zero point 0"):
        ADD.prepare(c)


def test_float16_is_unsupported():
    c = add_ctx(tensor(np.float16, [1]), tensor(np.float16, [1]), tensor(np.float16, [1]))
    with pytest.raises(UnsupportedOpError, match="ADD"):
        ADD.prepare(c)
