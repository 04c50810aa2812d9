"""DEQUANTIZE: int8 / uint8 / int16 -> float32 (per tensor or per channel), float16 -> float32.

The integer case is ``real = scale * (q - zero_point)``; the float16 case is the exact
widening used by fp16-weight models (the converter stores weights as float16 constants
followed by DEQUANTIZE). A constant input is converted once, in :func:`prepare`, as TFLite
does (``kernels/dequantize.cc`` keeps the result in a persistent tensor); the result is
also recorded as the output tensor's constant data so later ops can see it at prepare
time.

Mirrors: tensorflow/lite/kernels/dequantize.{h,cc} (DequantizeImpl,
PerChannelDequantizeImpl), internal/reference/dequantize.h and
internal/reference/integer_ops/dequantize.h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import dequantize
from ..context import Kernel, OpContext

_INTEGER_INPUTS = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


@dataclass(frozen=True)
class OpData:
    """kind ``"float16"`` or ``"affine"``; scale/zero_point already shaped to broadcast
    against the input (per-channel along ``quantized_dimension``); ``constant_result``
    is the precomputed output for a constant input."""

    kind: str
    scale: np.ndarray | None = None
    zero_point: np.ndarray | None = None
    constant_result: np.ndarray | None = None


def dequantize_float16(x: np.ndarray) -> np.ndarray:
    """IEEE half -> single, exact: every float16 (subnormals, inf, NaN too) is a float32."""
    return np.asarray(x, np.float16).astype(np.float32)


def dequantize_affine(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """``float32(double(scale) * (q - zero_point))`` (one rounding of an exact product).

    Arithmetic
    ----------
    ``q - zero_point`` is an int32 difference; the product with the float32 scale is
    exact in double (24 x 17 bits), so the single rounding to float32 equals the
    per-channel kernel's float32 product ``scale[c] * (q - zp[c])`` too.
    """
    return dequantize(q, scale, zero_point)


def prepare(ctx: OpContext) -> OpData:
    """Validate DEQUANTIZE; precompute scales, and the whole result for a constant input."""
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    if np.dtype(out.dtype) != np.dtype(np.float32):
        raise ctx.unsupported(supported="float32 output")
    in_dtype = np.dtype(inp.dtype)
    if in_dtype == np.dtype(np.float16):
        data = OpData("float16")
    elif in_dtype in _INTEGER_INPUTS:
        if not inp.is_quantized:
            raise ctx.error(f"input {inp.describe()} has no quantization parameters")
        scale = inp.scale.astype(np.float32)
        zp = inp.zero_point.astype(np.int64)
        if inp.is_per_channel:
            if in_dtype == np.dtype(np.int16):
                raise ctx.unsupported(
                    "per-channel int16 input", supported="per-channel int8 / uint8"
                )
            axis, rank = inp.quantized_dimension, len(inp.shape)
            if not 0 <= axis < rank or inp.shape[axis] != scale.size:
                raise ctx.error(
                    f"per-channel input {inp.describe()}: {scale.size} scales do not match "
                    f"dimension {axis} of shape {list(inp.shape)}"
                )
            if zp.size == 1:  # TFLite repeats a single zero point for every channel
                zp = np.full(scale.size, zp[0], np.int64)
            bshape = [1] * rank
            bshape[axis] = scale.size
            scale, zp = scale.reshape(bshape), zp.reshape(bshape)
        else:
            if in_dtype == np.dtype(np.int16) and int(zp[0]) != 0:
                raise ctx.error(f"int16 input {inp.describe()} must have zero point 0")
            scale, zp = scale[:1], zp[:1]
        kind = "affine"
        if (ctx.flavor.optimized and not ctx.flavor.xnnpack and not inp.is_per_channel
                and in_dtype in (np.dtype(np.int8), np.dtype(np.uint8))):
            kind = "optimized"
        data = OpData(kind, scale=scale, zero_point=zp)
    else:
        raise ctx.unsupported(supported="int8, uint8, int16 or float16 input")

    if inp.is_constant:
        assert inp.data is not None
        result = _run(data, np.asarray(inp.data))
        result.setflags(write=False)
        out.data = result  # available to later ops' prepare, like TFLite's persistent tensor
        data = OpData(data.kind, data.scale, data.zero_point, constant_result=result)
    return data


#: Elements per vector step of LiteRT's optimized 8-bit ``Dequantize``.
OPT_DEQUANTIZE_BLOCK = 8


def dequantize_optimized(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """LiteRT's optimized int8 / uint8 DEQUANTIZE (x86 build; measured on 2.3.0).

    Whole 8-element blocks (flat order): ``fl32(q * s) - fl32(zp * s)`` — two float32
    roundings, so about 1 output in 3 differs by an ulp from the reference's single
    rounding of ``s * (q - zp)``; the remaining elements take the reference formula.
    (XNNPACK, when it takes the node, agrees with the reference formula.)
    """
    flat = np.asarray(q).reshape(-1)
    out = dequantize(flat, np.float32(scale), np.int64(zero_point))
    n_body = flat.size // OPT_DEQUANTIZE_BLOCK * OPT_DEQUANTIZE_BLOCK
    s = np.float32(scale)
    body = (flat[:n_body].astype(np.float32) * s).astype(np.float32)
    out[:n_body] = (body - np.float32(np.float32(zero_point) * s)).astype(np.float32)
    return out.reshape(np.shape(q))


def _run(data: OpData, x: np.ndarray) -> np.ndarray:
    if data.kind == "float16":
        return dequantize_float16(x)
    assert data.scale is not None and data.zero_point is not None
    if data.kind == "optimized":
        return dequantize_optimized(x, float(data.scale.flat[0]), int(data.zero_point.flat[0]))
    return dequantize_affine(x, data.scale, data.zero_point)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Dequantize (or return the result computed in prepare for a constant input)."""
    if data.constant_result is not None:
        return [data.constant_result.copy()]
    return [_run(data, inputs[0])]


DEQUANTIZE = Kernel(prepare, invoke)
