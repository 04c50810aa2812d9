"""BROADCAST_TO: shapes and values by hand, and the refusals (TFLM's limits)."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError, UnsupportedOpError

X = np.array([[1, 2, 3], [4, 5, 6]], np.int32)


def run(op, x, const, out_shape, flavor="tflite-ref", const_type="int32", version=1):
    c = np.asarray(const, const_type)
    m = one_op_model(op, [TensorArg(x.shape, x.dtype.name), TensorArg(c.shape, const_type, c)],
                     [TensorArg(out_shape, x.dtype.name)], version=version)
    return refimpl.Interpreter(model_content=m, flavor=flavor).run(x)[0]


def test_broadcast_to_prepends_and_stretches():
    row = np.array([1, 2, 3], np.int32)
    assert run("BROADCAST_TO", row, [2, 3], (2, 3), version=2).tolist() == [[1, 2, 3]] * 2
    col = np.array([[7], [8]], np.int32)
    assert run("BROADCAST_TO", col, [2, 2, 3], (2, 2, 3), version=2)[1].tolist() == [
        [7, 7, 7], [8, 8, 8]]


def test_broadcast_to_incompatible_shape_is_an_error():
    with pytest.raises(OpError, match="cannot be broadcast"):
        run("BROADCAST_TO", X, [2, 4], (2, 4), version=2)


def test_broadcast_to_tflm_limits():
    one = np.array([5], np.float32)
    with pytest.raises(UnsupportedOpError, match="rank <= 5"):
        run("BROADCAST_TO", one, [1, 1, 1, 1, 1, 2], (1, 1, 1, 1, 1, 2), "tflm", version=2)
    with pytest.raises(UnsupportedOpError, match="empty output"):
        run("BROADCAST_TO", one, [0, 1], (0, 1), "tflm", version=2)
    assert run("BROADCAST_TO", one, [1, 1, 1, 1, 1, 2], (1, 1, 1, 1, 1, 2),
               version=2).reshape(-1).tolist() == [5, 5]
