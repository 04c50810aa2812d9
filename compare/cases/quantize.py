"""QUANTIZE: float32 -> int8 / uint8 / int16 (per tensor and per channel) and integer
requantization, with exact rounding ties (scale 1/16: x = (k + 1/2) / 16 separates
round-half-away from round-half-to-even) and lengths that leave a scalar tail after the
optimized kernels' 8- and 16-element vector steps.

Coverage dtype = the output's storage type (``int16x8`` for int16).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import QRANGE, Case, TensorArg, int_inputs, one_op_model, qparams

OP = "QUANTIZE"
LABEL = {"int8": "int8", "uint8": "uint8", "int16": "int16x8", "int32": "int32"}
SHAPES = [(2, 24), (3, 37), (1, 5), (4, 4, 33)]


def _ties(rng: np.random.Generator, shape, scale: float, zp: int, dtype: str) -> np.ndarray:
    """Float inputs that land exactly on .5 after division by ``scale`` (plus extremes)."""
    lo, hi = QRANGE[dtype]
    k = rng.integers(lo - zp - 3, hi - zp + 3, size=shape)
    x = ((k + 0.5) * np.float64(scale)).astype(np.float32)
    flat = x.reshape(-1)
    flat[: min(4, flat.size)] = np.float32([0.0, -0.5 * scale, 0.5 * scale, 1.5 * scale])[: min(4, flat.size)]
    return x


def float_case(out: str, name: str, shape, scale: float, zp: int, seed: int,
               per_channel: bool = False) -> Case:
    rng = np.random.default_rng(seed)
    if per_channel:
        c = shape[-1]
        scales = [scale * (1 + k / 7) for k in range(c)]
        zps = [zp] * c
        o = TensorArg(shape, out, scale=scales, zero_point=zps, quantized_dimension=len(shape) - 1)
    else:
        o = TensorArg(shape, out, scale=scale, zero_point=zp)
    x = _ties(rng, shape, scale, zp, out)
    model = one_op_model(OP, [TensorArg(shape, "float32")], [o])
    return Case(OP, LABEL[out], f"f32-{name}", model, (x,),
                {"shape": shape, "out": out, "scale": scale, "zp": zp, "per_channel": per_channel})


def requant_case(src: str, dst: str, name: str, shape, qi, qo, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = int_inputs(rng, shape, src, specials=[qi[1], qi[1] + 1, qi[1] - 1])
    model = one_op_model(OP, [TensorArg(shape, src, scale=qi[0], zero_point=qi[1])],
                         [TensorArg(shape, dst, scale=qo[0], zero_point=qo[1])])
    return Case(OP, LABEL[dst], f"{src}-{name}", model, (x,),
                {"shape": shape, "in": src, "out": dst, "q_in": qi, "q_out": qo})


def grid(full: bool) -> Iterator[Case]:
    shapes = SHAPES if full else SHAPES[:2]
    k = 0
    for si, shp in enumerate(shapes):
        for out, zp in (("int8", -3), ("uint8", 128), ("int16", 0), ("int8", 127)):
            k += 1
            yield float_case(out, f"s{si}-zp{zp}-{out}", shp, 1 / 16, zp, k)
        k += 1
        yield float_case("int8", f"s{si}-pc", shp, 1 / 16, 5, k, per_channel=True)
        # requantize: ratio exactly 1/2 (ties on odd inputs), 1 (identity / XOR), 3.3
        for src, dst, qi, qo in [
            ("int8", "int8", (0.5, 3), (1.0, -2)),
            ("int8", "int8", (0.25, 0), (0.0826, 7)),
            ("int8", "uint8", (0.1, -128), (0.1, 0)),
            ("uint8", "int8", (0.1, 128), (0.1, 0)),
            ("uint8", "uint8", (0.5, 130), (1.0, 120)),
            ("int8", "int8", (1.0, 0), (0.001, 0)),       # ratio 1000: beyond XNNPACK's 128
            ("int16", "int16", (0.5, 0), (1.0, 0)),
            ("int16", "int8", (0.001, 0), (0.05, -1)),
            ("int8", "int16", (0.05, 4), (0.001, 0)),
        ]:
            k += 1
            yield requant_case(src, dst, f"s{si}-{dst}-{k}", shp, qi, qo, 100 + k)


def strategies() -> dict:
    from hypothesis import strategies as st

    @st.composite
    def requant(draw) -> Case:
        qi, qo = draw(qparams("int8")), draw(qparams("int8"))
        shp = draw(st.sampled_from(SHAPES))
        seed = draw(st.integers(0, 2**31 - 1))
        return requant_case("int8", "int8", f"h{seed:x}", shp, qi, qo, seed)

    @st.composite
    def from_float(draw) -> Case:
        scale, zp = draw(qparams("int8"))
        shp = draw(st.sampled_from(SHAPES))
        seed = draw(st.integers(0, 2**31 - 1))
        return float_case("int8", f"h{seed:x}", shp, scale, zp, seed)

    return {"int8": st.one_of(requant(), from_float())}
