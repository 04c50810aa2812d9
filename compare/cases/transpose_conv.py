"""TRANSPOSE_CONV: strides 1 and 2, SAME/VALID, with and without bias; int8 per-tensor
and per-channel (tie scales), 16x8 and float32."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias

OP = "TRANSPOSE_CONV"
#: (input NHWC, weights OHWI, stride, padding 0 SAME / 1 VALID, output NHWC)
GEOMS = [((1, 4, 4, 3), (5, 3, 3, 3), 2, 0, (1, 8, 8, 5)),
         ((2, 3, 3, 2), (4, 2, 2, 2), 1, 1, (2, 4, 4, 4)),
         ((1, 5, 4, 4), (2, 3, 3, 4), 2, 1, (1, 11, 9, 2))]


def _case(dtype, name, geom, q, seed, pc=False, with_bias=True):
    xs, ws, stride, pad, os_ = geom
    rng = np.random.default_rng(seed)
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride}
    shape_in = TensorArg((4,), "int32", data=np.array(os_, np.int32))
    cout = ws[0]
    if dtype == "float32":
        w = TensorArg(ws, "float32", data=rng.uniform(-1, 1, ws).astype(np.float32))
        b = TensorArg((cout,), "float32", data=rng.uniform(-1, 1, cout).astype(np.float32)) if with_bias else None
        model = one_op_model(OP, [shape_in, w, TensorArg(xs, "float32"), b],
                             [TensorArg(os_, "float32")], opts)
        k = ws[1] * ws[2] * ws[3]
        return Case(OP, dtype, name, model, (float_inputs(rng, xs),), {"geom": geom},
                    float_sum_tolerance(k, 4.0, 1.0, 1.0))
    _, s_in, zp_in, s_w, s_out, zp_out = q
    st = "int16" if dtype == "int16x8" else "int8"
    if st == "int16":
        zp_in = zp_out = 0
    w, b = quantized_filter_and_bias(rng, ws, cout, s_in, s_w, pc, st == "int16",
                                     with_bias=with_bias)
    model = one_op_model(OP, [shape_in, w, TensorArg(xs, st, scale=s_in, zero_point=zp_in), b],
                         [TensorArg(os_, st, scale=s_out, zero_point=zp_out)], opts)
    label = "int8-pc" if (pc and dtype == "int8") else dtype
    return Case(OP, label, name, model, (int_inputs(rng, xs, st, specials=[zp_in]),), {"geom": geom, "q": q})


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for gi, g in enumerate(GEOMS):
        for wb in (True, False):
            k += 1
            yield _case("float32", f"g{gi}-b{int(wb)}", g, None, k, with_bias=wb)
            for q in TIE_SCALES[: (4 if full else 2)]:
                for pc in (False, True):
                    k += 1
                    yield _case("int8", f"g{gi}-b{int(wb)}-{q[0]}-{'pc' if pc else 'pt'}", g, q, k, pc, wb)
            k += 1
            yield _case("int16x8", f"g{gi}-b{int(wb)}", g, TIE_SCALES[2], k, True, wb)
