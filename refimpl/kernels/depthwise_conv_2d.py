"""DEPTHWISE_CONV_2D: per-channel 2-D convolution with a depth multiplier.

Layouts
-------
input  ``[N, H, W, C_in]``
filter ``[1, KH, KW, C_in * dm]``  (int8: per-tensor or per-channel on axis 3)
bias   ``[C_in * dm]`` (float32, int32 or int64, optional)
output ``[N, OH, OW, C_in * dm]``; output channel ``oc = ic * dm + m`` reads input
channel ``ic`` and filter column ``oc``.

Kinds: float32; int8; 16x8 (int16 activations, int8 filter, int64 bias); hybrid
(float32 activations, int8 per-channel filter, float32 output; LiteRT only).

Depth multiplier: LiteRT's float and int8 paths derive it from the shapes
(``filter.shape[3] / C_in``) and ignore the ``depth_multiplier`` option; its 16x8 and
hybrid paths, and every TFLM path, loop over the *option*. Where the option is used,
a value that disagrees with the shapes would index the wrong channels (or write
outside the output), so it is refused; elsewhere it is ignored.

Arithmetic (int8, LiteRT reference ``DepthwiseConvPerChannel`` and TFLM)
------------------------------------------------------------------------
::

    acc[n,oy,ox,oc] = sum_{fy,fx in image} w[0,fy,fx,oc] * (x[n,iy,ix,oc // dm] + input_offset)
                      + bias[oc]                          (int32 in C)
    y   = requantize(acc)[oc]                              (flavor.conv_requant)
    out = clamp(y + zp_out, act_min, act_max) -> int8

Arithmetic (16x8)
-----------------
The same sum without offsets (zero points must be 0), int64 accumulator and int64 bias,
then variant (C) (``multiply_by_quantized_multiplier_int64``) and the clamp; the 16x8
reference takes no int32 bias (arithmetic.md §2.3).

Arithmetic (hybrid, ``DepthwiseConvHybridPerChannel``)
------------------------------------------------------
Each image is quantized asymmetrically (:func:`.hybrid.quantize_rows_asymmetric`:
``q, sf_n, zp_n``), then::

    acc = sum_{fy,fx in image} w[0,fy,fx,oc] * (q[n,iy,ix,oc // dm] - zp_n)    (int32)

and the float rescale depends on the kernel; three float32 products, three orders:

* reference (``tflite-ref``): the two scales first,
  ``out = clamp(fl32(fl32(float(acc) * fl32(s_w[oc] * sf_n)) + bias[oc]))``;
* optimized (``tflite-builtin``, and ``xnnpack``, whose delegate leaves hybrid depthwise
  nodes to the builtin kernels): four output channels at a time (``vmulq_f32`` twice)
  for the first ``4 * floor(C_out / 4)`` channels,
  ``out = clamp(fl32(fl32(fl32(float(acc) * s_w[oc]) * sf_n) + bias[oc]))``, and one
  at a time for the remaining ``C_out % 4``, where the C expression
  ``acc * input_scale * per_channel_scales[c]`` multiplies by the image's scale first:
  ``out = clamp(fl32(fl32(fl32(float(acc) * sf_n) * s_w[oc]) + bias[oc]))``.

They part by an ulp: on the sweep's hybrid cases the reference order missed 4 % of the
optimized kernel's outputs (in 40 of 77 cases), and either order alone 1-3 %.

Vectorisation: one NumPy multiply-add per filter tap (``KH*KW`` iterations), each over
all batches, pixels and channels, on the input padded with ``zp_in`` (an out-of-image
tap then adds exactly 0). The tap sums are exact (int32 when the bound
``max|x - zp| * max_oc sum|w|`` fits, else int64); the bias is added in int64 and the
total wrapped to int32 as C's accumulator would (not for the int64 accumulator).

Float32: the same tap loop accumulates float32 products in the upstream order
(``total += x * w`` over ``fy`` then ``fx``, then ``total + bias``), so float results are
bit-identical to LiteRT's reference kernel (padding taps add +0.0, a no-op).

Mirrors: tflite/kernels/depthwise_conv.cc (Prepare, reference path,
EvalQuantizedPerChannel16x8, EvalHybridPerChannel),
kernels/internal/reference/integer_ops/depthwise_conv.h ``DepthwiseConvPerChannel``
(int8 and int16), ``DepthwiseConvHybridPerChannel``,
optimized/integer_ops/depthwise_conv_hybrid.h ``DepthwiseConvHybridGeneral``,
kernels/internal/reference/depthwiseconv_float.h ``DepthwiseConv``;
tflite-micro micro/kernels/depthwise_conv*.cc.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext
from ..flavors import Requant
from . import hybrid
from .conv_2d import ConvQuantization, output_stage, prepare_conv_quantization
from .padding import (
    Window2D,
    activation_range_float,
    clamp_float,
    fused_activation,
    option,
    pad_input,
    tap_view,
    window_from_options,
)

_INT8, _INT16, _FLOAT32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.float32)


@dataclass(frozen=True)
class OpData:
    """Everything DEPTHWISE_CONV_2D's invoke needs.

    Attributes
    ----------
    window : Window2D
    depth_multiplier : int
        ``C_out / C_in``.
    accumulator_dtype : type
        Tap-sum dtype: ``np.int32`` when ``max|x - zp| * max_oc sum|w|`` < 2**31, else
        ``np.int64`` (integer kinds); ``np.float32`` for float.
    quant : ConvQuantization or None
        int8 / 16x8 only.
    float_activation_min, float_activation_max : np.float32
    hybrid_filter_scale : ndarray of float32, shape (C_out,), or None
        Hybrid kind only.
    hybrid_vector_channels : int or None
        Hybrid on LiteRT's optimized kernel: the output channels ``[0, v)`` rescaled four
        at a time (``acc * s_w * sf``), the rest one at a time (``acc * sf * s_w``);
        None for the reference kernel (``acc * (s_w * sf)``).
    """

    window: Window2D
    depth_multiplier: int
    accumulator_dtype: type
    quant: ConvQuantization | None
    float_activation_min: np.float32
    float_activation_max: np.float32
    hybrid_filter_scale: np.ndarray | None = None
    hybrid_vector_channels: int | None = None
    #: optimized flavour: channels from this index on take the scalar (A) output stage
    tail_channel: int | None = None
    tail_quant: ConvQuantization | None = None


#: Output channels per vector step of LiteRT's optimized int8 depthwise output stage.
OPT_DEPTHWISE_BLOCK = 8
#: ... and of its hybrid float output stage (one float32x4 vector).
OPT_HYBRID_DEPTHWISE_BLOCK = 4


def _split_tail(ctx: OpContext, quant: ConvQuantization, channels_out: int
                ) -> tuple[int | None, ConvQuantization | None]:
    """Optimized int8 depthwise: whole blocks of 8 output channels are requantized with
    (D) (``vqrdmulh`` + rounding shift half up), the ``C_out % 8`` remaining channels by
    the scalar reference formula (A) — measured on ai-edge-litert 2.3.0 with tie scales
    for C_out = 4, 8, 12, 13, 17, 18, 20, 24 (depth multipliers 1-3)."""
    if quant.requantize.how is not Requant.NEON or quant.accumulator_bits != 32:
        return None, None
    tail = channels_out // OPT_DEPTHWISE_BLOCK * OPT_DEPTHWISE_BLOCK
    if tail == channels_out:
        return None, None
    r = quant.requantize
    tail_r = ar.Requantizer(Requant.DOUBLE_ROUNDING, r.real[tail:], r.multiplier[tail:],
                            r.shift[tail:], r.xnn_scale[tail:])
    return tail, replace(quant, requantize=tail_r)


def prepare(ctx: OpContext) -> OpData:
    """Validate shapes, dtypes, quantization and options; precompute the :class:`OpData`."""
    ctx.require(len(ctx.inputs) in (2, 3), f"expected 2 or 3 inputs, got {len(ctx.inputs)}")
    ctx.require(len(ctx.outputs) == 1, f"expected 1 output, got {len(ctx.outputs)}")
    input, filter, output = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.optional_input(2)
    ctx.require(len(input.shape) == 4, f"input {input.describe()} must be 4-D (NHWC)")
    ctx.require(len(filter.shape) == 4 and filter.shape[0] == 1,
                f"filter {filter.describe()} must be 4-D [1, KH, KW, C_out]")
    batches, in_h, in_w, in_depth = input.shape
    _, filter_h, filter_w, channels_out = filter.shape
    ctx.require(in_depth > 0 and channels_out % in_depth == 0,
                f"filter channels {channels_out} are not a multiple of input depth {in_depth}")
    if bias is not None:
        ctx.require(len(bias.shape) == 1 and bias.shape[0] == channels_out,
                    f"bias {bias.describe()} must be 1-D with {channels_out} elements")

    dtypes = (np.dtype(input.dtype), np.dtype(filter.dtype), np.dtype(output.dtype))
    activation = fused_activation(ctx)
    window = window_from_options(ctx, in_h, in_w, filter_h, filter_w, with_dilation=True)
    depth_multiplier = channels_out // in_depth
    hybrid_scale = None
    quant = None
    if dtypes in ((_FLOAT32,) * 3, (_FLOAT32, _INT8, _FLOAT32)):
        if bias is not None and np.dtype(bias.dtype) != _FLOAT32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with float32 input")
        acc_dtype: type = np.float32
        if dtypes[1] == _INT8:
            hybrid.require_hybrid_runtime(ctx)
            hybrid_scale = hybrid.hybrid_filter_scales(ctx, filter, channels_out)
            if hybrid_scale.size != channels_out:
                raise ctx.error(f"hybrid filter needs {channels_out} per-channel scales, "
                                f"got {hybrid_scale.size}")
            acc_dtype = _tap_sum_dtype(filter, 255, filter_h * filter_w)
    elif dtypes in ((_INT8,) * 3, (_INT16, _INT8, _INT16)):
        quant = prepare_conv_quantization(ctx, input, filter, bias, output, channels_out,
                                          quantized_dimension=3, activation=activation)
        max_in = 32768 if dtypes[0] == _INT16 else 255
        acc_dtype = _tap_sum_dtype(filter, max_in, filter_h * filter_w)
    else:
        raise ctx.unsupported(supported="float32; int8; int16 activations with int8 filter "
                              "(16x8); float32 activations with int8 filter (hybrid)")
    uses_option = ctx.flavor.name == "tflm" or dtypes[0] == _INT16 or hybrid_scale is not None
    if uses_option:
        dm_option = option(ctx, "depth_multiplier", depth_multiplier)
        if dm_option != depth_multiplier:
            raise ctx.error(f"depth_multiplier option {dm_option} disagrees with the shapes "
                            f"({channels_out} filter channels / {in_depth} input channels)")
    lo, hi = activation_range_float(activation)
    ctx.set_output_shape(0, (batches, window.out_h, window.out_w, channels_out))
    tail, tail_quant = (None, None) if quant is None else _split_tail(ctx, quant, channels_out)
    vector_channels = None
    if hybrid_scale is not None and ctx.flavor.optimized:
        vector_channels = channels_out // OPT_HYBRID_DEPTHWISE_BLOCK * OPT_HYBRID_DEPTHWISE_BLOCK
    return OpData(window, depth_multiplier, acc_dtype, quant, lo, hi, hybrid_scale,
                  vector_channels, tail, tail_quant)


def _tap_sum_dtype(filter, max_in: int, taps: int) -> type:
    """int32 when ``max_in * max_oc sum|w[oc]|`` < 2**31 (every partial sum fits), else int64."""
    if filter.data is not None:
        colsum = np.abs(filter.data.astype(np.int64)).reshape(-1, filter.shape[3]).sum(axis=0)
        bound = max_in * int(colsum.max(initial=0))
    else:
        bound = max_in * 128 * taps
    return np.int32 if bound < 2**31 else np.int64


def _accumulate(padded: np.ndarray, filter: np.ndarray, data: OpData) -> np.ndarray:
    """``sum_{fy,fx} padded_tap[..., ic, None] * w[fy, fx, ic, m]`` -> ``[N, OH, OW, C*dm]``.

    Runs in ``padded.dtype``; for float32 this is the upstream summation order.
    """
    win, dm = data.window, data.depth_multiplier
    n, c = padded.shape[0], padded.shape[3]
    w = filter.reshape(win.filter_h, win.filter_w, c, dm).astype(padded.dtype)
    acc = np.zeros((n, win.out_h, win.out_w, c, dm), dtype=padded.dtype)
    for fy in range(win.filter_h):
        for fx in range(win.filter_w):
            acc += tap_view(padded, win, fy, fx)[..., None] * w[fy, fx]
    return acc.reshape(n, win.out_h, win.out_w, c * dm)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """``[input, filter, bias or None]`` -> ``[output]`` (float32, int8 or int16, NHWC)."""
    x, filter = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    win = data.window
    out_shape = (x.shape[0], win.out_h, win.out_w, filter.shape[3])
    q = data.quant
    if q is None:
        if win.is_empty:
            return [np.zeros(out_shape, np.float32)]
        if data.hybrid_filter_scale is not None:
            return [_invoke_hybrid(x, filter, bias, data)]
        acc = _accumulate(pad_input(x, win, 0.0, dtype=np.float32), filter, data)
        if bias is not None:
            acc += bias.astype(np.float32)
        return [clamp_float(acc, data.float_activation_min, data.float_activation_max)]
    if win.is_empty:
        return [np.zeros(out_shape, q.output_dtype)]
    # Pad with zp_in, then subtract it everywhere: padding taps become exact zeros.
    padded = pad_input(x, win, -q.input_offset, dtype=data.accumulator_dtype)
    if q.input_offset:
        padded += q.input_offset
    acc = _accumulate(padded, filter, data)  # exact integers in the accumulator dtype
    if data.tail_quant is not None and data.tail_channel is not None:
        t = data.tail_channel
        if t == 0:  # fewer than 8 channels: all scalar
            return [output_stage(acc, data.tail_quant, bias)]
        head_q = replace(q, requantize=_head(q.requantize, t))
        b_head = None if bias is None else bias[:t]
        b_tail = None if bias is None else bias[t:]
        out = np.empty(acc.shape, q.output_dtype)
        out[..., :t] = output_stage(np.ascontiguousarray(acc[..., :t]), head_q, b_head)
        out[..., t:] = output_stage(np.ascontiguousarray(acc[..., t:]), data.tail_quant, b_tail)
        return [out]
    return [output_stage(acc, q, bias)]


def _head(r: "ar.Requantizer", t: int) -> "ar.Requantizer":
    return ar.Requantizer(r.how, r.real[:t], r.multiplier[:t], r.shift[:t], r.xnn_scale[:t])


def _invoke_hybrid(x: np.ndarray, filter: np.ndarray, bias: np.ndarray | None,
                   data: OpData) -> np.ndarray:
    """Per-image asymmetric quantization, exact tap sums, float32 rescale (module doc)."""
    n = x.shape[0]
    qr = hybrid.quantize_rows_asymmetric(x.reshape(n, -1))
    centered = qr.values.reshape(x.shape).astype(data.accumulator_dtype)
    centered -= qr.zero_point.reshape(n, 1, 1, 1).astype(data.accumulator_dtype)
    acc = _accumulate(pad_input(centered, data.window, 0), filter, data)
    assert data.hybrid_filter_scale is not None
    s_w = data.hybrid_filter_scale  # [C_out] float32
    sf = qr.scale.reshape(n, 1, 1, 1)  # float32, one per image
    acc_f = acc.astype(np.float32)  # float(int32): round to nearest even above 2**24
    v = data.hybrid_vector_channels
    if v is None:  # reference: per_channel_scale[oc] * scaling_factor[n] first
        y = acc_f * (s_w[None, :] * qr.scale[:, None])[:, None, None, :]
    else:  # optimized: vector channels (acc * s_w) * sf, scalar ones (acc * sf) * s_w
        y = np.empty_like(acc_f)
        y[..., :v] = (acc_f[..., :v] * s_w[:v]) * sf
        y[..., v:] = (acc_f[..., v:] * sf) * s_w[v:]
    if bias is not None:
        y = y + bias.astype(np.float32)
    return clamp_float(y, data.float_activation_min, data.float_activation_max)


DEPTHWISE_CONV_2D = Kernel(prepare, invoke)


# --------------------------------------------------------------------------------------
# Loop versions in the upstream loop order, for tests only (slow).
# --------------------------------------------------------------------------------------
def _reference_loop(x: np.ndarray, filter: np.ndarray, bias: np.ndarray | None,
                    data: OpData) -> np.ndarray:
    """``DepthwiseConvPerChannel`` (int8) / ``DepthwiseConv`` (float32) written as loops."""
    win, dm, q = data.window, data.depth_multiplier, data.quant
    n, _, _, in_depth = x.shape
    is_float = q is None
    acc = np.zeros((n, win.out_h, win.out_w, in_depth * dm),
                   np.float32 if is_float else np.int64)
    for batch in range(n):
        for out_y in range(win.out_h):
            in_y_origin = out_y * win.stride_h - win.padding.height
            for out_x in range(win.out_w):
                in_x_origin = out_x * win.stride_w - win.padding.width
                for in_channel in range(in_depth):
                    for m in range(dm):
                        output_channel = m + in_channel * dm
                        total = np.float32(0.0) if is_float else 0
                        for filter_y in range(win.filter_h):
                            in_y = in_y_origin + win.dilation_h * filter_y
                            for filter_x in range(win.filter_w):
                                in_x = in_x_origin + win.dilation_w * filter_x
                                if not (0 <= in_y < win.in_h and 0 <= in_x < win.in_w):
                                    continue  # out-of-image taps are skipped
                                w = filter[0, filter_y, filter_x, output_channel]
                                v = x[batch, in_y, in_x, in_channel]
                                if is_float:
                                    total = np.float32(total + v * w)
                                else:
                                    total += int(w) * (int(v) + q.input_offset)
                        if bias is not None:
                            total = total + (bias[output_channel] if is_float
                                             else int(bias[output_channel]))
                        acc[batch, out_y, out_x, output_channel] = total
    if is_float:
        return clamp_float(acc, data.float_activation_min, data.float_activation_max)
    assert q is not None
    return output_stage(acc, q)


_reference_loop_int8 = _reference_loop
_reference_loop_float = _reference_loop
