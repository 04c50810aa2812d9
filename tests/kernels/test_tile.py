"""TILE: shapes and values by hand, and the refusals."""

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


def test_tile_repeats_each_axis():
    assert run("TILE", X, [2, 1], (4, 3)).tolist() == [[1, 2, 3], [4, 5, 6]] * 2
    assert run("TILE", X, [1, 2], (2, 6), const_type="int64").tolist() == [
        [1, 2, 3, 1, 2, 3], [4, 5, 6, 4, 5, 6]]
    assert run("TILE", X, [0, 2], (0, 6)).shape == (0, 6)


@pytest.mark.parametrize("mult, match", [([2, -1], "must be >= 0"), ([2], "2 values|1 values")])
def test_tile_bad_multiples_are_errors(mult, match):
    with pytest.raises(OpError, match=match):
        run("TILE", X, mult, (4, 3))


def test_tile_has_no_tflm_kernel():
    with pytest.raises(UnsupportedOpError, match="TFLM has no TILE"):
        run("TILE", X, [1, 1], (2, 3), flavor="tflm")
