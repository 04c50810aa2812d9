"""LOGISTIC and TANH: int8 (LiteRT's float LUT vs TFLM's gemmlowp fixed point), int16x8
(table + interpolation; power-of-two input scales 2**-12 and 2**-11, where LiteRT's
optimized resolver runs gemmlowp's 16-bit fixed point instead) and float32.

The ``allcodes`` cases feed every int16 code once (65,536 values: both saturated ends,
zero, every breakpoint of the table and of the fixed-point exp's barrel shifter), in a
length that leaves a tail after the optimized kernels' 16- and 8-element vector steps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from ._common import Case, Tolerance, qparams
from ._simple import unary_case

OPS = ("LOGISTIC", "TANH")
SHAPES = [(4, 64), (37,)]
_APPROX = Tolerance(
    reason="float32 sigmoid/tanh: LiteRT's optimized kernels use Eigen's rational "
    "approximations and XNNPACK its own polynomial kernels, not the C library; "
    "measured max 5 ulp over the grid", ulps=8)
_TANHF = Tolerance(
    reason="float32 TANH: the reference kernels call glibc tanhf (not correctly rounded, "
    "1-2 ulp off on ~17% of arguments); refimpl computes a correctly rounded tanh "
    "(glibc's tanhf is not ported); measured max 1 ulp", ulps=2)
FLOAT_TOL = {"LOGISTIC": {"litert-builtin": _APPROX, "litert-xnnpack": _APPROX},
             "TANH": {"litert-builtin": _APPROX, "litert-xnnpack": _APPROX,
                      "litert-ref": _TANHF, "tflm": _TANHF}}
OUT = {("LOGISTIC", "int8"): (1 / 256, -128), ("TANH", "int8"): (1 / 128, 0),
       ("LOGISTIC", "int16x8"): (1 / 32768, 0), ("TANH", "int16x8"): (1 / 32768, 0)}
IN_Q = {"int8": [(0.05, -3), (0.1, 127), (1 / 16, 0), (0.0237, -128)],
        "int16x8": [(0.0003, 0), (2.0**-12, 0), (2.0**-11, 0), (0.001, 0)]}


def _grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS:
        for si, shp in enumerate(SHAPES):
            k += 1
            yield unary_case(op, "float32", f"s{si}", shp, None, None, None, k,
                             tolerance=FLOAT_TOL[op])
            for dtype in ("int8", "int16x8"):
                for qi, q in enumerate(IN_Q[dtype] if full else IN_Q[dtype][:3]):
                    k += 1
                    yield unary_case(op, dtype, f"s{si}-q{qi}", shp, q, OUT[(op, dtype)], None, k)


def _all_codes(op: str, q_in, name: str) -> Case:
    """Every int16 code, plus 5 more (a tail after the vector steps)."""
    x = np.concatenate([np.arange(-32768, 32768), [-32768, -1, 0, 1, 32767]]).astype(np.int16)
    case = unary_case(op, "int16x8", name, x.shape, q_in, OUT[(op, "int16x8")], None, 0)
    return dataclasses.replace(case, inputs=(x,))


def grid(full: bool) -> Iterator[Case]:
    yield from _grid(full)
    for op in OPS:
        for q_in in ((2.0**-12, 0), (2.0**-11, 0), (0.0003, 0)):
            yield _all_codes(op, q_in, f"allcodes-s{q_in[0]:.6g}")


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw):
        op = draw(st.sampled_from(OPS))
        seed = draw(st.integers(0, 2**31 - 1))
        return unary_case(op, "int8", f"h{seed:x}", draw(st.sampled_from(SHAPES)),
                          draw(qparams("int8")), OUT[(op, "int8")], None, seed)
    return {"int8": case()}
