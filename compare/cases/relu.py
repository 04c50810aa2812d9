"""RELU, RELU6, RELU_N1_TO_1, RELU_0_TO_1 as standalone ops: requantization between
different input and output scales (float32 vs float64 multipliers), zero points at both
ends, ties; float32 too. TFLM's RELU6 does not requantize (a known runtime bug)."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Case, qparams
from ._simple import unary_case

OPS = ("RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1")
SHAPES = [(2, 5, 7, 3), (37,)]
QS = [((0.05, -10), (0.03, -128)), ((0.5, 127), (0.25, -128)), ((0.0237, 5), (0.0237, 5)),
      ((1 / 16, 0), (1 / 8, 0))]


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS:
        for si, shp in enumerate(SHAPES):
            k += 1
            yield unary_case(op, "float32", f"s{si}", shp, None, None, None, k)
            for qi, (qi_, qo) in enumerate(QS if full else QS[:2]):
                for dtype in ("int8", "int16x8"):
                    if op == "RELU_0_TO_1" and dtype == "int16x8":
                        continue
                    k += 1
                    yield unary_case(op, dtype, f"s{si}-q{qi}", shp, qi_, qo, None, k)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        op = draw(st.sampled_from(OPS))
        seed = draw(st.integers(0, 2**31 - 1))
        return unary_case(op, "int8", f"h{seed:x}", draw(st.sampled_from(SHAPES)),
                          draw(qparams("int8")), draw(qparams("int8")), None, seed)
    return {"int8": case()}
