"""EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL -> bool, with broadcasting.

float32 / int32 / int64 / bool (EQUAL, NOT_EQUAL): compared directly. int8 / uint8:
both sides are brought to a common fixed-point scale first, so inputs with different
scales compare as real numbers::

    a' = MBQM_SmallerThanOneExp((q1 - zp1) << 8, m1, sh1)     m1, sh1 = QM(s1)   (s1 < 1)
    b' = MBQM_SmallerThanOneExp((q2 - zp2) << 8, m2, sh2)
    out = a' <op> b'

Mirrors: tflite/kernels/comparisons.cc (ComparisonQuantized),
internal/reference/comparisons.h, micro/kernels/comparisons.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import multiply_by_quantized_multiplier, quantize_multiplier
from ..context import Kernel, OpContext
from .elementwise import broadcast_shape, require_per_tensor

LEFT_SHIFT = 8
_FUNCS = {"EQUAL": np.equal, "NOT_EQUAL": np.not_equal, "LESS": np.less,
          "LESS_EQUAL": np.less_equal, "GREATER": np.greater, "GREATER_EQUAL": np.greater_equal}
_Q8 = (np.dtype(np.int8), np.dtype(np.uint8))


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    op: str
    quantized: bool = False
    params: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)  # zp1, m1, s1, zp2, m2, s2


def _make(op: str):
    def prepare(ctx: OpContext) -> OpData:
        a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
        if np.dtype(a.dtype) != np.dtype(b.dtype):
            raise ctx.error(f"inputs {a.describe()} and {b.describe()} differ in type")
        if np.dtype(out.dtype) != np.dtype(np.bool_):
            raise ctx.error(f"output {out.describe()} must be bool")
        dt = np.dtype(a.dtype)
        if dt == np.dtype(np.bool_) and op not in ("EQUAL", "NOT_EQUAL"):
            raise ctx.unsupported(supported="bool inputs for EQUAL and NOT_EQUAL only")
        shape = broadcast_shape(ctx, a.shape, b.shape)
        ctx.set_output_shape(0, shape)
        if dt in _Q8 and a.is_quantized:
            s1, zp1 = require_per_tensor(ctx, a, "input 1")
            s2, zp2 = require_per_tensor(ctx, b, "input 2")
            if not (s1 < 1 and s2 < 1):
                raise ctx.unsupported(f"input scales {s1}, {s2}",
                                      supported="scales below 1 (QuantizeMultiplierSmallerThanOneExp)")
            m1, sh1 = quantize_multiplier(s1)
            m2, sh2 = quantize_multiplier(s2)
            return OpData(shape, op, True, (zp1, m1, sh1, zp2, m2, sh2))
        return OpData(shape, op)
    return prepare


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    if data.quantized:
        zp1, m1, sh1, zp2, m2, sh2 = data.params
        a = multiply_by_quantized_multiplier((a.astype(np.int64) - zp1) << LEFT_SHIFT, m1, sh1)
        b = multiply_by_quantized_multiplier((b.astype(np.int64) - zp2) << LEFT_SHIFT, m2, sh2)
    with np.errstate(invalid="ignore"):
        r = _FUNCS[data.op](a, b)
    return [np.broadcast_to(r, data.shape).copy()]


EQUAL = Kernel(_make("EQUAL"), invoke)
NOT_EQUAL = Kernel(_make("NOT_EQUAL"), invoke)
LESS = Kernel(_make("LESS"), invoke)
LESS_EQUAL = Kernel(_make("LESS_EQUAL"), invoke)
GREATER = Kernel(_make("GREATER"), invoke)
GREATER_EQUAL = Kernel(_make("GREATER_EQUAL"), invoke)
