"""FULLY_CONNECTED: batch 1 (the optimized GEMV path) and larger batches (ruy), depths
and unit counts around the GEMV thresholds, keep_num_dims, per-tensor / per-channel
int8, 16x8 with int64 bias (reference float path in every LiteRT resolver) and float32;
tie scales make REF's float requantization, (A), (D) and (F) disagree.

Hybrid (float32 input, int8 weights, float32 bias and output): asymmetric_quantize_inputs
on and off, per-tensor / per-channel / equal per-channel scales, every clamp activation,
batches of rows of every :data:`._hybrid_common.ROW_KINDS` kind (quantizer ties in the
vector body and the scalar tail: depths 13, 20, 37, 67 are not multiples of 8), and an
all-zero input (LiteRT returns the bias without multiplying)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams
from ._conv_common import TIE_SCALES, float_sum_tolerance, quantized_filter_and_bias
from ._hybrid_common import ACTS, hybrid_draw, hybrid_filter_and_bias, hybrid_input

OP = "FULLY_CONNECTED"
#: (input shape, units, keep_num_dims)
GEOMETRIES = [((1, 32), 8, False), ((6, 20), 5, False), ((2, 3, 16), 4, True), ((1, 7), 3, False)]
#: hybrid, same layout: the quantizer tails are 5, 4, 5, 0 and 3 elements; batch 9 holds
#: one row of every kind
HYBRID_GEOMETRIES = [((4, 13), 6, False), ((3, 2, 20), 5, True), ((6, 37), 8, False),
                     ((2, 16), 4, False), ((9, 67), 12, False)]


def _case(dtype, name, geom, act, q, seed, per_channel=False):
    in_shape, units, keep = geom
    depth = in_shape[-1]
    rng = np.random.default_rng(seed)
    out_shape = (*in_shape[:-1], units) if keep else (int(np.prod(in_shape[:-1])), units)
    opts = {"fused_activation_function": act, "keep_num_dims": keep}
    params = {"geometry": geom, "activation": act, "q": q, "per_channel": per_channel}
    if dtype == "float32":
        wf = rng.uniform(-1, 1, (units, depth)).astype(np.float32)
        bf = rng.uniform(-1, 1, units).astype(np.float32)
        model = one_op_model(OP, [TensorArg(in_shape, "float32"),
                                  TensorArg((units, depth), "float32", data=wf),
                                  TensorArg((units,), "float32", data=bf)],
                             [TensorArg(out_shape, "float32")], opts)
        return Case(OP, dtype, name, model, (float_inputs(rng, in_shape),), params,
                    float_sum_tolerance(depth, 4.0, 1.0, 1.0))
    _, s_in, zp_in, s_w, s_out, zp_out = q
    act_t = "int16" if dtype == "int16x8" else "int8"
    if act_t == "int16":
        zp_in = zp_out = 0
    wq, bq = quantized_filter_and_bias(rng, (units, depth), units, s_in, s_w, per_channel,
                                       act_t == "int16")
    x = int_inputs(rng, in_shape, act_t, specials=[zp_in])
    model = one_op_model(OP, [TensorArg(in_shape, act_t, scale=s_in, zero_point=zp_in), wq, bq],
                         [TensorArg(out_shape, act_t, scale=s_out, zero_point=zp_out)], opts)
    label = "int8-pc" if (per_channel and dtype == "int8") else dtype
    return Case(OP, label, name, model, (x,), params)


def _hybrid_case(name, geom, act, asymmetric, scales, s_w, seed, first_kind=0, zero=False):
    """A hybrid FULLY_CONNECTED: rows of designed kinds (or an all-zero input)."""
    in_shape, units, keep = geom
    depth = in_shape[-1]
    rng = np.random.default_rng(seed)
    out_shape = (*in_shape[:-1], units) if keep else (int(np.prod(in_shape[:-1])), units)
    w, b = hybrid_filter_and_bias(rng, (units, depth), units, s_w, scales)
    x, kinds = hybrid_input(rng, in_shape, depth, asymmetric, first_kind, zero)
    opts = {"fused_activation_function": act, "keep_num_dims": keep,
            "asymmetric_quantize_inputs": asymmetric}
    model = one_op_model(OP, [TensorArg(in_shape, "float32"), w, b],
                         [TensorArg(out_shape, "float32")], opts)
    params = {"geometry": geom, "activation": act, "asymmetric_quantize_inputs": asymmetric,
              "filter_scales": scales, "s_w": s_w, "rows": kinds}
    return Case(OP, "hybrid", name, model, (x,), params)


def _hybrid_grid(full: bool) -> Iterator[Case]:
    k = 1000
    for gi, g in enumerate(HYBRID_GEOMETRIES if full else HYBRID_GEOMETRIES[:3]):
        for asym in (True, False):
            for scales in (("pt", "pc", "pc-equal") if full else ("pt", "pc")):
                acts = ACTS if full and scales != "pc-equal" else (ACTS[k % len(ACTS)],)
                for act in acts:
                    k += 1
                    yield _hybrid_case(f"g{gi}-a{act}-{'asym' if asym else 'sym'}-{scales}",
                                       g, act, asym, scales, 0.0113, k, first_kind=k)
    for asym, act, scales in ((True, 1, "pc"), (False, 0, "pt")):
        k += 1
        yield _hybrid_case(f"allzero-a{act}-{'asym' if asym else 'sym'}-{scales}",
                           HYBRID_GEOMETRIES[0], act, asym, scales, 0.0113, k, zero=True)


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for gi, g in enumerate(GEOMETRIES if full else GEOMETRIES[:3]):
        for act in ((0, 1, 3) if full else (0, 1)):
            k += 1
            yield _case("float32", f"g{gi}-a{act}", g, act, None, k)
            for q in (TIE_SCALES if full else TIE_SCALES[:2]):
                for pc in (False, True):
                    k += 1
                    yield _case("int8", f"g{gi}-a{act}-{q[0]}-{'pc' if pc else 'pt'}", g, act,
                                q, k, per_channel=pc)
            for q in TIE_SCALES[:3]:
                k += 1
                yield _case("int16x8", f"g{gi}-a{act}-{q[0]}", g, act, q, k, per_channel=True)
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
        asym = draw(st.booleans())
        return _hybrid_case(f"h{p['seed']:x}", g, p["act"], asym, p["scales"], p["s_w"],
                            p["seed"], first_kind=p["first_kind"])
    return {"int8": case(), "hybrid": hybrid_case()}
