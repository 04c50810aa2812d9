"""LOG_SOFTMAX: glibc logf, float reference arithmetic, gemmlowp fixed point and the
optimized table variant against goldens measured on the runtimes, output checks."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM
from refimpl.kernels.log_softmax import LOG_SOFTMAX, log_x_for_x_greater_than_or_equal_to_1, logf


def ls_ctx(shape, dtype=np.float32, q_in=(None, 0), q_out=None, flavor=TFLITE_REF):
    if q_out is None:
        q_out = (None, 0) if dtype == np.float32 else (16 / 256, 255 if dtype == np.uint8 else 127)
    return ctx("LOG_SOFTMAX", [tensor(dtype, shape, *q_in)], [tensor(dtype, shape, *q_out)],
               flavor=flavor)


def test_logf_matches_the_c_library():
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library to compare with")
    libm = ctypes.CDLL(name)
    libm.logf.restype, libm.logf.argtypes = ctypes.c_float, [ctypes.c_float]
    x = np.random.default_rng(1).uniform(1.0, 500.0, 3000).astype(np.float32)
    want = np.array([libm.logf(float(v)) for v in x], np.float32)
    np.testing.assert_array_equal(logf(x), want)


def test_logf_of_one_is_zero():
    assert logf(np.array([1.0], np.float32))[0] == 0.0


def test_float_equal_row():
    # Two equal values: sum of exps = 2, out = 0 - logf(2) = -0.6931472.
    x = np.array([[5.0, 5.0]], np.float32)
    y = run(LOG_SOFTMAX, ls_ctx(x.shape), x)[0]
    assert y.tolist() == [[-np.float32(np.log(2.0))] * 2]


@pytest.mark.parametrize("value, integer_bits, want", [(1 << 19, 12, 0.0), (2 << 19, 12, 0.693147),
                                                       (100 << 19, 12, 4.605170)],
                         ids=["one", "two", "hundred"])
def test_fixed_point_log_is_close_to_ln(value, integer_bits, want):
    # Q12.19 inputs 1, 2, 100 -> Q5.26 ln: 0, ln 2, ln 100 within a few 2**-26 units.
    got = log_x_for_x_greater_than_or_equal_to_1(np.array([value]), integer_bits, 5)[0]
    assert abs(got / 2**26 - want) < 1e-5


@pytest.mark.parametrize("flavor", [pytest.param(f, id=str(f))
                                    for f in (TFLITE_REF, TFLITE_BUILTIN, TFLM)])
def test_int8_golden(flavor):
    # Row 1: d = [0, 0, -6.35, -12.75] (s = 0.05); ln(2 + e^-6.35 + ...) = 0.694;
    # (d - 0.694) * 16 + 127 = [115.9, 115.9, 14.3, -88.1]. Row 2: steps of 0.5, i.e.
    # 8 output units apart. Measured on ai-edge-litert 2.3.0 (BUILTIN_REF and BUILTIN)
    # and the tflite-micro wheel.
    x = np.array([[127, 127, 0, -128], [10, 20, 30, 40]], np.int8)
    y = run(LOG_SOFTMAX, ls_ctx(x.shape, np.int8, (0.05, 0), flavor=flavor), x)[0]
    assert y.tolist() == [[116, 116, 14, -88], [90, 98, 106, 114]]


def test_output_parameters_are_checked():
    with pytest.raises(OpError, match="16/256"):
        LOG_SOFTMAX.prepare(ls_ctx((1, 4), np.int8, (0.1, 0), q_out=(16 / 256, 0)))


def test_tiny_input_scale_is_error():
    # s_in * 2**26 <= 1: QuantizeMultiplierGreaterThanOne aborts in the runtimes.
    with pytest.raises(OpError, match="exceed 1"):
        LOG_SOFTMAX.prepare(ls_ctx((1, 4), np.int8, (2.0**-27, 0)))


def test_tflm_has_no_uint8():
    with pytest.raises(UnsupportedOpError):
        LOG_SOFTMAX.prepare(ls_ctx((1, 4), np.uint8, (0.1, 128), flavor=TFLM))


def test_optimized_float_sums_in_eigen_packets():
    # One row of 8: two SSE packets of Eigen's own exp, added lane-wise, then
    # (l0 + l2) + (l1 + l3). Sum 2.1715074 instead of the sequential 2.171507, so every
    # output moves by an ulp or so. Goldens measured on ai-edge-litert 2.3.0
    # (BUILTIN_WITHOUT_DEFAULT_DELEGATES and BUILTIN_REF).
    x = np.array([[2.44, 2.46, 0.12, -1.71, -3.57, -0.93, -0.73, -3.64]], np.float32)
    opt = [-0.7954215407371521, -0.7754215598106384, -3.115421772003174, -4.9454216957092285,
           -6.805421352386475, -4.165421485900879, -3.965421676635742, -6.87542200088501]
    ref = [-0.795421302318573, -0.7754213213920593, -3.1154215335845947, -4.94542121887207,
           -6.805420875549316, -4.165421485900879, -3.965421438217163, -6.875421524047852]
    got_opt = run(LOG_SOFTMAX, ls_ctx(x.shape, flavor=TFLITE_BUILTIN), x)[0]
    got_ref = run(LOG_SOFTMAX, ls_ctx(x.shape), x)[0]
    np.testing.assert_array_equal(got_opt[0], np.array(opt, np.float32))
    np.testing.assert_array_equal(got_ref[0], np.array(ref, np.float32))
