"""Element-wise unary math: ABS, NEG, SQRT, RSQRT, EXP, LOG, FLOOR, CEIL, SQUARE, SIN, COS.

Every dtype LiteRT has a kernel for (float32; int8 and int16x8 quantized; int32 / int64
and raw int16 where the op takes plain integers). Inputs hit the zero point, both ends
of the range, exact ties of the requantization (ratios 1/2, 2, 1) and, for float, signed
zeros, infinities, NaN and the reduction boundaries of the libm algorithms.

TFLM fails some of these only at invoke time ("Type INT8 not supported"), which the
adapter reports as an error: such cases are restricted to the LiteRT runtimes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import QRANGE, Case, Tolerance, TensorArg, float_inputs, int_inputs, \
    one_op_model, qparams, scales_near_pot

OPS = ("ABS", "NEG", "SQRT", "RSQRT", "EXP", "LOG", "FLOOR", "CEIL", "SQUARE", "SIN", "COS")
LITERT = ("litert-ref", "litert-builtin", "litert-xnnpack")
ALL = LITERT + ("tflm",)

#: Quantized dtypes with a kernel, and the runtimes that run them (see the docstring).
QUANTIZED = {
    ("ABS", "int8"): ALL, ("ABS", "int16x8"): ALL,
    ("SQRT", "int8"): LITERT, ("SQRT", "int16x8"): LITERT,
    ("RSQRT", "int8"): ALL, ("RSQRT", "int16x8"): ALL,
    ("EXP", "int8"): ALL, ("EXP", "int16x8"): ALL,       # TFLM refuses in Prepare
    ("LOG", "int8"): LITERT, ("LOG", "int16x8"): LITERT,
}
#: Plain-integer dtypes (no quantization): op -> (dtype label, storage, runtimes).
PLAIN = {
    "ABS": [("int32", "int32", LITERT), ("int16x8", "int16", ALL)],
    "NEG": [("int32", "int32", LITERT), ("int64", "int64", LITERT),
            ("int8", "int8", LITERT), ("int16x8", "int16", LITERT)],
}
STORE = {"int8": "int8", "int16x8": "int16"}
SHAPES = [(2, 3, 7), (4, 64), (1, 1, 37)]

#: Measured XNNPACK float32 differences (its own vectorised approximations; LiteRT's
#: kernels call glibc, which refimpl reproduces bit for bit).
XNN_TOLERANCE = {
    "EXP": Tolerance("XNNPACK f32 exp: the wheel's results are not those of the rational-3-2 "
                     "kernel in the XNNPACK source refimpl follows (their error vs exp is "
                     "<= 0.82 ulp, the source kernel's 1.26: another approximation, not "
                     "identified); <= 2 ulps from refimpl measured on 65536 arguments in "
                     "[-104, 90]; overflow, underflow and NaN reproduced exactly", ulps=2),
    "SQRT": Tolerance("XNNPACK f32 sqrt on x86: rsqrt14 estimate + Newton-Raphson, not the "
                      "IEEE sqrt; <= 2 ulps measured on 65536 arguments", ulps=2),
    "RSQRT": Tolerance("XNNPACK f32 rsqrt on x86: rsqrt14 estimate + Newton-Raphson, not "
                       "1/sqrtf; <= 2 ulps measured on 65536 arguments", ulps=2),
}


def _float_values(op: str, rng: np.random.Generator, shape) -> np.ndarray:
    """Inputs in each op's interesting domain, with its special values planted."""
    specials = {
        "SQRT": [4.0, 2.0, 1e-30, -1.0, np.inf, -0.0, np.nan, 1.4e-45],
        "RSQRT": [4.0, 0.25, 1e-30, -1.0, np.inf, -0.0, np.nan, 1.4e-45],
        "LOG": [1.0, 2.0, 0.5, -1.0, np.inf, -0.0, np.nan, 1.4e-45, 3e38],
        "EXP": [88.7, -87.0, -104.0, 89.0, np.inf, -np.inf, np.nan, -0.0, 1e-8],
        "SIN": [np.pi, 1e5, -1e4, np.inf, np.nan, -0.0, 3e38, -1e-40, 120.0, 0.7853982],
        "COS": [np.pi, 1e5, -1e4, np.inf, np.nan, -0.0, 3e38, -1e-40, 120.0, 0.7853982],
    }.get(op, [0.5, -0.5, 1.5, -2.5, -0.0, np.inf, -np.inf, np.nan, 3e38, 1e-40, -1e-40])
    if op in ("SQRT", "RSQRT", "LOG"):
        x = float_inputs(rng, shape, 0.0, 50.0, specials=specials)
        x.reshape(-1)[len(specials) + 3::3] *= np.float32(1e-3)  # a few small values too
        return x
    lo, hi = {"EXP": (-20.0, 20.0), "SIN": (-12.0, 12.0), "COS": (-12.0, 12.0)}.get(
        op, (-6.0, 6.0))
    return float_inputs(rng, shape, lo, hi, specials=specials)


def _float_case(op: str, shape, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = _float_values(op, rng, shape)
    model = one_op_model(op, [TensorArg(shape, "float32")], [TensorArg(shape, "float32")])
    tol = {}
    if op in XNN_TOLERANCE:
        tol["litert-xnnpack"] = XNN_TOLERANCE[op]
    return Case(op, "float32", f"s{'x'.join(map(str, shape))}", model, (x,),
                {"shape": shape}, tolerance=tol)


def _quant_inputs(op: str, rng, shape, store: str, zp: int) -> np.ndarray:
    lo, hi = QRANGE[store]
    if op in ("SQRT", "RSQRT"):  # defined for q >= zp only (the invoke fails otherwise)
        x = rng.integers(zp, hi + 1, size=shape)
        flat = x.reshape(-1)
        planted = [zp, zp + 1, hi, min(zp + 2, hi), min(zp + 4, hi)]
        flat[:len(planted)] = np.clip(planted, zp, hi)
        return x.astype(store)
    return int_inputs(rng, shape, store, specials=[zp, zp + 1, zp - 1])


def _quant_case(op: str, dtype: str, name: str, shape, qi, qo, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    store = STORE[dtype]
    x = _quant_inputs(op, rng, shape, store, qi[1])
    model = one_op_model(op, [TensorArg(shape, store, scale=qi[0], zero_point=qi[1])],
                         [TensorArg(shape, store, scale=qo[0], zero_point=qo[1])])
    return Case(op, dtype, name, model, (x,), {"shape": shape, "q_in": qi, "q_out": qo},
                runtimes=QUANTIZED[(op, dtype)])


def _plain_case(op: str, dtype: str, store: str, runtimes, shape, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    info = np.iinfo(store)
    x = rng.integers(info.min, info.max, size=shape, dtype=np.int64, endpoint=True)
    flat = x.reshape(-1)
    planted = [info.min, info.max, 0, -1, 1, info.min + 1]
    flat[:len(planted)] = planted
    model = one_op_model(op, [TensorArg(shape, store)], [TensorArg(shape, store)])
    return Case(op, dtype, f"raw-s{'x'.join(map(str, shape))}", model, (x.astype(store),),
                {"shape": shape, "quantized": False}, runtimes=runtimes)


# (input (scale, zp), output (scale, zp)) per op; int16 zero points are 0.
def _qgrid(op: str, store: str) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    if store == "int16":
        common = [((0.001, 0), (0.001, 0)), ((2**-10, 0), (2**-9, 0)),
                  ((0.0003, 0), (0.0011, 0))]
        extra = {
            "ABS": [((2**-9, 0), (2**-10, 0)), ((scales_near_pot(-8)[0], 0), (2**-8, 0))],
            "EXP": [((2**-12, 0), (2**-11, 0)), ((0.0002, 0), (0.002, 0))],
            "LOG": [((0.01, 0), (2**-12, 0)), ((1.0, 0), (2**-11, 0))],
            "RSQRT": [((0.01, 0), (2**-12, 0)), ((1.0, 0), (2**-14, 0))],
            "SQRT": [((0.01, 0), (0.01, 0)), ((2**-14, 0), (2**-14, 0))],
        }[op]
        return common + extra
    common = [((0.05, -3), (0.05, -3)), ((0.5, 127), (1.0, 0)), ((0.1, -128), (0.05, 5))]
    extra = {
        "ABS": [((1.0, 0), (0.5, -128)), ((scales_near_pot(-4)[2], 10), (2**-4, -100)),
                ((0.02, 0), (0.07, -1))],
        "EXP": [((0.05, 0), (0.5, -128)), ((2**-4, 0), (2**-3, -128)), ((0.02, 30), (0.01, -128))],
        "LOG": [((0.1, -128), (2**-5, 20)), ((1.0, -128), (2**-5, -128)),
                ((0.004, -128), (0.05, 127))],
        "RSQRT": [((1.0, -128), (2**-7, -128)), ((0.004, -128), (0.1, -128)),
                  ((0.25, 0), (0.5, -128)), ((2**-10, -100), (0.25, -128))],
        "SQRT": [((0.25, -128), (0.125, -128)), ((0.004, -128), (2**-7, -128)),
                 ((1.0, 0), (0.1, -128))],
    }[op]
    if op in ("SQRT", "RSQRT"):  # keep most codes above the zero point
        common = [((s, min(zp, 0)), qo) for (s, zp), qo in common]
    return common + extra


def grid(full: bool) -> Iterator[Case]:
    shapes = SHAPES if full else SHAPES[:2]
    k = 0
    for op in OPS:
        for shape in shapes:
            k += 1
            yield _float_case(op, shape, 1000 + k)
        for (qop, dtype), _ in QUANTIZED.items():
            if qop != op:
                continue
            grid_q = _qgrid(op, STORE[dtype])
            for qn, (qi, qo) in enumerate(grid_q if full else grid_q[:4]):
                k += 1
                yield _quant_case(op, dtype, f"q{qn}", SHAPES[k % 2], qi, qo, 2000 + k)
        for dtype, store, runtimes in PLAIN.get(op, []):
            k += 1
            yield _plain_case(op, dtype, store, runtimes, SHAPES[k % 2], 3000 + k)
    # LiteRT bug reproducers: sqrt(x) / s_out beyond int32 (s_in / s_out = 2**30)
    yield _quant_case("SQRT", "int8", "int32-overflow", SHAPES[0], (1.0, 0), (2**-30, 7), 4001)
    yield _quant_case("SQRT", "int16x8", "int32-overflow", SHAPES[0], (1.0, 0), (2**-30, 0),
                      4002)


def correct_sqrt(case: Case) -> list[np.ndarray]:
    """What quantized SQRT should give: LiteRT's formula (truncation included) with the
    float -> int conversion saturating instead of becoming INT32_MIN (for KNOWN_BUGS)."""
    (s_in, zp_in), (s_out, zp_out) = case.params["q_in"], case.params["q_out"]
    q = case.inputs[0]
    x = (np.float32(s_in) * (q.astype(np.int64) - zp_in).astype(np.float32)).astype(np.float32)
    y = (np.sqrt(x) / np.float32(s_out)).astype(np.float32).astype(np.float64)
    info = np.iinfo(q.dtype)
    t = np.trunc(np.clip(y, -(2.0**31), 2.0**31 - 1)).astype(np.int64)
    return [np.clip(t + zp_out, info.min, info.max).astype(q.dtype)]


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str, store: str):
        @st.composite
        def case(draw) -> Case:
            op = draw(st.sampled_from([o for (o, d) in QUANTIZED if d == dtype]))
            qi, qo = draw(qparams(store)), draw(qparams(store))
            if op in ("SQRT", "RSQRT"):
                qi = (qi[0], min(qi[1], 0))
            shape = draw(st.sampled_from(SHAPES))
            seed = draw(st.integers(0, 2**31 - 1))
            return _quant_case(op, dtype, f"h{seed:x}", shape, qi, qo, seed)
        return case()

    return {"int8": draw("int8", "int8"), "int16x8": draw("int16x8", "int16")}
