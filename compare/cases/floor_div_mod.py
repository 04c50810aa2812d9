"""FLOOR_DIV and FLOOR_MOD: every sign combination, both ends of each integer type, float
remainders that are zero (``-0.``) or exact ties, broadcasting up to rank 5; float32,
int8, int16, int32, int64 (FLOOR_DIV int64 has no kernel anywhere: the row documents it).

Divisors never hold a 0 for FLOOR_DIV and integer FLOOR_MOD (every runtime fails the
invoke: tests/kernels/test_floor_div_mod.py checks refimpl's error). ``T_MIN`` against
``-1`` only appears in the cases named ``min-by-minus-one`` (the ``KNOWN_BUGS``
reproducers: FLOOR_DIV int8 / int16 saturate or wrap by position, FLOOR_MOD int32 / int64
die with SIGFPE); the other integer cases are built to avoid that pair.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model

OPS = ("FLOOR_DIV", "FLOOR_MOD")
INT_TYPES = ("int8", "int16", "int32", "int64")
#: (shape of a, shape of b): same shapes hitting the 8-wide vector loop and its tail,
#: a one-element divisor, per-channel, both sides broadcasting, rank 5
SHAPES = [((2, 3, 4), (2, 3, 4)), ((37,), (37,)), ((3, 7), (1,)), ((2, 3, 4), (1, 1, 4)),
          ((3, 1), (1, 5)), ((2, 1, 3, 1, 2), (1, 2, 1, 2, 1))]
FLOAT_SPECIALS = [0.0, -0.0, 7.0, -7.0, 6.0, -6.0, 0.5, -0.5, 1e-30, -1e-30, 3e38,
                  np.inf, -np.inf, np.nan]
DIVISOR_SPECIALS = [2.0, -2.0, 2.0, -2.0, 3.0, -3.0, 0.25, -0.25, 1e-30, 3.0, 1e-30,
                    np.inf, -np.inf, np.nan]


def version(op: str, dtype: str) -> int:
    """The version a converter writes (tflite/converter/tools/versioning/op_version.cc)."""
    if dtype in ("int8", "int16"):
        return 3 if op == "FLOOR_DIV" else 2
    return 2 if (op == "FLOOR_DIV" and dtype == "float32") else 1


def _ints(rng: np.random.Generator, s1, s2, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    info = np.iinfo(dtype)
    lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)  # int64: keep float64 exact
    a = rng.integers(lo, hi, size=s1, endpoint=True).astype(dtype)
    b = rng.integers(lo, hi, size=s2, endpoint=True).astype(dtype)
    small = rng.integers(-9, 10, size=s2).astype(dtype)
    b = np.where(rng.random(s2) < 0.6, small, b)  # mostly small divisors
    b = np.where(b == 0, np.array(1, dtype), b).astype(dtype)
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    planted_a = [info.min, info.max, -7, 7, -7, 7, 0, -1, info.min + 1, info.max]
    planted_b = [3, -1, 2, -2, -2, 2, -5, 4, -1, 1]
    flat_a[: min(len(planted_a), flat_a.size)] = planted_a[: flat_a.size]
    if b.size == a.size:
        flat_b[: min(len(planted_b), flat_b.size)] = planted_b[: flat_b.size]
    # no T_MIN / -1 pair outside the dedicated cases
    pair = (np.broadcast_to(a, np.broadcast_shapes(s1, s2)) == info.min) & (
        np.broadcast_to(b, np.broadcast_shapes(s1, s2)) == -1)
    if pair.any():
        a = np.where(a == info.min, np.array(info.min + 1, dtype), a).astype(dtype)
    return a, b


def _floats(rng: np.random.Generator, s1, s2, op: str) -> tuple[np.ndarray, np.ndarray]:
    a = rng.uniform(-50, 50, size=s1).astype(np.float32)
    a = np.where(rng.random(s1) < 0.3, np.round(a), a).astype(np.float32)  # exact multiples
    b = rng.uniform(-8, 8, size=s2).astype(np.float32)
    b = np.where(rng.random(s2) < 0.5, np.round(b * 2) / 2, b).astype(np.float32)
    b = np.where(b == 0, np.float32(0.5), b).astype(np.float32)
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    n = min(len(FLOAT_SPECIALS), flat_a.size)
    flat_a[:n] = FLOAT_SPECIALS[:n]
    if b.size == a.size:
        specials = list(DIVISOR_SPECIALS)
        if op == "FLOOR_MOD":
            specials[9] = 0.0  # float remainders by zero are NaN, not an error
        flat_b[:n] = specials[:n]
    return a, b


def _case(op: str, dtype: str, name: str, a: np.ndarray, b: np.ndarray) -> Case:
    so = tuple(np.broadcast_shapes(a.shape, b.shape))
    model = one_op_model(op, [TensorArg(a.shape, dtype), TensorArg(b.shape, dtype)],
                         [TensorArg(so, dtype)], version=version(op, dtype))
    return Case(op, dtype, name, model, (a, b), {"shapes": (a.shape, b.shape, so)})


def _min_by_minus_one(op: str, dtype: str) -> Iterator[Case]:
    """``T_MIN`` divided by -1 at every position of 13 elements (8 vectorised + a tail of
    5), in the same-shape loop and the broadcast loop."""
    lo = np.iinfo(dtype).min
    a = np.array([lo, lo, 5, lo, -9, lo, lo, lo, lo, lo, 4, lo, lo], dtype)
    b = np.array([-1, -1, -1, 2, -1, -1, 1, -1, -1, -1, -1, 3, -1], dtype)
    yield _case(op, dtype, "min-by-minus-one", a, b)
    yield _case(op, dtype, "min-by-minus-one-bcast", a.reshape(13, 1), np.array([-1], dtype))


def grid(full: bool) -> Iterator[Case]:
    shapes = SHAPES if full else SHAPES[:4]
    k = 0
    for op in OPS:
        for dtype in ("float32", *INT_TYPES):
            if op == "FLOOR_DIV" and dtype == "int64":
                k += 1
                a, b = _ints(np.random.default_rng(k), (2, 3), (2, 3), dtype)
                yield _case(op, dtype, "no-kernel", a, b)
                continue
            for si, (s1, s2) in enumerate(shapes):
                k += 1
                rng = np.random.default_rng(k)
                a, b = (_floats(rng, s1, s2, op) if dtype == "float32"
                        else _ints(rng, s1, s2, dtype))
                yield _case(op, dtype, f"s{si}", a, b)
            if dtype != "float32":
                yield from _min_by_minus_one(op, dtype)


def correct_floor_div(case: Case) -> list[np.ndarray]:
    """FLOOR_DIV as TensorFlow's integer kernel defines it: ``T_MIN / -1`` wraps to
    ``T_MIN`` at every position (two's complement)."""
    a, b = case.inputs
    q = np.floor_divide(a.astype(np.int64), b.astype(np.int64))
    info = np.iinfo(a.dtype)
    return [np.where(q > info.max, info.min, q).astype(a.dtype)]


def correct_floor_mod(case: Case) -> list[np.ndarray]:
    """FLOOR_MOD with Python's sign rule, computed in object integers: ``T_MIN % -1 = 0``."""
    a, b = case.inputs
    r = np.mod(a.astype(object), b.astype(object))
    return [np.asarray(r, dtype=np.int64).astype(a.dtype)]
