"""Which nodes the XNNPACK delegate takes (flavour ``xnnpack``), decided as it decides.

LiteRT's ``AUTO`` resolver hands every node the XNNPACK delegate accepts to XNNPACK and
runs the rest on the optimized kernels, so refimpl's ``xnnpack`` flavour asks, node by
node in Prepare, the same questions the delegate's ``Visit*Node`` functions ask: tensor
types, static weights, fused activation, and the range of the requantization scale that
its micro-kernels can represent. Not a kernel module: no ``Kernel`` objects here.

Mirrors: tflite/delegates/xnnpack/xnnpack_delegate.cc (VisitConv2DNode,
VisitDepthwiseConv2DNode, VisitFullyConnectedNode, CheckTensorQInt8OrQCInt8Type...) and
XNNPACK's ``xnn_create_*_qs8`` / ``qc8`` scale checks, as observed on ai-edge-litert 2.3.0.
"""

from __future__ import annotations

import numpy as np

from ..context import OpContext, TensorInfo

#: fused activations XNNPACK implements as an output clamp (NONE, RELU, RELU_N1_TO_1, RELU6)
CLAMP_ACTIVATIONS = frozenset({0, 1, 2, 3})


def xnn_gemm_scale(s_in: float, s_w: np.ndarray, s_out: float) -> np.ndarray:
    """XNNPACK's per-channel requantization scale ``fl32(fl32(s_in * s_w[c]) / s_out)``."""
    s_in32, s_out32 = np.float32(s_in), np.float32(s_out)
    return ((s_in32 * np.asarray(s_w, np.float32)).astype(np.float32) / s_out32).astype(np.float32)


def delegates_qs8_gemm(ctx: OpContext, x: TensorInfo, w: TensorInfo, bias: TensorInfo | None,
                       out: TensorInfo, activation: int) -> bool:
    """True when XNNPACK takes an int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED node.

    Conditions: flavour ``xnnpack``; int8 input and output with one scale each; int8
    constant weights with zero point 0 (per tensor or per channel); an int32 constant
    bias or none; a fused activation that is a clamp; and every requantization scale in
    ``[2**-32, 256)`` (XNNPACK's fp32 requantization refuses larger scales).
    """
    if not ctx.flavor.xnnpack:
        return False
    if np.dtype(x.dtype) != np.int8 or np.dtype(out.dtype) != np.int8:
        return False
    if np.dtype(w.dtype) != np.int8 or w.data is None or np.any(w.zero_point != 0):
        return False
    if bias is not None and (np.dtype(bias.dtype) != np.int32 or bias.data is None):
        return False
    if activation not in CLAMP_ACTIVATIONS:
        return False
    if x.scale.size != 1 or out.scale.size != 1:
        return False
    scale = xnn_gemm_scale(float(x.scale[0]), w.scale, float(out.scale[0]))
    return bool(np.all(scale < 256.0) and np.all(scale >= 2.0**-32))
