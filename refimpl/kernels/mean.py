"""MEAN and SUM over constant axes: float32, and int8 / uint8 / int16 quantized.

Inputs: ``input`` (any rank) and ``axis`` (a constant int32 tensor; negative axes count
from the end; duplicates are ignored). ``keep_dims`` (ReducerOptions) keeps the reduced
axes with size 1; otherwise they are removed.

Quantized arithmetic (arithmetic.md §2.10), identical in LiteRT's reference kernel and
TFLM for MEAN: the integer sum of the raw codes is rescaled by a multiplier that is
pre-divided by the element count. There is no separate "same scale" fast path in
either runtime's reference code (LiteRT's optimized kernels differ: see below).

SUM differs between the runtimes: LiteRT's reference SUM hands int8 data to the
routine as *uint8* (``GetTensorData<uint8_t>`` in ``QuantizedMeanOrSum<T, kReference>``,
tflite/kernels/reduce.cc), so int8 codes are summed as ``q mod 256`` and the result is
clamped to [0, 255] and stored as that byte. refimpl reproduces this for the
``tflite-ref`` flavour; TFLM (``tflm``) treats int8 as int8.

The same cast makes LiteRT's reference **int16 SUM** unusable: it sums the first half
of the int16 buffer's *bytes* as uint8 values and writes one byte per output element
into the first half of the int16 output buffer, leaving the other bytes as they were
(observed on ai-edge-litert 2.3.0: outputs such as -1 = 0xFFFF and 0xD0FF, whose high
bytes are stale memory). No exact reference exists, so refimpl raises
:class:`~refimpl.errors.UnsupportedOpError` for int16 SUM in the ``tflite-ref`` flavour;
the ``tflm`` flavour computes it (TFLM's int16 SUM is a proper int16 reduction).
int16 MEAN is unaffected (``EvalQuantizedMean`` passes the real type).

LiteRT's optimized kernels (``tflite-builtin``; measured on ai-edge-litert 2.3.0):

* int8 and uint8 MEAN with ``keep_dims``, rank 4, axes {1, 2}: ``optimized_integer_ops::Mean``
  / ``optimized_ops::Mean`` (same structure), a
  float32-derived multiplier and bias on the raw sums (arithmetic.md §2.10). Correction
  to the doc: only whole blocks of 16 channels take the vector (D) rounding; the last
  ``depth % 16`` channels go through the scalar loop with the (A) two-rounding multiplier
  (single-threaded, as in the Python interpreter).
* SUM of every quantized type (uint8 / int8 / int16) goes through
  ``optimized_ops::QuantizedMeanOrSum`` (not the reference routine the doc's §2.10 names):
  the raw sum ``S`` of the codes as read in their own type, then
  ``std::round(fl32(fl32(float(S) * scale) + bias)) + zp_out`` with
  ``scale = fl32(s_in / s_out)``, ``bias = fl32(fl32(-zp_in * scale) * float(n))``.
  int16 SUM is therefore exact and reproducible on the optimized runtime (and under
  ``xnnpack``, which has no int16 SUM and falls back to it); only the reference kernel's
  int16 SUM is refused.

Under ``xnnpack`` int8 and uint8 MEAN / SUM use XNNPACK's float-scaled formula
(arithmetic.md §2.10, "XNN qs8 mean"; the qu8 operator computes the same way, measured).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_neon,
                          qrange, quantize_multiplier, round_half_away, wrap32)
from ..context import Kernel, OpContext
from ..flavors import TFLM


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"`` or ``"quantized"``.
    compute_sum : bool
        SUM (True) or MEAN (False).
    axes : tuple of int
        Resolved reduced axes, ascending, no duplicates.
    keep_dims : bool
    num_elements : int
        Number of input elements per output (product of the reduced dimensions).
    input_zero_point, output_zero_point : int
    output_multiplier, output_shift : int
        MEAN: ``s_in/s_out`` as Q0.31 and shift, already divided by ``num_elements``;
        SUM: ``s_in/s_out`` itself. ``shift > 0`` is a left shift.
    compute_dtype : numpy dtype
        Integer type the runtime computes in (uint8 for LiteRT's int8 SUM, see above).
    empty_fill : float
        Value written when the input has no elements (LiteRT: NaN cast to the type,
        i.e. 0 for integers; TFLM: 0).
    """

    kind: str
    compute_sum: bool
    axes: tuple[int, ...]
    keep_dims: bool
    num_elements: int
    input_zero_point: int = 0
    output_zero_point: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    compute_dtype: np.dtype = np.dtype(np.int8)
    empty_fill: float = 0.0
    #: ``"ref"``; ``"opt_hw"`` (LiteRT's optimized int8 MEAN over H and W with keep_dims);
    #: ``"xnn"`` (XNNPACK's float-scaled mean)
    variant: str = "ref"
    opt_bias: int = 0
    xnn_scale: float = 0.0
    xnn_offset: float = 0.0


def resolve_axes(ctx: OpContext, rank: int) -> tuple[int, ...]:
    """Axes from the constant second input: wrap negatives, check range, drop duplicates.

    Mirrors: ``ResolveAxis`` (reference/reduce.h) / ``ResolveAxisForShape`` (reduce.cc).
    """
    axis = ctx.input(1)
    if axis.data is None:
        raise ctx.unsupported("the axis input must be a constant tensor")
    if np.dtype(axis.dtype) != np.int32:
        raise ctx.error(f"axis tensor {axis.describe()} must be int32")
    if rank == 0:
        return ()
    resolved: list[int] = []
    for a in np.asarray(axis.data).reshape(-1).tolist():
        current = a + rank if a < 0 else a
        ctx.require(0 <= current < rank, f"axis {a} is out of range for rank {rank}")
        if current not in resolved:
            resolved.append(current)
    return tuple(sorted(resolved))


def _prepare(ctx: OpContext, compute_sum: bool) -> OpData:
    """Shared Prepare of MEAN and SUM (see :func:`prepare_mean`)."""
    x = ctx.input(0)
    out = ctx.output(0)
    tflm = ctx.flavor.name == TFLM.name
    rank = len(x.shape)
    axes = resolve_axes(ctx, rank)
    keep_dims = bool(ctx.options.keep_dims) if ctx.options is not None else False
    if keep_dims:
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
    else:
        out_shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
    ctx.set_output_shape(0, out_shape)
    num_elements = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))

    in_dtype, out_dtype = np.dtype(x.dtype), np.dtype(out.dtype)
    if in_dtype != out_dtype:
        raise ctx.unsupported(f"input {in_dtype.name} but output {out_dtype.name}")
    if in_dtype == np.float32:
        return OpData(kind="float", compute_sum=compute_sum, axes=axes, keep_dims=keep_dims,
                      num_elements=num_elements,
                      empty_fill=0.0 if (tflm or compute_sum) else float("nan"))
    allowed = [np.dtype(np.int8), np.dtype(np.int16)]
    if not tflm:
        allowed.append(np.dtype(np.uint8))
    if in_dtype not in allowed:
        raise ctx.unsupported(supported="float32, " + ", ".join(d.name for d in allowed))
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    zp_in, zp_out = int(x.zero_point[0]), int(out.zero_point[0])
    if in_dtype == np.int16:
        ctx.require(zp_in == 0 and zp_out == 0, "int16 input and output zero points must be 0")
    # Real multiplier in double from the float32 scales.
    m0, s0 = quantize_multiplier(float(np.float32(x.scale[0])) / float(np.float32(out.scale[0])))
    multiplier, shift = m0, s0
    if not compute_sum and num_elements > 0:
        # Fold 1/n into the multiplier: k = min(floor(log2 n), 32, 31 + s0) extra bits.
        k = min(num_elements.bit_length() - 1, 32, 31 + s0)
        multiplier = (m0 << k) // num_elements  # C int64 division; both operands >= 0
        shift = s0 - k
    if compute_sum and in_dtype == np.int16 and not tflm and not ctx.flavor.optimized:
        raise ctx.unsupported(
            "int16 SUM: LiteRT's reference kernel reads the int16 data as uint8 bytes and "
            "writes only half of the output bytes (the rest is stale memory), so it has no "
            "reproducible result; run with flavor 'tflm' for TFLM's int16 SUM"
        )
    compute_dtype = in_dtype
    if compute_sum and in_dtype == np.int8 and not tflm and not ctx.flavor.optimized:
        compute_dtype = np.dtype(np.uint8)  # LiteRT reference SUM reads int8 as uint8
    variant, opt_bias, xnn_scale, xnn_offset = "ref", 0, 0.0, 0.0
    s_in32, s_out32 = np.float32(x.scale[0]), np.float32(out.scale[0])
    if in_dtype in (np.int8, np.uint8) and ctx.flavor.xnnpack and num_elements > 0:
        variant = "xnn"
        inv_n = np.float32(1.0) if compute_sum else np.float32(1.0 / np.float32(num_elements))
        xnn_scale = np.float32(np.float32(s_in32 / s_out32) * inv_n)
        nzp = np.float32(num_elements * zp_in)
        xnn_offset = float(np.float32(zp_out - np.float32(nzp * xnn_scale)))
        xnn_scale = float(xnn_scale)
    elif (not compute_sum and in_dtype in (np.int8, np.uint8) and ctx.flavor.optimized
          and keep_dims and rank == 4 and axes == (1, 2) and num_elements > 0):
        variant = "opt_hw"
        real = np.float32(s_in32 / np.float32(np.float32(num_elements) * s_out32))
        multiplier, shift = quantize_multiplier(float(real))
        t = np.float32(np.float32(np.float32(zp_in) * s_in32) / s_out32)
        half = np.float32(0.5)
        opt_bias = zp_out - int(np.float32(t + half) if t > 0 else np.float32(t - half))
    elif compute_sum and ctx.flavor.optimized and num_elements > 0:
        # optimized_ops::QuantizedMeanOrSum (sum): float32 scale and bias, round half away
        variant = "opt_sum"
        xnn_scale = np.float32(s_in32 / s_out32)
        xnn_offset = float(np.float32(np.float32(np.float32(-zp_in) * xnn_scale)
                                      * np.float32(num_elements)))
        xnn_scale = float(xnn_scale)
    return OpData(kind="quantized", compute_sum=compute_sum, axes=axes, keep_dims=keep_dims,
                  num_elements=num_elements, input_zero_point=zp_in, output_zero_point=zp_out,
                  output_multiplier=multiplier, output_shift=shift, compute_dtype=compute_dtype,
                  variant=variant, opt_bias=opt_bias, xnn_scale=xnn_scale, xnn_offset=xnn_offset)


def prepare_mean(ctx: OpContext) -> OpData:
    """Validate, resolve axes, set the output shape, fold ``1/n`` into the multiplier.

    Arithmetic (double precision as upstream)::

        m0, s0 = QuantizeMultiplier(f64(s_in) / f64(s_out))
        n = product of the reduced dimensions
        k = min(floor(log2 n), 32, 31 + s0)
        output_multiplier = (m0 << k) // n        # int64, truncating (operands >= 0)
        output_shift = s0 - k

    Mirrors: ``PrepareMeanOrSum`` (tflite/kernels/reduce.cc), ``PrepareMeanOrSumHelper``
    (tensorflow/lite/micro/kernels/reduce_common.cc), and the multiplier adjustment at
    the top of ``QuantizedMeanOrSum`` (reference/reduce.h).
    """
    return _prepare(ctx, compute_sum=False)


def prepare_sum(ctx: OpContext) -> OpData:
    """As :func:`prepare_mean` without the division by ``n`` (``k = 0``)."""
    return _prepare(ctx, compute_sum=True)


def _rows(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Move the reduced axes last (in ascending order) and flatten them: shape (..., n).

    Within a row the elements then follow the input's row-major order, which is the
    order in which the reference kernels accumulate.
    """
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    return moved.reshape(moved.shape[: len(kept)] + (-1,))


def _reduce_float(x: np.ndarray, data: OpData) -> np.ndarray:
    """Sequential float32 sum (left to right from +0.0f), then ``/ float(n)`` for MEAN.

    ``np.add.accumulate`` is strictly sequential (``np.sum`` is pairwise), so this is
    bit-exact with the runtimes' loops.
    """
    rows = _rows(np.asarray(x, np.float32), data.axes)
    total = np.add.accumulate(rows, axis=-1, dtype=np.float32)[..., -1]
    total = (total + np.float32(0)).astype(np.float32)  # the C accumulator starts at +0.0f
    if data.compute_sum:
        return total
    return (total / np.float32(data.num_elements)).astype(np.float32)


def _reduce_quantized(x: np.ndarray, data: OpData) -> np.ndarray:
    """Integer path; returns int64 codes of ``data.compute_dtype``."""
    codes = np.asarray(x).astype(data.compute_dtype).astype(np.int64)  # int8 -> uint8 = mod 256
    rows = _rows(codes, data.axes)
    total = wrap32(rows.sum(axis=-1))  # int32 accumulation wraps; order irrelevant
    lo, hi = qrange(data.compute_dtype)
    if data.variant == "opt_hw":
        # optimized_integer_ops::Mean: (D) on the raw sum, zero points folded into a bias
        # in blocks of 16 channels; the last depth % 16 channels take the scalar (A) rounding
        # (MeanImpl's tail loop; one thread assumed, as in the Python interpreter)
        y = multiply_by_quantized_multiplier_neon(total, data.output_multiplier, data.output_shift)
        body = (total.shape[-1] // 16) * 16
        y[..., body:] = multiply_by_quantized_multiplier(
            total[..., body:], data.output_multiplier, data.output_shift)
        return np.clip(y + data.opt_bias, lo, hi)
    if data.variant == "xnn":
        # XNNPACK qs8 mean: float32 scale and offset, round half to even
        v = (total.astype(np.float32) * np.float32(data.xnn_scale)).astype(np.float32)
        v = (v + np.float32(data.xnn_offset)).astype(np.float32)
        return np.clip(np.rint(v), lo, hi).astype(np.int64)
    if data.variant == "opt_sum":
        # LiteRT optimized SUM: fl32(fl32(float(S) * scale) + bias), std::round, then + zp_out
        v = (total.astype(np.float32) * np.float32(data.xnn_scale)).astype(np.float32)
        v = (v + np.float32(data.xnn_offset)).astype(np.float32)
        r = np.clip(round_half_away(v.astype(np.float64)), -2.0**31, 2.0**31 - 1)
        return np.clip(r.astype(np.int64) + data.output_zero_point, lo, hi)
    shifted = wrap32(total - data.input_zero_point * data.num_elements)
    scaled = multiply_by_quantized_multiplier(shifted, data.output_multiplier, data.output_shift)
    return np.clip(scaled + data.output_zero_point, lo, hi)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Reduce ``inputs[0]`` over ``data.axes``.

    Arithmetic (quantized; ``S`` = sum of the raw codes over the reduced axes)::

        shifted = int32(S - zp_in * n)                      # wraps like the C cast
        out = clamp(MBQM_double(shifted, output_multiplier, output_shift) + zp_out)

    Optimized variants (``data.variant``): ``opt_hw`` (D)/(A) on the raw sums plus a bias,
    ``opt_sum`` float32 scale and bias with round half away, ``xnn`` float32 scale and
    offset with round half to even (see the module docstring).

    Float: sequential float32 sum, then (MEAN) a float32 division by ``float(n)``.
    An input with no elements gives ``data.empty_fill`` everywhere.

    Mirrors: ``QuantizedMeanOrSum`` and ``Mean<float, float>`` (reference/reduce.h),
    ``QuantizedMeanOrSum`` (optimized/reduce.h), ``MeanImpl`` (optimized/integer_ops/mean.h),
    ``EvalMean`` / ``EvalSum`` (tflite/kernels/reduce.cc), ``EvalMeanHelper`` /
    ``EvalSumHelper`` (micro/kernels/reduce_common.cc).
    """
    out = ctx.output(0)
    x = np.asarray(inputs[0])
    if x.size == 0:
        return [np.full(out.shape, data.empty_fill).astype(out.dtype)]
    if data.kind == "float":
        y = _reduce_float(x, data)
    else:
        y = _reduce_quantized(x, data).astype(data.compute_dtype).view(out.dtype)
    return [np.asarray(y).reshape(out.shape).astype(out.dtype)]


MEAN = Kernel(prepare_mean, invoke)
SUM = Kernel(prepare_sum, invoke)
