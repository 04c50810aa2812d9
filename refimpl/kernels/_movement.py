"""Helpers of the data-movement kernels (SLICE, TRANSPOSE, GATHER, ...): reading small
constant index tensors and checking that an op leaves the data type alone.

These ops move raw stored values: quantized tensors keep their integers, so LiteRT and
TFLM copy them whatever the output's scale says (``refimpl audit`` flags a model whose
input and output quantization differ). Not a kernel module.
"""

from __future__ import annotations

import numpy as np

from ..context import OpContext, TensorInfo

#: the integer types index tensors (begin, size, perm, axis, indices...) may have
INDEX_TYPES = (np.dtype(np.int32), np.dtype(np.int64))


def const_ints(ctx: OpContext, i: int, what: str) -> list[int]:
    """The values of constant integer input ``i`` (flattened), or a clear error."""
    t = ctx.input(i)
    if t.data is None:
        raise ctx.unsupported(f"{what} (input {i}, {t.describe()}) must be a constant tensor")
    if np.dtype(t.dtype) not in INDEX_TYPES:
        raise ctx.error(f"{what} {t.describe()} must be int32 or int64")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


def same_type(ctx: OpContext, inp: TensorInfo, out: TensorInfo) -> None:
    if np.dtype(inp.dtype) != np.dtype(out.dtype):
        raise ctx.error(f"output {out.describe()} must have the input type "
                        f"{np.dtype(inp.dtype).name}")


def norm_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    """``axis`` in ``[-rank, rank)`` -> ``[0, rank)``, or an error naming the op."""
    if not -rank <= axis < rank:
        raise ctx.error(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis
