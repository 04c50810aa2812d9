"""Shared pieces of the convolution-family case modules (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, TRANSPOSE_CONV): weights, biases and the scales that make the three
requantization formulas part ways.

Tie scales: with ``s_in = 0.5``, ``s_w = 0.125`` and ``s_out = 1`` the effective multiplier
is exactly ``2**-4``, so every accumulator that is 8 mod 16 lands on an exact .5 after
scaling: the reference kernels' double rounding (A) rounds negative ties away from zero,
the optimized kernels' (D) up, XNNPACK's (F) to even (arithmetic.md §1.4, §9).
"""

from __future__ import annotations

import numpy as np

from ._common import QRANGE

#: (name, s_in, zp_in, s_w per-tensor, s_out, zp_out)
TIE_SCALES = [
    ("tie16", 0.5, 3, 0.125, 1.0, -2),         # eff = 1/16 exactly
    ("tie256", 0.25, -128, 2.0**-6, 1.0, 0),   # eff = 2^-8
    ("random", 0.0371, -5, 0.0042, 0.0517, 9),
    ("big", 0.8, 0, 0.9, 0.01, 0),             # eff = 72 (> 1: left shift)
]


def weights(rng: np.random.Generator, shape, dtype: str = "int8") -> np.ndarray:
    lo, hi = QRANGE[dtype]
    w = rng.integers(-127, 128, size=shape).astype(np.int64)
    w.reshape(-1)[:2] = (-127, 127)
    return w.astype(dtype)


def per_channel_scales(base: float, n: int) -> list[float]:
    """Channel scales around ``base``, including ``base`` itself and a power-of-two
    neighbour, so per-channel multipliers differ in exponent and mantissa."""
    out = [base * (0.5 + k / max(n, 1)) for k in range(n)]
    out[0] = base
    if n > 1:
        out[1] = base * 2
    return [float(np.float32(v)) for v in out]


def bias(rng: np.random.Generator, n: int, dtype: str = "int32", spread: int = 2000) -> np.ndarray:
    return rng.integers(-spread, spread + 1, size=n).astype(dtype)


def float_sum_tolerance(k: int, max_x: float, max_w: float, max_b: float) -> dict:
    """Tolerances for float32 outputs of a K-term dot product on the optimized runtimes.

    Why not 0: ruy / Eigen (``litert-builtin``) and XNNPACK's micro-kernels add the K
    products in their own blocked order, with fused multiply-adds, while refimpl keeps
    the reference kernel's sequential order. Any two orders of a float32 sum of K terms
    differ by at most ``2 * K * 2**-24 * sum |terms|`` (each order is within
    ``K * u * sum |terms|`` of the exact sum, u = 2**-24); with ``|x| <= max_x``,
    ``|w| <= max_w`` and the bias that bound is the ``atol`` below.
    """
    from ._common import Tolerance

    atol = 2 * (k + 1) * 2.0**-24 * (k * max_x * max_w + max_b)
    reason = (f"float32 sum of {k} products in the runtime's own order (ruy/Eigen/XNNPACK, "
              f"FMA): |diff| <= 2*(K+1)*2^-24*sum|terms| = {atol:.3g}")
    t = Tolerance(reason=reason, atol=atol)
    return {"litert-builtin": t, "litert-xnnpack": t}


def quantized_filter_and_bias(rng: np.random.Generator, wshape, cout: int, s_in: float,
                              s_w: float, per_channel: bool, int16: bool,
                              quantized_dimension: int = 0, with_bias: bool = True):
    """Symmetric int8 weights (per tensor, or per channel around ``s_w``) and the bias the
    converter would write: int32 (int64 for 16x8), scale ``fl32(s_in * s_w[c])``, zero
    point 0. Returns ``(weights TensorArg, bias TensorArg or None)``."""
    from ._common import TensorArg

    ws = per_channel_scales(s_w, cout) if per_channel else [s_w]
    zps = [0] * len(ws) if per_channel else 0
    wq = TensorArg(tuple(wshape), "int8", data=weights(rng, wshape),
                   scale=ws if per_channel else s_w, zero_point=zps,
                   quantized_dimension=quantized_dimension)
    if not with_bias:
        return wq, None
    b_t = "int64" if int16 else "int32"
    b_scale = ([float(np.float32(s_in) * np.float32(v)) for v in ws] if per_channel
               else float(np.float32(s_in) * np.float32(s_w)))
    return wq, TensorArg((cout,), b_t, data=bias(rng, cout, b_t), scale=b_scale, zero_point=zps)
