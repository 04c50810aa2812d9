"""RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR: sizes up and down (integer and fractional
ratios, exact 2x and 8x upsamples, 1-pixel outputs), every flag combination, every dtype
with a LiteRT kernel; quantized input and output share their parameters (the converter's
choice, and XNNPACK's condition for taking the node).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._common import Case, TensorArg, float_inputs, int_inputs, one_op_model, qparams

OPS = ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")
ALL_RUNTIMES = ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
STORE = {"float32": "float32", "int8": "int8", "int16x8": "int16", "uint8": "uint8",
         "int32": "int32"}
DTYPES = {"RESIZE_NEAREST_NEIGHBOR": ("float32", "int8", "int16x8", "uint8", "int32"),
          "RESIZE_BILINEAR": ("float32", "int8", "int16x8", "uint8")}
TFLM_DTYPES = {"RESIZE_NEAREST_NEIGHBOR": ("float32", "int8", "int16x8"),
               "RESIZE_BILINEAR": ("float32", "int8")}

# (input shape NHWC, output size)
SIZES = [
    ((1, 4, 5, 3), (8, 10)),      # exact 2x: the optimized float 2x2 kernel
    ((2, 5, 3, 4), (7, 11)),      # fractional up
    ((1, 9, 10, 2), (4, 3)),      # down
    ((1, 3, 3, 8), (3, 3)),       # identity
    ((1, 6, 7, 5), (1, 1)),       # single output pixel (align_corners scale uses in/out)
    ((1, 2, 2, 8), (16, 16)),     # 8x up, C % 8 == 0
    ((1, 7, 1, 3), (13, 2)),      # width 1 input
]
# (align_corners, half_pixel_centers)
FLAGS = [(False, False), (True, False), (False, True), (True, True)]


def _case(op: str, dtype: str, name: str, spec, flags, q, seed: int, q_out=None) -> Case:
    rng = np.random.default_rng(seed)
    shape, size = spec
    store = STORE[dtype]
    if dtype == "float32":
        x = float_inputs(rng, shape, -3.0, 3.0)
    elif dtype == "int32":
        x = rng.integers(-(2**31), 2**31, size=shape).astype(np.int32)
    else:
        x = int_inputs(rng, shape, store)
    scale, zp = (None, 0) if q is None else q
    out_shape = (shape[0], size[0], size[1], shape[3])
    model = one_op_model(
        op,
        [TensorArg(shape, store, scale=scale, zero_point=zp),
         TensorArg((2,), "int32", data=np.array(size, np.int32))],
        [TensorArg(out_shape, store, scale=(q_out or (scale, zp))[0],
                   zero_point=(q_out or (scale, zp))[1])],
        {"align_corners": flags[0], "half_pixel_centers": flags[1]})
    runtimes = None if dtype in TFLM_DTYPES[op] else ALL_RUNTIMES[:3]
    return Case(op, dtype, name, model, (x,), {"shape": shape, "size": size,
                                               "align_corners": flags[0],
                                               "half_pixel_centers": flags[1], "q": q,
                                               "q_out": q_out},
                runtimes=runtimes)


def grid(full: bool) -> Iterator[Case]:
    quant = {"int8": (0.05, -3), "uint8": (0.1, 130), "int16x8": (0.001, 0)}
    sizes = SIZES if full else SIZES[:3]
    k = 0
    for op in OPS:
        for si, spec in enumerate(sizes):
            for fi, flags in enumerate(FLAGS):
                if op == "RESIZE_BILINEAR" and flags == (True, True):
                    continue   # rejected by LiteRT's Prepare
                for dtype in DTYPES[op]:
                    k += 1
                    if not full and ((dtype in ("int32", "int16x8") and fi)
                                     or (dtype == "uint8" and fi % 2)):
                        continue
                    yield _case(op, dtype, f"s{si}-f{fi}", spec, flags, quant.get(dtype), k)
    if not full:   # LiteRT's optimized uint8 8x kernel (half pixel centers, C % 8 == 0)
        yield _case("RESIZE_BILINEAR", "uint8", "s5-f2", SIZES[5], FLAGS[2], quant["uint8"], 905)


    # 14 -> 46: column 23 maps to 6 with the float scale, to 7 with LiteRT's optimized
    # 8-bit fixed-point scale
    for dtype in ("int8", "uint8"):
        yield _case("RESIZE_NEAREST_NEIGHBOR", dtype, "w14-to-46", ((1, 3, 14, 2), (5, 46)),
                    FLAGS[0], quant[dtype], 903)
    # output quantization different from the input's: LiteRT's kernels copy codes anyway;
    # LiteRT AUTO fails to prepare the bilinear model (XNNPACK refuses it late)
    for op in OPS:
        yield _case(op, "int8", "q-mismatch", SIZES[1], FLAGS[0], (0.05, -3), 901,
                    q_out=(0.1, 0))


def strategies() -> dict:
    from hypothesis import strategies as st

    def draw(dtype: str):
        @st.composite
        def case(draw) -> Case:
            op = draw(st.sampled_from(OPS))
            q = None if dtype == "float32" else draw(qparams(STORE[dtype]))
            n_in = draw(st.tuples(st.integers(1, 9), st.integers(1, 9)))
            n_out = draw(st.tuples(st.integers(1, 19), st.integers(1, 19)))
            ch = draw(st.integers(1, 9))
            flags = draw(st.sampled_from(FLAGS[:3]))
            seed = draw(st.integers(0, 2**31 - 1))
            spec = ((1, n_in[0], n_in[1], ch), n_out)
            return _case(op, dtype, f"h{seed:x}", spec, flags, q, seed)
        return case()

    return {d: draw(d) for d in ("float32", "int8", "uint8", "int16x8")}
