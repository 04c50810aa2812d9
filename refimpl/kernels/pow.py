"""POW: ``out = x ** y`` element-wise with broadcasting; float32 and int32.

Types with a kernel: LiteRT float32 and int32 (``pow.cc`` is one kernel, registered by
both resolvers; XNNPACK does not take POW); TFLM has no POW at all.

Which formula runs depends on the *shapes*, not only on the values (``pow.cc`` Eval):

* same shapes, or a broadcast whose exponent has more than one element: ``std::pow``
  element by element. float32 is glibc's ``powf`` (not correctly rounded, see
  :func:`powf`); int32 is ``pow(double, double)`` converted to int32, and a result
  outside int32 becomes INT32_MIN (x86 ``cvttsd2si``; the conversion is undefined in C++).
* shapes differ and the exponent has one element ``e`` with ``|e - round(e)| < 1e-5``
  and ``round(e) >= 1`` (``optimized_ops::BroadcastPow4D``, used by the reference
  resolver too): ``IntegerExponentPow``, square-and-multiply with the optimized MUL::

      p(1) = x ;  p(2n) = p(n) * p(n) ;  p(2n+1) = (p(n) * p(n)) * x

  every product rounded to float32 and clamped to ``[-FLT_MAX, FLT_MAX]`` (so
  ``1e20 ** 2`` is FLT_MAX, not inf; NaN passes), or for int32 wrapped modulo 2^32.
  ``e = 2.000001`` is taken as 2 and ``x ** 3`` rounds twice (see ``KNOWN_BUGS``).

An int32 exponent below zero anywhere in the tensor fails the invoke ("POW does not
support negative value for int32"); refimpl raises :class:`~refimpl.errors.OpError`.

Mirrors: tflite/kernels/pow.cc, internal/reference/reference_ops.h (Pow,
BroadcastPow4DSlow), internal/optimized/optimized_ops.h (BroadcastPow4D,
IntegerExponentPow, MulElementwise); glibc sysdeps/ieee754/flt-32/e_powf.c (powf,
the ``__powf_fma`` build selected on x86-64 CPUs with FMA) and e_powf_log2_data.c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import libm
from ..context import Kernel, OpContext
from .elementwise import broadcast_shape

_F32, _I32 = np.dtype(np.float32), np.dtype(np.int32)

# --------------------------------------------------------------------------------------
# glibc powf, vectorised (double precision throughout, one rounding to float32 at the end)
# --------------------------------------------------------------------------------------
#: (1/c, log2(c)) for the 16 subintervals of [0x3f330000, 2 * 0x3f330000): the values of
#: glibc's ``__powf_log2_data.tab`` (the 1/c column is the one ``logf`` uses; each c was
#: searched for, so the numbers cannot be derived by a formula).
_INVC = np.array([float.fromhex(h) for h in (
    "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0",
    "0x1.3c995b0b80385p+0", "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0",
    "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0", "0x1.0953f419900a7p+0", "0x1p+0",
    "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1", "0x1.b2036576afce6p-1",
    "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1")])
_LOG2C = np.array([float.fromhex(h) for h in (
    "-0x1.efec65b963019p-2", "-0x1.b0b6832d4fca4p-2", "-0x1.7418b0a1fb77bp-2",
    "-0x1.39de91a6dcf7bp-2", "-0x1.01d9bf3f2b631p-2", "-0x1.97c1d1b3b7afp-3",
    "-0x1.2f9e393af3c9fp-3", "-0x1.960cbbf788d5cp-4", "-0x1.a6f9db6475fcep-5", "0x0p+0",
    "0x1.338ca9f24f53dp-4", "0x1.476a9543891bap-3", "0x1.e840b4ac4e4d2p-3",
    "0x1.40645f0c6651cp-2", "0x1.88e9c2c1b9ff8p-2", "0x1.ce0a44eb17bccp-2")])
#: degree-5 polynomial for log2(1 + r), highest power first
_L0, _L1, _L2, _L3, _L4 = (float.fromhex(h) for h in (
    "0x1.27616c9496e0bp-2", "-0x1.71969a075c67ap-2", "0x1.ec70a6ca7baddp-2",
    "-0x1.7154748bef6c8p-1", "0x1.71547652ab82bp0"))
#: degree-3 polynomial for 2^r - 1 on |r| <= 1/64 (glibc's ``__exp2f_data.poly``)
_E0, _E1, _E2 = (float.fromhex(h) for h in (
    "0x1.c6af84b912394p-5", "0x1.ebfce50fac4f3p-3", "0x1.62e42ff0c52d6p-1"))
#: 2^(i/32), i < 32, as doubles (rebuilt from the table refimpl.libm's expf uses)
_EXP2_FRAC = (libm._T + (np.arange(32, dtype=np.uint64) << np.uint64(47))).view(np.float64)
_OFF = 0x3F330000
_SHIFT = float.fromhex("0x1.8p+52") / 32  # adding it rounds to a multiple of 1/32
_OVERFLOW_ABOVE = float.fromhex("0x1.fffffffd1d571p+6")  # y*log2(x) beyond: inf
_VELTKAMP = 134217729.0  # 2**27 + 1


def _fma(a: np.ndarray, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """Double ``a * b + c`` rounded once, as the FMA instruction glibc's build uses.

    The product is split exactly into ``p + e`` (Veltkamp / Dekker), ``p + c`` into
    ``s + t`` (Knuth's two-sum); ``s + (t + e)`` then differs from the true single
    rounding only in double-rounding corners, ~2^-50 relative, far below what can move a
    float32 result.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    p = a * b

    def halves(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        big = _VELTKAMP * v
        hi = big - (big - v)
        return hi, v - hi

    ah, al = halves(a)
    bh, bl = halves(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    back = s - p
    t = (p - (s - back)) + (c - back)
    return s + (t + e)


def _odd_even_int(bits: np.ndarray) -> np.ndarray:
    """For float32 bit patterns (finite, non-zero): 0 not an integer, 1 odd, 2 even."""
    e = (bits >> 23) & 0xFF
    frac_bits = np.clip(0x7F + 23 - e, 0, 31)  # mantissa bits below the units place
    below = bits & ((np.int64(1) << frac_bits) - 1)
    units = (bits >> frac_bits) & 1
    kind = np.where(below != 0, 0, np.where(units == 1, 1, 2))
    kind = np.where(e < 0x7F, 0, kind)
    return np.where(e > 0x7F + 23, 2, kind)


def powf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """float32 ``x ** y`` bit for bit as glibc 2.36's x86-64 ``powf`` (the FMA build).

    Arithmetic (doubles; ``fma`` rounds once)::

        |x| = 2^k z, z in [0x3f330000, 2 * 0x3f330000) as float bits, exact
        i = 4 mantissa bits of bits(x) - 0x3f330000 (the subinterval of z)
        r = fma(z, invc[i], -1)                           # z/c - 1, |r| < 1/32
        log2|x| = k + log2c[i] + L(r)                     # L: degree 5, fused Horner
        t = y * log2|x|
        t = n/32 + f, n = round_half_even(32 t)           # adding 1.5 * 2^47 rounds
        2^t = 2^(n/32) * (1 + E(f)),  E: degree 3, fused
        powf(x, y) = float32(2^t), negated for x < 0 and odd integer y

    Special values as C99 Annex F: ``y = ±0`` or ``x = 1`` -> 1 (even NaN); NaN -> NaN;
    ``x < 0`` with non-integer ``y`` -> NaN; zero and infinite ``x`` or ``y``; ``t`` beyond
    ~128 overflows to inf, ``t <= -150`` underflows to 0; subnormal ``x`` is normalised.

    glibc is 0.82 ulp accurate, not correctly rounded: ``float32(pow(double(x),
    double(y)))`` differs from it on ~6 arguments in 10 000, NumPy's float32 ``power``
    (SIMD code of its own) on ~2 in 10 (tests/kernels/test_pow.py checks this function
    against the machine's ``powf`` through ctypes). The unfused evaluation of the same
    steps agreed with the fused one on every argument tried; the fused one is kept.
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    x, y = np.broadcast_arrays(x, y)
    ix = x.view(np.uint32).astype(np.int64)
    iy = y.view(np.uint32).astype(np.int64)
    ax = ix & 0x7FFFFFFF
    ay = iy & 0x7FFFFFFF
    x_neg = ix >> 31 == 1
    y_neg = iy >> 31 == 1
    y_int = np.where((ay != 0) & (ay < 0x7F800000), _odd_even_int(ay), 0)
    odd = y_int == 1

    # main path: |x| normal (subnormals scaled by 2^23 first), y finite and non-zero
    with np.errstate(all="ignore"):
        sub = (ax > 0) & (ax < 0x00800000)
        scaled = (np.abs(x) * np.float32(2.0**23)).astype(np.float32)
        mx = np.where(sub, scaled.view(np.uint32).astype(np.int64) - (23 << 23), ax)
        tmp = mx - _OFF
        i = (tmp >> 19) & 15
        top = tmp & ~np.int64(0x7FFFFF)  # the exponent part (arithmetic on int64)
        k = (top >> 23).astype(np.float64)
        z = (mx - top).astype(np.uint32).view(np.float32).astype(np.float64)
        r = _fma(z, _INVC[i], -1.0)
        r2 = r * r
        r4 = r2 * r2
        q = _fma(r, _L4, _LOG2C[i] + k)
        q = _fma(_fma(r, _L2, _L3), r2, q)
        log2x = _fma(_fma(r, _L0, _L1), r4, q)
        t = y.astype(np.float64) * log2x
        kd = (t + _SHIFT) - _SHIFT  # t rounded to a multiple of 1/32 (ties to even)
        f = t - kd
        n = np.where(np.isfinite(kd), kd * 32, 0).astype(np.int64)
        scale = np.ldexp(_EXP2_FRAC[n & 31], (n >> 5).astype(np.int32))
        poly = _fma(_fma(f, _E0, _E1), f * f, _fma(f, _E2, 1.0))
        mag = poly * scale
        mag = np.where(t > _OVERFLOW_ABOVE, np.inf, mag)
        mag = np.where(t <= -150.0, 0.0, mag)
        # -150 < t < -149: glibc's "may underflow" path returns the smallest subnormal
        mag = np.where((t < -149.0) & (t > -150.0), 2.0**-149, mag)
        main = mag.astype(np.float32)
        main = np.where(x_neg & odd, -main, main)
        main = np.where(x_neg & (y_int == 0), np.float32(np.nan), main)

        # x = ±0 or ±inf (finite non-zero y): |x|^y is 0 or inf; sign from odd y
        x2 = np.where(ax == 0, np.float32(0), np.float32(np.inf))
        x2 = np.where(y_neg, np.where(ax == 0, np.float32(np.inf), np.float32(0)), x2)
        zero_inf_x = np.where(x_neg & odd, -x2, x2)

        # y = ±inf: 1 for |x| = 1, 0 or inf by |x| < 1 and the sign of y
        small = ax < 0x3F800000
        inf_y = np.where(small != y_neg, np.float32(0), np.float32(np.inf))
        inf_y = np.where(ax == 0x3F800000, np.float32(1), inf_y)

    x_nan = ax > 0x7F800000
    y_nan = ay > 0x7F800000
    out = main
    out = np.where((ax == 0) | (ax == 0x7F800000), zero_inf_x, out)
    out = np.where(ay == 0x7F800000, inf_y, out)
    out = np.where(x_nan | y_nan, np.float32(np.nan), out)
    out = np.where((ay == 0) | (ix == 0x3F800000), np.float32(1), out)
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    dtype: np.dtype
    broadcast: bool  # input shapes differ (BroadcastPow4D instead of Pow)
    one_exponent: bool  # ... and the exponent tensor has a single element


def prepare(ctx: OpContext) -> OpData:
    """Validate types (float32 / int32, all three the same) and the broadcast shape."""
    x, e, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dt = np.dtype(x.dtype)
    if not (dt == np.dtype(e.dtype) == np.dtype(out.dtype)):
        raise ctx.error(f"inputs {x.describe()}, {e.describe()} and output {out.describe()} "
                        "must share one type")
    if dt not in (_F32, _I32) or ctx.flavor.tflm:
        raise ctx.unsupported(supported="float32, int32 (LiteRT); TFLM has no POW")
    shape = broadcast_shape(ctx, x.shape, e.shape)
    ctx.set_output_shape(0, shape)
    broadcast = tuple(x.shape) != tuple(e.shape)
    return OpData(shape, dt, broadcast, broadcast and e.size == 1)


def integer_exponent(e: float) -> int | None:
    """The exponent IntegerExponentPow uses, or None when ``std::pow`` runs instead.

    ``n = int(round_half_away(e))``; taken when ``|e - n| < 1e-5`` (in float32) and
    ``n >= 1``. An exponent beyond int32 converts to INT32_MIN (x86) and is not taken.
    """
    e32 = np.float32(e)
    if not np.isfinite(e32):
        return None
    rounded = np.floor(np.abs(np.float64(e32)) + 0.5) * np.sign(np.float64(e32))
    if not -(2.0**31) <= rounded < 2.0**31:
        return None
    n = int(rounded)
    close = abs(np.float32(e32 - np.float32(n))) < np.float32(1e-5)
    return n if (close and n >= 1) else None


def _square_and_multiply(x: np.ndarray, n: int) -> np.ndarray:
    """``IntegerExponentPow``: p(n) from p(n // 2) squared, times x when n is odd."""
    if n == 1:
        return x.copy()
    half = _square_and_multiply(x, n // 2)
    p = _times(half, half)
    return _times(x, p) if n % 2 else p


def _times(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == _I32:  # C++ int32 multiply: wraps modulo 2^32 on x86 (undefined in C++)
        p = a.astype(np.int64) * b.astype(np.int64)  # exact: |p| < 2^62
        return ((p + 2**31) % 2**32 - 2**31).astype(np.int32)
    big = np.float32(np.finfo(np.float32).max)
    with np.errstate(over="ignore", invalid="ignore"):
        p = (a * b).astype(np.float32)
    # MulElementwise clamps to [lowest, max] (maxps / minps and std::max / std::min agree:
    # NaN passes); an overflow to inf becomes FLT_MAX
    return np.where(p > big, big, np.where(p < -big, -big, p)).astype(np.float32)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x, e = np.asarray(inputs[0]), np.asarray(inputs[1])
    if data.dtype == _I32 and e.size and e.min() < 0:
        bad = int(e[e < 0].reshape(-1)[0])
        raise ctx.error(f"int32 exponent {bad} < 0 in '{ctx.input(1).name}' (LiteRT: POW does "
                        "not support negative value for int32)")
    if data.one_exponent:
        n = integer_exponent(float(e.reshape(-1)[0])) if data.dtype == _F32 else (
            int(e.reshape(-1)[0]) if int(e.reshape(-1)[0]) >= 1 else None)
        if n is not None:
            # the output has x's elements (the exponent has one), x's shape broadcast
            p = _square_and_multiply(x.astype(data.dtype), n)
            return [np.ascontiguousarray(np.broadcast_to(p, data.shape)).reshape(data.shape)]
    x, e = np.broadcast_arrays(x, e)
    if data.dtype == _F32:
        return [np.ascontiguousarray(powf(x, e)).reshape(data.shape)]
    with np.errstate(over="ignore", invalid="ignore"):
        real = np.power(x.astype(np.float64), e.astype(np.float64))
    # double -> int32 outside the range: cvttsd2si's "integer indefinite", INT32_MIN
    inside = (real >= -(2.0**31)) & (real < 2.0**31)
    out = np.where(inside, real, -(2.0**31)).astype(np.int64).astype(np.int32)
    return [np.ascontiguousarray(out).reshape(data.shape)]


POW = Kernel(prepare, invoke)
