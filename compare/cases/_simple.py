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
