"""SHAPE, STRIDED_SLICE, PACK, and the Keras Flatten chain they form with RESHAPE."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.reshape import RESHAPE
from refimpl.kernels.shape_ops import PACK, SHAPE, STRIDED_SLICE

F32, I8, I32, I64 = np.float32, np.int8, np.int32, np.int64


# ------------------------------------------------------------------------------------------
# SHAPE
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("out_type, dtype", [(2, I32), (4, I64)], ids=["int32", "int64"])
def test_shape_value_is_known_at_prepare(out_type, dtype):
    c = ctx("SHAPE", [tensor(F32, [4, 5, 6])], [tensor(dtype, [3])], out_type=out_type)
    data = SHAPE.prepare(c)
    assert c.outputs[0].data.tolist() == [4, 5, 6] and c.outputs[0].data.dtype == dtype
    assert SHAPE.invoke(c, data, [None])[0].tolist() == [4, 5, 6]


def test_shape_out_type_float_is_error():
    c = ctx("SHAPE", [tensor(F32, [4])], [tensor(F32, [1])], out_type=0)
    with pytest.raises(OpError, match="out_type"):
        SHAPE.prepare(c)


# ------------------------------------------------------------------------------------------
# STRIDED_SLICE against NumPy's basic slicing (same semantics for these cases)
# ------------------------------------------------------------------------------------------
def ss_ctx(shape, begin, end, strides, **masks):
    ints = lambda v, n: tensor(I32, [len(v)], data=v, name=n)  # noqa: E731
    opts = dict(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)
    opts["offset"] = False
    opts.update(masks)
    return ctx("STRIDED_SLICE", [tensor(F32, shape), ints(begin, "begin"), ints(end, "end"),
               ints(strides, "strides")], [tensor(F32, [1])], **opts)  # fmt: skip


X = np.arange(2 * 3 * 4 * 5, dtype=F32).reshape(2, 3, 4, 5)
S = slice


@pytest.mark.parametrize(
    "begin, end, strides, masks, key",
    [
        ([0, 1], [2, 3], [1, 1], {}, (S(0, 2), S(1, 3))),
        ([1], [2], [1], dict(shrink_axis_mask=1), (1,)),
        ([0], [1], [1], dict(shrink_axis_mask=1), (0,)),  # Keras Flatten's batch extraction
        ([-1, 0, 0, 4], [0, 0, 0, 0], [-1, 1, 1, -2], dict(end_mask=0b0110),
         (S(-1, 0, -1), S(None), S(None), S(4, 0, -2))),
        ([0, 0, 1], [0, 0, 0], [1, 1, 2], dict(begin_mask=3, end_mask=7),
         (S(None), S(None), S(1, None, 2))),
        ([-100, 1], [100, -1], [1, 1], {}, (S(-100, 100), S(1, -1))),  # clamped out-of-range
        ([0, 2], [0, 3], [1, 1], dict(ellipsis_mask=1), (Ellipsis, S(2, 3))),
        ([0, 0, 1], [0, 0, 2], [1, 1, 1], dict(ellipsis_mask=2, shrink_axis_mask=4),
         (S(0, 0), Ellipsis, 1)),
        ([0, 0], [0, 0], [1, 1], dict(new_axis_mask=1, begin_mask=2, end_mask=2), (None, S(None))),
        ([1, 0, 0], [2, 0, 0], [1, 1, 1], dict(new_axis_mask=2, shrink_axis_mask=1, end_mask=4),
         (1, None, S(None))),
        ([3], [1], [1], {}, (S(3, 1),)),  # empty result
    ],
    ids=["basic", "shrink", "flatten-batch", "negative-strides", "masks", "clamp", "ellipsis",
         "zero-range+ellipsis+shrink", "new-axis", "shrink+new-axis", "empty"],
)
def test_strided_slice_matches_numpy(begin, end, strides, masks, key):
    c = ss_ctx(X.shape, begin, end, strides, **masks)
    got = run(STRIDED_SLICE, c, X, None, None, None)[0]
    want = X[key]
    assert got.shape == want.shape and c.outputs[0].shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_strided_slice_offset_flag_reads_end_as_size():
    # offset: end = begin + size before clamping; begin 1, size 2 -> [1, 3)
    c = ss_ctx([6], [1], [2], [1], offset=True)
    assert run(STRIDED_SLICE, c, np.arange(6), None, None, None)[0].tolist() == [1, 2]


def test_strided_slice_runtime_indices_are_resolved_at_invoke():
    inputs = [tensor(F32, [5]), tensor(I32, [1]), tensor(I32, [1]), tensor(I32, [1])]
    c = ctx("STRIDED_SLICE", inputs, [tensor(F32, [1])], begin_mask=0, end_mask=0,
            ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, offset=False)  # fmt: skip
    data = STRIDED_SLICE.prepare(c)
    values = [np.arange(5, dtype=F32), np.array([4]), np.array([0]), np.array([-2])]
    got = STRIDED_SLICE.invoke(c, data, values)
    assert got[0].tolist() == [4.0, 2.0]


def test_strided_slice_zero_stride_is_error():
    with pytest.raises(OpError, match="non-zero"):
        STRIDED_SLICE.prepare(ss_ctx([4], [0], [4], [0]))


def test_strided_slice_shrink_out_of_range_is_error():
    with pytest.raises(OpError, match="shrink_axis"):
        STRIDED_SLICE.prepare(ss_ctx([4], [7], [8], [1], shrink_axis_mask=1))


def test_strided_slice_int64_indices_are_unsupported():
    c = ctx("STRIDED_SLICE", [tensor(F32, [4])] + [tensor(I64, [1], data=[0]) for _ in range(3)],
            [tensor(F32, [1])])  # fmt: skip
    with pytest.raises(UnsupportedOpError, match="int32"):
        STRIDED_SLICE.prepare(c)


# ------------------------------------------------------------------------------------------
# PACK
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3], ids=["0", "1", "2", "-1", "-3"])
def test_pack_matches_numpy_stack(axis):
    xs = [np.arange(6, dtype=F32).reshape(2, 3) + 10 * k for k in range(4)]
    inputs = [tensor(F32, [2, 3]) for _ in xs]
    c = ctx("PACK", inputs, [tensor(F32, [1])], values_count=4, axis=axis)
    got = run(PACK, c, *xs)[0]
    np.testing.assert_array_equal(got, np.stack(xs, axis=axis))


def test_pack_quantization_mismatch_is_error():
    inputs = [tensor(I8, [2], 0.5, 0), tensor(I8, [2], 0.5, 1)]
    c = ctx("PACK", inputs, [tensor(I8, [2, 2], 0.5, 0)], values_count=2, axis=0)
    with pytest.raises(OpError, match=r"node 7 \(PACK\).*quantization"):
        PACK.prepare(c)


def test_pack_values_count_mismatch_is_error():
    c = ctx("PACK", [tensor(F32, [2])], [tensor(F32, [1, 2])], values_count=2, axis=0)
    with pytest.raises(OpError, match="values_count"):
        PACK.prepare(c)


# ------------------------------------------------------------------------------------------
# Keras Flatten: SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE, folded at prepare time
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 4], ids=["batch1", "batch4"])
def test_flatten_chain_follows_the_batch(batch):
    x = tensor(F32, [batch, 5, 4, 3], name="x")
    shp = tensor(I32, [4], name="shape")
    batch_t = tensor(I32, [], name="batch")
    packed = tensor(I32, [2], name="packed")
    y = tensor(F32, [1, 60], name="y")  # the model file's (batch-1) shape
    consts = [tensor(I32, [1], data=v, name=n) for v, n in (([0], "b"), ([1], "e"), ([1], "s"))]
    minus1 = tensor(I32, [], data=60, name="sixty")
    c_shape = ctx("SHAPE", [x], [shp], out_type=2)
    c_slice = ctx("STRIDED_SLICE", [shp, *consts], [batch_t], begin_mask=0, end_mask=0,
                  ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=1, offset=False)  # fmt: skip
    c_pack = ctx("PACK", [batch_t, minus1], [packed], values_count=2, axis=0)
    c_reshape = ctx("RESHAPE", [x, packed], [y])
    steps = ((SHAPE, c_shape), (STRIDED_SLICE, c_slice), (PACK, c_pack), (RESHAPE, c_reshape))
    datas = [kernel.prepare(c) for kernel, c in steps]
    assert packed.data.tolist() == [batch, 60]
    assert y.shape == (batch, 60)
    xv = np.arange(batch * 60, dtype=F32).reshape(batch, 5, 4, 3)
    out = RESHAPE.invoke(c_reshape, datas[3], [xv, packed.data])[0]
    np.testing.assert_array_equal(out, xv.reshape(batch, 60))
