"""RESHAPE (shape from a constant tensor, with -1) and DEQUANTIZE (int8 / int16 / uint8 ->
float32, per tensor): data movement and the one float conversion every runtime shares."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

OPS = ("RESHAPE", "DEQUANTIZE")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "int32": "int32",
         "uint8": "uint8"}


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for dtype in ("float32", "int8", "int16x8", "int32"):
        st = STORE[dtype]
        q = {"int8": (0.05, -3), "int16x8": (0.002, 0)}.get(dtype)
        kw = {} if q is None else {"scale": q[0], "zero_point": q[1]}
        for shape, new in [((2, 3, 4), (6, -1)), ((2, 12), (2, 3, 2, 2)), ((1, 5, 5, 4), (1, 100))]:
            k += 1
            rng = np.random.default_rng(k)
            out = tuple(int(np.prod(shape) // -np.prod(new)) if d == -1 else d for d in new)
            x = float_inputs(rng, shape) if dtype == "float32" else int_inputs(rng, shape, st)
            model = one_op_model("RESHAPE", [TensorArg(shape, st, **kw),
                                             TensorArg((len(new),), "int32", data=np.array(new, np.int32))],
                                 [TensorArg(out, st, **kw)], {"new_shape": list(new)})
            yield Case("RESHAPE", dtype, f"{k}", model, (x,), {"shape": shape, "new": new})
    for dtype, q in (("int8", (0.05, -3)), ("int16x8", (0.002, 0)), ("uint8", (0.1, 128))):
        st = STORE[dtype]
        for k2, shape in enumerate([(2, 37), (1, 8, 8, 3)]):
            rng = np.random.default_rng(100 + k2)
            model = one_op_model("DEQUANTIZE", [TensorArg(shape, st, scale=q[0], zero_point=q[1])],
                                 [TensorArg(shape, "float32")])
            yield Case("DEQUANTIZE", dtype, f"s{k2}", model, (int_inputs(rng, shape, st),),
                       {"shape": shape, "q": q})
