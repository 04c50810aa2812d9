"""Hand-built OpContexts for kernel unit tests (no model, no interpreter)."""

from __future__ import annotations

import types
from typing import Any, Sequence

import numpy as np

from refimpl.context import OpContext, TensorInfo
from refimpl.flavors import TFLITE_REF, Flavor


def tensor(
    dtype: Any,
    shape: Sequence[int],
    scale: float | Sequence[float] | None = None,
    zero_point: int | Sequence[int] = 0,
    *,
    data: Any = None,
    axis: int = 0,
    name: str = "t",
) -> TensorInfo:
    """A TensorInfo; ``scale=None`` means not quantized; ``data`` makes it constant."""
    if scale is None:
        s, zp = np.zeros(0, np.float32), np.zeros(0, np.int64)
    else:
        s = np.atleast_1d(np.asarray(scale, np.float32))
        zp = np.atleast_1d(np.asarray(zero_point, np.int64))
    arr = None if data is None else np.asarray(data, dtype=dtype).reshape(shape)
    return TensorInfo(0, name, np.dtype(dtype), tuple(shape), s, zp, axis, arr)


def ctx(
    op_name: str,
    inputs: list[TensorInfo | None],
    outputs: list[TensorInfo],
    flavor: Flavor = TFLITE_REF,
    node_index: int = 7,
    **options: Any,
) -> OpContext:
    """An OpContext; keyword arguments become ``ctx.options`` attributes."""
    for i, t in enumerate(inputs):
        if t is not None:
            t.index, t.name = i, t.name if t.name != "t" else f"in{i}"
    for i, t in enumerate(outputs):
        t.index, t.name = 100 + i, t.name if t.name != "t" else f"out{i}"
    opts = types.SimpleNamespace(**options) if options else None
    return OpContext(node_index, op_name, inputs, outputs, opts, flavor)


def run(kernel, c: OpContext, *arrays: Any) -> list[np.ndarray]:
    """prepare + invoke; arrays are cast to the input tensors' dtypes."""
    data = kernel.prepare(c)
    xs = []
    for t, a in zip(c.inputs, arrays):
        xs.append(None if a is None else np.asarray(a, dtype=t.dtype).reshape(t.shape))
    return kernel.invoke(c, data, xs)
