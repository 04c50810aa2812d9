"""SQUARED_DIFFERENCE: ``(a - b)**2`` with broadcasting; float32, int32 and int8.

int8 (both inputs brought to a common scale like ADD, then squared)::

    left_shift = 7;  twice_max = 2 * max(s1, s2)
    m1, sh1 = QM(s1 / twice_max);  m2, sh2 = QM(s2 / twice_max)
    m_o, sh_o = QM(twice_max**2 / ((1 << 2*left_shift) * s_out))
    a' = MBQM((q1 - zp1) << left_shift, m1, sh1);  b' = MBQM((q2 - zp2) << left_shift, m2, sh2)
    d = a' - b';  out = clamp(MBQM(d * d, m_o, sh_o) + zp_out)

Mirrors: tflite/kernels/squared_difference.cc (EvalQuantizedSquaredDifference),
micro/kernels/squared_difference.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import multiply_by_quantized_multiplier, qrange, quantize_multiplier
from ..context import Kernel, OpContext
from .elementwise import broadcast_shape, require_per_tensor

LEFT_SHIFT = 7


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    kind: str
    p: tuple[int, ...] = ()


def prepare(ctx: OpContext) -> OpData:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dt = np.dtype(a.dtype)
    if not (dt == np.dtype(b.dtype) == np.dtype(out.dtype)):
        raise ctx.error("inputs and output must share one type")
    shape = broadcast_shape(ctx, a.shape, b.shape)
    ctx.set_output_shape(0, shape)
    if dt in (np.dtype(np.float32), np.dtype(np.int32)):
        return OpData(shape, "plain")
    if dt != np.dtype(np.int8):
        raise ctx.unsupported(supported="float32, int32, int8")
    s1, zp1 = require_per_tensor(ctx, a, "input 1")
    s2, zp2 = require_per_tensor(ctx, b, "input 2")
    so, zpo = require_per_tensor(ctx, out, "output")
    twice_max = 2.0 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max)
    m2, sh2 = quantize_multiplier(s2 / twice_max)
    real_out = twice_max * twice_max / ((1 << (2 * LEFT_SHIFT)) * so)
    if real_out >= 1 and not ctx.flavor.tflm:
        raise ctx.error(f"output multiplier (2*max(s1, s2))**2 / (2**14 * s_out) = {real_out:.6g} "
                        ">= 1: LiteRT's Prepare requires it below 1 and aborts the process "
                        "(TFLM accepts it)")
    mo, sho = quantize_multiplier(real_out)
    return OpData(shape, "int8", (zp1, m1, sh1, zp2, m2, sh2, zpo, mo, sho))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    if data.kind == "plain":
        with np.errstate(over="ignore", invalid="ignore"):
            d = a - b
            r = (d * d).astype(a.dtype)
        return [np.broadcast_to(r, data.shape).copy()]
    zp1, m1, sh1, zp2, m2, sh2, zpo, mo, sho = data.p
    x = multiply_by_quantized_multiplier((a.astype(np.int64) - zp1) << LEFT_SHIFT, m1, sh1)
    y = multiply_by_quantized_multiplier((b.astype(np.int64) - zp2) << LEFT_SHIFT, m2, sh2)
    d = x - y
    r = multiply_by_quantized_multiplier(d * d, mo, sho) + zpo
    lo, hi = qrange(np.int8)
    return [np.broadcast_to(np.clip(r, lo, hi), data.shape).astype(np.int8)]


SQUARED_DIFFERENCE = Kernel(prepare, invoke)
