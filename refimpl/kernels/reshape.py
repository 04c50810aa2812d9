"""RESHAPE: same elements, same order (row-major), new shape. No arithmetic.

Where the new shape comes from (TFLite ``GetOutputShape``):

1. input 1, when the node has it and it is a 1-D **int32** tensor;
2. otherwise ``options.new_shape`` (a legacy ``[0]`` means a scalar; absent means ``[]``).
   An int64 or 2-D shape tensor is therefore ignored in favour of the options, as in
   TFLite.

One entry may be ``-1``; it becomes ``input_elements / product(other nonzero entries)``
(0 when the input is empty). The element counts must then agree, otherwise it is an
error — also when the shape tensor is a constant that hard-codes the batch size the
model was saved with. TFLite does exactly that: ``kernels/reshape.cc ResizeOutput`` has
no special case for a stale batch, it fails ``TF_LITE_ENSURE_EQ(num_input_elements,
num_output_elements)`` and ``allocate_tensors()`` raises after
``resize_tensor_input`` to batch N > 1 (verified with LiteRT 2.3.0, see
compare/dev_check_elementwise.py). Models whose shape is computed at run time (Keras
``Flatten`` with a dynamic batch converts to SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE),
or whose constant shape has ``-1`` in the batch position, follow the new batch.

A shape tensor that is not known at prepare time (neither constant nor folded by an
earlier op's prepare, see shape_ops.py) makes the output shape dynamic: it is resolved
in :func:`invoke` from the value, like TFLite's ``kTfLiteOutputShapeNotKnown`` path.

Quantization parameters are not checked: TFLite copies the raw codes whatever the
output's parameters (the converter gives both sides the same).

Mirrors: tensorflow/lite/kernels/reshape.cc (GetOutputShape, ResizeOutput, Prepare, Eval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..context import Kernel, OpContext


@dataclass(frozen=True)
class OpData:
    """``output_shape`` is None when it can only be resolved from the shape tensor at run time."""

    output_shape: tuple[int, ...] | None
    shape_from_tensor: bool
    constant_result: np.ndarray | None = None


def _shape_source(ctx: OpContext) -> tuple[bool, Sequence[int] | None, str]:
    """``(from_tensor, requested shape or None if not yet known, description)``."""
    shape_t = ctx.optional_input(1) if len(ctx.inputs) == 2 else None
    is_int32_vector = (
        shape_t is not None
        and len(shape_t.shape) == 1
        and np.dtype(shape_t.dtype) == np.dtype(np.int32)
    )
    if is_int32_vector:
        assert shape_t is not None
        if shape_t.data is None:
            return True, None, f"shape tensor {shape_t.describe()}"
        values = [int(v) for v in np.asarray(shape_t.data).reshape(-1)]
        return True, values, f"shape tensor {shape_t.describe()} = {values}"
    new_shape = getattr(ctx.options, "new_shape", None) if ctx.options is not None else None
    values = [] if new_shape is None else [int(v) for v in new_shape]
    if values == [0]:  # legacy converters wrote [0] for a scalar
        values = []
    return False, values, f"options.new_shape = {values}"


def resolve_shape(
    ctx: OpContext, input_shape: Sequence[int], requested: Sequence[int], source: str
) -> tuple[int, ...]:
    """Fill in the ``-1`` entry and check the element count (TFLite ``ResizeOutput``)."""
    in_shape = [int(d) for d in input_shape]
    n_in = int(np.prod(in_shape, dtype=np.int64))
    n_in_nonzero = int(np.prod([d for d in in_shape if d != 0], dtype=np.int64))
    out = [int(d) for d in requested]
    stretch = -1
    n_out, n_out_nonzero = 1, 1
    for i, d in enumerate(out):
        if d == -1:
            if stretch != -1:
                raise ctx.error(f"{source} has more than one -1 entry")
            stretch = i
            continue
        if d < -1:
            raise ctx.error(f"{source} has a negative dimension {d}")
        if d != 0:
            n_out_nonzero *= d
        n_out *= d
    if stretch != -1:
        out[stretch] = 0 if (n_in == 0 and n_out != 0) else n_in_nonzero // n_out_nonzero
        n_out *= out[stretch]
    if n_in != n_out:
        raise ctx.error(_mismatch_message(in_shape, n_in, requested, n_out, source))
    return tuple(out)


def _mismatch_message(in_shape, n_in, requested, n_out, source) -> str:
    msg = (
        f"cannot reshape input {in_shape} ({n_in} elements) to {list(requested)} "
        f"({n_out} elements) given by {source}"
    )
    req = list(requested)
    if (
        req and in_shape and -1 not in req and n_out > 0 and n_in % n_out == 0
        and req[0] * (n_in // n_out) == in_shape[0] and req[0] != in_shape[0]
    ):  # fmt: skip
        msg += (
            f"; the shape hard-codes batch {req[0]} while the input has batch {in_shape[0]} "
            "(the model was saved with a fixed batch and the input was resized). LiteRT "
            "fails the same way in allocate_tensors(); convert the model with a dynamic "
            "batch (shape [-1, ...]) to run other batch sizes"
        )
    return msg


def prepare(ctx: OpContext) -> OpData:
    """Resolve the output shape (now, or at invoke when the shape tensor is dynamic)."""
    inp, out = ctx.input(0), ctx.output(0)
    if len(ctx.inputs) not in (1, 2):
        raise ctx.error(f"takes 1 or 2 inputs, got {len(ctx.inputs)}")
    if np.dtype(out.dtype) != np.dtype(inp.dtype):
        raise ctx.error(f"output {out.describe()} must have the input type {inp.dtype.name}")
    from_tensor, requested, source = _shape_source(ctx)
    if requested is None:
        return OpData(None, from_tensor)
    shape = resolve_shape(ctx, inp.shape, requested, source)
    ctx.set_output_shape(0, shape)
    if inp.is_constant:
        assert inp.data is not None
        result = np.asarray(inp.data).reshape(shape)
        result.setflags(write=False)
        out.data = result  # a constant in, a constant out (TFLite: persistent read-only)
        return OpData(shape, from_tensor, constant_result=result)
    return OpData(shape, from_tensor)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Copy the input into the new shape."""
    if data.constant_result is not None:
        return [data.constant_result.copy()]
    x = inputs[0]
    shape = data.output_shape
    if shape is None:  # dynamic: the shape tensor's value is only known now
        values = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        shape = resolve_shape(ctx, x.shape, values, f"shape tensor (run-time value {values})")
    return [np.array(x, copy=True).reshape(shape)]


RESHAPE = Kernel(prepare, invoke)
