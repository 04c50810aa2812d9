"""MAX_POOL_2D and AVERAGE_POOL_2D: window sizes, strides, SAME/VALID (partial windows at
the border: padding taps are not counted), fused activations; int8, int16x8, float32."""

from __future__ import annotations

from collections.abc import Iterator

from ._common import Case
from ._padding_util import conv_out
from ._conv_common import float_sum_tolerance
from ._simple import unary_case

OPS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")
#: (input NHWC, (fh, fw), stride, padding)
GEOMS = [((2, 7, 7, 3), (2, 2), 2, 0), ((1, 9, 8, 16), (3, 3), 2, 1), ((1, 5, 6, 4), (3, 2), 1, 0)]
Q = {"int8": (0.05, -7), "int16x8": (0.001, 0)}


def _pool(op, dtype, name, geom, act, seed):
    shape, (fh, fw), stride, pad = geom
    out = (shape[0], conv_out(shape[1], fh, stride, 1, pad), conv_out(shape[2], fw, stride, 1, pad),
           shape[3])
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride, "filter_width": fw,
            "filter_height": fh, "fused_activation_function": act}
    q = Q.get(dtype)
    tol = None
    if dtype == "float32" and op == "AVERAGE_POOL_2D":
        tol = {"litert-xnnpack": float_sum_tolerance(fh * fw, 8.0, 1.0, 0.0)["litert-xnnpack"]}
    return unary_case(op, dtype, name, shape, q, q, opts, seed, out_shape=out, low=-8.0,
                      high=8.0, tolerance=tol)


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for op in OPS:
        for gi, g in enumerate(GEOMS):
            for act in ((0, 1, 3) if full else (0, 3)):
                for dtype in ("float32", "int8", "int16x8"):
                    k += 1
                    yield _pool(op, dtype, f"g{gi}-a{act}", g, act, k)
