"""MAX_POOL_2D and AVERAGE_POOL_2D on NHWC tensors (float32, int8, int16).

Layouts: input ``[N, H, W, C]`` -> output ``[N, OH, OW, C]``; window ``filter_height x
filter_width`` (options), strides from the options, no dilation. The window of output
pixel ``(oy, ox)`` starts at ``(oy*stride_h - pad_h, ox*stride_w - pad_w)`` and is
clipped to the image: out-of-image taps are skipped and **not counted**.

Arithmetic
----------
MAX (int8 / int16 / float32)::

    m   = lowest(dtype); for each in-image tap: m = max(m, x)      (std::max: a < b ? b : a)
    out = min(max(m, act_min), act_max)

AVERAGE int8 / int16 (input and output share scale and zero point; raw values are
averaged; int16 is the same loop with ``int16_t`` data)::

    acc = sum of in-image x (int32);  n = number of in-image taps (> 0)
    q   = (acc + n/2) / n  if acc > 0  else  (acc - n/2) / n        (C division: truncates)
        = round half away from zero of acc / n
    out = clamp(q, act_min, act_max)

AVERAGE float32: ``total`` summed in float32 tap by tap (rows then columns), then
``total / float(n)`` in float32, then the clamp: reproduced in the same order, so float
results are bit-identical to LiteRT's reference kernel.

Vectorisation: one NumPy operation per window tap (``KH*KW`` iterations) over the whole
batch. Padding never contributes: max pads with ``lowest`` (int8) / ``-inf`` (float;
``max(lowest, -inf) = lowest``), average pads with 0 and divides by the in-image count
computed from the geometry.

Mirrors: tflite/kernels/pooling.cc (``GenericPrepare``, reference path),
kernels/internal/reference/integer_ops/pooling.h and reference/pooling.h
(``MaxPool``, ``AveragePool``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext
from .padding import (
    Window2D,
    activation_range_float,
    clamp_float,
    fused_activation,
    in_image_count,
    option,
    pad_input,
    tap_view,
    window_from_options,
)

#: Output-scale tolerance of LiteRT's (debug-only) same-scale check.
_SCALE_TOLERANCE = 1.0e-6


@dataclass(frozen=True)
class OpData:
    """Precomputed pooling parameters.

    Attributes
    ----------
    window : Window2D
    is_float : bool
    output_activation_min, output_activation_max : int
        int8 / int16 clamp (storage range when not quantized).
    float_activation_min, float_activation_max : np.float32
    count : ndarray of int64, shape (OH, OW)
        In-image taps per output pixel (the average-pool divisor); all > 0.
    """

    window: Window2D
    is_float: bool
    output_activation_min: int
    output_activation_max: int
    float_activation_min: np.float32
    float_activation_max: np.float32
    count: np.ndarray


def prepare(ctx: OpContext) -> OpData:
    """Shared by both pools: validate, compute the window, clamps and divisors."""
    ctx.require(len(ctx.inputs) == 1, f"expected 1 input, got {len(ctx.inputs)}")
    ctx.require(len(ctx.outputs) == 1, f"expected 1 output, got {len(ctx.outputs)}")
    input, output = ctx.input(0), ctx.output(0)
    ctx.require(len(input.shape) == 4, f"input {input.describe()} must be 4-D (NHWC)")
    batches, in_h, in_w, channels = input.shape
    filter_h = option(ctx, "filter_height", 0)
    filter_w = option(ctx, "filter_width", 0)
    activation = fused_activation(ctx)
    window = window_from_options(ctx, in_h, in_w, filter_h, filter_w, with_dilation=False)
    count = in_image_count(window)
    # Cannot happen for SAME/VALID geometry; LiteRT's AveragePool fails on it.
    ctx.require(bool(np.all(count > 0)), "a pooling window has no tap inside the image")

    dtype = np.dtype(input.dtype)
    ctx.require(np.dtype(output.dtype) == dtype,
                f"output {output.describe()} must have the input's dtype {dtype.name}")
    lo, hi = activation_range_float(activation)
    if dtype == np.float32:
        act_min, act_max = 0, 0
    elif dtype in (np.int8, np.int16):
        for t, role in ((input, "input"), (output, "output")):
            ctx.require(t.is_quantized and not t.is_per_channel,
                        f"{role} {t.describe()} must be per-tensor quantized")
        # TFLM refuses other models (TF_LITE_ENSURE in pooling_common.cc); LiteRT checks
        # int8 with TFLITE_DCHECK only (debug builds) and int16 not at all, then pools the
        # raw codes. Refused here for both flavours.
        ctx.require(int(input.zero_point[0]) == int(output.zero_point[0])
                    and abs(float(input.scale[0]) - float(output.scale[0])) <= _SCALE_TOLERANCE,
                    f"input {input.describe()} and output {output.describe()} must share "
                    f"scale and zero point")
        act_min, act_max = ar.activation_range_quantized(
            activation, float(output.scale[0]), int(output.zero_point[0]), dtype)
    else:
        raise ctx.unsupported(supported="float32, int8, int16")
    ctx.set_output_shape(0, (batches, window.out_h, window.out_w, channels))
    return OpData(window, dtype == np.float32, act_min, act_max, lo, hi, count)


def _c_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``std::max(a, b)`` = ``a < b ? b : a`` (keeps ``a`` on NaN and on equal zeros)."""
    return np.where(a < b, b, a)


def invoke_max(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """MAX_POOL_2D: ``[input]`` -> ``[output]``."""
    x = inputs[0]
    win = data.window
    out_shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    if data.is_float:
        lowest = np.float32(np.finfo(np.float32).min)
        if win.is_empty:
            return [np.zeros(out_shape, np.float32)]
        padded = pad_input(x, win, -np.inf)
        m = np.full(out_shape, lowest, np.float32)
        for fy in range(win.filter_h):
            for fx in range(win.filter_w):
                m = _c_max(m, tap_view(padded, win, fy, fx))
        return [clamp_float(m, data.float_activation_min, data.float_activation_max)]
    dtype = x.dtype
    if win.is_empty:
        return [np.zeros(out_shape, dtype)]
    lowest = np.iinfo(dtype).min
    padded = pad_input(x, win, lowest)
    m = np.full(out_shape, lowest, dtype)
    for fy in range(win.filter_h):
        for fx in range(win.filter_w):
            np.maximum(m, tap_view(padded, win, fy, fx), out=m)
    return [np.clip(m, data.output_activation_min, data.output_activation_max).astype(dtype)]


def _divide_round_half_away(acc: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``acc > 0 ? (acc + n/2) / n : (acc - n/2) / n`` with C's truncating ``/`` (n > 0)."""
    half = n // 2  # n > 0: floor == truncation
    num = np.where(acc > 0, acc + half, acc - half)
    return np.sign(num) * (np.abs(num) // n)  # truncate toward zero, unlike Python //


def invoke_average(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """AVERAGE_POOL_2D: ``[input]`` -> ``[output]``."""
    x = inputs[0]
    win = data.window
    out_shape = (x.shape[0], win.out_h, win.out_w, x.shape[3])
    count = data.count[None, :, :, None]
    if data.is_float:
        if win.is_empty:
            return [np.zeros(out_shape, np.float32)]
        padded = pad_input(x, win, 0.0)
        total = np.zeros(out_shape, np.float32)
        for fy in range(win.filter_h):
            for fx in range(win.filter_w):
                total += tap_view(padded, win, fy, fx)  # float32, upstream order
        average = total / count.astype(np.float32)
        return [clamp_float(average, data.float_activation_min, data.float_activation_max)]
    dtype = x.dtype
    if win.is_empty:
        return [np.zeros(out_shape, dtype)]
    padded = pad_input(x, win, 0, dtype=np.int32)
    acc = np.zeros(out_shape, np.int32)  # int32 like upstream: at most 65536 int16 taps fit
    for fy in range(win.filter_h):
        for fx in range(win.filter_w):
            acc += tap_view(padded, win, fy, fx)
    q = _divide_round_half_away(acc.astype(np.int64), count)
    return [np.clip(q, data.output_activation_min, data.output_activation_max).astype(dtype)]


MAX_POOL_2D = Kernel(prepare, invoke_max)
AVERAGE_POOL_2D = Kernel(prepare, invoke_average)


# --------------------------------------------------------------------------------------
# Loop versions in the upstream loop order, for tests only (slow).
# --------------------------------------------------------------------------------------
def _window_bounds(win: Window2D, out_y: int, out_x: int) -> tuple[int, int, int, int, int, int]:
    in_y_origin = out_y * win.stride_h - win.padding.height
    in_x_origin = out_x * win.stride_w - win.padding.width
    fy_start, fy_end = max(0, -in_y_origin), min(win.filter_h, win.in_h - in_y_origin)
    fx_start, fx_end = max(0, -in_x_origin), min(win.filter_w, win.in_w - in_x_origin)
    return in_y_origin, in_x_origin, fy_start, fy_end, fx_start, fx_end


def _reference_loop_max(x: np.ndarray, data: OpData) -> np.ndarray:
    """``MaxPool`` (int8, int16 and float) as loops over clipped windows."""
    win = data.window
    n, _, _, depth = x.shape
    out = np.zeros((n, win.out_h, win.out_w, depth), x.dtype)
    lowest = np.float32(np.finfo(np.float32).min) if data.is_float else np.iinfo(x.dtype).min
    for batch in range(n):
        for out_y in range(win.out_h):
            for out_x in range(win.out_w):
                y0, x0, fys, fye, fxs, fxe = _window_bounds(win, out_y, out_x)
                for channel in range(depth):
                    m = lowest
                    for filter_y in range(fys, fye):
                        for filter_x in range(fxs, fxe):
                            v = x[batch, y0 + filter_y, x0 + filter_x, channel]
                            m = v if m < v else m  # std::max
                    if data.is_float:
                        m = data.float_activation_min if m < data.float_activation_min else m
                        m = data.float_activation_max if data.float_activation_max < m else m
                    else:
                        m = min(max(int(m), data.output_activation_min),
                                data.output_activation_max)
                    out[batch, out_y, out_x, channel] = m
    return out


def _reference_loop_average(x: np.ndarray, data: OpData) -> np.ndarray:
    """``AveragePool`` (int8, int16 and float) as loops over clipped windows."""
    win = data.window
    n, _, _, depth = x.shape
    out = np.zeros((n, win.out_h, win.out_w, depth), x.dtype)
    for batch in range(n):
        for out_y in range(win.out_h):
            for out_x in range(win.out_w):
                y0, x0, fys, fye, fxs, fxe = _window_bounds(win, out_y, out_x)
                for channel in range(depth):
                    total = np.float32(0.0) if data.is_float else 0
                    filter_count = 0
                    for filter_y in range(fys, fye):
                        for filter_x in range(fxs, fxe):
                            v = x[batch, y0 + filter_y, x0 + filter_x, channel]
                            total = np.float32(total + v) if data.is_float else total + int(v)
                            filter_count += 1
                    if data.is_float:
                        avg = np.float32(total / np.float32(filter_count))
                        avg = data.float_activation_min if avg < data.float_activation_min else avg
                        avg = data.float_activation_max if data.float_activation_max < avg else avg
                        out[batch, out_y, out_x, channel] = avg
                        continue
                    half = filter_count // 2
                    num = total + half if total > 0 else total - half
                    q = abs(num) // filter_count * (1 if num >= 0 else -1)  # C truncation
                    out[batch, out_y, out_x, channel] = min(
                        max(q, data.output_activation_min), data.output_activation_max)
    return out
