"""CONCATENATION: 2-4 inputs along every axis (negative too), int8 / int16x8 / float32 /
int32; quantized inputs share the output's parameters (the runtimes require it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

OP = "CONCATENATION"
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "int32": "int32"}


def _case(dtype, name, shapes, axis, seed):
    rng = np.random.default_rng(seed)
    st = STORE[dtype]
    rank = len(shapes[0])
    ax = axis % rank
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    q = {"int8": (0.05, -3), "int16x8": (0.002, 0)}.get(dtype)
    kw = {} if q is None else {"scale": q[0], "zero_point": q[1]}
    if dtype == "float32":
        xs = tuple(float_inputs(rng, s) for s in shapes)
    else:
        xs = tuple(int_inputs(rng, s, st) for s in shapes)
    model = one_op_model(OP, [TensorArg(s, st, **kw) for s in shapes],
                         [TensorArg(tuple(out), st, **kw)], {"axis": axis})
    return Case(OP, dtype, name, model, xs, {"shapes": shapes, "axis": axis})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for dtype in STORE:
        for shapes, axes in [([(2, 3, 4), (2, 5, 4)], (1, -2)),
                             ([(2, 3, 4), (2, 3, 1), (2, 3, 7)], (2, -1)),
                             ([(1, 4, 4, 3)] * 4, (0, 3)), ([(6,), (2,)], (0,))]:
            for axis in axes:
                k += 1
                yield _case(dtype, f"n{len(shapes)}-ax{axis}-{k}", shapes, axis, k)
