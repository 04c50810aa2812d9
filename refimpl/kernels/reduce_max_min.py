"""REDUCE_MAX, REDUCE_MIN and REDUCE_PROD over constant axes.

Inputs: ``input`` (any rank) and ``axis`` (a constant int32 tensor; negative axes count
from the end; duplicates ignored). ``keep_dims`` (ReducerOptions) keeps the reduced axes
with size 1.

REDUCE_MAX / REDUCE_MIN select one of the input values, so every runtime agrees as long
as it sees the same values: LiteRT (reference and optimized) accepts float32, int32,
int64, uint8, int8, int16 and bool (bool only in the reference kernel: the optimized
``ReduceGeneric`` fails at invoke), and for the quantized types insists that input and output
share scale and zero point (``EvalType`` in tflite/kernels/reduce.cc), so the codes are
compared directly. XNNPACK takes float32 / int8 / uint8 nodes (``VisitReduceNode``); the
selection is the same. TFLM has float32 and int8 only (``EvalMinMaxHelper``,
micro/kernels/reduce_common.cc) and checks that the scales are equal. Under ``xnnpack``
no parameter check applies to the nodes the delegate takes (it copies codes, whatever
the output quantization says); LiteRT's and TFLM's kernels fail such models at invoke.

Ties and signed zeros: the reducers keep the current value unless the new one is strictly
greater (max) / smaller (min), starting from ``lowest()`` / ``max()``; with ``-0.0`` and
``+0.0`` in one row the first one in row-major order wins; refimpl takes the row's
extreme value and then the first element equal to it (:func:`_select`).

REDUCE_PROD (LiteRT only; TFLM and XNNPACK have no kernel): float32, int32 and int64 are
plain products (integers wrap as the C ``MulTensorValuesWithExpectedOverflow``), formed
left to right in row-major order from 1 (``reference_ops::ReduceGeneric``; the optimized
kernel walks the input in the same order). Quantized int8 / int16 (int16: zero points 0)
requantize after every multiplication (``QuantizedReduceProd``)::

    scaling = s_in / pow(s_out, 1 / n)        (double; n = reduced elements per output)
    (m, s) = QuantizeMultiplier(scaling)
    p = q_0 - zp_in;  p = MBQM_int64(p * (q_k - zp_in), m, s) for k = 1 .. n-1
    out = clamp(MBQM_int64(p, m, s) + zp_out)

with the 16-bit-multiplier variant C (x86 shift masking when ``s >= 8``, see
:func:`~refimpl.kernels.batch_matmul.multiply_by_quantized_multiplier_int64_x86`).
With no reduced axis the reference kernel still requantizes every element, the
optimized one copies the codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import numpy as np

from ..arithmetic import qrange, quantize_multiplier
from ..context import Kernel, OpContext
from .batch_matmul import multiply_by_quantized_multiplier_int64_x86
from .mean import resolve_axes


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    op : str
        ``"max"``, ``"min"``, ``"prod"`` or ``"quantized-prod"``.
    axes : tuple of int
        Resolved reduced axes, ascending, no duplicates.
    keep_dims : bool
    input_zero_point, output_zero_point : int
    multiplier, shift : int
        ``s_in / s_out^(1/n)`` as Q0.31 and shift (quantized PROD).
    copy : bool
        Quantized PROD without reduced axes in LiteRT's optimized kernel: a plain copy.
    """

    op: str
    axes: tuple[int, ...]
    keep_dims: bool
    input_zero_point: int = 0
    output_zero_point: int = 0
    multiplier: int = 0
    shift: int = 0
    copy: bool = False


_TFLITE_TYPES = ("float32", "int32", "int64", "uint8", "int8", "int16", "bool")
_TFLM_TYPES = ("float32", "int8")
_PROD_TYPES = ("float32", "int32", "int64")


def _prepare(ctx: OpContext, op: str) -> OpData:
    x = ctx.input(0)
    out = ctx.output(0)
    axes = resolve_axes(ctx, len(x.shape))
    keep_dims = bool(ctx.options.keep_dims) if ctx.options is not None else False
    if keep_dims:
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        out_shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    ctx.set_output_shape(0, out_shape)
    in_dtype, out_dtype = np.dtype(x.dtype), np.dtype(out.dtype)
    if in_dtype != out_dtype:
        raise ctx.unsupported(f"input {in_dtype.name} but output {out_dtype.name}")
    if op == "prod" and not ctx.flavor.tflm and in_dtype.name in ("int8", "int16") \
            and x.is_quantized:
        return _prepare_quantized_prod(ctx, axes, keep_dims)
    if op == "prod":
        allowed = () if ctx.flavor.tflm else _PROD_TYPES
    else:
        allowed = _TFLM_TYPES if ctx.flavor.tflm else _TFLITE_TYPES
    if in_dtype.name not in allowed:
        raise ctx.unsupported(supported=", ".join(allowed) or "nothing (no TFLM kernel)")
    if in_dtype == np.bool_ and ctx.flavor.optimized:
        raise ctx.unsupported("bool: LiteRT's optimized ReduceGeneric has no bool MAX / MIN "
                              "and fails at invoke (only BUILTIN_REF computes it)")
    if _xnnpack_takes(ctx, op, axes):
        return OpData(op=op, axes=axes, keep_dims=keep_dims)   # codes compared as they are
    if in_dtype.name in ("uint8", "int8", "int16") and x.is_quantized:
        # The codes are compared directly: the output must have the input's parameters.
        ctx.require(out.is_quantized and float(np.float32(out.scale[0])) == float(
            np.float32(x.scale[0])), "input and output scales must be equal")
        if not ctx.flavor.tflm:
            ctx.require(int(out.zero_point[0]) == int(x.zero_point[0]),
                        "input and output zero points must be equal")
    return OpData(op=op, axes=axes, keep_dims=keep_dims)


def _xnnpack_takes(ctx: OpContext, op: str, axes: tuple[int, ...]) -> bool:
    """``VisitReduceNode``: float32 / int8 / uint8 with at least one axis. XNNPACK then
    selects the codes without looking at the quantization, so unlike LiteRT's kernels it
    also runs models whose output parameters differ from the input's (measured)."""
    name = np.dtype(ctx.input(0).dtype).name
    return (ctx.flavor.xnnpack and op in ("max", "min") and name in ("float32", "int8", "uint8")
            and np.asarray(ctx.input(1).data).size > 0)


def _prepare_quantized_prod(ctx: OpContext, axes: tuple[int, ...], keep_dims: bool) -> OpData:
    """``PrepareProd`` (tflite/kernels/reduce.cc): the per-step scaling multiplier."""
    x, out = ctx.input(0), ctx.output(0)
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    zp_in, zp_out = int(x.zero_point[0]), int(out.zero_point[0])
    if np.dtype(x.dtype) == np.int16:
        ctx.require(zp_in == 0 and zp_out == 0, "int16 zero points must be 0")
    n_in = int(np.prod(x.shape, dtype=np.int64))
    n_out = int(np.prod(out.shape, dtype=np.int64))
    multiplier = shift = 0
    if n_in and n_out:
        n = n_in // n_out
        s_in, s_out = float(np.float32(x.scale[0])), float(np.float32(out.scale[0]))
        multiplier, shift = quantize_multiplier(s_in / math.pow(s_out, 1.0 / n))
    return OpData("quantized-prod", axes, keep_dims, zp_in, zp_out, multiplier, shift,
                  copy=ctx.flavor.optimized and not axes)


def prepare_max(ctx: OpContext) -> OpData:
    """Validate, resolve axes, set the output shape.

    Mirrors: ``PrepareSimple`` / ``EvalType`` (tflite/kernels/reduce.cc),
    ``PrepareMinMaxHelper`` (micro/kernels/reduce_common.cc).
    """
    return _prepare(ctx, "max")


def prepare_min(ctx: OpContext) -> OpData:
    """As :func:`prepare_max`."""
    return _prepare(ctx, "min")


def prepare_prod(ctx: OpContext) -> OpData:
    """As :func:`prepare_max`; only the non-quantized types (see the module docstring)."""
    return _prepare(ctx, "prod")


def _rows(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Reduced axes moved last and flattened: shape (..., n), row-major within a row."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    return moved.reshape(moved.shape[: len(kept)] + (-1,))


def _select(rows: np.ndarray, op: str) -> np.ndarray:
    """Max / min of each row; among equal floats (only ``-0.0 == +0.0`` can be told
    apart) the first in the row wins, as with the strict comparison of the C reducer."""
    if rows.shape[-1] == 0 and rows.dtype == np.bool_:
        return np.full(rows.shape[:-1], op == "min")
    if rows.shape[-1] == 0:
        info = np.finfo(rows.dtype) if rows.dtype.kind == "f" else np.iinfo(rows.dtype)
        return np.full(rows.shape[:-1], info.min if op == "max" else info.max, rows.dtype)
    best = rows.max(axis=-1) if op == "max" else rows.min(axis=-1)
    if rows.dtype.kind != "f":
        return best
    first = np.argmax(rows == best[..., None], axis=-1)   # first element equal to the best
    return np.take_along_axis(rows, first[..., None], axis=-1)[..., 0]


def _prod(rows: np.ndarray) -> np.ndarray:
    """Left-to-right product starting from one (integers wrap in their own width)."""
    one = np.ones(rows.shape[:-1] + (1,), rows.dtype)
    return np.multiply.accumulate(np.concatenate([one, rows], axis=-1), axis=-1)[..., -1]


def _quantized_prod(x: np.ndarray, data: OpData) -> np.ndarray:
    """Requantize after every multiplication (module docstring), one step per reduced
    element, vectorised over the outputs."""
    if data.copy:
        return x
    rows = _rows(x.astype(np.int64), data.axes) - data.input_zero_point
    p = rows[..., 0]
    for k in range(1, rows.shape[-1]):
        p = multiply_by_quantized_multiplier_int64_x86(p * rows[..., k], data.multiplier,
                                                       data.shift)
    y = multiply_by_quantized_multiplier_int64_x86(p, data.multiplier, data.shift)
    lo, hi = qrange(x.dtype)
    return np.clip(y + data.output_zero_point, lo, hi)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Reduce ``inputs[0]`` over ``data.axes``.

    Arithmetic::

        max: out = v_0 ; for each next v in row-major order: out = v if v > out else out
        min: the same with <
        prod: out = 1 ; out = out * v   (float32 rounding after every product; integer wrap)

    Mirrors: ``reference_ops::ReduceGeneric`` (reference/reduce.h) with the reducers of
    ``EvalType`` (tflite/kernels/reduce.cc); ``EvalMinMaxHelper`` (TFLM).
    """
    out = ctx.output(0)
    x = np.asarray(inputs[0])
    if data.op == "quantized-prod":
        return [_quantized_prod(x, data).astype(out.dtype).reshape(out.shape)]
    rows = _rows(x, data.axes)
    if data.op == "prod":
        with np.errstate(over="ignore"):
            y = _prod(rows)
    else:
        y = _select(rows, data.op)
    return [np.asarray(y).reshape(out.shape).astype(out.dtype)]


REDUCE_MAX = Kernel(prepare_max, invoke)
REDUCE_MIN = Kernel(prepare_min, invoke)
REDUCE_PROD = Kernel(prepare_prod, invoke)
