"""REDUCE_MAX / REDUCE_MIN / REDUCE_PROD: shapes, selections with ties and signed zeros,
sequential float products, integer wrap-around, type and quantization checks."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.reduce_max_min import REDUCE_MAX, REDUCE_MIN, REDUCE_PROD


def reduce_ctx(op, shape, axes, keep_dims=False, dtype=np.float32, q_in=None, q_out=None,
               flavor=TFLITE_REF, out_shape=(1,)):
    q_in = q_in or (None, 0)
    q_out = q_out or q_in
    x = tensor(dtype, shape, *q_in)
    axis = tensor(np.int32, (len(axes),), data=axes)
    return ctx(op, [x, axis], [tensor(dtype, out_shape, *q_out)], flavor=flavor,
               keep_dims=keep_dims)


@pytest.mark.parametrize(
    "axes, keep_dims, out_shape",
    [([1], False, (2, 4)), ([1], True, (2, 1, 4)), ([-1, 0], False, (3,)),
     ([0, 1, 2], True, (1, 1, 1)), ([2, 2], False, (2, 3))],
    ids=["middle", "middle-keep", "negative-and-first", "all-keep", "duplicate"],
)
def test_output_shape(axes, keep_dims, out_shape):
    c = reduce_ctx("REDUCE_MAX", (2, 3, 4), axes, keep_dims)
    REDUCE_MAX.prepare(c)
    assert c.outputs[0].shape == out_shape


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLITE_BUILTIN, TFLM], ids=str)
def test_max_and_min_pick_row_extremes(flavor):
    x = np.array([[3, -1, 7], [2, 2, -5]], np.int8)
    c = reduce_ctx("REDUCE_MAX", x.shape, [1], dtype=np.int8, q_in=(0.5, 3), flavor=flavor,
                   out_shape=(2,))
    assert run(REDUCE_MAX, c, x)[0].tolist() == [7, 2]
    c = reduce_ctx("REDUCE_MIN", x.shape, [-1], dtype=np.int8, q_in=(0.5, 3), flavor=flavor,
                   out_shape=(2,))
    assert run(REDUCE_MIN, c, x)[0].tolist() == [-1, -5]


@pytest.mark.parametrize("first, second", [(-0.0, 0.0), (0.0, -0.0)],
                         ids=["neg-first", "pos-first"])
def test_signed_zero_tie_keeps_first_value(first, second):
    # The C reducer replaces only on a strictly greater (smaller) value, and -0 == +0.
    x = np.array([first, second], np.float32)
    for kernel, op in ((REDUCE_MAX, "REDUCE_MAX"), (REDUCE_MIN, "REDUCE_MIN")):
        y = run(kernel, reduce_ctx(op, (2,), [0], out_shape=()), x)[0]
        assert np.signbit(y) == np.signbit(np.float32(first))


def test_float_product_is_sequential():
    # ((1 * 3e38) * 10) * 1e-10 overflows to inf on the way; any other order would not.
    x = np.array([3e38, 10.0, 1e-10], np.float32)
    y = run(REDUCE_PROD, reduce_ctx("REDUCE_PROD", (3,), [0], out_shape=()), x)[0]
    assert np.isinf(y)


def test_int32_product_wraps():
    # 65536 * 65536 = 2**32 wraps to 0 in int32; 3 * (-7) = -21.
    x = np.array([[65536, 65536], [3, -7]], np.int32)
    c = reduce_ctx("REDUCE_PROD", x.shape, [1], dtype=np.int32, out_shape=(2,))
    assert run(REDUCE_PROD, c, x)[0].tolist() == [0, -21]


def test_quantized_scales_must_match():
    c = reduce_ctx("REDUCE_MAX", (2, 3), [1], dtype=np.int8, q_in=(0.5, 0), q_out=(0.25, 0))
    with pytest.raises(OpError, match="scales"):
        REDUCE_MAX.prepare(c)


def test_xnnpack_copies_codes_whatever_the_output_quantization():
    # XNNPACK takes the node and selects codes; measured on LiteRT AUTO (the builtin
    # kernels fail such a model at invoke).
    x = np.array([[3, -1, 7]], np.int8)
    c = reduce_ctx("REDUCE_MAX", x.shape, [1], dtype=np.int8, q_in=(0.5, 0), q_out=(0.25, 4),
                   flavor=XNNPACK, out_shape=(1,))
    assert run(REDUCE_MAX, c, x)[0].tolist() == [7]


@pytest.mark.parametrize("op, kernel, dtype", [("REDUCE_MAX", REDUCE_MAX, np.uint8),
                                               ("REDUCE_MIN", REDUCE_MIN, np.int16),
                                               ("REDUCE_PROD", REDUCE_PROD, np.float32)],
                         ids=["max-uint8", "min-int16", "prod-float"])
def test_tflm_has_no_kernel(op, kernel, dtype):
    q = (None, 0) if dtype == np.float32 else (0.5, 0)
    c = reduce_ctx(op, (2, 3), [1], dtype=dtype, q_in=q, flavor=TFLM)
    with pytest.raises(UnsupportedOpError):
        kernel.prepare(c)


@pytest.mark.parametrize("row, want", [([3, 3], 3), ([-3, 3], -2), ([100, 100], 127)],
                         ids=["half-up-twice", "negative-half-up", "saturates"])
def test_quantized_prod_requantizes_every_step(row, want):
    # s_in 0.5, s_out 1, n = 2: scaling = 0.5 / 1**(1/2) = 0.5 -> m = 2**30, shift 0;
    # variant C: m16 = 16384, (x * 16384 + 2**14) >> 15 = floor(x/2 + 1/2).
    # [3, 3]: p = 3; p = floor(9/2 + 1/2) = 5; out = floor(5/2 + 1/2) = 3 (real 2.25).
    # [-3, 3]: p = floor(-4.5 + .5) = -4; out = floor(-2 + .5) = -2.
    x = np.array([row], np.int8)
    c = reduce_ctx("REDUCE_PROD", x.shape, [1], dtype=np.int8, q_in=(0.5, 0), q_out=(1.0, 0),
                   out_shape=(1,))
    assert run(REDUCE_PROD, c, x)[0].tolist() == [want]


def test_bool_max_is_any_and_only_the_reference_kernel_has_it():
    x = np.array([[False, True, False], [False, False, False]])
    c = reduce_ctx("REDUCE_MAX", x.shape, [1], dtype=np.bool_, out_shape=(2,))
    assert run(REDUCE_MAX, c, x)[0].tolist() == [True, False]
    with pytest.raises(UnsupportedOpError, match="optimized"):
        REDUCE_MAX.prepare(reduce_ctx("REDUCE_MAX", x.shape, [1], dtype=np.bool_,
                                      flavor=TFLITE_BUILTIN))
