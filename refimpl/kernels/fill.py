"""FILL (a tensor of shape ``dims`` holding one scalar ``value``) and ZEROS_LIKE.

FILL: inputs ``dims`` (1-D, int32 or int64 in LiteRT; any integer type in TFLM; must be
constant here, as in TFLM — LiteRT would resize a dynamic output in Eval) and ``value``
(a scalar). The output has ``value``'s type; a quantized value and output must share
scale and zero point (int16: zero point 0). Types: LiteRT any 8/16/32/64-bit type
(int8, uint8, bool, int16, int32, float32, int64 are copied bit for bit); TFLM float32,
int32, int8.

ZEROS_LIKE: zeros of the input's shape and type. Types: LiteRT float32, int32, int64;
TFLM also int8.

Mirrors: tflite/kernels/fill.cc, zeros_like.cc, internal/reference/fill.h;
tensorflow/lite/micro/kernels/fill.cc, zeros_like.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext

_T = {n: np.dtype(n) for n in ("float32", "int8", "uint8", "bool", "int16", "int32", "int64")}

FILL_TYPES = {
    "tflite": tuple(_T[n] for n in ("float32", "int8", "uint8", "bool", "int16", "int32",
                                    "int64")),
    "tflm": tuple(_T[n] for n in ("float32", "int32", "int8")),
}
ZEROS_LIKE_TYPES = {
    "tflite": tuple(_T[n] for n in ("float32", "int32", "int64")),
    "tflm": tuple(_T[n] for n in ("float32", "int32", "int64", "int8")),
}


@dataclass(frozen=True)
class OpData:
    """The output shape and type."""

    shape: tuple[int, ...]
    dtype: np.dtype


def _family(ctx: OpContext) -> str:
    return "tflm" if ctx.flavor.tflm else "tflite"


def prepare_fill(ctx: OpContext) -> OpData:
    """Validate FILL; the output shape comes from the constant ``dims``."""
    ctx.require(len(ctx.inputs) == 2 and len(ctx.outputs) == 1,
                "needs 2 inputs and 1 output")
    dims, value, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = np.dtype(value.dtype)
    allowed = FILL_TYPES[_family(ctx)]
    if dtype not in allowed:
        raise ctx.unsupported(f"value type {dtype.name}",
                              supported=", ".join(t.name for t in allowed))
    dims_types = ("int8", "int16", "int32", "int64") if ctx.flavor.tflm else ("int32", "int64")
    if np.dtype(dims.dtype).name not in dims_types:
        raise ctx.error(f"dims {dims.describe()} must be one of {', '.join(dims_types)}")
    if len(dims.shape) != 1:
        raise ctx.error(f"dims {dims.describe()} must be 1-D")
    if len(value.shape) != 0:
        raise ctx.error(f"value {value.describe()} must be a scalar")
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the value's type {dtype.name}")
    if dims.data is None:
        raise ctx.unsupported("non-constant dims (dynamic output shape)")
    shape = tuple(int(d) for d in np.asarray(dims.data).reshape(-1))
    if any(d < 0 for d in shape):
        raise ctx.error(f"dims must be >= 0, got {list(shape)}")
    if value.is_quantized or out.is_quantized:
        same = (np.float32(value.scale[0]) == np.float32(out.scale[0])
                and int(value.zero_point[0]) == int(out.zero_point[0])) \
            if value.is_quantized and out.is_quantized else False
        if not same:
            raise ctx.error(f"value {value.describe()} and output {out.describe()} must "
                            "have the same quantization")
        if dtype == _T["int16"] and int(value.zero_point[0]) != 0:
            raise ctx.error("int16 FILL needs zero point 0")
    ctx.set_output_shape(0, shape)
    return OpData(shape, dtype)


def invoke_fill(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Broadcast the scalar ``inputs[1]`` to the output shape."""
    value = np.asarray(inputs[1], data.dtype).reshape(())
    return [np.full(data.shape, value, data.dtype)]


def prepare_zeros_like(ctx: OpContext) -> OpData:
    """Validate ZEROS_LIKE."""
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1, "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    dtype = np.dtype(inp.dtype)
    allowed = ZEROS_LIKE_TYPES[_family(ctx)]
    if dtype not in allowed:
        raise ctx.unsupported(supported=", ".join(t.name for t in allowed))
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    ctx.set_output_shape(0, inp.shape)
    return OpData(tuple(inp.shape), dtype)


def invoke_zeros_like(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Zeros shaped like ``inputs[0]`` (the batch may differ from the model's)."""
    return [np.zeros(np.shape(inputs[0]), data.dtype)]


FILL = Kernel(prepare_fill, invoke_fill)
ZEROS_LIKE = Kernel(prepare_zeros_like, invoke_zeros_like)
