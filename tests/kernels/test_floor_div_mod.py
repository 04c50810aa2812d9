"""FLOOR_DIV and FLOOR_MOD: hand-computed values (rounding toward -inf, the divisor's sign
for remainders), the position-dependent T_MIN / -1 of int8 / int16, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import refimpl
from compare.cases._common import TensorArg, one_op_model
from refimpl.errors import OpError, UnsupportedOpError


def run(op, a, b, flavor="tflite-ref"):
    a, b = np.asarray(a), np.asarray(b)
    so = np.broadcast_shapes(a.shape, b.shape)
    dt = a.dtype.name
    m = one_op_model(op, [TensorArg(a.shape, dt), TensorArg(b.shape, dt)], [TensorArg(so, dt)])
    return refimpl.Interpreter(model_content=m, flavor=flavor).run(a, b)[0]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
def test_floor_div_rounds_toward_minus_infinity(dtype):
    a = np.array([-7, 7, -7, 7, 0, -1], dtype)
    b = np.array([2, -2, -2, 2, -3, 3], dtype)
    # -7/2 = -3.5 -> -4 ; 7/-2 -> -4 ; -7/-2 = 3.5 -> 3 ; 7/2 -> 3 ; 0/-3 -> 0 ; -1/3 -> -1
    assert run("FLOOR_DIV", a, b).tolist() == [-4, -4, 3, 3, 0, -1]


def test_floor_div_float_floors_the_double_quotient():
    a = np.array([-7.5, 7.0, 1.0, -0.0, 1e-30], np.float32)
    b = np.array([2.0, -0.5, 0.1, 3.0, 1e-30], np.float32)
    out = run("FLOOR_DIV", a, b)
    # -3.75 -> -4 ; -14 ; 1 / fl32(0.1) = 9.99999985 -> 9 ; floor(-0/3) = -0 ; 1
    assert out.tolist() == [-4.0, -14.0, 9.0, 0.0, 1.0]
    assert np.signbit(out[3])


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
def test_floor_div_by_zero_is_an_error_naming_the_divisor(dtype):
    with pytest.raises(OpError, match=r"node 0 \(FLOOR_DIV\).*division by 0.*'input1'"):
        run("FLOOR_DIV", np.array([1, 2], dtype), np.array([1, 0], dtype))


def test_floor_div_int8_min_by_minus_one_saturates_in_the_vector_part_only():
    # 9 same-shape elements: 8 run in the vectorised loop (127), the last in the tail (-128)
    a = np.full(9, -128, np.int8)
    assert run("FLOOR_DIV", a, np.full(9, -1, np.int8)).tolist() == [127] * 8 + [-128]
    # broadcast loop: one element at a time, wraps everywhere
    assert run("FLOOR_DIV", a, np.array([-1], np.int8)).tolist() == [-128] * 9


def test_floor_div_int32_min_by_minus_one_is_int32_min():
    lo = np.iinfo(np.int32).min
    assert run("FLOOR_DIV", np.full(9, lo, np.int32), np.full(9, -1, np.int32)).tolist() == [lo] * 9


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_floor_mod_takes_the_divisor_sign(dtype):
    a = np.array([-7, 7, -7, 7, 6, -6], dtype)
    b = np.array([2, -2, -2, 2, -3, 3], dtype)
    # floor_mod(-7, 2) = 1 ; (7, -2) = -1 ; (-7, -2) = -1 ; (7, 2) = 1 ; exact: 0, 0
    assert run("FLOOR_MOD", a, b).tolist() == [1, -1, -1, 1, 0, 0]


def test_floor_mod_float():
    a = np.array([7.0, -7.5, -4.0, 5.0, 3.0], np.float32)
    b = np.array([-2.0, 2.0, 2.0, 0.0, np.inf], np.float32)
    out = run("FLOOR_MOD", a, b)
    # fmod(7, -2) = 1 -> 1 + -2 = -1 ; fmod(-7.5, 2) = -1.5 -> 0.5 ; fmod(-4, 2) = -0 (kept)
    # x mod 0 = NaN (no error for floats) ; fmod(3, inf) = 3
    assert out[:3].tolist() == [-1.0, 0.5, 0.0] and np.signbit(out[2])
    assert np.isnan(out[3]) and out[4] == 3.0


def test_floor_mod_integer_zero_divisor_is_an_error():
    with pytest.raises(OpError, match="division by 0"):
        run("FLOOR_MOD", np.array([3], np.int32), np.array([0], np.int32))


def test_floor_mod_int32_min_by_minus_one_is_refused_like_the_sigfpe():
    lo = np.iinfo(np.int32).min
    with pytest.raises(OpError, match="SIGFPE"):
        run("FLOOR_MOD", np.array([lo], np.int32), np.array([-1], np.int32))
    # int8 promotes to int in C++: -128 % -1 = 0, no trap
    assert run("FLOOR_MOD", np.array([-128], np.int8), np.array([-1], np.int8)).tolist() == [0]


@pytest.mark.parametrize("op, dtype", [("FLOOR_DIV", "int32"), ("FLOOR_MOD", "int8")])
def test_tflm_has_float32_only(op, dtype):
    with pytest.raises(UnsupportedOpError, match="supported: float32"):
        run(op, np.array([1], dtype), np.array([1], dtype), flavor="tflm")


def test_floor_div_int64_has_no_kernel_but_floor_mod_int64_has():
    with pytest.raises(UnsupportedOpError):
        run("FLOOR_DIV", np.array([1], np.int64), np.array([1], np.int64))
    big = np.int64(2**62 + 1)
    assert run("FLOOR_MOD", np.array([big], np.int64), np.array([-4], np.int64)).tolist() == [-3]
