"""GATHER: ``out = take(params, indices, axis)`` with ``batch_dims`` leading dimensions
shared by params and indices.

Output shape: ``params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:]``.
An index outside ``[0, params.shape[axis])`` is an error (LiteRT fails the invoke with
"gather index out of bounds"; refimpl raises an ``OpError`` naming the node).

Mirrors: tflite/kernels/gather.cc, internal/reference/gather.h, micro/kernels/gather.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import INDEX_TYPES, norm_axis, same_type


@dataclass(frozen=True)
class OpData:
    axis: int
    batch_dims: int
    output_shape: tuple[int, ...]


def prepare(ctx: OpContext) -> OpData:
    params, indices, out = ctx.input(0), ctx.input(1), ctx.output(0)
    same_type(ctx, params, out)
    if np.dtype(indices.dtype) not in INDEX_TYPES:
        raise ctx.error(f"indices {indices.describe()} must be int32 or int64")
    opts = ctx.options
    rank = len(params.shape)
    axis = norm_axis(ctx, int(getattr(opts, "axis", 0) or 0) if opts else 0, rank)
    bd = int(getattr(opts, "batch_dims", 0) or 0) if opts else 0
    if bd < 0:
        bd += len(indices.shape)
    if not 0 <= bd <= min(axis, len(indices.shape)):
        raise ctx.error(f"batch_dims {bd} must be in [0, min(axis, indices rank)]")
    if tuple(params.shape[:bd]) != tuple(indices.shape[:bd]):
        raise ctx.error(f"batch dimensions differ: params {list(params.shape[:bd])}, "
                        f"indices {list(indices.shape[:bd])}")
    shape = tuple(params.shape[:axis]) + tuple(indices.shape[bd:]) + tuple(params.shape[axis + 1:])
    ctx.set_output_shape(0, shape)
    return OpData(axis, bd, shape)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    params, idx = np.asarray(inputs[0]), np.asarray(inputs[1]).astype(np.int64)
    n = params.shape[data.axis]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx[(idx < 0) | (idx >= n)][0])
        raise ctx.error(f"gather index {bad} is out of range [0, {n}) along axis {data.axis}")
    bd, axis = data.batch_dims, data.axis
    b = int(np.prod(params.shape[:bd], dtype=np.int64))
    outer = int(np.prod(params.shape[bd:axis], dtype=np.int64))
    inner = int(np.prod(params.shape[axis + 1:], dtype=np.int64))
    p = params.reshape(b, outer, n, inner)
    i = idx.reshape(b, -1)
    # out[bi, o, j, :] = p[bi, o, i[bi, j], :]
    got = p[np.arange(b)[:, None, None], np.arange(outer)[None, :, None], i[:, None, :]]
    return [np.ascontiguousarray(got).reshape(data.output_shape)]


GATHER = Kernel(prepare, invoke)
