"""GATHER_ND: gather slices of ``params`` addressed by the last axis of ``indices``.

With ``nd = indices.shape[-1]`` (``0 <= nd <= rank(params)``)::

    out[i..., :] = params[indices[i..., 0], ..., indices[i..., nd-1], :]
    out.shape    = indices.shape[:-1] + params.shape[nd:]

Values are copied as stored. Types: LiteRT params float32, int8, uint8, int16, int32,
int64, bool with int16 / int32 / int64 indices; TFLM params float32 and int8 with int32
indices (and ``nd <= 5``).

Index checks differ (Eval, both failing the invoke with "gather_nd index out of
bounds"):

* LiteRT: a negative value anywhere in ``indices`` fails, and so does any coordinate
  ``indices[..., j] >= params.shape[j]``.
* TFLM checks only the flat position ``pos = sum_j indices[..., j] * stride_j`` (in
  elements, strides of ``params``): it fails when ``pos < 0`` or ``pos + slice >
  size(params)``. An out-of-range coordinate whose flat position stays inside reads
  another row: params (3, 4), index [0, 5] returns ``params[1, 1]``, [1, -1] returns
  ``params[0, 3]`` (a TFLM bug, ``KNOWN_BUGS``). refimpl's ``tflm`` flavour does the same.

Mirrors: tflite/kernels/gather_nd.cc, internal/reference/reference_ops.h (GatherNd);
micro/kernels/gather_nd.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from ._movement import same_type

_T = np.dtype
PARAM_TYPES = {
    "tflite": tuple(_T(t) for t in (np.float32, np.int8, np.uint8, np.int16, np.int32,
                                    np.int64, np.bool_)),
    "tflm": (_T(np.float32), _T(np.int8)),
}
INDEX_TYPES = {
    "tflite": (_T(np.int16), _T(np.int32), _T(np.int64)),
    "tflm": (_T(np.int32),),
}
TFLM_MAX_ND = 5


@dataclass(frozen=True)
class OpData:
    nd: int
    block_shape: tuple[int, ...]  # params.shape[:nd]: the dimensions indexed
    slice_size: int  # elements per gathered slice, prod(params.shape[nd:])
    output_shape: tuple[int, ...]
    flat_check: bool  # TFLM: only the flat position is bounds-checked


def prepare(ctx: OpContext) -> OpData:
    params, indices, out = ctx.input(0), ctx.input(1), ctx.output(0)
    same_type(ctx, params, out)
    family = "tflm" if ctx.flavor.tflm else "tflite"
    if np.dtype(params.dtype) not in PARAM_TYPES[family]:
        raise ctx.unsupported(supported="params " + ", ".join(
            t.name for t in PARAM_TYPES[family]))
    if np.dtype(indices.dtype) not in INDEX_TYPES[family]:
        raise ctx.unsupported(f"indices {indices.describe()}", supported="indices " + ", ".join(
            t.name for t in INDEX_TYPES[family]))
    if len(params.shape) < 1:
        raise ctx.error(f"params {params.describe()} must be at least a vector")
    if len(indices.shape) < 1:
        raise ctx.error(f"indices {indices.describe()} must be at least a vector")
    nd = int(indices.shape[-1])
    if nd > len(params.shape):
        raise ctx.error(f"indices {indices.describe()} address {nd} dimensions; params "
                        f"{params.describe()} has {len(params.shape)}")
    if ctx.flavor.tflm and nd > TFLM_MAX_ND:
        raise ctx.unsupported(f"{nd} index dimensions", supported=f"at most {TFLM_MAX_ND}")
    shape = tuple(indices.shape[:-1]) + tuple(params.shape[nd:])
    ctx.set_output_shape(0, shape)
    slice_size = int(np.prod(params.shape[nd:], dtype=np.int64))
    rows = int(np.prod(indices.shape[:-1], dtype=np.int64))
    if nd == 0 and rows > 0 and not ctx.flavor.tflm:
        raise ctx.unsupported(f"indices {indices.describe()} of depth 0", supported=(
            "depth >= 1 on LiteRT (its empty index tensor has no data pointer and the "
            "invoke fails 'gather_nd index out of bounds')"))
    return OpData(nd, tuple(params.shape[:nd]), slice_size, shape, ctx.flavor.tflm)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    params = np.asarray(inputs[0])
    idx = np.asarray(inputs[1]).astype(np.int64)
    idx = idx.reshape(int(np.prod(idx.shape[:-1], dtype=np.int64)), data.nd)
    blocks = int(np.prod(data.block_shape, dtype=np.int64))
    table = params.reshape(blocks, data.slice_size)
    # row-major strides of the indexed dimensions, in slices
    strides = np.array([int(np.prod(data.block_shape[j + 1:], dtype=np.int64))
                        for j in range(data.nd)], dtype=np.int64)
    pos = idx @ strides if data.nd else np.zeros(len(idx), np.int64)
    name = ctx.input(1).name
    if data.flat_check:
        bad = (pos < 0) | (pos >= blocks)  # pos * slice + slice > size  <=>  pos >= blocks
        if bad.any():
            k = int(np.argmax(bad))
            raise ctx.error(f"gather_nd index {idx[k].tolist()} in '{name}' points outside "
                            f"params {list(params.shape)} (flat position {int(pos[k])})")
    else:
        if (idx < 0).any():
            raise ctx.error(f"gather_nd index {int(idx[idx < 0][0])} in '{name}' is negative")
        bad = (idx >= np.array(data.block_shape, dtype=np.int64)).any(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            raise ctx.error(f"gather_nd index {idx[k].tolist()} in '{name}' is out of range "
                            f"for params dimensions {list(data.block_shape)}")
    return [table[pos].reshape(data.output_shape)]


GATHER_ND = Kernel(prepare, invoke)
