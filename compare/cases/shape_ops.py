"""SHAPE, STRIDED_SLICE and PACK (the int32 shape arithmetic of Keras ``Flatten``, and
data slicing): begin/end/ellipsis/new-axis/shrink masks, negative strides; PACK along
several axes; float32, int8, int32."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model

OPS = ("SHAPE", "STRIDED_SLICE", "PACK")


def _x(rng, shape, dt):
    return float_inputs(rng, shape) if dt == "float32" else int_inputs(rng, shape, dt)


def _t(shape, dt):
    return TensorArg(shape, dt, scale=0.05, zero_point=2) if dt == "int8" else TensorArg(shape, dt)


def grid(full: bool) -> Iterator[Case]:
    rng = np.random.default_rng(7)
    for dt in ("float32", "int8", "int32"):
        m = one_op_model("SHAPE", [_t((2, 3, 5), dt)], [TensorArg((3,), "int32")],
                         {"out_type": 2})
        yield Case("SHAPE", dt, "3d", m, (_x(rng, (2, 3, 5), dt),), {})
        for name, shape, b, e, s, masks, out in [
                ("basic", (4, 6), [1, 0], [3, 6], [1, 2], {}, (2, 3)),
                ("neg-stride", (4, 6), [3, 5], [0, 0], [-1, -2], {"end_mask": 2}, (3, 3)),
                ("shrink", (4, 6), [2, 1], [3, 5], [1, 1], {"shrink_axis_mask": 1}, (4,)),
                ("begin-end-mask", (3, 4, 5), [1, 1, 1], [2, 3, 4], [1, 1, 1],
                 {"begin_mask": 1, "end_mask": 4}, (2, 2, 4)),
                ("ellipsis", (2, 3, 4), [0, 1], [0, 3], [1, 1], {"ellipsis_mask": 1}, (2, 3, 2)),
                ("new-axis", (3, 4), [0, 0, 1], [0, 3, 3], [1, 1, 1], {"new_axis_mask": 1},
                 (1, 3, 2))]:
            ins = [_t(shape, dt)] + [TensorArg((len(v),), "int32", data=np.array(v, np.int32))
                                     for v in (b, e, s)]
            m = one_op_model("STRIDED_SLICE", ins, [_t(out, dt)], masks)
            yield Case("STRIDED_SLICE", dt, name, m, (_x(rng, shape, dt),), {"masks": masks})
        for axis, out in ((0, (3, 2, 4)), (1, (2, 3, 4)), (-1, (2, 4, 3))):
            m = one_op_model("PACK", [_t((2, 4), dt)] * 3, [_t(out, dt)],
                             {"values_count": 3, "axis": axis})
            yield Case("PACK", dt, f"axis{axis}", m, tuple(_x(rng, (2, 4), dt) for _ in range(3)), {})
