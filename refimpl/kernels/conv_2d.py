"""CONV_2D: 2-D convolution, NHWC input, OHWI filter, optional grouped convolution.

Layouts
-------
input  ``[N, H, W, C_in]``            (float32 or int8, per-tensor quantized)
filter ``[C_out, KH, KW, C_in / G]``  (float32 or int8, per-tensor or per-channel on axis 0)
bias   ``[C_out]`` (float32 or int32, optional)
output ``[N, OH, OW, C_out]``
``G = C_in / filter_in_depth`` groups; output channel ``oc`` belongs to group
``oc // (C_out / G)`` and reads input channels ``g*filter_in_depth ...``.

Arithmetic (int8, LiteRT reference ``ConvPerChannel`` and TFLM)
---------------------------------------------------------------
::

    acc[n,oy,ox,oc] = sum_{fy,fx in image, ic} w[oc,fy,fx,ic] * (x[n,iy,ix,g*D+ic] + input_offset)
                      + bias[oc]                      (int32 in C; wraps on overflow)
        iy = oy*stride_h - pad_h + fy*dilation_h, ix likewise, input_offset = -zp_in
    y   = requantize(acc)[oc]                          (flavor.conv_requant; (A) for REF/TFLM)
    out = clamp(y + zp_out, act_min, act_max) -> int8
    with S_in * S_w[oc] / S_out = multiplier[oc] * 2**(shift[oc] - 31), in float64.

Vectorisation: the input is padded with ``zp_in`` (so every out-of-image tap reads
``x - zp_in == 0`` and adds nothing, exactly as skipping it does), every window is
gathered by a strided view (im2col), and the whole convolution is one GEMM
``[N*OH*OW, KH*KW*D] @ [KH*KW*D, C_out]`` per group. The GEMM runs in float32 BLAS
when ``255 * max_oc sum|w[oc]|`` < 2**24 (every partial sum is an exactly representable
integer whatever the summation order; ``arithmetic.gemm_float_dtype``), else float64.

Float32: LiteRT's reference kernel sums rounded float32 products one by one in the order
``fy, fx, ic`` (``total += x * w``), then computes ``total + bias`` and the clamp. A GEMM
would sum in another order and differ in the last bits, so the float path keeps that
order: im2col in chunks small enough to stay in cache, then ``K = KH*KW*D`` vectorised
steps ``acc += col[k] * w[k]`` over all pixels and output channels of the chunk. Padding
taps add ``0 * w = ±0``, which leaves every partial sum unchanged (a sum that starts at
+0.0 never becomes -0.0), so results are bit-identical to LiteRT's reference kernel
(finite weights assumed: ``0 * inf`` would be NaN where the C loop skips the tap).

Mirrors: tflite/kernels/conv.cc (Prepare, reference path),
kernels/internal/reference/integer_ops/conv.h ``ConvPerChannel``,
kernels/internal/reference/conv.h ``Conv`` (float), kernel_util.cc
``PopulateConvolutionQuantizationParams``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .. import arithmetic as ar
from ..context import Kernel, OpContext, TensorInfo
from .padding import (
    Window2D,
    activation_range_float,
    batch_chunks,
    clamp_float,
    fused_activation,
    pad_input,
    window_from_options,
    window_view,
)

I8Array = NDArray[np.int8]
F32Array = NDArray[np.float32]


@dataclass(frozen=True)
class ConvQuantization:
    """Quantized parameters shared by CONV_2D and DEPTHWISE_CONV_2D (int8 now, 16x8 later).

    Attributes
    ----------
    input_offset : int
        ``-zp_in`` (added to every input value before the multiply).
    output_offset : int
        ``zp_out``.
    requantize : Requantizer
        Per-output-channel multiplier / shift (float64 real multipliers, broadcast
        to ``C_out`` entries for per-tensor filters) and the flavour's rounding.
    output_activation_min, output_activation_max : int
        Fused-activation clamp in the output's integer domain.
    accumulator_bits : int
        32: C accumulates in int32 (wraps); 64 reserved for 16x8 with int64 bias
        (variant (C) requantization, ``arithmetic.multiply_by_quantized_multiplier_int64``).
    """

    input_offset: int
    output_offset: int
    requantize: ar.Requantizer
    output_activation_min: int
    output_activation_max: int
    accumulator_bits: int = 32


def _single_scale(ctx: OpContext, t: TensorInfo, role: str) -> tuple[float, int]:
    if not t.is_quantized:
        raise ctx.error(f"{role} {t.describe()} must be quantized")
    if t.is_per_channel:
        raise ctx.error(f"{role} {t.describe()} must be per-tensor quantized")
    return float(t.scale[0]), int(t.zero_point[0])


def prepare_conv_quantization(ctx: OpContext, input: TensorInfo, filter: TensorInfo,
                              bias: TensorInfo | None, output: TensorInfo, channels_out: int,
                              quantized_dimension: int, activation: int) -> ConvQuantization:
    """Validate int8 conv-style quantization and precompute the output stage.

    Checks: per-tensor input/output; filter scales count 1 or ``channels_out`` along
    ``quantized_dimension``; every filter zero point 0; bias int32 with zero points 0.
    """
    s_in, zp_in = _single_scale(ctx, input, "input")
    s_out, zp_out = _single_scale(ctx, output, "output")
    if not filter.is_quantized:
        raise ctx.error(f"filter {filter.describe()} must be quantized")
    n_scales = filter.scale.size
    if n_scales not in (1, channels_out):
        raise ctx.error(f"filter has {n_scales} scales; expected 1 or {channels_out} "
                        f"(one per output channel)")
    if n_scales > 1 and filter.quantized_dimension != quantized_dimension:
        raise ctx.error(f"per-channel filter quantized along axis {filter.quantized_dimension}; "
                        f"expected axis {quantized_dimension}")
    if filter.zero_point.size and np.any(filter.zero_point != 0):
        raise ctx.error(f"filter zero points must be 0, got {filter.zero_point.tolist()[:8]}")
    if bias is not None:
        if np.dtype(bias.dtype) != np.int32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with int8 input",
                                  supported="int32 bias")
        if bias.zero_point.size and np.any(bias.zero_point != 0):
            raise ctx.error(f"bias zero points must be 0, got {bias.zero_point.tolist()[:8]}")
    scales = np.broadcast_to(np.asarray(filter.scale, np.float32), (channels_out,))
    requantize = ar.make_requantizer(ctx.flavor.conv_requant, s_in, scales, s_out)
    act_min, act_max = ar.activation_range_quantized(activation, s_out, zp_out, output.dtype)
    return ConvQuantization(-zp_in, zp_out, requantize, act_min, act_max)


def output_stage(acc: np.ndarray, q: ConvQuantization, bias: np.ndarray | None = None,
                 out: np.ndarray | None = None, acc_bound: float | None = None) -> I8Array:
    """Integer accumulators (channel last; any exact numeric dtype) + bias -> int8 output.

    ``wrap32`` reproduces C's int32 accumulator (overflow needs absurd weights); the
    stage runs fused and blocked (:meth:`refimpl.arithmetic.Requantizer.to_output`).
    """
    return q.requantize.to_output(
        acc, bias=bias, output_offset=q.output_offset, act_min=q.output_activation_min,
        act_max=q.output_activation_max, dtype=np.int8, wrap=q.accumulator_bits == 32,
        acc_bound=acc_bound, out=out)


@dataclass(frozen=True)
class OpData:
    """Everything CONV_2D's invoke needs (field names as in LiteRT / TFLM OpData).

    Attributes
    ----------
    window : Window2D
        Output size, strides, dilations, padding.
    groups : int
        ``C_in / filter_in_depth``.
    filters_per_group : int
        ``C_out / groups``.
    gemm_dtype : type
        int8: ``np.float32`` / ``np.float64`` (provably exact, see module doc) or
        ``np.int64``; float32 input: ``np.float32`` (ordered accumulation).
    quant : ConvQuantization or None
        None for float32.
    float_activation_min, float_activation_max : np.float32
        Float clamp (float32 path only).
    acc_bound : float
        Bound on ``|acc + bias|`` (int8): 255 * max_c sum|w[c]| + max|bias|.
    """

    window: Window2D
    groups: int
    filters_per_group: int
    gemm_dtype: type
    quant: ConvQuantization | None
    float_activation_min: np.float32
    float_activation_max: np.float32
    acc_bound: float = float("inf")


def prepare(ctx: OpContext) -> OpData:
    """Validate shapes, dtypes, quantization and options; precompute the :class:`OpData`.

    The bias (input 2) may be absent (TFLM accepts that; LiteRT's Prepare insists on
    three inputs, and the converter always writes a bias).
    """
    ctx.require(len(ctx.inputs) in (2, 3), f"expected 2 or 3 inputs, got {len(ctx.inputs)}")
    ctx.require(len(ctx.outputs) == 1, f"expected 1 output, got {len(ctx.outputs)}")
    input, filter, output = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.optional_input(2)
    ctx.require(len(input.shape) == 4, f"input {input.describe()} must be 4-D (NHWC)")
    ctx.require(len(filter.shape) == 4, f"filter {filter.describe()} must be 4-D (OHWI)")
    batches, in_h, in_w, in_depth = input.shape
    channels_out, filter_h, filter_w, filter_depth = filter.shape
    ctx.require(filter_depth > 0 and in_depth % filter_depth == 0,
                f"input depth {in_depth} is not a multiple of filter depth {filter_depth}")
    groups = in_depth // filter_depth
    ctx.require(channels_out % groups == 0,
                f"{channels_out} output channels do not split into {groups} groups")
    if bias is not None:
        ctx.require(bias.size == channels_out,
                    f"bias {bias.describe()} must have {channels_out} elements")

    dtypes = (np.dtype(input.dtype), np.dtype(filter.dtype), np.dtype(output.dtype))
    activation = fused_activation(ctx)
    window = window_from_options(ctx, in_h, in_w, filter_h, filter_w, with_dilation=True)
    k = filter_h * filter_w * filter_depth
    if dtypes == (np.dtype(np.float32),) * 3:
        if bias is not None and np.dtype(bias.dtype) != np.float32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with float32 input")
        quant, gemm_dtype, acc_bound = None, np.float32, float("inf")
    elif dtypes == (np.dtype(np.int8),) * 3:
        quant = prepare_conv_quantization(ctx, input, filter, bias, output, channels_out,
                                          quantized_dimension=0, activation=activation)
        if filter.data is not None:
            colsum = np.abs(filter.data.astype(np.int64)).reshape(channels_out, -1).sum(axis=1)
            colsum_max = int(colsum.max()) if colsum.size else 0
        else:
            colsum_max = 128 * k  # worst case for a runtime-provided filter
        gemm_dtype = ar.gemm_float_dtype(255, colsum_max)
        acc_bound = 255.0 * colsum_max + _max_abs(bias)
    else:
        raise ctx.unsupported(supported="float32, or int8 input/output with int8 filter")
    lo, hi = activation_range_float(activation)
    ctx.set_output_shape(0, (batches, window.out_h, window.out_w, channels_out))
    return OpData(window, groups, channels_out // groups, gemm_dtype, quant, lo, hi, acc_bound)


def _max_abs(bias: TensorInfo | None) -> float:
    """max |bias| of a constant bias, 0 without one, infinity when it is not constant."""
    if bias is None:
        return 0.0
    if bias.data is None:
        return float("inf")
    return float(np.abs(bias.data.astype(np.int64)).max(initial=0))


#: im2col chunk budgets: int8 GEMM (large blocks suit BLAS) and the float32 ordered
#: accumulation (the accumulator and the columns should stay in cache).
_GEMM_CHUNK_BYTES = 2 * 2**20
_FLOAT_CHUNK_BYTES = 4 * 2**20


def _weights_matrix(filter: np.ndarray, groups: int, dtype: type) -> np.ndarray:
    """OHWI filter -> ``[G, KH*KW*D, C_out/G]`` (row order fy, fx, ic, as im2col columns)."""
    c_out = filter.shape[0]
    w = filter.reshape(groups, c_out // groups, -1)  # [G, Og, KH*KW*D]
    return np.ascontiguousarray(w.transpose(0, 2, 1), dtype=dtype)


def _convolve_int(padded: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
                  data: OpData) -> I8Array:
    """Exact integer convolution (one GEMM per group) and output stage, chunk by chunk.

    ``padded``: offset-corrected, padded input in ``data.gemm_dtype``;
    ``weights``: :func:`_weights_matrix` in the same dtype. Each batch chunk's exact GEMM
    result goes straight through :func:`output_stage` into the int8 output.
    """
    win, groups = data.window, data.groups
    assert data.quant is not None
    n, c = padded.shape[0], padded.shape[3]
    d = c // groups
    k = win.filter_h * win.filter_w * d
    c_out = groups * data.filters_per_group
    out = np.empty((n, win.out_h, win.out_w, c_out), dtype=np.int8)
    row_bytes = win.out_w * (k * groups + c_out) * np.dtype(data.gemm_dtype).itemsize
    for b, rows in batch_chunks(n, win.out_h, row_bytes, _GEMM_CHUNK_BYTES):
        view = window_view(padded[b], win, rows)  # [n', oh', ow', KH, KW, C]
        nb, oh, ow = view.shape[:3]
        m = nb * oh * ow
        # split C into (G, D), bring the group axis first: [G, n', oh', ow', KH, KW, D]
        view = view.reshape(nb, oh, ow, win.filter_h, win.filter_w, groups, d)
        cols = view.transpose(5, 0, 1, 2, 3, 4, 6).reshape(groups, m, k)  # im2col copy
        acc = ar.exact_matmul(cols, weights, data.gemm_dtype, as_int64=False)  # [G, m, Og]
        if groups > 1:
            acc = acc.transpose(1, 0, 2)
        out[b, rows] = output_stage(acc.reshape(nb, oh, ow, c_out), data.quant, bias,
                                    acc_bound=data.acc_bound)
    return out


def _convolve_float(padded: F32Array, filter: F32Array, data: OpData) -> F32Array:
    """float32 convolution summed in the upstream order ``fy, fx, ic``; ``[N, OH, OW, C_out]``.

    ``padded``: input padded with 0.0. Each step ``acc += col[k] * w[k]`` rounds the
    product and the sum to float32, like ``total += x * w`` in C.
    """
    win, groups, og = data.window, data.groups, data.filters_per_group
    n, c = padded.shape[0], padded.shape[3]
    d = c // groups
    k = win.filter_h * win.filter_w * d
    weights = _weights_matrix(filter, groups, np.float32)  # [G, K, Og]
    out = np.empty((n, win.out_h, win.out_w, groups * og), np.float32)
    row_bytes = win.out_w * (k + 2 * og) * 4
    for b, rows in batch_chunks(n, win.out_h, row_bytes, _FLOAT_CHUNK_BYTES):
        view = window_view(padded[b], win, rows)  # [n', oh', ow', KH, KW, C]
        nb, oh, ow = view.shape[:3]
        m = nb * oh * ow
        for g in range(groups):
            group_view = view[..., g * d:(g + 1) * d]
            cols_t = np.ascontiguousarray(group_view.transpose(3, 4, 5, 0, 1, 2)).reshape(k, m)
            acc = np.zeros((m, og), np.float32)
            product = np.empty_like(acc)
            for tap in range(k):
                np.multiply(cols_t[tap][:, None], weights[g, tap], out=product)
                acc += product
            out[b, rows, :, g * og:(g + 1) * og] = acc.reshape(nb, oh, ow, og)
    return out


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """``[input, filter, bias or None]`` -> ``[output]`` (int8 or float32, NHWC)."""
    x, filter = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    win = data.window
    n, c_out = x.shape[0], filter.shape[0]
    if data.quant is None:
        return [_invoke_float(x, filter, bias, data)]
    q = data.quant
    if win.is_empty:
        return [np.zeros((n, win.out_h, win.out_w, c_out), np.int8)]
    # Pad with zp_in, then subtract it everywhere: padding taps become exact zeros.
    padded = pad_input(x, win, -q.input_offset, dtype=data.gemm_dtype)
    padded += q.input_offset
    weights = _weights_matrix(filter, data.groups, data.gemm_dtype)
    return [_convolve_int(padded, weights, bias, data)]


def _invoke_float(x: F32Array, filter: F32Array, bias: F32Array | None,
                  data: OpData) -> F32Array:
    win = data.window
    if win.is_empty:
        return np.zeros((x.shape[0], win.out_h, win.out_w, filter.shape[0]), np.float32)
    y = _convolve_float(pad_input(x, win, 0.0, dtype=np.float32), filter, data)
    if bias is not None:
        y += bias.astype(np.float32)  # total + bias, float32
    return clamp_float(y, data.float_activation_min, data.float_activation_max)


CONV_2D = Kernel(prepare, invoke)


# --------------------------------------------------------------------------------------
# Loop versions in the upstream loop order, for tests only (slow).
# --------------------------------------------------------------------------------------
def _reference_loop_int8(x: I8Array, filter: I8Array, bias: np.ndarray | None,
                         data: OpData) -> I8Array:
    """``ConvPerChannel`` written as loops: the oracle the vectorised path is tested against."""
    q, win = data.quant, data.window
    assert q is not None
    n, _, _, _ = x.shape
    c_out, kh, kw, depth = filter.shape
    acc = np.zeros((n, win.out_h, win.out_w, c_out), np.int64)
    for batch in range(n):
        for out_y in range(win.out_h):
            in_y_origin = out_y * win.stride_h - win.padding.height
            for out_x in range(win.out_w):
                in_x_origin = out_x * win.stride_w - win.padding.width
                for out_channel in range(c_out):
                    group = out_channel // data.filters_per_group
                    total = 0
                    for filter_y in range(kh):
                        in_y = in_y_origin + win.dilation_h * filter_y
                        for filter_x in range(kw):
                            in_x = in_x_origin + win.dilation_w * filter_x
                            if not (0 <= in_y < win.in_h and 0 <= in_x < win.in_w):
                                continue  # out-of-image taps are skipped
                            for in_channel in range(depth):
                                input_val = int(x[batch, in_y, in_x, group * depth + in_channel])
                                filter_val = int(filter[out_channel, filter_y, filter_x,
                                                        in_channel])
                                total += filter_val * (input_val + q.input_offset)
                    if bias is not None:
                        total += int(bias[out_channel])
                    acc[batch, out_y, out_x, out_channel] = total
    return output_stage(acc, q)


def _reference_loop_float(x: F32Array, filter: F32Array, bias: F32Array | None,
                          data: OpData) -> F32Array:
    """Float ``Conv`` as loops, summing float32 products in the upstream order."""
    win = data.window
    n = x.shape[0]
    c_out, kh, kw, depth = filter.shape
    out = np.zeros((n, win.out_h, win.out_w, c_out), np.float32)
    for batch in range(n):
        for out_y in range(win.out_h):
            in_y_origin = out_y * win.stride_h - win.padding.height
            for out_x in range(win.out_w):
                in_x_origin = out_x * win.stride_w - win.padding.width
                for out_channel in range(c_out):
                    group = out_channel // data.filters_per_group
                    total = np.float32(0.0)
                    for filter_y in range(kh):
                        in_y = in_y_origin + win.dilation_h * filter_y
                        for filter_x in range(kw):
                            in_x = in_x_origin + win.dilation_w * filter_x
                            if not (0 <= in_y < win.in_h and 0 <= in_x < win.in_w):
                                continue
                            for in_channel in range(depth):
                                total = np.float32(
                                    total + x[batch, in_y, in_x, group * depth + in_channel]
                                    * filter[out_channel, filter_y, filter_x, in_channel])
                    b = bias[out_channel] if bias is not None else np.float32(0.0)
                    out[batch, out_y, out_x, out_channel] = total + b
    return clamp_float(out, data.float_activation_min, data.float_activation_max)
