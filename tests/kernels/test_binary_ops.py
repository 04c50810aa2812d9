"""MAXIMUM/MINIMUM, comparisons, SELECT/SELECT_V2, SQUARED_DIFFERENCE, DIV, PRELU: values
worked out by hand, and the errors bad inputs must give."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError


def run(model, *xs):
    return refimpl.Interpreter(model_content=model).run(*xs)


def test_quantized_comparison_uses_real_values():
    # a: scale 0.05, zp 3 -> q=13 is 0.5 ; b: scale 0.1, zp 1 -> q=6 is 0.5 (equal), q=7 is 0.6
    m = one_op_model("LESS", [TensorArg((2,), "int8", scale=0.05, zero_point=3),
                              TensorArg((2,), "int8", scale=0.1, zero_point=1)],
                     [TensorArg((2,), "bool")])
    a = np.array([13, 13], np.int8)
    b = np.array([6, 7], np.int8)
    assert run(m, a, b)[0].tolist() == [False, True]  # raw 13 < 6 would say False, False


def test_maximum_broadcasts():
    m = one_op_model("MAXIMUM", [TensorArg((2, 2), "float32"), TensorArg((2,), "float32")],
                     [TensorArg((2, 2), "float32")])
    x = np.array([[1, 5], [-3, 0]], np.float32)
    assert run(m, x, np.array([2, 2], np.float32))[0].tolist() == [[2, 5], [2, 2]]


def test_select_takes_rows_with_a_1d_condition():
    m = one_op_model("SELECT", [TensorArg((2,), "bool"), TensorArg((2, 2), "int32"),
                                TensorArg((2, 2), "int32")], [TensorArg((2, 2), "int32")])
    c = np.array([True, False])
    x, y = np.array([[1, 2], [3, 4]], np.int32), np.array([[5, 6], [7, 8]], np.int32)
    assert run(m, c, x, y)[0].tolist() == [[1, 2], [7, 8]]


def test_div_int32_truncates_toward_zero_and_zero_divisor_is_an_error():
    m = one_op_model("DIV", [TensorArg((3,), "int32"), TensorArg((3,), "int32")],
                     [TensorArg((3,), "int32")])
    a, b = np.array([-7, 7, -7], np.int32), np.array([2, -2, -2], np.int32)
    assert run(m, a, b)[0].tolist() == [-3, -3, 3]  # Python's // would give -4, -4, 3
    with pytest.raises(OpError, match=r"node 0 \(DIV\).*division by zero"):
        run(m, a, np.array([1, 0, 1], np.int32))


def test_prelu_int8_negative_branch_by_hand():
    # s_in 0.5, zp 0; alpha q=64 scale 1/128 (= 0.5), zp 0; s_out 0.5, zp 0
    # x = -10 (real -5) -> alpha*x = -2.5 -> q_out = -5 ; x = 6 -> 6
    m = one_op_model("PRELU", [TensorArg((2,), "int8", scale=0.5, zero_point=0),
                               TensorArg((1,), "int8", data=np.array([64], np.int8),
                                         scale=1 / 128, zero_point=0)],
                     [TensorArg((2,), "int8", scale=0.5, zero_point=0)])
    assert run(m, np.array([-10, 6], np.int8))[0].tolist() == [-5, 6]


def test_squared_difference_float():
    m = one_op_model("SQUARED_DIFFERENCE", [TensorArg((2,), "float32"), TensorArg((2,), "float32")],
                     [TensorArg((2,), "float32")])
    assert run(m, np.array([3, -1], np.float32), np.array([1, 2], np.float32))[0].tolist() == [4, 9]
