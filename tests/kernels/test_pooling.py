"""MAX_POOL_2D / AVERAGE_POOL_2D: hand goldens, rounding, padding, errors, loop oracle."""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

from refimpl.context import Kernel, OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF
from refimpl.kernels import pooling

NODE = 12
F32_MAX = np.finfo(np.float32).max


def tensor(index, dtype, shape, scale=(), zero_point=()) -> TensorInfo:
    return TensorInfo(index, f"t{index}", np.dtype(dtype), tuple(shape),
                      np.asarray(scale, np.float32), np.asarray(zero_point, np.int64))


def options(filter_hw, padding=1, stride=None, act=0):
    stride = stride or filter_hw
    return types.SimpleNamespace(padding=padding, stride_h=stride[0], stride_w=stride[1],
                                 filter_height=filter_hw[0], filter_width=filter_hw[1],
                                 fused_activation_function=act)


def make_ctx(op, x_shape, opts, dtype=np.int8, scale=0.5, zp=0, out_scale=None, out_zp=None):
    quantized = dtype in (np.int8, np.int16)
    q_in = ([scale], [zp]) if quantized else ((), ())
    q_out = (([scale if out_scale is None else out_scale], [zp if out_zp is None else out_zp])
             if quantized else ((), ()))
    return OpContext(NODE, op, [tensor(0, dtype, x_shape, *q_in)],
                     [tensor(1, dtype, (0,), *q_out)], opts, TFLITE_REF)


def run(kernel: Kernel, ctx: OpContext, x: np.ndarray) -> np.ndarray:
    data = kernel.prepare(ctx)
    y = kernel.invoke(ctx, data, [x])[0]
    assert y.shape == ctx.outputs[0].shape and y.dtype == x.dtype
    return y


def max_pool(x, opts, **kw):
    return run(pooling.MAX_POOL_2D, make_ctx("MAX_POOL_2D", x.shape, opts, x.dtype.type, **kw), x)


def avg_pool(x, opts, **kw):
    return run(pooling.AVERAGE_POOL_2D,
               make_ctx("AVERAGE_POOL_2D", x.shape, opts, x.dtype.type, **kw), x)


def assert_bit_exact(actual, expected, case="", data=None):
    assert actual.shape == expected.shape, f"{case}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{case}: dtype {actual.dtype} != {expected.dtype}"
    a = actual.view(np.uint32) if actual.dtype == np.float32 else actual
    e = expected.view(np.uint32) if expected.dtype == np.float32 else expected
    bad = np.argwhere(a != e)
    if bad.size:
        i = tuple(bad[0])
        raise AssertionError(f"{case}: {len(bad)} differ; first at {i}: {actual[i]!r} != "
                             f"{expected[i]!r}\nOpData: {data}")


def grid(rows) -> np.ndarray:
    return np.array(rows).reshape(1, len(rows), len(rows[0]), 1)


# --------------------------------------------------------------------------------------
# Hand goldens
# --------------------------------------------------------------------------------------
def test_max_pool_2x2_stride_2_valid():
    x = grid([[1, 5, -3, 0], [2, -7, 4, 4], [-9, -8, 6, 1], [-6, -5, 2, 3]]).astype(np.int8)
    np.testing.assert_array_equal(max_pool(x, options((2, 2)))[0, ..., 0], [[5, 4], [-5, 6]])


def test_max_pool_same_padding_never_wins_over_negative_values():
    # every value is -100: padding (int8 lowest / skipped) must not appear in the output
    x = np.full((1, 3, 3, 1), -100, np.int8)
    y = max_pool(x, options((3, 3), padding=0, stride=(1, 1)))
    np.testing.assert_array_equal(y, -100)


@pytest.mark.parametrize("pair,expected", [
    ((1, 2), 2), ((-1, -2), -2),    # 1.5 -> 2, -1.5 -> -2 (away from zero)
    ((2, 3), 3), ((-2, -3), -3),    # 2.5 -> 3, -2.5 -> -3
    ((0, 1), 1), ((0, -1), -1),     # 0.5 -> 1, -0.5 -> -1
    ((0, 0), 0), ((127, 127), 127),
], ids=lambda v: str(v))
def test_int8_average_of_two_rounds_half_away_from_zero(pair, expected):
    # C: acc > 0 ? (acc + 1) / 2 : (acc - 1) / 2 with truncating division
    x = np.array(pair, np.int8).reshape(1, 1, 2, 1)
    assert int(avg_pool(x, options((1, 2)))[0, 0, 0, 0]) == expected


@pytest.mark.parametrize("triple,expected", [
    ((1, 1, 2), 1),      # 4/3:  (4 + 1) / 3 = 1
    ((1, 2, 2), 2),      # 5/3:  (5 + 1) / 3 = 2
    ((-1, -2, -2), -2),  # -5/3: (-5 - 1) / 3 = -2 (truncation, not floor: -6/3 exactly)
    ((-1, -1, -2), -1),  # -4/3: (-4 - 1) / 3 = -5/3 -> -1 in C (Python // would give -2)
], ids=lambda v: str(v))
def test_int8_average_of_three_uses_c_truncating_division(triple, expected):
    x = np.array(triple, np.int8).reshape(1, 1, 3, 1)
    assert int(avg_pool(x, options((1, 3)))[0, 0, 0, 0]) == expected


def test_average_pool_same_padding_divides_by_in_image_taps_only():
    # 3x3 image 1..9, 3x3 window, SAME stride 1: counts 4 (corners), 6 (edges), 9 (centre)
    # sums: 12 21 16 / 27 45 33 / 24 39 28
    # int8: 3, 3.5->4, 4 / 4.5->5, 5, 5.5->6 / 6, 6.5->7, 7; negated input rounds away too
    x = grid([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    opts = options((3, 3), padding=0, stride=(1, 1))
    expected = [[3, 4, 4], [5, 5, 6], [6, 7, 7]]
    np.testing.assert_array_equal(avg_pool(x.astype(np.int8), opts)[0, ..., 0], expected)
    np.testing.assert_array_equal(avg_pool((-x).astype(np.int8), opts)[0, ..., 0],
                                  -np.array(expected))
    y = avg_pool(x.astype(np.float32), opts)[0, ..., 0]
    np.testing.assert_array_equal(y, [[3, 3.5, 4], [4.5, 5, 5.5], [6, 6.5, 7]])


@pytest.mark.parametrize("act,expected_max,expected_avg", [
    (1, [-3, -3, 5, 120], [-3, -1, 5, 120]),   # RELU: [zp, 127]
    (3, [-3, -3, 5, 9], [-3, -1, 5, 9]),       # RELU6 at scale 0.5: [-3, -3 + 12]
    (2, [-5, -3, -1, -1], [-5, -1, -1, -1]),   # RELU_N1_TO_1: [-3 - 2, -3 + 2]
], ids=["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activation_clamps_pool_outputs(act, expected_max, expected_avg):
    # windows of 2, scale 0.5, zp -3: RELU min = -3 + 0/0.5, RELU6 max = -3 + 6/0.5 = 9,
    # RELU_N1_TO_1 = [-3 - 1/0.5, -3 + 1/0.5] = [-5, -1]
    # maxima: -100, -3, 5, 120
    x = np.array([-128, -100, -3, -3, 5, 1, 120, 110], np.int8).reshape(1, 1, 8, 1)
    x_avg = np.array([-128, -100, -2, 0, 5, 5, 120, 120], np.int8).reshape(1, 1, 8, 1)
    opts = options((1, 2), act=act)
    np.testing.assert_array_equal(max_pool(x, opts, scale=0.5, zp=-3).ravel(), expected_max)
    # averages: -114, -1, 5, 120 before the clamp
    np.testing.assert_array_equal(avg_pool(x_avg, opts, scale=0.5, zp=-3).ravel(), expected_avg)


def test_float_max_pool_follows_std_max_on_nan_and_infinity():
    # std::max(m, v) = m < v ? v : m starting at lowest: NaN never wins; all -inf -> -FLT_MAX
    x = np.array([np.nan, 1.0, -np.inf, -np.inf, 2.0, np.nan], np.float32).reshape(1, 1, 6, 1)
    y = max_pool(x, options((1, 2))).ravel()
    np.testing.assert_array_equal(y, [1.0, -F32_MAX, 2.0])


def test_float_average_pool_sums_in_float32_in_window_order():
    # 1e8 + 1 + 1 - 1e8 in float32 tap order is 0 (1e8 + 1 rounds back to 1e8); a float64
    # sum would give 2. Average = 0 / 4.
    x = np.array([1e8, 1.0, 1.0, -1e8], np.float32).reshape(1, 1, 4, 1)
    assert avg_pool(x, options((1, 4))).ravel()[0] == 0.0


# --------------------------------------------------------------------------------------
# Vectorised == loop oracle
# --------------------------------------------------------------------------------------
# (batch, h, w, c, filter, stride, padding, act)
RANDOM_CASES = {
    "2x2-s2-valid": (2, 8, 9, 3, (2, 2), (2, 2), 1, 0),
    "3x3-s2-same": (2, 9, 8, 2, (3, 3), (2, 2), 0, 0),
    "3x3-s1-same-relu": (1, 7, 6, 4, (3, 3), (1, 1), 0, 1),
    "5x4-s3x2-same-relu6": (3, 11, 9, 2, (5, 4), (3, 2), 0, 3),
    "3x2-s1x3-valid-n1to1": (2, 6, 10, 3, (3, 2), (1, 3), 1, 2),
    "window-wider-than-stride": (1, 5, 5, 1, (4, 4), (1, 1), 0, 0),
    "global-7x7-valid": (2, 7, 7, 5, (7, 7), (1, 1), 1, 0),
}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "float32"])
@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_equals_loop_oracle(name, dtype, kind):
    n, h, w, c, filt, stride, padding, act = RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}{dtype}{kind}".encode()))
    if dtype in ("int8", "int16"):
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max + 1, (n, h, w, c)).astype(dtype)
        if dtype == "int16":
            x[..., 0] = info.max  # sums of 32767s: the int32 accumulator must not saturate
    else:
        x = rng.normal(size=(n, h, w, c)).astype(np.float32)
    op = "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"
    ctx = make_ctx(op, x.shape, options(filt, padding, stride, act), x.dtype.type,
                   scale=0.02, zp=int(rng.integers(-10, 10)))
    kernel = pooling.MAX_POOL_2D if kind == "max" else pooling.AVERAGE_POOL_2D
    data = kernel.prepare(ctx)
    y = kernel.invoke(ctx, data, [x])[0]
    oracle = pooling._reference_loop_max if kind == "max" else pooling._reference_loop_average
    assert_bit_exact(y, oracle(x, data), f"{name}-{dtype}-{kind}", data)


def test_int16_max_pool_pads_with_int16_lowest_and_average_rounds_half_away():
    x = grid([[-30000, -32767], [-32768, -5]]).astype(np.int16)
    # SAME 3x3 stride 1 (pad 1 each side): every window holds -5 -> max -5 everywhere
    assert max_pool(x, options((3, 3), padding=0, stride=(1, 1)), zp=0).ravel().tolist() == [-5] * 4
    # 2x2 VALID average: (-30000 - 32767 - 32768 - 5) / 4 = -23885 exactly
    assert avg_pool(x, options((2, 2)), zp=0).ravel().tolist() == [-23885]
    # (32767 + 32766) / 2 = 32766.5 -> 32767 (half away); (-3 - 2) / 2 = -2.5 -> -3
    y = grid([[32767, 32766, -3, -2]]).astype(np.int16)
    assert avg_pool(y, options((1, 2)), zp=0).ravel().tolist() == [32767, -3]


def test_int16_relu6_clamps_to_quantized_six():
    # scale 2**-10: Q(6) = 6144; RELU6 also clamps negatives to Q(0) = 0
    x = grid([[7000, -100], [50, 6000]]).astype(np.int16)
    got = max_pool(x, options((1, 1), stride=(1, 1), act=3), scale=2.0**-10, zp=0)
    assert got.ravel().tolist() == [6144, 0, 50, 6000]


def test_valid_window_larger_than_input_gives_empty_output():
    x = np.zeros((2, 3, 3, 4), np.int8)
    assert max_pool(x, options((4, 4))).shape == (2, 0, 0, 4)
    assert avg_pool(x.astype(np.float32), options((4, 4))).shape == (2, 0, 0, 4)


# --------------------------------------------------------------------------------------
# Bad models
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: make_ctx("AVERAGE_POOL_2D", (1, 4, 4, 1), options((2, 2)), out_scale=0.25),
     "must share scale and zero point"),
    (lambda: make_ctx("AVERAGE_POOL_2D", (1, 4, 4, 1), options((2, 2)), out_zp=3),
     "must share scale and zero point"),
    (lambda: make_ctx("MAX_POOL_2D", (4, 4, 1), options((2, 2))), "must be 4-D"),
    (lambda: make_ctx("MAX_POOL_2D", (1, 4, 4, 1), options((0, 2), stride=(1, 1))),
     "filter size must be > 0"),
    (lambda: make_ctx("MAX_POOL_2D", (1, 4, 4, 1), None), "strides must be > 0"),
], ids=["scale-mismatch", "zp-mismatch", "rank", "filter-0", "no-options"])
def test_bad_models_raise_op_error_naming_the_node(make, match):
    with pytest.raises(OpError, match=f"node {NODE} .*{match}"):
        pooling.prepare(make())


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_int16_scale_mismatch_is_an_error(op):
    ctx = make_ctx(op, (1, 4, 4, 1), options((2, 2)), np.int16, scale=1e-3, out_scale=2e-3)
    with pytest.raises(OpError, match="must share scale and zero point"):
        pooling.prepare(ctx)


def test_uint8_is_unsupported():
    ctx = make_ctx("MAX_POOL_2D", (1, 4, 4, 1), options((2, 2)))
    ctx.inputs[0].dtype = ctx.outputs[0].dtype = np.dtype(np.uint8)
    with pytest.raises(UnsupportedOpError, match=f"node {NODE}"):
        pooling.prepare(ctx)
