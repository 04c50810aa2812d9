"""SUB: hand-computed fixed-point goldens (int8, int16 general and power-of-two paths),
LiteRT's output-multiplier-above-one evaluation, float / int32 clamping, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLM
from refimpl.kernels.sub import SUB

I8, U8, I16, I32, I64, F32 = np.int8, np.uint8, np.int16, np.int32, np.int64, np.float32


def sub_ctx(t1, t2, out, act=0, **kw):
    return ctx("SUB", [t1, t2], [out], fused_activation_function=act, **kw)


# ------------------------------------------------------------------------------------------
# General quantized path
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "q1, q2, zp_out, expected",
    [
        # s1 = 0.5, s2 = 0.25, s_out = 1: twice_max = 1, real1 = 0.5 (2**30, 0),
        # real2 = 0.25 (2**30, -1), real_out = 2**-20 (2**30, -19).
        # 0.5*7 - 0.25*2 = 3: a = 7<<20 -> 3670016, b = 2<<20 -> SRDHM 1048576 -> /2 524288
        # raw = 3145728 -> SRDHM 1572864 -> RDBPOT(., 19) = 3
        (7, 2, 0, 3),
        (1, 0, 0, 1),  # 0.5 exactly: RDBPOT rounds half away from zero -> 1
        (0, 2, 0, -1),  # -0.5 -> -1 (away from zero)
        (3, 5, 0, 0),  # 1.5 - 1.25 = 0.25 -> 0
        (7, 2, -10, -7),  # + output zero point
        (-128, 127, -100, -128),  # -64 - 31.75 = -95.75 -> -96, - 100 saturates
    ],
    ids=["3", "tie+0.5", "tie-0.5", "0.25", "zp_out", "saturate"],
)
def test_int8_hand_computed_elements(q1, q2, zp_out, expected):
    c = sub_ctx(tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.25, 0), tensor(I8, [1], 1.0, zp_out))
    assert run(SUB, c, [q1], [q2])[0].tolist() == [expected]


def test_int16_general_path_left_shift_15_and_broadcast():
    # s1 = 2**-10, s2 = 2**-11, s_out = 2**-9: twice_max = 2**-9, real1 = 0.5, real2 = 0.25,
    # real_out = 2**-9 / (2**15 * 2**-9) = 2**-15. a = q1 << 15 -> q1 * 2**14;
    # b = (q2 << 15) / 4 = q2 * 2**13; out = RDBPOT(SRDHM(a - b, 2**30), 14) = (2*q1 - q2)/4
    # (power-of-two scales, but pot_scale_int16 False as the 16x8 converter writes it)
    c = sub_ctx(tensor(I16, [2, 1], 2.0**-10, 0), tensor(I16, [3], 2.0**-11, 0),
                tensor(I16, [2, 3], 2.0**-9, 0), pot_scale_int16=False)
    data = SUB.prepare(c)
    assert data.kind == "quantized" and data.quantized.left_shift == 15
    got = run(SUB, c, [[10], [-3]], [4, 2, 3])[0]
    # (20-4)/4 = 4; (20-2)/4 = 4.5 -> 5; (20-3)/4 = 4.25 -> 4
    # (-6-4)/4 = -2.5 -> -3; (-6-2)/4 = -2; (-6-3)/4 = -2.25 -> -2
    assert got.tolist() == [[4, 5, 4], [-3, -2, -2]]


def test_relu_range_clamps_after_the_zero_point():
    c = sub_ctx(tensor(I8, [2], 0.5, 0), tensor(I8, [2], 0.25, 0), tensor(I8, [2], 1.0, 5), act=1)
    assert run(SUB, c, [0, 7], [40, 2])[0].tolist() == [5, 8]  # -10 + 5 -> clamp at Q(0) = 5


# ------------------------------------------------------------------------------------------
# int16 power-of-two path
# ------------------------------------------------------------------------------------------
def pot(e, shape=(4,)):
    return tensor(I16, list(shape), 2.0**e, 0)


def test_int16_pot_path_shifts_input_2_and_clamps():
    # s1 = s_out = 2**-10, s2 = 2**-12: input 2 is RDBPOT-shifted by 2 (half away from zero)
    c = sub_ctx(pot(-10), pot(-12), pot(-10), pot_scale_int16=True)
    data = SUB.prepare(c)
    assert data.kind == "int16_pot" and (data.pot.input1_shift, data.pot.input2_shift) == (0, -2)
    # 6/4 = 1.5 -> 2: 10 - 2; -6/4 -> -2: 10 + 2; 5/4 -> 1; -32768 - 2 clamps
    assert run(SUB, c, [10, 10, 10, -32768], [6, -6, 5, 8])[0].tolist() == [8, 12, 9, -32768]


def test_int16_pot_path_broadcasts_unlike_add():
    c = sub_ctx(pot(-12, (2, 2)), pot(-10, (1,)), pot(-10, (2, 2)), pot_scale_int16=True)
    # input 1 shifted by 2: 7/4 = 1.75 -> 2, -7/4 -> -2, 2/4 = 0.5 -> 1, 1/4 -> 0
    assert SUB.prepare(c).kind == "int16_pot"
    assert run(SUB, c, [[7, -7], [2, 1]], [3])[0].tolist() == [[-1, -5], [-2, -3]]


def test_pot_flag_is_false_without_an_options_table():
    # LiteRT value-initialises TfLiteSubParams when the options table is absent.
    c = ctx("SUB", [pot(-10), pot(-12)], [pot(-10)])
    assert SUB.prepare(c).kind == "quantized"


def test_tflm_ignores_pot_scale_int16():
    c = sub_ctx(pot(-10), pot(-12), pot(-10), pot_scale_int16=True, flavor=TFLM)
    assert SUB.prepare(c).kind == "quantized"


def test_pot_shifts_must_leave_one_input_at_the_output_scale():
    c = sub_ctx(pot(-12), pot(-12), pot(-10), pot_scale_int16=True)
    with pytest.raises(OpError, match="one input at the output scale"):
        SUB.prepare(c)


# ------------------------------------------------------------------------------------------
# Output multiplier above one (LiteRT only)
# ------------------------------------------------------------------------------------------
def above_one_ctx(shape1, shape2, out_shape, zp_out=0, flavor=None):
    # s1 = 1, s2 = 0.5: twice_max = 2, real1 = 0.5 (2**30, 0), real2 = 0.25 (2**30, -1);
    # s_out = 2**-32: real_out = 2 / (2**20 * 2**-32) = 2**13 = 0.5 * 2**14 -> (2**30, k = 14)
    kw = {} if flavor is None else {"flavor": flavor}
    return sub_ctx(tensor(I8, shape1, 1.0, 0), tensor(I8, shape2, 0.5, 0),
                   tensor(I8, out_shape, 2.0**-32, zp_out), **kw)


def test_output_multiplier_above_one_uses_a_positive_shift():
    data = SUB.prepare(above_one_ctx([6], [6], [6]))
    assert data.kind == "quantized_above_one"
    assert (data.quantized.output_multiplier, data.quantized.output_shift) == (2**30, 14)


def test_output_multiplier_above_one_vector_body_and_scalar_tail():
    # q2 = 0: raw = a = q1 * 2**19, s = SRDHM(raw, 2**30) = q1 * 2**18.
    # vector lanes (first 4): sign -> +1 / -1 ; scalar tail (last 2): (s >> 18) + (s >= 0)
    # q1 = 10: 10 + 1 = 11;  q1 = -10: -10 + 0 = -10;  q1 = 0: 0 + 1 = 1
    c = above_one_ctx([6], [6], [6], zp_out=3)
    got = run(SUB, c, [10, -10, 0, 10, 10, -10], [0] * 6)[0]
    assert got.tolist() == [4, 2, 4, 4, 14, -7]


def test_output_multiplier_above_one_broadcast_is_all_scalar():
    c = above_one_ctx([2, 3], [1], [2, 3])
    assert SUB.prepare(c).broadcast
    got = run(SUB, c, [[10, -10, 0], [10, 10, -10]], [0])[0]
    assert got.tolist() == [[11, -10, 1], [11, 11, -10]]


def test_output_multiplier_above_one_is_error_for_tflm():
    with pytest.raises(OpError, match="outside \\(0, 1\\)"):
        SUB.prepare(above_one_ctx([6], [6], [6], flavor=TFLM))


# ------------------------------------------------------------------------------------------
# Float and plain integers
# ------------------------------------------------------------------------------------------
def test_float_clamps_infinity_to_float_max_and_applies_relu6():
    c = sub_ctx(tensor(F32, [4]), tensor(F32, [4]), tensor(F32, [4]))
    fmax = np.finfo(np.float32).max
    got = run(SUB, c, [3e38, np.inf, 1.0, np.nan], [-3e38, 1.0, 0.25, 1.0])[0]
    assert got[:3].tolist() == [fmax, fmax, 0.75] and np.isnan(got[3])
    c = sub_ctx(tensor(F32, [3]), tensor(F32, [1]), tensor(F32, [3]), act=3)
    assert run(SUB, c, [10.0, 2.5, -1.0], [0.5])[0].tolist() == [6.0, 2.0, 0.0]


def test_int32_wraps_and_int64_is_tflite_only():
    c = sub_ctx(tensor(I32, [2]), tensor(I32, [2]), tensor(I32, [2]))
    assert run(SUB, c, [-(2**31), 5], [1, 7])[0].tolist() == [2**31 - 1, -2]
    c = sub_ctx(tensor(I64, [1]), tensor(I64, [1]), tensor(I64, [1]))
    assert run(SUB, c, [2**40], [1])[0].tolist() == [2**40 - 1]
    with pytest.raises(UnsupportedOpError, match="supported: float32, int8, int16, int32"):
        SUB.prepare(sub_ctx(tensor(I64, [1]), tensor(I64, [1]), tensor(I64, [1]), flavor=TFLM))


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------
def test_uint8_is_unsupported_by_tflm():
    t = tensor(U8, [1], 0.5, 128)
    assert SUB.prepare(sub_ctx(t, tensor(U8, [1], 0.5, 128), tensor(U8, [1], 1.0, 128))).kind
    with pytest.raises(UnsupportedOpError, match="SUB"):
        SUB.prepare(sub_ctx(t, tensor(U8, [1], 0.5, 128), tensor(U8, [1], 1.0, 128),
                            flavor=TFLM))


def test_int16_nonzero_zero_point_is_error():
    c = sub_ctx(tensor(I16, [1], 0.5, 0), tensor(I16, [1], 0.5, 3), tensor(I16, [1], 1.0, 0))
    with pytest.raises(OpError, match="zero point 0"):
        SUB.prepare(c)


def test_unquantized_int16_is_error():
    c = sub_ctx(tensor(I16, [1]), tensor(I16, [1]), tensor(I16, [1]))
    with pytest.raises(OpError, match="must be quantized"):
        SUB.prepare(c)


def test_mismatched_input_types_is_error_naming_node():
    c = sub_ctx(tensor(I8, [1], 0.5, 0), tensor(I16, [1], 0.5, 0), tensor(I8, [1], 0.5, 0))
    with pytest.raises(OpError, match=r"node 7 \(SUB\).*input types differ"):
        SUB.prepare(c)
