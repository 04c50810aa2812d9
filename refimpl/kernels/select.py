"""SELECT and SELECT_V2: ``out = condition ? x : y`` element-wise.

SELECT: the condition has the shape of ``x`` (= ``y``), or is 1-D selecting whole rows
along the first dimension. SELECT_V2: all three broadcast (rank <= 5). Values are copied
as stored (quantized ``x`` and ``y`` share the output's parameters).

Mirrors: tflite/kernels/select.cc, internal/reference/select.h, micro/kernels/select.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    row_select: bool = False


def _check(ctx: OpContext):
    c, x, y, out = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    if np.dtype(c.dtype) != np.dtype(np.bool_):
        raise ctx.error(f"condition {c.describe()} must be bool")
    if not (np.dtype(x.dtype) == np.dtype(y.dtype) == np.dtype(out.dtype)):
        raise ctx.error(f"x {x.describe()}, y {y.describe()}, output {out.describe()} differ")
    return c, x, y


def select_prepare(ctx: OpContext) -> OpData:
    c, x, y = _check(ctx)
    if tuple(x.shape) != tuple(y.shape):
        raise ctx.error(f"x {list(x.shape)} and y {list(y.shape)} must have one shape")
    row = len(c.shape) == 1 and len(x.shape) > 1 and c.shape[0] == x.shape[0]
    if not row and tuple(c.shape) != tuple(x.shape):
        raise ctx.error(f"condition shape {list(c.shape)} must equal {list(x.shape)} or be "
                        f"[{x.shape[0] if x.shape else 1}]")
    ctx.set_output_shape(0, x.shape)
    return OpData(tuple(x.shape), row)


def select_v2_prepare(ctx: OpContext) -> OpData:
    c, x, y = _check(ctx)
    try:
        shape = np.broadcast_shapes(tuple(c.shape), tuple(x.shape), tuple(y.shape))
    except ValueError:
        raise ctx.error(f"shapes {list(c.shape)}, {list(x.shape)}, {list(y.shape)} do not "
                        "broadcast") from None
    ctx.set_output_shape(0, shape)
    return OpData(tuple(shape))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    c, x, y = (np.asarray(v) for v in inputs[:3])
    if data.row_select:
        c = c.reshape((-1,) + (1,) * (x.ndim - 1))
    return [np.broadcast_to(np.where(c, x, y), data.shape).astype(x.dtype, copy=True)]


SELECT = Kernel(select_prepare, invoke)
SELECT_V2 = Kernel(select_v2_prepare, invoke)
