"""REDUCE_MAX, REDUCE_MIN, REDUCE_PROD: axes (negative, several, all, none), keep_dims,
every dtype with a LiteRT kernel; ties and signed zeros for the selections.

Quantized MAX / MIN keep the input's parameters (LiteRT and TFLM require equal scales),
so the drawn parameters only move the zero point around both ends of the range.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OPS = ("REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD")

# (input shape, axes, keep_dims)
AXES = [
    ((2, 3, 4, 5), [1, 2], False),
    ((2, 3, 4, 5), [1, 2], True),
    ((2, 3, 4, 5), [-1], False),
    ((2, 3, 4, 5), [2, -3, 0], True),        # several axes, a negative one
    ((3, 33), [1], False),                   # last axis, odd length
    ((4, 6), [0, 1], False),                 # everything
    ((5, 7), [1, 1], True),                  # duplicate axis
]
#: Runtimes that fail these dtypes only at invoke time ("Only float32 and int8 types are
#: supported"), which the TFLM adapter reports as an error rather than "no kernel".
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
TFLM_DTYPES = ("float32", "int8")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "int32": "int32",
         "uint8": "uint8", "bool": "bool"}


def _out_shape(shape, axes, keep):
    red = {a % len(shape) for a in axes}
    if keep:
        return tuple(1 if i in red else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in red)


def _inputs(rng, dtype: str, shape, op: str) -> np.ndarray:
    store = STORE[dtype]
    if dtype == "float32":
        if op == "REDUCE_PROD":   # products of values near 1 stay finite
            return float_inputs(rng, shape, 0.5, 1.5, specials=[-1.25, 2.0])
        x = float_inputs(rng, shape, specials=[-0.0, 1.5, 1.5])
        return x
    if dtype == "bool":
        return rng.random(shape) < (0.1 if op == "REDUCE_MAX" else 0.9)   # rare minority
    if dtype == "int32":
        if op == "REDUCE_PROD":
            return rng.integers(-40, 41, size=shape).astype(np.int32)   # products wrap
        return rng.integers(-5, 6, size=shape).astype(np.int32) * 400_000_000  # many ties
    return int_inputs(rng, shape, store)


def _case(op: str, dtype: str, name: str, spec, q, seed: int, q_out=None) -> Case:
    rng = np.random.default_rng(seed)
    shape, axes, keep = spec
    store = STORE[dtype]
    x = _inputs(rng, dtype, shape, op)
    scale, zp = (None, 0) if q is None else q
    model = one_op_model(
        op,
        [TensorArg(shape, store, scale=scale, zero_point=zp),
         TensorArg((len(axes),), "int32", data=np.array(axes, np.int32))],
        [TensorArg(_out_shape(shape, axes, keep), store,
                   scale=(q_out or q or (None, 0))[0], zero_point=(q_out or q or (None, 0))[1])],
        {"keep_dims": keep})
    runtimes = None if dtype in TFLM_DTYPES and op != "REDUCE_PROD" else ALL_RUNTIMES[:3]
    if dtype == "bool":   # LiteRT's optimized kernel fails bool MAX / MIN at invoke
        runtimes = ALL_RUNTIMES[:1]
    return Case(op, dtype, name, model, (x,), {"shape": shape, "axes": axes, "keep_dims": keep,
                                               "q": q, "q_out": q_out}, runtimes=runtimes)


def grid(full: bool) -> Iterator[Case]:
    specs = AXES if full else AXES[:5]
    quant = {"int8": (0.05, -3), "uint8": (0.1, 130), "int16x8": (0.001, 0)}
    for op in OPS:
        dtypes = ["float32", "int32"] if op == "REDUCE_PROD" else list(STORE)
        for k, spec in enumerate(specs):
            for dtype in dtypes:
                yield _case(op, dtype, f"a{k}", spec, quant.get(dtype), 1000 * k + len(dtype))
    yield from _prod_grid(full)
    yield from _mismatch_cases()


#: Quantized REDUCE_PROD: (input, output) parameters; the per-step multiplier is
#: s_in / s_out^(1/n).
PROD_QUANT = {
    "int8": [((0.05, -3), (0.02, 10)), ((0.5, 127), (64.0, -128)), ((0.01, 0), (1e-4, 0))],
    "int16x8": [((0.001, 0), (0.0005, 0)), ((2.0**-10, 0), (2.0**-7, 0))],
}


def _prod_grid(full: bool) -> Iterator[Case]:
    specs = AXES if full else [AXES[i] for i in (0, 2, 4, 6)]
    for k, spec in enumerate(specs):
        for dtype, qs in PROD_QUANT.items():
            for qi, (q, qo) in enumerate(qs if full else qs[:1]):
                yield _case("REDUCE_PROD", dtype, f"q-a{k}-{qi}", spec, q, 500 + 10 * k + qi,
                            q_out=qo)


def _mismatch_cases() -> Iterator[Case]:
    """Output parameters different from the input's: LiteRT's and TFLM's kernels fail at
    invoke (an error, not a refusal), XNNPACK takes the node and copies the codes."""
    for op in OPS[:2]:
        for dtype, q, qo in (("int8", (0.05, -3), (0.1, 0)), ("uint8", (0.1, 128), (0.2, 0))):
            case = _case(op, dtype, "q-mismatch", AXES[0], q, 777, q_out=qo)
            yield Case(case.op, case.dtype, case.name, case.model, case.inputs, case.params,
                       runtimes=("litert-xnnpack",))


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            op = draw(st.sampled_from(OPS if dtype != "uint8" else OPS[:2]))
            q = draw(qparams(STORE[dtype]))
            q_out = draw(qparams(STORE[dtype])) if op == "REDUCE_PROD" else None
            spec = draw(st.sampled_from(AXES))
            seed = draw(st.integers(0, 2**31 - 1))
            return _case(op, dtype, f"h{seed:x}", spec, q, seed, q_out=q_out)
        return case()

    return {d: draw(d) for d in ("int8", "uint8", "int16x8")}
