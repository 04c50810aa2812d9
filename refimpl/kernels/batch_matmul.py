"""BATCH_MATMUL: ``out[..., i, j] = sum_k x[..., i, k] * y[..., k, j]`` with broadcast
batch dimensions.

Inputs: ``x`` (LHS, rank 2..5) and ``y`` (RHS, rank 2..5); ``adj_x`` / ``adj_y``
(BatchMatMulOptions) transpose the last two dimensions of an operand first. Batch
dimensions (all but the last two, right-aligned) broadcast NumPy-style; the output has
rank ``max(rank x, rank y)`` and shape ``batch + [rows of x, columns of y]``.

Types (LHS, RHS -> output): LiteRT float32; int8, int8 -> int8 or int32; int16, int16
-> int16; int16, int8 -> int16 (hybrid float32 x int8 is not implemented here). TFLM
(micro/kernels/batch_matmul.cc): float32, int8 -> int8, int16 -> int16.

LiteRT registers the same (reference) kernel for ``BUILTIN_REF`` and ``BUILTIN``
(``Register_BATCH_MATMUL`` returns ``Register_BATCH_MATMUL_REF``), so ``tflite-builtin``
= ``tflite-ref``; TFLM runs the same reference loops. XNNPACK takes float32 nodes and
int8 nodes whose RHS zero point is 0 (``VisitBatchMatMulNode``; int16 never), with its
own arithmetic (see :func:`invoke`).

Float accumulation order (reference): for each output, ``total = 0.0f`` then
``total += x[i, k] * y[k, j]`` for k = 0, 1, ... in float32, each product and each sum
rounded (no FMA). XNNPACK's GEMM micro-kernels keep the same k order per output but fuse
each multiply-add (one rounding per step): :func:`matmul_f32_fma`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (  # fma_f32: re-exported for the XNNPACK float kernels
    fma_f32,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    qrange,
    quantize_multiplier,
    wrap32,
)
from ..context import Kernel, OpContext

F32 = np.float32
_TYPES_TFLITE = {("float32", "float32", "float32"), ("int8", "int8", "int8"),
                 ("int8", "int8", "int32"), ("int16", "int16", "int16"),
                 ("int16", "int8", "int16")}
_TYPES_TFLM = {("float32", "float32", "float32"), ("int8", "int8", "int8"),
               ("int16", "int16", "int16")}


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"xnn-f32"`` (fused multiply-adds), ``"int32-out"`` (int8 inputs,
        raw int32 products, zero points ignored as upstream), ``"quantized"``
        (fixed-point requantization) or ``"xnn-qs8"`` (XNNPACK's float requantization).
    adj_x, adj_y : bool
    lhs_offset, rhs_offset : int
        ``-zero_point`` of x and y.
    output_offset : int
    output_multiplier, output_shift : int
        ``fl32(s_x * s_y) / s_out`` (product in float32, quotient in float64) as Q0.31 and
        shift (> 0: left).
    int64_accumulator : bool
        int16 LHS: int64 sums and MultiplyByQuantizedMultiplier(int64) (variant C);
        int8: int32 sums and the double-rounding variant A.
    xnn_scale : float
        ``fl32(fl32(s_x * s_y) / s_out)`` (XNNPACK only).
    out_min, out_max : int
    """

    kind: str
    adj_x: bool
    adj_y: bool
    lhs_offset: int = 0
    rhs_offset: int = 0
    output_offset: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    int64_accumulator: bool = False
    xnn_scale: float = 0.0
    out_min: int = 0
    out_max: int = 0


def _output_shape(ctx: OpContext, xs: tuple[int, ...], ys: tuple[int, ...], adj_x: bool,
                  adj_y: bool) -> tuple[int, ...]:
    rank = max(len(xs), len(ys))
    xe = (1,) * (rank - len(xs)) + xs
    ye = (1,) * (rank - len(ys)) + ys
    batch = []
    for a, b in zip(xe[:-2], ye[:-2]):
        ctx.require(a == b or a == 1 or b == 1, f"batch dimensions {xs} and {ys} do not "
                    "broadcast")
        batch.append(b if a == 1 else a)
    depth_x = xe[-2] if adj_x else xe[-1]
    depth_y = ye[-1] if adj_y else ye[-2]
    ctx.require(depth_x == depth_y, f"inner dimensions differ: {depth_x} vs {depth_y}")
    rows = xe[-1] if adj_x else xe[-2]
    cols = ye[-2] if adj_y else ye[-1]
    return tuple(batch) + (rows, cols)


def _xnn_accepts_int8(x, y, out) -> bool:
    if not (np.dtype(x.dtype) == np.int8 == np.dtype(y.dtype) == np.dtype(out.dtype)):
        return False
    return int(y.zero_point[0]) == 0


def prepare(ctx: OpContext) -> OpData:
    """Validate types and shapes, set the output shape, compute the multiplier.

    Mirrors: ``Prepare`` (tflite/kernels/batch_matmul.cc), ``BatchMatMulPrepare``
    (micro/kernels/batch_matmul.cc), ``GetQuantizedConvolutionMultipler``
    (kernel_util.cc), XNNPACK ``VisitBatchMatMulNode`` and the qs8 branch of
    ``create_batch_matrix_multiply_operator`` (src/subgraph/batch-matrix-multiply.c).
    """
    x, y, out = ctx.input(0), ctx.input(1), ctx.output(0)
    o = ctx.options
    adj_x = bool(getattr(o, "adj_x", False)) if o is not None else False
    adj_y = bool(getattr(o, "adj_y", False)) if o is not None else False
    for t in (x, y):
        ctx.require(2 <= len(t.shape) <= 5, f"tensor {t.describe()} must have rank 2 to 5")
    ctx.set_output_shape(0, _output_shape(ctx, tuple(x.shape), tuple(y.shape), adj_x, adj_y))
    types = (np.dtype(x.dtype).name, np.dtype(y.dtype).name, np.dtype(out.dtype).name)
    allowed = _TYPES_TFLM if ctx.flavor.tflm else _TYPES_TFLITE
    if types not in allowed:
        raise ctx.unsupported(supported="; ".join(f"{a} x {b} -> {c}"
                                                  for a, b, c in sorted(allowed)))
    if types[0] == "float32":
        return OpData("xnn-f32" if ctx.flavor.xnnpack else "float", adj_x, adj_y)
    if types[2] == "int32":
        return OpData("int32-out", adj_x, adj_y)
    for t in (x, y, out):
        ctx.require(t.is_quantized, f"tensor {t.describe()} must be quantized")
        if t.is_per_channel:
            raise ctx.unsupported(f"per-channel quantization of {t.describe()}")
    zx, zy, zo = (int(t.zero_point[0]) for t in (x, y, out))
    sx, sy, so = (F32(t.scale[0]) for t in (x, y, out))
    if types[0] == "int16":
        ctx.require(zx == 0 and zy == 0 and zo == 0, "int16 zero points must be 0")
    product = F32(sx * sy)                       # float32 product, as upstream
    lo, hi = qrange(np.dtype(out.dtype))
    if ctx.flavor.xnnpack and _xnn_accepts_int8(x, y, out):
        scale = F32(product / so)
        if 0.0 < float(scale) <= 255.0:
            return OpData("xnn-qs8", adj_x, adj_y, lhs_offset=-zx, rhs_offset=-zy,
                          output_offset=zo, xnn_scale=float(scale), out_min=lo, out_max=hi)
    multiplier, shift = quantize_multiplier(float(product) / float(so))
    return OpData("quantized", adj_x, adj_y, lhs_offset=-zx, rhs_offset=-zy, output_offset=zo,
                  output_multiplier=multiplier, output_shift=shift,
                  int64_accumulator=types[0] == "int16", out_min=lo, out_max=hi)


def multiply_by_quantized_multiplier_int64_x86(acc: np.ndarray, multiplier: int,
                                               shift: int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier(int64, ...)`` (variant C) as the x86-64 builds run it.

    Upstream documents ``shift < 8``; a larger real multiplier (``s_x * s_y / s_out >=
    256``) makes ``total_shift = 15 - shift`` small or negative, and the C shifts
    ``1 << (total_shift - 1)`` and ``>> total_shift`` are then undefined. x86-64 masks
    64-bit shift counts to 6 bits, which is what LiteRT and TFLM compute (measured: e.g.
    shift 17 gives ``(acc * m16 + 2^61) >> 62``, i.e. 0 for ordinary accumulators).
    """
    if shift < 8:
        return multiply_by_quantized_multiplier_int64(acc, multiplier, shift)
    m16 = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    round_bit = np.array(1 << ((total_shift - 1) & 63), dtype=np.uint64).astype(np.int64)
    with np.errstate(over="ignore"):
        result = (acc.astype(np.int64) * np.int64(m16) + round_bit) >> (total_shift & 63)
    return wrap32(result)


def _operands(data: OpData, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x as [..., M, K] and y as [..., K, N], with ranks equalised for broadcasting."""
    if data.adj_x:
        x = np.swapaxes(x, -1, -2)
    if data.adj_y:
        y = np.swapaxes(y, -1, -2)
    rank = max(x.ndim, y.ndim)
    return x.reshape((1,) * (rank - x.ndim) + x.shape), y.reshape((1,) * (rank - y.ndim) + y.shape)


def matmul_f32_sequential(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_k a[..., i, k] * b[..., k, j]`` in float32, k ascending from +0.0, every
    product and partial sum rounded to float32 (the reference loop, no FMA).

    Vectorised over all outputs; one NumPy step per k.
    """
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    acc = np.zeros(batch + (a.shape[-2], b.shape[-1]), F32)
    for k in range(a.shape[-1]):
        acc += a[..., :, k:k + 1] * b[..., k:k + 1, :]
    return acc


def matmul_f32_fma(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """XNNPACK's float GEMM: per output ``acc = fma(x[i, k], y[k, j], acc)`` for k
    ascending from 0.0 (measured on ai-edge-litert 2.3.0, x86-64 FMA3 micro-kernels)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    acc = np.zeros(batch + (a.shape[-2], b.shape[-1]), F32)
    for k in range(a.shape[-1]):
        acc = fma_f32(a[..., :, k:k + 1], b[..., k:k + 1, :], acc)
    return acc


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Multiply the broadcast batches.

    Arithmetic (quantized; ``x``, ``y`` raw codes)::

        acc[i, j] = sum_k (x[i, k] + lhs_offset) * (y[k, j] + rhs_offset)   # exact
        int8:  y = MBQM_double(wrap32(acc), output_multiplier, output_shift)
        int16: y = MBQM_int64(acc, output_multiplier, output_shift)          # variant C
        out = clamp(y + output_offset, out_min, out_max)
        xnn-qs8: v = clamp(fl32(float(acc) * xnn_scale), out_min - zp, out_max - zp)
                 out = rne(v) + zp
        int32-out: out = sum_k x[i, k] * y[k, j]          (zero points not applied)

    Mirrors: ``reference_ops::BatchMatMul`` (reference/batch_matmul.h, three templates),
    XNNPACK qs8 GEMM with fp32 requantization.
    """
    out = ctx.output(0)
    a, b = _operands(data, np.asarray(inputs[0]), np.asarray(inputs[1]))
    if data.kind in ("float", "xnn-f32"):
        gemm = matmul_f32_fma if data.kind == "xnn-f32" else matmul_f32_sequential
        y = gemm(a.astype(F32), b.astype(F32))
        return [y.reshape(out.shape)]
    a64 = a.astype(np.int64)
    b64 = b.astype(np.int64)
    if data.kind == "int32-out":
        return [wrap32(np.matmul(a64, b64)).astype(np.int32).reshape(out.shape)]
    acc = np.matmul(a64 + data.lhs_offset, b64 + data.rhs_offset)   # int64: exact
    if data.kind == "xnn-qs8":
        zp = data.output_offset
        v = (acc.astype(F32) * F32(data.xnn_scale)).astype(F32)
        v = np.clip(v, F32(data.out_min - zp), F32(data.out_max - zp))
        q = np.rint(v).astype(np.int64) + zp
    else:
        if data.int64_accumulator:
            scaled = multiply_by_quantized_multiplier_int64_x86(acc, data.output_multiplier,
                                                                data.output_shift)
        else:
            scaled = multiply_by_quantized_multiplier(wrap32(acc), data.output_multiplier,
                                                      data.output_shift)
        q = scaled + data.output_offset
    q = np.clip(q, data.out_min, data.out_max)
    return [q.astype(out.dtype).reshape(out.shape)]


BATCH_MATMUL = Kernel(prepare, invoke)
