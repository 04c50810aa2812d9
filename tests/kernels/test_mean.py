"""MEAN and SUM kernels: shapes and axes, the pre-divided multiplier, goldens, float order."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.mean import MEAN, SUM

FLAVORS = [pytest.param(TFLITE_REF, id="ref"), pytest.param(TFLM, id="tflm")]


def reduce_ctx(op, shape, axes, keep_dims=False, s_in=1.0, zp_in=0, s_out=1.0, zp_out=0,
               dtype=np.int8, flavor=TFLITE_REF, out_shape=None):
    quantized = dtype != np.float32
    x = tensor(dtype, shape, s_in if quantized else None, zp_in)
    axis = tensor(np.int32, (len(axes),), data=axes)
    out = tensor(dtype, out_shape or (1,), s_out if quantized else None, zp_out)
    return ctx(op, [x, axis], [out], flavor=flavor, keep_dims=keep_dims)


def mean_of(values, flavor=TFLITE_REF, **kw):
    values = np.asarray(values)
    c = reduce_ctx("MEAN", values.shape, [-1], flavor=flavor, **kw)
    return run(MEAN, c, values, None)[0]


# ------------------------------------------------------------------------------------
# Output shapes and axes
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "axes, keep_dims, out_shape",
    [([1, 2], False, (2, 5)), ([1, 2], True, (2, 1, 1, 5)), ([-1], False, (2, 3, 4)),
     ([2, -3, 1], True, (2, 1, 1, 5)), ([], False, (2, 3, 4, 5)), ([0, 1, 2, 3], False, ())],
    ids=["hw", "hw-keep", "negative", "duplicates-keep", "no-axes", "all"],
)
def test_output_shape(axes, keep_dims, out_shape):
    c = reduce_ctx("MEAN", (2, 3, 4, 5), axes, keep_dims)
    data = MEAN.prepare(c)
    assert c.outputs[0].shape == out_shape
    assert data.axes == tuple(sorted({a % 4 for a in axes}))


def test_axis_out_of_range_is_an_error():
    with pytest.raises(OpError, match="out of range"):
        MEAN.prepare(reduce_ctx("MEAN", (2, 3), [2]))


def test_non_constant_axis_is_unsupported():
    c = ctx("MEAN", [tensor(np.int8, (2, 3), 1.0, 0), tensor(np.int32, (1,))],
            [tensor(np.int8, (2,), 1.0, 0)], keep_dims=False)
    with pytest.raises(UnsupportedOpError, match="constant"):
        MEAN.prepare(c)


def test_int16_needs_zero_zero_points():
    with pytest.raises(OpError, match="zero points"):
        MEAN.prepare(reduce_ctx("MEAN", (2, 3), [1], dtype=np.int16, zp_in=1))


def test_uint8_is_unsupported_in_tflm():
    with pytest.raises(UnsupportedOpError):
        MEAN.prepare(reduce_ctx("MEAN", (2, 3), [1], dtype=np.uint8, zp_in=128, flavor=TFLM))


# ------------------------------------------------------------------------------------
# Multiplier pre-divided by n
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape, s_in, s_out, multiplier, shift",
    [
        # ratio 1 = 2**30 * 2**(1-31); n = 4: k = 2, m = (2**30 << 2) // 4 = 2**30, shift -1.
        ((1, 4), 1.0, 1.0, 1 << 30, -1),
        # n = 3: k = 1, m = 2**31 // 3 = 715827882 (truncated), shift 0.
        ((1, 3), 1.0, 1.0, 715827882, 0),
        # ratio 2**-30 = 2**30 * 2**(-29-31): 31 + s0 = 2 caps k (floor(log2 16) = 4):
        # m = (2**30 << 2) // 16 = 2**28, shift -29 - 2 = -31.
        ((1, 16), 2.0**-30, 1.0, 1 << 28, -31),
        # n = 2**34: k capped at 32: m = (2**30 << 32) // 2**34 = 2**28, shift 1 - 32 = -31.
        ((1, 2**34), 1.0, 1.0, 1 << 28, -31),
    ],
    ids=["n4", "n3-truncates", "k-capped-by-shift", "k-capped-at-32"],
)
def test_prepare_folds_one_over_n_into_the_multiplier(shape, s_in, s_out, multiplier, shift):
    data = MEAN.prepare(reduce_ctx("MEAN", shape, [1], s_in=s_in, s_out=s_out))
    assert (data.output_multiplier, data.output_shift) == (multiplier, shift)


# ------------------------------------------------------------------------------------
# Hand-computed outputs
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "values, want",
    [
        # S = 10: SRDHM(10, 2**30) = 5; RDBPOT(5, 1) = 3 (2.5 -> away from zero).
        ([1, 2, 3, 4], 3),
        # S = -10: SRDHM(-10, 2**30) = floor(-4.5) = -5; RDBPOT(-5, 1) = -3 (-2.5 -> -3).
        ([-1, -2, -3, -4], -3),
        # S = 4, n = 3: SRDHM(4, 715827882) = floor(1.83) = 1.
        ([1, 1, 2], 1),
        ([127, 127, 127], 127),
    ],
    ids=["2.5", "-2.5", "4/3", "max"],
)
def test_hand_values(values, want, flavor):
    assert mean_of([values], flavor).tolist() == [want]


def test_zero_points_are_removed_and_added():
    # S - zp_in * n = 15 - 5 * 3 = 0 -> 0 + zp_out = -3.
    assert mean_of([[5, 5, 5]], zp_in=5, zp_out=-3).tolist() == [-3]


# Golden from the real runtimes: s_in 0.05, zp_in 3, s_out 0.0213, zp_out -7, axis 1 of
# (6, 3) (LiteRT 2.3.0 BUILTIN_REF and the TFLM wheel agree).
RUNTIME_X = [[111, -107, -42], [-128, -128, -127], [127, 127, 126], [0, 1, 2], [5, 6, 7],
             [-60, 33, 90]]
RUNTIME_Y = [-44, -128, 127, -12, 0, 35]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_matches_runtime_golden(flavor):
    c = reduce_ctx("MEAN", (6, 3), [1], s_in=0.05, zp_in=3, s_out=0.0213, zp_out=-7,
                   flavor=flavor)
    assert run(MEAN, c, RUNTIME_X, None)[0].tolist() == RUNTIME_Y


# ------------------------------------------------------------------------------------
# SUM: LiteRT's reference kernel reads int8 as uint8
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "values, litert, tflm",
    [
        # bytes 100 + 100 = 200 -> byte 200 = int8 -56;  TFLM: 200 -> clamp 127.
        ([100, 100], -56, 127),
        # bytes 156 + 156 = 312 -> clamp 255 = int8 -1; TFLM: -200 -> clamp -128.
        ([-100, -100], -1, -128),
        ([3, 4], 7, 7),
    ],
    ids=["positive", "negative", "small"],
)
def test_sum_int8_litert_reads_uint8_bytes_tflm_reads_int8(values, litert, tflm):
    for flavor, want in ((TFLITE_REF, litert), (TFLM, tflm)):
        c = reduce_ctx("SUM", (1, 2), [1], flavor=flavor)
        assert run(SUM, c, [values], None)[0].tolist() == [want]


def test_sum_matches_runtime_golden():
    # s_in 0.02, zp_in 4, s_out 0.05, zp_out -10, axis 1 of (2, 6), from both runtimes.
    x = [[100, 27, -5, 60, -128, 90], [-100, -100, -100, 0, 0, 0]]
    for flavor, want in ((TFLITE_REF, [-13, -88]), (TFLM, [38, -128])):
        c = reduce_ctx("SUM", (2, 6), [1], s_in=0.02, zp_in=4, s_out=0.05, zp_out=-10,
                       flavor=flavor)
        assert run(SUM, c, x, None)[0].tolist() == want


# ------------------------------------------------------------------------------------
# float32
# ------------------------------------------------------------------------------------
def test_float_sum_is_sequential_left_to_right():
    # 1 + 2**-24 rounds back to 1 (a tie, to even) at every step, so the sequential sum
    # stays 1 and the mean is fl32(1/5); an exact or pairwise sum would give 1 + 2**-22.
    x = np.array([[1.0] + [2.0**-24] * 4], np.float32)
    c = reduce_ctx("MEAN", (1, 5), [1], dtype=np.float32)
    (out,) = run(MEAN, c, x, None)
    assert out.dtype == np.float32 and out[0] == np.float32(np.float32(1) / np.float32(5))
    (total,) = run(SUM, reduce_ctx("SUM", (1, 5), [1], dtype=np.float32), x, None)
    assert total[0] == np.float32(1)


def test_float_mean_over_several_axes_uses_input_order():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    c = reduce_ctx("MEAN", (2, 3, 4), [2, 0], keep_dims=True, dtype=np.float32)
    (out,) = run(MEAN, c, x, None)
    assert out.shape == (1, 3, 1) and out.reshape(-1).tolist() == [7.5, 11.5, 15.5]


@pytest.mark.parametrize("flavor, fill", [(TFLITE_REF, "nan"), (TFLM, 0.0)], ids=["ref", "tflm"])
def test_float_mean_of_empty_input(flavor, fill):
    c = reduce_ctx("MEAN", (2, 0), [1], dtype=np.float32, flavor=flavor)
    (out,) = run(MEAN, c, np.zeros((2, 0), np.float32), None)
    assert out.shape == (2,)
    assert np.all(np.isnan(out)) if fill == "nan" else np.all(out == 0)


# ------------------------------------------------------------------------------------
# int16
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", FLAVORS)
def test_int16_mean_rounds_the_prescaled_sum(flavor):
    # s_in = s_out: m0, s0 = (2**30, 1); n = 3 -> k = 1, multiplier (2**31 // 3) = 715827882,
    # shift 0. S = 10 + 20 + 31 = 61 -> MBQM(61, 715827882, 0) = 20.33 -> 20
    c = reduce_ctx("MEAN", (1, 3), [1], s_in=1e-3, s_out=1e-3, dtype=np.int16, flavor=flavor)
    assert run(MEAN, c, np.array([[10, 20, 31]]), None)[0].tolist() == [20]


def test_int16_sum_is_refused_for_litert_and_computed_for_tflm():
    # LiteRT's reference SUM reads int16 as uint8 bytes and leaves half the output stale.
    c = reduce_ctx("SUM", (1, 3), [1], s_in=1e-3, s_out=1e-2, dtype=np.int16)
    with pytest.raises(UnsupportedOpError, match="int16 SUM"):
        SUM.prepare(c)
    c = reduce_ctx("SUM", (1, 3), [1], s_in=1e-3, s_out=1e-2, dtype=np.int16, flavor=TFLM)
    # S = 3045; 0.1 = 0.8 * 2**-3 -> m = round(0.8 * 2**31) = 1717986918, shift -3;
    # SRDHM(3045, m) = floor((3045*m + 2**30) / 2**31) = 2436; RDBPOT(2436, 3) = 304.5 -> 305
    assert run(SUM, c, np.array([[1000, 2345, -300]]), None)[0].tolist() == [305]


# ------------------------------------------------------------------------------------
# LiteRT optimized kernels (flavour tflite-builtin; XNNPACK falls back to them here)
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavor", [pytest.param(TFLITE_BUILTIN, id="builtin"),
                                    pytest.param(XNNPACK, id="xnnpack-fallback-int16")])
def test_optimized_int16_sum_is_a_float_scaled_int16_sum(flavor):
    # Optimized SUM: scale = fl32(1e-3 / 1e-2) = 0.1 (float32), bias = -0 * 0.1 * 3 = 0;
    # S = 1000 + 2345 - 300 = 3045 -> 3045 * 0.1f = 304.5 (float32) -> round half away = 305.
    # (XNNPACK has no int16 SUM, so the xnnpack flavour takes the same path.)
    c = reduce_ctx("SUM", (1, 3), [1], s_in=1e-3, s_out=1e-2, dtype=np.int16, flavor=flavor)
    assert run(SUM, c, np.array([[1000, 2345, -300]]), None)[0].tolist() == [305]


def test_optimized_int8_sum_rounds_ties_away_where_ref_rounds_them_up():
    # s_in 0.5, s_out 1, zero points 0 (the tie of measured case SUM-int8-g2-q2, which
    # differed by one before this path existed). Codes -100, -100, -2, -5: S = -207.
    # OPT (float): scale 0.5f, bias 0 -> -207 * 0.5 = -103.5 -> std::round -> -104.
    # REF / TFLM: m = 2**30, shift 0 -> SRDHM(-207, 2**30)
    #   = trunc((-207 * 2**30 + 1 - 2**30) / 2**31) = trunc(-103.99..) = -103.
    x = np.array([[-100, -100, -2, -5]])
    for flavor, want in ((TFLITE_BUILTIN, -104), (TFLM, -103)):
        c = reduce_ctx("SUM", (1, 4), [1], s_in=0.5, s_out=1.0, flavor=flavor)
        assert run(SUM, c, x, None)[0].tolist() == [want]


def test_optimized_mean_hw_tail_channels_use_the_two_rounding_multiplier():
    # keep_dims, rank 4, axes {1, 2}, 17 channels: channels 0..15 are one 16-wide block
    # ((D) rounding), channel 16 is MeanImpl's scalar tail ((A) rounding).
    # n = 2, s_in 1, s_out 2: real = 1 / (2 * 2) = 0.25 -> m = 2**30, shift -1, bias 0.
    # Every channel sums to S = -1 + -1 = -2 (true mean -0.5).
    # (D): rounding doubling high mul (2 * -2 * 2**30 + 2**31) >> 32 = -1, then the
    #      rounding right shift by 1: (-1 + 1) >> 1 = 0.
    # (A): SRDHM(-2, 2**30) = -1 exactly, RDBPOT(-1, 1) = -0.5 away from zero = -1.
    x = np.full((1, 1, 2, 17), -1, np.int8)
    c = reduce_ctx("MEAN", (1, 1, 2, 17), [1, 2], keep_dims=True, s_in=1.0, s_out=2.0,
                   flavor=TFLITE_BUILTIN, out_shape=(1, 1, 1, 17))
    y = run(MEAN, c, x, None)[0].reshape(-1).tolist()
    assert y == [0] * 16 + [-1]


def test_uint8_mean_under_xnnpack_rounds_half_to_even_ref_rounds_half_up():
    # uint8, s_in = s_out = 1, zero points 128, n = 2, codes 128 and 129: S = 257.
    # XNNPACK qu8 mean: sc = fl32(1 * fl32(1/2)) = 0.5, yzp = fl32(128 - fl32(256 * 0.5)) = 0,
    #   out = rne(257 * 0.5 + 0) = rne(128.5) = 128.
    # REF: S - zp * n = 1; m0, s0 = 2**30, 1; k = 1 -> m = (2**30 << 1) // 2 = 2**30, shift 0:
    #   SRDHM(1, 2**30) = (2**30 + 2**30) >> 31 = 1 -> 1 + 128 = 129.
    x = np.array([[128, 129]])
    for flavor, want in ((XNNPACK, 128), (TFLITE_REF, 129)):
        c = reduce_ctx("MEAN", (1, 2), [1], zp_in=128, zp_out=128, dtype=np.uint8, flavor=flavor)
        assert run(MEAN, c, x, None)[0].tolist() == [want]
