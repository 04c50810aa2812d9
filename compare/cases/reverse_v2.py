"""REVERSE_V2: one axis (first, middle, last, negative), adjacent axes in any order, all
axes, ranks 1 to 5; float32, int8 (quantized), int16, int32, int64, bool. Non-adjacent
axes are refused by every runtime (shown as "no kernel"); an empty axis list crashes every
runtime (SIGSEGV, the ``KNOWN_BUGS`` reproducer ``empty-axis``: refimpl refuses it)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model
from ._typed import STORE, arg, values

OP = "REVERSE_V2"
#: (input shape, axes)
GRID = [((2, 3, 4), [1]), ((2, 3, 4), [0]), ((2, 3, 4), [-1]), ((2, 3, 4), [2, 1]),
        ((2, 3, 4), [0, 1, 2]), ((37,), [0]), ((2, 3, 4, 5), [1, 2]),
        ((2, 1, 3, 2, 2), [-2, -3]), ((2, 3, 4), [0, 2])]


def version(label: str) -> int:
    """op_version.cc: int8 -> 3, bool -> 2, else 1."""
    return {"int8": 3, "bool": 2}.get(label, 1)


def _case(label: str, name: str, shape, axes, seed: int) -> Case:
    x = values(np.random.default_rng(seed), shape, label)
    a = np.array(axes, np.int32)
    model = one_op_model(OP, [arg(shape, label), TensorArg(a.shape, "int32", data=a)],
                         [arg(shape, label)], version=version(label))
    return Case(OP, label, name, model, (x,), {"shape": shape, "axes": axes})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for label in STORE:
        for gi, (shape, axes) in enumerate(GRID if full else GRID[:5] + GRID[-1:]):
            k += 1
            name = "non-adjacent" if axes == [0, 2] else f"g{gi}"
            yield _case(label, name, shape, axes, k)
    yield _case("float32", "empty-axis", (2, 3), [], 999)


def correct_identity(case: Case) -> list[np.ndarray]:
    """REVERSE_V2 with no axes (TensorFlow): the input unchanged."""
    return [np.asarray(case.inputs[0]).copy()]
