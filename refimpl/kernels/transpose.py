"""TRANSPOSE: ``out = x.transpose(perm)`` for a constant permutation (rank <= 6).

Mirrors: tflite/kernels/transpose.cc, internal/reference/transpose.h,
micro/kernels/transpose.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type


@dataclass(frozen=True)
class OpData:
    perm: tuple[int, ...]


def prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    rank = len(x.shape)
    perm = const_ints(ctx, 1, "perm")
    if rank > 6:
        raise ctx.unsupported(f"rank {rank}", supported="rank <= 6")
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise ctx.error(f"perm {perm} is not a permutation of 0..{rank - 1}")
    ctx.set_output_shape(0, [x.shape[p] for p in perm])
    return OpData(tuple(perm))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.transpose(inputs[0], data.perm))]


TRANSPOSE = Kernel(prepare, invoke)
