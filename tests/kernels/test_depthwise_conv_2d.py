"""DEPTHWISE_CONV_2D kernel: hand goldens, channel order, errors, vectorised == loop oracle."""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

from refimpl.context import OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM
from refimpl.kernels import depthwise_conv_2d as dw

NODE = 4


def tensor(index, dtype, shape, scale=(), zero_point=(), qdim=0, data=None) -> TensorInfo:
    return TensorInfo(index, f"t{index}", np.dtype(dtype), tuple(shape),
                      np.asarray(scale, np.float32), np.asarray(zero_point, np.int64), qdim,
                      None if data is None else np.asarray(data))


def options(padding=1, stride=(1, 1), dilation=(1, 1), act=0, depth_multiplier=0):
    return types.SimpleNamespace(padding=padding, stride_h=stride[0], stride_w=stride[1],
                                 dilation_h_factor=dilation[0], dilation_w_factor=dilation[1],
                                 fused_activation_function=act, depth_multiplier=depth_multiplier)


def int8_ctx(x_shape, w, bias=None, *, s_in=0.5, zp_in=0, s_w=(2.0,), s_out=1.0, zp_out=0,
             opts=None, qdim=3, w_zp=None) -> OpContext:
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.int8, x_shape, [s_in], [zp_in]),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size) if w_zp is None else w_zp,
                     qdim, w)]
    if bias is not None:
        bias = np.asarray(bias, np.int32)
        inputs.append(tensor(2, np.int32, bias.shape, s_in * s_w, np.zeros(s_w.size), 0, bias))
    out = tensor(3, np.int8, (0,), [s_out], [zp_out])
    return OpContext(NODE, "DEPTHWISE_CONV_2D", inputs, [out], opts or options(), TFLITE_REF)


def run(ctx: OpContext, x: np.ndarray) -> np.ndarray:
    data = dw.prepare(ctx)
    y = dw.invoke(ctx, data, [x] + [t.data for t in ctx.inputs[1:]])[0]
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


def test_tiny_depth_multiplier_2_matches_hand_arithmetic():
    # one input channel, x - zp_in (zp 1) = [[0,1,2],[3,4,5],[6,7,8]], VALID 2x2, dm = 2
    # oc 0: w = [[1,2],[3,4]], bias 5:   27+5, 37+5, 57+5, 67+5 = 32, 42, 62, 72
    # oc 1: w = [[-1,0],[0,2]], bias -2: -0+8-2, -1+10-2, -3+14-2, -4+16-2 = 6, 7, 9, 10
    # real multiplier 0.5*2/1 = 1 exactly; + zp_out (-3)
    x = np.arange(1, 10, dtype=np.int8).reshape(1, 3, 3, 1)
    w = np.stack([np.array([[1, 2], [3, 4]]), np.array([[-1, 0], [0, 2]])], axis=-1)[None]
    ctx = int8_ctx(x.shape, w, [5, -2], zp_in=1, zp_out=-3)
    y = run(ctx, x)
    np.testing.assert_array_equal(y[0, ..., 0], [[29, 39], [59, 69]])
    np.testing.assert_array_equal(y[0, ..., 1], [[3, 4], [6, 7]])


def test_output_channel_is_input_channel_times_dm_plus_m():
    # x = [1, 10] (2 channels), dm = 2, 1x1 filter [1, 2, 3, 4]:
    # oc0 = x0*1, oc1 = x0*2, oc2 = x1*3, oc3 = x1*4
    x = np.array([1, 10], np.int8).reshape(1, 1, 1, 2)
    ctx = int8_ctx(x.shape, np.array([1, 2, 3, 4]).reshape(1, 1, 1, 4), None)
    np.testing.assert_array_equal(run(ctx, x).ravel(), [1, 2, 30, 40])


def test_depth_multiplier_comes_from_shapes_not_options():
    # LiteRT ignores the option; a stale value must not change anything
    x = np.array([1, 10], np.int8).reshape(1, 1, 1, 2)
    ctx = int8_ctx(x.shape, np.array([1, 2, 3, 4]).reshape(1, 1, 1, 4), None,
                   opts=options(depth_multiplier=1))
    np.testing.assert_array_equal(run(ctx, x).ravel(), [1, 2, 30, 40])


@pytest.mark.parametrize("x_val,expected", [(8, 1), (-8, -1), (24, 2), (-24, -2), (7, 1), (-7, 0)],
                         ids=lambda v: str(v))
def test_rounding_ties_follow_gemmlowp_double_rounding(x_val, expected):
    # S_in*S_w/S_out = 0.5*0.125 = 2**-4: srdhm(acc, 2**30) = floor((acc+1)/2), then /8 half away
    x = np.array(x_val, np.int8).reshape(1, 1, 1, 1)
    ctx = int8_ctx(x.shape, np.ones((1, 1, 1, 1)), None, s_w=(0.125,))
    assert int(run(ctx, x)[0, 0, 0, 0]) == expected


def test_same_padding_taps_outside_the_image_add_nothing():
    # 3x3 of x - zp = 3 (zp_in -2), 3x3 filter of ones, SAME: 4, 6 or 9 taps in the image
    x = np.ones((1, 3, 3, 1), np.int8)
    ctx = int8_ctx(x.shape, np.ones((1, 3, 3, 1)), None, zp_in=-2, opts=options(padding=0))
    np.testing.assert_array_equal(run(ctx, x)[0, ..., 0],
                                  [[12, 18, 12], [18, 27, 18], [12, 18, 12]])


@pytest.mark.parametrize("act,expected", [
    (1, [-3, -3, 3, 124]), (3, [-3, -3, 3, 3]), (2, [-4, -3, -2, -2])],
    ids=["RELU", "RELU6", "RELU_N1_TO_1"])
def test_fused_activation_clamps_in_the_output_domain(act, expected):
    # multiplier 1: y = x - 3; RELU [-3, 127], RELU6 [-3, 3], RELU_N1_TO_1 [-4, -2]
    x = np.array([-128, 0, 6, 127], np.int8).reshape(1, 1, 4, 1)
    ctx = int8_ctx(x.shape, np.ones((1, 1, 1, 1)), None, zp_out=-3, opts=options(act=act))
    np.testing.assert_array_equal(run(ctx, x).ravel(), expected)


# (batch, h, w, c_in, dm, kh, kw, stride, dilation, padding, per_channel, act, bias)
RANDOM_CASES = {
    "3x3-same-s1-dm1": (2, 7, 6, 3, 1, 3, 3, (1, 1), (1, 1), 0, True, 0, True),
    "3x3-valid-s2-dm2": (2, 9, 8, 2, 2, 3, 3, (2, 2), (1, 1), 1, True, 1, True),
    "5x3-same-s3x2-dm3": (1, 11, 7, 2, 3, 5, 3, (3, 2), (1, 1), 0, False, 0, True),
    "3x3-same-d2-dm1": (2, 8, 9, 4, 1, 3, 3, (1, 1), (2, 2), 0, True, 3, True),
    "2x3-valid-d3x2-dm2": (1, 10, 9, 3, 2, 2, 3, (1, 2), (3, 2), 1, False, 2, False),
    "4x4-same-even-dm3": (3, 6, 7, 2, 3, 4, 4, (1, 1), (1, 1), 0, True, 0, True),
    "odd-sizes-pertensor": (2, 5, 3, 5, 1, 3, 2, (2, 3), (1, 1), 0, False, 0, True),
}


def random_int8_case(spec, seed):
    n, h, w, c_in, dm, kh, kw, stride, dil, padding, per_channel, act, has_bias = spec
    rng = np.random.default_rng(seed)
    c_out = c_in * dm
    x = rng.integers(-128, 128, (n, h, w, c_in), dtype=np.int8)
    filt = rng.integers(-127, 128, (1, kh, kw, c_out), dtype=np.int8)
    bias = rng.integers(-20000, 20000, c_out, dtype=np.int32) if has_bias else None
    s_w = rng.uniform(0.002, 0.02, c_out if per_channel else 1) / np.sqrt(kh * kw)
    s_out = {0: 0.05, 1: 0.05, 2: 0.01, 3: 0.03}[act] * rng.uniform(0.8, 1.2)
    ctx = int8_ctx(x.shape, filt, bias, s_in=0.05, zp_in=int(rng.integers(-20, 20)), s_w=s_w,
                   s_out=s_out, zp_out=int(rng.integers(-10, 10)),
                   opts=options(padding, stride, dil, act))
    return ctx, x


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_int8_equals_loop_oracle(name):
    ctx, x = random_int8_case(RANDOM_CASES[name], zlib.crc32(name.encode()))
    data = dw.prepare(ctx)
    w, b = ctx.inputs[1].data, ctx.inputs[2].data if len(ctx.inputs) > 2 else None
    y = dw.invoke(ctx, data, [x, w, b])[0]
    assert len(np.unique(y)) > 10, "degenerate case: output saturated"
    assert_bit_exact(y, dw._reference_loop_int8(x, w, b, data), name, data)


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_float_equals_loop_oracle_bit_for_bit(name):
    n, h, w_, c_in, dm, kh, kw, stride, dil, padding, _, act, has_bias = RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = rng.normal(size=(n, h, w_, c_in)).astype(np.float32)
    w = rng.normal(size=(1, kh, kw, c_in * dm)).astype(np.float32)
    b = rng.normal(size=c_in * dm).astype(np.float32) if has_bias else None
    inputs = [tensor(0, np.float32, x.shape), tensor(1, np.float32, w.shape, data=w)]
    if b is not None:
        inputs.append(tensor(2, np.float32, b.shape, data=b))
    ctx = OpContext(NODE, "DEPTHWISE_CONV_2D", inputs, [tensor(3, np.float32, (0,))],
                    options(padding, stride, dil, act), TFLITE_REF)
    data = dw.prepare(ctx)
    y = dw.invoke(ctx, data, [x, w, b])[0]
    assert_bit_exact(y, dw._reference_loop_float(x, w, b, data), name, data)


def test_int32_accumulator_wraps_like_c():
    # taps: 4 * 127 * (127 + 128) = 129540; + bias 2**31 - 10**5 exceeds INT32_MAX and wraps
    # to a negative value; real multiplier 0.5 -> about -2**30 -> clamp -128 (no wrap: 127)
    x = np.full((1, 2, 2, 1), 127, np.int8)
    w = np.full((1, 2, 2, 1), 127)
    ctx = int8_ctx(x.shape, w, [2**31 - 10**5], s_w=(1.0,), zp_in=-128, opts=options(padding=1))
    assert int(run(ctx, x)[0, 0, 0, 0]) == -128


def _bad(**kw) -> OpContext:
    args = dict(x_shape=(1, 4, 4, 2), w=np.ones((1, 2, 2, 4)), bias=[0, 0, 0, 0])
    args.update(kw)
    return int8_ctx(**args)


@pytest.mark.parametrize("make,match", [
    (lambda: _bad(w_zp=[0, 0, 3, 0], s_w=(0.1,) * 4), "filter zero points must be 0"),
    (lambda: _bad(s_w=(0.1, 0.2, 0.3)), "filter has 3 scales; expected 1 or 4"),
    (lambda: _bad(s_w=(0.1,) * 4, qdim=0), "quantized along axis 0; expected axis 3"),
    (lambda: _bad(w=np.ones((2, 2, 2, 4))), r"must be 4-D \[1, KH, KW, C_out\]"),
    (lambda: _bad(w=np.ones((1, 2, 2, 3)), bias=[0, 0, 0]), "not a multiple of input depth"),
    (lambda: _bad(x_shape=(1, 4, 4, 2, 1)), "must be 4-D"),
    (lambda: _bad(bias=[0, 0]), "1-D with 4 elements"),
    (lambda: _bad(opts=options(dilation=(1, 0))), "dilations must be > 0"),
], ids=["filter-zp", "scale-count", "scale-axis", "filter-shape", "channels", "input-rank",
        "bias-size", "dilation"])
def test_bad_models_raise_op_error_naming_the_node(make, match):
    with pytest.raises(OpError, match=f"node {NODE} \\(DEPTHWISE_CONV_2D\\): .*{match}"):
        dw.prepare(make())


# --------------------------------------------------------------------------------------
# 16x8 and hybrid
# --------------------------------------------------------------------------------------
def int16_ctx(x_shape, w, bias=None, *, bias_dtype=np.int64, s_in=1.0, zp_in=0, s_w=(0.25,),
              s_out=1.0, zp_out=0, opts=None, flavor=TFLITE_REF) -> OpContext:
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.int16, x_shape, [s_in], [zp_in]),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size), 3, w)]
    if bias is not None:
        bias = np.asarray(bias, bias_dtype)
        inputs.append(tensor(2, bias_dtype, bias.shape, s_in * s_w, np.zeros(s_w.size), 0,
                             bias))
    out = tensor(3, np.int16, (0,), [s_out], [zp_out])
    dm = w.shape[3] // x_shape[3]
    return OpContext(NODE, "DEPTHWISE_CONV_2D", inputs, [out],
                     opts or options(depth_multiplier=dm), flavor)


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=lambda f: f.name)
def test_16x8_uses_int64_accumulator_and_variant_c(flavor):
    # real multiplier 0.25 (m 2**30, shift -1), variant C: floor(acc / 4 + 1/2), half up.
    # x = [-6, 6, -10, 30000] with weight 1 on one channel:
    # bias 0: -1.5 -> -1, 1.5 -> 2, -2.5 -> -2, 7500
    x = np.array([-6, 6, -10, 30000], np.int16).reshape(1, 1, 4, 1)
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [0], flavor=flavor)
    assert run(ctx, x).ravel().tolist() == [-1, 2, -2, 7500]
    # bias 2**32 (no int64 overflow): about 2**30, saturates at 32767
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**32], flavor=flavor)
    assert run(ctx, x).ravel().tolist() == [32767] * 4
    # bias 2**33: the scaled values straddle 2**31 and the int32 cast of variant C
    # truncates: 2**31 - 1 (x = -6), 2**31 - 2 (x = -10) stay positive -> 32767;
    # 2**31 + 2 (x = 6) and 2**31 + 7500 wrap negative -> -32768
    ctx = int16_ctx(x.shape, np.ones((1, 1, 1, 1)), [2**33], flavor=flavor)
    assert run(ctx, x).ravel().tolist() == [32767, -32768, 32767, -32768]


@pytest.mark.parametrize("make,match,error", [
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], bias_dtype=np.int32),
     "16x8 bias .* must be int64", OpError),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 1)), [0], zp_in=3),
     "int16 zero points must be 0", OpError),
    (lambda: int16_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 2)), [0, 0],
                       opts=options(depth_multiplier=1)),
     "depth_multiplier option 1 disagrees", OpError),
], ids=["int32-bias", "input-zp", "depth-multiplier-option"])
def test_16x8_bad_models(make, match, error):
    with pytest.raises(error, match=match):
        dw.prepare(make())


def test_tflm_loops_over_the_depth_multiplier_option_so_a_stale_one_is_refused():
    x_shape, w = (1, 1, 1, 2), np.array([1, 2, 3, 4]).reshape(1, 1, 1, 4)
    ctx = int8_ctx(x_shape, w, None, opts=options(depth_multiplier=1))
    ctx.flavor = TFLM
    with pytest.raises(OpError, match="depth_multiplier option 1 disagrees"):
        dw.prepare(ctx)


@pytest.mark.parametrize("name", ["3x3-same-s1-dm1", "3x3-valid-s2-dm2", "5x3-same-s3x2-dm3",
                                  "2x3-valid-d3x2-dm2"])
def test_vectorised_16x8_equals_loop_oracle(name):
    n, h, w_, c_in, dm, kh, kw, stride, dil, padding, per_channel, act, has_bias = \
        RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    c_out = c_in * dm
    x = rng.integers(-32768, 32768, (n, h, w_, c_in), dtype=np.int16)
    filt = rng.integers(-127, 128, (1, kh, kw, c_out), dtype=np.int8)
    bias = rng.integers(-2**24, 2**24, c_out) if has_bias else None
    s_w = rng.uniform(0.002, 0.02, c_out if per_channel else 1) / np.sqrt(kh * kw)
    act = 0 if act == 2 else act  # real outputs are ~ +-20: RELU_N1_TO_1 would saturate
    s_out = {0: 1e-3, 1: 1e-3, 3: 2e-4}[act]  # keep many levels inside the clamp
    ctx = int16_ctx(x.shape, filt, bias, s_in=1e-3, s_w=s_w, s_out=s_out,
                    opts=options(padding, stride, dil, act, depth_multiplier=dm))
    data = dw.prepare(ctx)
    b = ctx.inputs[2].data if bias is not None else None
    y = dw.invoke(ctx, data, [x, filt, b])[0]
    assert y.dtype == np.int16 and len(np.unique(y)) > 10
    assert_bit_exact(y, dw._reference_loop(x, filt, b, data), name, data)


def hybrid_ctx(x_shape, w, bias, s_w, opts=None, flavor=TFLITE_REF) -> OpContext:
    w = np.asarray(w, np.int8)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    inputs = [tensor(0, np.float32, x_shape),
              tensor(1, np.int8, w.shape, s_w, np.zeros(s_w.size), 3, w)]
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        inputs.append(tensor(2, np.float32, bias.shape, data=bias))
    dm = w.shape[3] // x_shape[3]
    return OpContext(NODE, "DEPTHWISE_CONV_2D", inputs, [tensor(3, np.float32, (0,))],
                     opts or options(depth_multiplier=dm), flavor)


def test_hybrid_scale_product_is_taken_before_the_multiply():
    # image [0, 32, 255, 7] / 16: rmin 0 -> zp -128, scale 1/16; q - zp = x * 16.
    # out = fl32(float(acc) * fl32(s_w[c] * 1/16)) + bias   (DepthwiseConvHybridPerChannel)
    x = (np.array([0, 32, 255, 7], np.float64) / 16).astype(np.float32).reshape(1, 1, 4, 1)
    w = np.array([3, -5]).reshape(1, 1, 1, 2)  # dm 2
    s_w = np.array([0.1, 0.3], np.float32)
    y = run(hybrid_ctx(x.shape, w, [1.0, -1.0], s_w), x)[0, 0]
    acc = np.array([0, 32, 255, 7])[:, None] * np.array([3, -5])[None, :]
    scale = (s_w * np.float32(1 / 16)).astype(np.float32)
    np.testing.assert_array_equal(y, acc.astype(np.float32) * scale + np.array([1, -1],
                                                                                np.float32))


def test_hybrid_optimized_rescale_order_follows_the_four_channel_blocks():
    # LiteRT's optimized DepthwiseConvHybridGeneral: channels [0, 4) as one float32x4,
    # (acc * s_w) * sf; channels 4, 5 one at a time, (acc * sf) * s_w. Reference:
    # acc * fl32(s_w * sf). A 1x1 filter makes acc = w[oc] * (q - zp) by hand.
    from refimpl.kernels import hybrid

    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    w = rng.integers(-127, 128, (1, 1, 1, 6))  # depth multiplier 2
    s_w = rng.uniform(0.01, 0.02, 6).astype(np.float32)
    qr = hybrid.quantize_rows_asymmetric(x.reshape(2, -1))
    centered = qr.values.reshape(x.shape).astype(np.int64) - qr.zero_point.reshape(2, 1, 1, 1)
    acc = (np.repeat(centered, 2, axis=3) * w.reshape(6)).astype(np.float32)
    sf = qr.scale.reshape(2, 1, 1, 1)
    vector, scalar, product = (acc * s_w) * sf, (acc * sf) * s_w, acc * (s_w * sf)
    optimized = np.concatenate([vector[..., :4], scalar[..., 4:]], axis=3)
    assert (optimized != product).any() and (vector[..., 4:] != scalar[..., 4:]).any()
    for flavor, expected in ((TFLITE_BUILTIN, optimized), (TFLITE_REF, product)):
        ctx = hybrid_ctx(x.shape, w, None, s_w, opts=options(depth_multiplier=2),
                         flavor=flavor)
        assert_bit_exact(run(ctx, x), expected, flavor.name)


def test_hybrid_needs_per_channel_scales_and_is_unsupported_on_tflm():
    with pytest.raises(OpError, match="needs 2 per-channel scales"):
        dw.prepare(hybrid_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 2)), None, (0.5,)))
    with pytest.raises(UnsupportedOpError, match="TFLite Micro"):
        dw.prepare(hybrid_ctx((1, 2, 2, 1), np.ones((1, 1, 1, 2)), None, (0.5, 0.5),
                              flavor=TFLM))


@pytest.mark.parametrize("name", ["3x3-same-s1-dm1", "3x3-valid-s2-dm2", "3x3-same-d2-dm1",
                                  "4x4-same-even-dm3"])
def test_vectorised_hybrid_equals_loop_oracle(name):
    from refimpl.kernels import hybrid

    n, h, w_, c_in, dm, kh, kw, stride, dil, padding, _, act, has_bias = RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    c_out = c_in * dm
    x = rng.normal(size=(n, h, w_, c_in)).astype(np.float32)
    filt = rng.integers(-127, 128, (1, kh, kw, c_out), dtype=np.int8)
    b = rng.normal(size=c_out).astype(np.float32) if has_bias else None
    s_w = rng.uniform(0.01, 0.02, c_out).astype(np.float32)
    ctx = hybrid_ctx(x.shape, filt, b, s_w,
                     opts=options(padding, stride, dil, act, depth_multiplier=dm))
    data = dw.prepare(ctx)
    y = dw.invoke(ctx, data, [x, filt, b])[0]
    # loop oracle: DepthwiseConvHybridPerChannel
    qr = hybrid.quantize_rows_asymmetric(x.reshape(n, -1))
    q = qr.values.reshape(x.shape).astype(np.int64)
    win = data.window
    expected = np.zeros(y.shape, np.float32)
    for bi in range(n):
        for oy in range(win.out_h):
            for ox in range(win.out_w):
                for ic in range(c_in):
                    for m in range(dm):
                        oc = m + ic * dm
                        acc = 0
                        for fy in range(kh):
                            for fx in range(kw):
                                iy = oy * win.stride_h - win.padding.height + dil[0] * fy
                                ix = ox * win.stride_w - win.padding.width + dil[1] * fx
                                if 0 <= iy < h and 0 <= ix < w_:
                                    acc += int(filt[0, fy, fx, oc]) * (
                                        int(q[bi, iy, ix, ic]) - int(qr.zero_point[bi]))
                        v = np.float32(acc) * np.float32(s_w[oc] * qr.scale[bi])
                        if b is not None:
                            v = np.float32(v + b[oc])
                        expected[bi, oy, ox, oc] = v
    expected = np.minimum(np.maximum(expected, data.float_activation_min),
                          data.float_activation_max)
    assert_bit_exact(y, expected, name, data)
