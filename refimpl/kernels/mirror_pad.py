"""MIRROR_PAD: pad by mirroring, ``mode`` 0 REFLECT (edge not repeated, pad <= dim - 1)
or 1 SYMMETRIC (edge repeated, pad <= dim); paddings a constant ``[rank, 2]`` tensor.

Mirrors: tflite/kernels/mirror_pad.cc, micro/kernels/mirror_pad.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, same_type


@dataclass(frozen=True)
class OpData:
    pads: tuple[tuple[int, int], ...]
    mode: str


def prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    if ctx.flavor.tflm and np.dtype(x.dtype) not in (np.dtype(np.float32), np.dtype(np.int8)):
        raise ctx.unsupported(supported="float32, int8 (TFLM's MIRROR_PAD)")
    rank = len(x.shape)
    flat = const_ints(ctx, 1, "paddings")
    if len(flat) != 2 * rank:
        raise ctx.error(f"paddings need shape [{rank}, 2], got {len(flat)} values")
    mode_id = int(getattr(ctx.options, "mode", 0) or 0) if ctx.options else 0
    mode = {0: "reflect", 1: "symmetric"}.get(mode_id)
    if mode is None:
        raise ctx.error(f"unknown mirror pad mode {mode_id}")
    pads = tuple((flat[2 * i], flat[2 * i + 1]) for i in range(rank))
    limit_extra = 0 if mode == "reflect" else 1
    for d, ((a, b), dim) in enumerate(zip(pads, x.shape)):
        if min(a, b) < 0 or max(a, b) > dim - 1 + limit_extra:
            raise ctx.error(f"dimension {d}: paddings ({a}, {b}) exceed what {mode} mode "
                            f"allows for size {dim}")
    ctx.set_output_shape(0, [dim + a + b for dim, (a, b) in zip(x.shape, pads)])
    return OpData(pads, mode)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.pad(inputs[0], data.pads, mode=data.mode)]


MIRROR_PAD = Kernel(prepare, invoke)
