"""QUANTIZE: float -> int rounding, out-of-range casts, per-channel, requantize paths, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.quantize import QUANTIZE

I8, U8, I16, I32, F32 = np.int8, np.uint8, np.int16, np.int32, np.float32


def q_ctx(inp, out):
    return ctx("QUANTIZE", [inp], [out])


# ------------------------------------------------------------------------------------------
# float32 -> integer
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "x, expected",
    [
        (1.25, 0),  # 1.25 / 0.5 = 2.5 -> 3 (half away; half-even would give 2) ; + zp -3
        (-1.25, -6),  # -2.5 -> -3 ; -3 - 3
        (0.75, -1),  # 1.5 -> 2
        (-0.75, -5),  # -1.5 -> -2
        (1000.0, 127),  # saturates
        (-1000.0, -128),
    ],
    ids=["tie+2.5", "tie-2.5", "tie+1.5", "tie-1.5", "sat_high", "sat_low"],
)
def test_float_to_int8_rounds_half_away_from_zero(x, expected):
    c = q_ctx(tensor(F32, [1]), tensor(I8, [1], 0.5, -3))
    assert run(QUANTIZE, c, [x])[0].tolist() == [expected]


def test_division_is_float32():
    # 0.25 / 0.1f is 2.4999999627 in double but exactly 2.5 in float32 -> rounds to 3
    assert np.float32(0.25) / np.float32(0.1) == np.float32(2.5)
    c = q_ctx(tensor(F32, [1]), tensor(I8, [1], 0.1, 0))
    assert run(QUANTIZE, c, [0.25])[0].tolist() == [3]


@pytest.mark.parametrize(
    "zero_point, expected",
    [(68, -128), (0, -128), (-128, 127), (-3, 127)],
    ids=["zp68", "zp0", "zp-128", "zp-3"],
)
def test_out_of_int32_range_follows_the_x86_cast(zero_point, expected):
    # (int32)roundf(v) is INT32_MIN on x86 for NaN, +-inf and |v| >= 2**31; adding the zero
    # point wraps for zp < 0. LiteRT 2.3.0 BUILTIN_REF gives exactly these (zp 68, -128).
    c = q_ctx(tensor(F32, [5]), tensor(I8, [5], 0.05, zero_point))
    got = run(QUANTIZE, c, [np.inf, -np.inf, np.nan, 1.2e8, -1e12])[0]
    assert got.tolist() == [expected] * 5


def test_float_to_uint8_and_int16():
    c = q_ctx(tensor(F32, [3]), tensor(U8, [3], 0.5, 128))
    assert run(QUANTIZE, c, [1.25, -100.0, 100.0])[0].tolist() == [131, 0, 255]
    c = q_ctx(tensor(F32, [3]), tensor(I16, [3], 2.0**-10, 0))
    assert run(QUANTIZE, c, [0.5, -40.0, 2.0**-11])[0].tolist() == [512, -32768, 1]


def test_per_channel_quantize_along_quantized_dimension():
    out = tensor(I8, [2, 2], [0.5, 0.25], [0, 1], axis=1)
    c = q_ctx(tensor(F32, [2, 2]), out)
    # column 0: x/0.5 ; column 1: x/0.25 + 1
    got = run(QUANTIZE, c, [[1.25, 1.25], [-0.5, 0.125]])[0]
    assert got.tolist() == [[3, 6], [-1, 2]]  # 2.5->3, 5+1, -1, 0.5->1 +1


def test_per_channel_scale_count_mismatch_is_error():
    out = tensor(I8, [2, 3], [0.5, 0.25], [0, 0], axis=1)
    with pytest.raises(OpError, match="node 7 \\(QUANTIZE\\).*do not match"):
        QUANTIZE.prepare(q_ctx(tensor(F32, [2, 3]), out))


# ------------------------------------------------------------------------------------------
# integer -> integer
# ------------------------------------------------------------------------------------------
def test_requantize_ratio_half_rounds_half_up_in_srdhm():
    # s_in/s_out = 0.25/0.5 = 0.5 = 0.5 * 2**0 -> m = 2**30, shift 0: only SRDHM rounds,
    # floor(x/2 + 1/2): 3 -> 2 ; -3 -> -1 (half UP, not away from zero) ; 1 -> 1 ; -1 -> 0
    c = q_ctx(tensor(I8, [4], 0.25, 0), tensor(I8, [4], 0.5, 0))
    d = QUANTIZE.prepare(c)
    assert (d.output_multiplier, d.output_shift) == (2**30, 0)
    assert run(QUANTIZE, c, [3, -3, 1, -1])[0].tolist() == [2, -1, 1, 0]


def test_requantize_ratio_quarter_rounds_half_away_in_rdbpot():
    # ratio 0.25 -> m = 2**30, shift -1: SRDHM(2) = 1 -> RDBPOT(1, 1) = 1 ; -2 -> -1 -> -1
    c = q_ctx(tensor(I8, [2], 0.25, 0), tensor(I8, [2], 1.0, 0))
    assert run(QUANTIZE, c, [2, -2])[0].tolist() == [1, -1]


def test_requantize_zero_points_and_saturation():
    # ratio 2: (q - 5) * 2 - 100
    c = q_ctx(tensor(I8, [4], 0.5, 5), tensor(I8, [4], 0.25, -100))
    assert run(QUANTIZE, c, [5, 10, 127, -128])[0].tolist() == [-100, -90, 127, -128]


def test_int8_to_uint8_same_scale_takes_the_xor_shortcut():
    c = q_ctx(tensor(I8, [4], 0.3, -5), tensor(U8, [4], 0.3, 123))
    d = QUANTIZE.prepare(c)
    assert d.flip_sign_bit
    assert run(QUANTIZE, c, [-128, -5, 0, 127])[0].tolist() == [0, 123, 128, 255]


def test_uint8_to_int8_same_scale_takes_the_xor_shortcut():
    c = q_ctx(tensor(U8, [3], 0.3, 128), tensor(I8, [3], 0.3, 0))
    assert QUANTIZE.prepare(c).flip_sign_bit
    assert run(QUANTIZE, c, [0, 128, 255])[0].tolist() == [-128, 0, 127]


def test_int8_to_uint8_other_zero_point_uses_the_general_formula():
    c = q_ctx(tensor(I8, [2], 0.3, 0), tensor(U8, [2], 0.3, 100))
    assert not QUANTIZE.prepare(c).flip_sign_bit
    assert run(QUANTIZE, c, [-128, 27])[0].tolist() == [0, 127]


def test_int16_to_int32_and_int32_to_int8():
    c = q_ctx(tensor(I16, [2], 2.0**-10, 0), tensor(I32, [2], 2.0**-12, 0))
    assert run(QUANTIZE, c, [32767, -32768])[0].tolist() == [32767 * 4, -32768 * 4]
    c = q_ctx(tensor(I32, [2], 2.0**-12, 0), tensor(I8, [2], 2.0**-4, 0))
    # ratio 2**-8: 1000/256 = 3.9 -> 4 ; 10**6/256 -> saturates
    assert run(QUANTIZE, c, [1000, 10**6])[0].tolist() == [4, 127]


def test_int16_to_int16_needs_zero_points_0():
    c = q_ctx(tensor(I16, [1], 0.5, 1), tensor(I16, [1], 0.5, 0))
    with pytest.raises(OpError, match="zero points 0"):
        QUANTIZE.prepare(c)


@pytest.mark.parametrize(
    "in_dtype, out_dtype",
    [(U8, I32), (I32, I32), (I8, I32), (F32, I32)],
    ids=["u8->i32", "i32->i32", "i8->i32", "f32->i32"],
)
def test_unsupported_type_pairs(in_dtype, out_dtype):
    inp = tensor(in_dtype, [1], None if in_dtype == F32 else 0.5, 0)
    with pytest.raises(UnsupportedOpError, match="QUANTIZE"):
        QUANTIZE.prepare(q_ctx(inp, tensor(out_dtype, [1], 0.5, 0)))


def test_unquantized_output_is_error():
    with pytest.raises(OpError, match="no quantization parameters"):
        QUANTIZE.prepare(q_ctx(tensor(F32, [1]), tensor(I8, [1])))


# ------------------------------------------------------------------------------------------
# int16 paths and TFLM's type table
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "q, expected",
    # s_in = 2**-10, s_out = 2**-6, zp_out = 2: ratio 1/16 (exact, so ties are exact):
    # 1000/16 = 62.5 -> 63 + 2; -1000/16 = -62.5 -> -63 (half away from zero) + 2;
    # 1001/16 = 62.56 -> 63 + 2; 32767/16 = 2048 -> saturates
    [(1000, 65), (-1000, -61), (1001, 65), (32767, 127)],
    ids=["tie+", "tie-", "62.56", "saturate"],
)
def test_int16_to_int8_requantizes_with_double_rounding(q, expected):
    c = q_ctx(tensor(I16, [1], 2.0**-10, 0), tensor(I8, [1], 2.0**-6, 2))
    assert run(QUANTIZE, c, [q])[0].tolist() == [expected]


def test_int8_to_int16_scales_up():
    # s_in = 0.5 (zp -3), s_out = 2**-10: ratio 512 -> (q + 3) * 512
    c = q_ctx(tensor(I8, [3], 0.5, -3), tensor(I16, [3], 2.0**-10, 0))
    assert run(QUANTIZE, c, [-3, 0, 127])[0].tolist() == [0, 1536, 32767]


def test_float_to_int16_rounds_half_away():
    c = q_ctx(tensor(F32, [3]), tensor(I16, [3], 2.0**-4, 0))
    assert run(QUANTIZE, c, [0.03125, -0.03125, 5000.0])[0].tolist() == [1, -1, 32767]


def test_tflm_type_table_differs_from_litert():
    from refimpl.flavors import TFLM

    i8_to_i32 = (tensor(I8, [1], 0.5, 0), tensor(I32, [1], 0.25, 0))
    assert run(QUANTIZE, ctx("QUANTIZE", [i8_to_i32[0]], [i8_to_i32[1]], flavor=TFLM), [3])[0] \
        .tolist() == [6]
    with pytest.raises(UnsupportedOpError, match="uint8"):
        QUANTIZE.prepare(ctx("QUANTIZE", [tensor(F32, [1])], [tensor(U8, [1], 0.5, 0)],
                             flavor=TFLM))
    with pytest.raises(UnsupportedOpError):
        QUANTIZE.prepare(ctx("QUANTIZE", [tensor(U8, [1], 0.5, 0)], [tensor(I16, [1], 0.5, 0)],
                             flavor=TFLM))
    # TFLM does not check int16 -> int16 zero points
    c = ctx("QUANTIZE", [tensor(I16, [1], 0.5, 1)], [tensor(I16, [1], 0.5, 0)], flavor=TFLM)
    assert run(QUANTIZE, c, [4])[0].tolist() == [3]
