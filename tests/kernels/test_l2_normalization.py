"""L2_NORMALIZATION: float reference arithmetic, epsilon, integer goldens measured on the
runtimes, fixed output parameters."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM
from refimpl.kernels.l2_normalization import L2_NORMALIZATION

FLAVORS = [pytest.param(f, id=str(f)) for f in (TFLITE_REF, TFLITE_BUILTIN, TFLM)]


def l2_ctx(shape, dtype=np.float32, q_in=(None, 0), q_out=None, flavor=TFLITE_REF):
    if q_out is None:
        q_out = (None, 0) if dtype == np.float32 else (1 / 128, 128 if dtype == np.uint8 else 0)
    return ctx("L2_NORMALIZATION", [tensor(dtype, shape, *q_in)], [tensor(dtype, shape, *q_out)],
               flavor=flavor, fused_activation_function=0)


def test_float_divides_by_the_norm():
    # [3, 4]: sum of squares 25, sqrtf 5, 3/5 and 4/5 in float32.
    x = np.array([[3.0, 4.0]], np.float32)
    y = run(L2_NORMALIZATION, l2_ctx(x.shape), x)[0]
    assert y.tolist() == [[np.float32(3) / np.float32(5), np.float32(4) / np.float32(5)]]


def test_float_zero_row_uses_epsilon():
    x = np.zeros((1, 3), np.float32)
    assert run(L2_NORMALIZATION, l2_ctx(x.shape), x)[0].tolist() == [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_int8_golden(flavor):
    # Row [3, 4, 0, -5]: norm sqrt(50); 128 * [0.42, 0.57, 0, -0.71] = [54.3, 72.4, 0, -90.5].
    # Row [1, 1, 1, 1]: 128 * 0.5 = 64. Values measured on ai-edge-litert 2.3.0 BUILTIN_REF
    # and on the tflite-micro wheel (identical).
    x = np.array([[3, 4, 0, -5], [1, 1, 1, 1]], np.int8)
    y = run(L2_NORMALIZATION, l2_ctx(x.shape, np.int8, (0.1, 0), flavor=flavor), x)[0]
    assert y.tolist() == [[54, 72, 0, -91], [64, 64, 64, 64]]


def test_uint8_golden():
    # The same rows shifted by the zero point 128 (measured on ai-edge-litert 2.3.0).
    x = np.array([[131, 132, 128, 123], [129, 129, 129, 129]], np.uint8)
    y = run(L2_NORMALIZATION, l2_ctx(x.shape, np.uint8, (0.1, 128)), x)[0]
    assert y.tolist() == [[182, 200, 128, 37], [192, 192, 192, 192]]


def test_output_parameters_are_checked():
    with pytest.raises(OpError, match="1/128"):
        L2_NORMALIZATION.prepare(l2_ctx((1, 4), np.int8, (0.1, 0), q_out=(1 / 64, 0)))


def test_tflm_has_no_uint8():
    with pytest.raises(UnsupportedOpError):
        L2_NORMALIZATION.prepare(l2_ctx((1, 4), np.uint8, (0.1, 128), flavor=TFLM))
