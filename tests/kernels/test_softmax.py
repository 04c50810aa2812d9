"""SOFTMAX kernel: parameters, hand-computed and runtime goldens, errors, float path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.softmax import SOFTMAX

FLAVORS = [pytest.param(TFLITE_REF, id="ref"), pytest.param(TFLM, id="tflm")]


def softmax_ctx(shape, s_in, zp_in, beta=1.0, flavor=TFLITE_REF, out_dtype=np.int8,
                out_scale=1 / 256, out_zp=-128, in_dtype=np.int8):
    return ctx("SOFTMAX", [tensor(in_dtype, shape, s_in, zp_in)],
               [tensor(out_dtype, shape, out_scale, out_zp)], flavor=flavor, beta=beta)


# ------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------
def test_prepare_of_power_of_two_scale():
    # beta * s_in * 2**26 = 2**-4 * 2**26 = 2**22 = 0.5 * 2**23 -> multiplier 2**30,
    # left shift 23; diff_min = -floor(31 * 2**26 / 2**23) = -248.
    data = SOFTMAX.prepare(softmax_ctx((1, 4), 1 / 16, 0))
    assert (data.input_multiplier, data.input_left_shift, data.diff_min) == (1 << 30, 23, -248)


def test_prepare_caps_the_real_multiplier_at_int32_max():
    # 64 * 2**26 = 2**32 > 2**31 - 1: capped; QuantizeMultiplier(2**31 - 1) = (2**31 - 1, 31)
    # and the radius floor(31 * 2**26 / 2**31) = 0: only the row maximum counts.
    data = SOFTMAX.prepare(softmax_ctx((1, 4), 64.0, 0))
    assert (data.input_multiplier, data.input_left_shift, data.diff_min) == (2**31 - 1, 31, 0)


# ------------------------------------------------------------------------------------
# Hand-computed outputs
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", FLAVORS)
def test_equal_row_of_four_gives_one_quarter(flavor):
    # exp(0) = INT32_MAX; RDBPOT(INT32_MAX, 12) = 2**19; S = 4 * 2**19 = 2**21: clz 10,
    # num_bits_over_unit = 2, shifted sum = 0 -> reciprocal INT32_MAX;
    # SRDHM(INT32_MAX, INT32_MAX) = 2**31 - 2; RDBPOT(2**31 - 2, 2 + 23) = 64; 64 - 128 = -64.
    (out,) = run(SOFTMAX, softmax_ctx((1, 4), 0.1, 3, flavor=flavor), [[9, 9, 9, 9]])
    assert out.dtype == np.int8
    assert out.tolist() == [[-64, -64, -64, -64]]


def test_far_below_max_is_excluded_and_max_saturates_to_127():
    # s_in = 1/16: d = -255 < diff_min = -248 -> -128. Max alone: S = 2**19, exponent 23,
    # RDBPOT(2**31 - 2, 23) = 256 -> 128 -> clamp 127.
    (out,) = run(SOFTMAX, softmax_ctx((1, 4), 1 / 16, 0), [[127, -128, -128, -128]])
    assert out.tolist() == [[127, -128, -128, -128]]


def test_int8_to_int16_output_uses_16_bit_exponent_and_offset():
    # As the equal row of four, with exponent 2 + 31 - 16 = 17: RDBPOT(2**31 - 2, 17)
    # = 16384; 16384 - 32768 = -16384 (0.25 with scale 1/65536, zero point -32768).
    c = softmax_ctx((1, 4), 0.1, 3, out_dtype=np.int16, out_scale=1 / 65536, out_zp=-32768)
    (out,) = run(SOFTMAX, c, [[9, 9, 9, 9]])
    assert out.dtype == np.int16 and out.tolist() == [[-16384] * 4]


def test_uint8_to_uint8_offset_is_zero():
    c = softmax_ctx((1, 4), 0.1, 128, in_dtype=np.uint8, out_dtype=np.uint8, out_zp=0)
    (out,) = run(SOFTMAX, c, [[200, 200, 200, 200]])
    assert out.dtype == np.uint8 and out.tolist() == [[64, 64, 64, 64]]


def test_rows_are_the_last_axis_and_batches_are_independent():
    x = np.array([[[9, 9, 9, 9], [127, -128, -128, -128]], [[0, 0, 0, 0], [1, 1, 1, 1]]])
    (out,) = run(SOFTMAX, softmax_ctx((2, 2, 4), 1 / 16, 0), x)
    assert out.tolist() == [[[-64] * 4, [127, -128, -128, -128]], [[-64] * 4, [-64] * 4]]


# ------------------------------------------------------------------------------------
# Goldens from the real runtimes (compare/dev_check_activations.py plumbing; LiteRT
# 2.3.0 BUILTIN_REF; TFLM wheel 0.dev20261023182759 gave identical outputs)
# ------------------------------------------------------------------------------------
RUNTIME_X = [
    [-128, -100, -50, -7, 0, 7, 8, 20, 55, 90, 126, 127],
    [3] * 12,
    [-128] * 11 + [100],
]
RUNTIME_CASES = {
    "s0.0731-zp7-beta1": (0.0731, 7, 1.0, [
        [-128, -128, -128, -128, -128, -128, -128, -128, -127, -119, -9, 0],
        [-107] * 12,
        [-128] * 11 + [127]]),
    "s0.0125-zp-20-beta0.37": (0.0125, -20, 0.37, [
        [-118, -116, -113, -110, -109, -108, -108, -107, -104, -99, -94, -94],
        [-107] * 12,
        [-110] * 11 + [-75]]),
}


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", RUNTIME_CASES)
def test_matches_runtime_golden(case, flavor):
    s_in, zp, beta, want = RUNTIME_CASES[case]
    beta = float(np.float32(beta))
    (out,) = run(SOFTMAX, softmax_ctx((3, 12), s_in, zp, beta=beta, flavor=flavor), RUNTIME_X)
    assert out.tolist() == want


# ------------------------------------------------------------------------------------
# Errors: output quantization and the runtimes' aborts
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "out_scale, out_zp", [(1 / 256, -127), (1 / 255, -128), (1 / 128, -128)],
    ids=["zp-127", "scale-1/255", "scale-1/128"])
def test_wrong_int8_output_quantization_is_an_error(flavor, out_scale, out_zp):
    with pytest.raises(OpError, match="output"):
        SOFTMAX.prepare(softmax_ctx((1, 4), 0.1, 0, flavor=flavor, out_scale=out_scale,
                                    out_zp=out_zp))


def test_output_scale_tolerance_differs_between_runtimes():
    near = float(np.float32(1 / 256 * (1 + 0.0005)))  # within LiteRT's 0.1% tolerance
    SOFTMAX.prepare(softmax_ctx((1, 4), 0.1, 0, out_scale=near))
    with pytest.raises(OpError, match="exactly 1/256"):  # TFLM compares with ==
        SOFTMAX.prepare(softmax_ctx((1, 4), 0.1, 0, flavor=TFLM, out_scale=near))


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("s_in, beta", [(1e-9, 1.0), (2.0**-26, 1.0), (0.1, 0.0), (0.1, -1.0)],
                         ids=["tiny-scale", "exactly-2^-26", "beta-0", "beta-negative"])
def test_beta_times_scale_at_most_2_pow_minus_26_is_an_error_in_prepare(flavor, s_in, beta):
    # LiteRT and TFLM abort (SIGABRT) in QuantizeMultiplierGreaterThanOne here.
    with pytest.raises(OpError, match="input_beta_real_multiplier"):
        SOFTMAX.prepare(softmax_ctx((1, 4), s_in, 0, beta=beta, flavor=flavor))


def test_smallest_scale_above_the_limit_is_accepted():
    data = SOFTMAX.prepare(softmax_ctx((1, 4), 1.5e-8, 0))
    assert data.input_left_shift == 1


@pytest.mark.parametrize("flavor", FLAVORS)
def test_sum_of_512_equal_exponentials_is_an_error_in_invoke(flavor):
    # 512 * 2**19 = 2**28: num_bits_over_unit = 9, exponent 32 > 31 -> the runtimes abort.
    c = softmax_ctx((1, 512), 0.01, 0, flavor=flavor)
    with pytest.raises(OpError, match="row 0"):
        run(SOFTMAX, c, np.zeros((1, 512)))


def test_sum_of_511_equal_exponentials_is_fine():
    # 511 * 2**19: num_bits_over_unit = 8, exponent 31; 1/511 * 256 = 0.5 -> -127.
    (out,) = run(SOFTMAX, softmax_ctx((1, 511), 0.01, 0), np.zeros((1, 511)))
    assert set(out.reshape(-1).tolist()) == {-127}


def test_uint8_is_unsupported_in_tflm():
    c = softmax_ctx((1, 4), 0.1, 0, flavor=TFLM, in_dtype=np.uint8, out_dtype=np.uint8, out_zp=0)
    with pytest.raises(UnsupportedOpError):
        SOFTMAX.prepare(c)


# ------------------------------------------------------------------------------------
# float32
# ------------------------------------------------------------------------------------
def float_ctx(shape, beta=1.0):
    return ctx("SOFTMAX", [tensor(np.float32, shape)], [tensor(np.float32, shape)], beta=beta)


def test_float_equal_row_is_exactly_uniform():
    (out,) = run(SOFTMAX, float_ctx((2, 4)), [[1, 1, 1, 1], [-3, -3, -3, -3]])
    assert out.dtype == np.float32 and np.all(out == np.float32(0.25))


def test_float_beta_zero_is_uniform_and_max_is_subtracted_first():
    (out,) = run(SOFTMAX, float_ctx((1, 2), beta=0.0), [[0.0, 1e30]])
    assert out.tolist() == [[0.5, 0.5]]
    (out,) = run(SOFTMAX, float_ctx((1, 2)), [[1000.0, 1000.0]])  # no overflow: x - max
    assert out.tolist() == [[0.5, 0.5]]


def test_float_equals_a_float32_loop_in_upstream_order():
    # Loop oracle: per row, max; e_c = exp(fl32(fl32(x_c - max) * beta)) rounded once to
    # float32; sum += e_c left to right in float32; out_c = fl32(e_c / sum).
    rng = np.random.default_rng(0)
    x = rng.normal(0, 3, (20, 17)).astype(np.float32)
    beta = np.float32(0.7)
    (out,) = run(SOFTMAX, float_ctx(x.shape, beta=float(beta)), x)
    want = np.empty_like(x)
    for r, row in enumerate(x):
        mx = max(row)
        e = [np.float32(math.exp(float(np.float32(np.float32(v - mx) * beta)))) for v in row]
        total = np.float32(0)
        for v in e:
            total = np.float32(total + v)
        want[r] = [np.float32(v / total) for v in e]
    assert np.array_equal(out, want)


# ------------------------------------------------------------------------------------
# int16 -> int16 (two interpolated LUTs)
# ------------------------------------------------------------------------------------
def int16_ctx(shape, s_in, beta=1.0, flavor=TFLITE_REF, out_scale=1 / 32768, zp_in=0, zp_out=0):
    return softmax_ctx(shape, s_in, zp_in, beta, flavor, out_dtype=np.int16, out_scale=out_scale,
                       out_zp=zp_out, in_dtype=np.int16)


def lookup(v: int, lut) -> int:
    """LUTLookup on Python ints (int16 wrap of slope and result)."""
    wrap16 = lambda x: ((x + 32768) & 0xFFFF) - 32768  # noqa: E731
    index, offset = 256 + (v >> 7), v & 127
    slope = wrap16(int(lut[index + 1]) - int(lut[index]))
    return wrap16(int(lut[index]) + ((slope * offset + 64) >> 7))


def mbqm(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding) on Python ints."""
    left, right = max(shift, 0), max(-shift, 0)
    p = ((x << left) * m + (1 << 30)) >> 31
    if right == 0:
        return p
    q = math.floor(abs(p) / 2**right + 0.5)
    return q if p >= 0 else -q


def softmax_int16_row(row, data) -> list[int]:
    """reference_ops::SoftmaxInt16 for one row, Python ints, tables taken from ``data``."""
    mx = max(row)
    exps = []
    for q in row:
        z = mbqm(q - mx, data.input_multiplier, data.input_left_shift)
        exps.append(lookup(min(max(z + 32767, -32768), 32767), data.exp_lut))
    total = sum(exps)
    h = 32 - total.bit_length()  # clz32
    shifted = ((total << (h - 1)) + (1 << 13)) >> 14
    r = lookup(min(max(shifted - (1 << 15) - (1 << 16), -32768), 32767),
               data.one_over_one_plus_x_lut)
    rs = 31 - h
    return [min(max((e * r + (1 << (rs - 1))) >> rs, 0), 32767) for e in exps]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_int16_matches_a_scalar_transcription(flavor):
    rng = np.random.default_rng(3)
    x = rng.integers(-32768, 32768, (6, 11))
    x[0] = 1234  # equal row
    x[1, :] = -32768
    x[1, 3] = 32767  # one dominant element
    c = int16_ctx(x.shape, 3.1e-4, beta=1.0, flavor=flavor)
    data = SOFTMAX.prepare(c)
    (out,) = run(SOFTMAX, c, x)
    assert out.dtype == np.int16
    assert out.tolist() == [softmax_int16_row([int(v) for v in row], data) for row in x]
    # ~1.0 up to table precision; a difference beyond -10 reads the first exp entry
    # (exp(-10) * 32768 = 1.49, stored as 2 after the midpoint correction): 2 * 1.0 -> 2
    assert out[1, 3] > 32700 and out[1, 0] == 2


def test_int16_equal_row_of_two_is_one_half():
    # scaled diff 0 -> LUTLookup(32767, exp) = lut[511] + slope*127/128 ~ 32762 (exp(0));
    # the sum of two ~ 65524 normalises to ~1.0 and the reciprocal LUT gives ~0.5.
    (out,) = run(SOFTMAX, int16_ctx((1, 2), 1e-3), [[77, 77]])
    assert out.tolist()[0][0] == out.tolist()[0][1] and abs(int(out[0, 0]) - 16384) <= 8


def test_int16_input_multiplier_precision_differs_between_flavours():
    # LiteRT: fl32(s_in * beta) then / (10/65535) in double; TFLM: everything in double.
    s_in, beta = 3.1e-4, 0.7
    ref = SOFTMAX.prepare(int16_ctx((1, 4), s_in, beta))
    tflm = SOFTMAX.prepare(int16_ctx((1, 4), s_in, beta, flavor=TFLM))
    real_ref = float(np.float32(np.float32(s_in) * np.float32(beta))) / (10.0 / 65535.0)
    real_tflm = float(np.float32(s_in)) * float(np.float32(beta)) / (10.0 / 65535.0)
    assert real_ref != real_tflm
    q, e = math.frexp(real_ref)
    assert (ref.input_multiplier, ref.input_left_shift) == (round(q * 2**31), e)
    q, e = math.frexp(real_tflm)
    assert (tflm.input_multiplier, tflm.input_left_shift) == (round(q * 2**31), e)


def test_int16_tables_are_built_in_double_for_tflite_and_float_for_tflm():
    ref = SOFTMAX.prepare(int16_ctx((1, 4), 1e-3))
    tflm = SOFTMAX.prepare(int16_ctx((1, 4), 1e-3, flavor=TFLM))
    assert np.array_equal(ref.exp_lut, tflm.exp_lut)
    assert 0 < int((ref.one_over_one_plus_x_lut != tflm.one_over_one_plus_x_lut).sum()) <= 4


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "kw, match",
    [({"out_scale": 1 / 16384}, "1/32768"), ({"zp_out": 1}, "zero point 0"),
     ({"zp_in": 2}, "zero point 0")],
    ids=["scale", "zp_out", "zp_in"],
)
def test_int16_wrong_quantization_is_an_error(flavor, kw, match):
    with pytest.raises(OpError, match=match):
        SOFTMAX.prepare(int16_ctx((1, 4), 1e-3, flavor=flavor, **kw))


def test_int16_output_scale_within_tolerance_is_accepted():
    SOFTMAX.prepare(int16_ctx((1, 4), 1e-3, out_scale=1 / 32768 * (1 + 5e-4)))


def test_int16_to_int8_is_unsupported():
    c = softmax_ctx((1, 4), 1e-3, 0, in_dtype=np.int16)
    with pytest.raises(UnsupportedOpError, match="int16 -> int16"):
        SOFTMAX.prepare(c)
