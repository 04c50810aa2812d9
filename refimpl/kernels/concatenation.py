"""CONCATENATION: join tensors along ``axis`` (negative counts from the end).

All inputs have the same rank and type and agree on every dimension except ``axis``.

* float32 / int32 / int64 / bool / int16 / int8: a plain copy. int8 requires every input
  to carry exactly the output's scale and zero point (the converter inserts requantizing
  QUANTIZE ops where they differ); int16 requires zero points 0. A mismatch is an error
  naming the tensor, as TFLite refuses such models in Prepare.
* uint8: inputs with other parameters than the output are rescaled in float
  (``ConcatenationWithScaling``)::

      scale = fl32(s_i * fl32(1 / s_out));  bias = fl32(-zp_i * scale)
      out   = clamp(roundf(fl32(fl32(q * scale) + bias)) + zp_out, 0, 255)

* A fused activation is refused: TFLite and TFLM both require
  ``fused_activation_function == NONE`` in Prepare (concatenation.cc), so no runtime
  would run such a model.
* Rank-0 inputs are only accepted when all are constant (the result is the 1-D vector
  of them), as in TFLite.

Mirrors: tensorflow/lite/kernels/concatenation.cc (Prepare, EvalImpl),
internal/reference/concatenation.h, micro/kernels/concatenation.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import round_half_away
from ..context import Kernel, OpContext
from .elementwise import ACT_NONE, ACTIVATION_NAMES, fused_activation

_SUPPORTED = tuple(
    np.dtype(t)
    for t in (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_, np.uint32)
)


@dataclass(frozen=True)
class OpData:
    """``axis`` is non-negative; ``rescale[i]`` is ``(scale, bias)`` for a uint8 input
    needing ConcatenationWithScaling, else None; ``output_zero_point`` for that path."""

    axis: int
    output_shape: tuple[int, ...]
    rescale: tuple[tuple[np.float32, np.float32] | None, ...]
    output_zero_point: int = 0
    scalars: bool = False


def prepare(ctx: OpContext) -> OpData:
    """Validate shapes, types and quantization; compute the output shape."""
    n = len(ctx.inputs)
    if n == 0:
        raise ctx.error("needs at least one input")
    ins = [ctx.input(i) for i in range(n)]
    out = ctx.output(0)
    t0 = ins[0]
    dtype = np.dtype(t0.dtype)
    act = fused_activation(ctx)
    if act != ACT_NONE:
        raise ctx.error(
            f"fused activation {ACTIVATION_NAMES[act]} is not supported: TFLite and TFLM "
            "require NONE for CONCATENATION"
        )
    if dtype not in _SUPPORTED:
        raise ctx.unsupported(supported=", ".join(t.name for t in _SUPPORTED))
    for i, t in enumerate(ins):
        if np.dtype(t.dtype) != dtype:
            raise ctx.error(f"input {i} {t.describe()} has another type than {t0.describe()}")
    if np.dtype(out.dtype) != dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {dtype.name}")

    rank = len(t0.shape)
    raw_axis = int(getattr(ctx.options, "axis", 0)) if ctx.options else 0
    axis = raw_axis + rank if raw_axis < 0 else raw_axis
    if not (0 <= axis < rank or (rank == 0 and axis == 0)):
        raise ctx.error(f"axis {raw_axis} is out of range for inputs of rank {rank}")

    if rank == 0:
        if not all(t.is_constant for t in ins) or any(len(t.shape) != 0 for t in ins):
            raise ctx.unsupported("concatenation of scalars that are not all constant")
        ctx.set_output_shape(0, (n,))
        return OpData(0, (n,), (None,) * n, scalars=True)

    total = 0
    for i, t in enumerate(ins):
        if len(t.shape) != rank:
            raise ctx.error(f"input {i} {t.describe()} has rank {len(t.shape)}, input 0 has {rank}")
        for d in range(rank):
            if d != axis and t.shape[d] != t0.shape[d]:
                raise ctx.error(
                    f"input {i} {t.describe()} differs from input 0 {t0.describe()} in "
                    f"dimension {d} (only axis {axis} may differ)"
                )
        total += t.shape[axis]
    shape = tuple(total if d == axis else t0.shape[d] for d in range(rank))
    ctx.set_output_shape(0, shape)

    rescale: list[tuple[np.float32, np.float32] | None] = [None] * n
    zp_out = 0
    if dtype == np.dtype(np.int8):
        for i, t in enumerate(ins):
            if not _same_params(t, out):
                raise ctx.error(
                    f"int8 input {i} {t.describe()} must have the output's scale and zero point "
                    f"{out.describe()} (TFLite does not rescale int8 concatenation)"
                )
    elif dtype == np.dtype(np.int16):
        for t in [*ins, out]:
            if t.is_quantized and int(t.zero_point[0]) != 0:
                raise ctx.error(f"int16 tensor {t.describe()} must have zero point 0")
    elif dtype == np.dtype(np.uint8):
        s_out, zp_out = _params(out)
        inv_out = np.float32(np.float32(1.0) / s_out) if s_out != 0 else np.float32(np.inf)
        for i, t in enumerate(ins):
            if not _same_params(t, out):
                s_i, zp_i = _params(t)
                scale = np.float32(s_i * inv_out)
                bias = np.float32(np.float32(-zp_i) * scale)
                rescale[i] = (scale, bias)
    return OpData(axis, shape, tuple(rescale), output_zero_point=zp_out)


def _params(t) -> tuple[np.float32, int]:
    if not t.is_quantized:
        return np.float32(0.0), 0
    return np.float32(t.scale[0]), int(t.zero_point[0])


def _same_params(a, b) -> bool:
    """Scale (as float32) and zero point equal, like TFLite's ``TF_LITE_ENSURE_EQ`` pair."""
    return _params(a) == _params(b)


def _rescale_uint8(q: np.ndarray, scale: np.float32, bias: np.float32, zp_out: int) -> np.ndarray:
    """``clamp(roundf(fl32(fl32(q * scale) + bias)) + zp_out, 0, 255)``."""
    v = (q.astype(np.float32) * scale).astype(np.float32) + bias
    r = round_half_away(v.astype(np.float32).astype(np.float64)).astype(np.int64) + zp_out
    return np.clip(r, 0, 255).astype(np.uint8)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Copy (or, for uint8 with differing parameters, rescale) each input into place."""
    if data.scalars:
        return [np.stack([np.asarray(x) for x in inputs])]
    parts = []
    for x, rs in zip(inputs, data.rescale):
        parts.append(x if rs is None else _rescale_uint8(x, rs[0], rs[1], data.output_zero_point))
    return [np.concatenate(parts, axis=data.axis)]


CONCATENATION = Kernel(prepare, invoke)
