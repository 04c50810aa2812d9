"""RESHAPE: shape sources, -1 inference, the stale-batch case, dynamic shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError
from refimpl.kernels.reshape import RESHAPE

F32, I8, I32 = np.float32, np.int8, np.int32


def shape_t(values, dtype=I32):
    return tensor(dtype, [len(values)], data=values, name="shape")


def test_shape_tensor_with_minus_one():
    c = ctx("RESHAPE", [tensor(F32, [2, 3, 4]), shape_t([-1, 4])], [tensor(F32, [6, 4])])
    got = run(RESHAPE, c, np.arange(24), None)[0]
    assert c.outputs[0].shape == (6, 4)
    np.testing.assert_array_equal(got, np.arange(24).reshape(6, 4))


def test_options_new_shape_when_no_shape_tensor():
    inp, out = tensor(I8, [2, 3], 0.5, 1), tensor(I8, [3, 2], 0.5, 1)
    c = ctx("RESHAPE", [inp], [out], new_shape=[3, -1])
    assert run(RESHAPE, c, [[1, 2, 3], [4, 5, 6]])[0].tolist() == [[1, 2], [3, 4], [5, 6]]


def test_int64_shape_tensor_is_ignored_in_favour_of_options():
    # TFLite only reads a 1-D int32 shape tensor; otherwise it falls back to new_shape
    inputs = [tensor(F32, [2, 3]), shape_t([6], np.int64)]
    c = ctx("RESHAPE", inputs, [tensor(F32, [3, 2])], new_shape=[3, 2])
    RESHAPE.prepare(c)
    assert c.outputs[0].shape == (3, 2)


def test_legacy_zero_new_shape_means_scalar():
    c = ctx("RESHAPE", [tensor(F32, [1, 1])], [tensor(F32, [])], new_shape=[0])
    assert run(RESHAPE, c, [[2.5]])[0].shape == ()


def test_empty_input_with_minus_one_gives_zero():
    c = ctx("RESHAPE", [tensor(F32, [0, 3])], [tensor(F32, [0, 5])], new_shape=[-1, 5])
    RESHAPE.prepare(c)
    assert c.outputs[0].shape == (0, 5)


def test_stale_batch_in_constant_shape_is_error_like_tflite():
    # Saved with batch 1 -> constant shape [1, 60]; input resized to batch 4. LiteRT 2.3.0:
    # "num_input_elements != num_output_elements (240 != 60) ... RESHAPE failed to prepare"
    c = ctx("RESHAPE", [tensor(F32, [4, 5, 4, 3]), shape_t([1, 60])], [tensor(F32, [1, 60])])
    pattern = r"node 7 \(RESHAPE\): cannot reshape .*240.*60.*batch 1.*batch 4"
    with pytest.raises(OpError, match=pattern):
        RESHAPE.prepare(c)


def test_minus_one_batch_follows_the_resized_input():
    c = ctx("RESHAPE", [tensor(F32, [4, 5, 4, 3]), shape_t([-1, 60])], [tensor(F32, [1, 60])])
    RESHAPE.prepare(c)
    assert c.outputs[0].shape == (4, 60)


def test_element_count_mismatch_is_error():
    c = ctx("RESHAPE", [tensor(F32, [2, 3])], [tensor(F32, [4])], new_shape=[4])
    with pytest.raises(OpError, match="6 elements.*4 elements"):
        RESHAPE.prepare(c)


def test_two_minus_ones_is_error():
    c = ctx("RESHAPE", [tensor(F32, [2, 3])], [tensor(F32, [2, 3])], new_shape=[-1, -1])
    with pytest.raises(OpError, match="more than one -1"):
        RESHAPE.prepare(c)


def test_runtime_shape_tensor_is_resolved_at_invoke():
    inputs = [tensor(F32, [2, 6]), tensor(I32, [3], name="shape")]
    c = ctx("RESHAPE", inputs, [tensor(F32, [2, 2, 3])])
    data = RESHAPE.prepare(c)
    assert data.output_shape is None
    x = np.arange(12, dtype=F32).reshape(2, 6)
    got = RESHAPE.invoke(c, data, [x, np.array([3, -1, 2], I32)])[0]
    assert got.shape == (3, 2, 2)


def test_constant_input_is_folded():
    inputs = [tensor(I32, [4], data=[1, 2, 3, 4]), shape_t([2, 2])]
    c = ctx("RESHAPE", inputs, [tensor(I32, [2, 2])])
    RESHAPE.prepare(c)
    assert c.outputs[0].data.tolist() == [[1, 2], [3, 4]]
