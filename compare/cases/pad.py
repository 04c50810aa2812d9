"""PAD and PADV2: zero and non-zero amounts on every axis, quantized padding value = the
output zero point (PAD) or the constant (PADV2); int8, int16x8, float32, int32."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

OPS = ("PAD", "PADV2")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "int32": "int32"}


def _case(op, dtype, name, shape, pads, seed):
    rng = np.random.default_rng(seed)
    st = STORE[dtype]
    q = {"int8": (0.05, -3), "int16x8": (0.002, 0)}.get(dtype)
    kw = {} if q is None else {"scale": q[0], "zero_point": q[1]}
    out = tuple(d + a + b for d, (a, b) in zip(shape, pads))
    x = float_inputs(rng, shape) if dtype == "float32" else int_inputs(rng, shape, st)
    ins = [TensorArg(shape, st, **kw), TensorArg((len(shape), 2), "int32",
                                                 data=np.array(pads, np.int32))]
    if op == "PADV2":
        value = np.array([1.5 if dtype == "float32" else 7], dtype=st)
        ins.append(TensorArg((1,), st, data=value, **kw))
    model = one_op_model(op, ins, [TensorArg(out, st, **kw)])
    return Case(op, dtype, name, model, (x,), {"shape": shape, "pads": pads})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS:
        for dtype in STORE:
            for shape, pads in [((2, 3, 4, 2), ((0, 0), (1, 2), (0, 3), (0, 0))),
                                ((3, 5), ((2, 0), (1, 1))), ((1, 4, 4, 3), ((0, 0),) * 4)]:
                k += 1
                yield _case(op, dtype, f"{len(shape)}d-{k}", shape, pads, k)
