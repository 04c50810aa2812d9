"""TILE: multiples of 0, 1 and more along each axis, ranks 1 to 5, int32 and int64
multiples; float32, int8 (quantized), int16, int32, int64, bool. TFLM has no TILE.

Cases use version 1: a converter writes version 3 for int8 TILE (op_version.cc), which
LiteRT 2.3.0 does not register ("Didn't find op for builtin opcode 'TILE' version '3'"),
so a converted int8 TILE model does not load; the kernel itself copies bytes whatever the
type."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model
from ._typed import STORE, arg, values

OP = "TILE"
#: (input shape, multiples, multiples type)
GRID = [((2, 3), [2, 1], "int32"), ((2, 3), [1, 3], "int64"), ((5,), [4], "int32"),
        ((2, 1, 3), [1, 4, 2], "int32"), ((1, 2, 3, 2), [2, 1, 1, 3], "int64"),
        ((2, 3), [0, 2], "int32"), ((1, 2, 1, 2, 2), [2, 1, 3, 1, 2], "int32"),
        ((3, 4), [1, 1], "int32")]


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for label in STORE:
        for gi, (shape, mult, mtype) in enumerate(GRID if full else GRID[:6]):
            k += 1
            x = values(np.random.default_rng(k), shape, label)
            m = np.array(mult, dtype=mtype)
            out = tuple(n * r for n, r in zip(shape, mult))
            model = one_op_model(OP, [arg(shape, label), TensorArg(m.shape, mtype, data=m)],
                                 [arg(out, label)])
            yield Case(OP, label, f"g{gi}", model, (x,), {"shape": shape, "multiples": mult})
