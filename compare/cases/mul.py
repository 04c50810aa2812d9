"""MUL: broadcasting, fused activations, int8 / int16x8 / float32; scale products whose
float32 and float64 evaluations give different multipliers (TFLite vs TFLM), XNNPACK's
fp32 path, and ratios at the delegate's limits."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Case, qparams
from ._simple import binary_case

OP = "MUL"
SHAPES = [((2, 5, 7, 3), (2, 5, 7, 3), (2, 5, 7, 3)), ((2, 4, 4, 16), (1, 1, 1, 16), (2, 4, 4, 16)),
          ((37,), (37,), (37,)), ((3, 1, 6), (1, 5, 1), (3, 5, 6))]
SCALES = [((0.05, -3), (0.02, 4), (0.0007, -1)), ((0.5, 127), (0.25, -128), (1.0, 0)),
          ((0.0123, 10), (0.0456, -20), (0.0001, 5)), ((1.0, 0), (1.0, 0), (0.001, 0))]


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for si, shp in enumerate(SHAPES if full else SHAPES[1:3]):
        for act in ((0, 1, 3) if full else (0, 3)):
            k += 1
            yield binary_case(OP, "float32", f"s{si}-a{act}", *shp, None, None, None,
                              {"fused_activation_function": act}, k)
            for qi, (q1, q2, qo) in enumerate(SCALES):
                k += 1
                yield binary_case(OP, "int8", f"s{si}-a{act}-q{qi}", *shp, q1, q2, qo,
                                  {"fused_activation_function": act}, k)
                k += 1
                yield binary_case(OP, "int16x8", f"s{si}-a{act}-q{qi}", *shp, q1, q2, qo,
                                  {"fused_activation_function": act}, k)


def strategies() -> dict:
    from hypothesis import strategies as st

    def make(dtype, store):
        @st.composite
        def case(draw):
            q1, q2, qo = (draw(qparams(store)) for _ in range(3))
            seed = draw(st.integers(0, 2**31 - 1))
            return binary_case(OP, dtype, f"h{seed:x}", *draw(st.sampled_from(SHAPES)), q1, q2,
                               qo, {"fused_activation_function": draw(st.sampled_from((0, 1, 3)))},
                               seed)
        return case()
    return {"int8": make("int8", "int8"), "int16x8": make("int16x8", "int16")}
