"""BATCH_MATMUL: ranks 2 to 5, broadcast batch dimensions on either side, every adj_x /
adj_y combination, float32, int8 (int8 and int32 outputs), int16 (int16 and int8 RHS);
scales whose ratio sits near powers of two, zero points at both ends; RHS zero point 0
(XNNPACK's condition) in some int8 cases.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OP = "BATCH_MATMUL"
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")

# (x shape, y shape) before adjoints are applied: (batch..., M, K) and (batch..., K, N)
SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 7), (2, 7, 4)),
    ((2, 3, 7), (7, 4)),                 # y broadcast over the batch
    ((1, 5, 6), (3, 6, 2)),              # x broadcast
    ((2, 1, 3, 8), (1, 3, 8, 5)),        # both broadcast
    ((2, 1, 1, 4, 9), (1, 2, 3, 9, 3)),  # rank 5
    ((4, 6, 33), (1, 33, 7)),            # longer depth; y batch 1 (LiteRT folds x rows)
]
ADJ = [(False, False), (True, False), (False, True), (True, True)]


def _adjust(shape, adj):
    return tuple(shape[:-2]) + (shape[-1], shape[-2]) if adj else tuple(shape)


def _out_shape(xs, ys):
    rank = max(len(xs), len(ys))
    xe = (1,) * (rank - len(xs)) + tuple(xs)
    ye = (1,) * (rank - len(ys)) + tuple(ys)
    return tuple(max(a, b) for a, b in zip(xe[:-2], ye[:-2])) + (xe[-2], ye[-1])


def _case(dtype: str, name: str, spec, adj, qx, qy, qo, seed: int, out_type: str = "") -> Case:
    rng = np.random.default_rng(seed)
    xs, ys = spec
    sx, sy = _adjust(xs, adj[0]), _adjust(ys, adj[1])
    store_x, store_y = {"float32": ("float32", "float32"), "int8": ("int8", "int8"),
                        "int16x8": ("int16", "int16"), "int16x8-w8": ("int16", "int8")}[dtype]
    store_o = out_type or store_x
    label = "int16x8" if dtype.startswith("int16") else dtype
    if dtype == "float32":
        x, y = float_inputs(rng, sx, -2.0, 2.0), float_inputs(rng, sy, -2.0, 2.0)
        args = [TensorArg(sx, "float32"), TensorArg(sy, "float32")]
        out = TensorArg(_out_shape(xs, ys), "float32")
    else:
        x = int_inputs(rng, sx, store_x, specials=[qx[1]])
        y = int_inputs(rng, sy, store_y, specials=[qy[1]])
        args = [TensorArg(sx, store_x, scale=qx[0], zero_point=qx[1]),
                TensorArg(sy, store_y, scale=qy[0], zero_point=qy[1])]
        out = (TensorArg(_out_shape(xs, ys), "int32") if store_o == "int32" else
               TensorArg(_out_shape(xs, ys), store_o, scale=qo[0], zero_point=qo[1]))
    model = one_op_model(OP, args, [out], {"adj_x": adj[0], "adj_y": adj[1],
                                           "asymmetric_quantize_inputs": False})
    tflm_ok = dtype in ("float32", "int8", "int16x8") and store_o != "int32"
    return Case(OP, label, name, model, (x, y),
                {"x": sx, "y": sy, "adj": adj, "qx": qx, "qy": qy, "q_out": qo,
                 "out_type": store_o},
                runtimes=None if tflm_ok else ALL_RUNTIMES[:3])


def _const_case(dtype: str, name: str, xs, ys, qx, qy, qo, seed: int) -> Case:
    """The RHS as a constant tensor (a graph with one input)."""
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        x, w = float_inputs(rng, xs, -2.0, 2.0), float_inputs(rng, ys, -2.0, 2.0)
        args = [TensorArg(xs, "float32"), TensorArg(ys, "float32", data=w)]
        out = TensorArg(_out_shape(xs, ys), "float32")
    else:
        x, w = int_inputs(rng, xs, "int8"), int_inputs(rng, ys, "int8")
        args = [TensorArg(xs, "int8", scale=qx[0], zero_point=qx[1]),
                TensorArg(ys, "int8", data=w, scale=qy[0], zero_point=qy[1])]
        out = TensorArg(_out_shape(xs, ys), "int8", scale=qo[0], zero_point=qo[1])
    model = one_op_model(OP, args, [out], {"adj_x": False, "adj_y": False,
                                           "asymmetric_quantize_inputs": False})
    return Case(OP, dtype, name, model, (x,), {"x": xs, "y (constant)": ys, "qx": qx, "qy": qy,
                                               "q_out": qo})


def grid(full: bool) -> Iterator[Case]:
    shapes = SHAPES if full else [SHAPES[i] for i in (1, 4, 6)]
    int8_q = [((0.05, -3), (0.02, 4), (0.07, -1)),
              ((0.5, 127), (0.25, 0), (16.0, -128)),         # ratio 2**-7: ties; y zp 0
              ((0.1, -128), (0.003, 0), (0.0009765625, 10))]
    int16_q = [((0.001, 0), (0.0003, 0), (0.0011, 0)), ((2**-10, 0), (2**-12, 0), (2**-9, 0))]
    k = 0
    for si, spec in enumerate(shapes):
        for ai, adj in enumerate(ADJ):
            k += 1
            if not full and ai not in ((0, 3) if si % 2 == 0 else (1, 2)):
                continue
            yield _case("float32", f"s{si}-a{ai}", spec, adj, None, None, None, k)
            for qi, (qx, qy, qo) in enumerate(int8_q if full else int8_q[ai % 3:ai % 3 + 1]):
                yield _case("int8", f"s{si}-a{ai}-q{qi}", spec, adj, qx, qy, qo, 100 + k * 7 + qi)
            if ai in (0, 3) or full or si % 2:
                yield _case("int8", f"s{si}-a{ai}-i32", spec, adj, int8_q[0][0], int8_q[0][1],
                            None, 300 + k, out_type="int32")
                qx, qy, qo = int16_q[ai % 2]
                yield _case("int16x8", f"s{si}-a{ai}", spec, adj, qx, qy, qo, 400 + k)
                yield _case("int16x8-w8", f"s{si}-a{ai}-w8", spec, adj, qx, (0.01, 0), qo,
                            500 + k)


    # constant RHS (weights packed once by XNNPACK), long depth
    yield _const_case("float32", "const-rhs-k200", (2, 3, 200), (200, 5), None, None, None, 991)
    yield _const_case("int8", "const-rhs", (2, 3, 9), (9, 4), (0.05, 3), (0.02, 0), (0.07, -1),
                      992)
    # XNNPACK refuses a requantization scale above 255 (16 * 16 / 0.5 = 512)
    yield _case("int8", "ratio-512", SHAPES[1], ADJ[0], (16.0, 3), (16.0, 0), (0.5, 0), 993)
    # s_x * s_y / s_out = 2 * 4 / 2**-13 = 65536: shift 17, outside variant C's range
    yield _case("int16x8", "multiplier-2e16", SHAPES[1], ADJ[0], (2.0, 0), (4.0, 0),
                (2.0**-13, 0), 999)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def int8_case(draw) -> Case:
        qx, qo = draw(qparams("int8")), draw(qparams("int8"))
        qy = draw(st.one_of(qparams("int8"), qparams("int8").map(lambda q: (q[0], 0))))
        spec = draw(st.sampled_from(SHAPES))
        adj = draw(st.sampled_from(ADJ))
        seed = draw(st.integers(0, 2**31 - 1))
        return _case("int8", f"h{seed:x}", spec, adj, qx, qy, qo, seed)

    @st.composite
    def int16_case(draw) -> Case:
        qx, qy, qo = (draw(qparams("int16")) for _ in range(3))
        spec = draw(st.sampled_from(SHAPES))
        adj = draw(st.sampled_from(ADJ))
        seed = draw(st.integers(0, 2**31 - 1))
        return _case("int16x8", f"h{seed:x}", spec, adj, qx, qy, qo, seed)

    @st.composite
    def float_case(draw) -> Case:
        m, k, n = draw(st.integers(1, 9)), draw(st.integers(1, 80)), draw(st.integers(1, 9))
        batch = draw(st.sampled_from([((), ()), ((2,), ()), ((1, 3), (2, 1)), ((2,), (2,))]))
        adj = draw(st.sampled_from(ADJ))
        seed = draw(st.integers(0, 2**31 - 1))
        spec = (batch[0] + (m, k), batch[1] + (k, n))
        return _case("float32", f"h{seed:x}", spec, adj, None, None, None, seed)

    return {"int8": int8_case(), "int16x8": int16_case(), "float32": float_case()}
