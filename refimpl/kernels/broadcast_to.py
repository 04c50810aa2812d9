"""BROADCAST_TO: ``out = np.broadcast_to(x, shape)`` for a constant ``shape``.

``shape`` (int32 or int64, 1-D) is the output shape; ``x`` is aligned to its right end
and each of its dimensions must be 1 or equal to the output's (NumPy's rule, but one
way: the output never broadcasts back into ``x``). Values are copied as stored (any
type, quantized ones keep their integers).

Limits: LiteRT has no rank limit of its own (measured up to rank 9) and takes a
zero-sized output; TFLM accepts output rank <= 5 (its ``kMaxDims``) and refuses an empty
output ("dynamic tensor"). LiteRT registers the op from version 2 on (version 1 was the
custom op's), which is what converters write.

Mirrors: tflite/kernels/broadcast_to.cc, internal/reference/broadcast_to.h,
micro/kernels/broadcast_to.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type

#: TFLM's largest output rank (micro/kernels/broadcast_to.cc kMaxDims)
TFLM_MAX_RANK = 5


@dataclass(frozen=True)
class OpData:
    output_shape: tuple[int, ...]


def prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    if len(ctx.input(1).shape) != 1:
        raise ctx.error(f"shape {ctx.input(1).describe()} must be 1-D")
    shape = const_ints(ctx, 1, "shape")
    if any(d < 0 for d in shape):
        raise ctx.error(f"shape {shape} has a negative dimension")
    rank, in_rank = len(shape), len(x.shape)
    if in_rank > rank:
        raise ctx.error(f"input {x.describe()} has a higher rank than the shape {shape}")
    for k, n in enumerate(x.shape):
        if n != 1 and n != shape[rank - in_rank + k]:
            raise ctx.error(f"input {x.describe()} cannot be broadcast to {shape} "
                            f"(dimension {k}: {n})")
    if ctx.flavor.tflm:
        if rank > TFLM_MAX_RANK:
            raise ctx.unsupported(f"output rank {rank}", supported=f"rank <= {TFLM_MAX_RANK}")
        if 0 in shape:
            raise ctx.unsupported(f"empty output {shape}", supported="non-empty outputs")
    ctx.set_output_shape(0, shape)
    return OpData(tuple(shape))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.array(np.broadcast_to(np.asarray(inputs[0]), data.output_shape))]


BROADCAST_TO = Kernel(prepare, invoke)
