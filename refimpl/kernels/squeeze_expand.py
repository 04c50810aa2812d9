"""SQUEEZE and EXPAND_DIMS: shape-only ops (the data is copied unchanged).

SQUEEZE removes the size-1 dimensions listed in ``squeeze_dims`` (all of them when the
list is empty; negative entries count from the end; listing a dimension that is not 1 is
an error). EXPAND_DIMS inserts a 1 at ``axis`` (a constant scalar, ``-rank-1 <= axis <=
rank``).

Mirrors: tflite/kernels/squeeze.cc, expand_dims.cc; micro/kernels/squeeze.cc,
expand_dims.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]


def squeeze_prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    rank = len(x.shape)
    dims = list(getattr(ctx.options, "squeeze_dims", None) or []) if ctx.options else []
    if not dims:
        drop = {i for i, d in enumerate(x.shape) if d == 1}
    else:
        drop = set()
        for d in dims:
            if not -rank <= d < rank:
                raise ctx.error(f"squeeze dimension {d} is out of range for rank {rank}")
            a = d + rank if d < 0 else d
            if x.shape[a] != 1:
                raise ctx.error(f"cannot squeeze dimension {d} of size {x.shape[a]}")
            drop.add(a)
    shape = tuple(d for i, d in enumerate(x.shape) if i not in drop)
    ctx.set_output_shape(0, shape)
    return OpData(shape)


def expand_dims_prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    if ctx.flavor.tflm and np.dtype(x.dtype) == np.dtype(np.int32):
        raise ctx.unsupported(supported="float32, int8, int16 data (TFLM's EXPAND_DIMS fails "
                              "on int32 data in Eval)")
    rank = len(x.shape)
    axis = const_ints(ctx, 1, "axis")
    if len(axis) != 1:
        raise ctx.error(f"axis must hold one value, got {axis}")
    a = axis[0]
    if not -rank - 1 <= a <= rank:
        raise ctx.error(f"axis {a} is out of range for rank {rank}")
    a = a + rank + 1 if a < 0 else a
    shape = tuple(x.shape[:a]) + (1,) + tuple(x.shape[a:])
    ctx.set_output_shape(0, shape)
    return OpData(shape)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.array(inputs[0]).reshape(data.shape)]


SQUEEZE = Kernel(squeeze_prepare, invoke)
EXPAND_DIMS = Kernel(expand_dims_prepare, invoke)
