"""DIV: ``a / b`` with broadcasting and a fused activation; float32 and int32.

float32: IEEE division (inf / NaN for a zero divisor, as in C), then TFLite's clamp to
the activation range, which with NONE is [-FLT_MAX, FLT_MAX] (inf becomes FLT_MAX);
XNNPACK (flavour ``xnnpack``) clamps to the activation's own bounds only. int32: C division
truncating toward zero; a zero divisor is an error (LiteRT refuses the invoke: "Division
by 0"), never a crash.

Mirrors: tflite/kernels/div.cc, micro/kernels/div.cc (float32 only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from .elementwise import apply_float_activation, apply_int_activation, broadcast_shape, fused_activation


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    activation: int
    dtype: np.dtype
    xnnpack: bool = False  # float DIV delegated to XNNPACK (flavour xnnpack)


def prepare(ctx: OpContext) -> OpData:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dt = np.dtype(a.dtype)
    if not (dt == np.dtype(b.dtype) == np.dtype(out.dtype)):
        raise ctx.error("inputs and output must share one type")
    if dt not in (np.dtype(np.float32), np.dtype(np.int32)):
        raise ctx.unsupported(supported="float32, int32")
    shape = broadcast_shape(ctx, a.shape, b.shape)
    ctx.set_output_shape(0, shape)
    act = fused_activation(ctx)
    return OpData(shape, act, dt, xnnpack=ctx.flavor.xnnpack and dt == np.dtype(np.float32))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    if data.dtype == np.dtype(np.float32):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            r = (a / b).astype(np.float32)
        if data.xnnpack:
            # XNNPACK clamps only to the activation's own bounds: +-inf survive NONE
            lo, hi = {0: (-np.inf, np.inf), 1: (0.0, np.inf), 2: (-1.0, 1.0),
                      3: (0.0, 6.0)}.get(data.activation, (-np.inf, np.inf))
            r = np.minimum(np.maximum(r, np.float32(lo)), np.float32(hi)).astype(np.float32)
            return [np.broadcast_to(r, data.shape).copy()]
        return [np.broadcast_to(apply_float_activation(r, data.activation), data.shape).copy()]
    if np.any(b == 0):
        raise ctx.error("int32 division by zero")
    a64, b64 = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    q = np.abs(a64) // np.abs(b64) * np.sign(a64) * np.sign(b64)  # C: truncate toward zero
    r = apply_int_activation(q.astype(np.int32), data.activation, np.dtype(np.int32))
    return [np.broadcast_to(r, data.shape).astype(np.int32)]


DIV = Kernel(prepare, invoke)
