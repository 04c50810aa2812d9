"""CONV_2D: strides, dilations, SAME/VALID, groups, fused activations, batch 2, per-tensor
and per-channel int8, 16x8 (int64 bias), float32; scales that put accumulators on exact
rounding ties (see :mod:`._conv_common`).

Hybrid (float32 input, int8 filter, float32 bias and output): one filter scale (LiteRT's
symmetric ``HybridConv``), per-channel scales (asymmetric ``HybridConvPerChannel``),
per-channel scales all equal (LiteRT takes the per-tensor path), groups (always the
per-channel path, reference kernel), a 1x1 stride-1 filter (no im2col), strides,
dilation, SAME/VALID, every clamp activation; each image is one quantizer row of a
:data:`._hybrid_common.ROW_KINDS` kind (ties in the vector body and the scalar tail)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
from ._hybrid_common import (ACTS as HYBRID_ACTS, hybrid_draw, hybrid_filter_and_bias,
                             hybrid_input)
from ._padding_util import conv_out

OP = "CONV_2D"
#: (input NHWC, filter OHWI, stride, dilation, padding 0=SAME 1=VALID)
GEOMETRIES = [
    ((2, 7, 7, 3), (4, 3, 3, 3), 1, 1, 0),
    ((1, 9, 8, 2), (3, 3, 2, 2), 2, 1, 1),
    ((1, 10, 10, 4), (5, 3, 3, 4), 1, 2, 0),
    ((1, 6, 6, 4), (6, 1, 1, 2), 1, 1, 1),   # 2 groups (filter depth 2 of 4 channels)
]
ACTS = (0, 1, 3)
#: hybrid, same layout; images of 147, 126, 270, 100, 125 and 128 floats leave quantizer
#: tails of 3, 6, 6, 4, 5 and 0 elements
HYBRID_GEOMETRIES = [
    ((2, 7, 7, 3), (4, 3, 3, 3), 1, 1, 0),
    ((3, 9, 7, 2), (3, 3, 2, 2), 2, 1, 1),
    ((1, 10, 9, 3), (5, 3, 3, 3), 1, 2, 0),
    ((2, 5, 5, 4), (6, 1, 1, 2), 1, 1, 1),   # 2 groups: per-channel scales only
    ((2, 5, 5, 5), (4, 1, 1, 5), 1, 1, 1),   # 1x1, stride 1: the GEMM reads the input
    ((2, 8, 8, 2), (8, 3, 3, 2), 2, 1, 0),
]


def _case(dtype, name, geom, act, q, seed, per_channel=False):
    (n, h, w, c), fshape, stride, dil, pad = geom
    rng = np.random.default_rng(seed)
    oh, ow = conv_out(h, fshape[1], stride, dil, pad), conv_out(w, fshape[2], stride, dil, pad)
    out_shape = (n, oh, ow, fshape[0])
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride, "dilation_w_factor": dil,
            "dilation_h_factor": dil, "fused_activation_function": act}
    params = {"geometry": geom, "activation": act, "q": q, "per_channel": per_channel}
    if dtype == "float32":
        wf = rng.uniform(-1, 1, fshape).astype(np.float32)
        bf = rng.uniform(-1, 1, fshape[0]).astype(np.float32)
        model = one_op_model(OP, [TensorArg((n, h, w, c), "float32"),
                                  TensorArg(fshape, "float32", data=wf),
                                  TensorArg((fshape[0],), "float32", data=bf)],
                             [TensorArg(out_shape, "float32")], opts)
        tol = float_sum_tolerance(fshape[1] * fshape[2] * fshape[3], 4.0, 1.0, 1.0)
        return Case(OP, dtype, name, model, (float_inputs(rng, (n, h, w, c)),), params, tol)
    _, s_in, zp_in, s_w, s_out, zp_out = q
    act_t = "int16" if dtype == "int16x8" else "int8"
    if act_t == "int16":
        zp_in = zp_out = 0
    wq, bq = quantized_filter_and_bias(rng, fshape, fshape[0], s_in, s_w, per_channel,
                                       act_t == "int16")
    x = int_inputs(rng, (n, h, w, c), act_t, specials=[zp_in])
    model = one_op_model(OP, [TensorArg((n, h, w, c), act_t, scale=s_in, zero_point=zp_in), wq, bq],
                         [TensorArg(out_shape, act_t, scale=s_out, zero_point=zp_out)], opts)
    label = "int8-pc" if (per_channel and dtype == "int8") else dtype
    return Case(OP, label, name, model, (x,), params)


def _hybrid_case(name, geom, act, scales, s_w, seed, first_kind=0, zero=False):
    """A hybrid CONV_2D; the per-channel path (asymmetric inputs) when the scales differ
    or the convolution is grouped, else the symmetric one."""
    (n, h, w, c), fshape, stride, dil, pad = geom
    rng = np.random.default_rng(seed)
    oh, ow = conv_out(h, fshape[1], stride, dil, pad), conv_out(w, fshape[2], stride, dil, pad)
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride, "dilation_w_factor": dil,
            "dilation_h_factor": dil, "fused_activation_function": act}
    wq, b = hybrid_filter_and_bias(rng, fshape, fshape[0], s_w, scales)
    asymmetric = scales == "pc" or c != fshape[3]
    x, kinds = hybrid_input(rng, (n, h, w, c), h * w * c, asymmetric, first_kind, zero)
    model = one_op_model(OP, [TensorArg((n, h, w, c), "float32"), wq, b],
                         [TensorArg((n, oh, ow, fshape[0]), "float32")], opts)
    params = {"geometry": geom, "activation": act, "filter_scales": scales, "s_w": s_w,
              "images": kinds}
    return Case(OP, "hybrid", name, model, (x,), params)


def _hybrid_grid(full: bool) -> Iterator[Case]:
    k = 1000
    geoms = list(enumerate(HYBRID_GEOMETRIES))
    for gi, g in (geoms if full else [geoms[i] for i in (0, 1, 3, 4)]):
        grouped = g[0][3] != g[1][3]
        kinds = ("pt", "pc", "pc-equal") if full else ("pt", "pc")
        for scales in (("pc", "pc-equal") if grouped else kinds):
            for act in (HYBRID_ACTS if full else (HYBRID_ACTS[k % len(HYBRID_ACTS)],)):
                k += 1
                yield _hybrid_case(f"g{gi}-a{act}-{scales}", g, act, scales, 0.0113, k,
                                   first_kind=k)
    if not full:
        k += 1
        yield _hybrid_case("g0-a0-pc-equal", HYBRID_GEOMETRIES[0], 0, "pc-equal", 0.0113, k,
                           first_kind=k)
    for act, scales in ((1, "pc"), (0, "pt")):
        k += 1
        yield _hybrid_case(f"allzero-a{act}-{scales}", HYBRID_GEOMETRIES[0], act, scales,
                           0.0113, k, zero=True)


def grid(full: bool) -> Iterator[Case]:
    geoms = GEOMETRIES if full else GEOMETRIES[:2] + GEOMETRIES[3:]
    k = 0
    for gi, g in enumerate(geoms):
        for act in (ACTS if full else (0, 1)):
            k += 1
            yield _case("float32", f"g{gi}-a{act}", g, act, None, k)
            for q in (TIE_SCALES if full else TIE_SCALES[:2]):
                for pc in (False, True):
                    k += 1
                    yield _case("int8", f"g{gi}-a{act}-{q[0]}-{'pc' if pc else 'pt'}", g, act,
                                q, k, per_channel=pc)
            k += 1
            yield _case("int16x8", f"g{gi}-a{act}", g, act, TIE_SCALES[2], k, per_channel=True)
    yield from _hybrid_grid(full)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def case(draw) -> Case:
        s_in, zp_in = draw(qparams("int8"))
        s_out, zp_out = draw(qparams("int8"))
        s_w = draw(st.sampled_from([2.0**-7, 0.003, 0.011, 0.25]))
        g = draw(st.sampled_from(GEOMETRIES))
        act = draw(st.sampled_from(ACTS))
        pc = draw(st.booleans())
        seed = draw(st.integers(0, 2**31 - 1))
        return _case("int8", f"h{seed:x}", g, act, ("h", s_in, zp_in, s_w, s_out, zp_out),
                     seed, per_channel=pc)

    @st.composite
    def hybrid_case(draw) -> Case:
        p = hybrid_draw(draw)
        g = draw(st.sampled_from(HYBRID_GEOMETRIES))
        scales = "pc" if p["scales"] == "pt" and g[0][3] != g[1][3] else p["scales"]
        return _hybrid_case(f"h{p['seed']:x}", g, p["act"], scales, p["s_w"], p["seed"],
                            first_kind=p["first_kind"])
    return {"int8": case(), "hybrid": hybrid_case()}
