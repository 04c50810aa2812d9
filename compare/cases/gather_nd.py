"""GATHER_ND: index depth 1, 2 and the full rank, batches of index rows, int32 / int64 /
int16 indices (TFLM: int32 only); params float32, int8 (quantized), int16, int32, int64,
bool (TFLM: float32, int8). Indices are graph inputs, inside the bounds except in:

* ``oob-flat`` (TFLM only): coordinates out of range whose flat position stays inside
  ``params``; TFLM reads another row (``KNOWN_BUGS``), LiteRT fails the invoke;
* ``depth0`` (index depth 0: whole ``params`` per index row): TFLM gathers, LiteRT fails
  the invoke (its empty index tensor has no data pointer; ``KNOWN_BUGS``), which refimpl's
  LiteRT flavours refuse as unsupported.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model
from ._typed import STORE, arg, values

OP = "GATHER_ND"
#: (params shape, indices shape)
GRID = [((5, 4), (3, 1)), ((3, 4, 2), (2, 2)), ((3, 4), (2, 3, 2)), ((2, 3, 4), (5, 3)),
        ((6,), (4, 1)), ((2, 3, 2, 2), (2, 2, 2))]


def version(label: str, index_type: str) -> int:
    """op_version.cc: bool params 5, int16 indices 4, int16 params 3, else 1."""
    if label == "bool":
        return 5
    if index_type == "int16":
        return 4
    return 3 if label == "int16" else 1


def _case(label: str, name: str, pshape, ishape, index_type: str, seed: int,
          idx: np.ndarray | None = None, runtimes=None) -> Case:
    rng = np.random.default_rng(seed)
    p = values(rng, pshape, label)
    nd = ishape[-1]
    if idx is None:
        cols = [rng.integers(0, pshape[j], size=ishape[:-1]) for j in range(nd)]
        idx = np.stack(cols, axis=-1) if nd else np.zeros(ishape, np.int64)
    idx = np.asarray(idx).astype(index_type)
    out = tuple(ishape[:-1]) + tuple(pshape[nd:])
    model = one_op_model(OP, [arg(pshape, label), TensorArg(ishape, index_type)],
                         [arg(out, label)], version=version(label, index_type))
    return Case(OP, label, name, model, (p, idx), {"params": pshape, "indices": ishape},
                runtimes=runtimes)


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for label in STORE:
        for gi, (pshape, ishape) in enumerate(GRID if full else GRID[:4]):
            k += 1
            yield _case(label, f"g{gi}", pshape, ishape, "int32", k)
        for it in ("int64", "int16"):
            k += 1
            yield _case(label, f"idx-{it}", (4, 3, 2), (3, 2), it, k)
    yield _case("float32", "depth0", (2, 3), (4, 0), "int32", 500)
    bad = np.array([[0, 5], [1, -1], [2, 3]])  # params (3, 4): rows 1 and 0 are read
    for label in ("float32", "int8"):
        yield _case(label, "oob-flat", (3, 4), (3, 2), "int32", 501, idx=bad,
                    runtimes=("tflm",))


def correct_depth0(case: Case) -> list[np.ndarray]:
    """GATHER_ND with index depth 0 (TensorFlow): ``params`` once per index row."""
    p, idx = case.inputs
    return [np.broadcast_to(p, idx.shape[:-1] + p.shape).copy()]


def correct_refused(case: Case) -> None:
    """The correct outcome of an out-of-range index: a failed invoke (no outputs)."""
    return None
