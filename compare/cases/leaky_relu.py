"""LEAKY_RELU: alpha below, at and above 1 and negative; int8 (XNNPACK's 8-bit
multipliers and its [1/256, 128] acceptance range), int16x8 (float32 vs float64
multipliers), float32."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Case, qparams
from ._simple import unary_case

OP = "LEAKY_RELU"
SHAPES = [(2, 5, 7, 3), (37,)]
QS = [((0.05, -10), (0.03, -128)), ((0.5, 127), (0.25, 0)), ((0.0237, 5), (0.0237, 5)),
      ((1.0, 0), (0.001, 0))]


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for si, shp in enumerate(SHAPES):
        for alpha in ((0.2, 0.01, 1.5, -0.3) if full else (0.2, 1.5)):
            k += 1
            yield unary_case(OP, "float32", f"s{si}-a{alpha}", shp, None, None, {"alpha": alpha}, k)
            for qi, (qin, qo) in enumerate(QS if full else QS[:2]):
                for dtype in ("int8", "int16x8"):
                    k += 1
                    yield unary_case(OP, dtype, f"s{si}-a{alpha}-q{qi}", shp, qin, qo,
                                     {"alpha": alpha}, k)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        seed = draw(st.integers(0, 2**31 - 1))
        alpha = draw(st.sampled_from((0.2, 0.01, 0.3, 2.0)))
        return unary_case(OP, "int8", f"h{seed:x}", draw(st.sampled_from(SHAPES)),
                          draw(qparams("int8")), draw(qparams("int8")), {"alpha": alpha}, seed)
    return {"int8": case()}
