"""TRANSPOSE_CONV kernel: hand goldens, geometry, 16x8 rounding, errors, vectorised == loops."""

from __future__ import annotations

import types
import zlib

import numpy as np
import pytest

from refimpl.context import OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels import transpose_conv as tc

NODE = 5


def tensor(index, dtype, shape, scale=(), zero_point=(), qdim=0, data=None) -> TensorInfo:
    return TensorInfo(index, f"t{index}", np.dtype(dtype), tuple(shape),
                      np.asarray(scale, np.float32), np.asarray(zero_point, np.int64), qdim,
                      None if data is None else np.asarray(data))


def options(padding=1, stride=(1, 1), act=0, qbt=0):
    return types.SimpleNamespace(padding=padding, stride_h=stride[0], stride_w=stride[1],
                                 fused_activation_function=act, quantized_bias_type=qbt)


def make_ctx(out_shape, x_shape, w, bias=None, *, dtype=np.float32, bias_dtype=None,
             s_in=0.5, zp_in=0, s_w=(2.0,), s_out=1.0, zp_out=0, opts=None,
             flavor=TFLITE_REF, constant_shape=True) -> OpContext:
    """``dtype``: float32, int8 or int16 activations (int8 weights for the integer kinds)."""
    quantized = dtype != np.float32
    w = np.asarray(w, np.int8 if quantized else np.float32)
    s_w = np.atleast_1d(np.asarray(s_w, np.float32))
    shape_data = np.asarray(out_shape, np.int32) if constant_shape else None
    q_in = ([s_in], [zp_in]) if quantized else ((), ())
    q_w = (s_w, np.zeros(s_w.size)) if quantized else ((), ())
    inputs = [tensor(0, np.int32, (4,), data=shape_data),
              tensor(1, w.dtype, w.shape, *q_w, 0, w),
              tensor(2, dtype, x_shape, *q_in)]
    if bias is not None:
        if bias_dtype is None:
            bias_dtype = {np.float32: np.float32, np.int8: np.int32, np.int16: np.int64}[dtype]
        bias = np.asarray(bias, bias_dtype)
        q_b = (s_in * s_w, np.zeros(s_w.size)) if quantized else ((), ())
        inputs.append(tensor(3, bias_dtype, bias.shape, *q_b, 0, bias))
    q_out = ([s_out], [zp_out]) if quantized else ((), ())
    out = tensor(4, dtype, out_shape if not constant_shape else (0,), *q_out)
    return OpContext(NODE, "TRANSPOSE_CONV", inputs, [out], opts or options(), flavor)


def run(ctx: OpContext, x) -> np.ndarray:
    data = tc.prepare(ctx)
    x = np.asarray(x, ctx.inputs[2].dtype).reshape(ctx.inputs[2].shape)
    shape = np.asarray(data.output_shape, np.int32)
    arrays = [shape, ctx.inputs[1].data, x] + [t.data for t in ctx.inputs[3:]]
    y = tc.invoke(ctx, data, arrays)[0]
    assert y.shape == ctx.outputs[0].shape == data.output_shape
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
# x = [1, 2] along the width, filter [1, 10, 100], stride 2: x0 writes columns 0..2 with
# [1, 10, 100], x1 columns 2..4 with [2, 20, 200]; the full (VALID) result is
# [1, 10, 102, 20, 200]. SAME crops it: width 4 pads (2-1)*2 + 3 - 4 = 1 (0 before),
# width 3 pads 2 (1 before).
@pytest.mark.parametrize("padding,out_w,expected", [
    (1, 5, [1, 10, 102, 20, 200]),
    (0, 4, [1, 10, 102, 20]),
    (0, 3, [10, 102, 20]),
], ids=["valid-5", "same-4", "same-3"])
def test_float_scatter_by_hand(padding, out_w, expected):
    ctx = make_ctx((1, 1, out_w, 1), (1, 1, 2, 1), np.array([1, 10, 100]).reshape(1, 1, 3, 1),
                   opts=options(padding, (1, 2)))
    np.testing.assert_array_equal(run(ctx, [1, 2]).ravel(), expected)


def test_float_bias_and_relu6():
    ctx = make_ctx((1, 1, 5, 1), (1, 1, 2, 1), np.array([1, 10, 100]).reshape(1, 1, 3, 1),
                   [-5.0], opts=options(1, (1, 2), act=3))
    np.testing.assert_array_equal(run(ctx, [1, 2]).ravel(), [0, 5, 6, 6, 6])


def test_output_rows_no_tap_reaches_get_only_the_bias():
    # filter 1 tall, stride 3, SAME, output height 3 from 1 input row: rows 1 and 2 untouched
    ctx = make_ctx((1, 3, 1, 1), (1, 1, 1, 1), np.ones((1, 1, 1, 1)), [0.25],
                   opts=options(0, (3, 1)))
    np.testing.assert_array_equal(run(ctx, [2.0]).ravel(), [2.25, 0.25, 0.25])


def test_int8_scatter_by_hand():
    # x - zp_in (zp -1) = [2, 3]; w [1, 2, 3], stride 2, VALID: [2, 4, 6 + 3, 6, 9] + bias 4
    # = [6, 8, 13, 10, 13]; real multiplier 0.5 * 2 / 1 = 1; + zp_out (-3)
    ctx = make_ctx((1, 1, 5, 1), (1, 1, 2, 1), np.array([1, 2, 3]).reshape(1, 1, 3, 1), [4],
                   dtype=np.int8, zp_in=-1, zp_out=-3, opts=options(1, (1, 2)))
    y = run(ctx, [1, 2])
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y.ravel(), [3, 5, 10, 7, 10])


def test_int8_ties_follow_double_rounding():
    # real multiplier 0.5 * 0.125 / 1 = 2**-4 (m 2**30, shift -3); one tap, weight 1:
    # acc 8 -> 0.5 -> 1, -8 -> -1, -7 -> srdhm -3, -3/8 -> 0
    ctx = make_ctx((1, 1, 3, 1), (1, 1, 3, 1), np.ones((1, 1, 1, 1)), None, dtype=np.int8,
                   s_w=(0.125,), opts=options(1))
    np.testing.assert_array_equal(run(ctx, [8, -8, -7]).ravel(), [1, -1, 0])


def test_16x8_int64_variant_c_vs_int32_variant_a():
    # x = [-6, 6], w = [1, 1, 1], stride 2: acc [-6, -6, 0, 6, 6]; real 0.5 * 0.5 / 1 = 0.25
    # int64 bias: variant C, half up -> [-1, -1, 0, 2, 2];
    # int32 bias (quantized_bias_type INT32): variant A, half away -> [-2, -2, 0, 2, 2]
    w = np.ones((1, 1, 3, 1))
    ctx = make_ctx((1, 1, 5, 1), (1, 1, 2, 1), w, [0], dtype=np.int16, s_w=(0.5,),
                   opts=options(1, (1, 2), qbt=4))
    np.testing.assert_array_equal(run(ctx, [-6, 6]).ravel(), [-1, -1, 0, 2, 2])
    ctx = make_ctx((1, 1, 5, 1), (1, 1, 2, 1), w, [0], dtype=np.int16, s_w=(0.5,),
                   bias_dtype=np.int32, opts=options(1, (1, 2), qbt=2))
    np.testing.assert_array_equal(run(ctx, [-6, 6]).ravel(), [-2, -2, 0, 2, 2])


def test_16x8_tflm_always_accumulates_in_int64():
    # no bias, quantized_bias_type INT32: LiteRT uses an int32 scratch (variant A), TFLM's
    # kernel an int64 one (variant C)
    w = np.ones((1, 1, 3, 1))
    kw = dict(dtype=np.int16, s_w=(0.5,), opts=options(1, (1, 2), qbt=2))
    ref = run(make_ctx((1, 1, 5, 1), (1, 1, 2, 1), w, None, **kw), [-6, 6])
    tflm = run(make_ctx((1, 1, 5, 1), (1, 1, 2, 1), w, None, flavor=TFLM, **kw), [-6, 6])
    np.testing.assert_array_equal(ref.ravel(), [-2, -2, 0, 2, 2])
    np.testing.assert_array_equal(tflm.ravel(), [-1, -1, 0, 2, 2])


def test_16x8_tflm_widens_an_int16_bias_and_refuses_an_int32_one():
    w = np.ones((1, 1, 1, 1))
    ctx = make_ctx((1, 1, 1, 1), (1, 1, 1, 1), w, [100], dtype=np.int16, bias_dtype=np.int16,
                   s_w=(2.0,), flavor=TFLM)
    assert run(ctx, [5]).ravel().tolist() == [105]  # (5 * 1 + 100) * (0.5 * 2 / 1)
    ctx = make_ctx((1, 1, 1, 1), (1, 1, 1, 1), w, [100], dtype=np.int16, bias_dtype=np.int32,
                   s_w=(2.0,), flavor=TFLM, opts=options(qbt=2))
    with pytest.raises(UnsupportedOpError, match="TFLM reads it as int64"):
        tc.prepare(ctx)
    ctx.flavor = TFLITE_REF
    with pytest.raises(OpError, match="must be int32 or int64"):
        tc.prepare(make_ctx((1, 1, 1, 1), (1, 1, 1, 1), w, [100], dtype=np.int16,
                            bias_dtype=np.int16, s_w=(2.0,)))


def test_runtime_output_shape_uses_the_declared_shape_and_is_checked():
    # output_shape fed at run time (as in the seanet models): prepare sizes the output
    # from the model's declared shape; invoke insists that the values agree
    ctx = make_ctx((1, 1, 5, 1), (1, 1, 2, 1), np.array([1, 10, 100]).reshape(1, 1, 3, 1),
                   opts=options(1, (1, 2)), constant_shape=False)
    data = tc.prepare(ctx)
    assert data.output_shape == (1, 1, 5, 1)
    x = np.array([1, 2], np.float32).reshape(1, 1, 2, 1)
    w = ctx.inputs[1].data
    y = tc.invoke(ctx, data, [np.array([1, 1, 5, 1], np.int32), w, x])[0]
    np.testing.assert_array_equal(y.ravel(), [1, 10, 102, 20, 200])
    with pytest.raises(OpError, match=r"output_shape \[1, 1, 4, 1\] differs"):
        tc.invoke(ctx, data, [np.array([1, 1, 4, 1], np.int32), w, x])


# --------------------------------------------------------------------------------------
# Bad models
# --------------------------------------------------------------------------------------
def _bad(**kw) -> OpContext:
    args = dict(out_shape=(1, 4, 4, 2), x_shape=(1, 2, 2, 3), w=np.ones((2, 3, 3, 3)),
                bias=[0, 0], dtype=np.int8, opts=options(0, (2, 2)))
    args.update(kw)
    return make_ctx(**args)


@pytest.mark.parametrize("make,match", [
    (lambda: _bad(out_shape=(1, 6, 4, 2)), "gives 3x2, not the input's 2x2"),
    (lambda: _bad(out_shape=(2, 4, 4, 2)), "output batch 2 != input batch 1"),
    (lambda: _bad(out_shape=(1, 4, 4, 3)), "output channels 3 != weights output channels 2"),
    (lambda: _bad(w=np.ones((2, 3, 3, 2))), "input depth 3 != weights depth 2"),
    (lambda: _bad(opts=options(0, (0, 2))), "strides must be in"),
    (lambda: _bad(opts=options(0, (2, 40000))), "strides must be in"),
    (lambda: _bad(bias=[0, 0, 0]), "must have 2 elements"),
    (lambda: _bad(dtype=np.int16, zp_in=2), "int16 zero points must be 0"),
    (lambda: _bad(s_w=(0.1, 0.2, 0.3)), "filter has 3 scales"),
], ids=["geometry", "batch", "channels", "depth", "stride-0", "stride-too-large",
        "bias-size", "int16-zp", "scale-count"])
def test_bad_models_raise_op_error_naming_the_node(make, match):
    with pytest.raises(OpError, match=f"node {NODE} \\(TRANSPOSE_CONV\\): .*{match}"):
        tc.prepare(make())


def test_int64_bias_on_int8_is_unsupported():
    with pytest.raises(UnsupportedOpError, match="bias dtype int64 with int8"):
        tc.prepare(_bad(bias_dtype=np.int64))


def _hybrid_ctx(w, s_w, bias=None, flavor=TFLITE_REF):
    """1x1x1x1 float input, OHWI int8 weights ``w`` [1, 2, 2, 1], stride 1 VALID -> 2x2."""
    w = np.asarray(w, np.int8).reshape(1, 2, 2, 1)
    inputs = [tensor(0, np.int32, (4,), data=np.array([1, 2, 2, 1], np.int32)),
              tensor(1, np.int8, w.shape, [s_w], [0], 0, w),
              tensor(2, np.float32, (1, 1, 1, 1))]
    if bias is not None:
        inputs.append(tensor(3, np.float32, (1,), data=np.array([bias], np.float32)))
    return OpContext(NODE, "TRANSPOSE_CONV", inputs, [tensor(4, np.float32, (0,))],
                     options(), flavor)


def test_hybrid_by_hand_on_litert():
    # One input value 1.0: the row's range is widened to [0, 1], so LiteRT's asymmetric
    # quantizer has scale sf = fl32(1 / 255), zero point -128 and q = 127 (q - zp = 255).
    # Each output is one tap: fl32(fl32(255 * w) * s_w) * sf, i.e. about w * s_w.
    w, s_w = [1, 2, -3, 4], 0.5
    sf = np.float32(np.float64(np.float32(1.0)) / 255)
    expected = [np.float32(np.float32(255 * v * np.float32(s_w)) * sf) for v in w]
    y = run(_hybrid_ctx(w, s_w), [1.0])
    assert y.reshape(-1).tolist() == expected
    assert np.allclose(y.reshape(-1), np.array(w) * s_w, rtol=1e-6)
    # a bias is added once, after the scatter: fl32(term + 0.25)
    yb = run(_hybrid_ctx(w, s_w, bias=0.25), [1.0])
    assert yb.reshape(-1).tolist() == [np.float32(e + np.float32(0.25)) for e in expected]


def test_hybrid_by_hand_on_xnnpack():
    # XNNPACK's qd8: s = 255 / (1 - 0) = 255, zp = -128 (anchored at the minimum), q = 127,
    # d = fl32(1 / 255); out = fmaf(fl32(fl32(255 * w) * d), s_w, bias) with bias 0.
    from refimpl.flavors import XNNPACK

    w, s_w = [1, 2, -3, 4], 0.5
    d = np.float32(1) / np.float32(255)
    expected = [np.float32(np.float32(np.float32(255 * v) * d) * np.float32(s_w)) for v in w]
    y = run(_hybrid_ctx(w, s_w, flavor=XNNPACK), [1.0])
    assert y.reshape(-1).tolist() == expected  # times 0.5 is exact, so the fma changes nothing
    with pytest.raises(UnsupportedOpError, match="no dynamic-range kernels"):
        tc.prepare(_hybrid_ctx(w, s_w, flavor=TFLM))


# --------------------------------------------------------------------------------------
# Vectorised == loop oracle
# --------------------------------------------------------------------------------------
# (batch, in_h, in_w, c_in, c_out, kh, kw, stride, padding, out_h, out_w)
RANDOM_CASES = {
    "3x3-s2-same": (2, 4, 5, 3, 4, 3, 3, (2, 2), 0, 8, 10),
    "3x3-s2-same-odd": (1, 4, 5, 2, 3, 3, 3, (2, 2), 0, 7, 9),
    "3x3-s2-valid": (2, 4, 3, 3, 2, 3, 3, (2, 2), 1, 9, 7),
    "4x4-s2-same": (1, 5, 4, 3, 3, 4, 4, (2, 2), 0, 10, 8),
    "3x4-s1x2-valid": (2, 3, 4, 2, 3, 3, 4, (1, 2), 1, 5, 10),
    "2x2-s3-same": (1, 3, 3, 2, 2, 2, 2, (3, 3), 0, 9, 8),
    "1x1-s1": (2, 4, 4, 5, 3, 1, 1, (1, 1), 0, 4, 4),
    "5x1-s1-same": (1, 6, 3, 2, 2, 5, 1, (1, 1), 0, 6, 3),
}


def _random(name, dtype, per_channel=True, bias_dtype=None, act=0, flavor=TFLITE_REF):
    n, ih, iw, ci, co, kh, kw, stride, padding, oh, ow = RANDOM_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()) + np.dtype(dtype).itemsize)
    qbt = {None: 0, np.int32: 2, np.int64: 4}[bias_dtype]
    opts = options(padding, stride, act, qbt)
    if dtype == np.float32:
        x = rng.normal(size=(n, ih, iw, ci)).astype(np.float32)
        w = rng.normal(size=(co, kh, kw, ci)).astype(np.float32)
        b = rng.normal(size=co).astype(np.float32)
        return make_ctx((n, oh, ow, co), x.shape, w, b, opts=opts, flavor=flavor), x
    lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
    x = rng.integers(lo, hi + 1, (n, ih, iw, ci)).astype(dtype)
    w = rng.integers(-127, 128, (co, kh, kw, ci))
    s_w = rng.uniform(0.002, 0.02, co if per_channel else 1) / np.sqrt(kh * kw * ci)
    if dtype == np.int8:
        b = rng.integers(-20000, 20000, co)
        ctx = make_ctx((n, oh, ow, co), x.shape, w, b, dtype=dtype, s_in=0.05,
                       zp_in=int(rng.integers(-20, 20)), s_w=s_w, s_out=0.05,
                       zp_out=int(rng.integers(-10, 10)), opts=opts, flavor=flavor)
    else:
        b = rng.integers(-2**20, 2**20, co)
        ctx = make_ctx((n, oh, ow, co), x.shape, w, b, dtype=dtype, bias_dtype=bias_dtype,
                       s_in=1e-3, s_w=s_w, s_out=1e-3, opts=opts, flavor=flavor)
    return ctx, x


def _check(ctx, x, name):
    data = tc.prepare(ctx)
    w = ctx.inputs[1].data
    b = ctx.inputs[3].data if len(ctx.inputs) > 3 else None
    y = tc.invoke(ctx, data, [np.asarray(data.output_shape, np.int32), w, x, b])[0]
    if y.dtype != np.float32:
        assert len(np.unique(y)) > 10, "degenerate case: output saturated"
    assert_bit_exact(y, tc._reference_loop(x, w, b, data), name, data)


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_float_equals_loop_oracle_bit_for_bit(name):
    _check(*_random(name, np.float32), name)


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_vectorised_int8_equals_loop_oracle(name):
    _check(*_random(name, np.int8, per_channel=name != "1x1-s1", act=1 if "valid" in name else 0),
           name)


@pytest.mark.parametrize("bias_dtype", [np.int64, np.int32], ids=["int64", "int32"])
@pytest.mark.parametrize("name", ["3x3-s2-same", "3x3-s2-valid", "3x4-s1x2-valid",
                                  "2x2-s3-same"])
def test_vectorised_16x8_equals_loop_oracle(name, bias_dtype):
    _check(*_random(name, np.int16, bias_dtype=bias_dtype), name)


def test_vectorised_16x8_tflm_equals_loop_oracle():
    _check(*_random("4x4-s2-same", np.int16, bias_dtype=np.int64, flavor=TFLM), "tflm")


def test_chunked_scatter_gives_the_same_result(monkeypatch):
    ctx, x = _random("3x3-s2-same", np.int8)
    data = tc.prepare(ctx)
    arrays = [None, ctx.inputs[1].data, x, ctx.inputs[3].data]
    whole = tc.invoke(ctx, data, arrays)[0]
    monkeypatch.setattr(tc, "_CHUNK_BYTES", 1)
    assert_bit_exact(tc.invoke(ctx, data, arrays)[0], whole)
