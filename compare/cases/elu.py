"""ELU: float32 and int8 (the only types with a kernel; LiteRT's BUILTIN_REF resolver has
no ELU at all, so litert-ref reports "no kernel").

Float inputs cross the boundaries of glibc ``expm1f``'s argument reduction
(``|x| = ln2/2, 1.5 ln2, 27 ln2``), signed zeros, NaN, infinities and a denormal (which
XNNPACK flushes). int8 grids put the zero point at both ends and use scales whose
table entries land on rounding ties (``s_in = s_out``, powers of two).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, \
    qparams, scales_near_pot

OP = "ELU"
SHAPES = [(2, 3, 7), (4, 64)]
FLOAT_SPECIALS = [-0.0, np.nan, -np.inf, np.inf, -1e-40, -0.34657359, -0.3465736,
                  -1.0397207, -1.0397208, -18.714972, -18.714975, -100.0, -1e-8, 1e-40]


def _float_case(shape, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = float_inputs(rng, shape, -20.0, 6.0, specials=FLOAT_SPECIALS)
    model = one_op_model(OP, [TensorArg(shape, "float32")], [TensorArg(shape, "float32")])
    return Case(OP, "float32", f"s{'x'.join(map(str, shape))}", model, (x,), {"shape": shape})


def _int8_case(name: str, shape, qi, qo, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = int_inputs(rng, shape, "int8", specials=[qi[1], qi[1] - 1, qi[1] + 1])
    model = one_op_model(OP, [TensorArg(shape, "int8", scale=qi[0], zero_point=qi[1])],
                         [TensorArg(shape, "int8", scale=qo[0], zero_point=qo[1])])
    return Case(OP, "int8", name, model, (x,), {"shape": shape, "q_in": qi, "q_out": qo})


INT8_GRID = [
    ((0.05, 0), (0.05, 0)),                  # same scale: identity for x >= 0
    ((2**-4, 127), (2**-5, 127)),            # ties: y/s_out with few bits
    ((0.1, -128), (0.02, -128)),             # all inputs >= 0 real
    ((0.1, 127), (2**-7, 127)),              # all inputs <= 0 real, output in [-1, 0]
    ((0.03, 10), (0.04, -20)),
    ((scales_near_pot(-3)[0], -5), (2**-3, 60)),
    ((1.0, 0), (2**-7, 0)),                  # saturation on both sides
]


def grid(full: bool) -> Iterator[Case]:
    for k, shape in enumerate(SHAPES):
        yield _float_case(shape, 10 + k)
    for k, (qi, qo) in enumerate(INT8_GRID if full else INT8_GRID[:5]):
        yield _int8_case(f"q{k}", SHAPES[k % 2], qi, qo, 100 + k)
    # TFLM bug reproducer: y / s_out beyond int32 (s_in / s_out = 2**25) gives -128
    yield _int8_case("int32-overflow", SHAPES[0], (1.0, 0), (2**-25, 0), 200)


def correct_elu_int8(case: Case) -> list[np.ndarray]:
    """TFLM's int8 ELU table with values beyond int32 saturated (what LiteRT does) instead
    of becoming INT32_MIN: the correct result for the KNOWN_BUGS entry."""
    from refimpl.kernels.elu import _expf_minus_one
    from refimpl.kernels.unary_math import lut_populate_int8_saturating

    (s_in, zp_in), (s_out, zp_out) = case.params["q_in"], case.params["q_out"]

    def transform(x: np.ndarray) -> np.ndarray:
        return np.where(x < 0, _expf_minus_one(x), x).astype(np.float32)

    lut = lut_populate_int8_saturating(s_in, zp_in, s_out, zp_out, transform)
    return [lut[case.inputs[0].astype(np.int64) + 128].astype(np.int8)]


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw) -> Case:
        qi, qo = draw(qparams("int8")), draw(qparams("int8"))
        shape = draw(st.sampled_from(SHAPES))
        seed = draw(st.integers(0, 2**31 - 1))
        return _int8_case(f"h{seed:x}", shape, qi, qo, seed)

    return {"int8": case()}
