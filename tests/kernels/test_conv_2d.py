"""CONV_2D kernel: hand goldens, rounding ties, clamps, errors, vectorised == loop oracle."""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

from refimpl.context import OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM
from refimpl.kernels import conv_2d

NODE = 7


def tensor(index, dtype, shape, scale=(), zero_point=(), qdim=0, data=None) -> TensorInfo:
    return TensorInfo(index, f"t{index}", np.dtype(dtype), tuple(shape),
                      np.asarray(scale, np.float32), np.asarray(zero_point, np.int64), qdim,
                      None if data is None else np.asarray(data))


def options(padding=1, stride=(1, 1), dilation=(1, 1), act=0):
    return types.SimpleNamespace(padding=padding, stride_h=stride[0], stride_w=stride[1],
                                 dilation_h_factor=dilation[0], dilation_w_factor=dilation[1],
                                 fused_activation_function=act)


def int8_ctx(x_shape, w, bias=None, *, s_in=0.5, zp_in=0, s_w=(0.25,), s_out=1.0, zp_out=0,
             opts=None, qdim=0, w_zp=None) -> OpContext:
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.int8, x_shape, [s_in], [zp_in]),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size) if w_zp is None else w_zp,
                     qdim, w)]
    if bias is not None:
        bias = np.asarray(bias, np.int32)
        inputs.append(tensor(2, np.int32, bias.shape, s_in * s_w, np.zeros(s_w.size), 0, bias))
    out = tensor(3, np.int8, (0,), [s_out], [zp_out])
    return OpContext(NODE, "CONV_2D", inputs, [out], opts or options(), TFLITE_REF)


def run(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    data = conv_2d.prepare(ctx)
    arrays = [x] + [t.data for t in ctx.inputs[1:]]
    y = conv_2d.invoke(ctx, data, arrays)[0]
    assert y.shape == ctx.outputs[0].shape
    return y


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


# --------------------------------------------------------------------------------------
# Hand-computed goldens
# --------------------------------------------------------------------------------------
def test_tiny_valid_conv_matches_hand_arithmetic():
    # x (zp_in = 1): [[1,2,3],[4,5,6],[7,8,9]]  ->  x - zp = [[0,1,2],[3,4,5],[6,7,8]]
    # w = [[1,2],[3,4]], bias 5; S_in*S_w/S_out = 0.5*0.25/1 = 1/8 -> m = 2**30, shift = -2
    # acc = 0*1+1*2+3*3+4*4 + 5 = 32 | 1+4+12+20 + 5 = 42 | 3+8+18+28 + 5 = 62 | 4+10+21+32 + 5 = 72
    # srdhm(acc, 2**30) = floor((acc + 1) / 2): 16, 21, 31, 36
    # round_half_away(. / 4): 4, 5 (5.25), 8 (7.75), 9;  + zp_out (-3): 1, 2, 5, 6
    x = np.arange(1, 10, dtype=np.int8).reshape(1, 3, 3, 1)
    w = np.array([1, 2, 3, 4]).reshape(1, 2, 2, 1)
    ctx = int8_ctx(x.shape, w, [5], zp_in=1, zp_out=-3)
    y = run(ctx, x)
    np.testing.assert_array_equal(y.reshape(2, 2), [[1, 2], [5, 6]])


def test_same_padding_skips_out_of_image_taps():
    # 3x3 input of ones (zp_in = -2, so x - zp = 3), 3x3 filter of ones, SAME, stride 1:
    # corners see 4 taps (acc 12), edges 6 (18), centre 9 (27). Real multiplier 1 (0.5*2/1).
    x = np.ones((1, 3, 3, 1), np.int8)
    w = np.ones((1, 3, 3, 1))
    ctx = int8_ctx(x.shape, w, None, zp_in=-2, s_w=(2.0,), opts=options(padding=0))
    y = run(ctx, x)
    np.testing.assert_array_equal(y.reshape(3, 3), [[12, 18, 12], [18, 27, 18], [12, 18, 12]])


@pytest.mark.parametrize("acc,expected", [
    (8, 1), (-8, -1),      # 0.5 -> away from zero
    (24, 2), (-24, -2),    # 1.5
    (40, 3), (-40, -3),    # 2.5
    (7, 1),                # 0.4375: srdhm gives floor(8/2) = 4, 4/8 = 0.5 -> 1 (double rounding)
    (-7, 0),               # srdhm floor(-6/2) = -3, -3/8 = -0.375 -> 0
    (9, 1), (-9, -1),      # 0.5625
], ids=lambda v: str(v))
def test_rounding_ties_follow_gemmlowp_double_rounding(acc, expected):
    # 1x1 conv, weight 1, zp 0: acc = x. S_in*S_w/S_out = 0.5*0.125/1 = 2**-4:
    # multiplier 2**30, shift -3: srdhm(acc, 2**30) = floor((acc+1)/2), then /8 half away.
    x = np.array(acc, np.int8).reshape(1, 1, 1, 1)
    ctx = int8_ctx(x.shape, np.ones((1, 1, 1, 1)), None, s_w=(0.125,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == expected


@pytest.mark.parametrize("act,expected", [
    (0, [-128, -13, -3, 3, 7, 124]),  # -128 - 3 saturates at -128
    (1, [-3, -3, -3, 3, 7, 124]),    # RELU: min = zp_out + round(0/1) = -3
    (3, [-3, -3, -3, 3, 3, 3]),      # RELU6: max = -3 + round(6/1) = 3
    (2, [-4, -4, -3, -2, -2, -2]),   # RELU_N1_TO_1: [-3 - 1, -3 + 1]
], ids=["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activation_clamps_in_the_output_domain(act, expected):
    # weight 1, real multiplier 1 (0.5 * 2 / 1): y = x + zp_out(-3)
    x = np.array([-128, -10, 0, 6, 10, 127], np.int8).reshape(1, 1, 6, 1)
    ctx = int8_ctx(x.shape, np.ones((1, 1, 1, 1)), None, s_w=(2.0,), zp_out=-3,
                   opts=options(act=act))
    np.testing.assert_array_equal(run(ctx, x).ravel(), expected)


def test_per_channel_scales_apply_per_output_channel():
    # same weight 1 on 3 output channels, filter scales 0.5, 1, 2 (S_in 1, S_out 1):
    # x = 10 -> 5, 10, 20
    x = np.full((1, 1, 1, 1), 10, np.int8)
    ctx = int8_ctx(x.shape, np.ones((3, 1, 1, 1)), None, s_in=1.0, s_w=(0.5, 1.0, 2.0))
    np.testing.assert_array_equal(run(ctx, x).ravel(), [5, 10, 20])


def test_grouped_conv_reads_its_own_input_channels():
    # C_in 4, filter depth 2 -> 2 groups; out channel 0 (group 0) sums ch 0,1; out 1 sums ch 2,3
    x = np.array([1, 2, 30, 40], np.int8).reshape(1, 1, 1, 4)
    ctx = int8_ctx(x.shape, np.ones((2, 1, 1, 2)), None, s_w=(2.0,))
    np.testing.assert_array_equal(run(ctx, x).ravel(), [3, 70])


def test_int32_accumulator_wraps_like_c():
    # bias INT32_MAX + acc 1 wraps to INT32_MIN; real multiplier 0.5 (m = 2**30, shift 0):
    # srdhm(-2**31, 2**30) = -2**30 -> clamp -128 (without the wrap: +2**30 -> 127)
    x = np.ones((1, 1, 1, 1), np.int8)
    ctx = int8_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**31 - 1], s_w=(1.0,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == -128


def test_float_conv_adds_bias_and_clamps():
    # 1x1 conv: y = 2*x + 0.5, RELU6
    x = np.array([-1.0, 0.5, 1.0, 4.0], np.float32).reshape(1, 1, 4, 1)
    w = np.full((1, 1, 1, 1), 2.0, np.float32)
    b = np.array([0.5], np.float32)
    ctx = OpContext(NODE, "CONV_2D", [tensor(0, np.float32, x.shape),
                                      tensor(1, np.float32, w.shape, data=w),
                                      tensor(2, np.float32, b.shape, data=b)],
                    [tensor(3, np.float32, (0,))], options(act=3), TFLITE_REF)
    np.testing.assert_array_equal(run(ctx, x).ravel(), [0.0, 1.5, 2.5, 6.0])


def test_valid_filter_larger_than_input_gives_empty_output():
    x = np.zeros((2, 2, 2, 1), np.int8)
    ctx = int8_ctx(x.shape, np.ones((3, 3, 3, 1)), [0, 0, 0], opts=options(padding=1))
    assert run(ctx, x).shape == (2, 0, 0, 3)


# --------------------------------------------------------------------------------------
# Vectorised path == loop oracle on random cases
# --------------------------------------------------------------------------------------
# (batch, h, w, c_in, c_out, kh, kw, stride, dilation, padding, groups, per_channel, act, bias)
RANDOM_CASES = {
    "3x3-same-s1": (2, 7, 6, 3, 4, 3, 3, (1, 1), (1, 1), 0, 1, True, 0, True),
    "3x3-valid-s2": (2, 9, 8, 2, 3, 3, 3, (2, 2), (1, 1), 1, 1, True, 1, True),
    "5x3-same-s3x2": (1, 11, 7, 2, 2, 5, 3, (3, 2), (1, 1), 0, 1, False, 0, True),
    "3x3-same-d2": (2, 8, 9, 2, 3, 3, 3, (1, 1), (2, 2), 0, 1, True, 3, True),
    "2x3-valid-d3x2": (1, 10, 9, 3, 2, 2, 3, (1, 2), (3, 2), 1, 1, False, 2, False),
    "1x1-s2": (3, 5, 5, 4, 5, 1, 1, (2, 2), (1, 1), 0, 1, True, 0, True),
    "4x4-same-even": (1, 6, 7, 2, 3, 4, 4, (1, 1), (1, 1), 0, 1, True, 0, True),
    "grouped-g2": (2, 6, 6, 4, 6, 3, 3, (1, 1), (1, 1), 0, 2, True, 0, True),
    "grouped-g3-s2": (1, 7, 5, 6, 3, 2, 2, (2, 1), (1, 1), 1, 3, False, 1, True),
    "depthwise-like-g4": (1, 5, 5, 4, 4, 3, 3, (1, 1), (1, 1), 0, 4, True, 0, False),
    "odd-sizes": (2, 5, 3, 5, 7, 3, 2, (2, 3), (1, 1), 0, 1, True, 0, True),
}


def random_case(spec, seed):
    (n, h, w, c_in, c_out, kh, kw, stride, dil, padding, groups, per_channel, act,
     has_bias) = spec
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (n, h, w, c_in), dtype=np.int8)
    filt = rng.integers(-127, 128, (c_out, kh, kw, c_in // groups), dtype=np.int8)
    bias = rng.integers(-20000, 20000, c_out, dtype=np.int32) if has_bias else None
    # output scale chosen so the clamp range of each activation holds many levels
    s_w = rng.uniform(0.002, 0.02, c_out if per_channel else 1) / np.sqrt(kh * kw * c_in)
    s_out = {0: 0.05, 1: 0.05, 2: 0.01, 3: 0.03}[act] * rng.uniform(0.8, 1.2)
    ctx = int8_ctx(x.shape, filt, bias, s_in=0.05, zp_in=int(rng.integers(-20, 20)), s_w=s_w,
                   s_out=s_out, zp_out=int(rng.integers(-10, 10)),
                   opts=options(padding, stride, dil, act))
    return ctx, x


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_int8_equals_loop_oracle(name):
    ctx, x = random_case(RANDOM_CASES[name], seed=zlib.crc32(name.encode()))
    data = conv_2d.prepare(ctx)
    w, b = ctx.inputs[1].data, ctx.inputs[2].data if len(ctx.inputs) > 2 else None
    y = conv_2d.invoke(ctx, data, [x, w, b])[0]
    assert len(np.unique(y)) > 10, "degenerate case: output saturated"
    assert_bit_exact(y, conv_2d._reference_loop_int8(x, w, b, data), name, data)


@pytest.mark.parametrize("name", ["3x3-same-s1", "3x3-valid-s2", "3x3-same-d2", "grouped-g2",
                                  "odd-sizes"])
def test_vectorised_float_equals_loop_oracle_bit_for_bit(name):
    spec = RANDOM_CASES[name]
    n, h, w_, c_in, c_out, kh, kw, stride, dil, padding, groups, _, act, has_bias = spec
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, h, w_, c_in)).astype(np.float32)
    w = rng.normal(size=(c_out, kh, kw, c_in // groups)).astype(np.float32)
    b = rng.normal(size=c_out).astype(np.float32) if has_bias else None
    inputs = [tensor(0, np.float32, x.shape), tensor(1, np.float32, w.shape, data=w)]
    if b is not None:
        inputs.append(tensor(2, np.float32, b.shape, data=b))
    ctx = OpContext(NODE, "CONV_2D", inputs, [tensor(3, np.float32, (0,))],
                    options(padding, stride, dil, act), TFLITE_REF)
    data = conv_2d.prepare(ctx)
    y = conv_2d.invoke(ctx, data, [x, w, b])[0]
    assert_bit_exact(y, conv_2d._reference_loop_float(x, w, b, data), name, data)


def test_large_column_sums_switch_the_gemm_to_float64_and_stay_exact():
    # K = 3*3*64 = 576 taps of |w| = 127: 255 * 73152 > 2**24, so float32 is not provably exact
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 5, 5, 64), dtype=np.int8)
    w = rng.choice(np.array([-127, 127], np.int8), (2, 3, 3, 64))
    ctx = int8_ctx(x.shape, w, [0, 0], s_in=1.0, zp_in=-128, s_w=(1e-5, 2e-5), s_out=1.0,
                   opts=options(padding=1))
    data = conv_2d.prepare(ctx)
    assert data.gemm_dtype is np.float64
    y = conv_2d.invoke(ctx, data, [x, w, ctx.inputs[2].data])[0]
    assert_bit_exact(y, conv_2d._reference_loop_int8(x, w, ctx.inputs[2].data, data))


@pytest.mark.parametrize("budget", [1, 700, 5000], ids=["per-row", "row-blocks", "images"])
def test_chunked_im2col_gives_the_same_result(monkeypatch, budget):
    ctx, x = random_case((4, 9, 7, 3, 5, 3, 3, (1, 1), (1, 1), 0, 1, True, 0, True), seed=9)
    data = conv_2d.prepare(ctx)
    arrays = [x, ctx.inputs[1].data, ctx.inputs[2].data]
    whole = conv_2d.invoke(ctx, data, arrays)[0]
    monkeypatch.setattr(conv_2d, "_GEMM_CHUNK_BYTES", budget)
    monkeypatch.setattr(conv_2d, "_FLOAT_CHUNK_BYTES", budget)
    assert_bit_exact(conv_2d.invoke(ctx, data, arrays)[0], whole)


# --------------------------------------------------------------------------------------
# Bad models
# --------------------------------------------------------------------------------------
def _bad(**kw) -> OpContext:
    args = dict(x_shape=(1, 4, 4, 2), w=np.ones((3, 2, 2, 2)), bias=[0, 0, 0])
    args.update(kw)
    return int8_ctx(**args)


@pytest.mark.parametrize("make,match", [
    (lambda: _bad(w_zp=[0, 1, 0], s_w=(0.1, 0.1, 0.1)), "filter zero points must be 0"),
    (lambda: _bad(s_w=(0.1, 0.2)), "filter has 2 scales; expected 1 or 3"),
    (lambda: _bad(s_w=(0.1, 0.2, 0.3), qdim=3), "quantized along axis 3; expected axis 0"),
    (lambda: _bad(x_shape=(4, 4, 2)), "must be 4-D"),
    (lambda: _bad(w=np.ones((3, 2, 2, 3))), "not a multiple of filter depth"),
    (lambda: _bad(w=np.ones((3, 2, 2, 1)), bias=[0, 0, 0]), "do not split into 2 groups"),
    (lambda: _bad(bias=[0, 0]), "must have 3 elements"),
    (lambda: _bad(opts=options(stride=(0, 1))), "strides must be > 0"),
], ids=["filter-zp", "scale-count", "scale-axis", "input-rank", "depth", "groups", "bias-size",
        "stride"])
def test_bad_models_raise_op_error_naming_the_node(make, match):
    ctx = make()
    with pytest.raises(OpError, match=f"node {NODE} \\(CONV_2D\\): .*{match}"):
        conv_2d.prepare(ctx)


def test_uint8_and_tanh_are_unsupported():
    ctx = _bad()
    ctx.inputs[0].dtype = np.dtype(np.uint8)
    with pytest.raises(UnsupportedOpError, match=f"node {NODE}"):
        conv_2d.prepare(ctx)
    with pytest.raises(UnsupportedOpError, match="fused activation 4"):
        conv_2d.prepare(_bad(opts=options(act=4)))


# --------------------------------------------------------------------------------------
# 16x8: int16 activations, int8 filter, int64 (or int32) bias
# --------------------------------------------------------------------------------------
def options16(padding=1, stride=(1, 1), dilation=(1, 1), act=0, qbt=0):
    o = options(padding, stride, dilation, act)
    o.quantized_bias_type = qbt  # schema TensorType: 0 unset (FLOAT32), 2 INT32, 4 INT64
    return o


def int16_ctx(x_shape, w, bias=None, *, bias_dtype=np.int64, s_in=1.0, zp_in=0,
              s_w=(0.5,), s_out=1.0, zp_out=0, opts=None, flavor=TFLITE_REF) -> OpContext:
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.int16, x_shape, [s_in], [zp_in]),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size), 0, w)]
    if bias is not None:
        bias = np.asarray(bias, bias_dtype)
        inputs.append(tensor(2, bias_dtype, bias.shape, s_in * s_w, np.zeros(s_w.size), 0,
                             bias))
    out = tensor(3, np.int16, (0,), [s_out], [zp_out])
    default = options16(qbt=2 if bias_dtype == np.int32 else 0)
    return OpContext(NODE, "CONV_2D", inputs, [out], opts or default, flavor)


@pytest.mark.parametrize("x_val,with_int64,with_int32", [
    (6, 2, 2),      # 1.5: half up (C) and half away (A) agree
    (-6, -1, -2),   # -1.5: variant C rounds half up, variant A away from zero
    (-10, -2, -3),  # -2.5
    (-2, 0, -1),    # -0.5
    (14, 4, 4),     # 3.5
    (-8, -2, -2),   # exact
], ids=lambda v: str(v))
def test_16x8_accumulator_type_selects_the_rounding(x_val, with_int64, with_int32):
    # 1x1 conv, weight 1, real multiplier 1 * 0.25 / 1: m = 2**30, shift -1.
    # int64 bias -> variant C: m16 = (2**30 + 2**15) >> 16 = 2**14, total shift 16:
    #   y = (x * 2**14 + 2**15) >> 16 = floor(x / 4 + 1/2)                (half up)
    # int32 bias (quantized_bias_type INT32) -> variant A: s = srdhm(x, 2**30) =
    #   floor((x + 1) / 2), then rdbpot(s, 1): s / 2 rounded half away from zero
    x = np.array(x_val, np.int16).reshape(1, 1, 1, 1)
    for bias_dtype, expected in ((np.int64, with_int64), (np.int32, with_int32)):
        ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], bias_dtype=bias_dtype,
                        s_w=(0.25,))
        y = run(ctx, x)
        assert y.dtype == np.int16
        assert int(y[0, 0, 0, 0]) == expected, np.dtype(bias_dtype).name


def test_16x8_variant_c_keeps_only_15_bit_multipliers():
    # real multiplier 0.5 + 2**-17: m = 2**30 + 2**14, but m16 = (m + 2**15) >> 16 = 2**14
    # (exactly 0.5). acc = -30001: exact -15000.729 -> variant A (int32 bias) gives -15001;
    # variant C computes (-30001 * 2**14 + 2**14) >> 15 = -15000.
    x = np.array(-30001, np.int16).reshape(1, 1, 1, 1)
    s_w = (0.5 + 2.0**-17,)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], s_w=s_w)
    assert int(run(ctx, x)[0, 0, 0, 0]) == (-30001 * 2**14 + 2**14) >> 15 == -15000
    ctx32 = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], s_w=s_w, bias_dtype=np.int32)
    assert int(run(ctx32, x)[0, 0, 0, 0]) == -15001


def test_16x8_int64_bias_is_not_wrapped_and_output_saturates_at_int16():
    # acc = 1 + 2**40 with real multiplier 2**-30 (s_w = 2**-30): 1024.0000000009 -> 1024
    x = np.ones((1, 1, 1, 1), np.int16)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**40], s_w=(2.0**-30,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == 1024
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**40], s_w=(2.0**-20,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == 32767


def test_16x8_int32_accumulator_wraps_like_c():
    # int32 bias INT32_MAX + acc 1 wraps to INT32_MIN; real 2**-16 -> -32768
    x = np.ones((1, 1, 1, 1), np.int16)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**31 - 1], bias_dtype=np.int32,
                    s_w=(2.0**-16,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == -32768


def test_16x8_fused_relu_clamps_at_zero():
    x = np.array([-100, 100], np.int16).reshape(1, 1, 2, 1)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], s_w=(1.0,), opts=options16(act=1))
    assert run(ctx, x).ravel().tolist() == [0, 100]


@pytest.mark.parametrize("make,match", [
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], zp_in=1),
     "int16 zero points must be 0"),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], zp_out=-1),
     "int16 zero points must be 0"),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], bias_dtype=np.int16),
     "must be int32 or int64"),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], opts=options16(qbt=4),
                       bias_dtype=np.int32), "does not match quantized_bias_type int64"),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], opts=options16(qbt=7)),
     "quantized_bias_type 7"),
], ids=["input-zp", "output-zp", "int16-bias", "bias-vs-option", "bad-option"])
def test_16x8_bad_models_are_errors(make, match):
    with pytest.raises(OpError, match=match):
        conv_2d.prepare(make())


def test_16x8_int32_bias_without_the_option_is_refused_by_ref_but_runs_on_tflm():
    # LiteRT reads an int32 bias as int64 unless quantized_bias_type says INT32; TFLM
    # follows the bias dtype (int32 accumulator, variant A).
    x = np.array(-6, np.int16).reshape(1, 1, 1, 1)
    opts = options16(qbt=0)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], bias_dtype=np.int32, opts=opts,
                    s_w=(0.25,))
    with pytest.raises(UnsupportedOpError, match="reads it as int64"):
        conv_2d.prepare(ctx)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], bias_dtype=np.int32, opts=opts,
                    s_w=(0.25,), flavor=TFLM)
    assert int(run(ctx, x)[0, 0, 0, 0]) == -2


def test_16x8_without_bias_follows_the_option():
    # no bias: INT32 option -> int32 accumulator (A); otherwise int64 (C)
    x = np.array(-6, np.int16).reshape(1, 1, 1, 1)  # -1.5 (see the rounding test above)
    for qbt, expected in ((2, -2), (4, -1), (0, -1)):
        ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), None, opts=options16(qbt=qbt),
                        s_w=(0.25,))
        assert int(run(ctx, x)[0, 0, 0, 0]) == expected, qbt


RANDOM_16X8 = {  # (batch, h, w, c_in, c_out, kh, kw, stride, dilation, padding, groups, bias)
    "3x3-same": (2, 6, 7, 3, 4, 3, 3, (1, 1), (1, 1), 0, 1, np.int64),
    "3x3-valid-s2-int32": (2, 9, 8, 2, 3, 3, 3, (2, 2), (1, 1), 1, 1, np.int32),
    "5x3-d2-same": (1, 9, 7, 2, 3, 5, 3, (1, 2), (2, 1), 0, 1, np.int64),
    "grouped-g2": (1, 6, 6, 4, 6, 3, 3, (1, 1), (1, 1), 0, 2, np.int64),
    "k576-float64-gemm": (1, 4, 4, 64, 3, 3, 3, (1, 1), (1, 1), 0, 1, np.int64),
}


@pytest.mark.parametrize("name", list(RANDOM_16X8))
def test_vectorised_16x8_equals_loop_oracle(name):
    n, h, w_, c_in, c_out, kh, kw, stride, dil, padding, groups, bias_dtype = RANDOM_16X8[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.integers(-32768, 32768, (n, h, w_, c_in), dtype=np.int16)
    filt = rng.integers(-127, 128, (c_out, kh, kw, c_in // groups), dtype=np.int8)
    bias = rng.integers(-2**20, 2**20, c_out)
    s_w = rng.uniform(0.002, 0.02, c_out) / np.sqrt(kh * kw * c_in)
    qbt = 2 if bias_dtype == np.int32 else 4
    ctx = int16_ctx(x.shape, filt, bias, bias_dtype=bias_dtype, s_in=1e-3, s_w=s_w,
                    s_out=1e-3 * rng.uniform(0.5, 1.0),
                    opts=options16(padding, stride, dil, 0, qbt))
    data = conv_2d.prepare(ctx)
    if name.startswith("k576"):
        assert data.gemm_dtype is np.float64
    assert data.quant.accumulator_bits == (32 if bias_dtype == np.int32 else 64)
    b = ctx.inputs[2].data
    y = conv_2d.invoke(ctx, data, [x, filt, b])[0]
    assert len(np.unique(y)) > 10, "degenerate case: output saturated"
    assert_bit_exact(y, conv_2d._reference_loop_int8(x, filt, b, data), name, data)


# --------------------------------------------------------------------------------------
# Hybrid: float32 activations, int8 filter (LiteRT only)
# --------------------------------------------------------------------------------------
def hybrid_ctx(x_shape, w, bias=None, *, s_w=(0.5,), opts=None, flavor=TFLITE_REF):
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.float32, x_shape),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size), 0, w)]
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        inputs.append(tensor(2, np.float32, bias.shape, data=bias))
    return OpContext(NODE, "CONV_2D", inputs, [tensor(3, np.float32, (0,))],
                     opts or options(), flavor)


def test_hybrid_per_tensor_quantizes_symmetrically_and_rescales_once():
    # x = [1.5, -2, 0.25, 0] / 16 * 16 ... a 1x1 conv on 4 pixels, weight 2 (s_w 0.5):
    # symmetric row: range 2 -> scale fl32(2/127), inv fl32(127/2) = 63.5;
    # q = round([1.5, -2, 0.25, 0] * 63.5) = [95 (95.25), -127, 16 (15.875), 0]   (tail: 4 < 8)
    # out = fl32(float(2 q) * fl32(fl32(2/127) * 0.5)) + bias 0.25
    x = np.array([1.5, -2.0, 0.25, 0.0], np.float32).reshape(1, 1, 4, 1)
    ctx = hybrid_ctx(x.shape, np.full((1, 1, 1, 1), 2), [0.25])
    data = conv_2d.prepare(ctx)
    assert data.hybrid is not None and not data.hybrid.per_channel
    y = run(ctx, x).ravel()
    sf = np.float32(np.float32(2.0) / np.float32(127)) * np.float32(0.5)
    q = np.array([95, -127, 16, 0], np.float32)
    np.testing.assert_array_equal(y, (2 * q * sf).astype(np.float32) + np.float32(0.25))


def test_hybrid_per_channel_uses_asymmetric_input_and_scale_order():
    # two output channels with different scales -> HybridConvPerChannel:
    # row [0, 255/16 ...]: rmin 0 -> zp -128, scale 1/16; q - zp = x * 16
    # out[c] = fl32(fl32(float(acc) * s_w[c]) * 1/16) + bias[c]
    x = (np.array([0, 32, 255, 7], np.float64) / 16).astype(np.float32).reshape(1, 1, 4, 1)
    w = np.array([3, -5]).reshape(2, 1, 1, 1)
    s_w = np.array([0.1, 0.3], np.float32)
    ctx = hybrid_ctx(x.shape, w, [1.0, -1.0], s_w=s_w)
    assert conv_2d.prepare(ctx).hybrid.per_channel
    y = run(ctx, x)[0, 0]
    acc = np.array([0, 32, 255, 7])[:, None] * np.array([3, -5])[None, :]
    expected = (acc.astype(np.float32) * s_w) * np.float32(1 / 16) + np.array([1, -1], np.float32)
    np.testing.assert_array_equal(y, expected.astype(np.float32))


def test_hybrid_equal_per_channel_scales_take_the_per_tensor_path():
    ctx = hybrid_ctx((1, 3, 3, 2), np.ones((3, 1, 1, 2)), [0, 0, 0], s_w=(0.2, 0.2, 0.2))
    assert not conv_2d.prepare(ctx).hybrid.per_channel
    ctx = hybrid_ctx((1, 3, 3, 4), np.ones((2, 1, 1, 2)), [0, 0], s_w=(0.2, 0.2))
    assert conv_2d.prepare(ctx).hybrid.per_channel  # groups = 2 forces the per-channel path


def test_hybrid_grouped_conv_takes_the_reference_rescale_on_the_optimized_resolver():
    # conv.cc EvalHybridPerChannel: groups != 1 -> kReference even under BUILTIN, so
    # fl32(fl32(acc * s_w) * sf), not the optimized acc * fl32(s_w * sf)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 4, 4)).astype(np.float32)
    w = rng.integers(-127, 128, (6, 1, 1, 2))
    s_w = rng.uniform(0.01, 0.02, 6).astype(np.float32)
    grouped = hybrid_ctx(x.shape, w, np.zeros(6), s_w=s_w, flavor=TFLITE_BUILTIN)
    assert not conv_2d.prepare(grouped).hybrid.optimized
    y_builtin, y_ref = run(grouped, x), run(hybrid_ctx(x.shape, w, np.zeros(6), s_w=s_w), x)
    np.testing.assert_array_equal(y_builtin.view(np.uint32), y_ref.view(np.uint32))
    one_group = hybrid_ctx((2, 4, 4, 2), w, np.zeros(6), s_w=s_w, flavor=TFLITE_BUILTIN)
    assert conv_2d.prepare(one_group).hybrid.optimized


def test_hybrid_is_unsupported_on_tflm():
    ctx = hybrid_ctx((1, 3, 3, 1), np.ones((1, 1, 1, 1)), [0.0], flavor=TFLM)
    with pytest.raises(UnsupportedOpError, match="TFLite Micro"):
        conv_2d.prepare(ctx)


def _hybrid_loop_oracle(x, filt, bias, data):
    """HybridConvPerChannel / HybridConv written as loops over pixels (test oracle)."""
    from refimpl.kernels import hybrid as hy

    win, h = data.window, data.hybrid
    n = x.shape[0]
    rows = x.reshape(n, -1)
    qr = hy.quantize_rows_asymmetric(rows) if h.per_channel else hy.quantize_rows_symmetric(rows)
    q = qr.values.reshape(x.shape).astype(np.int64)
    c_out, kh, kw, depth = filt.shape
    out = np.zeros((n, win.out_h, win.out_w, c_out), np.float32)
    for b in range(n):
        sf = qr.scale[b] if h.per_channel else np.float32(qr.scale[b] * h.filter_scale[0])
        for oy in range(win.out_h):
            for ox in range(win.out_w):
                for oc in range(c_out):
                    g = oc // data.filters_per_group
                    acc = 0
                    for fy in range(kh):
                        for fx in range(kw):
                            iy = oy * win.stride_h - win.padding.height + fy * win.dilation_h
                            ix = ox * win.stride_w - win.padding.width + fx * win.dilation_w
                            if 0 <= iy < win.in_h and 0 <= ix < win.in_w:
                                for ic in range(depth):
                                    acc += int(filt[oc, fy, fx, ic]) * (
                                        int(q[b, iy, ix, g * depth + ic]) - int(qr.zero_point[b]))
                    if h.per_channel:
                        v = np.float32(np.float32(acc) * h.filter_scale[oc]) * sf
                    else:
                        v = np.float32(0.0) + np.float32(np.float32(acc) * sf)
                    out[b, oy, ox, oc] = np.float32(v) + bias[oc]
    return np.minimum(np.maximum(out, data.float_activation_min), data.float_activation_max)


@pytest.mark.parametrize("name,per_channel", [
    ("3x3-same-s1", True), ("3x3-valid-s2", False), ("3x3-same-d2", True),
    ("grouped-g2", True), ("odd-sizes", False)])
def test_vectorised_hybrid_equals_loop_oracle(name, per_channel):
    n, h, w_, c_in, c_out, kh, kw, stride, dil, padding, groups, _, act, _ = RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.normal(size=(n, h, w_, c_in)).astype(np.float32)
    x[0, :2] = 0.0
    filt = rng.integers(-127, 128, (c_out, kh, kw, c_in // groups), dtype=np.int8)
    b = rng.normal(size=c_out).astype(np.float32)
    s_w = rng.uniform(0.01, 0.02, c_out) if per_channel else (0.015,)
    ctx = hybrid_ctx(x.shape, filt, b, s_w=s_w, opts=options(padding, stride, dil, act))
    data = conv_2d.prepare(ctx)
    assert data.hybrid.per_channel == per_channel
    y = conv_2d.invoke(ctx, data, [x, filt, b])[0]
    assert_bit_exact(y, _hybrid_loop_oracle(x, filt, b, data), name, data)
