"""DEQUANTIZE: affine int -> float32 (per tensor / per channel) and exact float16 widening."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.dequantize import DEQUANTIZE

I8, U8, I16, F16, F32 = np.int8, np.uint8, np.int16, np.float16, np.float32


def dq_ctx(inp, out=None):
    return ctx("DEQUANTIZE", [inp], [out or tensor(F32, inp.shape)])


def test_int8_per_tensor():
    # 0.5 * (q - (-3))
    c = dq_ctx(tensor(I8, [4], 0.5, -3))
    assert run(DEQUANTIZE, c, [-128, -3, 1, 127])[0].tolist() == [-62.5, 0.0, 2.0, 65.0]


def test_result_is_the_float32_rounding_of_the_exact_product():
    # 0.1f * 3 = 0.30000000447034836 exactly in double; one rounding to float32
    c = dq_ctx(tensor(I8, [1], 0.1, 0))
    got = run(DEQUANTIZE, c, [3])[0]
    assert got.dtype == F32 and got[0] == np.float32(np.float64(np.float32(0.1)) * 3)


def test_uint8_and_int16():
    got = run(DEQUANTIZE, dq_ctx(tensor(U8, [2], 0.25, 128)), [0, 255])[0]
    assert got.tolist() == [-32.0, 31.75]
    got = run(DEQUANTIZE, dq_ctx(tensor(I16, [2], 2.0**-10, 0)), [-32768, 1024])[0]
    assert got.tolist() == [-32.0, 1.0]


def test_per_channel_along_quantized_dimension():
    c = dq_ctx(tensor(I8, [2, 3], [0.5, 0.25, 2.0], [0, 1, -1], axis=1))
    got = run(DEQUANTIZE, c, [[2, 2, 2], [-2, 1, -1]])[0]
    assert got.tolist() == [[1.0, 0.25, 6.0], [-1.0, 0.0, 0.0]]


def test_per_channel_single_zero_point_is_repeated():
    c = dq_ctx(tensor(I8, [2, 2], [0.5, 0.25], [1], axis=0))
    assert run(DEQUANTIZE, c, [[3, 3], [3, 3]])[0].tolist() == [[1.0, 1.0], [0.5, 0.5]]


def test_float16_widening_is_exact_including_specials():
    halves = np.array([1.0, -2.5, 6.1e-5, 5.96e-8, 65504.0, np.inf, -0.0, np.nan], F16)
    got = run(DEQUANTIZE, dq_ctx(tensor(F16, [8])), halves)[0]
    assert got.dtype == F32
    np.testing.assert_array_equal(got, halves.astype(np.float64).astype(F32))
    assert np.signbit(got[6]) and np.isnan(got[7])


def test_constant_input_is_dequantized_in_prepare_and_exposed():
    inp = tensor(F16, [3], data=[0.5, 1.5, -2.0])
    c = dq_ctx(inp)
    data = DEQUANTIZE.prepare(c)
    assert c.outputs[0].data.tolist() == [0.5, 1.5, -2.0]
    assert DEQUANTIZE.invoke(c, data, [None])[0].tolist() == [0.5, 1.5, -2.0]


def test_int16_needs_zero_point_0():
    with pytest.raises(OpError, match=r"node 7 \(DEQUANTIZE\).*zero point 0"):
        DEQUANTIZE.prepare(dq_ctx(tensor(I16, [1], 0.5, 3)))


def test_per_channel_int16_is_unsupported():
    with pytest.raises(UnsupportedOpError, match="per-channel"):
        DEQUANTIZE.prepare(dq_ctx(tensor(I16, [2], [0.5, 0.25], [0, 0], axis=0)))


def test_per_channel_scale_count_mismatch_is_error():
    with pytest.raises(OpError, match="do not match"):
        DEQUANTIZE.prepare(dq_ctx(tensor(I8, [2, 3], [0.5, 0.25], [0, 0], axis=1)))


def test_int32_input_is_unsupported():
    with pytest.raises(UnsupportedOpError):
        DEQUANTIZE.prepare(dq_ctx(tensor(np.int32, [1], 0.5, 0)))
