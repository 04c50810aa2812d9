"""TRANSPOSE_CONV: the gradient of a 2-D convolution ("deconvolution"), NHWC, OHWI filter.

Inputs and layouts
------------------
0 ``output_shape`` int32 ``[4]`` (``[N, OH, OW, C_out]``; must be known at prepare time:
  a constant, or folded from SHAPE / STRIDED_SLICE / PACK)
1 ``weights`` ``[C_out, KH, KW, C_in]`` (float32 or int8; int8 per-tensor or per-channel
  on axis 0)
2 ``input`` ``[N, H, W, C_in]`` (float32, int8, or int16 for 16x8; float32 with int8
  weights is the hybrid kind)
3 ``bias`` ``[C_out]`` (optional; float32, int32 for int8, int64 or int32 for 16x8)
Options: ``padding``, ``stride_w``, ``stride_h``, ``fused_activation_function``.

Geometry: the padding is that of a convolution with the same filter and strides whose
*input* is the output image: ``make_window(padding, OH, OW, KH, KW, stride)``; that
convolution's output size must equal ``H x W`` (LiteRT checks it).

Arithmetic (LiteRT reference kernels and TFLM: a scatter into a zeroed scratch buffer)
--------------------------------------------------------------------------------------
::

    for n, iy, ix, ic, fy, fx, oc:          (upstream loop order)
        oy = iy*stride_h - pad_h + fy ; ox = ix*stride_w - pad_w + fx
        if (oy, ox) inside the output:
            scratch[n, oy, ox, oc] += (x[n, iy, ix, ic] - zp_in) * w[oc, fy, fx, ic]
    int8:  out = clamp(mbqm_A(scratch + bias[oc], m[oc], s[oc]) + zp_out)     (int32, wraps)
    16x8:  out = clamp(mbqm_C(scratch + bias[oc], m[oc], s[oc]))              (int64 scratch)
           or int32 scratch and mbqm_A when LiteRT's ``quantized_bias_type`` is INT32
    float: out = clamp(fl32(scratch + bias[oc]))  with scratch summed in float32
    hybrid (float32 input, int8 weights; LiteRT ``HybridTransposeConv``, every resolver):
           each image quantized asymmetrically (:func:`.hybrid.quantize_rows_asymmetric`:
           q, sf_n, zp_n), then every tap product is rescaled before it is summed:
           scratch[n, oy, ox, oc] += fl32(fl32((q - zp_n) * w * s_w[oc]) * sf_n)
           out = clamp(fl32(scratch + bias[oc]))        (one scale repeated per channel)
    hybrid under the ``xnnpack`` flavour (the delegate takes the node when the output
           shape is constant): XNNPACK's qd8 deconvolution, per-image parameters,
           exact integer scatter, ``fmaf(fl32(acc * d_n), s_w[oc], bias[oc])``
           (:mod:`.xnnpack_qd8`). TFLite Micro has no hybrid kernels.

Multipliers: ``PopulateConvolutionQuantizationParams`` (per channel, float64), as for
CONV_2D. TFLM differs only for 16x8: its kernel always uses the int64 scratch buffer and
variant (C) (an int16 bias is widened; an int32 bias would be misread and is refused),
see ``conv_2d.accumulator_bits_16x8``.

Vectorisation
-------------
Integers: one exact GEMM ``x[N*H*W, C_in] @ w[C_in, KH*KW*C_out]`` gives every tap's
contribution, then ``KH*KW`` strided adds scatter them into the scratch buffer (padded
so that no tap needs a bounds check; the margins are dropped). Integer sums do not
depend on order; the float type used is exact because every partial sum is bounded by
``max|x - zp| * max_oc sum|w[oc]|`` (``arithmetic.gemm_float_dtype``).
Float32: the order matters. For one output element the C loop adds contributions in
increasing ``(iy, ix, ic)``, which is *decreasing* ``fy``, then decreasing ``fx``, then
increasing ``ic``; the vectorised loop walks the taps in exactly that order, one
``scratch_view += x[..., ic] * w[:, fy, fx, ic]`` (float32 product, float32 sum) per
step, so results are bit-identical.

Mirrors: tflite/kernels/transpose_conv.cc (Prepare, Eval, reference paths),
kernels/internal/reference/transpose_conv.h ``TransposeConv`` (float),
kernels/internal/reference/integer_ops/transpose_conv.h ``TransposeConv`` (int8, 16x8);
tflite-micro micro/kernels/transpose_conv.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext
from . import hybrid, xnnpack_qd8
from .conv_2d import ConvQuantization, output_stage, prepare_conv_quantization
from .padding import (
    Padding2D,
    activation_range_float,
    clamp_float,
    fused_activation,
    make_window,
    option,
    PADDING_NAMES,
    PADDING_SAME,
)

_INT8, _INT16, _FLOAT32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.float32)
_INT16_MAX = 2**15 - 1

#: Budget for the per-chunk tap contributions ``[n', H, W, KH*KW*C_out]``.
_CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class OpData:
    """Everything TRANSPOSE_CONV's invoke needs.

    Attributes
    ----------
    output_shape : tuple of int
        ``(N, OH, OW, C_out)``.
    padding : Padding2D
        Rows / columns of the output cropped at the top / left of the scatter buffer.
    stride_h, stride_w : int
    quant : ConvQuantization or None
        None for float32.
    gemm_dtype : type
        Exact float type (or int64) of the integer GEMM and scatter sums; float32 for float.
    float_activation_min, float_activation_max : np.float32
    acc_bound : float
        Bound on ``|acc + bias|`` (integer kinds).
    """

    output_shape: tuple[int, int, int, int]
    padding: Padding2D
    stride_h: int
    stride_w: int
    quant: ConvQuantization | None
    gemm_dtype: type
    float_activation_min: np.float32
    float_activation_max: np.float32
    acc_bound: float = float("inf")
    hybrid: HybridTransposeConv | None = None


@dataclass(frozen=True)
class HybridTransposeConv:
    """Dynamic-range TRANSPOSE_CONV (float32 input, int8 weights, float32 output).

    Attributes
    ----------
    filter_scale : ndarray of float32, shape (C_out,)
        Per-channel weight scales (a per-tensor scale is repeated, as LiteRT's Prepare
        does).
    xnnpack : bool
        The XNNPACK delegate takes the node (flavour ``xnnpack``): its ``qd8``
        deconvolution (:mod:`.xnnpack_qd8`) replaces LiteRT's kernel.
    activation : int
        Fused activation code.
    """

    filter_scale: np.ndarray
    xnnpack: bool
    activation: int


def prepare(ctx: OpContext) -> OpData:
    """Validate shapes, dtypes, quantization and options; precompute the :class:`OpData`."""
    ctx.require(len(ctx.inputs) in (3, 4), f"expected 3 or 4 inputs, got {len(ctx.inputs)}")
    ctx.require(len(ctx.outputs) == 1, f"expected 1 output, got {len(ctx.outputs)}")
    shape_t, weights, input, output = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    bias = ctx.optional_input(3)
    ctx.require(len(shape_t.shape) == 1, f"output_shape {shape_t.describe()} must be 1-D")
    if np.dtype(shape_t.dtype) != np.int32:
        raise ctx.error(f"output_shape {shape_t.describe()} must be int32")
    ctx.require(len(input.shape) == 4, f"input {input.describe()} must be 4-D (NHWC)")
    if shape_t.data is not None:
        out_shape = tuple(int(v) for v in np.asarray(shape_t.data).reshape(-1))
    else:
        # Known only at run time (LiteRT resizes the output in Eval): size the output
        # from the model's declared output shape with the input's batch; invoke checks
        # that the values fed agree.
        declared = tuple(int(d) for d in output.shape)
        ctx.require(len(declared) == 4 and min(declared) > 0,
                    f"output_shape is not constant and output {output.describe()} has no "
                    f"usable declared shape")
        out_shape = (int(input.shape[0]),) + declared[1:]
    ctx.require(len(out_shape) == 4, f"output_shape {list(out_shape)} must have 4 elements")
    ctx.require(len(weights.shape) == 4, f"weights {weights.describe()} must be 4-D (OHWI)")
    batches, in_h, in_w, in_depth = input.shape
    channels_out, filter_h, filter_w, filter_depth = weights.shape
    ctx.require(in_h > 0 and in_w > 0 and in_depth > 0,
                f"input {input.describe()} has an empty dimension")
    ctx.require(channels_out > 0 and filter_h > 0 and filter_w > 0,
                f"weights {weights.describe()} have an empty dimension")
    ctx.require(in_depth == filter_depth,
                f"input depth {in_depth} != weights depth {filter_depth}")
    padding = option(ctx, "padding", PADDING_SAME)
    stride_h, stride_w = option(ctx, "stride_h", 0), option(ctx, "stride_w", 0)
    ctx.require(padding in PADDING_NAMES, f"padding {padding} is neither SAME (0) nor VALID (1)")
    ctx.require(0 < stride_h <= _INT16_MAX and 0 < stride_w <= _INT16_MAX,
                f"strides must be in [1, {_INT16_MAX}], got stride_h={stride_h} "
                f"stride_w={stride_w}")
    n_out, out_h, out_w, c_out = out_shape
    ctx.require(n_out == batches, f"output batch {n_out} != input batch {batches}")
    ctx.require(out_h > 0 and out_w > 0, f"output size {out_h}x{out_w} must be positive")
    ctx.require(c_out == channels_out,
                f"output channels {c_out} != weights output channels {channels_out}")
    # the convolution this op is the transpose of: output image -> input image
    window = make_window(padding, out_h, out_w, filter_h, filter_w, stride_h, stride_w)
    ctx.require((window.out_h, window.out_w) == (in_h, in_w),
                f"a {PADDING_NAMES[padding]} convolution of the {out_h}x{out_w} output with "
                f"stride {stride_h}x{stride_w} gives {window.out_h}x{window.out_w}, not the "
                f"input's {in_h}x{in_w}")
    if bias is not None:
        ctx.require(bias.size == channels_out,
                    f"bias {bias.describe()} must have {channels_out} elements")

    dtypes = (np.dtype(input.dtype), np.dtype(weights.dtype), np.dtype(output.dtype))
    activation = fused_activation(ctx)
    quant = None
    gemm_dtype: type = np.float32
    acc_bound = float("inf")
    if dtypes == (_FLOAT32,) * 3:
        if bias is not None and np.dtype(bias.dtype) != _FLOAT32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with float32 input")
    elif dtypes in ((_INT8,) * 3, (_INT16, _INT8, _INT16)):
        # LiteRT's optimized int8 TRANSPOSE_CONV requantizes with the scalar reference
        # routine (A), not (D): measured on ai-edge-litert 2.3.0 with tie scales
        quant = prepare_conv_quantization(ctx, input, weights, bias, output, channels_out,
                                          quantized_dimension=0, activation=activation,
                                          reference_only=True)
        max_in = 32768 if dtypes[0] == _INT16 else 255
        if weights.data is not None:
            colsum = np.abs(weights.data.astype(np.int64)).reshape(channels_out, -1).sum(axis=1)
            colsum_max = int(colsum.max(initial=0))
        else:
            colsum_max = 128 * filter_h * filter_w * filter_depth
        gemm_dtype = ar.gemm_float_dtype(max_in, colsum_max)
        acc_bound = float(max_in) * colsum_max + _max_abs(bias)
    elif dtypes == (_FLOAT32, _INT8, _FLOAT32):
        hybrid_data = _prepare_hybrid(ctx, weights, bias, channels_out, activation)
        if weights.data is not None:
            colsum = np.abs(weights.data.astype(np.int64)).reshape(channels_out, -1).sum(axis=1)
            colsum_max = int(colsum.max(initial=0))
        else:
            colsum_max = 128 * filter_h * filter_w * filter_depth
        gemm_dtype = ar.gemm_float_dtype(255, colsum_max)  # |q - zp| <= 255
        lo, hi = activation_range_float(activation)
        ctx.set_output_shape(0, out_shape)
        return OpData(out_shape, window.padding, stride_h, stride_w, None, gemm_dtype, lo, hi,
                      hybrid=hybrid_data)
    else:
        raise ctx.unsupported(supported="float32, int8, int16 activations with int8 weights")
    lo, hi = activation_range_float(activation)
    ctx.set_output_shape(0, out_shape)
    return OpData(out_shape, window.padding, stride_h, stride_w, quant, gemm_dtype, lo, hi,
                  acc_bound)


def _prepare_hybrid(ctx: OpContext, weights, bias, channels_out: int,
                    activation: int) -> HybridTransposeConv:
    """Weight scales of a dynamic-range TRANSPOSE_CONV; which runtime path runs it."""
    hybrid.require_hybrid_runtime(ctx)
    scales = hybrid.hybrid_filter_scales(ctx, weights, channels_out)
    if scales.size > 1 and weights.quantized_dimension != 0:
        raise ctx.error(f"per-channel weights must be quantized along dim 0, got "
                        f"{weights.quantized_dimension}")
    if bias is not None and np.dtype(bias.dtype) != _FLOAT32:
        raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} on a hybrid op",
                              supported="float32 bias")
    xnn = ctx.input(0).data is not None and xnnpack_qd8.delegates_qd8(
        ctx, ctx.input(2), weights, bias, ctx.output(0), activation, bias_required=False)
    if xnn:
        xnnpack_qd8.refuse_nonzero_weight_zero_point(ctx, weights)
    return HybridTransposeConv(np.broadcast_to(scales, (channels_out,)).astype(np.float32),
                               xnn, activation)


def _max_abs(bias) -> float:
    if bias is None:
        return 0.0
    if bias.data is None:
        return float("inf")
    return float(np.abs(bias.data.astype(np.int64)).max(initial=0))


def _scratch_shape(data: OpData, n: int, in_h: int, in_w: int,
                   kh: int, kw: int) -> tuple[int, int, int, int]:
    """Scatter buffer ``[n, Hs, Ws, C_out]``: row ``r`` is output row ``r - pad_h``.

    Tall enough for every tap (``(H-1)*stride + KH`` rows) and for the whole output
    (``pad_h + OH``; rows no tap reaches stay 0, as in the C buffer).
    """
    _, out_h, out_w, c_out = data.output_shape
    hs = max((in_h - 1) * data.stride_h + kh, data.padding.height + out_h)
    ws = max((in_w - 1) * data.stride_w + kw, data.padding.width + out_w)
    return n, hs, ws, c_out


def _tap_slices(data: OpData, in_h: int, in_w: int, fy: int, fx: int) -> tuple[slice, slice]:
    """Rows / columns of the scatter buffer that filter tap ``(fy, fx)`` writes."""
    return (slice(fy, fy + (in_h - 1) * data.stride_h + 1, data.stride_h),
            slice(fx, fx + (in_w - 1) * data.stride_w + 1, data.stride_w))


def _crop(scratch: np.ndarray, data: OpData) -> np.ndarray:
    _, out_h, out_w, _ = data.output_shape
    ph, pw = data.padding.height, data.padding.width
    return scratch[:, ph:ph + out_h, pw:pw + out_w, :]


def _scatter_int(xc: np.ndarray, weights: np.ndarray, data: OpData) -> np.ndarray:
    """Exact integer scatter sums ``[N, OH, OW, C_out]`` (in ``data.gemm_dtype``)."""
    n, in_h, in_w, c_in = xc.shape
    c_out, kh, kw, _ = weights.shape
    w_mat = np.ascontiguousarray(weights.transpose(3, 1, 2, 0).reshape(c_in, kh * kw * c_out),
                                 dtype=data.gemm_dtype)
    _, out_h, out_w, _ = data.output_shape
    acc = np.empty((n, out_h, out_w, c_out), data.gemm_dtype)
    per_image = in_h * in_w * kh * kw * c_out * np.dtype(data.gemm_dtype).itemsize
    step = max(1, _CHUNK_BYTES // max(per_image, 1))
    for start in range(0, n, step):
        block = xc[start:start + step]
        nb = block.shape[0]
        taps = ar.exact_matmul(block.reshape(-1, c_in), w_mat, data.gemm_dtype, as_int64=False)
        taps = taps.reshape(nb, in_h, in_w, kh, kw, c_out)
        scratch = np.zeros(_scratch_shape(data, nb, in_h, in_w, kh, kw), data.gemm_dtype)
        for fy in range(kh):
            for fx in range(kw):
                rows, cols = _tap_slices(data, in_h, in_w, fy, fx)
                scratch[:, rows, cols, :] += taps[:, :, :, fy, fx, :]
        acc[start:start + nb] = _crop(scratch, data)
    return acc


def _scatter_float(x: np.ndarray, weights: np.ndarray, data: OpData,
                   scales: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """float32 scatter sums in the C loop's per-element order (module docstring).

    For one output element the C loop adds its terms in increasing ``(iy, ix, ic)``:
    decreasing ``fy``, then decreasing ``fx``, then increasing ``ic``. ``scales``
    (hybrid only): ``(s_w per output channel, sf per image)``; every term is then
    ``fl32(fl32(x * w * s_w[oc]) * sf_n)`` (LiteRT's ``HybridTransposeConv``, with ``x``
    the integer ``q - zp`` and ``x * w`` exact in float32).
    """
    n, in_h, in_w, c_in = x.shape
    c_out, kh, kw, _ = weights.shape
    x = x.astype(np.float32, copy=False)
    w = weights.astype(np.float32, copy=False)
    scratch = np.zeros(_scratch_shape(data, n, in_h, in_w, kh, kw), np.float32)
    product = np.empty((n, in_h, in_w, c_out), np.float32)
    for fy in reversed(range(kh)):
        for fx in reversed(range(kw)):
            rows, cols = _tap_slices(data, in_h, in_w, fy, fx)
            view = scratch[:, rows, cols, :]
            for ic in range(c_in):
                np.multiply(x[..., ic:ic + 1], w[:, fy, fx, ic], out=product)
                if scales is not None:
                    product *= scales[0]  # fl32(acc * s_w[oc])
                    product *= scales[1]  # fl32(... * sf_n)
                view += product
    return _crop(scratch, data)


def _invoke_hybrid(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
                   data: OpData) -> np.ndarray:
    """Quantize each image, then LiteRT's scatter or XNNPACK's qd8 deconvolution."""
    h = data.hybrid
    assert h is not None
    n = x.shape[0]
    if h.xnnpack:
        qd8 = xnnpack_qd8.quantize_rows(x.reshape(n, -1))
        acc = _scatter_int(qd8.centered.reshape(x.shape).astype(data.gemm_dtype), weights, data)
        d = qd8.dequant_scale.reshape(n, 1, 1, 1)
        return xnnpack_qd8.rescale(acc, d, h.filter_scale, bias, h.activation)
    qr = hybrid.quantize_rows_asymmetric(np.asarray(x, np.float32).reshape(n, -1))
    centered = qr.values.reshape(x.shape).astype(np.int64) - qr.zero_point.reshape(n, 1, 1, 1)
    sf = qr.scale.astype(np.float32).reshape(n, 1, 1, 1)
    acc = _scatter_float(centered, weights, data, (h.filter_scale, sf))  # |q - zp| <= 255
    if bias is not None:
        acc = acc + bias.astype(np.float32)
    return clamp_float(acc, data.float_activation_min, data.float_activation_max)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """``[output_shape, weights, input, bias or None]`` -> ``[output]`` (NHWC)."""
    weights, x = inputs[1], inputs[2]
    bias = inputs[3] if len(inputs) > 3 else None
    if inputs[0] is not None and tuple(int(v) for v in np.ravel(inputs[0])) != data.output_shape:
        raise ctx.error(f"output_shape {np.ravel(inputs[0]).tolist()} differs from the shape "
                        f"{list(data.output_shape)} prepared from the model")
    if data.hybrid is not None:
        return [_invoke_hybrid(x, weights, bias, data)]
    q = data.quant
    if q is None:
        acc = _scatter_float(x, weights, data)
        if bias is not None:
            acc = acc + bias.astype(np.float32)
        return [clamp_float(acc, data.float_activation_min, data.float_activation_max)]
    xc = x.astype(data.gemm_dtype)
    if q.input_offset:
        xc += q.input_offset  # x - zp_in
    acc = _scatter_int(xc, weights, data)
    return [output_stage(acc, q, bias, acc_bound=data.acc_bound)]


TRANSPOSE_CONV = Kernel(prepare, invoke)


# --------------------------------------------------------------------------------------
# Loop version in the upstream loop order, for tests only (slow).
# --------------------------------------------------------------------------------------
def _reference_loop(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
                    data: OpData) -> np.ndarray:
    """``TransposeConv`` (float, int8, 16x8) as the C loops: scatter, then finish."""
    q = data.quant
    is_float = q is None
    n, in_h, in_w, in_depth = x.shape
    c_out, kh, kw, _ = weights.shape
    _, out_h, out_w, _ = data.output_shape
    scratch = np.zeros(data.output_shape, np.float32 if is_float else np.int64)
    for batch in range(n):
        for in_y in range(in_h):
            for in_x in range(in_w):
                for in_channel in range(in_depth):
                    out_x_origin = in_x * data.stride_w - data.padding.width
                    out_y_origin = in_y * data.stride_h - data.padding.height
                    for filter_y in range(kh):
                        for filter_x in range(kw):
                            for out_channel in range(c_out):
                                out_x = out_x_origin + filter_x
                                out_y = out_y_origin + filter_y
                                if not (0 <= out_x < out_w and 0 <= out_y < out_h):
                                    continue
                                v = x[batch, in_y, in_x, in_channel]
                                w = weights[out_channel, filter_y, filter_x, in_channel]
                                idx = (batch, out_y, out_x, out_channel)
                                if is_float:
                                    scratch[idx] = np.float32(scratch[idx] + v * w)
                                else:
                                    scratch[idx] += (int(v) + q.input_offset) * int(w)
    if is_float:
        if bias is not None:
            scratch = scratch + bias.astype(np.float32)
        return clamp_float(scratch, data.float_activation_min, data.float_activation_max)
    assert q is not None
    return output_stage(scratch, q, bias)
