"""FILL and ZEROS_LIKE: shapes from constant dims, types per runtime, quantization checks."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.fill import FILL, ZEROS_LIKE


def fill_ctx(dims, dtype, dims_type=np.int32, q=None, q_out=None, flavor=TFLITE_REF,
             constant=True):
    d = tensor(dims_type, (len(dims),), data=np.array(dims, dims_type) if constant else None)
    v = tensor(dtype, (), *(q or ()))
    out = tensor(dtype, tuple(dims), *((q_out or q) or ()))
    return ctx("FILL", [d, v], [out], flavor=flavor)


@pytest.mark.parametrize("dtype,value", [(np.float32, -2.5), (np.int64, -(2**63)),
                                         (np.bool_, True), (np.uint8, 255)],
                         ids=["float32", "int64", "bool", "uint8"])
def test_fill_broadcasts_the_scalar(dtype, value):
    c = fill_ctx([2, 3], dtype)
    got = run(FILL, c, None, np.array(value, dtype))[0]
    assert got.shape == (2, 3) and got.dtype == np.dtype(dtype) and (got == value).all()


def test_fill_zero_extent():
    assert run(FILL, fill_ctx([3, 0], np.int32, np.int64), None, np.int32(7))[0].shape == (3, 0)


def test_fill_needs_constant_dims_and_non_negative_extents():
    with pytest.raises(UnsupportedOpError):
        FILL.prepare(fill_ctx([2], np.float32, constant=False))
    with pytest.raises(OpError):
        FILL.prepare(fill_ctx([2, -1], np.float32))


def test_fill_quantized_value_and_output_must_agree():
    FILL.prepare(fill_ctx([2], np.int8, q=(0.5, 3)))
    with pytest.raises(OpError):
        FILL.prepare(fill_ctx([2], np.int8, q=(0.5, 3), q_out=(0.5, 4)))


def test_fill_types_per_runtime():
    with pytest.raises(UnsupportedOpError):
        FILL.prepare(fill_ctx([2], np.int64, flavor=TFLM))
    FILL.prepare(fill_ctx([2], np.int8, np.int8, flavor=TFLM))  # TFLM: any integer dims
    with pytest.raises(OpError):
        FILL.prepare(fill_ctx([2], np.int8, np.int8))           # LiteRT: int32 / int64 only


def test_zeros_like_types_per_runtime():
    c = ctx("ZEROS_LIKE", [tensor(np.int8, (3,))], [tensor(np.int8, (3,))])
    with pytest.raises(UnsupportedOpError):
        ZEROS_LIKE.prepare(c)
    c = ctx("ZEROS_LIKE", [tensor(np.int8, (3,))], [tensor(np.int8, (3,))], flavor=TFLM)
    assert run(ZEROS_LIKE, c, [5, -1, 7])[0].tolist() == [0, 0, 0]
    c = ctx("ZEROS_LIKE", [tensor(np.float32, (2,))], [tensor(np.float32, (2,))])
    got = run(ZEROS_LIKE, c, [np.nan, -3.0])[0]
    assert got.tolist() == [0.0, 0.0] and not np.signbit(got).any()
