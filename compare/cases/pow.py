"""POW: float32 through glibc's ``powf`` (same shapes, element-wise exponents) and through
``IntegerExponentPow`` (a one-element exponent near an integer >= 1 with a base of
another shape), int32 through ``pow(double)`` (overflow: INT32_MIN) and square-and-
multiply (overflow wraps). Special values: zeros, infinities, NaN, negative bases with
integer and non-integer exponents, results near overflow and in the subnormal range.
int8 / int16 / int64 have no kernel anywhere (one case each documents it); TFLM has no
POW. Negative int32 exponents fail the invoke (unit-tested, not swept).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model

OP = "POW"

#: one-element exponents for the broadcast path: near-integers take IntegerExponentPow
#: (2.000001 is taken as 2: the ``KNOWN_BUGS`` reproducer), the others std::pow
SCALAR_EXPONENTS = [("e2", 2.0), ("e3", 3.0), ("e7", 7.0), ("e1", 1.0), ("e0", 0.0),
                    ("e-2", -2.0), ("e0.5", 0.5), ("e2.000001", 2.000001),
                    ("e2.5", 2.5), ("e31", 31.0)]
FLOAT_X_SPECIALS = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, -2.0, 0.5, -0.5,
                    1e-40, 1e20, -1e20, 3.4e38, 1000.0]
FLOAT_Y_SPECIALS = [0.0, np.inf, np.nan, 0.5, -2.0, 3.0, -3.0, 1e10, -1e10, 127.5, -149.5,
                    2.0, 2.0, 3.0, 0.5, 2.000001]


def _model(dtype: str, s1, s2) -> bytes:
    so = tuple(np.broadcast_shapes(s1, s2))
    return one_op_model(OP, [TensorArg(s1, dtype), TensorArg(s2, dtype)], [TensorArg(so, dtype)])


def _float_pair(rng: np.random.Generator, s1, s2) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0, 10, size=s1).astype(np.float32)
    x = np.where(rng.random(s1) < 0.25, -x, x).astype(np.float32)  # negative bases
    y = rng.uniform(-8, 8, size=s2).astype(np.float32)
    y = np.where(rng.random(s2) < 0.4, np.round(y), y).astype(np.float32)  # integer exps
    fx, fy = x.reshape(-1), y.reshape(-1)
    n = min(len(FLOAT_X_SPECIALS), fx.size)
    fx[:n] = FLOAT_X_SPECIALS[:n]
    if y.size == x.size:
        fy[:n] = FLOAT_Y_SPECIALS[:n]
    return x, y


def _float_cases(full: bool) -> Iterator[Case]:
    k = 0
    shapes = [((2, 3, 8), (2, 3, 8)), ((37,), (37,)), ((4, 5, 6), (1, 1, 6)), ((3, 1), (1, 4))]
    for si, (s1, s2) in enumerate(shapes if full else shapes[:3]):
        k += 1
        x, y = _float_pair(np.random.default_rng(k), s1, s2)
        yield Case(OP, "float32", f"s{si}", _model("float32", s1, s2), (x, y),
                   {"shapes": (s1, s2)})
    # a grid of special values against special values (std::pow path, same shapes)
    sx = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 2.0, -2.0, 0.5, 1e-40,
                   -1e-40, 3.4e38, 0.999], np.float32)
    sy = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, 3.0, -3.0, 0.5,
                   1e10, 128.0, -150.0], np.float32)
    x, y = (np.ascontiguousarray(v) for v in np.broadcast_arrays(sx[:, None], sy[None, :]))
    yield Case(OP, "float32", "specials", _model("float32", x.shape, y.shape), (x, y), {})
    # wide dynamic range: results from subnormal to overflow
    rng = np.random.default_rng(99)
    x = np.exp(rng.uniform(-60, 60, (8, 64))).astype(np.float32)
    y = rng.uniform(-3, 3, (8, 64)).astype(np.float32)
    yield Case(OP, "float32", "wide", _model("float32", x.shape, y.shape), (x, y), {})
    # any float32 bit pattern as base, moderate exponents: every branch of powf
    x = rng.integers(0, 2**32, (16, 256), dtype=np.uint64).astype(np.uint32).view(np.float32)
    y = rng.uniform(-4, 4, (16, 256)).astype(np.float32)
    y = np.where(rng.random(y.shape) < 0.3, np.round(y), y).astype(np.float32)
    yield Case(OP, "float32", "random-bits", _model("float32", x.shape, y.shape), (x, y), {})
    # one-element exponent, base of another shape: IntegerExponentPow or std::pow
    for name, e in (SCALAR_EXPONENTS if full else SCALAR_EXPONENTS[:8]):
        k += 1
        rng = np.random.default_rng(k)
        x = rng.uniform(-4, 4, (3, 20)).astype(np.float32)
        x.reshape(-1)[:8] = [1000.0, -1000.0, 1e20, -1e20, 300.0, np.nan, np.inf, 1e-20]
        ev = np.array([e], np.float32)
        yield Case(OP, "float32", f"bcast-{name}", _model("float32", x.shape, (1,)), (x, ev),
                   {"exponent": e})


def _int_cases(full: bool) -> Iterator[Case]:
    rng = np.random.default_rng(7)
    x = rng.integers(-12, 13, (4, 25)).astype(np.int32)
    y = rng.integers(0, 12, (4, 25)).astype(np.int32)
    x.reshape(-1)[:10] = [2, -3, 0, 0, 7, -1, 46341, 3, 2, -2]
    y.reshape(-1)[:10] = [10, 3, 0, 5, 1, 7, 2, 20, 31, 31]  # last four leave int32
    yield Case(OP, "int32", "same-shape", _model("int32", x.shape, y.shape), (x, y), {})
    yb = rng.integers(0, 6, (1, 25)).astype(np.int32)
    yield Case(OP, "int32", "bcast-row", _model("int32", x.shape, yb.shape), (x, yb), {})
    for e in ((0, 1, 2, 5, 20, 31) if full else (0, 1, 5, 20)):
        ev = np.array([e], np.int32)
        yield Case(OP, "int32", f"bcast-e{e}", _model("int32", x.shape, (1,)), (x, ev),
                   {"exponent": e})


def grid(full: bool) -> Iterator[Case]:
    yield from _float_cases(full)
    yield from _int_cases(full)
    for dtype in ("int8", "int16", "int64"):  # no kernel on any runtime
        x = np.arange(6, dtype=dtype).reshape(2, 3)
        yield Case(OP, dtype, "no-kernel", _model(dtype, (2, 3), (2, 3)), (x, x % 3), {})


def correct_pow(case: Case) -> list[np.ndarray]:
    """float32 POW as ``std::pow`` (glibc ``powf``) element by element, whatever the
    shapes: what the same-shape path and TensorFlow compute."""
    from refimpl.kernels.pow import powf

    x, y = case.inputs
    return [powf(x, y)]
