"""LOGICAL_AND / LOGICAL_OR / LOGICAL_NOT: truth tables, broadcasting, bool only."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import UnsupportedOpError

T, F = True, False


def run(op, *xs, dtype="bool", flavor="tflite-ref"):
    xs = [np.asarray(x, dtype) for x in xs]
    so = np.broadcast_shapes(*(x.shape for x in xs))
    m = one_op_model(op, [TensorArg(x.shape, dtype) for x in xs], [TensorArg(so, "bool")])
    return refimpl.Interpreter(model_content=m, flavor=flavor).run(*xs)[0]


@pytest.mark.parametrize("flavor", ["tflite-ref", "tflm"])
def test_truth_tables_with_broadcasting(flavor):
    a = [[T, F, T]]    # (1, 3)
    b = [[T], [F]]     # (2, 1)
    assert run("LOGICAL_AND", a, b, flavor=flavor).tolist() == [[T, F, T], [F, F, F]]
    assert run("LOGICAL_OR", a, b, flavor=flavor).tolist() == [[T, T, T], [T, F, T]]
    assert run("LOGICAL_NOT", a, flavor=flavor).tolist() == [[F, T, F]]


def test_non_bool_inputs_are_refused():
    with pytest.raises(UnsupportedOpError, match=r"LOGICAL_AND.*bool"):
        m = one_op_model("LOGICAL_AND", [TensorArg((2,), "int8"), TensorArg((2,), "int8")],
                         [TensorArg((2,), "int8")])
        refimpl.Interpreter(model_content=m).allocate_tensors()
