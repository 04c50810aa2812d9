"""ELU: ``x < 0 ? exp(x) - 1 : x`` element-wise (alpha fixed at 1), float32 and int8.

Kernels: LiteRT BUILTIN (``BUILTIN_REF`` has no ELU registration), TFLM, and the
XNNPACK delegate (float32 and int8). Per flavour:

* float32, LiteRT and TFLM: ``val < 0.0f ? expm1f(val) : val`` with glibc's ``expm1f``
  (:func:`expm1f_negative`, a float32 port of its algorithm; NaN passes through).
  XNNPACK (denormals flushed, see :func:`~refimpl.kernels.unary.flush_denormals`)
  evaluates its own polynomial (:func:`xnn_elu`, f32-velu rr1-p6).
* int8, a 256-entry table built in Prepare (all float32)::

      x = fl32(s_in * (q - zp_in));  y = x < 0 ? g(x) : x
      LiteRT, TFLM: lut[q] = clamp(int(roundf(fl32(y * fl32(1 / s_out)))) + zp_out)
      XNNPACK:      lut[q] = clamp(rint(fl32(fl32(y * fl32(1 / s_out)) + zp_out)))

  with ``g = expm1f`` (LiteRT, XNNPACK) or ``g(x) = fl32(expf(x) - 1)`` (TFLM), ``roundf``
  half away from zero, ``rint`` half to even. A value beyond the int32 range (``s_in /
  s_out >= 2**24`` or so) saturates to 127 in LiteRT and XNNPACK, but becomes -128 in
  TFLM, whose ``int(...)`` is a bare x86 conversion giving INT32_MIN (measured: s_in = 1,
  s_out = 2**-25, q = 127 -> TFLM -128, LiteRT 127; a TFLM bug).

Mirrors: tflite/kernels/activations.cc (EluPrepare, EluEval), internal/reference/elu.h,
tensorflow/lite/micro/kernels/elu.cc, XNNPACK src/reference/unary-elementwise.cc (ELUOp,
quantized reference kernel used to fill its lookup table); glibc
sysdeps/ieee754/flt-32/s_expm1f.c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from .. import libm
from ..context import Kernel, OpContext
from .elementwise import require_per_tensor
from .unary import flush_denormals, fma_f32
from .unary_math import lut_populate_int8_saturating

_F32, _I8 = np.dtype(np.float32), np.dtype(np.int8)
f32 = np.float32

# glibc expm1f constants (fdlibm float version).
_LN2_HI, _LN2_LO, _INVLN2 = f32(6.9313812256e-01), f32(9.0580006145e-06), f32(1.4426950216e+00)
_Q1, _Q2, _Q3, _Q4, _Q5 = (f32(v) for v in (-3.3333335072e-02, 1.5873016091e-03,
                                             -7.9365076090e-05, 4.0082177293e-06,
                                             -2.0109921195e-07))


def expm1f_negative(x: np.ndarray) -> np.ndarray:
    """glibc ``expm1f`` for ``x < 0`` (other elements are returned unchanged).

    Every step in float32, the fdlibm reduction ``x = k ln2 + r``::

        |x| >= 27 ln2: -1;  |x| < 2**-25: x
        |x| <= ln2/2: k = 0;  |x| < 1.5 ln2: k = -1, hi = x + ln2_hi, lo = -ln2_lo
        else k = trunc(fl32(invln2 * x) - 0.5), hi = x - k*ln2_hi, lo = k*ln2_lo
        r = hi - lo;  c = (hi - r) - lo
        hfx = r/2;  hxs = r*hfx;  r1 = 1 + hxs*(Q1 + hxs*(Q2 + hxs*(Q3 + hxs*(Q4 + hxs*Q5))))
        t = 3 - r1*hfx;  e = hxs*((r1 - t) / (6 - r*t))
        k = 0:  r - (r*e - hxs)
        else e = (r*(e - c) - c) - hxs
        k = -1: (r - e)/2 - 1/2;   k <= -2: (1 - (e - r)) * 2**k - 1
    """
    x = np.asarray(x, np.float32)
    with np.errstate(all="ignore"):
        hx = x.view(np.uint32).astype(np.int64) & 0x7FFFFFFF
        neg = x < 0
        mid = (hx > 0x3EB17218) & (hx < 0x3F851592)
        big = hx >= 0x3F851592
        kf = (x * _INVLN2).astype(f32) - f32(0.5)
        k = np.where(big, np.trunc(kf), np.where(mid, -1.0, 0.0)).astype(f32)
        reduce = mid | big
        hi = np.where(mid, (x + _LN2_HI).astype(f32), (x - (k * _LN2_HI).astype(f32)))
        hi = hi.astype(f32)
        lo = np.where(mid, -_LN2_LO, (k * _LN2_LO).astype(f32)).astype(f32)
        r = np.where(reduce, (hi - lo).astype(f32), x).astype(f32)
        c = np.where(reduce, ((hi - r).astype(f32) - lo).astype(f32), f32(0)).astype(f32)
        hfx = (f32(0.5) * r).astype(f32)
        hxs = (r * hfx).astype(f32)
        poly = (_Q4 + (hxs * _Q5).astype(f32)).astype(f32)
        for q in (_Q3, _Q2, _Q1):
            poly = (q + (hxs * poly).astype(f32)).astype(f32)
        r1 = (f32(1) + (hxs * poly).astype(f32)).astype(f32)
        t = (f32(3) - (r1 * hfx).astype(f32)).astype(f32)
        e = (hxs * ((r1 - t).astype(f32) / (f32(6) - (r * t).astype(f32))).astype(f32))
        e = e.astype(f32)
        res_k0 = (r - ((r * e).astype(f32) - hxs).astype(f32)).astype(f32)
        e2 = (((r * (e - c).astype(f32)).astype(f32) - c).astype(f32) - hxs).astype(f32)
        res_km1 = ((f32(0.5) * (r - e2).astype(f32)).astype(f32) - f32(0.5)).astype(f32)
        y = (f32(1) - (e2 - r).astype(f32)).astype(f32)
        ki = k.astype(np.int64)
        scaled = ((y.view(np.int32).astype(np.int64) + (ki << 23)) & 0xFFFFFFFF)
        scaled = scaled.astype(np.uint32).view(f32)
        res_kn = (scaled - f32(1)).astype(f32)
        res = np.where(ki == 0, res_k0, np.where(ki == -1, res_km1, res_kn))
        res = np.where(hx < 0x33000000, x, res)
        res = np.where(hx >= 0x4195B844, f32(-1), res)
    return np.where(neg, res, x).astype(f32)


def elu_float(x: np.ndarray) -> np.ndarray:
    """``x < 0 ? expm1f(x) : x`` in float32 (NaN and -0.0 pass through)."""
    return expm1f_negative(np.asarray(x, np.float32))


def xnn_elu(x: np.ndarray) -> np.ndarray:
    """XNNPACK ``f32-velu`` (avx512f rr1-p6; alpha = prescale = beta = 1), all float32::

        z = max(-17.3287, x)                              # maxps: NaN stays NaN
        n = fma(z, log2e, 0x1.8000FEp23);  s = float bits of (bits(n) << 23)   # 2**round(z/ln2)
        n = n - 0x1.8000FEp23;  t = fma(n, -ln2, z)
        p = fma(fma(fma(fma(c6, t, c5), t, c4), t, c3), t, c2) * t
        y = fma(fma(p, t*s, t*s), 1, fma(s, 1, -1))      # s*(1 + t + t^2 p) - 1
        x >= 0 or NaN: y = x
    """
    x = np.asarray(x, f32)
    magic = f32(float.fromhex("0x1.8000FEp23"))
    c6, c5, c4, c3, c2 = (f32(float.fromhex(h)) for h in (
        "0x1.6B7338p-10", "0x1.12278Ep-7", "0x1.555716p-5", "0x1.5554B0p-3", "0x1.FFFFFEp-2"))
    with np.errstate(all="ignore"):
        z = np.where(f32(float.fromhex("-0x1.154246p+4")) > x, f32(float.fromhex(
            "-0x1.154246p+4")), x).astype(f32)  # maxps(cutoff, x): NaN -> x
        n = fma_f32(z, f32(float.fromhex("0x1.715476p+0")), magic)
        s = ((n.view(np.uint32).astype(np.uint64) << np.uint64(23)) & np.uint64(0xFFFFFFFF))
        s = s.astype(np.uint32).view(f32)
        n = (n - magic).astype(f32)
        t = fma_f32(n, f32(float.fromhex("-0x1.62E430p-1")), z)
        p = fma_f32(fma_f32(fma_f32(fma_f32(c6, t, c5), t, c4), t, c3), t, c2)
        p = (p * t).astype(f32)
        ts = (t * s).astype(f32)
        sm1 = fma_f32(s, f32(1), f32(-1))
        y = fma_f32(fma_f32(p, ts, ts), f32(1), sm1)
    return np.where((x >= 0) | np.isnan(x), x, y).astype(f32)


def _expf_minus_one(x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (libm.expf(x) - f32(1)).astype(f32)


@dataclass(frozen=True)
class OpData:
    """kind ``"float"`` or ``"lut"``; ``lut[q + 128]`` is the output code of ``q``."""

    kind: str
    lut: np.ndarray | None = None
    delegated: bool = False  # the XNNPACK delegate runs the node


def xnnpack_lut(s_in: float, zp_in: int, s_out: float, zp_out: int) -> np.ndarray:
    """XNNPACK's table: its float reference ELU quantized with ``rint`` (half to even)."""
    q = np.arange(-128, 128, dtype=np.int64)
    x = ((q.astype(f32) - f32(zp_in)).astype(f32) * f32(s_in)).astype(f32)
    y = np.where(x < 0, expm1f_negative(x), x).astype(f32)
    inv = f32(f32(1) / f32(s_out))
    v = ((y * inv).astype(f32) + f32(zp_out)).astype(f32)
    return np.clip(np.rint(v.astype(np.float64)), -128, 127).astype(np.int64)


def prepare(ctx: OpContext) -> OpData:
    """Validate ELU and build the int8 table."""
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1,
                "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    dtype = np.dtype(inp.dtype)
    if dtype not in (_F32, _I8):
        raise ctx.unsupported(supported="float32, int8")
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    if dtype == _F32:
        return OpData("float", delegated=ctx.flavor.xnnpack)
    s_in, zp_in = require_per_tensor(ctx, inp, "input")
    s_out, zp_out = require_per_tensor(ctx, out, "output")
    if ctx.flavor.xnnpack:
        return OpData("lut", xnnpack_lut(s_in, zp_in, s_out, zp_out), delegated=True)
    g = _expf_minus_one if ctx.flavor.tflm else expm1f_negative

    def transform(x: np.ndarray) -> np.ndarray:
        return np.where(x < 0, g(x), x).astype(f32)

    if ctx.flavor.tflm:  # a bare float -> int32 conversion: beyond int32 gives INT32_MIN
        return OpData("lut", fp.lut_populate_int8(s_in, zp_in, s_out, zp_out, transform,
                                                  np.int8))
    return OpData("lut", lut_populate_int8_saturating(s_in, zp_in, s_out, zp_out, transform))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply ELU to ``inputs[0]``."""
    x = np.asarray(inputs[0])
    if data.kind == "float" and data.delegated:
        return [flush_denormals(xnn_elu(flush_denormals(x)))]
    if data.kind == "float":
        return [elu_float(x)]
    assert data.lut is not None
    return [data.lut[x.astype(np.int64) + 128].astype(np.int8)]


ELU = Kernel(prepare, invoke)
