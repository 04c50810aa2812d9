"""DEPTHWISE_CONV_2D: depth multipliers 1-3, strides, dilations, SAME/VALID, fused
activations, per-tensor / per-channel int8, 16x8, float32, with tie scales."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
from ._padding_util import conv_out

OP = "DEPTHWISE_CONV_2D"
#: (input NHWC, kernel (kh, kw), depth multiplier, stride, dilation, padding)
GEOMETRIES = [
    ((2, 7, 7, 4), (3, 3), 1, 1, 1, 0),
    ((1, 8, 9, 3), (3, 3), 2, 2, 1, 1),
    ((1, 9, 9, 2), (3, 2), 3, 1, 2, 0),
    ((1, 5, 5, 16), (3, 3), 1, 1, 1, 0),
]


def _case(dtype, name, geom, act, q, seed, per_channel=False):
    (n, h, w, c), (kh, kw), dm, stride, dil, pad = geom
    rng = np.random.default_rng(seed)
    cout = c * dm
    fshape = (1, kh, kw, cout)
    out_shape = (n, conv_out(h, kh, stride, dil, pad), conv_out(w, kw, stride, dil, pad), cout)
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride, "depth_multiplier": dm,
            "dilation_w_factor": dil, "dilation_h_factor": dil, "fused_activation_function": act}
    params = {"geometry": geom, "activation": act, "q": q, "per_channel": per_channel}
    if dtype == "float32":
        wf = rng.uniform(-1, 1, fshape).astype(np.float32)
        bf = rng.uniform(-1, 1, cout).astype(np.float32)
        model = one_op_model(OP, [TensorArg((n, h, w, c), "float32"),
                                  TensorArg(fshape, "float32", data=wf),
                                  TensorArg((cout,), "float32", data=bf)],
                             [TensorArg(out_shape, "float32")], opts)
        return Case(OP, dtype, name, model, (float_inputs(rng, (n, h, w, c)),), params,
                    float_sum_tolerance(kh * kw, 4.0, 1.0, 1.0))
    _, s_in, zp_in, s_w, s_out, zp_out = q
    act_t = "int16" if dtype == "int16x8" else "int8"
    if act_t == "int16":
        zp_in = zp_out = 0
    wq, bq = quantized_filter_and_bias(rng, fshape, cout, s_in, s_w, per_channel,
                                       act_t == "int16", quantized_dimension=3)
    x = int_inputs(rng, (n, h, w, c), act_t, specials=[zp_in])
    model = one_op_model(OP, [TensorArg((n, h, w, c), act_t, scale=s_in, zero_point=zp_in), wq, bq],
                         [TensorArg(out_shape, act_t, scale=s_out, zero_point=zp_out)], opts)
    label = "int8-pc" if (per_channel and dtype == "int8") else dtype
    return Case(OP, label, name, model, (x,), params)


def grid(full: bool) -> Iterator[Case]:
    geoms = GEOMETRIES if full else GEOMETRIES[:3]
    k = 0
    for gi, g in enumerate(geoms):
        for act in ((0, 1, 3) if full else (0, 3)):
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
        seed = draw(st.integers(0, 2**31 - 1))
        return _case("int8", f"h{seed:x}", g, draw(st.sampled_from((0, 1, 3))),
                     ("h", s_in, zp_in, s_w, s_out, zp_out), seed, per_channel=draw(st.booleans()))
    return {"int8": case()}
