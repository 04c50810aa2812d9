"""SOFTMAX: beta, row lengths (odd too), batch; int8 (output 1/256, -128), int16x8
(output 1/32768, 0) and float32. Input scales stay where beta * s_in * 2**26 > 1:
below that the reference kernels abort the process (refimpl refuses; see refimpl audit)."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Case, Tolerance
from ._simple import unary_case

OP = "SOFTMAX"
_EIGEN = Tolerance(
    reason="float32 softmax on LiteRT's optimized kernels (and XNNPACK's fallback to them): "
    "Eigen's vectorised exp approximation and its packet-wise row sum; measured max 17 ulp, "
    "all on outputs below 1e-6 (max |diff| 1.7e-8)", ulps=32, atol=1e-7)
SHAPES = [(3, 10), (2, 4, 37), (5, 1000)]
IN_Q = [(0.1, 3), (0.0123, -128), (0.5, 127), (1 / 16, 0)]
OUT_Q = {"int8": (1 / 256, -128), "int16x8": (1 / 32768, 0)}


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for si, shp in enumerate(SHAPES if full else SHAPES[:2]):
        for beta in ((1.0, 0.5, 2.3) if full else (1.0, 0.5)):
            k += 1
            yield unary_case(OP, "float32", f"s{si}-b{beta}", shp, None, None, {"beta": beta}, k,
                             tolerance={"litert-builtin": _EIGEN, "litert-xnnpack": _EIGEN})
            for qi, q in enumerate(IN_Q if full else IN_Q[:3]):
                for dtype in ("int8", "int16x8"):
                    k += 1
                    yield unary_case(OP, dtype, f"s{si}-b{beta}-q{qi}", shp, q, OUT_Q[dtype],
                                     {"beta": beta}, k)
