"""REVERSE_V2: values by hand, and the axes every runtime refuses or crashes on."""

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


@pytest.mark.parametrize("axes, expected", [
    ([1], [[3, 2, 1], [6, 5, 4]]), ([0], [[4, 5, 6], [1, 2, 3]]),
    ([-1], [[3, 2, 1], [6, 5, 4]]), ([1, 0], [[6, 5, 4], [3, 2, 1]])])
def test_reverse_v2_by_hand(axes, expected):
    assert run("REVERSE_V2", X, axes, (2, 3)).tolist() == expected


def test_reverse_v2_non_adjacent_axes_are_refused():
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(UnsupportedOpError, match="consecutive axes"):
        run("REVERSE_V2", x, [0, 2], (2, 3, 4))


def test_reverse_v2_empty_axis_is_refused_like_the_runtimes_crash():
    with pytest.raises(OpError, match="SIGSEGV"):
        run("REVERSE_V2", X, np.zeros(0, np.int32), (2, 3))


def test_reverse_v2_int64_axis_is_refused():
    with pytest.raises(UnsupportedOpError, match="int32 axis"):
        run("REVERSE_V2", X, [1], (2, 3), const_type="int64")
