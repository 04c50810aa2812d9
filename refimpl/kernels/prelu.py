"""PRELU: ``x >= 0 ? x : alpha * x`` with ``alpha`` broadcast against ``x``; float32, int8.

int8::

    m1, sh1 = QM(s_in / s_out);  m2, sh2 = QM(s_in * s_alpha / s_out)        (double)
    d = q - zp_in
    out = clamp(zp_out + (d >= 0 ? MBQM(d, m1, sh1) : MBQM(d * (alpha - zp_alpha), m2, sh2)))

Mirrors: tflite/kernels/activations.cc (PreluPrepare / PreluEval),
internal/reference/prelu.h, micro/kernels/prelu.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import multiply_by_quantized_multiplier, qrange, quantize_multiplier
from ..context import Kernel, OpContext
from .elementwise import broadcast_shape, require_per_tensor


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    kind: str
    p: tuple[int, ...] = ()


def prepare(ctx: OpContext) -> OpData:
    x, alpha, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dt = np.dtype(x.dtype)
    if not (dt == np.dtype(alpha.dtype) == np.dtype(out.dtype)):
        raise ctx.error("input, alpha and output must share one type")
    shape = broadcast_shape(ctx, x.shape, alpha.shape)
    ctx.set_output_shape(0, shape)
    if dt == np.dtype(np.float32):
        return OpData(shape, "float")
    if dt != np.dtype(np.int8):
        raise ctx.unsupported(supported="float32, int8")
    s_in, zp_in = require_per_tensor(ctx, x, "input")
    s_a, zp_a = require_per_tensor(ctx, alpha, "alpha")
    s_o, zp_o = require_per_tensor(ctx, out, "output")
    m1, sh1 = quantize_multiplier(float(np.float64(s_in) / np.float64(s_o)))
    m2, sh2 = quantize_multiplier(float(np.float64(s_in) * np.float64(s_a) / np.float64(s_o)))
    return OpData(shape, "int8", (zp_in, zp_a, zp_o, m1, sh1, m2, sh2))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x, alpha = np.asarray(inputs[0]), np.asarray(inputs[1])
    if data.kind == "float":
        with np.errstate(over="ignore", invalid="ignore"):
            r = np.where(x >= 0, x, (x * alpha).astype(np.float32)).astype(np.float32)
        return [np.broadcast_to(r, data.shape).copy()]
    zp_in, zp_a, zp_o, m1, sh1, m2, sh2 = data.p
    d = x.astype(np.int64) - zp_in
    pos = multiply_by_quantized_multiplier(d, m1, sh1)
    neg = multiply_by_quantized_multiplier(d * (alpha.astype(np.int64) - zp_a), m2, sh2)
    lo, hi = qrange(np.int8)
    r = np.clip(zp_o + np.where(d >= 0, pos, neg), lo, hi)
    return [np.broadcast_to(r, data.shape).astype(np.int8)]


PRELU = Kernel(prepare, invoke)
