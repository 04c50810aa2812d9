"""L2_NORMALIZATION: float32, int8, uint8 over the last axis; row lengths 1 to 64,
all-zero rows (the epsilon / ``x <= 1`` branches), rows at the type's ends, input zero
points at both ends; the output parameters are the fixed 1/128 ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OP = "L2_NORMALIZATION"
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
SHAPES = [(2, 3, 4, 8), (5, 1), (3, 17), (1, 2, 64), (4, 5, 3)]
OUT_ZP = {"int8": 0, "uint8": 128}


def _case(dtype: str, name: str, shape, q, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        x = float_inputs(rng, shape, -3.0, 3.0)
        x.reshape(-1, shape[-1])[-1] = 0.0               # an all-zero row: epsilon
        args, out = [TensorArg(shape, "float32")], TensorArg(shape, "float32")
    else:
        x = int_inputs(rng, shape, dtype)
        rows = x.reshape(-1, shape[-1])
        rows[-1] = q[1]                                  # a row equal to the zero point
        if rows.shape[0] > 2:
            rows[-2] = rng.integers(-1, 2, size=shape[-1]) + q[1]  # tiny norm
            rows[-2] = np.clip(rows[-2], *(-128, 127) if dtype == "int8" else (0, 255))
        args = [TensorArg(shape, dtype, scale=q[0], zero_point=q[1])]
        out = TensorArg(shape, dtype, scale=1 / 128, zero_point=OUT_ZP[dtype])
    model = one_op_model(OP, args, [out], {"fused_activation_function": 0})
    tflm_ok = dtype != "uint8" and len(shape) <= 4
    return Case(OP, dtype, name, model, (x,), {"shape": shape, "q": q},
                runtimes=None if tflm_ok else ALL_RUNTIMES[:3])


def grid(full: bool) -> Iterator[Case]:
    qs = {"int8": [(0.05, -3), (0.5, 127), (0.002, -128)],
          "uint8": [(0.1, 130), (0.02, 0), (1.0, 255)]}
    for si, shape in enumerate(SHAPES if full else SHAPES[:3]):
        yield _case("float32", f"s{si}", shape, None, si)
        for dtype, qlist in qs.items():
            for qi, q in enumerate(qlist if full else qlist[si % 3:si % 3 + 1]):
                yield _case(dtype, f"s{si}-q{qi}", shape, q, 50 + si * 7 + qi)


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            q = draw(qparams(dtype))
            shape = draw(st.sampled_from(SHAPES))
            seed = draw(st.integers(0, 2**31 - 1))
            return _case(dtype, f"h{seed:x}", shape, q, seed)
        return case()

    @st.composite
    def float_case(draw) -> Case:
        shape = draw(st.sampled_from(SHAPES))
        seed = draw(st.integers(0, 2**31 - 1))
        return _case("float32", f"h{seed:x}", shape, None, seed)

    return {"int8": draw("int8"), "uint8": draw("uint8"), "float32": float_case()}
