"""LOGICAL_AND, LOGICAL_OR (bool, with broadcasting) and LOGICAL_NOT (bool).

``out = a && b``, ``a || b``, ``!a``. bool only: LiteRT refuses other types in Prepare
("Logical ops only support bool type"); TFLM's LOGICAL_AND / LOGICAL_OR do not check the
type at all and would run an int8 model on its raw bytes, which refimpl refuses rather
than imitate (no converter writes such a model).

Mirrors: tflite/kernels/logical.cc, elementwise.cc (LogicalNot);
micro/kernels/logical.cc, logical_common.cc, elementwise.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from .elementwise import broadcast_shape

_BOOL = np.dtype(np.bool_)
_FUNCS = {"LOGICAL_AND": np.logical_and, "LOGICAL_OR": np.logical_or}


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    op: str


def _require_bool(ctx: OpContext, n_inputs: int) -> None:
    tensors = [ctx.input(i) for i in range(n_inputs)] + [ctx.output(0)]
    if any(np.dtype(t.dtype) != _BOOL for t in tensors):
        raise ctx.unsupported(supported="bool inputs and output")


def binary_prepare(ctx: OpContext) -> OpData:
    _require_bool(ctx, 2)
    shape = broadcast_shape(ctx, ctx.input(0).shape, ctx.input(1).shape)
    ctx.set_output_shape(0, shape)
    return OpData(shape, ctx.op_name)


def not_prepare(ctx: OpContext) -> OpData:
    _require_bool(ctx, 1)
    shape = tuple(ctx.input(0).shape)
    ctx.set_output_shape(0, shape)
    return OpData(shape, ctx.op_name)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    if data.op == "LOGICAL_NOT":
        return [np.logical_not(np.asarray(inputs[0]))]
    r = _FUNCS[data.op](np.asarray(inputs[0]), np.asarray(inputs[1]))
    return [np.ascontiguousarray(np.broadcast_to(r, data.shape))]


LOGICAL_AND = Kernel(binary_prepare, invoke)
LOGICAL_OR = Kernel(binary_prepare, invoke)
LOGICAL_NOT = Kernel(not_prepare, invoke)
