"""ARG_MAX, ARG_MIN: every axis (negative too), int32 / int64 outputs, int32 / int64 axis
tensors, ties everywhere (first index wins), rows shorter and longer than LiteRT's
16-element int8 vector blocks and 4-lane float vectors.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OPS = ("ARG_MAX", "ARG_MIN")
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
STORE = {"float32": "float32", "int8": "int8", "int32": "int32", "uint8": "uint8",
         "bool": "bool"}
OUT_TYPES = {"int32": 2, "int64": 4}

# (input shape, axis)
SHAPES = [
    ((2, 3, 4, 5), 3), ((2, 3, 4, 5), -1), ((2, 3, 4, 5), 1), ((2, 3, 4, 5), -4),
    ((3, 37), 1),          # last axis: two 16-wide blocks and a tail
    ((5, 40), -1),
    ((7,), 0),
    ((6, 9, 2), -2),
]


def _inputs(rng, dtype: str, shape, ties: bool) -> np.ndarray:
    if dtype == "bool":
        return rng.random(shape) < (0.5 if ties else 0.1)
    if ties:   # few distinct values: many equal extremes in every row
        v = rng.integers(-2, 3, size=shape)
        if dtype == "float32":
            return (v * 0.75).astype(np.float32)
        return (v + (100 if dtype == "uint8" else 0)).astype(STORE[dtype])
    if dtype == "float32":
        return float_inputs(rng, shape)
    if dtype == "int32":
        return rng.integers(-(2**31), 2**31, size=shape).astype(np.int32)
    return int_inputs(rng, shape, STORE[dtype])


def _case(op: str, dtype: str, name: str, spec, out_type: str, axis_type: str, ties: bool,
          q, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    shape, axis = spec
    x = _inputs(rng, dtype, shape, ties)
    scale, zp = (None, 0) if q is None else q
    out_shape = tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
    model = one_op_model(
        op,
        [TensorArg(shape, STORE[dtype], scale=scale, zero_point=zp),
         TensorArg((1,), axis_type, data=np.array([axis], axis_type))],
        [TensorArg(out_shape, out_type)],
        {"output_type": OUT_TYPES[out_type]})
    tflm_ok = dtype in ("float32", "int8") and out_type == "int32" and axis_type == "int32"
    return Case(op, dtype, name, model, (x,),
                {"shape": shape, "axis": axis, "output_type": out_type, "axis_type": axis_type,
                 "ties": ties, "q": q},
                runtimes=None if tflm_ok else ALL_RUNTIMES[:3])


def grid(full: bool) -> Iterator[Case]:
    specs = SHAPES if full else [SHAPES[i] for i in (0, 2, 4)]
    quant = {"int8": (0.05, -3), "uint8": (0.1, 130)}
    k = 0
    for op in OPS:
        for si, spec in enumerate(specs):
            for dtype in STORE:
                for ties in (False, True):
                    k += 1
                    out_type = "int64" if k % 3 == 0 else "int32"
                    axis_type = "int64" if k % 4 == 0 else "int32"
                    yield _case(op, dtype, f"s{si}-{'ties' if ties else 'rand'}-{out_type}-"
                                f"ax{axis_type}", spec, out_type, axis_type, ties,
                                quant.get(dtype), 77 * k)


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            op = draw(st.sampled_from(OPS))
            q = draw(qparams(STORE[dtype]))
            spec = draw(st.sampled_from(SHAPES))
            out_type = draw(st.sampled_from(sorted(OUT_TYPES)))
            ties = draw(st.booleans())
            seed = draw(st.integers(0, 2**31 - 1))
            return _case(op, dtype, f"h{seed:x}", spec, out_type, "int32", ties, q, seed)
        return case()

    return {d: draw(d) for d in ("int8", "uint8")}
