"""MAXIMUM and MINIMUM: element-wise with broadcasting (rank <= 6).

Quantized tensors are compared as stored integers (input and output share scale and
zero point in converter output; the kernels do not rescale). Float: the reference
kernel's comparisons ``a < b ? b : a`` (MAXIMUM) and ``b < a ? b : a`` (MINIMUM).

Mirrors: tflite/kernels/maximum_minimum.cc (reference_ops::MaximumMinimumBroadcastSlow),
micro/kernels/maximum_minimum.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from .elementwise import broadcast_shape


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    is_max: bool


def _prepare(ctx: OpContext, is_max: bool) -> OpData:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if not (np.dtype(a.dtype) == np.dtype(b.dtype) == np.dtype(out.dtype)):
        raise ctx.error(f"inputs {a.describe()}, {b.describe()} and output {out.describe()} "
                        "must share one type")
    shape = broadcast_shape(ctx, a.shape, b.shape)
    ctx.set_output_shape(0, shape)
    return OpData(shape, is_max)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    # C++: max(a, b) = (a < b) ? b : a ; min(a, b) = (b < a) ? b : a  (NaN: keeps a)
    with np.errstate(invalid="ignore"):
        pick_b = (a < b) if data.is_max else (b < a)
    return [np.broadcast_to(np.where(pick_b, b, a), data.shape).astype(a.dtype, copy=True)]


MAXIMUM = Kernel(lambda ctx: _prepare(ctx, True), invoke)
MINIMUM = Kernel(lambda ctx: _prepare(ctx, False), invoke)
