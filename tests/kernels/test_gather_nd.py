"""GATHER_ND: values by hand, and where LiteRT and TFLM check indices differently."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError, UnsupportedOpError

P = np.arange(12, dtype=np.float32).reshape(3, 4)  # P[r, c] = 4 r + c


def run(params, idx, flavor="tflite-ref"):
    idx = np.asarray(idx, np.int32)
    out = idx.shape[:-1] + params.shape[idx.shape[-1]:]
    m = one_op_model("GATHER_ND", [TensorArg(params.shape, params.dtype.name),
                                   TensorArg(idx.shape, "int32")],
                     [TensorArg(out, params.dtype.name)])
    return refimpl.Interpreter(model_content=m, flavor=flavor).run(params, idx)[0]


@pytest.mark.parametrize("flavor", ["tflite-ref", "tflm"])
def test_gather_elements_and_rows(flavor):
    assert run(P, [[1, 0], [2, 3]], flavor).tolist() == [4, 11]  # P[1, 0], P[2, 3]
    assert run(P, [[2], [0]], flavor).tolist() == [[8, 9, 10, 11], [0, 1, 2, 3]]
    assert run(P, [[[0, 1]], [[1, 1]]], flavor).tolist() == [[1], [5]]  # batch of (1, 2)


def test_litert_checks_every_coordinate():
    with pytest.raises(OpError, match=r"GATHER_ND.*\[0, 5\].*out of range"):
        run(P, [[0, 5]])
    with pytest.raises(OpError, match="negative"):
        run(P, [[1, -1]])


def test_tflm_checks_only_the_flat_position():
    # [0, 5] -> flat 0*4 + 5 = 5 = P[1, 1] ; [1, -1] -> flat 3 = P[0, 3]
    assert run(P, [[0, 5], [1, -1]], "tflm").tolist() == [5, 3]
    with pytest.raises(OpError, match="outside"):
        run(P, [[2, 4]], "tflm")  # flat 12: past the end


def test_depth_zero_gathers_everything_on_tflm_and_is_refused_for_litert():
    idx = np.zeros((2, 0), np.int32)
    assert run(P, idx, "tflm").shape == (2, 3, 4)
    with pytest.raises(UnsupportedOpError, match="depth 0"):
        run(P, idx)


def test_tflm_types():
    with pytest.raises(UnsupportedOpError, match="params float32, int8"):
        run(P.astype(np.int32), [[0, 0]], "tflm")
