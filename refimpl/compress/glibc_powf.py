"""glibc's ``powf`` in NumPy, for TF's scalar ``Pow`` kernel (pruning schedules).

TensorFlow evaluates ``tf.math.pow`` on a float32 scalar with ``std::pow(float,
float)``, i.e. glibc's ``powf`` (the table-driven algorithm from Arm's
optimized-routines, glibc >= 2.28). It is accurate to 0.82 ulp but not correctly
rounded: ``float32(pow(double, double))`` disagrees with it on about 3 in 10 000
arguments. This module evaluates the same algorithm in float64.

Arithmetic
----------
For ``x > 0`` with bits ``ix`` and ``y`` finite, every step in double::

    tmp = ix - 0x3f330000;  i = (tmp >> 19) mod 16;  top = tmp & 0xff800000
    z   = float(ix - top)            (in [0.7, 1.4)),    k = top >> 23 (signed)
    r   = z * invc[i] - 1;  y0 = logc[i] + k
    log2(x) ~ ((A0 r + A1) r^4) + ((A2 r + A3) r^2 + (A4 r + y0))
    t   = y * log2(x);  kd = round(32 t) / 32 (shift trick);  r = t - kd
    2^t ~ 2^(kd) * ((C0 r + C1) r^2 + (C2 r + 1))        2^(j/32) from a table
    powf = float32(that)             the only rounding to float32

Tables and constants are glibc's (``e_powf_log2_data.c``, ``e_exp2f_data.c``); the
``2^(j/32)`` table is computed here with integer arithmetic. On x86-64 glibc picks an
FMA build of the same code; fused and unfused evaluation differ by at most an ulp of the
double result, which changes the float32 result only within 2^-29 of a rounding
midpoint. Covers ``x >= 0`` (what a schedule needs); negative ``x`` is NaN here.

Mirrors: glibc ``sysdeps/ieee754/flt-32/e_powf.c`` (``log2_inline``, ``exp2_inline``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["powf"]

_H = float.fromhex
_INVC = np.array([_H(v) for v in (
    "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0",
    "0x1.3c995b0b80385p+0", "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0",
    "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0", "0x1.0953f419900a7p+0", "0x1p+0",
    "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1", "0x1.b2036576afce6p-1",
    "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1")])
_LOGC = np.array([_H(v) for v in (
    "-0x1.efec65b963019p-2", "-0x1.b0b6832d4fca4p-2", "-0x1.7418b0a1fb77bp-2",
    "-0x1.39de91a6dcf7bp-2", "-0x1.01d9bf3f2b631p-2", "-0x1.97c1d1b3b7afp-3",
    "-0x1.2f9e393af3c9fp-3", "-0x1.960cbbf788d5cp-4", "-0x1.a6f9db6475fcep-5", "0x0p+0",
    "0x1.338ca9f24f53dp-4", "0x1.476a9543891bap-3", "0x1.e840b4ac4e4d2p-3",
    "0x1.40645f0c6651cp-2", "0x1.88e9c2c1b9ff8p-2", "0x1.ce0a44eb17bccp-2")])
_A = [_H(v) for v in ("0x1.27616c9496e0bp-2", "-0x1.71969a075c67ap-2",
                      "0x1.ec70a6ca7baddp-2", "-0x1.7154748bef6c8p-1",
                      "0x1.71547652ab82bp0")]
_C = [_H(v) for v in ("0x1.c6af84b912394p-5", "0x1.ebfce50fac4f3p-3",
                      "0x1.62e42ff0c52d6p-1")]
_N = 32
_SHIFT = _H("0x1.8p+52") / _N
_OFF = 0x3F330000
_OVERFLOW = _H("0x1.fffffffd1d571p+6")


def _exp2_table() -> NDArray[np.uint64]:
    """Bits of the doubles ``2^(j/32)`` minus ``j << 47`` (glibc's layout).

    ``floor(2^(j/32) * 2^120)`` is five nested integer square roots of
    ``2^(j + 32*120)``; rounded to 53 bits (never a tie: irrational for j > 0).
    """
    import math

    bits = []
    for j in range(_N):
        value = 1 << (j + 32 * 120)
        for _ in range(5):
            value = math.isqrt(value)
        mantissa = (value + (1 << 67)) >> 68  # 121 bits -> 53 bits
        double = np.float64(mantissa) / np.float64(1 << 52)
        bits.append(int(double.view(np.uint64)) - (j << 47))
    return np.array(bits, dtype=np.uint64)


_T = _exp2_table()


def powf(x: ArrayLike, y: ArrayLike) -> NDArray[np.float32]:
    """glibc ``powf(x, y)`` for float32 ``x >= 0`` and finite ``y``; returns float32."""
    xs = np.asarray(x, dtype=np.float32)
    ys = np.asarray(y, dtype=np.float32)
    xs, ys = np.broadcast_arrays(xs, ys)
    ix = np.ascontiguousarray(xs).view(np.uint32).astype(np.int64)
    tmp = (ix - _OFF) & 0xFFFFFFFF
    i = (tmp >> 19) % 16
    top = tmp & 0xFF800000
    iz = ((ix - top) & 0xFFFFFFFF).astype(np.uint32)
    k = (top.astype(np.uint32).view(np.int32) >> 23).astype(np.float64)
    z = iz.view(np.float32).astype(np.float64)
    r = z * _INVC[i] - 1.0
    y0 = _LOGC[i] + k
    r2 = r * r
    poly = _A[0] * r + _A[1]
    p = _A[2] * r + _A[3]
    r4 = r2 * r2
    q = _A[4] * r + y0
    q = p * r2 + q
    logx = poly * r4 + q
    with np.errstate(over="ignore", invalid="ignore"):
        ylogx = ys.astype(np.float64) * logx
        kd = ylogx + _SHIFT
        ki = np.ascontiguousarray(kd).view(np.uint64)
        kd = kd - _SHIFT
        rr = ylogx - kd
        t = _T[(ki % np.uint64(_N)).astype(np.intp)] + (ki << np.uint64(52 - 5))  # wraps
        s = t.view(np.float64)
        zz = _C[0] * rr + _C[1]
        rr2 = rr * rr
        out = _C[2] * rr + 1.0
        out = (zz * rr2 + out) * s
        result = out.astype(np.float32)
    result = np.where(ylogx > _OVERFLOW, np.float32(np.inf), result)
    result = np.where(ylogx <= -150.0, np.float32(0.0), result)
    # Special operands, in glibc's order: y == 0 or x == 1 give 1; x == 0 gives 0 or inf.
    result = np.where(xs == 0, np.where(ys < 0, np.float32(np.inf), np.float32(0.0)), result)
    result = np.where((ys == 0) | (xs == 1), np.float32(1.0), result)
    result = np.where(np.isnan(xs) | np.isnan(ys) | (xs < 0), np.float32(np.nan), result)
    return result.astype(np.float32)
