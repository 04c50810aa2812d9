"""HARD_SWISH: float32, int8, uint8 (uint8 has no TFLM kernel: invoke fails, so uint8
cases run on LiteRT only).

Float sizes that are not multiples of 4 or 16 exercise the vector body and the scalar
tail of LiteRT's optimized kernel (two evaluation orders). Quantized grids keep
``s_in / 128 < s_out`` (LiteRT requires the output multiplier's exponent <= 0) and put
the zero point at both ends; the strategies also draw invalid pairs (prepare errors
on every runtime -> "no kernel").
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams, \
    scales_near_pot

OP = "HARD_SWISH"
SHAPES = [(2, 3, 7), (4, 64), (1, 19)]
LITERT = ("litert-ref", "litert-builtin", "litert-xnnpack")


def _float_case(shape, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = float_inputs(rng, shape, -5.0, 5.0,
                     specials=[-3.0, 3.0, -0.0, 1e-40, np.nan, np.inf, -np.inf, 3e38, -1.5])
    model = one_op_model(OP, [TensorArg(shape, "float32")], [TensorArg(shape, "float32")])
    return Case(OP, "float32", f"s{'x'.join(map(str, shape))}", model, (x,), {"shape": shape})


def _quant_case(dtype: str, name: str, shape, qi, qo, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = int_inputs(rng, shape, dtype, specials=[qi[1], qi[1] - 1, qi[1] + 1])
    model = one_op_model(OP, [TensorArg(shape, dtype, scale=qi[0], zero_point=qi[1])],
                         [TensorArg(shape, dtype, scale=qo[0], zero_point=qo[1])])
    return Case(OP, dtype, name, model, (x,), {"shape": shape, "q_in": qi, "q_out": qo},
                runtimes=LITERT if dtype == "uint8" else None)


INT8_GRID = [
    ((0.05, 0), (0.05, 0)),
    ((2**-4, 127), (2**-5, -128)),
    ((0.1, -128), (0.07, -100)),
    ((0.03, 10), (0.02, -20)),
    ((scales_near_pot(-3)[0], -5), (2**-3, 60)),
    ((0.5, 0), (2**-8, 0)),                  # output multiplier exactly 2**-1 ... ties
    ((0.02, -128), (0.0625, 127)),           # zero point at the top
]
UINT8_GRID = [((0.05, 128), (0.05, 128)), ((2**-4, 255), (2**-5, 0)), ((0.1, 0), (0.07, 30))]


def grid(full: bool) -> Iterator[Case]:
    for k, shape in enumerate(SHAPES):
        yield _float_case(shape, 10 + k)
    for k, (qi, qo) in enumerate(INT8_GRID if full else INT8_GRID[:5]):
        yield _quant_case("int8", f"q{k}", SHAPES[k % 3], qi, qo, 100 + k)
    for k, (qi, qo) in enumerate(UINT8_GRID):
        yield _quant_case("uint8", f"q{k}", SHAPES[k % 3], qi, qo, 200 + k)
    # bug reproducers (all runtimes): output shift >= 16, gemmlowp's int16 rounding shift
    # returns +-1 instead of 0, so every output is zp_out + 1 or zp_out - 1
    yield _quant_case("int8", "tiny-multiplier", SHAPES[0], (2**-13, 0), (1.0, 0), 300)
    yield _quant_case("uint8", "tiny-multiplier", SHAPES[0], (2**-13, 128), (1.0, 128), 301)


def correct_hard_swish(case: Case) -> list[np.ndarray]:
    """The fixed-point pipeline with a correct rounding shift for shifts >= 16 (a plain
    RoundingDivideByPOT): the intended result, for the KNOWN_BUGS entries."""
    import refimpl
    from refimpl.arithmetic import rounding_divide_by_pot
    from refimpl.kernels.hard_swish import hard_swish_quantized

    interp = refimpl.Interpreter(model_content=case.model, flavor="tflite-ref")
    interp.allocate_tensors()
    return [hard_swish_quantized(case.inputs[0], interp.op_data(0), rounding_divide_by_pot)]


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            qi, qo = draw(qparams(dtype)), draw(qparams(dtype))
            shape = draw(st.sampled_from(SHAPES))
            seed = draw(st.integers(0, 2**31 - 1))
            return _quant_case(dtype, f"h{seed:x}", shape, qi, qo, seed)
        return case()

    return {"int8": draw("int8"), "uint8": draw("uint8")}
