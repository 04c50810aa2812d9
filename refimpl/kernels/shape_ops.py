"""SHAPE, STRIDED_SLICE and PACK: the int32 shape arithmetic of e.g. Keras ``Flatten``.

A Keras ``Flatten`` on a dynamic batch converts to::

    SHAPE(x) -> STRIDED_SLICE(begin [0], end [1], shrink_axis) -> PACK([batch, 1600]) -> RESHAPE

None of these ops does arithmetic; they move elements. Constant folding at prepare
time: TFLite computes SHAPE's output in Prepare and marks it persistent, and
STRIDED_SLICE evaluates in Prepare when all its inputs are known. Here SHAPE,
STRIDED_SLICE and PACK record their result as the output tensor's constant ``data``
whenever all their inputs are known at prepare time, so that RESHAPE can size its output
in prepare. (PACK folding is this implementation's choice — TFLite leaves RESHAPE's
output dynamic instead — with identical values.)

Mirrors: tensorflow/lite/kernels/shape.cc, strided_slice.cc (BuildStridedSliceParams,
ResizeOutputTensor), internal/reference/strided_slice.h (StartForAxis, EndForAxis,
StridedSlice), pack.cc, internal/reference/reference_ops.h (Pack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..context import Kernel, OpContext, TensorInfo

#: schema TensorType values accepted by SHAPE's ``out_type``.
_SHAPE_OUT_TYPES = {2: np.dtype(np.int32), 4: np.dtype(np.int64)}


def _fold(out: TensorInfo, value: np.ndarray) -> np.ndarray:
    """Record a value computed at prepare time as the output's constant data."""
    value = np.array(value, copy=True)
    value.setflags(write=False)
    out.data = value
    return value


# --------------------------------------------------------------------------------------
# SHAPE
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShapeData:
    value: np.ndarray  # the input's shape, in the output dtype


def shape_prepare(ctx: OpContext) -> ShapeData:
    """The output is the 1-D vector of the input's dimensions, known now."""
    inp, out = ctx.input(0), ctx.output(0)
    if ctx.options is not None and getattr(ctx.options, "out_type", None) is not None:
        out_type = int(ctx.options.out_type)
        if out_type not in _SHAPE_OUT_TYPES:
            raise ctx.error(f"out_type {out_type} is not int32 (2) or int64 (4)")
        dtype = _SHAPE_OUT_TYPES[out_type]
    else:  # options table absent: trust the output tensor's declared type
        dtype = np.dtype(out.dtype)
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} does not have out_type {dtype.name}")
    ctx.set_output_shape(0, (len(inp.shape),))
    return ShapeData(_fold(out, np.array(inp.shape, dtype=dtype)))


def shape_invoke(ctx: OpContext, data: ShapeData, inputs: list) -> list[np.ndarray]:
    return [data.value.copy()]


# --------------------------------------------------------------------------------------
# STRIDED_SLICE
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceSpec:
    """A strided slice resolved against one input shape.

    effective_shape : input shape with the new axes (size 1) inserted.
    indices : per effective axis, the input positions read, in order.
    output_shape : effective axes minus the shrunk ones.
    """

    effective_shape: tuple[int, ...]
    indices: tuple[np.ndarray, ...]
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class StridedSliceData:
    """``spec`` is None when begin/end/strides are only known at run time;
    ``constant_result`` holds the folded value when everything was known at prepare."""

    spec: SliceSpec | None
    constant_result: np.ndarray | None = None


def _masks(ctx: OpContext) -> dict[str, int]:
    names = (
        "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask", "offset"
    )  # fmt: skip
    o = ctx.options
    return {n: int(getattr(o, n, 0) or 0) if o is not None else 0 for n in names}


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if hi < v else lo if v < lo else v


def resolve_strided_slice(
    ctx: OpContext,
    input_shape: Sequence[int],
    begin: Sequence[int],
    end: Sequence[int],
    strides: Sequence[int],
    masks: dict[str, int],
) -> SliceSpec:
    """TFLite's strided-slice index logic for one input shape.

    1. Expand the ellipsis and insert new axes (``BuildStridedSliceParams``): new axes
       get ``[0, 1)`` on a size-1 dimension; ellipsis dimensions and dimensions past the
       given indices take the whole axis; ``new_axis`` is ignored where ``ellipsis`` is
       set at the same index.
    2. Per effective axis (``StartForAxis`` / ``EndForAxis``)::

           start = begin (+ size if < 0), clamped to [0, size] (stride > 0) or
                   [-1, size-1] (stride < 0); begin_mask: 0 or size-1
           shrink axis: stop = start + 1
           else: stop = end (+ start when offset) (+ size if < 0), clamped the same
                 way; end_mask: size or -1
           positions = start, start+stride, ... while < stop (stride > 0) / > stop
    """
    rank = len(input_shape)
    begin_count = len(begin)
    ell, new_axis = masks["ellipsis_mask"], masks["new_axis_mask"]
    bit = lambda m, i: bool((m >> i) & 1)  # noqa: E731
    num_add_axis = sum(1 for i in range(begin_count) if not bit(ell, i) and bit(new_axis, i))
    eff_dims = rank + num_add_axis

    eff_ellipsis, eff_new_axis = 0, 0
    ellipsis_start, expanded = eff_dims, 0
    i = 0
    while i < eff_dims:
        if bit(ell, i):
            ellipsis_start = i
            ellipsis_end = max(i + 1, min(i + 1 + num_add_axis + rank - begin_count, eff_dims))
            expanded = ellipsis_end - ellipsis_start - 1
            while i < ellipsis_end:
                eff_ellipsis |= 1 << i
                i += 1
            continue
        if i - expanded >= 0 and bit(new_axis, i - expanded):
            eff_new_axis |= 1 << i
        i += 1

    eff_shape, starts, stops, steps, shrink = [], [], [], [], []
    added_ellipsis, added_axes = 0, 0
    for i in range(eff_dims):
        b_mask = e_mask = s_mask = False
        start_i = stop_i = 0
        stride = 1
        if bit(eff_ellipsis, i):
            added_ellipsis = max(0, i - ellipsis_start)
            b_mask = e_mask = True
            size = input_shape[i - added_axes]
        elif bit(eff_new_axis, i):
            start_i, stop_i, size = 0, 1, 1
            added_axes += 1
        elif i >= begin_count + expanded:
            b_mask = e_mask = True
            size = input_shape[i - added_axes]
        else:
            orig = i - added_ellipsis
            start_i, stop_i, stride = int(begin[orig]), int(end[orig]), int(strides[orig])
            b_mask, e_mask = bit(masks["begin_mask"], orig), bit(masks["end_mask"], orig)
            s_mask = bit(masks["shrink_axis_mask"], orig)
            size = input_shape[i - added_axes]
        if stride == 0:
            raise ctx.error("stride value has to be non-zero")
        size = int(size)
        start = start_i + size if start_i < 0 else start_i
        start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
        if b_mask:
            start = 0 if stride > 0 else size - 1
        if s_mask:
            if not 0 <= start < size or stride < 0:
                raise ctx.error(
                    f"shrink_axis index {start_i} (stride {stride}) does not select one element "
                    f"of an axis of size {size}; TFLite would read or write out of bounds"
                )
            stop = start + 1
        else:
            stop = stop_i + start if masks["offset"] else stop_i
            stop = stop + size if stop < 0 else stop
            stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
            if e_mask:
                stop = size if stride > 0 else -1
        eff_shape.append(size)
        starts.append(start)
        stops.append(stop)
        steps.append(stride)
        shrink.append(s_mask)

    indices = tuple(np.arange(a, b, s, dtype=np.int64) for a, b, s in zip(starts, stops, steps))
    out_shape = tuple(len(ix) for ix, s in zip(indices, shrink) if not s)
    if masks["offset"]:
        _check_offset_shape(ctx, end, steps, shrink, out_shape)
    return SliceSpec(tuple(eff_shape), indices, out_shape)


def _check_offset_shape(ctx, end, steps, shrink, out_shape) -> None:
    """With ``offset`` TFLite sizes the output from the raw ``end`` values (the sizes),
    indexed by *effective* axis and ignoring the masks (``ResizeOutputTensor``), while the
    copy loop clamps ``begin + size`` and honours the masks. Only when both agree is the
    result defined; otherwise TFLite reads past ``end`` or writes a wrongly sized output
    (it crashed LiteRT 2.3.0 in the fuzz of compare/dev_check_elementwise.py)."""
    sizes = []
    for idx, (stride, s) in enumerate(zip(steps, shrink)):
        if s:
            continue
        if idx >= len(end):
            raise ctx.error(
                "offset=True with fewer begin/end entries than effective dimensions is "
                "undefined in TFLite (it reads past the end tensor)"
            )
        dim = int(end[idx])
        if (dim < 0) != (stride < 0):
            sizes.append(0)
        elif stride < 0:
            sizes.append(int((dim + 1) / stride) + 1)  # C division truncates toward zero
        else:
            sizes.append(0 if dim == 0 else (dim - 1) // stride + 1)
    if tuple(sizes) != tuple(out_shape):
        raise ctx.error(
            f"offset=True: TFLite would size the output {sizes} from the end values but "
            f"copy {list(out_shape)} elements per axis (begin + size out of range, or masks "
            "set); the result is undefined in TFLite"
        )


def strided_slice_eval(x: np.ndarray, spec: SliceSpec) -> np.ndarray:
    """Gather the resolved positions (an outer product of per-axis index lists)."""
    x = np.asarray(x).reshape(spec.effective_shape)
    if not spec.indices:
        return np.array(x, copy=True)
    return x[np.ix_(*spec.indices)].reshape(spec.output_shape)


def _index_values(ctx: OpContext, i: int, name: str) -> np.ndarray | None:
    t = ctx.input(i)
    if len(t.shape) != 1:
        raise ctx.error(f"{name} {t.describe()} must be 1-D")
    if np.dtype(t.dtype) != np.dtype(np.int32):
        raise ctx.unsupported(f"{name} {t.describe()}", supported="int32 begin/end/strides")
    return None if t.data is None else np.asarray(t.data).reshape(-1).astype(np.int64)


def strided_slice_prepare(ctx: OpContext) -> StridedSliceData:
    """Validate, resolve the slice if begin/end/strides are known, fold if the input is too."""
    if len(ctx.inputs) != 4:
        raise ctx.error(f"takes 4 inputs, got {len(ctx.inputs)}")
    inp, out = ctx.input(0), ctx.output(0)
    if np.dtype(out.dtype) != np.dtype(inp.dtype):
        raise ctx.error(f"output {out.describe()} must have the input type {inp.dtype.name}")
    names = ("begin", "end", "strides")
    begin, end, strides = (_index_values(ctx, i, n) for i, n in enumerate(names, 1))
    counts = {ctx.input(i).shape[0] for i in (1, 2, 3)}
    if len(counts) != 1:
        raise ctx.error("begin, end and strides must have the same length")
    if counts.pop() > 31:
        raise ctx.error("at most 31 indices are supported")
    if begin is None or end is None or strides is None:
        return StridedSliceData(None)  # shape known only at run time
    spec = resolve_strided_slice(ctx, inp.shape, begin, end, strides, _masks(ctx))
    ctx.set_output_shape(0, spec.output_shape)
    if inp.is_constant:
        assert inp.data is not None
        value = _fold(out, strided_slice_eval(np.asarray(inp.data), spec))
        return StridedSliceData(spec, value)
    return StridedSliceData(spec)


def strided_slice_invoke(ctx: OpContext, data: StridedSliceData, inputs: list) -> list[np.ndarray]:
    if data.constant_result is not None:
        return [data.constant_result.copy()]
    spec = data.spec
    if spec is None:
        vals = [np.asarray(v).reshape(-1).astype(np.int64) for v in inputs[1:4]]
        spec = resolve_strided_slice(ctx, inputs[0].shape, *vals, _masks(ctx))
    return [strided_slice_eval(inputs[0], spec)]


# --------------------------------------------------------------------------------------
# PACK
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PackData:
    axis: int
    constant_result: np.ndarray | None = None


def pack_prepare(ctx: OpContext) -> PackData:
    """Stack ``values_count`` same-shaped inputs along a new axis."""
    n = len(ctx.inputs)
    count = int(getattr(ctx.options, "values_count", n)) if ctx.options is not None else n
    if count != n or n == 0:
        raise ctx.error(f"values_count {count} does not match the {n} inputs")
    ins = [ctx.input(i) for i in range(n)]
    out = ctx.output(0)
    t0 = ins[0]
    rank = len(t0.shape)
    raw_axis = int(getattr(ctx.options, "axis", 0) or 0) if ctx.options is not None else 0
    axis = raw_axis + rank + 1 if raw_axis < 0 else raw_axis
    if not 0 <= axis <= rank:
        raise ctx.error(f"axis {raw_axis} is out of range for inputs of rank {rank}")
    for i, t in enumerate(ins):
        if tuple(t.shape) != tuple(t0.shape) or np.dtype(t.dtype) != np.dtype(t0.dtype):
            raise ctx.error(f"input {i} {t.describe()} differs from input 0 {t0.describe()}")
    if np.dtype(out.dtype) != np.dtype(t0.dtype):
        raise ctx.error(f"output {out.describe()} must have the input type {t0.dtype.name}")
    for i, t in enumerate(ins):  # TFLite: no requantization, parameters must match
        if _qparams(t) != _qparams(out):
            raise ctx.error(
                f"input {i} {t.describe()} must have the output's quantization {out.describe()}"
            )
    shape = tuple(t0.shape[:axis]) + (n,) + tuple(t0.shape[axis:])
    ctx.set_output_shape(0, shape)
    if all(t.is_constant for t in ins):
        value = _fold(out, np.stack([np.asarray(t.data) for t in ins], axis=axis))
        return PackData(axis, value)
    return PackData(axis)


def _qparams(t: TensorInfo) -> tuple[float, int]:
    if not t.is_quantized:
        return 0.0, 0
    return float(np.float32(t.scale[0])), int(t.zero_point[0])


def pack_invoke(ctx: OpContext, data: PackData, inputs: list) -> list[np.ndarray]:
    if data.constant_result is not None:
        return [data.constant_result.copy()]
    return [np.stack(inputs, axis=data.axis)]


SHAPE = Kernel(shape_prepare, shape_invoke)
STRIDED_SLICE = Kernel(strided_slice_prepare, strided_slice_invoke)
PACK = Kernel(pack_prepare, pack_invoke)
