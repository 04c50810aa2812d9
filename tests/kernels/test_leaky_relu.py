"""LEAKY_RELU: float, hand-computed quantized goldens, negative alpha, the float32 (LiteRT)
versus float64 (TFLM wheel) multipliers, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLM
from refimpl.kernels.leaky_relu import LEAKY_RELU

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def lrelu_ctx(t_in, t_out, alpha, **kw):
    return ctx("LEAKY_RELU", [t_in], [t_out], alpha=alpha, **kw)


def test_float_keeps_positive_values_and_scales_the_rest():
    c = lrelu_ctx(tensor(F32, [6]), tensor(F32, [6]), 0.2)
    got = run(LEAKY_RELU, c, [-1.0, 0.0, 2.5, -0.0, np.nan, -np.inf])[0]
    want = [np.float32(-1.0) * np.float32(0.2), 0.0, 2.5, -0.0]
    assert got[:4].tolist() == want and np.signbit(got[3])  # -0.0 * 0.2 keeps the sign
    assert np.isnan(got[4]) and got[5] == -np.inf


def test_float_options_absent_means_alpha_zero():
    c = ctx("LEAKY_RELU", [tensor(F32, [2])], [tensor(F32, [2])])
    assert run(LEAKY_RELU, c, [-3.0, 3.0])[0].tolist() == [-0.0, 3.0]


def test_int8_hand_computed_both_branches():
    # s_in = 0.5, s_out = 0.25, alpha = 0.5: identity 2.0 = 2**30 * 2**(2-31) -> (2**30, 2);
    # alpha 1.0 -> (2**30, 1). zp_in = 5, zp_out = -2.
    c = lrelu_ctx(tensor(I8, [5], 0.5, 5), tensor(I8, [5], 0.25, -2), 0.5)
    data = LEAKY_RELU.prepare(c)
    assert (data.output_multiplier_identity, data.output_shift_identity) == (2**30, 2)
    assert (data.output_multiplier_alpha, data.output_shift_alpha) == (2**30, 1)
    # d = q - 5: 3 -> -2 + 6 = 4; 0 -> -2; -3 -> -2 - 3 = -5; 70 -> 128 saturates; -128 -> -135
    assert run(LEAKY_RELU, c, [8, 5, 2, 75, -128])[0].tolist() == [4, -2, -5, 127, -128]


def test_rounding_is_gemmlowp_double_rounding():
    # s_in = 1, s_out = 4, alpha = 1: both multipliers 0.25 -> (2**30, -1).
    # d = 2: SRDHM(2, 2**30) = 1, RDBPOT(1, 1) = 0.5 -> 1 (away from zero)
    # d = -2: SRDHM = -1, RDBPOT(-1, 1) = -0.5 -> -1 (away from zero, not half up)
    c = lrelu_ctx(tensor(I16, [3], 1.0, 0), tensor(I16, [3], 4.0, 0), 1.0)
    assert run(LEAKY_RELU, c, [2, -2, -6])[0].tolist() == [1, -1, -2]


def test_negative_alpha_scales_by_the_magnitude_then_negates():
    # s_in = s_out = 1, alpha = -0.5: m_a = -2**30, shift 0.
    # d = -4: MBQM(-4, 2**30, 0) = -2, negated 2.
    # d = -3: SRDHM(-3, 2**30) = floor((-3*2**30 + 2**30) / 2**31) = -1, negated 1 (a negative
    #         multiplier in SRDHM would give floor((3*2**30 + 2**30) / 2**31) = 2 instead).
    c = lrelu_ctx(tensor(I8, [3], 1.0, 0), tensor(I8, [3], 1.0, 0), -0.5)
    data = LEAKY_RELU.prepare(c)
    assert data.output_multiplier_alpha == -(2**30)
    assert run(LEAKY_RELU, c, [-4, -3, 5])[0].tolist() == [2, 1, 5]


# scales of the seanet LEAKY_RELU model whose TFLM output differs from the LiteRT golden
S_IN, S_OUT = float.fromhex("0x1.d1c628p-7"), float.fromhex("0x1.8684d8p-8")


def test_tflite_multipliers_come_from_float32_expressions():
    # fl32(fl32(s_in * 0.3) / s_out) = 0.7156233191490173 -> frexp q = 0.7156233191490173,
    # e = 0 -> m = round(q * 2**31) = 1536789376 (exact: a float32 has 24 bits)
    c = lrelu_ctx(tensor(I16, [1], S_IN, 0), tensor(I16, [1], S_OUT, 0), 0.3)
    d = LEAKY_RELU.prepare(c)
    assert d.real_multiplier_alpha == float(np.float32(np.float32(S_IN) * np.float32(0.3))
                                            / np.float32(S_OUT))
    assert (d.output_multiplier_alpha, d.output_shift_alpha) == (1536789376, 0)
    assert d.real_multiplier_identity == float(np.float32(S_IN) / np.float32(S_OUT))


def test_tflm_multipliers_come_from_double_expressions():
    c = lrelu_ctx(tensor(I16, [1], S_IN, 0), tensor(I16, [1], S_OUT, 0), 0.3, flavor=TFLM)
    d = LEAKY_RELU.prepare(c)
    alpha = float(np.float32(0.3))
    assert d.real_multiplier_alpha == S_IN * alpha / S_OUT
    # 0.7156233023816448 * 2**31 = 1536789340.0... -> 1536789340 (differs from LiteRT's)
    assert (d.output_multiplier_alpha, d.output_shift_alpha) == (1536789340, 0)


def test_int16_zero_points_must_be_0_for_tflite_only():
    c = lrelu_ctx(tensor(I16, [1], 0.5, 1), tensor(I16, [1], 0.5, 0), 0.1)
    with pytest.raises(OpError, match="zero points 0"):
        LEAKY_RELU.prepare(c)
    c = lrelu_ctx(tensor(I16, [1], 0.5, 1), tensor(I16, [1], 0.5, 0), 0.1, flavor=TFLM)
    assert run(LEAKY_RELU, c, [3])[0].tolist() == [2]  # TFLM does not check: (3 - 1) * 1


def test_uint8_is_tflite_only():
    c = lrelu_ctx(tensor(U8, [1], 0.5, 128), tensor(U8, [1], 0.5, 128), 0.1)
    assert run(LEAKY_RELU, c, [130])[0].tolist() == [130]
    c = lrelu_ctx(tensor(U8, [1], 0.5, 128), tensor(U8, [1], 0.5, 128), 0.1, flavor=TFLM)
    with pytest.raises(UnsupportedOpError, match="LEAKY_RELU"):
        LEAKY_RELU.prepare(c)


def test_output_type_must_match_input():
    c = lrelu_ctx(tensor(I8, [1], 0.5, 0), tensor(I16, [1], 0.5, 0), 0.1)
    with pytest.raises(OpError, match="must have the input type"):
        LEAKY_RELU.prepare(c)
