"""MEAN and SUM: axes (spatial {1,2} with keep_dims — LiteRT's optimized MEAN path —,
single, negative, all), keep_dims both ways; int8, int16x8, float32; scale ratios that
put the pre-divided multiplier on ties."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import float_sum_tolerance

OPS = ("MEAN", "SUM")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "uint8": "uint8"}
AXES = [((2, 5, 6, 8), (1, 2), True), ((2, 5, 6, 8), (1, 2), False), ((3, 7, 4), (-1,), False),
        ((3, 7, 4), (0, 2), True), ((2, 4, 4, 16), (1, 2), True),
        ((1, 3, 3, 20), (1, 2), True)]  # one 16-channel block + 4 scalar-tail channels (OPT)
QS = [((0.05, -3), (0.05, -3)), ((0.05, 10), (0.02, -5)), ((0.5, 127), (1.0, 0)),
      ((0.0123, -128), (0.9, 100))]


def _out_shape(shape, axes, keep):
    axes = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _case(op, dtype, name, geom, qin, qout, seed):
    shape, axes, keep = geom
    rng = np.random.default_rng(seed)
    st = STORE[dtype]
    out = _out_shape(shape, axes, keep)
    ax = TensorArg((len(axes),), "int32", data=np.array(axes, np.int32))
    if dtype == "float32":
        x = float_inputs(rng, shape)
        model = one_op_model(op, [TensorArg(shape, st), ax], [TensorArg(out, st)],
                             {"keep_dims": keep})
        n = int(np.prod([shape[a % len(shape)] for a in axes]))
        tol = float_sum_tolerance(n, 4.0, 1.0, 0.0)
        return Case(op, dtype, name, model, (x,), {"geom": geom}, tol)
    else:
        shift = 128 if st == "uint8" else 0  # same real values, uint8 zero points
        zi = 0 if st == "int16" else qin[1] + shift
        zo = 0 if st == "int16" else qout[1] + shift
        x = int_inputs(rng, shape, st, specials=[zi])
        model = one_op_model(op, [TensorArg(shape, st, scale=qin[0], zero_point=zi), ax],
                             [TensorArg(out, st, scale=qout[0], zero_point=zo)],
                             {"keep_dims": keep})
    return Case(op, dtype, name, model, (x,), {"geom": geom, "q_in": qin, "q_out": qout})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS:
        for gi, g in enumerate(AXES):
            k += 1
            yield _case(op, "float32", f"g{gi}", g, None, None, k)
            for qi, (qin, qo) in enumerate(QS if full else QS[:3]):
                # uint8: every geometry in the full grid, the two OPT H,W ones in the fast one
                u8 = ("uint8",) if full or gi in (1, 5) else ()
                for dtype in ("int8", "int16x8", *u8):
                    k += 1
                    yield _case(op, dtype, f"g{gi}-q{qi}", g, qin, qo, k)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        seed = draw(st.integers(0, 2**31 - 1))
        return _case(draw(st.sampled_from(OPS)), "int8", f"h{seed:x}", draw(st.sampled_from(AXES)),
                     draw(qparams("int8")), draw(qparams("int8")), seed)
    return {"int8": case()}
