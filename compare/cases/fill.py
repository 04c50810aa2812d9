"""FILL (constant ``dims``, scalar ``value`` as the graph input) and ZEROS_LIKE, every type
with a kernel.

FILL types: LiteRT float32, int8, uint8, bool, int16, int32, int64 (quantized int8 /
int16 values must share the output's parameters); TFLM float32, int32, int8 (others fail
at invoke, so they run on LiteRT only). ``dims`` is int32 or int64, including a zero
extent and a rank-0 (scalar) output. ZEROS_LIKE: LiteRT float32, int32, int64; TFLM
also int8 (LiteRT fails int8 at invoke: TFLM only).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tflite_schema import ModelBuilder

from ._common import Case, TensorArg, one_op_model

OPS = ("FILL", "ZEROS_LIKE")
LITERT = ("litert-ref", "litert-builtin", "litert-xnnpack")
FILL_TFLM = ("float32", "int32", "int8")
LABEL = {"float32": "float32", "int8": "int8", "uint8": "uint8", "bool": "bool",
         "int16": "int16x8", "int32": "int32", "int64": "int64"}
VALUES = {"float32": np.float32(-2.5), "int8": np.int8(-128), "uint8": np.uint8(255),
          "bool": np.bool_(True), "int16": np.int16(-32768), "int32": np.int32(2**31 - 1),
          "int64": np.int64(-(2**63))}
DIMS = [([2, 3, 4], "int32"), ([5, 1], "int64"), ([3, 0, 2], "int32"), ([7], "int64")]


def _fill_case(dtype: str, dims, dims_type: str, quant, name: str) -> Case:
    scale, zp = quant if quant else (None, 0)
    out_shape = tuple(dims)
    model = one_op_model(
        "FILL",
        [TensorArg([len(dims)], dims_type, data=np.array(dims, dims_type)),
         TensorArg([], dtype, scale=scale, zero_point=zp)],
        [TensorArg(out_shape, dtype, scale=scale, zero_point=zp)])
    value = np.asarray(VALUES[dtype], dtype).reshape(())
    return Case("FILL", LABEL[dtype], name, model, (value,),
                {"dims": dims, "dims_type": dims_type, "quantization": quant},
                runtimes=LITERT)


def _fill_const_case(dtype: str, dims, name: str) -> Case:
    """``value`` constant too, plus an unused float32 graph input: the TFLM adapter cannot
    feed a scalar graph input (it loops over a leading batch dimension)."""
    mb = ModelBuilder("tflite-refimpl sweep: FILL")
    dummy = mb.add_tensor("unused_input", [1], "float32")
    d = mb.add_tensor("dims", [len(dims)], "int32", np.array(dims, np.int32))
    v = mb.add_tensor("value", [], dtype, np.asarray(VALUES[dtype], dtype).reshape(()))
    out = mb.add_tensor("output0", list(dims), dtype)
    mb.add_operator("FILL", [d, v], [out])
    mb.set_inputs([dummy])
    mb.set_outputs([out])
    return Case("FILL", LABEL[dtype], name, mb.to_bytes(), (np.zeros((1,), np.float32),),
                {"dims": dims, "value": "constant"})


def _zeros_like_case(dtype: str, shape, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    model = one_op_model("ZEROS_LIKE", [TensorArg(shape, dtype)], [TensorArg(shape, dtype)])
    runtimes = ("tflm",) if dtype == "int8" else None
    return Case("ZEROS_LIKE", LABEL[dtype], f"s{'x'.join(map(str, shape))}", model, (x,),
                {"shape": shape}, runtimes=runtimes)


def grid(full: bool) -> Iterator[Case]:
    for k, dtype in enumerate(VALUES):
        for j, (dims, dims_type) in enumerate(DIMS if full else DIMS[:2]):
            yield _fill_case(dtype, dims, dims_type, None, f"d{j}")
    yield _fill_case("int8", [2, 3], "int32", (0.05, -7), "quantized")
    yield _fill_case("int16", [4, 2], "int64", (0.001, 0), "quantized")
    for dtype in FILL_TFLM:
        yield _fill_const_case(dtype, [2, 5], "const-value")
    for k, dtype in enumerate(("float32", "int32", "int64", "int8")):
        for j, shape in enumerate([(2, 3, 5), (1, 17)]):
            yield _zeros_like_case(dtype, shape, 40 + 2 * k + j)
