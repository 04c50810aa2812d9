"""CAST between float32, int8, uint8, int16, int32, int64 and bool (the dtype label is the
input type; the case name gives the output type).

Inputs carry both ends of each integer range (wrap on narrowing), integers that float32
cannot hold (rounding to even), and for float inputs fractions of both signs (truncation),
values just inside and beyond every integer range, infinities and NaN (both saturate;
NaN -> maximum in LiteRT, 0 in TFLM). TFLM has no kernel for
uint8 / int64 inputs nor for uint8 / int64 / bool outputs; it fails those at invoke, so
they run on LiteRT only.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, one_op_model

OP = "CAST"
TYPES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")
#: schema TensorType codes, for CastOptions
TENSOR_TYPE = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7,
               "int8": 9}
LABEL = {"int16": "int16", "float32": "float32", "int8": "int8", "uint8": "uint8",
         "int32": "int32", "int64": "int64", "bool": "bool"}
LITERT = ("litert-ref", "litert-builtin", "litert-xnnpack")
TFLM_IN = ("int8", "int16", "int32", "float32", "bool")
TFLM_OUT = ("int8", "int16", "int32", "float32")
SHAPE = (3, 16)

FLOAT_EDGES = [0.0, -0.0, 0.5, -0.5, 1.99, -1.99, 127.9, 128.0, -128.5, -129.0, 255.5,
               256.0, -1.0, 32767.5, 32768.0, -32769.0, 65535.9, 2.0**31, -(2.0**31),
               2147483520.0, 3e9, -3e9, 2.0**63, -(2.0**63), 1e20, -1e20, np.inf, -np.inf,
               np.nan, 1e-40]


def _inputs(src: str, rng: np.random.Generator) -> np.ndarray:
    n = int(np.prod(SHAPE))
    if src == "bool":
        return (rng.integers(0, 2, n) == 1).reshape(SHAPE)
    if src == "float32":
        x = rng.uniform(-300.0, 300.0, n).astype(np.float32)
        x[:len(FLOAT_EDGES)] = np.array(FLOAT_EDGES, np.float32)
        return x.reshape(SHAPE)
    info = np.iinfo(src)
    x = rng.integers(info.min, info.max, n, dtype=np.int64, endpoint=True)
    edges = [info.min, info.max, 0, 1, info.min + 1, info.max - 1]
    if info.bits >= 32:
        edges += [16777217, -16777217, 2**31 - 1, 2**24 + 3]
    if info.bits == 64:
        edges += [2**63 - 1, -(2**63), 2**53 + 1]
    if info.min < 0:
        edges += [-1, -2]
    x[:len(edges)] = np.clip(edges, info.min, info.max)
    return x.astype(src).reshape(SHAPE)


def _case(src: str, dst: str, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    tflm_ok = src in TFLM_IN and dst in TFLM_OUT
    x = _inputs(src, rng)
    model = one_op_model(OP, [TensorArg(SHAPE, src)], [TensorArg(SHAPE, dst)],
                         {"in_data_type": TENSOR_TYPE[src], "out_data_type": TENSOR_TYPE[dst]})
    runtimes = None if tflm_ok else LITERT
    return Case(OP, LABEL[src], f"to-{dst}", model, (x,), {"from": src, "to": dst},
                runtimes=runtimes)


def grid(full: bool) -> Iterator[Case]:
    k = 0
    for src in TYPES:
        for dst in TYPES:
            if src == dst and not full and src not in ("float32", "int8"):
                continue
            k += 1
            yield _case(src, dst, 500 + k)
