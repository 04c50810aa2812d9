"""PAD and PADV2: constant padding of a tensor of rank <= 5.

Inputs: 0 the tensor; 1 ``paddings``, an integer matrix ``[rank, 2]`` of
``(before, after)`` counts per dimension (int32 or int64; must be known at prepare
time — a constant or a value computed in an earlier prepare); PADV2 only: 2
``constant_values``, a one-element tensor of the input's type.

Pad value (no arithmetic anywhere, arithmetic.md §2.16):

* float32 and plain integers: 0, or the PADV2 constant;
* quantized int8 / uint8 / int16: the *output* zero point (real 0.0), or the PADV2
  constant's raw code, whose scale and zero point must equal the output's.

Mirrors: tensorflow/lite/kernels/pad.cc (Prepare, EvalInt, Eval),
internal/reference/pad.h.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext

#: ``PadKernelMaxDimensionCount`` in TFLite.
MAX_RANK = 5
_QUANTIZABLE = (np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16))


@dataclass(frozen=True)
class OpData:
    """``paddings``: ``(before, after)`` per dimension; ``pad_value`` in the output dtype."""

    paddings: tuple[tuple[int, int], ...]
    pad_value: np.generic
    output_shape: tuple[int, ...]


def prepare(ctx: OpContext) -> OpData:
    """Validate the paddings, pick the pad value and set the output shape."""
    inp, pad_t, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dtype = np.dtype(inp.dtype)
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")
    rank = len(inp.shape)
    if rank > MAX_RANK:
        raise ctx.unsupported(f"input of rank {rank}", supported=f"rank <= {MAX_RANK}")
    if pad_t.data is None:
        raise ctx.unsupported(
            f"paddings {pad_t.describe()} computed at run time",
            supported="constant paddings",
        )
    if not np.issubdtype(np.dtype(pad_t.dtype), np.integer) and np.dtype(pad_t.dtype) != np.bool_:
        raise ctx.error(f"paddings {pad_t.describe()} must be an integer tensor")
    pads = np.asarray(pad_t.data).astype(np.int64)
    if pads.ndim != 2 or pads.shape[1] != 2 or pads.shape[0] != rank:
        raise ctx.error(
            f"paddings {pad_t.describe()} must have shape [{rank}, 2] for input {inp.describe()}"
        )
    if np.any(pads < 0):
        raise ctx.error(f"paddings must be >= 0, got {pads.tolist()}")
    if np.any(pads > np.iinfo(np.int32).max):
        raise ctx.error(f"paddings overflow int32: {pads.tolist()}")
    paddings = tuple((int(b), int(a)) for b, a in pads)
    shape = tuple(int(d) + b + a for d, (b, a) in zip(inp.shape, paddings))
    ctx.set_output_shape(0, shape)
    return OpData(paddings, _pad_value(ctx, dtype), shape)


def _pad_value(ctx: OpContext, dtype: np.dtype) -> np.generic:
    inp, out = ctx.input(0), ctx.output(0)
    const_t = ctx.optional_input(2) if ctx.op_name == "PADV2" else None
    if const_t is not None:
        if np.dtype(const_t.dtype) != dtype:
            raise ctx.error(
                f"constant_values {const_t.describe()} must have the input type {dtype.name}"
            )
        if const_t.size != 1:
            raise ctx.error(f"constant_values {const_t.describe()} must hold exactly one value")
        if const_t.data is None:
            raise ctx.unsupported(
                f"constant_values {const_t.describe()} computed at run time",
                supported="a constant pad value",
            )
    # TFLite: uint8 always, int8 / int16 when the input is quantized, pad with codes of
    # the output quantization ("unquantized" reads as scale 0, zero point 0).
    quantized = dtype == np.dtype(np.uint8) or (dtype in _QUANTIZABLE and inp.is_quantized)
    if quantized:
        zp_out, s_out = _params(out)
        if const_t is None:
            info = np.iinfo(dtype)
            if not info.min <= zp_out <= info.max:
                raise ctx.error(f"output zero point {zp_out} is not representable in {dtype.name}")
            return dtype.type(zp_out)
        if _params(const_t) != (zp_out, s_out):
            raise ctx.error(
                f"constant_values {const_t.describe()} must have the output's quantization "
                f"{out.describe()}"
            )
    if const_t is None:
        return dtype.type(0)
    assert const_t.data is not None
    return dtype.type(np.asarray(const_t.data).reshape(-1)[0])


def _params(t) -> tuple[int, np.float32]:
    """``(zero_point, scale)`` of a per-tensor tensor; ``(0, 0.0)`` when unquantized."""
    if not t.is_quantized:
        return 0, np.float32(0.0)
    return int(t.zero_point[0]), np.float32(t.scale[0])


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Pad with the prepared constant (``np.pad`` constant mode; a pure copy otherwise)."""
    out = np.pad(inputs[0], data.paddings, mode="constant", constant_values=data.pad_value)
    return [out]


PAD = Kernel(prepare, invoke)
PADV2 = Kernel(prepare, invoke)
