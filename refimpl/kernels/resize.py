"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (NHWC, resize of H and W).

Inputs: ``input`` [N, H, W, C] and ``size`` (a constant int32 tensor ``[new_h, new_w]``).
Options: ``align_corners``, ``half_pixel_centers`` (ResizeBilinearOptions /
ResizeNearestNeighborOptions). Output [N, new_h, new_w, C], same type; quantized codes are
interpolated directly (output quantization must equal the input's for the result to mean
anything, but only XNNPACK checks it).

Every runtime maps an output row (column) to input rows (columns) and weights on its own;
refimpl precomputes these per axis in ``prepare`` (:class:`AxisMap`) and gathers in
``invoke``. The variants (``OpData.method``):

Nearest neighbour
    ``nearest`` (LiteRT reference for every type, LiteRT optimized for 16/32-bit types or
    when a flag is set, TFLM): ``scale = fl32(in / out)`` (align_corners with out > 1:
    ``(in - 1) / (out - 1)``), ``src = min(floor(fl32((y + offset) * scale)), in - 1)``
    (``offset`` 0.5 with half_pixel_centers, then ``max(src, 0)``); with align_corners
    ``round`` (half away from zero) replaces ``floor``.
    ``nearest-fixed16`` (LiteRT optimized, 8-bit types, no flag):
    ``src = min((y * ((in << 16) // out + 1)) >> 16, in - 1)``.

Bilinear, per axis ``v = fl32(y * scale)`` or ``fl32(fl32((y + 0.5) * scale) - 0.5)``,
``lo = max(floor(v), 0)``, ``hi = min(ceil(v), in - 1)``, ``d = fl32(v - lo)``:
    ``float`` (LiteRT reference, float32 and uint8; TFLM float32)::

        out = ((a*(1-dy))*(1-dx) + (b*dy)*(1-dx)) + (c*(1-dy))*dx + (e*dy)*dx  [+ 0.5, trunc]
        a = in[lo_y, lo_x], b = in[hi_y, lo_x], c = in[lo_y, hi_x], e = in[hi_y, hi_x]

    ``integer`` (LiteRT int8 / int16 reference and optimized, TFLM int8): Q10 positions
    ``v10 = y*s10 (+ s10/2 - 512)`` with ``s10 = (1024*in + out/2) / out``, C-truncating
    divisions, bounds ``max(v10/1024, 0)``, ``min((v10+1023)/1024, in-1)``, weights
    ``w_hi = v10 - 1024*lo``, ``w_lo = 1024 - w_hi``; int64 sum of the four products,
    ``(sum ± 2^19) / 2^20`` truncated (half away from zero).
    ``opt-float`` (LiteRT optimized float32): output starts at +0.0 and accumulates
    ``a*s0, c*s1, b*s2, e*s3`` with ``s0 = (1-dy)*(1-dx)``, ``s1 = (1-dy)*dx``,
    ``s2 = dy*(1-dx)``, ``s3 = dy*dx`` (float32, no FMA).
    ``opt-float-2x2`` (the same kernel, no flags and an exact 2x upsample): for input
    pixel (i, j) with right / lower neighbours clamped: ``a``, ``(a+r)*0.5``,
    ``bl = (a+u)*0.5``, ``(bl + (r+ur)*0.5)*0.5``.
    ``opt-uint8`` (LiteRT optimized uint8): ``trunc(a*s0 + c*s1 + b*s2 + e*s3 + 0.5)``.
    Its NEON special case ``ResizeBilinear888Uint8`` (half_pixel_centers, C % 8 == 0, an
    exact 8x upsample to at least 8x8) gives the same codes: there all weights are
    multiples of 1/16, so the float formula is exact and both round half up (measured:
    15 / 15 such models identical on ai-edge-litert 2.3.0).
    ``xnn-f32`` / ``xnn-q11`` (XNNPACK, float32 / int8 / uint8 with equal input and output
    quantization): position ``p = min(fl32(y*scale), in-1)`` (legacy and align_corners)
    or ``clamp(fl32(y*scale) + fl32(0.5*scale - 0.5), 0, in-1)`` (half pixel),
    ``top = int(p)``, ``bottom = min(top+1, in-1)``, ``alpha = fl32(p - top)``;
    float: ``t = tl + (tr-tl)*ax``, ``b = bl + (br-bl)*ax``, ``out = t + (b-t)*ay``;
    quantized with ``A = lrintf(alpha * 2048)``: ``t = (tl << 11) + (tr-tl)*Ax`` (same for
    b), ``out = ((t << 11) + (b-t)*Ay + 2^21) >> 22``. An int8 / uint8 node whose output
    quantization differs from the input's passes the delegate's node check but fails
    XNNPACK's operator definition, and LiteRT ``AUTO`` then fails the whole model in
    Prepare (measured): refimpl's ``xnnpack`` flavour raises UnsupportedOpError there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext

F32 = np.float32

_NEAREST_TYPES = {"tflite": ("float32", "int32", "uint8", "int8", "int16"),
                  "tflm": ("float32", "int8", "int16")}
_BILINEAR_TYPES = {"tflite": ("float32", "uint8", "int8", "int16"), "tflm": ("float32", "int8")}


@dataclass(frozen=True)
class AxisMap:
    """Source rows (or columns) and weights of one output axis.

    ``lo`` / ``hi``: the two source indices per output index; ``w_lo`` / ``w_hi``: their
    weights in the variant's own representation (float32 fractions, Q10 or Q11 integers);
    for ``nearest`` only ``lo`` is used.
    """

    lo: np.ndarray
    hi: np.ndarray
    w_lo: np.ndarray
    w_hi: np.ndarray


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters: the chosen ``method`` (module docstring) and both axis maps."""

    method: str
    out_h: int
    out_w: int
    align_corners: bool
    half_pixel_centers: bool
    rows: AxisMap
    cols: AxisMap


def _size(ctx: OpContext) -> tuple[int, int]:
    size = ctx.input(1)
    if size.data is None:
        raise ctx.unsupported("the size input must be a constant tensor")
    ctx.require(np.dtype(size.dtype) == np.int32, "the size tensor must be int32")
    ctx.require(np.asarray(size.data).size == 2, "the size tensor must hold [height, width]")
    h, w = (int(v) for v in np.asarray(size.data).reshape(-1))
    ctx.require(h > 0 and w > 0, f"output size {[h, w]} must be positive")
    return h, w


def _flags(ctx: OpContext) -> tuple[bool, bool]:
    o = ctx.options
    if o is None:
        return False, False
    return bool(getattr(o, "align_corners", False)), bool(getattr(o, "half_pixel_centers", False))


def _float_scale(n_in: int, n_out: int, align: bool) -> np.float32:
    if align and n_out > 1:
        return F32(F32(n_in - 1) / F32(n_out - 1))
    return F32(F32(n_in) / F32(n_out))


# ------------------------------------------------------------------------------------
# Axis maps
# ------------------------------------------------------------------------------------
def _nearest_axis(n_in: int, n_out: int, align: bool, half: bool) -> AxisMap:
    scale = _float_scale(n_in, n_out, align)
    pos = (np.arange(n_out, dtype=F32) + F32(0.5 if half else 0.0)) * scale
    if align:
        p64 = pos.astype(np.float64)   # exact; rha must not round pos + 0.5 to float32
        src = np.where(p64 >= 0, np.floor(p64 + 0.5), -np.floor(-p64 + 0.5))
    else:
        src = np.floor(pos)
    src = np.minimum(src.astype(np.int64), n_in - 1)
    if half:
        src = np.maximum(src, 0)
    zero = np.zeros(n_out, np.int64)
    return AxisMap(src, src, zero, zero)


def _nearest_fixed16_axis(n_in: int, n_out: int) -> AxisMap:
    step = (n_in << 16) // n_out + 1
    src = np.minimum((np.arange(n_out, dtype=np.int64) * step) >> 16, n_in - 1)
    zero = np.zeros(n_out, np.int64)
    return AxisMap(src, src, zero, zero)


def _float_position(n_in: int, n_out: int, align: bool, half: bool) -> np.ndarray:
    """``ComputeInterpolationValues``: the float32 source position of every output index."""
    scale = _float_scale(n_in, n_out, align)
    y = np.arange(n_out, dtype=F32)
    if half:
        return ((y + F32(0.5)) * scale - F32(0.5)).astype(F32)
    return (y * scale).astype(F32)


def _float_axis(n_in: int, n_out: int, align: bool, half: bool) -> AxisMap:
    v = _float_position(n_in, n_out, align, half)
    lo = np.maximum(np.floor(v).astype(np.int64), 0)
    hi = np.minimum(np.ceil(v).astype(np.int64), n_in - 1)
    d = (v - lo.astype(F32)).astype(F32)   # weight of hi; (1 - d) is formed in invoke
    return AxisMap(lo, hi, (F32(1) - d).astype(F32), d)


def _c_div(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (truncation toward zero); NumPy's // floors."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def _integer_axis(n_in: int, n_out: int, align: bool, half: bool) -> AxisMap:
    if align and n_out > 1:
        s10 = ((1 << 10) * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1)
    else:
        s10 = ((1 << 10) * n_in + n_out // 2) // n_out
    y = np.arange(n_out, dtype=np.int64)
    v10 = y * s10 + s10 // 2 - (1 << 9) if half else y * s10
    lo = np.maximum(_c_div(v10, 1 << 10), 0)
    hi = np.minimum(_c_div(v10 + (1 << 10) - 1, 1 << 10), n_in - 1)
    w_hi = v10 - (1 << 10) * lo
    return AxisMap(lo, hi, (1 << 10) - w_hi, w_hi)


def _xnn_axis(n_in: int, n_out: int, align: bool, half: bool, q11: bool) -> AxisMap:
    adj = 1 if (align and n_out != 1) else 0
    scale = F32(F32(n_in - adj) / F32(n_out - adj))
    y = np.arange(n_out, dtype=F32)
    top_max = F32(n_in - 1)
    if align or not half:
        p = np.minimum((y * scale).astype(F32), top_max)
    else:
        offset = F32(F32(F32(0.5) * scale) - F32(0.5))
        p = np.minimum(np.maximum((y * scale + offset).astype(F32), F32(0)), top_max)
    top = p.astype(np.int64)                               # truncation, p >= 0
    bottom = np.minimum(top + 1, n_in - 1)
    alpha = (p - top.astype(F32)).astype(F32)
    if q11:
        alpha_q = np.rint(alpha * F32(2048)).astype(np.int64)   # lrintf: half to even
        return AxisMap(top, bottom, np.zeros(n_out, np.int64), alpha_q)
    return AxisMap(top, bottom, np.zeros(n_out, F32), alpha)


# ------------------------------------------------------------------------------------
# Prepare
# ------------------------------------------------------------------------------------
def _check_common(ctx: OpContext, kinds: dict[str, tuple[str, ...]]) -> tuple[int, int]:
    x = ctx.input(0)
    out = ctx.output(0)
    ctx.require(len(x.shape) == 4, f"input {x.describe()} must have rank 4")
    h, w = _size(ctx)
    if np.dtype(out.dtype) != np.dtype(x.dtype):
        raise ctx.unsupported(f"input {np.dtype(x.dtype).name} but output "
                              f"{np.dtype(out.dtype).name}")
    allowed = kinds["tflm" if ctx.flavor.tflm else "tflite"]
    if np.dtype(x.dtype).name not in allowed:
        raise ctx.unsupported(supported=", ".join(allowed))
    n, _, _, c = x.shape
    ctx.set_output_shape(0, (n, h, w, c))
    return h, w


def prepare_nearest(ctx: OpContext) -> OpData:
    """Validate, choose the variant, precompute the source indices per axis.

    Mirrors: ``Prepare`` / ``Eval`` (tflite/kernels/resize_nearest_neighbor.cc),
    ``GetNearestNeighbor`` (reference/resize_nearest_neighbor.h),
    ``optimized_ops::ResizeNearestNeighbor`` (uint8 fixed-point scale),
    micro/kernels/resize_nearest_neighbor.cc.
    """
    h, w = _check_common(ctx, _NEAREST_TYPES)
    align, half = _flags(ctx)
    _, in_h, in_w, _ = ctx.input(0).shape
    byte_type = np.dtype(ctx.input(0).dtype).itemsize == 1
    if ctx.flavor.optimized and byte_type and not (align or half):
        return OpData("nearest-fixed16", h, w, align, half, _nearest_fixed16_axis(in_h, h),
                      _nearest_fixed16_axis(in_w, w))
    return OpData("nearest", h, w, align, half, _nearest_axis(in_h, h, align, half),
                  _nearest_axis(in_w, w, align, half))


def _xnn_accepts(ctx: OpContext) -> bool:
    """``VisitResizeBilinearNode``: float32 / int8 / uint8 with equal in/out quantization."""
    x, out = ctx.input(0), ctx.output(0)
    name = np.dtype(x.dtype).name
    if name == "float32":
        return True
    if name not in ("int8", "uint8") or not (x.is_quantized and out.is_quantized):
        return False
    if x.is_per_channel or out.is_per_channel:
        return False
    return (F32(x.scale[0]) == F32(out.scale[0])
            and int(x.zero_point[0]) == int(out.zero_point[0]))


def prepare_bilinear(ctx: OpContext) -> OpData:
    """Validate, choose the variant, precompute rows / columns and weights per axis.

    Mirrors: ``Prepare`` / ``Eval`` (tflite/kernels/resize_bilinear.cc),
    ``ResizeBilinear`` / ``ResizeBilinearInteger`` (reference/resize_bilinear.h),
    optimized/resize_bilinear.h, micro/kernels/resize_bilinear.cc,
    XNNPACK ``xnn_indirection_init_resize_bilinear2d_hwc_f32`` / ``_q11`` (src/indirection.c)
    with the ``f32-ibilinear`` / ``s8-ibilinear`` / ``u8-ibilinear`` micro-kernels.
    """
    h, w = _check_common(ctx, _BILINEAR_TYPES)
    align, half = _flags(ctx)
    if align and half:
        raise ctx.error("half_pixel_centers requires align_corners to be false")
    x = ctx.input(0)
    _, in_h, in_w, depth = x.shape
    name = np.dtype(x.dtype).name
    if ctx.flavor.xnnpack and name in ("int8", "uint8") and not _xnn_accepts(ctx):
        # The delegate's node check takes any int8 / uint8 node, but defining the XNNPACK
        # operator fails when input and output quantization differ, and LiteRT's AUTO
        # then fails the whole model in Prepare (measured on ai-edge-litert 2.3.0).
        raise ctx.unsupported("LiteRT AUTO fails to prepare RESIZE_BILINEAR int8/uint8 whose "
                              "input and output quantization differ (XNNPACK delegate error)")
    if ctx.flavor.xnnpack and _xnn_accepts(ctx):
        q11 = name != "float32"
        return OpData("xnn-q11" if q11 else "xnn-f32", h, w, align, half,
                      _xnn_axis(in_h, h, align, half, q11), _xnn_axis(in_w, w, align, half, q11))
    if name in ("int8", "int16"):
        method = "integer"
    elif not ctx.flavor.optimized:
        method = "float"
    elif name == "float32":
        method = ("opt-float-2x2" if not (align or half) and h == 2 * in_h and w == 2 * in_w
                  else "opt-float")
    else:
        method = "opt-uint8"
    if method == "integer":
        rows, cols = _integer_axis(in_h, h, align, half), _integer_axis(in_w, w, align, half)
    elif method == "opt-float-2x2":
        rows = AxisMap(*(np.zeros(0, np.int64),) * 4)
        cols = rows
    else:
        rows, cols = _float_axis(in_h, h, align, half), _float_axis(in_w, w, align, half)
    return OpData(method, h, w, align, half, rows, cols)


# ------------------------------------------------------------------------------------
# Invoke
# ------------------------------------------------------------------------------------
def _corners(x: np.ndarray, data: OpData) -> tuple[np.ndarray, ...]:
    """in[lo_y, lo_x], in[hi_y, lo_x], in[lo_y, hi_x], in[hi_y, hi_x]; each [N, h, w, C]."""
    r, c = data.rows, data.cols
    top, bot = x[:, r.lo], x[:, r.hi]
    return top[:, :, c.lo], bot[:, :, c.lo], top[:, :, c.hi], bot[:, :, c.hi]


def _weights(m: AxisMap, axis: int) -> tuple[np.ndarray, np.ndarray]:
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    return m.w_lo.reshape(shape), m.w_hi.reshape(shape)


def _bilinear_float(x: np.ndarray, data: OpData) -> np.ndarray:
    a, b, c, e = (v.astype(F32) for v in _corners(x, data))
    wy0, dy = _weights(data.rows, 1)
    wx0, dx = _weights(data.cols, 2)
    terms = [(a * wy0) * wx0, (b * dy) * wx0, (c * wy0) * dx, (e * dy) * dx]
    acc = ((terms[0] + terms[1]) + terms[2]) + terms[3]
    return acc


def _bilinear_opt(x: np.ndarray, data: OpData, start_at_zero: bool) -> np.ndarray:
    a, b, c, e = (v.astype(F32) for v in _corners(x, data))
    wy0, dy = _weights(data.rows, 1)
    wx0, dx = _weights(data.cols, 2)
    s0, s1, s2, s3 = wy0 * wx0, wy0 * dx, dy * wx0, dy * dx
    acc = a * s0
    if start_at_zero:
        acc = F32(0) + acc
    return ((acc + c * s1) + b * s2) + e * s3


def _bilinear_2x2(x: np.ndarray) -> np.ndarray:
    xf = x.astype(F32)
    n, ih, iw, ch = xf.shape
    right = xf[:, :, np.minimum(np.arange(iw) + 1, iw - 1)]
    down = xf[:, np.minimum(np.arange(ih) + 1, ih - 1)]
    down_right = down[:, :, np.minimum(np.arange(iw) + 1, iw - 1)]
    half = F32(0.5)
    top_right = (xf + right) * half
    bottom_left = (xf + down) * half
    bottom_right = (bottom_left + (right + down_right) * half) * half
    out = np.empty((n, ih, 2, iw, 2, ch), F32)
    out[:, :, 0, :, 0], out[:, :, 0, :, 1] = xf, top_right
    out[:, :, 1, :, 0], out[:, :, 1, :, 1] = bottom_left, bottom_right
    return out.reshape(n, 2 * ih, 2 * iw, ch)


def _bilinear_integer(x: np.ndarray, data: OpData) -> np.ndarray:
    a, b, c, e = (v.astype(np.int64) for v in _corners(x, data))
    wy0, wy1 = _weights(data.rows, 1)
    wx0, wx1 = _weights(data.cols, 2)
    total = a * wy0 * wx0 + b * wy1 * wx0 + c * wy0 * wx1 + e * wy1 * wx1
    rounded = total + np.where(total > 0, 1 << 19, -(1 << 19))
    return _c_div(rounded, 1 << 20)


def _bilinear_xnn_f32(x: np.ndarray, data: OpData) -> np.ndarray:
    tl, bl, tr, br = (v.astype(F32) for v in _corners(x, data))
    _, ay = _weights(data.rows, 1)
    _, ax = _weights(data.cols, 2)
    top = tl + (tr - tl) * ax
    bottom = bl + (br - bl) * ax
    return top + (bottom - top) * ay


def _bilinear_xnn_q11(x: np.ndarray, data: OpData) -> np.ndarray:
    tl, bl, tr, br = (v.astype(np.int64) for v in _corners(x, data))
    _, ay = _weights(data.rows, 1)
    _, ax = _weights(data.cols, 2)
    top = (tl << 11) + (tr - tl) * ax
    bottom = (bl << 11) + (br - bl) * ax
    return ((top << 11) + (bottom - top) * ay + (1 << 21)) >> 22   # arithmetic shift


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Gather and interpolate, batch-first; see the module docstring for each method."""
    x = np.asarray(inputs[0])
    out = ctx.output(0)
    m = data.method
    if m.startswith("nearest"):
        y = x[:, data.rows.lo][:, :, data.cols.lo]
    elif m == "float":
        y = _bilinear_float(x, data)
        if x.dtype != np.float32:
            y = np.trunc(y + F32(0.5))
    elif m == "opt-float":
        y = _bilinear_opt(x, data, start_at_zero=True)
    elif m == "opt-uint8":
        y = np.trunc(_bilinear_opt(x, data, start_at_zero=False) + F32(0.5))
    elif m == "opt-float-2x2":
        y = _bilinear_2x2(x)
    elif m == "integer":
        y = _bilinear_integer(x, data)
    elif m == "xnn-f32":
        y = _bilinear_xnn_f32(x, data)
    else:
        y = _bilinear_xnn_q11(x, data)
    return [np.asarray(y).astype(out.dtype).reshape(out.shape)]


RESIZE_NEAREST_NEIGHBOR = Kernel(prepare_nearest, invoke)
RESIZE_BILINEAR = Kernel(prepare_bilinear, invoke)
