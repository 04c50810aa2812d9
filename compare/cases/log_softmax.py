"""LOG_SOFTMAX: float32, int8, uint8 rows of length 1 to 300; rows with one dominant
value (everything else below ``diff_min``), flat rows (all equal), full-range rows; input
scales from tiny (``s_in * 2^26`` just above 1 would abort) to large; the output
parameters are the fixed 16/256 ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OP = "LOG_SOFTMAX"
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
SHAPES = [(4, 10), (2, 3, 37), (1, 300), (6, 1), (3, 2, 2, 16)]
OUT_ZP = {"int8": 127, "uint8": 255}

#: Row lengths around Eigen's 4-float packets and 8-float packet pairs (optimized float).
FLOAT_SHAPES = [(3, 3), (2, 4), (2, 7), (3, 8), (2, 12), (2, 13), (1, 29)]


def _case(dtype: str, name: str, shape, q, seed: int, pattern: str = "random") -> Case:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        x = float_inputs(rng, shape, -8.0, 8.0)
        args, out = [TensorArg(shape, "float32")], TensorArg(shape, "float32")
    else:
        x = int_inputs(rng, shape, dtype)
        rows = x.reshape(-1, shape[-1])
        lo, hi = (-128, 127) if dtype == "int8" else (0, 255)
        if pattern == "peak":
            rows[:] = lo
            rows[:, 0] = hi
        elif pattern == "flat":
            rows[:] = rng.integers(lo, hi + 1)
        args = [TensorArg(shape, dtype, scale=q[0], zero_point=q[1])]
        out = TensorArg(shape, dtype, scale=16 / 256, zero_point=OUT_ZP[dtype])
    model = one_op_model(OP, args, [out], {})
    return Case(OP, dtype, name, model, (x,), {"shape": shape, "q": q, "pattern": pattern},
                runtimes=None if dtype != "uint8" else ALL_RUNTIMES[:3])


def grid(full: bool) -> Iterator[Case]:
    qs = [(0.05, -3), (0.5, 127), (2.0**-8, -128), (0.1, 0), (3.0, 5)]
    for si, shape in enumerate(FLOAT_SHAPES + SHAPES if full else FLOAT_SHAPES):
        yield _case("float32", f"f{si}", shape, None, si)
    for si, shape in enumerate(SHAPES if full else SHAPES[:3]):
        for dtype in ("int8", "uint8"):
            for qi, (s, zp) in enumerate(qs if full else qs[si % 3:si % 3 + 2]):
                zp = zp if dtype == "int8" else zp + 128
                yield _case(dtype, f"s{si}-q{qi}", shape, (s, zp), 100 + si * 11 + qi)
            for pattern in ("peak", "flat"):
                yield _case(dtype, f"s{si}-{pattern}", shape, (0.05, 0 if dtype == "int8" else 128),
                            200 + si, pattern)


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            q = draw(qparams(dtype).filter(lambda p: p[0] * 2.0**26 > 1.0))
            shape = draw(st.sampled_from(SHAPES))
            seed = draw(st.integers(0, 2**31 - 1))
            return _case(dtype, f"h{seed:x}", shape, q, seed)
        return case()

    @st.composite
    def float_case(draw) -> Case:
        rows = draw(st.integers(1, 4))
        depth = draw(st.integers(1, 70))
        spread = draw(st.sampled_from([1.0, 8.0, 40.0, 120.0]))   # > 104: exp underflows
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        x = rng.uniform(-spread, spread, (rows, depth)).astype(np.float32)
        model = one_op_model(OP, [TensorArg(x.shape, "float32")], [TensorArg(x.shape, "float32")],
                             {})
        return Case(OP, "float32", f"h{seed:x}-{spread:g}", model, (x,),
                    {"shape": x.shape, "spread": spread})

    return {"int8": draw("int8"), "uint8": draw("uint8"), "float32": float_case()}
