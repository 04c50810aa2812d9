"""CONV_2D: strides, dilations, SAME/VALID, groups, fused activations, batch 2, per-tensor
and per-channel int8, 16x8 (int64 bias), float32; scales that put accumulators on exact
rounding ties (see :mod:`._conv_common`)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
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
    return {"int8": case()}
