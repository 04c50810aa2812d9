"""BATCH_MATMUL: broadcasting and adjoints, requantization per type (variant A for int8,
variant C for int16), int32 outputs without zero points, XNNPACK's fused multiply-add and
float requantization."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.batch_matmul import BATCH_MATMUL, fma_f32, matmul_f32_sequential


def bmm_ctx(xs, ys, dtype=np.float32, adj_x=False, adj_y=False, qx=(None, 0), qy=(None, 0),
            qo=(None, 0), out_dtype=None, flavor=TFLITE_REF, y_dtype=None):
    x = tensor(dtype, xs, *qx)
    y = tensor(y_dtype or dtype, ys, *qy)
    out = tensor(out_dtype or dtype, (1,), *qo)
    return ctx("BATCH_MATMUL", [x, y], [out], flavor=flavor, adj_x=adj_x, adj_y=adj_y)


@pytest.mark.parametrize("xs, ys, adj_x, adj_y, out_shape", [
    ((2, 3, 4), (4, 5), False, False, (2, 3, 5)),
    ((1, 4, 3), (6, 4, 5), True, False, (6, 3, 5)),
    ((2, 1, 3, 4), (3, 5, 4), False, True, (2, 3, 3, 5)),
], ids=["rhs-broadcast", "adj-x-lhs-broadcast", "adj-y-rank4"])
def test_output_shape_and_values_match_matmul(xs, ys, adj_x, adj_y, out_shape):
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, xs).astype(np.float32)      # small integers: every sum exact
    y = rng.integers(-3, 4, ys).astype(np.float32)
    c = bmm_ctx(xs, ys, adj_x=adj_x, adj_y=adj_y)
    got = run(BATCH_MATMUL, c, x, y)[0]
    a = np.swapaxes(x, -1, -2) if adj_x else x
    b = np.swapaxes(y, -1, -2) if adj_y else y
    assert c.outputs[0].shape == out_shape
    np.testing.assert_array_equal(got, np.matmul(a, b))


def test_mismatched_depth_is_error():
    with pytest.raises(OpError, match="inner dimensions"):
        BATCH_MATMUL.prepare(bmm_ctx((2, 3), (4, 5)))


def test_reference_float_sum_is_sequential():
    # (1e8 + 1) rounds back to 1e8 in float32 (ulp 8), then - 1e8 gives 0, not 1.
    x = np.array([[1e8, 1.0, -1e8]], np.float32)
    y = np.ones((3, 1), np.float32)
    assert matmul_f32_sequential(x, y)[0, 0] == 0.0


def test_fma_rounds_once():
    # a = b = 1 + 2**-12: a*b = 1 + 2**-11 + 2**-24 (exact); c = 2**-80.
    # The exact sum is just above the float32 midpoint 1 + 2**-11 + 2**-24, so one
    # rounding goes up to 1 + 2**-11 + 2**-23; the double sum drops 2**-80 first and a
    # second rounding (ties to even) would go down to 1 + 2**-11.
    a = np.array([1 + 2.0**-12], np.float32)
    c = np.array([2.0**-80], np.float32)
    assert fma_f32(a, a, c)[0] == np.float32(1 + 2.0**-11 + 2.0**-23)
    assert fma_f32(a, a, np.zeros(1, np.float32))[0] == np.float32(1 + 2.0**-11)


def test_int8_requantization():
    # x codes [[2, 3], [4, 5]] zp 1 -> [[1, 2], [3, 4]]; y codes [[1, 1], [0, 1]] zp 0;
    # acc = [[1, 3], [3, 7]]; s_x*s_y/s_out = 0.5*0.5/0.25 = 1; out zp -2.
    x = np.array([[2, 3], [4, 5]], np.int8)
    y = np.array([[1, 1], [0, 1]], np.int8)
    c = bmm_ctx((2, 2), (2, 2), np.int8, qx=(0.5, 1), qy=(0.5, 0), qo=(0.25, -2))
    assert run(BATCH_MATMUL, c, x, y)[0].tolist() == [[-1, 1], [1, 5]]


def test_int32_output_ignores_zero_points():
    # reference_ops::BatchMatMul<int8, int8, int32>: raw codes 2*1 + 3*1 = 5.
    x = np.array([[2, 3]], np.int8)
    y = np.array([[1], [1]], np.int8)
    c = bmm_ctx((1, 2), (2, 1), np.int8, qx=(0.5, 1), qy=(0.5, 1), out_dtype=np.int32)
    assert run(BATCH_MATMUL, c, x, y)[0].tolist() == [[5]]


@pytest.mark.parametrize("dtype, want", [(np.int8, 1), (np.int16, 0)], ids=["int8-A", "int16-C"])
def test_int16_uses_the_16_bit_multiplier(dtype, want):
    # Real multiplier 1/3: m = 1431655765, shift -1, accumulator 1.
    # int8 (variant A): SRDHM(1, m) = round(2/3) = 1, then RDBPOT(1, 1) = 1 (half away).
    # int16 (variant C): m16 = (m + 2**15) >> 16 = 21845; (21845 + 2**15) >> 16 = 0.
    x = np.array([[1]], dtype)
    y = np.array([[1]], dtype)
    c = bmm_ctx((1, 1), (1, 1), dtype, qx=(1.0, 0), qy=(1.0, 0), qo=(3.0, 0))
    assert run(BATCH_MATMUL, c, x, y)[0].tolist() == [[want]]


def test_int16_multiplier_above_256_follows_x86_shift_masking():
    # s_x*s_y/s_out = 2*4/2**-13 = 2**16: m = 2**30, shift 17 (upstream expects < 8).
    # m16 = (2**30 + 2**15) >> 16 = 16384; total_shift = 15 - 17 = -2, which x86-64
    # masks to 62, and 1 << (-3) to 1 << 61: (1 * 16384 + 2**61) >> 62 = 0.
    # The runtimes (LiteRT REF/BUILTIN, TFLM) return 0 for this model.
    x = np.array([[1]], np.int16)
    c = bmm_ctx((1, 1), (1, 1), np.int16, qx=(2.0, 0), qy=(4.0, 0), qo=(2.0**-13, 0))
    assert run(BATCH_MATMUL, c, x, x)[0].tolist() == [[0]]


def test_xnnpack_int8_rounds_half_to_even():
    # acc = 5 * 1 = 5, scale 0.5: XNNPACK rne(2.5) = 2; the reference (A) gives 3.
    x = np.array([[5]], np.int8)
    y = np.array([[1]], np.int8)
    args = dict(qx=(1.0, 0), qy=(1.0, 0), qo=(2.0, 0))
    xnn = bmm_ctx((1, 1), (1, 1), np.int8, flavor=XNNPACK, **args)
    assert BATCH_MATMUL.prepare(xnn).kind == "xnn-qs8"
    assert run(BATCH_MATMUL, xnn, x, y)[0].tolist() == [[2]]
    assert run(BATCH_MATMUL, bmm_ctx((1, 1), (1, 1), np.int8, **args), x, y)[0].tolist() == [[3]]


def test_xnnpack_refuses_rhs_zero_point():
    c = bmm_ctx((1, 1), (1, 1), np.int8, qx=(1.0, 0), qy=(1.0, 3), qo=(2.0, 0), flavor=XNNPACK)
    assert BATCH_MATMUL.prepare(c).kind == "quantized"


def test_tflm_has_no_int32_output():
    c = bmm_ctx((1, 2), (2, 1), np.int8, qx=(0.5, 0), qy=(0.5, 0), out_dtype=np.int32,
                flavor=TFLM)
    with pytest.raises(UnsupportedOpError):
        BATCH_MATMUL.prepare(c)
