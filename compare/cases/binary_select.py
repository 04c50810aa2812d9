"""MAXIMUM, MINIMUM, the comparisons (EQUAL ... GREATER_EQUAL) and SELECT / SELECT_V2,
with broadcasting. Quantized comparisons use different input scales (each side is
rescaled before comparing) and values that are equal after rescaling; float32, int8,
int32 and bool where the op takes them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, one_op_model

CMP = ("EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL")
OPS = ("MAXIMUM", "MINIMUM", *CMP, "SELECT", "SELECT_V2")
SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (1, 1, 4)), ((3, 1), (1, 5))]


def _inputs(rng, dtype, s1, s2):
    if dtype == "float32":
        a = np.round(float_inputs(rng, s1) * 2) / 2  # halves: plenty of equal pairs
        b = np.round(float_inputs(rng, s2) * 2) / 2
        return a.astype(np.float32), b.astype(np.float32)
    if dtype == "bool":
        return rng.random(s1) < 0.5, rng.random(s2) < 0.5
    st = "int32" if dtype == "int32" else "int8"
    lo, hi = (-20, 20) if dtype == "int32" else (-128, 128)
    return (rng.integers(lo, hi, s1).astype(st), rng.integers(lo, hi, s2).astype(st))


def _out_shape(s1, s2):
    return tuple(np.broadcast_shapes(s1, s2))


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS[:2] + CMP:
        dtypes = ["float32", "int8", "int32"] + (["bool"] if op in ("EQUAL", "NOT_EQUAL") else [])
        for dt in dtypes:
            for si, (s1, s2) in enumerate(SHAPES):
                k += 1
                rng = np.random.default_rng(k)
                a, b = _inputs(rng, dt, s1, s2)
                st = {"float32": "float32", "int8": "int8", "int32": "int32", "bool": "bool"}[dt]
                if dt == "int8":
                    # MAXIMUM/MINIMUM copy raw values: one set of parameters; comparisons
                    # rescale: s2 = 2 * s1 makes q2 = q1 / 2 equal in real terms
                    q1, q2 = ((0.05, 3), (0.05, 3)) if op in OPS[:2] else ((0.05, 3), (0.1, 1))
                    ins = [TensorArg(s1, st, scale=q1[0], zero_point=q1[1]),
                           TensorArg(s2, st, scale=q2[0], zero_point=q2[1])]
                else:
                    ins = [TensorArg(s1, st), TensorArg(s2, st)]
                so = _out_shape(s1, s2)
                if op in CMP:
                    out = TensorArg(so, "bool")
                elif dt == "int8":
                    out = TensorArg(so, st, scale=0.05, zero_point=3)
                else:
                    out = TensorArg(so, st)
                model = one_op_model(op, ins, [out])
                yield Case(op, dt, f"s{si}", model, (a, b), {"shapes": (s1, s2)})
    for op in ("SELECT", "SELECT_V2"):
        for dt in ("float32", "int8", "int32"):
            for si, (sc, sx) in enumerate([((2, 3), (2, 3)), ((4,), (4, 3)), ((1, 3), (2, 3))]):
                if op == "SELECT" and si == 2:
                    continue  # SELECT does not broadcast this way
                if op == "SELECT_V2" and si == 1:
                    continue  # a leading-dimension condition is SELECT's rule
                k += 1
                rng = np.random.default_rng(k)
                c = rng.random(sc) < 0.5
                x, y = _inputs(rng, dt, sx, sx)
                st = {"float32": "float32", "int8": "int8", "int32": "int32"}[dt]
                kw = {"scale": 0.05, "zero_point": 3} if dt == "int8" else {}
                model = one_op_model(op, [TensorArg(sc, "bool"), TensorArg(sx, st, **kw),
                                          TensorArg(sx, st, **kw)], [TensorArg(sx, st, **kw)])
                yield Case(op, dt, f"s{si}", model, (c, x, y), {"shapes": (sc, sx)})
