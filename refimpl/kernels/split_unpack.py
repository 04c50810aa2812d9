"""SPLIT, SPLIT_V and UNPACK: one input cut into several outputs along an axis.

* SPLIT (inputs: axis, x): ``num_splits`` equal parts; the dimension must divide.
* SPLIT_V (inputs: x, size_splits, axis): given sizes, at most one of them -1 (the rest).
* UNPACK (input x): ``num`` slices along ``axis``, that axis removed.

Mirrors: tflite/kernels/split.cc, split_v.cc, unpack.cc and the TFLM versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, norm_axis, same_type


@dataclass(frozen=True)
class OpData:
    axis: int
    bounds: tuple[int, ...]   # cut points along the axis (len = outputs + 1)
    squeeze: bool = False     # UNPACK: drop the axis
    data_input: int = 0       # SPLIT takes (axis, x): the data is input 1


def _finish(ctx: OpContext, x, axis: int, sizes: list[int], squeeze: bool = False,
            data_input: int = 0) -> OpData:
    if len(sizes) != len(ctx.outputs):
        raise ctx.error(f"{len(sizes)} parts but {len(ctx.outputs)} outputs")
    bounds = [0]
    for k, s in enumerate(sizes):
        out = ctx.output(k)
        same_type(ctx, x, out)
        shape = list(x.shape)
        if squeeze:
            del shape[axis]
        else:
            shape[axis] = s
        ctx.set_output_shape(k, shape)
        bounds.append(bounds[-1] + s)
    return OpData(axis, tuple(bounds), squeeze, data_input)


def split_prepare(ctx: OpContext) -> OpData:
    x = ctx.input(1)
    axis_vals = const_ints(ctx, 0, "axis")
    axis = norm_axis(ctx, axis_vals[0], len(x.shape))
    n = int(getattr(ctx.options, "num_splits", len(ctx.outputs)) or 0) if ctx.options else len(ctx.outputs)
    if n <= 0 or x.shape[axis] % n:
        raise ctx.error(f"dimension {axis} of size {x.shape[axis]} does not split into {n}")
    return _finish(ctx, x, axis, [x.shape[axis] // n] * n, data_input=1)


def split_v_prepare(ctx: OpContext) -> OpData:
    x = ctx.input(0)
    sizes = const_ints(ctx, 1, "size_splits")
    axis = norm_axis(ctx, const_ints(ctx, 2, "axis")[0], len(x.shape))
    dim = x.shape[axis]
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1 or any(s < -1 for s in sizes):
        raise ctx.error(f"size_splits {sizes}: at most one -1 and no other negative size")
    if unknown:
        sizes[unknown[0]] = dim - (sum(sizes) + 1)
    if sum(sizes) != dim or min(sizes, default=0) < 0:
        raise ctx.error(f"size_splits {sizes} do not add up to dimension {axis} ({dim})")
    return _finish(ctx, x, axis, sizes)


def unpack_prepare(ctx: OpContext) -> OpData:
    x = ctx.input(0)
    rank = len(x.shape)
    axis = norm_axis(ctx, int(getattr(ctx.options, "axis", 0) or 0) if ctx.options else 0, rank)
    n = int(getattr(ctx.options, "num", x.shape[axis]) or 0) if ctx.options else x.shape[axis]
    if n != x.shape[axis]:
        raise ctx.error(f"num {n} does not match dimension {axis} ({x.shape[axis]})")
    return _finish(ctx, x, axis, [1] * n, squeeze=True)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x = inputs[data.data_input]
    parts = []
    for a, b in zip(data.bounds[:-1], data.bounds[1:]):
        box = [slice(None)] * x.ndim
        box[data.axis] = slice(a, b)
        p = np.ascontiguousarray(x[tuple(box)])
        parts.append(p.squeeze(axis=data.axis) if data.squeeze else p)
    return parts


SPLIT = Kernel(split_prepare, invoke)
SPLIT_V = Kernel(split_v_prepare, invoke)
UNPACK = Kernel(unpack_prepare, invoke)
