"""BROADCAST_TO: new leading dimensions, size-1 dimensions stretched, an unchanged shape,
int32 and int64 shape tensors, ranks 1 to 6 (TFLM: rank <= 5) and an empty output (TFLM
refuses it); float32, int8 (quantized), int16, int32, int64, bool. Versions as a converter
writes them (2; 3 for int8 and int16: LiteRT has no version 1)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model
from ._typed import STORE, arg, values

OP = "BROADCAST_TO"
#: (input shape, output shape, shape tensor type)
GRID = [((3,), (2, 3), "int32"), ((3, 1), (2, 3, 4), "int64"), ((1,), (4, 5), "int32"),
        ((2, 1, 3), (2, 4, 3), "int32"), ((2, 3), (2, 3), "int32"),
        ((1, 3, 1, 2), (2, 2, 3, 4, 2), "int32"), ((1, 1, 3), (2, 1, 2, 2, 2, 3), "int64"),
        ((1, 3), (0, 3), "int32")]


def version(label: str) -> int:
    return 3 if label in ("int8", "int16") else 2


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for label in STORE:
        for gi, (shape, out, stype) in enumerate(GRID if full else GRID[:5]):
            k += 1
            x = values(np.random.default_rng(k), shape, label)
            s = np.array(out, dtype=stype)
            model = one_op_model(OP, [arg(shape, label), TensorArg(s.shape, stype, data=s)],
                                 [arg(out, label)], version=version(label))
            yield Case(OP, label, f"g{gi}", model, (x,), {"shape": shape, "to": out})
