"""POW: hand-computed values for both paths (``std::pow`` and IntegerExponentPow), the int32
conversions, the errors, and :func:`refimpl.kernels.pow.powf` against the machine's own C
library ``powf`` (what LiteRT calls), bit for bit."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.pow import integer_exponent, powf

I32_MIN = -(2**31)
FLT_MAX = float(np.finfo(np.float32).max)


def run(x, e, flavor="tflite-ref"):
    x, e = np.asarray(x), np.asarray(e)
    so = np.broadcast_shapes(x.shape, e.shape)
    dt = x.dtype.name
    m = one_op_model("POW", [TensorArg(x.shape, dt), TensorArg(e.shape, dt)],
                     [TensorArg(so, dt)])
    return refimpl.Interpreter(model_content=m, flavor=flavor).run(x, e)[0]


def test_int32_same_shapes_by_hand():
    x = np.array([2, -3, 0, 5, 2, 3, -2], np.int32)
    e = np.array([10, 3, 0, 0, 31, 20, 31], np.int32)
    # 1024, -27, 0^0 = 1, 1 ; 2^31 and 3^20 leave int32: INT32_MIN ; (-2)^31 = INT32_MIN exactly
    assert run(x, e).tolist() == [1024, -27, 1, 1, I32_MIN, I32_MIN, I32_MIN]


def test_int32_one_element_exponent_multiplies_and_wraps():
    x = np.array([3, 2, -1, 0], np.int32)
    # square-and-multiply modulo 2^32: 3^20 = 3486784401 -> 3486784401 - 2^32 = -808182895
    assert run(x, np.array([20], np.int32)).tolist() == [-808182895, 1048576, 1, 0]
    # exponent 0 is not >= 1: std::pow, x^0 = 1
    assert run(x, np.array([0], np.int32)).tolist() == [1, 1, 1, 1]


def test_int32_negative_exponent_is_an_error():
    with pytest.raises(OpError, match=r"node 0 \(POW\).*exponent -1 < 0"):
        run(np.array([2, 2], np.int32), np.array([1, -1], np.int32))


def test_float_special_values_same_shapes():
    x = np.array([2, -2, -2, 0, -0.0, 1, np.nan, -1], np.float32)
    e = np.array([-3, 3, 0.5, -1, -1, np.nan, 0, np.inf], np.float32)
    out = run(x, e)
    # 0.125, -8, NaN (negative base, non-integer exponent), inf, -inf (odd exponent keeps
    # the sign of -0), 1^NaN = 1, NaN^0 = 1, (-1)^inf = 1
    assert out[[0, 1, 3, 4, 5, 6, 7]].tolist() == [0.125, -8, np.inf, -np.inf, 1, 1, 1]
    assert np.isnan(out[2])


def test_float_one_element_near_integer_exponent_multiplies_in_float32():
    x = np.array([1000.0, 1e20, np.inf, 3.0], np.float32)
    # IntegerExponentPow: fl32(2.000001) = 2.00000095 is taken as 2 (powf: 1000006.56),
    # 1e20 * 1e20 overflows and is clamped to FLT_MAX, inf * inf too
    assert run(x, np.array([2.000001], np.float32)).tolist() == [1e6, FLT_MAX, FLT_MAX, 9.0]
    # the same values with the same shapes run powf: 1000^2.00000095 = 1e6 * (1 + 6.6e-6), inf
    same = run(x, np.full(4, 2.000001, np.float32))
    assert 1000006 < same[0] < 1000007 and same[1] == np.inf


def test_integer_exponent_rule():
    assert integer_exponent(3.0) == 3
    assert integer_exponent(2.000001) == 2  # |e - 2| < 1e-5
    assert integer_exponent(2.0001) is None
    assert integer_exponent(0.0) is None and integer_exponent(-2.0) is None
    assert integer_exponent(float("nan")) is None and integer_exponent(1e10) is None


def test_tflm_has_no_pow_and_int8_no_kernel():
    with pytest.raises(UnsupportedOpError):
        run(np.array([2.0], np.float32), np.array([2.0], np.float32), flavor="tflm")
    with pytest.raises(UnsupportedOpError):
        run(np.array([2], np.int8), np.array([2], np.int8))


@pytest.fixture(scope="module")
def c_powf():
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library found")
    libm = ctypes.CDLL(name)
    libm.powf.restype = ctypes.c_float
    libm.powf.argtypes = [ctypes.c_float, ctypes.c_float]
    return np.frompyfunc(libm.powf, 2, 1)


@pytest.mark.parametrize("kind", ["uniform", "negative-base", "wide", "random-bits"])
def test_powf_equals_the_c_library_bit_for_bit(c_powf, kind):
    rng = np.random.default_rng(len(kind))
    n = 50_000
    if kind == "uniform":
        x, y = rng.uniform(0, 10, n), rng.uniform(-8, 8, n)
    elif kind == "negative-base":
        x, y = rng.uniform(-10, 0, n), np.round(rng.uniform(-20, 20, n))
    elif kind == "wide":
        x, y = np.exp(rng.uniform(-80, 80, n)), rng.uniform(-3, 3, n)
    else:
        x = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
        y = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    with np.errstate(all="ignore"):
        theirs = c_powf(x, y).astype(np.float32)
    ours = powf(x, y)
    same = (ours.view(np.int32) == theirs.view(np.int32)) | (np.isnan(ours) & np.isnan(theirs))
    assert same.all(), f"{(~same).sum()} differ, first at x={x[~same][0]!r} y={y[~same][0]!r}"


def test_numpy_float32_power_is_not_the_c_library(c_powf):
    """Why refimpl ports glibc's powf: NumPy's float32 power (its own SIMD code on this
    machine) and the once-rounded double pow both differ from it in some last bits."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 100_000).astype(np.float32)
    y = rng.uniform(-8, 8, 100_000).astype(np.float32)
    theirs = c_powf(x, y).astype(np.float32).view(np.int32)
    rounded_double = np.power(x.astype(np.float64), y.astype(np.float64)).astype(np.float32)
    assert (rounded_double.view(np.int32) != theirs).sum() >= 1
    assert (powf(x, y).view(np.int32) == theirs).all()
