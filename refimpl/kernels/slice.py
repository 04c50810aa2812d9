"""SLICE: a box of the input, ``out = x[b0:b0+s0, b1:b1+s1, ...]``.

``begin`` and ``size`` are constant int32/int64 vectors with one entry per dimension;
``size[i] = -1`` means "to the end". The box must lie inside the input (LiteRT and TFLM
check it in Prepare); the values are copied unchanged (quantized too).

Mirrors: tflite/kernels/slice.cc, internal/reference/slice.h, micro/kernels/slice.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type


@dataclass(frozen=True)
class OpData:
    box: tuple[slice, ...]


def prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    rank = len(x.shape)
    begin = const_ints(ctx, 1, "begin")
    size = const_ints(ctx, 2, "size")
    if len(begin) != rank or len(size) != rank:
        raise ctx.error(f"begin {begin} and size {size} need {rank} entries (input rank)")
    box, shape = [], []
    for d, (b, s, dim) in enumerate(zip(begin, size, x.shape)):
        length = dim - b if s == -1 else s
        if b < 0 or length < 0 or b + length > dim:
            raise ctx.error(f"dimension {d}: begin {b}, size {s} is outside 0..{dim}")
        box.append(slice(b, b + length))
        shape.append(length)
    ctx.set_output_shape(0, shape)
    return OpData(tuple(box))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.ascontiguousarray(inputs[0][data.box])]


SLICE = Kernel(prepare, invoke)
