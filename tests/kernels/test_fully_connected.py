"""FULLY_CONNECTED: hand-computed values, flavour differences, loop oracle, errors."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from refimpl.context import OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels import fully_connected as fc


def q(scale, zp):
    return dict(scale=np.array(np.atleast_1d(scale), np.float32),
                zero_point=np.array(np.atleast_1d(zp), np.int64))


def make_ctx(x_shape, w, bias, *, s_in=0.5, zp_in=-1, s_w=0.5, s_out=1.0, zp_out=0,
             activation=0, flavor=TFLITE_REF, keep_num_dims=False):
    w = np.asarray(w, np.int8)
    x = TensorInfo(0, "x", np.dtype(np.int8), tuple(x_shape), **q(s_in, zp_in))
    wt = TensorInfo(1, "w", np.dtype(np.int8), w.shape, **q(s_w, np.zeros(np.size(s_w))), data=w)
    b = None
    if bias is not None:
        bias = np.asarray(bias, np.int32)
        b = TensorInfo(2, "b", np.dtype(np.int32), bias.shape,
                       **q(np.float32(s_in) * np.asarray(s_w, np.float32), 0), data=bias)
    out = TensorInfo(3, "y", np.dtype(np.int8), (), **q(s_out, zp_out))
    opts = SimpleNamespace(fused_activation_function=activation, keep_num_dims=keep_num_dims,
                           weights_format=0, asymmetric_quantize_inputs=False)
    return OpContext(7, "FULLY_CONNECTED", [x, wt, b], [out], opts, flavor)


def run(ctx, x):
    data = fc.prepare(ctx)
    return fc.invoke(ctx, data, [np.asarray(x, np.int8), None, None])[0]


def test_hand_computed_single_unit():
    # x = [3, -1], zp_in = -1 -> x - zp = [4, 0]; w = [2, 5]; bias 1
    # acc = 2*4 + 5*0 + 1 = 9; real = 0.5 * 0.5 / 1.0 = 0.25 -> 2.25 -> 2
    ctx = make_ctx((1, 2), [[2, 5]], [1])
    assert run(ctx, [[3, -1]]).tolist() == [[2]]
    assert ctx.outputs[0].shape == (1, 1)


@pytest.mark.parametrize(
    "bias, ref, tflm",
    [
        (2, 3, 3),  # acc 10 -> 2.5: both round the tie away from zero
        (-18, -3, -3),  # acc -10 -> -2.5: srdhm(-10, 2^30) = -5, rdbpot(-5, 1) = -3
        (-7, 0, 1),  # acc 1 -> 0.25: float rounds to 0; double rounding gives 1
    ],
    ids=["pos-tie", "neg-tie", "double-rounding"],
)
def test_reference_float_requant_vs_tflm_fixed_point(bias, ref, tflm):
    # acc = 2*4 + bias (x - zp = [4, 0], w = [2, 5])
    for flavor, expected in ((TFLITE_REF, ref), (TFLM, tflm)):
        ctx = make_ctx((1, 2), [[2, 5]], [bias], flavor=flavor)
        assert run(ctx, [[3, -1]]).tolist() == [[expected]], flavor.name


def test_fused_relu_clamps_at_output_zero_point():
    # acc = 2*4 - 50 = -42 -> -10.5 -> -11 (away), + zp_out 5 = -6; RELU clamps at Q(0) = 5
    ctx = make_ctx((1, 2), [[2, 5]], [-50], zp_out=5, activation=1)
    assert run(ctx, [[3, -1]]).tolist() == [[5]]
    ctx = make_ctx((1, 2), [[2, 5]], [-50], zp_out=5, activation=0)
    assert run(ctx, [[3, -1]]).tolist() == [[-6]]


def test_input_is_flattened_to_rows_of_depth():
    # a [2, 2, 2] input feeds a depth-2 layer as 4 rows
    ctx = make_ctx((2, 2, 2), [[1, 0], [0, 1]], None, s_in=1.0, s_w=1.0, zp_in=0)
    x = np.arange(8, dtype=np.int8).reshape(2, 2, 2)
    y = run(ctx, x)
    assert y.shape == (4, 2)
    assert y.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    ctx = make_ctx((2, 2, 2), [[1, 0], [0, 1]], None, s_in=1.0, s_w=1.0, zp_in=0,
                   keep_num_dims=True)
    assert run(ctx, x).shape == (2, 2, 2)


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=lambda f: f.name)
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_vectorised_equals_loop_oracle(flavor, per_channel):
    rng = np.random.default_rng(11)
    units, depth = 7, 33
    w = rng.integers(-127, 128, (units, depth))
    s_w = rng.uniform(0.001, 0.02, units) if per_channel else 0.01
    ctx = make_ctx((5, depth), w, rng.integers(-5000, 5000, units), s_in=0.05, zp_in=3,
                   s_w=s_w, s_out=0.2, zp_out=-7, flavor=flavor)
    data = fc.prepare(ctx)
    x = rng.integers(-128, 128, (5, depth)).astype(np.int8)
    fast = fc.invoke(ctx, data, [x, None, None])[0]
    np.testing.assert_array_equal(fast, fc.reference_loop_int8(data, x))


def test_accumulator_near_int32_limit_is_exact():
    # depth 60_000 of 255 * 127 gives acc = 1_943_100_000 < 2^31: the GEMM must be exact
    depth = 60_000
    w = np.full((1, depth), 127)
    ctx = make_ctx((1, depth), w, None, s_in=1.0, zp_in=-128, s_w=1.0, s_out=2.0**20)
    data = fc.prepare(ctx)
    assert data.gemm_dtype is np.float64
    y = fc.invoke(ctx, data, [np.full((1, depth), 127, np.int8), None, None])[0]
    # (127 + 128) * 127 * 60000 / 2^20 = 1853.08... -> saturates to 127
    assert y.tolist() == [[127]]
    ctx = make_ctx((1, depth), w, None, s_in=1.0, zp_in=-128, s_w=1.0, s_out=2.0**24)
    y = fc.invoke(ctx, fc.prepare(ctx), [np.full((1, depth), 127, np.int8), None, None])[0]
    # 1_943_100_000 / 2^24 = 115.816... -> 116
    assert y.tolist() == [[116]]


def test_scale_count_mismatch_is_error():
    ctx = make_ctx((1, 2), [[2, 5], [1, 1]], None, s_w=[0.5, 0.5, 0.5])
    with pytest.raises(OpError, match="node 7 .FULLY_CONNECTED.*3 scales for 2"):
        fc.prepare(ctx)


def test_depth_mismatch_is_error():
    ctx = make_ctx((1, 3), [[2, 5]], None)
    with pytest.raises(OpError, match="not a whole number of rows"):
        fc.prepare(ctx)


def test_uint8_is_unsupported_with_a_clear_message():
    ctx = make_ctx((1, 2), [[2, 5]], None)
    ctx.inputs[0].dtype = np.dtype(np.uint8)
    with pytest.raises(UnsupportedOpError, match="node 7 .FULLY_CONNECTED.*uint8"):
        fc.prepare(ctx)


# --------------------------------------------------------------------------------------
# 16x8
# --------------------------------------------------------------------------------------
def make_ctx16(x_shape, w, bias, *, bias_dtype=np.int64, qbt=None, s_in=1.0, zp_in=0,
               s_w=0.25, s_out=1.0, zp_out=0, activation=0, flavor=TFLITE_REF):
    w = np.asarray(w, np.int8)
    x = TensorInfo(0, "x", np.dtype(np.int16), tuple(x_shape), **q(s_in, zp_in))
    wt = TensorInfo(1, "w", np.dtype(np.int8), w.shape, **q(s_w, np.zeros(np.size(s_w))), data=w)
    b = None
    if bias is not None:
        bias = np.asarray(bias, bias_dtype)
        b = TensorInfo(2, "b", np.dtype(bias_dtype), bias.shape,
                       **q(np.float32(s_in) * np.asarray(s_w, np.float32), 0), data=bias)
    out = TensorInfo(3, "y", np.dtype(np.int16), (), **q(s_out, zp_out))
    if qbt is None:
        qbt = 2 if bias_dtype == np.int32 else 4
    opts = SimpleNamespace(fused_activation_function=activation, keep_num_dims=False,
                           weights_format=0, asymmetric_quantize_inputs=False,
                           quantized_bias_type=qbt)
    return OpContext(7, "FULLY_CONNECTED", [x, wt, b], [out], opts, flavor)


def run16(ctx, x):
    return fc.invoke(ctx, fc.prepare(ctx), [np.asarray(x, np.int16), None, None])[0]


@pytest.mark.parametrize("x_val,ref,tflm64,tflm32", [
    (-6, -2, -1, -2),   # -1.5: REF double rounds away; TFLM variant C half up; A away
    (-2, -1, 0, -1),    # -0.5
    (6, 2, 2, 2),       # 1.5
    (-10, -3, -2, -3),  # -2.5
], ids=lambda v: str(v))
def test_16x8_ref_float_requant_vs_tflm_fixed_point(x_val, ref, tflm64, tflm32):
    # depth 1, weight 1, real multiplier 1 * 0.25 / 1 = 0.25.
    # REF: (int32) round(double(acc) * 0.25), with either bias type;
    # TFLM int64 bias: variant C = floor(acc / 4 + 1/2); int32 bias: variant A
    # (srdhm(acc, 2**30) = floor((acc + 1) / 2), then /2 rounded half away from zero).
    for bias_dtype, tflm in ((np.int64, tflm64), (np.int32, tflm32)):
        ctx = make_ctx16((1, 1), [[1]], [0], bias_dtype=bias_dtype)
        assert run16(ctx, [[x_val]]).tolist() == [[ref]]
        ctx = make_ctx16((1, 1), [[1]], [0], bias_dtype=bias_dtype, flavor=TFLM)
        assert run16(ctx, [[x_val]]).tolist() == [[tflm]]


def test_16x8_int32_accumulator_wraps_before_the_double_requantization():
    # acc = 1 + bias INT32_MAX: int32 wraps to INT32_MIN, * 2**-16 = -32768; the int64
    # accumulator gives +32768 -> clamp 32767
    ctx = make_ctx16((1, 1), [[1]], [2**31 - 1], bias_dtype=np.int32, s_w=2.0**-16)
    assert run16(ctx, [[1]]).tolist() == [[-32768]]
    ctx = make_ctx16((1, 1), [[1]], [2**31 - 1], bias_dtype=np.int64, s_w=2.0**-16)
    assert run16(ctx, [[1]]).tolist() == [[32767]]


@pytest.mark.parametrize("make,match,error", [
    (lambda: make_ctx16((1, 2), [[1, 1]], [0], zp_in=1), "int16 zero points must be 0",
     OpError),
    (lambda: make_ctx16((1, 2), [[1, 1]], [0], bias_dtype=np.int32, qbt=0),
     "reads it as int64", UnsupportedOpError),
    (lambda: make_ctx16((1, 2), [[1, 1]], [0], bias_dtype=np.int32, qbt=4),
     "does not match quantized_bias_type", OpError),
], ids=["input-zp", "int32-bias-without-option", "bias-vs-option"])
def test_16x8_bad_models(make, match, error):
    with pytest.raises(error, match=match):
        fc.prepare(make())


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=lambda f: f.name)
@pytest.mark.parametrize("bias_dtype", [np.int64, np.int32], ids=["int64", "int32"])
@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_16x8_vectorised_equals_loop_oracle(flavor, bias_dtype, per_channel):
    rng = np.random.default_rng(12)
    units, depth = 6, 41
    w = rng.integers(-127, 128, (units, depth))
    s_w = rng.uniform(0.001, 0.02, units) if per_channel else 0.01
    ctx = make_ctx16((5, depth), w, rng.integers(-50000, 50000, units), bias_dtype=bias_dtype,
                     s_in=1e-3, s_w=s_w, s_out=3e-3, flavor=flavor)
    data = fc.prepare(ctx)
    assert data.accumulator_bits == (64 if bias_dtype == np.int64 else 32)
    x = rng.integers(-32768, 32768, (5, depth)).astype(np.int16)
    fast = fc.invoke(ctx, data, [x, None, None])[0]
    assert fast.dtype == np.int16 and len(np.unique(fast)) > 10
    np.testing.assert_array_equal(fast, fc.reference_loop(data, x))


# --------------------------------------------------------------------------------------
# Hybrid
# --------------------------------------------------------------------------------------
def make_hybrid(x_shape, w, bias, *, s_w, asymmetric=True, activation=0, flavor=TFLITE_REF):
    w = np.asarray(w, np.int8)
    x = TensorInfo(0, "x", np.dtype(np.float32), tuple(x_shape))
    wt = TensorInfo(1, "w", np.dtype(np.int8), w.shape, **q(s_w, np.zeros(np.size(s_w))), data=w)
    b = None
    if bias is not None:
        bias = np.asarray(bias, np.float32)
        b = TensorInfo(2, "b", np.dtype(np.float32), bias.shape, data=bias)
    out = TensorInfo(3, "y", np.dtype(np.float32), ())
    opts = SimpleNamespace(fused_activation_function=activation, keep_num_dims=False,
                           weights_format=0, asymmetric_quantize_inputs=asymmetric)
    return OpContext(7, "FULLY_CONNECTED", [x, wt, b], [out], opts, flavor)


def run_hybrid(ctx, x):
    return fc.invoke(ctx, fc.prepare(ctx), [np.asarray(x, np.float32), None, None])[0]


GRID_ROW = np.array([0, 32, 255, 7], np.float64) / 16  # range 255/16: scale 1/16 exactly
W2 = [[3, -5, 1, 2], [1, 1, 1, 1]]


def test_hybrid_asymmetric_per_channel_by_hand():
    # rmin 0 -> zp -128, scale 1/16, q = 16 x - 128; dot = sum w q - zp * rowsum = sum w (16 x)
    # unit 0: 3*0 - 5*32 + 255 + 2*7 = 109; unit 1: 0 + 32 + 255 + 7 = 294
    # out = bias + fl32(float(dot) * fl32(s_w[u] * 1/16))
    s_w = np.array([0.1, 0.3], np.float32)
    y = run_hybrid(make_hybrid((1, 4), W2, [0.5, -0.5], s_w=s_w), [GRID_ROW])
    scale = (s_w * np.float32(1 / 16)).astype(np.float32)
    expected = np.array([0.5, -0.5], np.float32) + np.array([109, 294], np.float32) * scale
    np.testing.assert_array_equal(y, expected[None])


def test_hybrid_symmetric_per_tensor_by_hand():
    # range 255/16: scale fl32(range / 127), inv fl32(127 / range);
    # q = round([0, 2, 15.9375, 0.4375] * inv) = [0, 16, 127, 3]  (tail: 4 elements)
    # per-tensor: scale *= s_w once; dot = [0 - 80 + 127 + 6, 146] = [53, 146]
    rng_ = np.float32(255 / 16)
    sf = np.float32(rng_ / np.float32(127))
    inv = np.float32(np.float32(127) / rng_)
    qv = np.round(GRID_ROW.astype(np.float32) * inv)
    assert qv.tolist() == [0, 16, 127, 3]
    y = run_hybrid(make_hybrid((1, 4), W2, None, s_w=0.2, asymmetric=False), [GRID_ROW])
    expected = np.array([53, 146], np.float32) * np.float32(sf * np.float32(0.2))
    np.testing.assert_array_equal(y, expected[None])


def test_hybrid_all_zero_input_short_circuits_to_the_bias():
    # the whole input is zero: out = bias exactly (-0.0 kept). One zero row among non-zero
    # rows goes through the multiply: -0.0 + 0 * scale = +0.0.
    ctx = make_hybrid((2, 4), W2, [-0.0, 1.5], s_w=np.array([0.1, 0.3], np.float32))
    y = run_hybrid(ctx, np.zeros((2, 4)))
    assert y.view(np.uint32).tolist() == np.array([[-0.0, 1.5]] * 2, np.float32).view(
        np.uint32).tolist()
    y = run_hybrid(ctx, [np.zeros(4), GRID_ROW])
    assert y[0].view(np.uint32).tolist() == np.array([0.0, 1.5], np.float32).view(
        np.uint32).tolist()


def test_hybrid_relu_and_unsupported_activation_and_flavor():
    y = run_hybrid(make_hybrid((1, 4), W2, [-100.0, 0.0], s_w=0.2, activation=1), [GRID_ROW])
    assert y[0, 0] == 0.0 and y[0, 1] > 0
    with pytest.raises(UnsupportedOpError, match="fused activation 4"):
        fc.prepare(make_hybrid((1, 4), W2, None, s_w=0.2, activation=4))
    with pytest.raises(UnsupportedOpError, match="TFLite Micro"):
        fc.prepare(make_hybrid((1, 4), W2, None, s_w=0.2, flavor=TFLM))


@pytest.mark.parametrize("asymmetric", [True, False], ids=["asymmetric", "symmetric"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
def test_hybrid_vectorised_equals_loop_oracle(asymmetric, per_channel):
    from refimpl.kernels import hybrid

    rng = np.random.default_rng(4)
    units, depth, batch = 5, 37, 6
    w = rng.integers(-127, 128, (units, depth))
    s_w = rng.uniform(0.01, 0.02, units).astype(np.float32) if per_channel else 0.015
    b = rng.normal(size=units).astype(np.float32)
    x = rng.normal(size=(batch, depth)).astype(np.float32)
    x[1] = 0.0
    y = run_hybrid(make_hybrid((batch, depth), w, b, s_w=s_w, asymmetric=asymmetric), x)
    qz = hybrid.quantize_rows_asymmetric if asymmetric else hybrid.quantize_rows_symmetric
    qr = qz(x)
    expected = np.zeros((batch, units), np.float32)
    for bi in range(batch):
        sf = qr.scale[bi] if per_channel else np.float32(qr.scale[bi] * np.float32(s_w))
        for u in range(units):
            dot = sum(int(w[u, d]) * int(qr.values[bi, d]) for d in range(depth))
            dot -= int(qr.zero_point[bi]) * int(w[u].sum())
            scale = np.float32(s_w[u] * sf) if per_channel else sf
            expected[bi, u] = np.float32(b[u] + np.float32(np.float32(dot) * scale))
    assert y.view(np.uint32).tolist() == expected.view(np.uint32).tolist()
