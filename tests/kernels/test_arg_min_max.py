"""ARG_MAX / ARG_MIN: first index wins on ties, axes, output types, TFLM limits."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.arg_min_max import ARG_MAX, ARG_MIN


def arg_ctx(op, shape, axis, dtype=np.float32, out_type=2, flavor=TFLITE_REF, axis_dtype=np.int32):
    x = tensor(dtype, shape)
    a = tensor(axis_dtype, (1,), data=[axis])
    out_dtype = np.int64 if out_type == 4 else np.int32
    return ctx(op, [x, a], [tensor(out_dtype, (1,))], flavor=flavor, output_type=out_type)


@pytest.mark.parametrize("kernel, op, row, want", [
    (ARG_MAX, "ARG_MAX", [1, 5, 5, 2], 1),
    (ARG_MIN, "ARG_MIN", [3, 1, 4, 1], 1),
    (ARG_MAX, "ARG_MAX", [-0.0, 0.0], 0),     # -0 == +0: a tie
], ids=["max-tie", "min-tie", "signed-zero"])
def test_first_index_wins_on_ties(kernel, op, row, want):
    x = np.array(row, np.float32)
    assert run(kernel, arg_ctx(op, x.shape, 0), x)[0].tolist() == want


def test_negative_axis_and_output_shape():
    x = np.array([[[1, 9], [8, 2], [3, 3]]], np.int8)     # shape (1, 3, 2)
    c = arg_ctx("ARG_MAX", x.shape, -2, dtype=np.int8, out_type=4)
    y = run(ARG_MAX, c, x)[0]
    assert c.outputs[0].shape == (1, 2)
    assert y.dtype == np.int64 and y.tolist() == [[1, 0]]


def test_axis_out_of_range_is_error():
    with pytest.raises(OpError, match="out of range"):
        ARG_MAX.prepare(arg_ctx("ARG_MAX", (2, 3), 2))


@pytest.mark.parametrize("dtype, out_type", [(np.uint8, 2), (np.int32, 2), (np.float32, 4)],
                         ids=["uint8", "int32", "int64-output"])
def test_tflm_limits(dtype, out_type):
    with pytest.raises(UnsupportedOpError):
        ARG_MIN.prepare(arg_ctx("ARG_MIN", (2, 3), 1, dtype=dtype, out_type=out_type,
                                flavor=TFLM))
