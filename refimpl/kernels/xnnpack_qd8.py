"""XNNPACK's dynamically quantized ("qd8") FULLY_CONNECTED and CONV_2D (flavour ``xnnpack``).

A dynamic-range model (float32 activations, int8 constant weights, float32 bias) does
not run LiteRT's hybrid kernels when the XNNPACK delegate takes the node: the delegate
inserts a *convert* node that quantizes the float input on the fly (XNNPACK's ``qd8``
datatype: int8 values plus one scale and zero point per row), then runs an integer GEMM
against the int8 weights (``qd8-f32-qc8w``) and rescales the int32 accumulators to
float32. Every step differs from LiteRT's hybrid path (:mod:`.hybrid`), so outputs part
at the level of one input quantization step.

Quantization parameters of a row (``xnn_qd8_asymmetric_quantization_params``)
-------------------------------------------------------------------------------
All in float32, from the row's ``min`` and ``max`` widened to include 0::

    rmin = min(0, min) ; rmax = max(0, max)
    s    = 255 / (rmax - rmin)             (1 when rmin == rmax: an all-zero row)
    zp   = -128 - rmin * s  if (-128 + rmin * s) + (127 + rmax * s) > 0
           127  - rmax * s  otherwise      (anchor the end whose rounding error is smaller)
    zp   = rint(clamp(zp, -128, 127))      (``lrintf``: half to even)
    d    = 1 / s                           (the dequantization scale of the row)

Quantizing (the ``f32-qs8-vcvt`` micro-kernel)::

    q = clamp(rint(min(fl32(x * s), 32767)) + zp, -128, 127)      (rint: half to even)

Which rows
----------
* FULLY_CONNECTED: every row of ``[..., depth]`` (the last axis), as LiteRT does.
* CONV_2D: a whole image ``[H, W, C]`` per batch element — except a 1x1 convolution with
  stride 1, no padding, one group and ``C_in + C_out > 2``, which XNNPACK rewrites into a
  fully connected node and then quantizes *per pixel* (each ``[C]`` row).

Accumulation and rescale (``qd8-f32-qc8w-gemm`` / ``igemm``)
------------------------------------------------------------
The integer part is exact: ``acc[r, c] = sum_k (q[r, k] - zp[r]) * w[c, k]`` (int32;
padding taps contribute 0). Then, in float32, with one fused multiply-add::

    y = fmaf(fl32(float(acc) * d[r]), s_w[c], bias[c])
    y = min(max(y, out_min), out_max)        (MAXPS / MINPS: the bound wins ties and NaN)

The fused multiply-add matters: two separate roundings differ in the last bit on about
one output in twenty (measured on random layers; see :func:`refimpl.arithmetic.fma_f32`).

Checked against ai-edge-litert 2.3.0 (AUTO resolver, avx512-vnni machine) on FULLY_CONNECTED
and CONV_2D (per-tensor and per-channel scales, padding, strides, dilations, groups,
1x1 stride-1 rewrites, fused clamps, all-zero rows): equal bits on every output.

Mirrors: XNNPACK src/xnnpack/quantization.h (``xnn_qd8_asymmetric_quantization_params``),
src/operator-run.c (``xnn_compute_f32_qx8_convert``), src/f32-qs8-vcvt (avx512skx),
src/qd8-f32-qc8w-gemm (avx512vnni), src/subgraph/convolution-2d.c (1x1 rewrite);
tflite/delegates/xnnpack/xnnpack_delegate.cc (``VisitFullyConnectedNode``,
``VisitConv2DNode``: which nodes are taken).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import arithmetic as ar
from ..context import OpContext, TensorInfo

F32Array = NDArray[np.float32]
I64Array = NDArray[np.int64]

#: TFLite fused activation -> XNNPACK output clamp (NONE, RELU, RELU_N1_TO_1, RELU6)
OUTPUT_RANGE = {0: (-np.inf, np.inf), 1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}


@dataclass(frozen=True)
class Qd8Rows:
    """Rows quantized by XNNPACK's convert node.

    Attributes
    ----------
    centered : ndarray of int64, same shape as the rows
        ``q - zp`` (what the integer GEMM effectively multiplies).
    zero_point : ndarray of int64, one per row
    dequant_scale : ndarray of float32, one per row
        ``d = fl32(1 / s)``.
    """

    centered: I64Array
    zero_point: I64Array
    dequant_scale: F32Array


def qd8_params(row_min: np.ndarray, row_max: np.ndarray) -> tuple[F32Array, I64Array, F32Array]:
    """``(s, zp, d)`` per row from its min and max (module docstring), float32 throughout."""
    f32 = np.float32
    rmin = np.minimum(f32(0), np.asarray(row_min, f32)).astype(f32)
    rmax = np.maximum(f32(0), np.asarray(row_max, f32)).astype(f32)
    flat = rmin == rmax
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(flat, f32(1), f32(255) / np.where(flat, f32(1), rmax - rmin)).astype(f32)
    lo, hi = (rmin * s).astype(f32), (rmax * s).astype(f32)
    error_sum = ((f32(-128) + lo).astype(f32) + (f32(127) + hi).astype(f32)).astype(f32)
    zp = np.where(error_sum > 0, (f32(-128) - lo).astype(f32), (f32(127) - hi).astype(f32))
    zp = np.rint(np.clip(zp, f32(-128), f32(127))).astype(np.int64)
    d = (f32(1) / s).astype(f32)
    return s, zp, d


def quantize_rows(rows: np.ndarray) -> Qd8Rows:
    """Quantize each row of a 2-D float32 array as XNNPACK's convert node does."""
    rows = np.asarray(rows, np.float32)
    if rows.shape[1] == 0:
        row_min = row_max = np.zeros(rows.shape[0], np.float32)
    else:
        row_min, row_max = rows.min(axis=1), rows.max(axis=1)
    s, zp, d = qd8_params(row_min, row_max)
    scaled = np.minimum((rows * s[:, None]).astype(np.float32), np.float32(32767))
    q = np.clip(np.rint(scaled).astype(np.int64) + zp[:, None], -128, 127)
    return Qd8Rows(q - zp[:, None], zp, d)


def rescale(acc: np.ndarray, dequant_scale: np.ndarray, filter_scale: np.ndarray,
            bias: np.ndarray | None, activation: int) -> F32Array:
    """``clamp(fmaf(fl32(float(acc) * d), s_w, bias))``; arguments broadcast together.

    ``acc`` holds the exact integer accumulators (any numeric dtype); ``d`` broadcasts
    over rows, ``filter_scale`` and ``bias`` over the last (output-channel) axis.
    """
    acc_f = np.asarray(acc).astype(np.float32)  # cvtdq2ps: round to nearest even
    scaled = (acc_f * np.asarray(dequant_scale, np.float32)).astype(np.float32)
    b = np.float32(0) if bias is None else np.asarray(bias, np.float32)
    y = ar.fma_f32(scaled, np.asarray(filter_scale, np.float32), b)
    return clamp(y, activation)


def clamp(y: F32Array, activation: int) -> F32Array:
    """XNNPACK's output clamp ``min(max(y, lo), hi)`` as MAXPS / MINPS evaluate it.

    ``MAXPS(y, lo)`` returns ``lo`` unless ``y > lo`` (so a NaN becomes ``lo``, and
    ``-0.0`` becomes ``+0.0`` under RELU); ``MINPS(y, hi)`` returns ``hi`` unless ``y < hi``.
    The clamp runs even without a fused activation, with bounds of +-infinity.
    """
    lo, hi = (np.float32(v) for v in OUTPUT_RANGE[activation])
    y = np.where(y > lo, y, lo)
    return np.where(y < hi, y, hi).astype(np.float32)


def conv_runs_as_fully_connected(filter_h: int, filter_w: int, stride_h: int, stride_w: int,
                                 padded: bool, groups: int, c_in: int, c_out: int) -> bool:
    """XNNPACK's subgraph rewrite of a 1x1 convolution into a fully connected node.

    Then the input is quantized per pixel instead of per image (module docstring).
    """
    return (filter_h == 1 and filter_w == 1 and stride_h == 1 and stride_w == 1
            and not padded and groups == 1 and c_in + c_out > 2)


def delegates_qd8(ctx: OpContext, x: TensorInfo, w: TensorInfo, bias: TensorInfo | None,
                  out: TensorInfo, activation: int, *, bias_required: bool) -> bool:
    """True when the XNNPACK delegate takes a dynamic-range FULLY_CONNECTED / CONV_2D.

    Conditions (``VisitFullyConnectedNode`` / ``VisitConv2DNode``): flavour ``xnnpack``;
    float32 input and output; constant int8 weights with a scale; float32 constant bias
    (CONV_2D: required; FULLY_CONNECTED: optional); a fused activation that is a clamp.
    Weights with a non-zero zero point are *accepted* by the delegate's checks but then
    fail when it builds the node; :func:`refuse_nonzero_weight_zero_point` says so.
    """
    if not ctx.flavor.xnnpack:
        return False
    if np.dtype(x.dtype) != np.float32 or np.dtype(out.dtype) != np.float32:
        return False
    if np.dtype(w.dtype) != np.int8 or w.data is None or not w.is_quantized:
        return False
    if bias is None:
        if bias_required:
            return False
    elif np.dtype(bias.dtype) != np.float32 or bias.data is None:
        return False
    return activation in OUTPUT_RANGE


def refuse_nonzero_weight_zero_point(ctx: OpContext, w: TensorInfo) -> None:
    """The delegate takes the node, then fails to build it: LiteRT refuses the model."""
    if np.any(np.asarray(w.zero_point) != 0):
        raise ctx.unsupported(
            f"int8 weights {w.describe()} with a non-zero zero point on a dynamic-range "
            "node: the XNNPACK delegate accepts the node, then fails to create its "
            "channelwise filter ('failed to update filter tensor'), so LiteRT fails to "
            "prepare the model", supported="symmetric int8 weights (zero point 0)")
