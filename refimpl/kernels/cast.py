"""CAST: convert every element to the output tensor's type (quantization is ignored).

Types: LiteRT casts between any two of float32, int8, uint8, int16, int32, int64, bool
(and more types refimpl does not cover: uint16, uint32, float16, float64, complex64,
int4...). TFLM takes inputs int8, int16, int32, float32, bool and outputs int8, int16,
int32, float32.

Conversions (C++ ``static_cast`` unless stated):

* integer -> narrower integer: two's-complement wrap (``int32 300 -> int8 44``);
* integer -> float32: round to nearest even (``int32 16777217 -> 16777216.0``);
* anything -> bool: ``x != 0`` (NaN -> true); bool -> number: 0 / 1;
* float32 -> integer: saturating (``SaturatingCastFloatingToInteger`` / ``SafeCast``):
  truncate toward zero, values below the type's minimum give the minimum, values at or
  above ``2**(bits-1)`` (``2**bits`` unsigned) the maximum; NaN gives the maximum in
  LiteRT and 0 in TFLM. (TFLM's Aug-2026 source shows a bare ``static_cast``; the wheel
  saturates -- measured: 300.5 -> int8 127, 1e10 -> int32 2**31-1, NaN -> 0.)

Mirrors: tflite/kernels/cast.cc (copyCast, CastValue, SaturatingCastFloatingToInteger),
internal/quantization_util.h (SafeCast); tensorflow/lite/micro/kernels/cast.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext

_NAMES = ("float32", "int8", "uint8", "int16", "int32", "int64", "bool")
_T = {n: np.dtype(n) for n in _NAMES}
TFLITE_TYPES = tuple(_T[n] for n in _NAMES)
TFLM_INPUT_TYPES = tuple(_T[n] for n in ("int8", "int16", "int32", "float32", "bool"))
TFLM_OUTPUT_TYPES = tuple(_T[n] for n in ("int8", "int16", "int32", "float32"))


@dataclass(frozen=True)
class OpData:
    """Input and output types; ``nan_to_max``: float NaN -> the integer maximum (LiteRT)
    rather than 0 (TFLM)."""

    input_dtype: np.dtype
    output_dtype: np.dtype
    nan_to_max: bool


def prepare(ctx: OpContext) -> OpData:
    """Validate the pair of types."""
    ctx.require(len(ctx.inputs) == 1 and len(ctx.outputs) == 1,
                "needs 1 input and 1 output")
    inp, out = ctx.input(0), ctx.output(0)
    ctx.set_output_shape(0, inp.shape)
    t_in, t_out = np.dtype(inp.dtype), np.dtype(out.dtype)
    ins, outs = ((TFLM_INPUT_TYPES, TFLM_OUTPUT_TYPES) if ctx.flavor.tflm
                 else (TFLITE_TYPES, TFLITE_TYPES))
    if t_in not in ins or t_out not in outs:
        raise ctx.unsupported(
            f"cast {t_in.name} -> {t_out.name}",
            supported=f"inputs {', '.join(t.name for t in ins)}; "
                      f"outputs {', '.join(t.name for t in outs)}")
    return OpData(t_in, t_out, nan_to_max=not ctx.flavor.tflm)


def float_to_int_saturating(x: np.ndarray, dtype: np.dtype, nan_to_max: bool) -> np.ndarray:
    """``SafeCast``: truncate, saturate at both ends, NaN -> the maximum or 0."""
    info = np.iinfo(dtype)
    v = np.asarray(x, np.float32).astype(np.float64)
    upper = float(info.max) + 1.0  # 2**(bits-1) (or 2**bits): exact in float
    inside = ~np.isnan(v) & (v >= info.min) & (v < upper)
    t = np.trunc(np.where(inside, v, 0.0)).astype(np.int64)  # exact: |t| < 2**63
    edge = np.where(v < info.min, np.int64(info.min), np.int64(info.max))
    edge = np.where(np.isnan(v), np.int64(info.max if nan_to_max else 0), edge)
    return np.where(inside, t, edge).astype(dtype)


def cast(x: np.ndarray, d: OpData) -> np.ndarray:
    """Convert ``x`` (of ``d.input_dtype``) to ``d.output_dtype``."""
    x = np.asarray(x, d.input_dtype)
    out = d.output_dtype
    if out == _T["bool"]:
        return x != 0
    if d.input_dtype == _T["float32"] and out.kind in "iu":
        return float_to_int_saturating(x, out, d.nan_to_max)
    if d.input_dtype == _T["bool"]:
        return x.astype(out)
    with np.errstate(over="ignore"):
        return x.astype(out)  # integer wrap keeps the low bits; int -> float rounds to even


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Apply CAST to ``inputs[0]``."""
    return [cast(inputs[0], data)]


CAST = Kernel(prepare, invoke)
