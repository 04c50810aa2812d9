"""SPACE_TO_DEPTH and DEPTH_TO_SPACE (NHWC, ``block_size`` b).

* SPACE_TO_DEPTH: ``out[n, h, w, (dy*b + dx)*C + c] = x[n, h*b + dy, w*b + dx, c]``;
* DEPTH_TO_SPACE: the inverse, ``C_out = C / b**2``.

Mirrors: internal/reference/reference_ops.h ``SpaceToDepth`` / ``DepthToSpace``,
tflite/kernels/space_to_depth.cc, depth_to_space.cc, and the TFLM versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import same_type


@dataclass(frozen=True)
class OpData:
    block: int


def _block(ctx: OpContext) -> int:
    b = int(getattr(ctx.options, "block_size", 0) or 0) if ctx.options else 0
    if b < 1:
        raise ctx.error(f"block_size must be >= 1, got {b}")
    return b


def s2d_prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    ctx.require(len(x.shape) == 4, f"input {x.describe()} must be 4-D (NHWC)")
    b = _block(ctx)
    n, h, w, c = x.shape
    if h % b or w % b:
        raise ctx.error(f"height {h} and width {w} must be multiples of block_size {b}")
    ctx.set_output_shape(0, (n, h // b, w // b, c * b * b))
    return OpData(b)


def d2s_prepare(ctx: OpContext) -> OpData:
    x, out = ctx.input(0), ctx.output(0)
    same_type(ctx, x, out)
    ctx.require(len(x.shape) == 4, f"input {x.describe()} must be 4-D (NHWC)")
    b = _block(ctx)
    n, h, w, c = x.shape
    if c % (b * b):
        raise ctx.error(f"depth {c} must be a multiple of block_size**2 = {b * b}")
    ctx.set_output_shape(0, (n, h * b, w * b, c // (b * b)))
    return OpData(b)


def s2d_invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x, b = inputs[0], data.block
    n, h, w, c = x.shape
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return [np.ascontiguousarray(y).reshape(n, h // b, w // b, b * b * c)]


def d2s_invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x, b = inputs[0], data.block
    n, h, w, c = x.shape
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5)
    return [np.ascontiguousarray(y).reshape(n, h * b, w * b, c // (b * b))]


SPACE_TO_DEPTH = Kernel(s2d_prepare, s2d_invoke)
DEPTH_TO_SPACE = Kernel(d2s_prepare, d2s_invoke)
