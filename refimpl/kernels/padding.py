"""Sliding-window geometry shared by CONV_2D, DEPTHWISE_CONV_2D and the 2-D pools.

Everything a window op needs before it touches a value: output size and padding
(arithmetic.md §2.1), the padded input, a strided *view* of every window (the
im2col gather, without copying), the slice of the input one filter tap reads for
all output pixels at once, and the number of in-image taps per output pixel.

Conventions: activations NHWC; ``pad`` values are the rows/columns added *before*
(top/left) the image; the "after" side is implicit (``offset`` says whether it got
one extra row/column). Output pixel ``(oy, ox)`` reads input rows
``oy*stride_h - pad_h + fy*dilation_h`` for filter rows ``fy``; taps outside the
image are skipped by the runtimes, which equals reading a padding value that
contributes nothing (0 in the ``x - zp_in`` domain, ``lowest`` for max-pool).

Mirrors: tflite/kernels/padding.h (``ComputeOutSizeChecked``,
``ComputePaddingWithOffsetChecked``, ``ComputePaddingHeightWidth``) and
``CalculateActivationRange`` (kernels/internal/common.h) for float clamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..context import OpContext

#: schema.fbs ``Padding`` enum.
PADDING_SAME = 0
PADDING_VALID = 1
PADDING_NAMES = {PADDING_SAME: "SAME", PADDING_VALID: "VALID"}

#: Fused activations with a clamp range (schema ``ActivationFunctionType``).
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}

_F32_MAX = float(np.finfo(np.float32).max)


def c_div(a: int, b: int) -> int:
    """C integer division of Python ints: truncates toward zero (Python ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def compute_out_size(padding: int, in_size: int, filter_size: int, stride: int,
                     dilation: int) -> int:
    """Output length of a window op along one axis, *before* the validity check.

    ::

        eff   = (filter - 1) * dilation + 1
        SAME  : out = (in + stride - 1) / stride        (C division)
        VALID : out = (in + stride - eff) / stride      (C division: truncates toward 0)

    A VALID window longer than the input can give a negative value; LiteRT treats that
    as a failed computation (see :func:`make_window`).
    """
    eff = (filter_size - 1) * dilation + 1
    if padding == PADDING_SAME:
        return c_div(in_size + stride - 1, stride)
    return c_div(in_size + stride - eff, stride)


def compute_padding_with_offset(stride: int, dilation: int, in_size: int, filter_size: int,
                                out_size: int) -> tuple[int, int]:
    """``(pad_before, offset)`` along one axis; the odd pixel goes after (bottom/right).

    ::

        total = max((out - 1) * stride + eff - in, 0)
        pad_before = total / 2 ; offset = total % 2          (total >= 0: C == Python)
    """
    eff = (filter_size - 1) * dilation + 1
    total = max((out_size - 1) * stride + eff - in_size, 0)
    return total // 2, total % 2


@dataclass(frozen=True)
class Padding2D:
    """``TfLitePaddingValues``: rows / columns added before the image, plus odd extras."""

    height: int
    width: int
    height_offset: int = 0
    width_offset: int = 0


@dataclass(frozen=True)
class Window2D:
    """Geometry of one 2-D window op on an ``[N, in_h, in_w, C]`` input.

    Attributes
    ----------
    in_h, in_w : int
        Input image size.
    filter_h, filter_w : int
        Number of taps per axis (before dilation).
    stride_h, stride_w, dilation_h, dilation_w : int
        All >= 1.
    out_h, out_w : int
        Output image size (may be 0, see :func:`compute_out_size`).
    padding : Padding2D
        Rows / columns added before the image.
    """

    in_h: int
    in_w: int
    filter_h: int
    filter_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    out_h: int
    out_w: int
    padding: Padding2D

    @property
    def eff_h(self) -> int:
        """Dilated filter height ``(filter_h - 1) * dilation_h + 1``."""
        return (self.filter_h - 1) * self.dilation_h + 1

    @property
    def eff_w(self) -> int:
        return (self.filter_w - 1) * self.dilation_w + 1

    @property
    def padded_h(self) -> int:
        """Rows of the padded input the windows span: ``(out_h - 1) * stride_h + eff_h``."""
        return (self.out_h - 1) * self.stride_h + self.eff_h

    @property
    def padded_w(self) -> int:
        return (self.out_w - 1) * self.stride_w + self.eff_w

    @property
    def is_empty(self) -> bool:
        return self.out_h == 0 or self.out_w == 0


def make_window(padding: int, in_h: int, in_w: int, filter_h: int, filter_w: int,
                stride_h: int, stride_w: int, dilation_h: int = 1,
                dilation_w: int = 1) -> Window2D:
    """Output size and padding of a window op (``ComputePaddingHeightWidth``).

    Arguments must already be validated (strides, dilations, filter sizes >= 1).

    A negative output size (VALID, window longer than the input) is not an error in
    LiteRT: ``ComputePaddingHeightWidth`` stops at the first failing axis (width is
    computed first) and leaves the sizes not yet computed at 0, so the op yields an
    empty tensor: width fails -> ``0 x 0``; height fails -> ``0 x out_w``. Mirrored here.
    """
    out_w = compute_out_size(padding, in_w, filter_w, stride_w, dilation_w)
    out_h = compute_out_size(padding, in_h, filter_h, stride_h, dilation_h)
    if out_w < 0 or out_h < 0:
        out_h, out_w = 0, (0 if out_w < 0 else out_w)
        return Window2D(in_h, in_w, filter_h, filter_w, stride_h, stride_w, dilation_h,
                        dilation_w, out_h, out_w, Padding2D(0, 0))
    pad_h, off_h = compute_padding_with_offset(stride_h, dilation_h, in_h, filter_h, out_h)
    pad_w, off_w = compute_padding_with_offset(stride_w, dilation_w, in_w, filter_w, out_w)
    return Window2D(in_h, in_w, filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w,
                    out_h, out_w, Padding2D(pad_h, pad_w, off_h, off_w))


# --------------------------------------------------------------------------------------
# Options shared by the window ops
# --------------------------------------------------------------------------------------
def option(ctx: OpContext, name: str, default: int) -> int:
    """Builtin option ``name``, or its schema default when the options table is absent."""
    if ctx.options is None:
        return default
    value: Any = getattr(ctx.options, name, default)
    return int(value)


def window_from_options(ctx: OpContext, in_h: int, in_w: int, filter_h: int, filter_w: int,
                        *, with_dilation: bool) -> Window2D:
    """Validate padding / strides / dilations from ``ctx.options`` and make the window.

    Schema defaults (used when the table is absent): padding SAME, strides 0 (which is
    an error, as in LiteRT's Prepare), dilations 1.
    """
    padding = option(ctx, "padding", PADDING_SAME)
    stride_h = option(ctx, "stride_h", 0)
    stride_w = option(ctx, "stride_w", 0)
    dilation_h = option(ctx, "dilation_h_factor", 1) if with_dilation else 1
    dilation_w = option(ctx, "dilation_w_factor", 1) if with_dilation else 1
    ctx.require(padding in PADDING_NAMES, f"padding {padding} is neither SAME (0) nor VALID (1)")
    ctx.require(stride_h > 0 and stride_w > 0,
                f"strides must be > 0, got stride_h={stride_h} stride_w={stride_w}")
    ctx.require(dilation_h > 0 and dilation_w > 0,
                f"dilations must be > 0, got dilation_h_factor={dilation_h} "
                f"dilation_w_factor={dilation_w}")
    ctx.require(filter_h > 0 and filter_w > 0,
                f"filter size must be > 0, got {filter_h}x{filter_w}")
    ctx.require(in_h >= 0 and in_w >= 0, f"negative input size {in_h}x{in_w}")
    return make_window(padding, in_h, in_w, filter_h, filter_w, stride_h, stride_w,
                       dilation_h, dilation_w)


def fused_activation(ctx: OpContext) -> int:
    """``fused_activation_function`` option, restricted to the clamp activations.

    LiteRT's window kernels turn TANH / SIGN_BIT into "no clamp" silently
    (``CalculateActivationRange``'s default branch); refusing them is clearer, and the
    converter never fuses them into these ops.
    """
    act = option(ctx, "fused_activation_function", 0)
    if act not in ACTIVATION_NAMES:
        raise ctx.unsupported(f"fused activation {act}",
                              supported="NONE, RELU, RELU_N1_TO_1, RELU6")
    return act


def activation_range_float(activation: int) -> tuple[np.float32, np.float32]:
    """Float clamp bounds of a fused activation (``CalculateActivationRange<float>``).

    NONE clamps to ``[lowest, max]`` of float32, so an infinite result becomes
    ``±FLT_MAX`` exactly as in the C kernels (``ActivationFunctionWithMinMax``);
    RELU is ``[0, FLT_MAX]``.
    """
    lo, hi = -_F32_MAX, _F32_MAX
    if activation == 1:
        lo = 0.0
    elif activation == 2:
        lo, hi = -1.0, 1.0
    elif activation == 3:
        lo, hi = 0.0, 6.0
    return np.float32(lo), np.float32(hi)


def clamp_float(x: np.ndarray, lo: np.float32, hi: np.float32) -> np.ndarray:
    """``std::min(std::max(x, lo), hi)`` on float32, comparison for comparison.

    ``std::max(a, b)`` is ``a < b ? b : a``: NaN passes through and ``-0.0`` stays
    ``-0.0`` under a RELU bound of ``+0.0`` (``np.maximum`` does not promise either).
    """
    x = np.where(x < lo, lo, x)
    return np.where(hi < x, hi, x).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------
# Gathering windows
# --------------------------------------------------------------------------------------
def pad_input(x: np.ndarray, window: Window2D, pad_value: float | int,
              dtype: np.dtype | type | None = None) -> np.ndarray:
    """Copy ``x`` ([N, H, W, C]) into ``[N, padded_h, padded_w, C]`` filled with ``pad_value``.

    Row ``r`` of the result is input row ``r - pad_h`` (likewise columns). Rows the
    windows never reach (VALID leftovers) are cropped; rows beyond the image are padding.
    ``dtype`` converts on the way (default: ``x.dtype``).
    """
    n, h, w, c = x.shape
    ph, pw = window.padding.height, window.padding.width
    out = np.full((n, window.padded_h, window.padded_w, c), pad_value,
                  dtype=x.dtype if dtype is None else dtype)
    rows = min(h, window.padded_h - ph)
    cols = min(w, window.padded_w - pw)
    if rows > 0 and cols > 0:
        out[:, ph:ph + rows, pw:pw + cols, :] = x[:, :rows, :cols, :]
    return out


def window_view(padded: np.ndarray, window: Window2D, out_rows: slice | None = None) -> np.ndarray:
    """Every window of a padded input as a strided view ``[N, OH, OW, KH, KW, C]``.

    ``view[n, oy, ox, fy, fx, c] == padded[n, oy*sh + fy*dh, ox*sw + fx*dw, c]``.
    No data is copied; reshaping it to ``[N*OH*OW, KH*KW*C]`` is the im2col matrix
    (one copy). ``out_rows`` restricts to a range of output rows (chunking).
    """
    sh, sw = window.stride_h, window.stride_w
    if out_rows is not None:
        start, stop = out_rows.start, out_rows.stop
        padded = padded[:, start * sh:(stop - 1) * sh + window.eff_h]
    views = sliding_window_view(padded, (window.eff_h, window.eff_w), axis=(1, 2))
    # views: [N, Hp - eff_h + 1, Wp - eff_w + 1, C, eff_h, eff_w]
    views = views[:, ::sh, ::sw, :, ::window.dilation_h, ::window.dilation_w]
    return views.transpose(0, 1, 2, 4, 5, 3)


def tap_view(padded: np.ndarray, window: Window2D, fy: int, fx: int) -> np.ndarray:
    """What filter tap ``(fy, fx)`` reads for every output pixel: ``[N, OH, OW, C]`` view."""
    y0, x0 = fy * window.dilation_h, fx * window.dilation_w
    return padded[:, y0:y0 + (window.out_h - 1) * window.stride_h + 1:window.stride_h,
                  x0:x0 + (window.out_w - 1) * window.stride_w + 1:window.stride_w, :]


def in_image_taps(window: Window2D) -> tuple[np.ndarray, np.ndarray]:
    """Per output row / column, which taps land inside the image.

    Returns boolean masks ``rows [OH, KH]`` and ``cols [OW, KW]``; tap ``(fy, fx)`` of
    pixel ``(oy, ox)`` is in the image iff ``rows[oy, fy] and cols[ox, fx]``.
    """
    oy = np.arange(window.out_h)[:, None] * window.stride_h - window.padding.height
    iy = oy + np.arange(window.filter_h)[None, :] * window.dilation_h
    ox = np.arange(window.out_w)[:, None] * window.stride_w - window.padding.width
    ix = ox + np.arange(window.filter_w)[None, :] * window.dilation_w
    return (iy >= 0) & (iy < window.in_h), (ix >= 0) & (ix < window.in_w)


def in_image_count(window: Window2D) -> np.ndarray:
    """Number of in-image taps per output pixel, int64 ``[OH, OW]`` (avg-pool divisor)."""
    rows, cols = in_image_taps(window)
    return np.outer(rows.sum(axis=1), cols.sum(axis=1)).astype(np.int64)


def batch_chunks(n: int, out_h: int, bytes_per_row: int,
                 budget: int = 256 * 2**20) -> list[tuple[slice, slice]]:
    """Split ``(batch, output rows)`` so that each im2col chunk stays under ``budget`` bytes.

    ``bytes_per_row`` is the im2col size of one output row of one image. Whole images are
    grouped while they fit; a single image too large is split by output rows.
    """
    per_image = max(bytes_per_row * out_h, 1)
    if per_image <= budget:
        step = max(budget // per_image, 1)
        return [(slice(b, min(b + step, n)), slice(0, out_h)) for b in range(0, n, step)]
    rows = max(budget // max(bytes_per_row, 1), 1)
    return [(slice(b, b + 1), slice(r, min(r + rows, out_h)))
            for b in range(n) for r in range(0, out_h, rows)]
