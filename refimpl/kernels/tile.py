"""TILE: repeat the input ``multiples[d]`` times along every dimension ``d``.

``out[i_0, ..., i_r] = x[i_0 % n_0, ..., i_r % n_r]``, output shape ``n_d * multiples[d]``
(``np.tile``). Values are copied as stored, so any type of 1, 2, 4 or 8 bytes works
(LiteRT picks the copy loop by the element size): float32, int8, uint8, int16, int32,
int64, bool; quantized tensors keep their integers. ``multiples`` is int32 or int64, one
per input dimension, each >= 0 (a 0 gives an empty output); LiteRT fails Prepare on a
negative one or an output dimension beyond INT32_MAX.

LiteRT also accepts ``multiples`` computed at run time (the output is then resized in
Eval); refimpl needs it constant, as TFLM would (TFLM has no TILE kernel at all).

Mirrors: tflite/kernels/tile.cc (TileOneDimension, CopyMultipleTimes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type

#: element types LiteRT's TILE copies (by size: 8, 16, 32 or 64 bits)
TYPES = tuple(np.dtype(t) for t in (np.float32, np.int8, np.uint8, np.int16, np.int32,
                                    np.int64, np.bool_))
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class OpData:
    multiples: tuple[int, ...]
    output_shape: tuple[int, ...]


def prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    if ctx.flavor.tflm:
        raise ctx.unsupported("TFLM has no TILE kernel")
    same_type(ctx, x, out)
    if np.dtype(x.dtype) not in TYPES:
        raise ctx.unsupported(supported=", ".join(t.name for t in TYPES))
    multiples = const_ints(ctx, 1, "multiples")
    if len(multiples) != len(x.shape):
        raise ctx.error(f"multiples has {len(multiples)} values for an input of rank "
                        f"{len(x.shape)} ({x.describe()})")
    shape = []
    for d, (n, m) in enumerate(zip(x.shape, multiples)):
        if m < 0:
            raise ctx.error(f"multiples[{d}] = {m} must be >= 0")
        if n * m > _INT32_MAX:
            raise ctx.error(f"output dimension {d} = {n} * {m} exceeds INT32_MAX")
        shape.append(n * m)
    ctx.set_output_shape(0, shape)
    return OpData(tuple(multiples), tuple(shape))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x = np.asarray(inputs[0])
    return [np.tile(x, data.multiples).reshape(data.output_shape)]


TILE = Kernel(prepare, invoke)
