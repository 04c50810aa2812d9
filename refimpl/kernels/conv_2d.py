"""CONV_2D: 2-D convolution, NHWC input, OHWI filter, optional grouped convolution.

Layouts
-------
input  ``[N, H, W, C_in]``            (float32, int8 or int16; per-tensor quantized)
filter ``[C_out, KH, KW, C_in / G]``  (float32 or int8, per-tensor or per-channel on axis 0)
bias   ``[C_out]`` (float32, int32 or int64, optional)
output ``[N, OH, OW, C_out]``
``G = C_in / filter_in_depth`` groups; output channel ``oc`` belongs to group
``oc // (C_out / G)`` and reads input channels ``g*filter_in_depth ...``.

Four kinds, chosen by (input, filter, output) dtypes: float32; int8; 16x8 (int16
activations, int8 filter); hybrid (float32 activations, int8 filter, float32 output).

Arithmetic (int8, LiteRT reference ``ConvPerChannel`` and TFLM)
---------------------------------------------------------------
::

    acc[n,oy,ox,oc] = sum_{fy,fx in image, ic} w[oc,fy,fx,ic] * (x[n,iy,ix,g*D+ic] + input_offset)
                      + bias[oc]                      (int32 in C; wraps on overflow)
        iy = oy*stride_h - pad_h + fy*dilation_h, ix likewise, input_offset = -zp_in
    y   = requantize(acc)[oc]                          (flavor.conv_requant; (A) for REF/TFLM)
    out = clamp(y + zp_out, act_min, act_max) -> int8
    with S_in * S_w[oc] / S_out = multiplier[oc] * 2**(shift[oc] - 31), in float64.

Arithmetic (16x8, arithmetic.md §2.2)
-------------------------------------
The same sum without input or output offsets (both zero points must be 0), in the
accumulator type of the bias: int64 bias -> int64 accumulator and variant (C)
(``multiply_by_quantized_multiplier_int64``: 15-16 bit multiplier, one rounding half
up); int32 bias -> int32 accumulator (wraps) and variant (A). Which one applies is
:func:`accumulator_bits_16x8`.

Arithmetic (hybrid, arithmetic.md §3.2; LiteRT only)
----------------------------------------------------
Per batch element ``n`` the whole image is quantized to int8 (:mod:`.hybrid`), then

* per-channel filter scales that differ (or groups > 1): asymmetric quantization
  ``(q, sf_n, zp_n)``, ``acc = sum_{in image} w * (q - zp_n)`` (int32), then

  - ``reference_ops::HybridConvPerChannel`` (``tflite-ref``; and ``tflite-builtin`` for a
    grouped convolution, which LiteRT's optimized kernel hands to the reference one)::

        out = clamp(fl32(fl32(fl32(float(acc) * s_w[oc]) * sf_n) + bias[oc]))

  - ``optimized_ops::HybridConvPerChannel`` (``tflite-builtin``, one group: im2col padded
    with ``zp_n``, int8 GEMM, then ``acc - zp_n * rowsum``; the same integer)::

        out = clamp(fl32(fl32(float(acc) * fl32(s_w[oc] * sf_n)) + bias[oc]))

* otherwise (one scale, or all scales equal): symmetric quantization and
  ``optimized_ops::HybridConv`` (used by every resolver)::

      sf_n = fl32(sf_n * s_w[0]) ; acc = sum_{in image} w * q
      out = clamp(fl32(fl32(0 + fl32(float(acc) * sf_n)) + bias[oc]))

Vectorisation: the input is padded with ``zp_in`` (so every out-of-image tap reads
``x - zp_in == 0`` and adds nothing, exactly as skipping it does), every window is
gathered by a strided view (im2col), and the whole convolution is one GEMM
``[N*OH*OW, KH*KW*D] @ [KH*KW*D, C_out]`` per group. The GEMM runs in float32 BLAS
when ``max|x - zp_in| * max_oc sum|w[oc]|`` < 2**24 (every partial sum is an exactly
representable integer whatever the summation order; ``arithmetic.gemm_float_dtype``),
else float64 (exact below 2**53: int16 inputs, |x| <= 32768, get there), else int64.

Float32: LiteRT's reference kernel sums rounded float32 products one by one in the order
``fy, fx, ic`` (``total += x * w``), then computes ``total + bias`` and the clamp. A GEMM
would sum in another order and differ in the last bits, so the float path keeps that
order: im2col in chunks small enough to stay in cache, then ``K = KH*KW*D`` vectorised
steps ``acc += col[k] * w[k]`` over all pixels and output channels of the chunk. Padding
taps add ``0 * w = ±0``, which leaves every partial sum unchanged (a sum that starts at
+0.0 never becomes -0.0), so results are bit-identical to LiteRT's reference kernel
(finite weights assumed: ``0 * inf`` would be NaN where the C loop skips the tap).

Mirrors: tflite/kernels/conv.cc (Prepare, reference path, EvalQuantizedPerChannel16x8,
EvalHybridPerChannel, EvalHybrid), kernels/internal/reference/integer_ops/conv.h
``ConvPerChannel`` (int8 and int16), kernels/internal/reference/conv.h ``Conv`` (float),
``HybridConvPerChannel``, optimized_ops.h ``HybridConv``, kernel_util.cc
``PopulateConvolutionQuantizationParams``; tflite-micro micro/kernels/conv.cc (16x8
accumulator choice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from .. import arithmetic as ar
from ..context import Kernel, OpContext, TensorInfo
from ..flavors import Requant
from . import hybrid, xnnpack_qd8
from .xnnpack_checks import delegates_qs8_gemm
from .padding import (
    Window2D,
    activation_range_float,
    batch_chunks,
    clamp_float,
    fused_activation,
    option,
    pad_input,
    window_from_options,
    window_view,
)

I8Array = NDArray[np.int8]
F32Array = NDArray[np.float32]

#: schema ``TensorType`` values that ``quantized_bias_type`` may hold.
TENSOR_TYPE_FLOAT32, TENSOR_TYPE_INT32, TENSOR_TYPE_INT64 = 0, 2, 4

_INT8, _INT16, _INT32, _INT64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
_FLOAT32 = np.dtype(np.float32)


@dataclass(frozen=True)
class ConvQuantization:
    """Quantized parameters shared by CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV.

    Attributes
    ----------
    input_offset : int
        ``-zp_in`` (added to every input value before the multiply; 0 for int16).
    output_offset : int
        ``zp_out`` (0 for int16).
    requantize : Requantizer
        Per-output-channel multiplier / shift (float64 real multipliers, broadcast
        to ``C_out`` entries for per-tensor filters) and the flavour's rounding.
    output_activation_min, output_activation_max : int
        Fused-activation clamp in the output's integer domain.
    accumulator_bits : int
        32: C accumulates in int32 (wraps) and requantizes with ``requantize``;
        64: 16x8 with an int64 accumulator, requantized with variant (C)
        (``arithmetic.multiply_by_quantized_multiplier_int64``).
    output_dtype : np.dtype
        int8 or int16.
    """

    input_offset: int
    output_offset: int
    requantize: ar.Requantizer
    output_activation_min: int
    output_activation_max: int
    accumulator_bits: int = 32
    output_dtype: np.dtype = _INT8


def _single_scale(ctx: OpContext, t: TensorInfo, role: str) -> tuple[float, int]:
    if not t.is_quantized:
        raise ctx.error(f"{role} {t.describe()} must be quantized")
    if t.is_per_channel:
        raise ctx.error(f"{role} {t.describe()} must be per-tensor quantized")
    return float(t.scale[0]), int(t.zero_point[0])


def accumulator_bits_16x8(ctx: OpContext, bias: TensorInfo | None) -> int:
    """Accumulator width of a 16x8 conv-style op: 32 or 64 (arithmetic.md §2.2).

    LiteRT (CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV) follows the op option
    ``quantized_bias_type``: INT32 -> int32 accumulator, INT64 or unset (FLOAT32) ->
    int64; a bias must then have that type. With the option unset LiteRT reads *any*
    bias as int64, so an int32 bias there would be read out of bounds: refused.
    TFLM follows the bias dtype (the option only when there is no bias), except
    TRANSPOSE_CONV, which always accumulates in int64 (int16 biases are widened; int32
    ones would be misread: refused). DEPTHWISE_CONV_2D takes int64 (or no) bias only,
    in both runtimes.
    """
    tflm = ctx.flavor.name == "tflm"
    qbt = option(ctx, "quantized_bias_type", TENSOR_TYPE_FLOAT32)
    bias_dtype = None if bias is None else np.dtype(bias.dtype)
    what = "no bias" if bias is None else f"16x8 bias {bias.describe()}"
    if ctx.op_name == "DEPTHWISE_CONV_2D":
        if bias_dtype not in (None, _INT64):
            raise ctx.error(f"{what} must be int64")
        return 64
    if ctx.op_name == "TRANSPOSE_CONV" and tflm:
        if bias_dtype == _INT32:
            raise ctx.unsupported(f"int32 {what} on TRANSPOSE_CONV: TFLM reads it as int64",
                                  supported="int64 or int16 bias")
        if bias_dtype not in (None, _INT64, _INT16):
            raise ctx.error(f"{what} must be int64 or int16")
        return 64
    if bias_dtype not in (None, _INT32, _INT64):
        raise ctx.error(f"{what} must be int32 or int64")
    if tflm:
        if bias_dtype is not None:
            return 32 if bias_dtype == _INT32 else 64
        return 32 if qbt == TENSOR_TYPE_INT32 else 64
    if qbt not in (TENSOR_TYPE_FLOAT32, TENSOR_TYPE_INT32, TENSOR_TYPE_INT64):
        raise ctx.error(f"quantized_bias_type {qbt} is neither INT32 (2) nor INT64 (4)")
    if qbt == TENSOR_TYPE_FLOAT32:
        if bias_dtype == _INT32:
            raise ctx.unsupported(f"int32 {what} without quantized_bias_type INT32: LiteRT "
                                  "reads it as int64",
                                  supported="int64 bias, or int32 with the option set")
        return 64
    expected = _INT32 if qbt == TENSOR_TYPE_INT32 else _INT64
    if bias_dtype is not None and bias_dtype != expected:
        raise ctx.error(f"{what} does not match quantized_bias_type {expected.name}")
    return 32 if qbt == TENSOR_TYPE_INT32 else 64


def prepare_conv_quantization(ctx: OpContext, input: TensorInfo, filter: TensorInfo,
                              bias: TensorInfo | None, output: TensorInfo, channels_out: int,
                              quantized_dimension: int, activation: int,
                              reference_only: bool = False) -> ConvQuantization:
    """Validate int8 or 16x8 conv-style quantization and precompute the output stage.

    Checks: per-tensor input/output; filter scales count 1 or ``channels_out`` along
    ``quantized_dimension``; every filter zero point 0; bias zero points 0; int8: bias
    int32; int16: input and output zero points 0, bias per :func:`accumulator_bits_16x8`.
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
    if bias is not None and bias.zero_point.size and np.any(bias.zero_point != 0):
        raise ctx.error(f"bias zero points must be 0, got {bias.zero_point.tolist()[:8]}")
    out_dtype = np.dtype(output.dtype)
    if np.dtype(input.dtype) == _INT16:
        if zp_in != 0 or zp_out != 0:
            raise ctx.error(f"int16 zero points must be 0, got input {zp_in}, output {zp_out}")
        bits = accumulator_bits_16x8(ctx, bias)
    else:
        if bias is not None and np.dtype(bias.dtype) != _INT32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with int8 input",
                                  supported="int32 bias")
        bits = 32
    scales = np.broadcast_to(np.asarray(filter.scale, np.float32), (channels_out,))
    how = ctx.flavor.conv_requant
    if reference_only and not ctx.flavor.tflm:
        how = Requant.DOUBLE_ROUNDING  # the optimized resolver falls back to the reference
    if bits == 32 and delegates_qs8_gemm(ctx, input, filter, bias, output, activation):
        how = Requant.XNN_FP32  # XNNPACK takes the node: float32 scale, round half to even
    requantize = ar.make_requantizer(how, s_in, scales, s_out)
    act_min, act_max = ar.activation_range_quantized(activation, s_out, zp_out, out_dtype)
    return ConvQuantization(-zp_in, zp_out, requantize, act_min, act_max, bits, out_dtype)


def output_stage(acc: np.ndarray, q: ConvQuantization, bias: np.ndarray | None = None,
                 out: np.ndarray | None = None, acc_bound: float | None = None) -> np.ndarray:
    """Integer accumulators (channel last; any exact numeric dtype) + bias -> int8 / int16.

    32-bit accumulators: ``wrap32`` reproduces C's int32 accumulator (overflow needs
    absurd weights) and the stage runs fused and blocked
    (:meth:`refimpl.arithmetic.Requantizer.to_output`). 64-bit: variant (C)
    (:func:`refimpl.arithmetic.requantize_int64_to_output`).
    """
    if q.accumulator_bits == 64:
        return ar.requantize_int64_to_output(
            acc, bias=bias, multiplier=q.requantize.multiplier, shift=q.requantize.shift,
            act_min=q.output_activation_min, act_max=q.output_activation_max,
            dtype=q.output_dtype, out=out)
    return q.requantize.to_output(
        acc, bias=bias, output_offset=q.output_offset, act_min=q.output_activation_min,
        act_max=q.output_activation_max, dtype=q.output_dtype, wrap=True,
        acc_bound=acc_bound, out=out)


@dataclass(frozen=True)
class HybridConv:
    """Hybrid (dynamic-range) parameters of CONV_2D.

    Attributes
    ----------
    per_channel : bool
        True: asymmetric input quantization, ``HybridConvPerChannel`` rescale
        ``(acc * s_w[oc]) * sf_n``; False: symmetric, ``HybridConv`` rescale
        ``acc * fl32(sf_n * s_w)``.
    filter_scale : ndarray of float32, shape (C_out,) or (1,)
    optimized : bool
        LiteRT's optimized ``HybridConvPerChannel`` (im2col + GEMM), which rescales by
        ``acc * fl32(s_w[oc] * sf_n)`` — one rounding fewer than the reference kernel's
        ``fl32(acc * s_w[oc]) * sf_n``; the two differ by an ulp on ~26 % of outputs.
        False for a grouped convolution even on the optimized resolver: ``conv.cc``
        ``EvalHybridPerChannel`` sets ``effective_kernel_type = kReference`` when
        ``groups != 1``.
    xnnpack : {None, "image", "pixel"}
        The XNNPACK delegate takes the node (flavour ``xnnpack``) and quantizes the input
        per image, or per pixel where it rewrites a 1x1 convolution into a fully
        connected node (:mod:`.xnnpack_qd8`).
    activation : int
        Fused activation code (the XNNPACK output clamp).
    """

    per_channel: bool
    filter_scale: F32Array
    optimized: bool = False
    xnnpack: str | None = None
    activation: int = 0


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
        Integer kinds: ``np.float32`` / ``np.float64`` (provably exact, see module doc)
        or ``np.int64``; float32: ``np.float32`` (ordered accumulation).
    quant : ConvQuantization or None
        int8 / 16x8 only.
    float_activation_min, float_activation_max : np.float32
        Float clamp (float32 and hybrid).
    acc_bound : float
        Bound on ``|acc + bias|`` (int8 / 16x8): max|x - zp| * max_c sum|w[c]| + max|bias|.
    hybrid : HybridConv or None
        Hybrid kind only.
    """

    window: Window2D
    groups: int
    filters_per_group: int
    gemm_dtype: type
    quant: ConvQuantization | None
    float_activation_min: np.float32
    float_activation_max: np.float32
    acc_bound: float = float("inf")
    hybrid: HybridConv | None = None


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
    hybrid_data = None
    quant = None
    acc_bound = float("inf")
    if dtypes in ((_FLOAT32,) * 3, (_FLOAT32, _INT8, _FLOAT32)):
        if bias is not None and np.dtype(bias.dtype) != _FLOAT32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with float32 input")
        gemm_dtype: type = np.float32
        if dtypes[1] == _INT8:
            hybrid_data = _prepare_hybrid(ctx, filter, channels_out, groups, window,
                                          activation)
            max_in = 255 if hybrid_data.per_channel or hybrid_data.xnnpack else 127
            gemm_dtype = ar.gemm_float_dtype(max_in, _max_colsum(filter, channels_out, k))
    elif dtypes in ((_INT8,) * 3, (_INT16, _INT8, _INT16)):
        # LiteRT's optimized CONV_2D hands grouped convolutions to the reference kernel
        quant = prepare_conv_quantization(ctx, input, filter, bias, output, channels_out,
                                          quantized_dimension=0, activation=activation,
                                          reference_only=groups > 1)
        max_in = 32768 if dtypes[0] == _INT16 else 255
        colsum_max = _max_colsum(filter, channels_out, k)
        gemm_dtype = ar.gemm_float_dtype(max_in, colsum_max)
        acc_bound = float(max_in) * colsum_max + _max_abs(bias)
    else:
        raise ctx.unsupported(supported="float32; int8; int16 activations with int8 filter "
                              "(16x8); float32 activations with int8 filter (hybrid)")
    lo, hi = activation_range_float(activation)
    ctx.set_output_shape(0, (batches, window.out_h, window.out_w, channels_out))
    return OpData(window, groups, channels_out // groups, gemm_dtype, quant, lo, hi, acc_bound,
                  hybrid_data)


def _prepare_hybrid(ctx: OpContext, filter: TensorInfo, channels_out: int,
                    groups: int, window: Window2D, activation: int) -> HybridConv:
    """Pick LiteRT's hybrid path: per-channel when the scales differ or groups > 1.

    Under the ``xnnpack`` flavour, XNNPACK's ``qd8`` path when the delegate takes the node.
    """
    hybrid.require_hybrid_runtime(ctx)
    scales = hybrid.hybrid_filter_scales(ctx, filter, channels_out)
    if xnnpack_qd8.delegates_qd8(ctx, ctx.input(0), filter, ctx.optional_input(2),
                                 ctx.output(0), activation, bias_required=True):
        xnnpack_qd8.refuse_nonzero_weight_zero_point(ctx, filter)
        pad = window.padding
        as_fc = xnnpack_qd8.conv_runs_as_fully_connected(
            window.filter_h, window.filter_w, window.stride_h, window.stride_w,
            bool(pad.height or pad.width or pad.height_offset or pad.width_offset),
            groups, ctx.input(0).shape[3], channels_out)
        return HybridConv(True, scales, xnnpack="pixel" if as_fc else "image",
                          activation=activation)
    per_channel = groups != 1 or bool(np.any(scales != scales[0]))
    if per_channel and scales.size != channels_out:
        raise ctx.unsupported(f"grouped hybrid conv with one filter scale ({groups} groups)",
                              supported="per-channel scales on grouped hybrid convolutions")
    # grouped: LiteRT's optimized resolver runs the reference HybridConvPerChannel
    return HybridConv(per_channel, scales, optimized=ctx.flavor.optimized and groups == 1)


def _max_colsum(filter: TensorInfo, channels_out: int, k: int) -> int:
    """``max_oc sum |w[oc]|`` of a constant filter; the int8 worst case otherwise."""
    if filter.data is None:
        return 128 * k  # worst case for a runtime-provided filter
    colsum = np.abs(filter.data.astype(np.int64)).reshape(channels_out, -1).sum(axis=1)
    return int(colsum.max()) if colsum.size else 0


def _max_abs(bias: TensorInfo | None) -> float:
    """max |bias| of a constant bias, 0 without one, infinity when it is not constant."""
    if bias is None:
        return 0.0
    if bias.data is None:
        return float("inf")
    return float(np.abs(bias.data.astype(np.int64)).max(initial=0))


#: im2col chunk budgets: integer GEMM (large blocks suit BLAS) and the float32 ordered
#: accumulation (the accumulator and the columns should stay in cache).
_GEMM_CHUNK_BYTES = 2 * 2**20
_FLOAT_CHUNK_BYTES = 4 * 2**20

#: ``finish(acc, batch_slice) -> output block``: turns exact accumulators
#: ``[n', oh', ow', C_out]`` of the images ``batch_slice`` into output values.
Finish = Callable[[np.ndarray, slice], np.ndarray]


def _weights_matrix(filter: np.ndarray, groups: int, dtype: type) -> np.ndarray:
    """OHWI filter -> ``[G, KH*KW*D, C_out/G]`` (row order fy, fx, ic, as im2col columns)."""
    c_out = filter.shape[0]
    w = filter.reshape(groups, c_out // groups, -1)  # [G, Og, KH*KW*D]
    return np.ascontiguousarray(w.transpose(0, 2, 1), dtype=dtype)


def _convolve_int(padded: np.ndarray, weights: np.ndarray, data: OpData, finish: Finish,
                  out_dtype: np.dtype | type) -> np.ndarray:
    """Exact integer convolution (one GEMM per group), finished chunk by chunk.

    ``padded``: offset-corrected, padded input in ``data.gemm_dtype``;
    ``weights``: :func:`_weights_matrix` in the same dtype. Each chunk's exact GEMM
    result goes straight through ``finish`` into the output.
    """
    win, groups = data.window, data.groups
    n, c = padded.shape[0], padded.shape[3]
    d = c // groups
    k = win.filter_h * win.filter_w * d
    c_out = groups * data.filters_per_group
    out = np.empty((n, win.out_h, win.out_w, c_out), dtype=out_dtype)
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
        out[b, rows] = finish(acc.reshape(nb, oh, ow, c_out), b)
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
    """``[input, filter, bias or None]`` -> ``[output]`` (float32, int8 or int16, NHWC)."""
    x, filter = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    if data.hybrid is not None:
        return [_invoke_hybrid(x, filter, bias, data)]
    if data.quant is None:
        return [_invoke_float(x, filter, bias, data)]
    q, win = data.quant, data.window
    if win.is_empty:
        return [np.zeros((x.shape[0], win.out_h, win.out_w, filter.shape[0]), q.output_dtype)]
    # Pad with zp_in, then subtract it everywhere: padding taps become exact zeros.
    padded = pad_input(x, win, -q.input_offset, dtype=data.gemm_dtype)
    if q.input_offset:
        padded += q.input_offset
    weights = _weights_matrix(filter, data.groups, data.gemm_dtype)

    def finish(acc: np.ndarray, _: slice) -> np.ndarray:
        return output_stage(acc, q, bias, acc_bound=data.acc_bound)

    return [_convolve_int(padded, weights, data, finish, q.output_dtype)]


def _invoke_hybrid(x: F32Array, filter: I8Array, bias: F32Array | None,
                   data: OpData) -> F32Array:
    """Quantize each image, convolve exactly in integers, rescale in float32 (module doc)."""
    win, h = data.window, data.hybrid
    assert h is not None
    n = x.shape[0]
    if win.is_empty:
        return np.zeros((n, win.out_h, win.out_w, filter.shape[0]), np.float32)
    if h.xnnpack is not None:
        return _invoke_hybrid_xnnpack(x, filter, bias, data)
    rows = x.reshape(n, -1)
    if h.per_channel:
        qr = hybrid.quantize_rows_asymmetric(rows)
        scale = qr.scale
    else:
        qr = hybrid.quantize_rows_symmetric(rows)
        scale = (qr.scale * h.filter_scale[0]).astype(np.float32)  # sf_n *= s_w
    centered = qr.values.reshape(x.shape).astype(data.gemm_dtype)
    if np.any(qr.zero_point):
        centered -= qr.zero_point.reshape(n, 1, 1, 1).astype(data.gemm_dtype)
    padded = pad_input(centered, win, 0)  # padding taps contribute 0 (skipped in C)
    weights = _weights_matrix(filter, data.groups, data.gemm_dtype)
    b32 = None if bias is None else bias.astype(np.float32)

    def finish(acc: np.ndarray, b: slice) -> np.ndarray:
        acc_f = acc.astype(np.float32)  # float(int32): round to nearest even above 2**24
        sf = scale[b].reshape(-1, 1, 1, 1)
        if h.per_channel and h.optimized:  # optimized_ops: acc * fl32(s_w[oc] * sf_n)
            y = acc_f * (h.filter_scale * sf).astype(np.float32)
        elif h.per_channel:  # reference: acc * per_channel_scale[oc] * scaling_factor[n]
            y = (acc_f * h.filter_scale) * sf
        else:  # 0.0f + acc * scaling_factor[n] (output zero-filled, then accumulated)
            y = np.float32(0.0) + acc_f * sf
        if b32 is not None:
            y = y + b32
        return clamp_float(y, data.float_activation_min, data.float_activation_max)

    return _convolve_int(padded, weights, data, finish, np.float32)


def _invoke_hybrid_xnnpack(x: F32Array, filter: I8Array, bias: F32Array | None,
                           data: OpData) -> F32Array:
    """XNNPACK's qd8 convolution: quantize per image (or per pixel), exact integer
    convolution, ``fmaf(fl32(acc * d), s_w[oc], bias[oc])`` (:mod:`.xnnpack_qd8`)."""
    win, h = data.window, data.hybrid
    assert h is not None
    n, c_out = x.shape[0], filter.shape[0]
    scales = np.broadcast_to(h.filter_scale, (c_out,))
    if h.xnnpack == "pixel":  # 1x1, stride 1, unpadded: a fully connected layer per pixel
        qd8 = xnnpack_qd8.quantize_rows(x.reshape(-1, x.shape[3]))
        w = filter.reshape(c_out, -1).T.astype(data.gemm_dtype)
        acc = ar.exact_matmul(qd8.centered.astype(data.gemm_dtype), w, data.gemm_dtype,
                              as_int64=False)
        y = xnnpack_qd8.rescale(acc, qd8.dequant_scale[:, None], scales, bias,
                                h.activation)
        return y.reshape(n, win.out_h, win.out_w, c_out)
    qd8 = xnnpack_qd8.quantize_rows(x.reshape(n, -1))
    centered = qd8.centered.reshape(x.shape).astype(data.gemm_dtype)
    padded = pad_input(centered, win, 0)  # padding taps contribute 0
    weights = _weights_matrix(filter, data.groups, data.gemm_dtype)

    def finish(acc: np.ndarray, b: slice) -> np.ndarray:
        d = qd8.dequant_scale[b].reshape(-1, 1, 1, 1)
        return xnnpack_qd8.rescale(acc, d, scales, bias, h.activation)

    return _convolve_int(padded, weights, data, finish, np.float32)


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
    """``ConvPerChannel`` (int8, 16x8) as loops: the oracle for the vectorised path."""
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
