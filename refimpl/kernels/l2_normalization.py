"""L2_NORMALIZATION: ``out = x / ||x||_2`` along the last axis.

Types: float32, int8 and uint8 in LiteRT (reference and optimized kernels compute the
same: the optimized float and uint8 routines are the reference loops written with
pointers, int8 always runs the reference integer routine); TFLM float32 and int8 (rank
<= 4). XNNPACK has no such operator. The fused activation must be NONE.

Quantized output parameters are fixed by LiteRT's Prepare: scale 1/128 with zero point
0 (int8) or 128 (uint8). TFLM does not check them; refimpl does for every flavour
(a model the converter writes always has them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import multiply_by_quantized_multiplier, rounding_divide_by_pot, wrap32
from ..context import Kernel, OpContext
from ..fixedpoint import inv_sqrt_quantized_multiplier_exp, mul

F32 = np.float32
EPSILON = F32(1e-6)
REVERSE_SHIFT = -1      # kReverseShift: GetInvSqrtQuantizedMultiplierExp returns -shift
OUTPUT_SCALE_BITS = 7   # int8 output in Q0.7 (scale 1/128)


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"int8"`` or ``"uint8"``.
    input_zero_point : int
    """

    kind: str
    input_zero_point: int = 0


def prepare(ctx: OpContext) -> OpData:
    """Validate types, output quantization and activation; output shape = input shape.

    Mirrors: ``Prepare`` (tflite/kernels/l2norm.cc), ``L2NormPrepare``
    (micro/kernels/l2norm.cc).
    """
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(len(x.shape) >= 1, "the input must have rank >= 1")
    if ctx.flavor.tflm:
        ctx.require(len(x.shape) <= 4, "TFLM supports rank <= 4")
    act = getattr(ctx.options, "fused_activation_function", 0) if ctx.options else 0
    ctx.require(int(act or 0) == 0, "the fused activation must be NONE")
    name = np.dtype(x.dtype).name
    allowed = ("float32", "int8") if ctx.flavor.tflm else ("float32", "int8", "uint8")
    if name not in allowed or np.dtype(out.dtype) != np.dtype(x.dtype):
        raise ctx.unsupported(supported=", ".join(allowed) + " (same input and output type)")
    ctx.set_output_shape(0, x.shape)
    if name == "float32":
        return OpData("float")
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    want_zp = 0 if name == "int8" else 128
    ctx.require(float(out.scale[0]) == 1.0 / 128 and int(out.zero_point[0]) == want_zp,
                f"output {out.describe()} must have scale 1/128 and zero point {want_zp}")
    return OpData(name, int(x.zero_point[0]))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Normalise every row (the last axis).

    Arithmetic::

        float: ss = 0.0f; ss += v*v for each v in order (float32)
               n = max(sqrtf(ss), 1e-6f); out = v / n
        quantized: d = q - zp_in; S = int32 sum of d*d
               (m, s) = GetInvSqrtQuantizedMultiplierExp(S, -1)      # 1/sqrt(S), s <= 0
               int8:  out = clamp(MBQM_double(d, m, s + 7), -128, 127)
               uint8: out = clamp(128 + RDBPOT(SRDHM(128*d, m), -s), 0, 255)

    Mirrors: ``reference_ops::L2Normalization`` (reference/l2normalization.h, float and
    uint8), ``reference_integer_ops::L2Normalization`` (integer_ops/l2normalization.h).
    """
    x = np.asarray(inputs[0])
    out = ctx.output(0)
    if data.kind == "float":
        rows = x.astype(F32).reshape(-1, x.shape[-1])
        squares = rows * rows
        total = np.zeros(rows.shape[0], F32)
        for c in range(rows.shape[1]):        # sequential over the depth, vectorised rows
            total = total + squares[:, c]
        norm = np.maximum(np.sqrt(total), EPSILON)
        return [(rows / norm[:, None]).astype(F32).reshape(out.shape)]
    d = x.astype(np.int64).reshape(-1, x.shape[-1]) - data.input_zero_point
    total = wrap32((d * d).sum(axis=1))
    m, s = inv_sqrt_quantized_multiplier_exp(total, REVERSE_SHIFT)
    m, s = m[:, None], s[:, None]
    if data.kind == "int8":
        y = np.clip(multiply_by_quantized_multiplier(d, m, s + OUTPUT_SCALE_BITS), -128, 127)
    else:
        y = np.clip(128 + rounding_divide_by_pot(mul(128 * d, m), -s), 0, 255)
    return [y.astype(out.dtype).reshape(out.shape)]


L2_NORMALIZATION = Kernel(prepare, invoke)
