"""ELU: glibc expm1f reproduced bit for bit, the int8 tables of LiteRT / TFLM / XNNPACK
(hand values, their rounding difference), types."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLM, XNNPACK
from refimpl.kernels.elu import ELU, expm1f_negative

I8, F32 = np.int8, np.float32


def ectx(dtype, n, q_in=(), q_out=(), flavor=TFLITE_BUILTIN):
    return ctx("ELU", [tensor(dtype, (n,), *q_in)], [tensor(dtype, (n,), *q_out)],
               flavor=flavor)


def test_expm1f_equals_the_machines_glibc():
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    f = lib.expm1f
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    rng = np.random.default_rng(3)
    bits = rng.integers(0x80000001, 0xFF800000, 3000).astype(np.uint32)  # every negative range
    x = np.concatenate([bits.view(F32), -rng.uniform(0, 20, 3000).astype(F32),
                        np.array([-0.34657359, -0.3465736, -1.0397207, -1.0397208,
                                  -18.714972, -18.714975, -np.inf, -1e-45], F32)])
    want = np.array([f(float(v)) for v in x], F32)
    assert np.array_equal(expm1f_negative(x), want)


def test_float_passes_non_negative_values_and_nan_through():
    got = run(ELU, ectx(F32, 5), [2.5, 0.0, -0.0, np.nan, -np.inf])[0]
    assert got[:3].tolist() == [2.5, 0.0, -0.0] and np.signbit(got[2])
    assert np.isnan(got[3]) and got[4] == -1.0


def test_int8_table_hand_values():
    # s_in = s_out = 1, zp 0: q = -1: expm1(-1) = -0.632 -> -1; q = -3: -0.950 -> -1;
    # q = -128: -1.0 -> -1; q = 5 -> 5; q = 0 -> 0.
    c = ectx(I8, 5, (1.0, 0), (1.0, 0))
    assert run(ELU, c, [-1, -3, -128, 5, 0])[0].tolist() == [-1, -1, -1, 5, 0]


def test_int8_xnnpack_rounds_half_to_even():
    # s_in = 0.5, s_out = 1: q = 1, 3, 5 -> y = 0.5, 1.5, 2.5 exactly.
    # LiteRT / TFLM (roundf, away from zero): 1, 2, 3; XNNPACK (rint, to even): 0, 2, 2.
    q = [1, 3, 5]
    assert run(ELU, ectx(I8, 3, (0.5, 0), (1.0, 0)), q)[0].tolist() == [1, 2, 3]
    assert run(ELU, ectx(I8, 3, (0.5, 0), (1.0, 0), TFLM), q)[0].tolist() == [1, 2, 3]
    assert run(ELU, ectx(I8, 3, (0.5, 0), (1.0, 0), XNNPACK), q)[0].tolist() == [0, 2, 2]


def test_int16_has_no_kernel():
    with pytest.raises(UnsupportedOpError):
        ELU.prepare(ectx(np.int16, 2, (0.1, 0), (0.1, 0)))


def test_float_xnnpack_matches_the_delegate():
    # LiteRT 2.3.0 AUTO (XNNPACK f32-velu) outputs; -1e-40 is read as -0 (DAZ).
    x = [-0.5, -1.0, -17.25, -3.0, 2.0, np.nan, -100.0, -1e-40]
    want = [-0.39346933364868164, -0.6321205496788025, -1.0, -0.9502129554748535, 2.0,
            np.nan, -1.0, -0.0]
    got = run(ELU, ectx(F32, 8, flavor=XNNPACK), x)[0]
    assert np.array_equal(got, np.array(want, F32), equal_nan=True)


def test_int8_values_beyond_int32_saturate_in_litert_but_wrap_to_int32_min_in_tflm():
    # s_in = 1, s_out = 2**-25: q = 64 -> 64 * 2**25 = 2.1e9 >= 2**31. Measured outputs:
    # LiteRT BUILTIN and XNNPACK 127, TFLM -128 (INT32_MIN clamped); q = 1 -> 2**25 fits.
    q = [127, 100, 64, 1, 0, -1, -128]
    args = (I8, 7, (1.0, 0), (2.0**-25, 0))
    assert run(ELU, ectx(*args), q)[0].tolist() == [127, 127, 127, 127, 0, -128, -128]
    assert run(ELU, ectx(*args, flavor=XNNPACK), q)[0].tolist() == [127, 127, 127, 127, 0,
                                                                     -128, -128]
    assert run(ELU, ectx(*args, flavor=TFLM), q)[0].tolist() == [-128, -128, -128, 127, 0,
                                                                  -128, -128]
