"""ARG_MAX and ARG_MIN: index of the largest / smallest value along one axis.

Inputs: ``input`` (rank >= 1) and ``axis`` (a constant one-element int32 or int64 tensor,
negative counts from the end). ``output_type`` (ArgMaxOptions / ArgMinOptions) is int32
or int64; the output has the input's shape without the axis.

Types: LiteRT (reference and optimized resolvers share one kernel, ``optimized_ops::
ArgMinMax``) takes float32, uint8, int8, int32 and bool; quantization parameters are
ignored (the codes are compared). TFLM takes float32 and int8 with an int32 axis and an
int32 output only (micro/kernels/arg_min_max.cc). XNNPACK has no such operator.

Ties: the first index wins in every variant. The reference loop replaces the candidate
only on a strictly greater (smaller) value; LiteRT's vectorised last-axis paths for
float32 / int8 / uint8 (``ArgMaxVector``: per-lane maxima then the smallest lane index
holding the maximum; or the first 16-element block holding it, then a scan of that block)
also return the first occurrence. NaN inputs are not modelled (the vector path skips NaN,
the reference comparison never selects it): refimpl follows NumPy, which picks the NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext

_TFLITE_TYPES = ("float32", "uint8", "int8", "int32", "bool")
_TFLM_TYPES = ("float32", "int8")
_OUTPUT_TYPES = {2: np.dtype(np.int32), 4: np.dtype(np.int64)}  # schema TensorType codes


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    is_arg_max : bool
    axis : int
        Resolved axis (non-negative).
    output_dtype : numpy dtype
        int32 or int64.
    """

    is_arg_max: bool
    axis: int
    output_dtype: np.dtype


def _prepare(ctx: OpContext, is_arg_max: bool) -> OpData:
    x = ctx.input(0)
    axis_t = ctx.input(1)
    out = ctx.output(0)
    rank = len(x.shape)
    ctx.require(rank >= 1, "the input must have rank >= 1")
    if axis_t.data is None:
        raise ctx.unsupported("the axis input must be a constant tensor")
    ctx.require(np.asarray(axis_t.data).size == 1, "the axis tensor must hold one value")
    axis_dtype = np.dtype(axis_t.dtype)
    ctx.require(axis_dtype in (np.int32, np.int64), "the axis tensor must be int32 or int64")
    axis = int(np.asarray(axis_t.data).reshape(-1)[0])
    ctx.require(-rank <= axis < rank, f"axis {axis} is out of range for rank {rank}")
    axis = axis + rank if axis < 0 else axis
    ctx.require(x.shape[axis] > 0, "cannot take an arg-min/max over an empty axis")

    code = getattr(ctx.options, "output_type", 2) if ctx.options is not None else 2
    code = 2 if code is None else int(code)
    if code not in _OUTPUT_TYPES:
        raise ctx.error(f"output_type {code} is neither int32 nor int64")
    out_dtype = _OUTPUT_TYPES[code]
    ctx.require(np.dtype(out.dtype) == out_dtype,
                f"output tensor {out.describe()} does not match output_type {out_dtype.name}")
    in_name = np.dtype(x.dtype).name
    if ctx.flavor.tflm:
        if in_name not in _TFLM_TYPES or out_dtype != np.int32 or axis_dtype != np.int32:
            raise ctx.unsupported(supported="float32, int8 input; int32 axis and output")
    elif in_name not in _TFLITE_TYPES:
        raise ctx.unsupported(supported=", ".join(_TFLITE_TYPES))
    ctx.set_output_shape(0, tuple(d for i, d in enumerate(x.shape) if i != axis))
    return OpData(is_arg_max=is_arg_max, axis=axis, output_dtype=out_dtype)


def prepare_arg_max(ctx: OpContext) -> OpData:
    """Validate the axis and output type, set the output shape.

    Mirrors: ``Prepare`` / ``ResizeOutput`` (tflite/kernels/arg_min_max.cc),
    micro/kernels/arg_min_max.cc.
    """
    return _prepare(ctx, True)


def prepare_arg_min(ctx: OpContext) -> OpData:
    """As :func:`prepare_arg_max`."""
    return _prepare(ctx, False)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Index of the first maximum (minimum) along ``data.axis``.

    Arithmetic::

        out[outer, inner] = min{ i : x[outer, i, inner] == max_j x[outer, j, inner] }

    Mirrors: ``reference_ops::ArgMinMax`` (reference/arg_min_max.h) and
    ``optimized_ops::ArgMinMax`` / ``ArgMaxVector`` (optimized/optimized_ops.h).
    """
    x = np.asarray(inputs[0])
    idx = np.argmax(x, axis=data.axis) if data.is_arg_max else np.argmin(x, axis=data.axis)
    return [np.asarray(idx).astype(data.output_dtype).reshape(ctx.output(0).shape)]


ARG_MAX = Kernel(prepare_arg_max, invoke)
ARG_MIN = Kernel(prepare_arg_min, invoke)
