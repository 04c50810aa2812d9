"""SLICE, TRANSPOSE, SQUEEZE/EXPAND_DIMS, SPLIT/SPLIT_V/UNPACK, GATHER, SPACE_TO_DEPTH /
DEPTH_TO_SPACE, MIRROR_PAD: small cases written out by hand, and bad parameters that must
give a clear error naming the node (never a crash or a giant allocation)."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError


def run(model: bytes, *xs):
    it = refimpl.Interpreter(model_content=model)
    return it.run(*xs)


def i32(v):
    a = np.asarray(v, np.int32)
    return TensorArg(a.shape, "int32", data=a)


def test_slice_box_with_minus_one_size():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    m = one_op_model("SLICE", [TensorArg((3, 4), "float32"), i32([1, 2]), i32([-1, 1])],
                     [TensorArg((2, 1), "float32")])
    assert run(m, x)[0].tolist() == [[6.0], [10.0]]  # rows 1..2, column 2


def test_slice_outside_the_input_is_an_error():
    m = one_op_model("SLICE", [TensorArg((3, 4), "float32"), i32([2, 0]), i32([2, 4])],
                     [TensorArg((2, 4), "float32")])
    with pytest.raises(OpError, match=r"node 0 \(SLICE\).*dimension 0"):
        refimpl.Interpreter(model_content=m).allocate_tensors()


def test_transpose_nhwc_to_nchw():
    x = np.arange(6, dtype=np.int8).reshape(1, 1, 2, 3)  # w=2, c=3
    m = one_op_model("TRANSPOSE", [TensorArg((1, 1, 2, 3), "int8", scale=0.1), i32([0, 3, 1, 2])],
                     [TensorArg((1, 3, 1, 2), "int8", scale=0.1)])
    assert run(m, x)[0].reshape(3, 2).tolist() == [[0, 3], [1, 4], [2, 5]]


def test_squeeze_rejects_a_dimension_that_is_not_one():
    m = one_op_model("SQUEEZE", [TensorArg((1, 4), "float32")], [TensorArg((1,), "float32")],
                     {"squeeze_dims": [1]})
    with pytest.raises(OpError, match="cannot squeeze dimension 1 of size 4"):
        refimpl.Interpreter(model_content=m).allocate_tensors()


def test_split_v_infers_the_minus_one_part():
    x = np.arange(7, dtype=np.float32)
    m = one_op_model("SPLIT_V", [TensorArg((7,), "float32"), i32([2, -1, 1]), i32([0])],
                     [TensorArg((2,), "float32"), TensorArg((4,), "float32"),
                      TensorArg((1,), "float32")], {"num_splits": 3})
    a, b, c = run(m, x)
    assert (a.tolist(), b.tolist(), c.tolist()) == ([0, 1], [2, 3, 4, 5], [6])


def test_unpack_along_the_last_axis():
    x = np.array([[1, 2], [3, 4], [5, 6]], np.int32)
    m = one_op_model("UNPACK", [TensorArg((3, 2), "int32")],
                     [TensorArg((3,), "int32"), TensorArg((3,), "int32")], {"num": 2, "axis": -1})
    a, b = run(m, x)
    assert (a.tolist(), b.tolist()) == ([1, 3, 5], [2, 4, 6])


def test_gather_with_batch_dims():
    params = np.array([[10, 11, 12], [20, 21, 22]], np.int32)
    idx = np.array([[2, 0], [1, 1]], np.int32)
    m = one_op_model("GATHER", [TensorArg((2, 3), "int32"), TensorArg((2, 2), "int32")],
                     [TensorArg((2, 2), "int32")], {"axis": 1, "batch_dims": 1})
    assert run(m, params, idx)[0].tolist() == [[12, 10], [21, 21]]


def test_gather_index_out_of_range_is_an_error_naming_the_node():
    m = one_op_model("GATHER", [TensorArg((4, 2), "float32"), TensorArg((1,), "int32")],
                     [TensorArg((1, 2), "float32")], {"axis": 0})
    with pytest.raises(OpError, match=r"node 0 \(GATHER\).*index 7 is out of range"):
        run(m, np.zeros((4, 2), np.float32), np.array([7], np.int32))


def test_space_to_depth_then_depth_to_space_by_hand():
    # a 2x2 image, 1 channel, block 2 -> one pixel with the 4 values in (dy, dx) order
    x = np.array([1, 2, 3, 4], np.float32).reshape(1, 2, 2, 1)
    m = one_op_model("SPACE_TO_DEPTH", [TensorArg((1, 2, 2, 1), "float32")],
                     [TensorArg((1, 1, 1, 4), "float32")], {"block_size": 2})
    y = run(m, x)[0]
    assert y.reshape(-1).tolist() == [1, 2, 3, 4]
    m2 = one_op_model("DEPTH_TO_SPACE", [TensorArg((1, 1, 1, 4), "float32")],
                      [TensorArg((1, 2, 2, 1), "float32")], {"block_size": 2})
    assert np.array_equal(run(m2, y)[0], x)


@pytest.mark.parametrize("mode,expected", [(0, [3, 2, 1, 2, 3, 2]), (1, [2, 1, 1, 2, 3, 3])])
def test_mirror_pad_reflect_and_symmetric(mode, expected):
    x = np.array([1, 2, 3], np.float32)
    m = one_op_model("MIRROR_PAD", [TensorArg((3,), "float32"), i32([[2, 1]])],
                     [TensorArg((6,), "float32")], {"mode": mode})
    assert run(m, x)[0].tolist() == expected


def test_mirror_pad_too_wide_is_an_error():
    m = one_op_model("MIRROR_PAD", [TensorArg((3,), "float32"), i32([[3, 0]])],
                     [TensorArg((6,), "float32")], {"mode": 0})
    with pytest.raises(OpError, match="reflect"):
        refimpl.Interpreter(model_content=m).allocate_tensors()
