"""refimpl.libm.expf against the machine's own C library expf (what the runtimes call)."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

from refimpl.libm import _T, expf


@pytest.fixture(scope="module")
def c_expf():
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library found")
    libm = ctypes.CDLL(name)
    libm.expf.restype = ctypes.c_float
    libm.expf.argtypes = [ctypes.c_float]
    return np.frompyfunc(libm.expf, 1, 1)


@pytest.mark.parametrize("lo, hi", [(-105.0, 90.0), (-20.0, 0.0), (-1.0, 1.0), (-1e-3, 1e-3)])
def test_expf_equals_the_c_library_bit_for_bit(c_expf, lo, hi):
    x = np.random.default_rng(int(hi - lo)).uniform(lo, hi, 100_000).astype(np.float32)
    with np.errstate(over="ignore"):
        theirs = c_expf(x).astype(np.float32)
    ours = expf(x)
    np.testing.assert_array_equal(ours.view(np.int32), theirs.view(np.int32))
    # ... and the naive once-rounded double exp does not (so this test can fail):
    naive = np.exp(x.astype(np.float64)).astype(np.float32)
    assert (naive.view(np.int32) != theirs.view(np.int32)).sum() >= 1


def test_expf_special_values(c_expf):
    x = np.array([np.inf, -np.inf, 88.72, 88.73, -103.9, -104.0, -150.0, 0.0, -0.0], np.float32)
    with np.errstate(over="ignore"):
        theirs = c_expf(x).astype(np.float32)
    np.testing.assert_array_equal(expf(x).view(np.int32), theirs.view(np.int32))
    assert np.isnan(expf(np.array([np.nan], np.float32)))[0]


def test_table_holds_two_to_the_i_over_32():
    # T[i] + (i << 47) are the bits of the double nearest 2^(i/32)
    vals = (_T + (np.arange(32, dtype=np.uint64) << np.uint64(47))).view(np.float64)
    assert vals[0] == 1.0
    np.testing.assert_allclose(vals, 2.0 ** (np.arange(32) / 32), rtol=2**-52, atol=0)  # numpy's pow: within 1 ulp
