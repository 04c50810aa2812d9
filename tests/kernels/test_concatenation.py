"""CONCATENATION: axes, quantization requirements, uint8 rescaling, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.concatenation import CONCATENATION

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def cat_ctx(inputs, out, axis, act=0):
    return ctx("CONCATENATION", inputs, [out], axis=axis, fused_activation_function=act)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3], ids=["0", "1", "2", "-1", "-3"])
def test_float_along_any_axis_matches_numpy(axis):
    rng = np.random.default_rng(0)
    shapes = [[2, 3, 4], [2, 3, 4]]
    ax = axis % 3
    shapes[1][ax] = 5
    out_shape = list(shapes[0])
    out_shape[ax] += 5
    xs = [rng.standard_normal(s).astype(F32) for s in shapes]
    c = cat_ctx([tensor(F32, s) for s in shapes], tensor(F32, out_shape), axis)
    got = run(CONCATENATION, c, *xs)[0]
    np.testing.assert_array_equal(got, np.concatenate(xs, axis=ax))


def test_int8_with_equal_params_is_a_copy():
    t = lambda n: tensor(I8, [1, n], 0.1, -3)  # noqa: E731
    c = cat_ctx([t(2), t(1)], t(3), -1)
    assert run(CONCATENATION, c, [[-128, 127]], [[5]])[0].tolist() == [[-128, 127, 5]]


def test_int8_with_other_input_scale_is_error_naming_node_and_tensor():
    c = cat_ctx([tensor(I8, [2], 0.1, -3, name="a"), tensor(I8, [2], 0.2, -3, name="b")],
                tensor(I8, [4], 0.1, -3), 0)  # fmt: skip
    with pytest.raises(OpError, match=r"node 7 \(CONCATENATION\): int8 input 1 'b'"):
        CONCATENATION.prepare(c)


def test_int8_with_other_input_zero_point_is_error():
    c = cat_ctx([tensor(I8, [2], 0.1, -3), tensor(I8, [2], 0.1, 0)], tensor(I8, [4], 0.1, -3), 0)
    with pytest.raises(OpError, match="scale and zero point"):
        CONCATENATION.prepare(c)


def test_int16_needs_zero_point_0():
    c = cat_ctx([tensor(I16, [2], 0.1, 0), tensor(I16, [2], 0.1, 1)], tensor(I16, [4], 0.1, 0), 0)
    with pytest.raises(OpError, match="zero point 0"):
        CONCATENATION.prepare(c)


def test_uint8_with_other_params_is_rescaled_in_float():
    # input 0: s 0.5, zp 10 -> s_out 0.25, zp 3: scale = fl32(0.5 * fl32(1/0.25)) = 2,
    # bias = -10 * 2 = -20: q=15 -> 30-20+3 = 13 ; q=250 -> 483 -> 255 ; q=0 -> -17 -> 0
    # input 1: s 0.125, zp 3 -> scale 0.5, bias -1.5: q=6 -> 1.5 -> 2 (half away) + 3 = 5
    # input 2: same params as the output: copied
    c = cat_ctx([tensor(U8, [3], 0.5, 10), tensor(U8, [1], 0.125, 3), tensor(U8, [1], 0.25, 3)],
                tensor(U8, [5], 0.25, 3), 0)  # fmt: skip
    assert run(CONCATENATION, c, [15, 250, 0], [6], [77])[0].tolist() == [13, 255, 0, 5, 77]


def test_fused_activation_is_refused_like_tflite():
    c = cat_ctx([tensor(F32, [1]), tensor(F32, [1])], tensor(F32, [2]), 0, act=1)
    with pytest.raises(OpError, match="fused activation RELU is not supported"):
        CONCATENATION.prepare(c)


@pytest.mark.parametrize("axis", [2, -3], ids=["2", "-3"])
def test_axis_out_of_range_is_error(axis):
    c = cat_ctx([tensor(F32, [1, 2]), tensor(F32, [1, 2])], tensor(F32, [2, 2]), axis)
    with pytest.raises(OpError, match="out of range"):
        CONCATENATION.prepare(c)


def test_other_dimension_mismatch_is_error():
    c = cat_ctx([tensor(F32, [1, 2]), tensor(F32, [2, 3])], tensor(F32, [1, 5]), 1)
    with pytest.raises(OpError, match="dimension 0"):
        CONCATENATION.prepare(c)


def test_type_mismatch_is_error():
    c = cat_ctx([tensor(F32, [1]), tensor(np.int32, [1])], tensor(F32, [2]), 0)
    with pytest.raises(OpError, match="another type"):
        CONCATENATION.prepare(c)


def test_constant_scalars_form_a_vector_and_dynamic_scalars_are_unsupported():
    scalars = [tensor(np.int32, [], data=4), tensor(np.int32, [], data=7)]
    c = cat_ctx(scalars, tensor(np.int32, [2]), 0)
    assert run(CONCATENATION, c, 4, 7)[0].tolist() == [4, 7]
    c = cat_ctx([tensor(np.int32, []), tensor(np.int32, [])], tensor(np.int32, [2]), 0)
    with pytest.raises(UnsupportedOpError):
        CONCATENATION.prepare(c)
