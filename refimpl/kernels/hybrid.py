"""Dynamic-range ("hybrid") helpers: float32 activations meet int8 constant weights.

A hybrid FULLY_CONNECTED / CONV_2D / DEPTHWISE_CONV_2D quantizes its float input on the
fly, one scale (and zero point) per batch row, runs an integer dot product against the
int8 weights and rescales the integer result to float (arithmetic.md §3). The input
quantizers live in ``tensor_utils``, whose implementation is picked when LiteRT is
compiled, not by the op resolver: on the x86-64 pip wheel (SSE4.1, so ``USE_NEON`` via
the NEON_2_SSE translator) they are the ``Neon*`` functions of
``internal/optimized/neon_tensor_utils.cc``. Those process the row in a vector *body* of
``8 * floor(n / 8)`` elements and a scalar *tail*, which round differently:

* body: ``RoundToNearest`` without ARMv8 = ``trunc(fl32(v + (v < 0 ? -0.5 : 0.5)))``
  (float32 addition, then NEON_2_SSE's ``vcvtq_s32_f32``, a truncating
  ``cvttps2dq``). This is half away from zero except where the float32 addition itself
  rounds: ``v = 0.5 - 2**-25`` gives 1.
* tail: ``TfLiteRound(fl32(inv * v))`` = ``roundf``, half away from zero, exactly.

(Checked on ai-edge-litert 2.3.0: ties 0.5, 1.5, 2.5 round away from zero in the body,
and ``0.5 - 2**-25`` gives 1 in the body and 0 in the tail. arithmetic.md §3.1 states
round-half-even for the body; ties say otherwise.)

TFLite Micro has no hybrid kernels: :func:`require_hybrid_runtime` refuses them under
the ``tflm`` flavour.

Mirrors: tflite/kernels/internal/optimized/neon_tensor_utils.cc
(``NeonAsymmetricQuantizeFloats``, ``NeonSymmetricQuantizeFloats``, ``NeonMinMax``,
``NeonIsZeroVector``, ``RoundToNearest``), portable_tensor_utils.cc
(``ApplyReluToVector`` & co.), intel/ARM_NEON_2_x86_SSE ``vcvtq_s32_f32``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import arithmetic as ar
from ..context import OpContext, TensorInfo

F32Array = NDArray[np.float32]
I8Array = NDArray[np.int8]

#: Elements per iteration of the NEON quantizer loops (two float32x4 vectors).
QUANTIZER_BODY_STEP = 8
#: Elements per iteration of ``NeonIsZeroVector`` (one float32x4 vector).
ZERO_CHECK_STEP = 4


def require_hybrid_runtime(ctx: OpContext) -> None:
    """Hybrid kernels exist in LiteRT only; TFLM refuses the model at prepare time."""
    if ctx.flavor.name == "tflm":
        raise ctx.unsupported("hybrid (float32 input, int8 weights) model: TFLite Micro "
                              "has no dynamic-range kernels",
                              supported="int8, 16x8 and float32 models")


def hybrid_filter_scales(ctx: OpContext, filter: TensorInfo, channels: int) -> F32Array:
    """The int8 filter's scales (float32), one or ``channels`` of them; zero points ignored.

    LiteRT reads only the scales of a hybrid filter (weights are symmetric by
    construction); a missing quantization is an error.
    """
    if not filter.is_quantized:
        raise ctx.error(f"int8 filter {filter.describe()} of a hybrid op has no scale")
    if filter.scale.size not in (1, channels):
        raise ctx.error(f"filter has {filter.scale.size} scales; expected 1 or {channels}")
    return np.asarray(filter.scale, np.float32)


# --------------------------------------------------------------------------------------
# Rounding of the NEON quantizers
# --------------------------------------------------------------------------------------
def neon_round_to_nearest(v: F32Array) -> np.ndarray:
    """``RoundToNearest`` as compiled for x86: ``trunc(fl32(v ± 0.5))``, as int64.

    ``v < 0`` selects -0.5 (``-0.0`` is not negative: +0.5). The float32 sum rounds to
    nearest even before the truncating conversion.
    """
    v = np.asarray(v, np.float32)
    half = np.where(v < 0, np.float32(-0.5), np.float32(0.5))
    return np.trunc(v + half).astype(np.int64)  # float32 + float32 -> float32


def _round_body_and_tail(v: F32Array) -> np.ndarray:
    """Round the last axis: body by :func:`neon_round_to_nearest`, tail half away."""
    n = v.shape[-1]
    body = QUANTIZER_BODY_STEP * (n // QUANTIZER_BODY_STEP)
    out = np.empty(v.shape, np.int64)
    out[..., :body] = neon_round_to_nearest(v[..., :body])
    out[..., body:] = ar.round_half_away(v[..., body:].astype(np.float64)).astype(np.int64)
    return out


# --------------------------------------------------------------------------------------
# Per-row input quantizers
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantizedRows:
    """Result of quantizing ``[B, n]`` float32 rows.

    Attributes
    ----------
    values : ndarray of int8, shape (B, n)
    scale : ndarray of float32, shape (B,)
        ``scaling_factor`` per row (1.0 for an all-zero row).
    zero_point : ndarray of int64, shape (B,)
        ``offset`` per row (0 for the symmetric quantizer and for all-zero rows).
    """

    values: I8Array
    scale: F32Array
    zero_point: np.ndarray


def quantize_rows_asymmetric(rows: F32Array) -> QuantizedRows:
    """``NeonAsymmetricQuantizeFloats`` applied to every row of ``rows`` ([B, n]).

    Arithmetic, per row (``fl32``: float32, ``f64``: double)::

        rmin = min(0, min(x)) ; rmax = max(0, max(x))                  # float32
        rmin == rmax  ->  q = 0, scale = 1, zp = 0
        scale_d = f64(fl32(rmax - rmin)) / 255                          # float32 subtraction!
        zp_from_min = -128 - rmin / scale_d ; zp_from_max = 127 - rmax / scale_d
        zp_d = zp_from_min if 128 + |rmin/scale_d| < 127 + |rmax/scale_d| else zp_from_max
        zp   = -128 if zp_d <= -128, 127 if zp_d >= 127, else round_half_away(zp_d)
        scale = fl32(scale_d) ; inv = fl32(1 / f64(scale))
        body: q = clamp(neon_round(fl32(x * inv)) + zp, -128, 127)
        tail: q = clamp(zp + round_half_away(fl32(inv * x)), -128, 127)
    """
    rows = np.asarray(rows, np.float32)
    b = rows.shape[0]
    if rows.shape[1] == 0:
        return QuantizedRows(np.zeros(rows.shape, np.int8), np.ones(b, np.float32),
                             np.zeros(b, np.int64))
    rmin = np.minimum(np.float32(0), rows.min(axis=1))
    rmax = np.maximum(np.float32(0), rows.max(axis=1))
    flat = rmin == rmax
    span = (rmax - rmin).astype(np.float32)  # float32 subtraction, then widened
    scale_d = span.astype(np.float64) / 255.0
    scale_d = np.where(flat, 1.0, scale_d)  # placeholder for all-zero rows
    lo, hi = rmin.astype(np.float64) / scale_d, rmax.astype(np.float64) / scale_d
    zp_d = np.where(128.0 + np.abs(lo) < 127.0 + np.abs(hi), -128.0 - lo, 127.0 - hi)
    zp = np.where(zp_d <= -128.0, -128,
                  np.where(zp_d >= 127.0, 127, ar.round_half_away(zp_d))).astype(np.int64)
    scale = scale_d.astype(np.float32)
    inv = (1.0 / scale.astype(np.float64)).astype(np.float32)
    v = rows * inv[:, None]  # float32 product
    q = np.clip(_round_body_and_tail(v) + zp[:, None], -128, 127)
    q[flat] = 0
    zp[flat] = 0
    scale[flat] = 1.0
    return QuantizedRows(q.astype(np.int8), scale, zp)


def quantize_rows_symmetric(rows: F32Array) -> QuantizedRows:
    """``NeonSymmetricQuantizeFloats`` applied to every row of ``rows`` ([B, n]).

    Arithmetic, per row::

        range = max(|min(x)|, |max(x)|)                  # float32, no clamp to 0 needed
        range == 0  ->  q = 0, scale = 1
        scale = fl32(range / 127) ; inv = fl32(127 / range)
        body: q = clamp(neon_round(fl32(x * inv)), -127, 127)
        tail: q = clamp(round_half_away(fl32(inv * x)), -127, 127)
    """
    rows = np.asarray(rows, np.float32)
    b = rows.shape[0]
    if rows.shape[1] == 0:
        return QuantizedRows(np.zeros(rows.shape, np.int8), np.ones(b, np.float32),
                             np.zeros(b, np.int64))
    rng = np.maximum(np.abs(rows.min(axis=1)), np.abs(rows.max(axis=1))).astype(np.float32)
    flat = rng == 0
    safe = np.where(flat, np.float32(1), rng)
    scale = (safe / np.float32(127)).astype(np.float32)
    inv = (np.float32(127) / safe).astype(np.float32)
    q = np.clip(_round_body_and_tail(rows * inv[:, None]), -127, 127)
    q[flat] = 0
    scale[flat] = 1.0
    return QuantizedRows(q.astype(np.int8), scale, np.zeros(b, np.int64))


def is_zero_vector(x: F32Array) -> bool:
    """``NeonIsZeroVector`` on the flattened ``x``.

    Body (4-element vectors): zero when not ``|v| > 0`` (so ``-0.0`` and NaN count as
    zero); tail: zero when ``v == 0.0`` (NaN does not).
    """
    flat = np.asarray(x, np.float32).reshape(-1)
    body = ZERO_CHECK_STEP * (flat.size // ZERO_CHECK_STEP)
    if np.any(np.abs(flat[:body]) > 0):
        return False
    return not np.any(flat[body:] != 0)


# --------------------------------------------------------------------------------------
# Float activations of the hybrid FULLY_CONNECTED (tensor_utils::ApplyActivationToVector)
# --------------------------------------------------------------------------------------
_VECTOR_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


def check_vector_activation(ctx: OpContext, activation: int) -> None:
    """Only the clamp activations are reproduced (TANH / SIGMOID / SIGN_BIT are not)."""
    if activation not in _VECTOR_ACTIVATIONS:
        raise ctx.unsupported(f"fused activation {activation} on a hybrid op",
                              supported="NONE, RELU, RELU_N1_TO_1, RELU6")


def apply_vector_activation(y: F32Array, activation: int) -> F32Array:
    """``ApplyReluToVector`` & co.: ``std::max(lo, std::min(v, hi))`` element by element.

    ``std::max(a, b)`` is ``a < b ? b : a`` and ``std::min(v, hi)`` is
    ``hi < v ? hi : v``: RELU maps ``-0.0`` and NaN to ``+0.0``.
    """
    if activation == 0:
        return y
    lo, hi = {1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}[activation]
    if hi is not None:
        y = np.where(np.float32(hi) < y, np.float32(hi), y)
    return np.where(np.float32(lo) < y, y, np.float32(lo)).astype(np.float32)
