"""SQUARED_DIFFERENCE (float32, int32, int8 with different input scales), DIV (float32
incl. a zero divisor -> inf/NaN, int32 with negative operands: truncation toward zero)
and PRELU (float32, int8 with a per-channel-shaped alpha tensor), with broadcasting."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OPS = ("SQUARED_DIFFERENCE", "DIV", "PRELU")
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (1, 1, 4)), ((37,), (37,))]


def _sqdiff(name, s1, s2, q1, q2, qo, seed):
    rng = np.random.default_rng(seed)
    so = tuple(np.broadcast_shapes(s1, s2))
    if q1 is None:
        a, b = float_inputs(rng, s1), float_inputs(rng, s2)
        model = one_op_model("SQUARED_DIFFERENCE", [TensorArg(s1, "float32"), TensorArg(s2, "float32")],
                             [TensorArg(so, "float32")])
        return Case("SQUARED_DIFFERENCE", "float32", name, model, (a, b), {})
    a, b = int_inputs(rng, s1, "int8"), int_inputs(rng, s2, "int8")
    model = one_op_model("SQUARED_DIFFERENCE",
                         [TensorArg(s1, "int8", scale=q1[0], zero_point=q1[1]),
                          TensorArg(s2, "int8", scale=q2[0], zero_point=q2[1])],
                         [TensorArg(so, "int8", scale=qo[0], zero_point=qo[1])])
    return Case("SQUARED_DIFFERENCE", "int8", name, model, (a, b), {"q": (q1, q2, qo)})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for si, (s1, s2) in enumerate(SHAPES):
        k += 1
        yield _sqdiff(f"s{si}", s1, s2, None, None, None, k)
        for qi, (q1, q2, qo) in enumerate([((0.05, 3), (0.02, -4), (0.1, -128)),
                                           ((0.5, 127), (0.5, -128), (64.0, -128)),
                                           ((0.01, 0), (0.03, 10), (0.002, -100))]):
            k += 1
            yield _sqdiff(f"s{si}-q{qi}", s1, s2, q1, q2, qo, k)
        rng = np.random.default_rng(k)
        so = tuple(np.broadcast_shapes(s1, s2))
        for act in (0, 1):
            a, b = float_inputs(rng, s1), float_inputs(rng, s2)
            b.reshape(-1)[1] = 0.0  # x / 0 -> inf, 0 / 0 -> NaN
            m = one_op_model("DIV", [TensorArg(s1, "float32"), TensorArg(s2, "float32")],
                             [TensorArg(so, "float32")], {"fused_activation_function": act})
            yield Case("DIV", "float32", f"s{si}-a{act}", m, (a, b), {})
            ai = rng.integers(-100, 100, s1).astype(np.int32)
            bi = rng.integers(1, 9, s2).astype(np.int32) * rng.choice([-1, 1], s2).astype(np.int32)
            m = one_op_model("DIV", [TensorArg(s1, "int32"), TensorArg(s2, "int32")],
                             [TensorArg(so, "int32")], {"fused_activation_function": act})
            yield Case("DIV", "int32", f"s{si}-a{act}", m, (ai, bi), {})
    for si, (shape, ashape) in enumerate([((2, 4, 4, 3), (1, 1, 3)), ((3, 5), (5,))]):
        k += 1
        rng = np.random.default_rng(k)
        alpha = rng.uniform(-0.5, 0.9, ashape).astype(np.float32)
        m = one_op_model("PRELU", [TensorArg(shape, "float32"), TensorArg(ashape, "float32", data=alpha)],
                         [TensorArg(shape, "float32")])
        yield Case("PRELU", "float32", f"s{si}", m, (float_inputs(rng, shape),), {})
        for qi, (qin, qa, qo) in enumerate([((0.05, -3), (0.01, 0), (0.04, 5)),
                                            ((0.5, 127), (1 / 128, 0), (0.25, -128))]):
            aq = rng.integers(-127, 128, ashape).astype(np.int8)
            m = one_op_model("PRELU", [TensorArg(shape, "int8", scale=qin[0], zero_point=qin[1]),
                                       TensorArg(ashape, "int8", data=aq, scale=qa[0], zero_point=qa[1])],
                             [TensorArg(shape, "int8", scale=qo[0], zero_point=qo[1])])
            yield Case("PRELU", "int8", f"s{si}-q{qi}", m, (int_inputs(rng, shape, "int8"),), {})


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        seed = draw(st.integers(0, 2**31 - 1))
        s1, s2 = draw(st.sampled_from(SHAPES))
        return _sqdiff(f"h{seed:x}", s1, s2, draw(qparams("int8")), draw(qparams("int8")),
                       draw(qparams("int8")), seed)
    return {"int8": case()}
