"""EXP, LOG, SIN, COS: float32 through glibc's ``expf`` / ``logf`` / ``sinf`` / ``cosf``;
EXP and LOG also int8 / int16 through tables.

Types with a kernel: LiteRT float32, int8, int16 (zero points 0) for EXP and LOG
(BUILTIN_REF and BUILTIN share the reference code: ``exp.cc`` registers only it,
``elementwise.cc`` has one kernel), float32 for SIN and COS; TFLM float32 only.

Float32: ``std::exp(float)`` etc., i.e. glibc. None of these is correctly rounded, so
refimpl evaluates glibc's own algorithms: :func:`refimpl.libm.expf`, and :func:`logf`,
:func:`sincosf` below (shared-helper candidates; they live here because
refimpl/libm.py belongs to another module owner). On x86-64, glibc 2.36 runs the FMA
builds of ``logf`` / ``sinf`` / ``cosf`` on CPUs with FMA and AVX2 (every ``a*b + c``
of the C source fused); refimpl reproduces those, checked against the machine's libm
(tests/kernels/test_unary.py).

XNNPACK (float32; denormals flushed): LOG is its rational-3-3 kernel, reproduced bit for
bit (:func:`xnn_log`); EXP follows its rational-3-2 kernel (:func:`xnn_exp`), but the
wheel's results differ from that source by up to 2 ulps (tolerated by the sweep); SIN /
COS use glibc's results (XNNPACK's rational approximations differ by up to ~4e-7
absolute; tolerated).

Quantized: a table built in Prepare, looked up in Eval.

* int8 (256 entries, ``LUTPopulate<int8_t>``, all in float32)::

      lut[q] = clamp(int(roundf(f(fl32(s_in * (q - zp_in))) * fl32(1 / s_out)) + zp_out))

* int16 (``LUTPopulate<int16_t>``, float overload): 513 samples of ``f`` over the
  input range with the midpoint error pre-corrected, then 7-bit linear interpolation
  (:func:`refimpl.fixedpoint.lut_populate_int16`, :func:`~refimpl.fixedpoint
  .lut_lookup_int16`).

with ``f = expf`` for EXP and, for LOG, ``f(x) = logf(x)`` for ``x > 0`` and
``f(x) = fl32((qmin - zp_out) * s_out)`` (the lowest representable output) otherwise.

Mirrors: tflite/kernels/exp.cc (Prepare, Eval<kReference>), elementwise.cc
(LogLUTPrepare, LogEval, SinEval, CosEval), internal/common.h (LUTPopulateInt8, LUTPopulateInt16,
LUTLookup); tensorflow/lite/micro/kernels/exp.cc, elementwise.cc; glibc
sysdeps/ieee754/flt-32 (e_logf.c, s_sinf.c, s_cosf.c); XNNPACK src/f32-vexp, src/f32-vlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import fixedpoint as fp
from .. import libm
from ..context import Kernel, OpContext
from .elementwise import require_per_tensor
from .unary import flush_denormals, fma_f32, simd_max, simd_min

_F32, _I8, _I16 = np.dtype(np.float32), np.dtype(np.int8), np.dtype(np.int16)

# --------------------------------------------------------------------------------------
# glibc logf (sysdeps/ieee754/flt-32/e_logf.c, table-driven, glibc >= 2.27)
# --------------------------------------------------------------------------------------
#: (1/c, log(c)) for the 16 subintervals of [0x3f330000, 2 * 0x3f330000): glibc's
#: ``__logf_data.tab`` values, bit for bit (they are not derivable by a formula: each
#: ``c`` was searched for a small error of ``log(c)``).
_LOGF_INVC = np.array([float.fromhex(h) for h in (
    "0x1.661ec79f8f3bep+0", "0x1.571ed4aaf883dp+0", "0x1.49539f0f010bp+0",
    "0x1.3c995b0b80385p+0", "0x1.30d190c8864a5p+0", "0x1.25e227b0b8eap+0",
    "0x1.1bb4a4a1a343fp+0", "0x1.12358f08ae5bap+0", "0x1.0953f419900a7p+0", "0x1p+0",
    "0x1.e608cfd9a47acp-1", "0x1.ca4b31f026aap-1", "0x1.b2036576afce6p-1",
    "0x1.9c2d163a1aa2dp-1", "0x1.886e6037841edp-1", "0x1.767dcf5534862p-1")])
_LOGF_LOGC = np.array([float.fromhex(h) for h in (
    "-0x1.57bf7808caadep-2", "-0x1.2bef0a7c06ddbp-2", "-0x1.01eae7f513a67p-2",
    "-0x1.b31d8a68224e9p-3", "-0x1.6574f0ac07758p-3", "-0x1.1aa2bc79c81p-3",
    "-0x1.a4e76ce8c0e5ep-4", "-0x1.1973c5a611cccp-4", "-0x1.252f438e10c1ep-5", "0x0p+0",
    "0x1.aa5aa5df25984p-5", "0x1.c5e53aa362eb4p-4", "0x1.526e57720db08p-3",
    "0x1.bc2860d22477p-3", "0x1.1058bc8a07ee1p-2", "0x1.4043057b6ee09p-2")])
_LOGF_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_LOGF_A0, _LOGF_A1, _LOGF_A2 = (float.fromhex(h) for h in (
    "-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2"))
_LOGF_OFF = 0x3F330000
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for doubles


def _two_prod(a: np.ndarray, b: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``a * b = p + e`` exactly (Dekker), doubles without overflow."""
    p = a * b

    def split(v):
        t = _SPLIT * v
        hi = t - (t - v)
        return hi, v - hi

    ah, al = split(a)
    bh, bl = split(np.asarray(b, np.float64))
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def _fma(a: np.ndarray, b: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
    """``round(a * b + c)`` with one rounding (emulates the hardware FMA).

    ``p + e`` is the exact product; ``s + t`` the exact ``p + c``; the result
    ``s + (t + e)`` is the correctly rounded sum except in double-rounding corner cases
    far below the float32 precision that matters here.
    """
    p, e = _two_prod(a, b)
    s = p + c
    bb = s - p
    t = (p - (s - bb)) + (c - bb)
    return s + (t + e)


def logf(x: np.ndarray) -> np.ndarray:
    """float32 ``log`` exactly as glibc 2.36's x86-64 ``logf`` (its FMA build).

    Arithmetic (doubles; ``fma`` = one rounding)::

        x = 2**k * z, z in [0x3f330000, 2*0x3f330000) as float bits, exact
        i = top 4 mantissa bits of (bits(x) - 0x3f330000)
        r = fma(z, invc[i], -1)                      # z/c - 1
        y0 = logc[i] + k * ln2
        y = fma(A0, r*r, fma(A1, r, A2));  y = fma(y, r*r, y0 + r)
        logf(x) = float32(y)

    Special values: ``log(1) = +0``, ``log(±0) = -inf``, ``log(inf) = inf``, negative or
    NaN -> NaN; subnormals are normalised first (``x * 2**23``, ``k -= 23``).
    """
    x = np.asarray(x, np.float32)
    ix = x.view(np.uint32).astype(np.int64)
    sub = (ix > 0) & (ix < 0x00800000)
    with np.errstate(over="ignore"):
        scaled = (x * np.float32(2.0**23)).astype(np.float32)
    ix = np.where(sub, (scaled).astype(np.float32).view(np.uint32)
                  .astype(np.int64) - (23 << 23), ix)
    tmp = ix - _LOGF_OFF
    i = (tmp >> 19) % 16
    k = ((tmp + 2**31) % 2**32 - 2**31) >> 23  # int32 arithmetic shift
    iz = ix - (tmp & (0x1FF << 23))
    z = (iz & 0xFFFFFFFF).astype(np.uint32).view(np.float32).astype(np.float64)
    invc, logc = _LOGF_INVC[i], _LOGF_LOGC[i]
    r = _fma(z, invc, -1.0)
    y0 = logc + k.astype(np.float64) * _LOGF_LN2
    r2 = r * r
    y = _fma(np.full_like(r, _LOGF_A1), r, _LOGF_A2)
    y = _fma(np.full_like(r, _LOGF_A0), r2, y)
    y = _fma(y, r2, y0 + r)
    out = y.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        special = np.log(np.where(np.isfinite(x) & (x > 0), np.float32(1), x))
    normal = np.isfinite(x) & (x > 0)
    out = np.where(normal, out, special.astype(np.float32))
    return np.where(x == np.float32(1), np.float32(0), out).astype(np.float32)


# --------------------------------------------------------------------------------------
# glibc sinf / cosf (sysdeps/ieee754/flt-32/s_sinf.c, s_cosf.c, s_sincosf.h; x86-64 FMA build)
# --------------------------------------------------------------------------------------
_HPI_INV = float.fromhex("0x1.45F306DC9C883p+23")  # 2/pi * 2**24
_HPI = float.fromhex("0x1.921FB54442D18p0")
_PI63 = float.fromhex("0x1.921FB54442D18p-62")
#: cosine (c0..c4) and sine (s1..s3) coefficients; the second table negates the cosine.
_C = tuple(float.fromhex(h) for h in ("0x1p0", "-0x1.ffffffd0c621cp-2", "0x1.55553e1068f19p-5",
                                       "-0x1.6c087e89a359dp-10", "0x1.99343027bf8c3p-16"))
_S = tuple(float.fromhex(h) for h in ("-0x1.555545995a603p-3", "0x1.1107605230bc4p-7",
                                       "-0x1.994eb3774cf24p-13"))
#: 4/pi to 192 bits, 8 new bits per entry (glibc ``__inv_pio4``).
_INV_PIO4 = np.array([
    0xA2, 0xA2F9, 0xA2F983, 0xA2F9836E, 0xF9836E4E, 0x836E4E44, 0x6E4E4415, 0x4E441529,
    0x441529FC, 0x1529FC27, 0x29FC2757, 0xFC2757D1, 0x2757D1F5, 0x57D1F534, 0xD1F534DD,
    0xF534DDC0, 0x34DDC0DB, 0xDDC0DB62, 0xC0DB6295, 0xDB629599, 0x6295993C, 0x95993C43,
    0x993C4390, 0x3C439041], dtype=np.uint64)


def _sinf_poly(x: np.ndarray, x2: np.ndarray, negate_cos: np.ndarray,
               odd: np.ndarray) -> np.ndarray:
    """glibc ``sinf_poly``: the sine polynomial (even quadrant) or cosine (odd), FMA form."""
    sgn = np.where(negate_cos, -1.0, 1.0)
    x3 = x * x2
    s1 = _fma(x2, _S[2], _S[1])
    sin = _fma(x3 * x2, s1, _fma(x3, _S[0], x))
    x4 = x2 * x2
    c2 = _fma(x2, sgn * _C[4], sgn * _C[3])
    c1 = _fma(x2, sgn * _C[1], sgn * _C[0])
    cos = _fma(x4 * x2, c2, _fma(x4, sgn * _C[2], c1))
    return np.where(odd, cos, sin)


def _reduce_large(xi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """glibc ``reduce_large``: exact 2.62 fixed-point ``x * 4/pi`` modulo, 96-bit table slice."""
    xi = xi.astype(np.uint64)
    idx = ((xi >> np.uint64(26)) & np.uint64(15)).astype(np.int64)
    shift = (xi >> np.uint64(23)) & np.uint64(7)
    m = ((xi & np.uint64(0xFFFFFF)) | np.uint64(0x800000)) << shift  # < 2**31
    res0 = (m * _INV_PIO4[idx]) & np.uint64(0xFFFFFFFF)  # uint32 * uint32: truncated
    res1 = m * _INV_PIO4[idx + 4]
    res2 = m * _INV_PIO4[idx + 8]
    res0 = (res2 >> np.uint64(32)) | (res0 << np.uint64(32))
    res0 = res0 + res1  # wraps modulo 2**64 like C
    n = (res0 + np.uint64(1 << 61)) >> np.uint64(62)
    res0 = res0 - (n << np.uint64(62))
    return res0.view(np.int64).astype(np.float64) * _PI63, n.astype(np.int64)


def sincosf(y: np.ndarray, cosine: bool) -> np.ndarray:
    """float32 ``sin`` / ``cos`` exactly as glibc 2.36's x86-64 ``sinf`` / ``cosf`` (FMA build).

    Arithmetic (doubles; every ``a + b*c`` of the C source is one fused multiply-add)::

        |y| < 2**-12:  sin -> y, cos -> 1
        |y| < pi/4:    poly(x, n = 0)
        |y| < 120:     n = (int32(x * 2/pi * 2**24) + 2**23) >> 24;  r = fma(-n, pi/2, x)
        otherwise:     n, r from the 4/pi table (exact integer reduction)
        sign and table (cosine negated for quadrants 2, 3) from n (+ the sign of y)
        sin = poly(r * sign, r*r, n),  cos = poly(r * sign, r*r, n ^ 1)
        poly: even n -> r + r^3 (s1 + r^2 (s2 + r^2 s3)); odd n -> c0 + r^2 c1 + ...

    inf and NaN give NaN.
    """
    y = np.asarray(y, np.float32)
    ui = y.view(np.uint32).astype(np.int64)
    top = (ui >> 20) & 0x7FF
    x = y.astype(np.float64)
    with np.errstate(all="ignore"):
        # |y| < 120: single-step reduction
        r = x * _HPI_INV
        ri = np.where(np.abs(r) < 2.0**31, r, 0.0).astype(np.int64)  # C (int32_t) truncation
        n_fast = (ri + 0x800000) >> 24
        x_fast = _fma(-n_fast.astype(np.float64), _HPI, x)
        # |y| >= 120: table reduction, the sign of y folded into the quadrant
        x_large, n_large = _reduce_large(ui)
        small = top < 0x3F4  # abstop12(pio4 as float)
        fast = ~small & (top < 0x42F)  # abstop12(120.0f)
        n = np.where(small, 0, np.where(fast, n_fast, n_large))  # picks sine / cosine
        n_sign = np.where(fast | small, n, n_large + (ui >> 31))  # picks sign and table
        xr = np.where(small, x, np.where(fast, x_fast, x_large))
        sign = np.where((n_sign & 3) == 0, 1.0, np.where((n_sign & 3) == 3, 1.0, -1.0))
        xs = xr * sign
        x2 = xr * xr
        quadrant = n ^ 1 if cosine else n
        out = _sinf_poly(xs, x2, (n_sign & 2) != 0, (quadrant & 1) != 0).astype(np.float32)
    tiny = top < 0x398  # abstop12(0x1p-12f)
    out = np.where(tiny, np.float32(1) if cosine else y, out)
    return np.where(top >= 0x7F8, np.float32(np.nan), out).astype(np.float32)


# --------------------------------------------------------------------------------------
# XNNPACK's float32 kernels (x86 AVX-512F / FMA3 "rational" variants; the same arithmetic)
# --------------------------------------------------------------------------------------
f32 = np.float32
_XEXP_ALPHA = (f32(4.1594290733e-01), f32(7.2068706155e-02), f32(5.5380910635e-03))
_XEXP_BETA = (f32(-2.7720427513e-01), f32(2.3986088112e-02))


def xnn_exp(x: np.ndarray) -> np.ndarray:
    """XNNPACK ``f32-vexp`` rational-3-2-div: ``2**z * p(r) / q(r)``, all float32.

    ::

        z' = clamp(fl32(x * log2e), -127, 128)       # maxps/minps: NaN -> -127
        z  = rint(z');  r = z' - z;  2**z from the exponent bits (2**-127 -> 0, 2**128 -> inf)
        p  = fma(r, fma(r, fma(r, a3, a2), a1), 1);  q = fma(r, fma(r, b2, b1), 1)
        y  = 2**z * (p / q)
    """
    x = np.asarray(x, f32)
    with np.errstate(all="ignore"):
        zp = simd_min(simd_max((x * f32(1.44269504089)).astype(f32), f32(-127)), f32(128))
        z = np.rint(zp).astype(f32)
        r = (zp - z).astype(f32)
        two_z = (((z.astype(np.int64) + 127) & 0x1FF) << 23).astype(np.uint32).view(f32)
        p = fma_f32(r, fma_f32(r, fma_f32(r, _XEXP_ALPHA[2], _XEXP_ALPHA[1]), _XEXP_ALPHA[0]),
                    f32(1))
        q = fma_f32(r, fma_f32(r, _XEXP_BETA[1], _XEXP_BETA[0]), f32(1))
        return (two_z * (p / q).astype(f32)).astype(f32)


def xnn_log(x: np.ndarray) -> np.ndarray:
    """XNNPACK ``f32-vlog`` rational-3-3-div (all float32)::

        v = fl32(x * sqrt2');  k = floor(log2 |v|) (getexp; 0 -> -inf, v < 0 -> NaN)
        m = mantissa of v in [1, 2);  t = fl32(m * sqrt1_2') - 1
        p = t * fma(t, fma(t, a3, 1), 1);  q = fma(t, fma(t, fma(t, b3, b2), b1), 1)
        y = fma(k, ln2, p / q)
    """
    x = np.asarray(x, f32)
    with np.errstate(all="ignore"):
        v = (x * f32(1.4142134190e+00)).astype(f32)
        bits = v.view(np.uint32).astype(np.int64)
        k = (((bits >> 23) & 0xFF) - 127).astype(f32)
        k = np.where(np.isinf(v), f32(np.inf), k)
        k = np.where(np.isnan(v), f32(np.nan), k)
        k = np.where(v == 0, f32(-np.inf), np.where(v < 0, f32(np.nan), k)).astype(f32)
        m = ((bits & 0x007FFFFF) | 0x3F800000).astype(np.uint32).view(f32)
        t = ((m * f32(7.0710688829e-01)).astype(f32) - f32(1)).astype(f32)
        p = (t * fma_f32(t, fma_f32(t, f32(1.824996918440e-01), f32(1)), f32(1))).astype(f32)
        q = fma_f32(t, fma_f32(t, fma_f32(t, f32(0.049584995955), f32(0.599170029163)),
                               f32(1.5)), f32(1))
        return fma_f32(k, f32(np.log(2.0)), (p / q).astype(f32))


def xnn_sincos(x: np.ndarray, cosine: bool) -> np.ndarray:
    """XNNPACK ``f32-vsin`` / ``f32-vcos`` rational-5-4-div (all float32)::

        k = rint(fl32(x * fl32(1/2pi)));  t = fma(-k, 2pi_lo, fma(-k, 2pi_hi, x))
        cos only: t = (pi/2_hi - t) + pi/2_lo
        t = min(t, pi - t);  t = max(t, -pi - t);  t = min(t, pi - t)   # fold into [-pi/2, pi/2]
        y = t * fma(t^2, fma(t^2, a5, a3), 1) / fma(t^2, fma(t^2, b4, b2), 1)
    """
    x = np.asarray(x, f32)
    pi = f32(3.1415927)
    with np.errstate(all="ignore"):
        k = np.rint((x * f32(0.15915494)).astype(f32)).astype(f32)
        t = fma_f32(-k, f32(6.28125), x)
        t = fma_f32(-k, f32(1.9353072e-3), t)
        if cosine:
            t = ((f32(1.5707963705e+00) - t).astype(f32) + f32(-4.3711388e-08)).astype(f32)
        t = simd_min(t, (pi - t).astype(f32))
        t = simd_max(t, (-pi - t).astype(f32))
        t = simd_min(t, (pi - t).astype(f32))
        t2 = (t * t).astype(f32)
        p = (t * fma_f32(t2, fma_f32(t2, f32(3.2340581529e-03), f32(-1.3314664364e-01)),
                         f32(1))).astype(f32)
        q = fma_f32(t2, fma_f32(t2, f32(4.8770775902e-04), f32(3.3519912511e-02)), f32(1))
        return (p / q).astype(f32)


# --------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpData:
    """kind ``"float"``, ``"lut8"`` (256 entries, index ``q + 128``) or ``"lut16"`` (513)."""

    op: str
    kind: str
    dtype: np.dtype
    lut: np.ndarray | None = None
    delegated: bool = False  # float32 under the xnnpack flavour


def lut_populate_int8_saturating(s_in: float, zp_in: int, s_out: float, zp_out: int,
                                 transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``LUTPopulate<int8_t>`` as the LiteRT 2.3.0 wheel computes it (index ``q + 128``).

    Identical to :func:`refimpl.fixedpoint.lut_populate_int8` except for values beyond
    the int32 range: the wheel gives 127 for them (measured: EXP with ``exp(x) / s_out >=
    2**31``, ELU with ``s_in / s_out = 2**25``), not the ``INT32_MIN`` of a bare
    ``cvttss2si`` (which is what the TFLM wheel's ELU table does). Saturating the float
    before the integer conversion reproduces that.
    """
    q = np.arange(-128, 128, dtype=np.int64)
    x = (np.float32(s_in) * (q - zp_in).astype(np.float32)).astype(np.float32)
    y = np.asarray(transform(x), np.float32)
    inverse_scale = np.float32(np.float32(1) / np.float32(s_out))
    with np.errstate(over="ignore", invalid="ignore"):
        rescaled = (y * inverse_scale).astype(np.float32)
        rounded = fp.round_half_away(rescaled.astype(np.float64)).astype(np.float32)
        v = (rounded + np.float32(zp_out)).astype(np.float64)
    return np.clip(np.trunc(np.clip(v, -(2.0**31), 2.0**31 - 1)), -128, 127).astype(np.int64)


def _log_transform(out_min: np.float32) -> Callable[[np.ndarray], np.ndarray]:
    def f(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        return np.where(x > 0, logf(np.where(x > 0, x, np.float32(1))), out_min).astype(
            np.float32)
    return f


def prepare(ctx: OpContext) -> OpData:
    """Validate EXP / LOG / SIN / COS and build the table of a quantized input."""
    op = ctx.op_name
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1,
                "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    dtype = np.dtype(inp.dtype)
    allowed = (_F32,) if ctx.flavor.tflm or op in ("SIN", "COS") else (_F32, _I8, _I16)
    if dtype not in allowed:
        raise ctx.unsupported(supported=", ".join(t.name for t in allowed))
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    if dtype == _F32:
        return OpData(op, "float", dtype, delegated=ctx.flavor.xnnpack)
    s_in, zp_in = require_per_tensor(ctx, inp, "input")
    s_out, zp_out = require_per_tensor(ctx, out, "output")
    if dtype == _I16 and (zp_in, zp_out) != (0, 0):
        raise ctx.error(f"int16 {op} needs zero points 0 (got {zp_in} -> {zp_out})")
    if op == "EXP":
        f = libm.expf
    else:
        qmin = -128 if dtype == _I8 else -32768
        f = _log_transform(np.float32(np.float32(qmin - zp_out) * np.float32(s_out)))
    if dtype == _I8:
        return OpData(op, "lut8", dtype, lut_populate_int8_saturating(s_in, zp_in, s_out,
                                                                      zp_out, f))
    return OpData(op, "lut16", dtype, fp.lut_populate_int16(s_in, 0, s_out, 0, f, np.float32))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply the op to ``inputs[0]``."""
    x = np.asarray(inputs[0])
    if data.kind == "float":
        f = _FLOAT_FUNCTIONS[(data.op, data.delegated)]
        if data.delegated:
            return [flush_denormals(f(flush_denormals(x)))]
        with np.errstate(all="ignore"):
            return [f(x)]
    assert data.lut is not None
    if data.kind == "lut8":
        return [data.lut[x.astype(np.int64) + 128].astype(data.dtype)]
    return [fp.lut_lookup_int16(x, data.lut).astype(data.dtype)]


_FLOAT_FUNCTIONS: dict[tuple[str, bool], Callable[[np.ndarray], np.ndarray]] = {
    ("EXP", False): libm.expf, ("LOG", False): logf,
    ("SIN", False): lambda x: sincosf(x, False), ("COS", False): lambda x: sincosf(x, True),
    ("EXP", True): xnn_exp, ("LOG", True): xnn_log,
    ("SIN", True): lambda x: xnn_sincos(x, False), ("COS", True): lambda x: xnn_sincos(x, True),
}

EXP = LOG = SIN = COS = Kernel(prepare, invoke)
