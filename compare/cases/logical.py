"""LOGICAL_AND, LOGICAL_OR (same shapes and broadcasting up to rank 6) and LOGICAL_NOT;
bool only (the one type LiteRT takes; TFLM would run any 1-byte type unchecked)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model

OPS = ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT")
PAIRS = [((2, 3, 4), (2, 3, 4)), ((37,), (37,)), ((2, 3, 4), (1, 1, 4)), ((3, 1), (1, 5)),
         ((4,), ()), ((2, 1, 3, 1, 2), (1, 2, 1, 2, 1)), ((2, 1, 2, 1, 2, 1), (1, 2, 1, 2, 1, 2))]


def _b(shape) -> TensorArg:
    return TensorArg(tuple(shape), "bool")


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS[:2]:
        for si, (s1, s2) in enumerate(PAIRS if full else PAIRS[:4]):
            k += 1
            rng = np.random.default_rng(k)
            a, b = rng.random(s1) < 0.5, rng.random(s2) < 0.5
            if s2 == ():  # a scalar as a constant (a rank-0 graph input cannot be batched)
                c = np.array(True)
                model = one_op_model(op, [_b(s1), TensorArg((), "bool", data=c)], [_b(s1)])
                yield Case(op, "bool", f"s{si}-const", model, (a,), {"shapes": (s1, s2)})
                continue
            so = np.broadcast_shapes(s1, s2)
            model = one_op_model(op, [_b(s1), _b(s2)], [_b(so)])
            yield Case(op, "bool", f"s{si}", model, (a, b), {"shapes": (s1, s2)})
    for si, shape in enumerate([(2, 3, 4), (37,), (1, 2, 1, 3, 2)]):
        k += 1
        x = np.random.default_rng(k).random(shape) < 0.5
        yield Case("LOGICAL_NOT", "bool", f"s{si}", one_op_model("LOGICAL_NOT", [_b(shape)],
                                                                 [_b(shape)]), (x,), {})
