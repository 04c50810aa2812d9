"""float32 math functions as the runtimes' C library computes them.

LiteRT and TFLM call ``std::exp(float)``, i.e. glibc's ``expf``. It is accurate to
0.502 ulp but *not* correctly rounded, so ``float32(exp(double(x)))`` disagrees with it
on about 6 in 10 000 arguments, by one ulp, and a float softmax then differs in its last
bit. This module evaluates glibc's algorithm itself (the table-driven method glibc
adopted from Arm's optimized-routines, glibc >= 2.28), vectorised in float64:

Arithmetic
----------
With ``N = 32`` and every step in double precision::

    z  = x * (32 / ln 2)                        # x = (k + r) * ln2 / 32
    kd = round_half_even(z)                     # via the 1.5 * 2^52 shift trick
    r  = z - kd                                 # |r| <= 1/2
    s  = 2^(kd / 32) = T[kd mod 32] * 2^(kd div 32)      # T[i] = 2^(i/32), table
    y  = s * (1 + c2 r + (c1 + c0 r) r^2)       # degree-3 polynomial for 2^(r/32)
    expf(x) = float32(y)                        # the only rounding to float32

``T[i]`` is the correctly rounded double of ``2^(i/32)``, computed here with integer
arithmetic; ``c0, c1, c2`` are glibc's polynomial constants (``exp2f_data.c``), scaled by
``1/N^3, 1/N^2, 1/N``. On x86-64 glibc selects an FMA build of the same code; the fused
and unfused evaluations differ by at most an ulp *of the double* ``y``, which changes the
float32 result only when ``y`` lies within 2^-29 of a float32 rounding midpoint.
``tests/test_libm.py`` checks the result against the machine's own ``expf`` through
ctypes.
"""

from __future__ import annotations

import struct

import numpy as np

_N = 32
_SHIFT = float.fromhex("0x1.8p+52")
_INV_LN2_N = float.fromhex("0x1.71547652b82fep+0") * _N
_C0 = float.fromhex("0x1.c6af84b912394p-5") / _N / _N / _N
_C1 = float.fromhex("0x1.ebfce50fac4f3p-3") / _N / _N
_C2 = float.fromhex("0x1.62e42ff0c52d6p-1") / _N
_OVERFLOW_ABOVE = np.float32(float.fromhex("0x1.62e42ep6"))  # log(2^128) rounded down
_UNDERFLOW_BELOW = np.float32(float.fromhex("-0x1.9fe368p6"))  # below: result rounds to 0


def _pow2_frac_table() -> np.ndarray:
    """Bits of the doubles ``2^(i/32)``, i < 32, minus ``i << 47`` (glibc's table layout).

    ``2^(i/32)`` is found to 120 bits by integer bisection on ``m^32 <= 2^(i + 32*120)``
    and rounded to a 53-bit significand (no ties: the values are irrational for i > 0).
    """
    bits = []
    for i in range(_N):
        lo, hi = 1 << 120, 1 << 121  # 2^(i/32) in [1, 2) scaled by 2^120
        target = 1 << (i + 32 * 120)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if mid**32 <= target:
                lo = mid
            else:
                hi = mid
        mant = (lo + (1 << 67)) >> 68  # 121-bit value -> 53 bits, round half up (no ties)
        value = mant / float(1 << 52)
        b = struct.unpack("<Q", struct.pack("<d", value))[0]
        bits.append(b - (i << 47))
    return np.array(bits, dtype=np.uint64)


_T = _pow2_frac_table()


def expf(x: np.ndarray) -> np.ndarray:
    """glibc ``expf`` of float32 values (see the module docstring); returns float32."""
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        return _expf(x)


def _expf(x: np.ndarray) -> np.ndarray:
    xd = x.astype(np.float64)
    z = _INV_LN2_N * xd
    kd = z + _SHIFT  # rounds z to an integer (half to even) in the low mantissa bits
    ki = kd.view(np.uint64) if kd.ndim else np.array(kd).view(np.uint64)
    kd = kd - _SHIFT
    r = z - kd
    t = _T[(ki % np.uint64(_N)).astype(np.intp)] + (ki << np.uint64(47))  # wraps like C
    s = t.view(np.float64)
    zz = _C0 * r + _C1
    r2 = r * r
    y = _C2 * r + 1.0
    y = zz * r2 + y
    y = y * s
    out = y.astype(np.float32)
    # glibc's special cases for |x| >= 88, NaN and infinities
    out = np.where(x > _OVERFLOW_ABOVE, np.float32(np.inf), out)
    out = np.where(x < _UNDERFLOW_BELOW, np.float32(0.0), out)
    out = np.where(np.isnan(x), x, out)
    return out.astype(np.float32)
