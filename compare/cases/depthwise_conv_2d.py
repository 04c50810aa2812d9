"""DEPTHWISE_CONV_2D: depth multipliers 1-3, strides, dilations, SAME/VALID, fused
activations, per-tensor / per-channel int8, 16x8, float32, with tie scales.

Hybrid (float32 input, int8 filter, float32 bias and output): per-channel scales (LiteRT
requires one per output channel; one per-tensor case checks that both sides refuse),
per-channel scales all equal, output depths 3, 4, 6 and 10 (LiteRT's optimized kernel
rescales four channels at a time in one order and the remaining ones in another),
depth multipliers 1-3, strides, dilation, SAME/VALID, every clamp activation; each
image is one quantizer row of a :data:`._hybrid_common.ROW_KINDS` kind."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
from ._hybrid_common import (ACTS as HYBRID_ACTS, hybrid_draw, hybrid_filter_and_bias,
                             hybrid_input)
from ._padding_util import conv_out

OP = "DEPTHWISE_CONV_2D"
#: (input NHWC, kernel (kh, kw), depth multiplier, stride, dilation, padding)
GEOMETRIES = [
    ((2, 7, 7, 4), (3, 3), 1, 1, 1, 0),
    ((1, 8, 9, 3), (3, 3), 2, 2, 1, 1),
    ((1, 9, 9, 2), (3, 2), 3, 1, 2, 0),
    ((1, 5, 5, 16), (3, 3), 1, 1, 1, 0),
]
#: hybrid, same layout; images of 196, 189, 162, 75 and 250 floats leave quantizer tails
#: of 4, 5, 2, 3 and 2 elements; output depths 4, 6, 6, 3, 10
HYBRID_GEOMETRIES = [
    ((2, 7, 7, 4), (3, 3), 1, 1, 1, 0),
    ((2, 9, 7, 3), (3, 3), 2, 2, 1, 1),
    ((1, 9, 9, 2), (3, 2), 3, 1, 2, 0),
    ((2, 5, 5, 3), (3, 3), 1, 1, 1, 0),
    ((3, 5, 5, 10), (3, 3), 1, 1, 1, 1),
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


def _hybrid_case(name, geom, act, scales, s_w, seed, first_kind=0, zero=False):
    """A hybrid DEPTHWISE_CONV_2D (LiteRT: always asymmetric input quantization)."""
    (n, h, w, c), (kh, kw), dm, stride, dil, pad = geom
    rng = np.random.default_rng(seed)
    cout = c * dm
    fshape = (1, kh, kw, cout)
    out_shape = (n, conv_out(h, kh, stride, dil, pad), conv_out(w, kw, stride, dil, pad), cout)
    opts = {"padding": pad, "stride_w": stride, "stride_h": stride, "depth_multiplier": dm,
            "dilation_w_factor": dil, "dilation_h_factor": dil, "fused_activation_function": act}
    wq, b = hybrid_filter_and_bias(rng, fshape, cout, s_w, scales, quantized_dimension=3)
    x, kinds = hybrid_input(rng, (n, h, w, c), h * w * c, True, first_kind, zero)
    model = one_op_model(OP, [TensorArg((n, h, w, c), "float32"), wq, b],
                         [TensorArg(out_shape, "float32")], opts)
    params = {"geometry": geom, "activation": act, "filter_scales": scales, "s_w": s_w,
              "images": kinds}
    return Case(OP, "hybrid", name, model, (x,), params)


def _hybrid_grid(full: bool) -> Iterator[Case]:
    k = 1000
    geoms = list(enumerate(HYBRID_GEOMETRIES))
    for gi, g in (geoms if full else geoms[:4]):
        for scales in (("pc", "pc-equal") if full else ("pc",)):
            for act in (HYBRID_ACTS if full else (HYBRID_ACTS[k % len(HYBRID_ACTS)],)):
                k += 1
                yield _hybrid_case(f"g{gi}-a{act}-{scales}", g, act, scales, 0.0113, k,
                                   first_kind=k)
    extra = [("allzero-a1-pc", 1, "pc", True),
             ("g0-a0-pt", 0, "pt", False)]  # LiteRT refuses one scale (needs C_out)
    if not full:
        extra.insert(0, ("g0-a0-pc-equal", 0, "pc-equal", False))
    for name, act, scales, zero in extra:
        k += 1
        yield _hybrid_case(name, HYBRID_GEOMETRIES[0], act, scales, 0.0113, k, first_kind=k,
                           zero=zero)


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
    yield from _hybrid_grid(full)


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

    @st.composite
    def hybrid_case(draw) -> Case:
        p = hybrid_draw(draw)
        g = draw(st.sampled_from(HYBRID_GEOMETRIES))
        scales = "pc" if p["scales"] == "pt" else p["scales"]  # LiteRT needs C_out scales
        return _hybrid_case(f"h{p['seed']:x}", g, p["act"], scales, p["s_w"], p["seed"],
                            first_kind=p["first_kind"])
    return {"int8": case(), "hybrid": hybrid_case()}
