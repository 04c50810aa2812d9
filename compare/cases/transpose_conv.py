"""TRANSPOSE_CONV: strides 1 and 2, SAME/VALID, with and without bias; int8 per-tensor
and per-channel (tie scales), 16x8 and float32; hybrid (float32 input, int8 weights:
LiteRT's ``HybridTransposeConv``, XNNPACK's qd8 deconvolution), with images built to hit
the quantizers' rounding ties (:mod:`._hybrid_common`)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
from ._hybrid_common import ACTS, hybrid_draw, hybrid_filter_and_bias, hybrid_input

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


def _hybrid_case(name, geom, act, scales, s_w, seed, first_kind=0, with_bias=True,
                 zero=False):
    xs, ws, stride, pad, os_ = geom
    rng = np.random.default_rng(seed)
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride,
            "fused_activation_function": act}
    w, b = hybrid_filter_and_bias(rng, ws, ws[0], s_w, scales)
    x, kinds = hybrid_input(rng, xs, int(np.prod(xs[1:])), True, first_kind, zero)
    shape_in = TensorArg((4,), "int32", data=np.array(os_, np.int32))
    model = one_op_model(OP, [shape_in, w, TensorArg(xs, "float32"), b if with_bias else None],
                         [TensorArg(os_, "float32")], opts)
    params = {"geom": geom, "activation": act, "filter_scales": scales, "s_w": s_w,
              "bias": with_bias, "images": kinds}
    return Case(OP, "hybrid", name, model, (x,), params)


#: hybrid geometries: the grid's, plus a batch of 3 images of 6x5x7 (210 floats: a
#: quantizer tail of 2) with stride 1 SAME
HYBRID_GEOMS = GEOMS + [((3, 6, 5, 7), (9, 3, 3, 7), 1, 0, (3, 6, 5, 9))]


def _hybrid_grid(full: bool) -> Iterator[Case]:
    k = 500
    for gi, g in enumerate(HYBRID_GEOMS):
        for scales in ("pt", "pc"):
            for wb in (True, False):
                for act in (ACTS if full else (ACTS[k % len(ACTS)],)):
                    k += 1
                    yield _hybrid_case(f"g{gi}-b{int(wb)}-a{act}-{scales}", g, act, scales,
                                       0.0113, k, first_kind=k, with_bias=wb)
    k += 1
    yield _hybrid_case("allzero-pc", HYBRID_GEOMS[0], 1, "pc", 0.0113, k, zero=True)


def grid(full: bool) -> Iterator[Case]:
    yield from _hybrid_grid(full)
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


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def hybrid_case(draw) -> Case:
        p = hybrid_draw(draw)
        g = draw(st.sampled_from(HYBRID_GEOMS))
        scales = "pc" if p["scales"] == "pc-equal" else p["scales"]
        return _hybrid_case(f"h{p['seed']:x}", g, p["act"], scales, p["s_w"], p["seed"],
                            first_kind=p["first_kind"], with_bias=draw(st.booleans()))
    return {"hybrid": hybrid_case()}
