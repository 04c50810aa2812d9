"""Data-movement ops (no arithmetic, exact index rules): SLICE, TRANSPOSE, SQUEEZE,
EXPAND_DIMS, SPLIT, SPLIT_V, UNPACK, GATHER (axis, batch_dims), SPACE_TO_DEPTH,
DEPTH_TO_SPACE, MIRROR_PAD (REFLECT, SYMMETRIC); negative axes, -1 sizes; float32,
int8, int16x8 and int32 tensors (quantized ones keep input parameters)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

OPS = ("SLICE", "TRANSPOSE", "SQUEEZE", "EXPAND_DIMS", "SPLIT", "SPLIT_V", "UNPACK", "GATHER",
       "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "MIRROR_PAD")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "int32": "int32"}
QP = {"int8": (0.05, -3), "int16x8": (0.002, 0)}


def _t(shape, dtype, data=None):
    q = QP.get(dtype)
    kw = {} if q is None else {"scale": q[0], "zero_point": q[1]}
    return TensorArg(tuple(shape), STORE[dtype], data=data, **kw)


def _i32(values):
    a = np.asarray(values, np.int32)
    return TensorArg(a.shape, "int32", data=a)


def _x(rng, shape, dtype):
    return float_inputs(rng, shape) if dtype == "float32" else int_inputs(rng, shape, STORE[dtype])


def _cases(dtype: str, k0: int) -> Iterator[Case]:
    k = k0
    rng = np.random.default_rng(k0)

    def case(op, name, shape, consts_before, consts_after, outs, options=None, params=None):
        x = _x(rng, shape, dtype)
        ins = [*consts_before, _t(shape, dtype), *consts_after]
        model = one_op_model(op, ins, [_t(o, dtype) for o in outs], options)
        return Case(op, dtype, name, model, (x,), params or {})

    yield case("SLICE", "box", (2, 5, 6, 3), [], [_i32([0, 1, 2, 0]), _i32([2, 3, -1, 2])],
               [(2, 3, 4, 2)])
    yield case("SLICE", "1d", (37,), [], [_i32([5]), _i32([20])], [(20,)])
    yield case("TRANSPOSE", "nhwc-nchw", (2, 3, 4, 5), [], [_i32([0, 3, 1, 2])], [(2, 5, 3, 4)])
    yield case("TRANSPOSE", "2d", (7, 9), [], [_i32([1, 0])], [(9, 7)])
    yield case("TRANSPOSE", "5d", (2, 3, 1, 4, 2), [], [_i32([4, 2, 0, 3, 1])], [(2, 1, 2, 4, 3)])
    yield case("SQUEEZE", "all", (1, 4, 1, 3), [], [], [(4, 3)], {"squeeze_dims": []})
    yield case("SQUEEZE", "neg", (1, 4, 1, 3), [], [], [(1, 4, 3)], {"squeeze_dims": [-2]})
    yield case("EXPAND_DIMS", "front", (4, 3), [], [_i32([0])], [(1, 4, 3)])
    yield case("EXPAND_DIMS", "neg", (4, 3), [], [_i32([-1])], [(4, 3, 1)])
    yield case("SPLIT", "3way", (2, 6, 4), [_i32([1])], [], [(2, 2, 4)] * 3, {"num_splits": 3})
    yield case("SPLIT", "neg-axis", (4, 8), [_i32([-1])], [], [(4, 4)] * 2, {"num_splits": 2})
    yield case("SPLIT_V", "sizes", (2, 7, 3), [], [_i32([2, -1, 1]), _i32([1])],
               [(2, 2, 3), (2, 4, 3), (2, 1, 3)], {"num_splits": 3})
    yield case("UNPACK", "axis0", (3, 4, 2), [], [], [(4, 2)] * 3, {"num": 3, "axis": 0})
    yield case("UNPACK", "neg", (3, 4, 2), [], [], [(3, 4)] * 2, {"num": 2, "axis": -1})
    yield case("SPACE_TO_DEPTH", "b2", (2, 4, 6, 3), [], [], [(2, 2, 3, 12)], {"block_size": 2})
    yield case("DEPTH_TO_SPACE", "b2", (2, 2, 3, 12), [], [], [(2, 4, 6, 3)], {"block_size": 2})
    yield case("DEPTH_TO_SPACE", "b3", (1, 2, 2, 18), [], [], [(1, 6, 6, 2)], {"block_size": 3})
    yield case("MIRROR_PAD", "reflect", (2, 4, 5, 3), [],
               [_i32([[0, 0], [1, 2], [3, 0], [0, 0]])], [(2, 7, 8, 3)], {"mode": 0})
    yield case("MIRROR_PAD", "symmetric", (3, 4), [], [_i32([[2, 3], [4, 1]])], [(8, 9)],
               {"mode": 1})
    # GATHER: indices are a graph input too (int32)
    for name, shape, idx_shape, axis, bd, n_idx in [
            ("axis0", (10, 3), (4,), 0, 0, 10), ("axis1", (2, 6, 3), (2, 5), 1, 0, 6),
            ("batch", (2, 6, 3), (2, 4), 1, 1, 6), ("neg", (4, 5), (3,), -1, 0, 5)]:
        k += 1
        x = _x(rng, shape, dtype)
        idx = rng.integers(0, n_idx, size=idx_shape).astype(np.int32)
        ax = axis % len(shape)
        out = tuple(shape[:ax]) + tuple(idx_shape[bd:]) + tuple(shape[ax + 1:])
        model = one_op_model("GATHER", [_t(shape, dtype), TensorArg(idx_shape, "int32")],
                             [_t(out, dtype)], {"axis": axis, "batch_dims": bd})
        yield Case("GATHER", dtype, name, model, (x, idx), {"axis": axis, "batch_dims": bd})


def grid(full: bool) -> Iterator[Case]:
    for i, dtype in enumerate(STORE):
        yield from _cases(dtype, 100 * i)
