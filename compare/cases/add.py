"""ADD: shapes with and without broadcasting, every fused activation, float32 / int8 /
int16x8, scales where the three formulas (REF's two-rounding fixed point, OPT's folded
shift, XNNPACK's 21-bit multipliers) part ways.

The template for other case modules: ``grid`` for hand-picked cases, ``strategies``
for hypothesis-drawn quantization parameters.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._simple import uint8_grid

OP = "ADD"

# (shape1, shape2, output shape)
SHAPES = [
    ((2, 5, 7, 3), (2, 5, 7, 3), (2, 5, 7, 3)),   # same shape: the flat loop
    ((2, 4, 4, 16), (1, 1, 1, 16), (2, 4, 4, 16)),  # per-channel broadcast
    ((3, 1, 6), (1, 5, 1), (3, 5, 6)),            # both sides broadcast
    ((37,), (37,), (37,)),                        # odd length: optimized tail elements
]
ACTIVATIONS = {"none": 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3}


def _case(dtype: str, name: str, shapes, act: int, q1, q2, qo, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    s1, s2, so = shapes
    store = {"float32": "float32", "int8": "int8", "int16x8": "int16"}[dtype]
    if dtype == "float32":
        x1, x2 = float_inputs(rng, s1), float_inputs(rng, s2)
        args = [TensorArg(s1, store), TensorArg(s2, store)]
        out = TensorArg(so, store)
    else:
        x1 = int_inputs(rng, s1, store, specials=[q1[1]])
        x2 = int_inputs(rng, s2, store, specials=[q2[1]])
        args = [TensorArg(s1, store, scale=q1[0], zero_point=q1[1]),
                TensorArg(s2, store, scale=q2[0], zero_point=q2[1])]
        out = TensorArg(so, store, scale=qo[0], zero_point=qo[1])
    model = one_op_model(OP, args, [out], {"fused_activation_function": act,
                                           "pot_scale_int16": False})
    params = {"shapes": shapes, "activation": act, "q1": q1, "q2": q2, "q_out": qo}
    return Case(OP, dtype, name, model, (x1, x2), params)


def grid(full: bool) -> Iterator[Case]:
    shapes = SHAPES if full else SHAPES[1:3]
    acts = ACTIVATIONS if full else {"none": 0, "relu6": 3}
    scales_int8 = [
        ((0.05, -3), (0.02, 4), (0.07, -1)),
        ((0.5, 127), (0.5, -128), (1.0, 0)),          # ratios exactly 1/2: tie-heavy
        ((0.1, 0), (0.0009765625, 10), (0.1, -128)),  # ratio 1/102: XNNPACK's lower limit
        ((1.0, -128), (0.25, 127), (0.0078125, 0)),   # ratios 128 and 32
    ]
    scales_int16 = [((0.001, 0), (0.0003, 0), (0.0011, 0)), ((2**-10, 0), (2**-12, 0), (2**-9, 0))]
    k = 0
    for si, shp in enumerate(shapes):
        for an, act in acts.items():
            k += 1
            yield _case("float32", f"s{si}-{an}", shp, act, None, None, None, k)
            for qi, (q1, q2, qo) in enumerate(scales_int8 if full else scales_int8[:2]):
                yield _case("int8", f"s{si}-{an}-q{qi}", shp, act, q1, q2, qo, 100 + k * 10 + qi)
            for qi, (q1, q2, qo) in enumerate(scales_int16):
                yield _case("int16x8", f"s{si}-{an}-q{qi}", shp, act, q1, q2, qo,
                            200 + k * 10 + qi)
    yield from wrap_cases(full)
    yield from uint8_grid(OP, full)


#: LiteRT's optimized int8 ADD narrows to int16 with wrap-around (``compare.sweep``
#: ``_ADD_WRAP``): a tiny output scale makes rescaled sums exceed int16. Shapes whose runs
#: have vector blocks and tails: one flat run of 40 (16-element blocks), runs of 20
#: (element-wise), a scalar against 35 and runs of y3 = 18 (scalar broadcast, 8-element
#: blocks), and a generic broadcast (reference kernel throughout).
WRAP_SHAPES = [((40,), (40,), (40,)),
               ((2, 3, 20), (1, 3, 20), (2, 3, 20)),
               ((1,), (35,), (35,)),
               ((3, 1), (3, 18), (3, 18)),
               ((2, 1, 17), (1, 3, 1), (2, 3, 17))]
WRAP_SCALES = ((0.0123, 10), (0.0456, -20), (0.0001, 5))


def wrap_cases(full: bool) -> Iterator[Case]:
    for si, shp in enumerate(WRAP_SHAPES if full else WRAP_SHAPES[:4]):
        yield _case("int8", f"wrap16-s{si}", shp, 0, *WRAP_SCALES, 900 + si)


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str, store: str):
        @st.composite
        def case(draw) -> Case:
            q1, q2, qo = (draw(qparams(store)) for _ in range(3))
            shp = draw(st.sampled_from(SHAPES))
            act = draw(st.sampled_from(sorted(ACTIVATIONS.values())))
            seed = draw(st.integers(0, 2**31 - 1))
            name = f"h{seed:x}"
            return _case(dtype, name, shp, act, q1, q2, qo, seed)
        return case()

    return {"int8": draw("int8", "int8"), "int16x8": draw("int16x8", "int16")}
