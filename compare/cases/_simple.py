"""Builders shared by the case modules of one-input / two-input element-wise and
activation ops: a quantized or float model around one operator, with inputs that cover
the whole integer range (both ends, the zero point) or a float range."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

STORE = {"float32": "float32", "int8": "int8", "uint8": "uint8", "int16x8": "int16"}


def unary_case(op: str, dtype: str, name: str, shape, q_in, q_out, options: Any = None,
               seed: int = 0, out_shape=None, low: float = -8.0, high: float = 8.0,
               extra_inputs=(), tolerance=None) -> Case:
    """``op(x)`` with input quantization ``q_in`` and output ``q_out`` ((scale, zp) or None)."""
    rng = np.random.default_rng(seed)
    st = STORE[dtype]
    out_shape = shape if out_shape is None else out_shape
    if dtype == "float32":
        x = float_inputs(rng, shape, low, high)
        args = [TensorArg(shape, st), *extra_inputs]
        outs = [TensorArg(out_shape, st)]
    else:
        zp_in = 0 if st == "int16" else q_in[1]
        zp_out = 0 if st == "int16" else q_out[1]
        x = int_inputs(rng, shape, st, specials=[zp_in, zp_in + 1, zp_in - 1])
        args = [TensorArg(shape, st, scale=q_in[0], zero_point=zp_in), *extra_inputs]
        outs = [TensorArg(out_shape, st, scale=q_out[0], zero_point=zp_out)]
    model = one_op_model(op, args, outs, options)
    params = {"shape": shape, "q_in": q_in, "q_out": q_out, "options": options}
    return Case(op, dtype, name, model, (x,), params, tolerance or {})


def binary_case(op: str, dtype: str, name: str, s1, s2, so, q1, q2, qo, options: Any = None,
                seed: int = 0) -> Case:
    rng = np.random.default_rng(seed)
    st = STORE[dtype]
    if dtype == "float32":
        xs = (float_inputs(rng, s1), float_inputs(rng, s2))
        args = [TensorArg(s1, st), TensorArg(s2, st)]
        outs = [TensorArg(so, st)]
    else:
        zps = [0 if st == "int16" else q[1] for q in (q1, q2, qo)]
        xs = (int_inputs(rng, s1, st, specials=[zps[0]]), int_inputs(rng, s2, st, specials=[zps[1]]))
        args = [TensorArg(s1, st, scale=q1[0], zero_point=zps[0]),
                TensorArg(s2, st, scale=q2[0], zero_point=zps[1])]
        outs = [TensorArg(so, st, scale=qo[0], zero_point=zps[2])]
    model = one_op_model(op, args, outs, options)
    params = {"shapes": (s1, s2, so), "q": (q1, q2, qo), "options": options}
    return Case(op, dtype, name, model, xs, params)


#: Shapes and scales shared by the MUL and SUB grids: same shape, per-channel broadcast,
#: an odd length (vector tails), both sides broadcasting; tie-heavy and extreme scales.
BINARY_SHAPES = [((2, 5, 7, 3), (2, 5, 7, 3), (2, 5, 7, 3)),
                 ((2, 4, 4, 16), (1, 1, 1, 16), (2, 4, 4, 16)),
                 ((37,), (37,), (37,)), ((3, 1, 6), (1, 5, 1), (3, 5, 6))]
BINARY_SCALES = [((0.05, -3), (0.02, 4), (0.0007, -1)), ((0.5, 127), (0.25, -128), (1.0, 0)),
                 ((0.0123, 10), (0.0456, -20), (0.0001, 5)), ((1.0, 0), (1.0, 0), (0.001, 0))]


def binary_grid(op: str, full: bool, fast_scales: int) -> Any:
    """float32 / int8 / int16x8 cases of a broadcasting binary op with a fused activation;
    the fast run takes shapes 1-2, activations NONE and RELU6 and the first
    ``fast_scales`` scale sets."""
    k = 0
    shapes = BINARY_SHAPES if full else BINARY_SHAPES[1:3]
    for si, shp in enumerate(shapes):
        for act in ((0, 1, 3) if full else (0, 3)):
            k += 1
            opts = {"fused_activation_function": act}
            yield binary_case(op, "float32", f"s{si}-a{act}", *shp, None, None, None, opts, k)
            for qi, (q1, q2, qo) in enumerate(BINARY_SCALES if full
                                              else BINARY_SCALES[:fast_scales]):
                for dtype in ("int8", "int16x8"):
                    k += 1
                    yield binary_case(op, dtype, f"s{si}-a{act}-q{qi}", *shp, q1, q2, qo, opts, k)


def binary_strategies(op: str) -> dict:
    """Hypothesis strategies drawing quantization parameters for ``op`` (int8, int16x8)."""
    from hypothesis import strategies as st

    from ._common import qparams

    def make(dtype: str, store: str) -> Any:
        @st.composite
        def case(draw: Any) -> Case:
            q1, q2, qo = (draw(qparams(store)) for _ in range(3))
            seed = draw(st.integers(0, 2**31 - 1))
            shapes = draw(st.sampled_from(BINARY_SHAPES))
            act = draw(st.sampled_from((0, 1, 3)))
            return binary_case(op, dtype, f"h{seed:x}", *shapes, q1, q2, qo,
                               {"fused_activation_function": act}, seed)
        return case()
    return {"int8": make("int8", "int8"), "int16x8": make("int16x8", "int16")}


#: uint8 ADD / SUB / MUL: shapes whose runs have vector blocks (8 elements for uint8 on
#: LiteRT's optimized kernels) and tails -- one flat run of 40, runs of 20, a scalar
#: against 35, runs of y3 = 18 (scalar broadcast), a generic broadcast -- and scales: a
#: moderate set, a tiny output scale (rescaled values beyond int16: the optimized
#: kernels' wrap-around) and a multiplier above 1, zero points at 0, 255 and between.
UINT8_SHAPES = [((40,), (40,), (40,)),
                ((2, 3, 20), (1, 3, 20), (2, 3, 20)),
                ((1,), (35,), (35,)),
                ((3, 1), (3, 18), (3, 18)),
                ((2, 1, 17), (1, 3, 1), (2, 3, 17))]
UINT8_SCALES = [("mid", (0.05, 128), (0.02, 100), (0.07, 120)),
                ("tinyout", (0.0123, 0), (0.0456, 255), (0.0001, 130)),
                ("big", (0.1, 255), (0.1, 0), (0.003, 3))]


def uint8_grid(op: str, full: bool) -> Any:
    """uint8 cases of ``op`` (no activation, and RELU6 on the flat shape)."""
    k = 2000
    for si, shp in enumerate(UINT8_SHAPES if full else UINT8_SHAPES[:4]):
        for name, q1, q2, qo in UINT8_SCALES:
            for act in ((0, 3) if si == 0 else (0,)):
                k += 1
                yield binary_case(op, "uint8", f"u8-{name}-s{si}-a{act}", *shp, q1, q2, qo,
                                  {"fused_activation_function": act}, k)
