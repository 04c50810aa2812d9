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
