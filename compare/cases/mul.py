"""MUL: broadcasting, fused activations, int8 / int16x8 / float32; scale products whose
float32 and float64 evaluations give different multipliers (TFLite vs TFLM), XNNPACK's
fp32 path, and ratios at the delegate's limits (grid shared with SUB, in ``_simple``).

The ``wrap16`` cases are MUL's own: LiteRT's optimized int8 kernel narrows the rescaled
product to int16 inside 16-element vector blocks and then adds the zero point with
wrap-around (``compare.sweep`` ``_MUL_WRAP``). They use multipliers from 0.9 to 333 and
extreme zero points, and shapes whose runs have body blocks and scalar tails: one flat
run, a per-channel five-fold broadcast, a scalar broadcast, a broadcast whose runs are
the middle extent (``y4 == 1``), and a generic broadcast (reference kernel throughout).
"""

from __future__ import annotations

from ._simple import binary_case, binary_grid, binary_strategies, uint8_grid

OP = "MUL"

#: (shape1, shape2, output shape): flat run of 40 (two blocks + 8), runs of 20 (one block
#: + 4), a scalar against 35, runs of y3 = 18 with y4 = 1, and a generic broadcast.
WRAP_SHAPES = [((40,), (40,), (40,)),
               ((2, 3, 20), (1, 3, 20), (2, 3, 20)),
               ((1,), (35,), (35,)),
               ((3, 1), (3, 18), (3, 18)),
               ((2, 1, 17), (1, 3, 1), (2, 3, 17))]
#: (name, q1, q2, q_out): multipliers ~0.9 (shift 0), ~3.3 (shift 2) and 333 (past
#: XNNPACK's limit of 256, so the delegate leaves the node to the optimized kernel)
WRAP_SCALES = [("m09", (0.1, -128), (0.1, 127), (0.011, -7)),
               ("m3", (0.1, -128), (0.1, -128), (0.003, 7)),
               ("x256", (1.0, -100), (1.0, 90), (0.003, 3))]


def grid(full: bool):
    # all four scale sets in the fast run: q2 and q3 reproduce the optimized-kernel bug
    yield from binary_grid(OP, full, fast_scales=4)
    yield from uint8_grid(OP, full)
    k = 1000
    for si, shp in enumerate(WRAP_SHAPES if full else WRAP_SHAPES[:3]):
        for name, q1, q2, qo in WRAP_SCALES:
            k += 1
            yield binary_case(OP, "int8", f"wrap16-{name}-s{si}", *shp, q1, q2, qo,
                              {"fused_activation_function": 0}, k)


def strategies() -> dict:
    return binary_strategies(OP)
