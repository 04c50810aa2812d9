"""REVERSE_V2: ``out = np.flip(x, axes)`` for a constant, non-empty set of adjacent axes.

``axes`` is a 1-D int32 tensor (LiteRT and TFLM refuse int64), each value in
``[-rank, rank)`` (negative ones count from the end). Both runtimes sort the axes and
reverse the block of dimensions ``axes[0] .. axes[-1]`` as one flattened dimension,
which equals flipping each axis in it; so the sorted axes must be consecutive
(``[0, 2]`` or a repeated axis fails Eval with "Non-contiguous `axes` not supported";
refimpl raises :class:`~refimpl.errors.UnsupportedOpError` alike).

An empty ``axes`` tensor (TensorFlow: the identity) makes every runtime read
``axes[-1]`` and die with SIGSEGV (``KNOWN_BUGS``); refimpl refuses it with an OpError.

Types: float32, int8, uint8, int16, int32, int64, bool (copied as stored); rank <= 8.

Mirrors: tflite/kernels/reverse.cc, internal/reference/reverse.h,
micro/kernels/reverse.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import const_ints, norm_axis, same_type

TYPES = tuple(np.dtype(t) for t in (np.float32, np.int8, np.uint8, np.int16, np.int32,
                                    np.int64, np.bool_))
MAX_RANK = 8


@dataclass(frozen=True)
class OpData:
    axes: tuple[int, ...]  # normalised, sorted, consecutive


def prepare(ctx: OpContext) -> OpData:
    x, axis, out = ctx.input(0), ctx.input(1), ctx.output(0)
    same_type(ctx, x, out)
    if np.dtype(x.dtype) not in TYPES:
        raise ctx.unsupported(supported=", ".join(t.name for t in TYPES))
    if len(axis.shape) != 1:
        raise ctx.error(f"axis {axis.describe()} must be 1-D")
    if np.dtype(axis.dtype) != np.dtype(np.int32):
        raise ctx.unsupported(f"axis {axis.describe()}", supported="int32 axis")
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise ctx.unsupported(f"rank {rank}", supported=f"rank <= {MAX_RANK}")
    raw = [] if axis.size == 0 else const_ints(ctx, 1, "axis")
    if not raw:
        raise ctx.error(f"axis '{axis.name}' is empty: every runtime reads axes[-1] and "
                        "crashes (SIGSEGV); refimpl refuses the model")
    if len(raw) > rank:
        raise ctx.error(f"{len(raw)} axes for an input of rank {rank}")
    axes = sorted(norm_axis(ctx, a, rank) for a in raw)
    if any(b != a + 1 for a, b in zip(axes, axes[1:])):
        raise ctx.unsupported(f"axes {raw}", supported="consecutive axes without repeats "
                              "(the runtimes fail 'Non-contiguous axes not supported')")
    ctx.set_output_shape(0, x.shape)
    return OpData(tuple(axes))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    return [np.ascontiguousarray(np.flip(np.asarray(inputs[0]), data.axes))]


REVERSE_V2 = Kernel(prepare, invoke)
