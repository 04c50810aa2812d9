"""CAST: wrap-around between integers, rounding of large integers to float32, the
saturating float -> integer conversion (NaN: LiteRT maximum, TFLM 0), bool."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.cast import CAST


def cast(x, src, dst, flavor=TFLITE_REF):
    c = ctx("CAST", [tensor(src, (len(x),))], [tensor(dst, (len(x),))], flavor=flavor)
    return run(CAST, c, x)[0]


def test_integer_narrowing_wraps():
    assert cast([300, -129, 2**31 - 1], np.int32, np.int8).tolist() == [44, 127, -1]
    assert cast([-1, 256], np.int32, np.uint8).tolist() == [255, 0]


def test_large_integers_round_to_nearest_even_float():
    # 2**24 + 1 lies halfway between 2**24 and 2**24 + 2 -> even 2**24; 2**24 + 3 -> 2**24 + 4
    got = cast([2**24 + 1, 2**24 + 3, 2**31 - 1], np.int32, np.float32)
    assert got.tolist() == [2.0**24, 2.0**24 + 4, 2.0**31]


def test_litert_float_to_int_truncates_and_saturates():
    x = [2.9, -2.9, 300.5, -1e10, np.nan, np.inf, 127.99, -128.0]
    assert cast(x, np.float32, np.int8).tolist() == [2, -2, 127, -128, 127, 127, 127, -128]
    # int32: 2**31 is the exclusive bound (float32(2**31 - 1) == 2**31 saturates too)
    assert cast([2.0**31, -(2.0**31), np.nan], np.float32, np.int32).tolist() == [
        2**31 - 1, -(2**31), 2**31 - 1]


def test_tflm_float_to_int_saturates_but_maps_nan_to_zero():
    # measured on the TFLM wheel: int8 [300.5, -2.9, 1e10, NaN, -300.5] -> [127, -2, 127, 0,
    # -128]; int32 1e10 -> 2**31 - 1, -1e20 -> -2**31
    assert cast([300.5, -2.9, 1e10, np.nan, -300.5], np.float32, np.int8, TFLM).tolist() == [
        127, -2, 127, 0, -128]
    assert cast([1e10, -1e20, np.nan], np.float32, np.int32, TFLM).tolist() == [
        2**31 - 1, -(2**31), 0]


def test_bool_conversions():
    assert cast([0.0, -0.0, np.nan, 1e-45], np.float32, np.bool_).tolist() == [
        False, False, True, True]
    assert cast([True, False], np.bool_, np.float32).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("src,dst", [(np.int64, np.int32), (np.int32, np.int64),
                                     (np.uint8, np.int32), (np.int32, np.bool_)],
                         ids=["int64-in", "int64-out", "uint8-in", "bool-out"])
def test_types_tflm_has_no_kernel_for(src, dst):
    c = ctx("CAST", [tensor(src, (1,))], [tensor(dst, (1,))], flavor=TFLM)
    with pytest.raises(UnsupportedOpError):
        CAST.prepare(c)
