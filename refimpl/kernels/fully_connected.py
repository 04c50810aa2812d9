"""FULLY_CONNECTED: ``out[b, u] = sum_d w[u, d] * x[b, d] + bias[u]``.

Layouts
-------
* weights ``[units, depth]`` (``depth = filter.shape[-1]``), row-major;
* the input is read as a flat ``[batches, depth]`` matrix, ``batches = input.size // depth``
  (so a ``[N, 5, 5, 64]`` tensor feeds a ``depth = 1600`` layer directly);
* output ``[batches, units]``, or the input's shape with its last dimension replaced by
  ``units`` when ``keep_num_dims`` is set (same numbers, another shape).

Arithmetic (int8)
-----------------
::

    acc[b, u] = sum_d (w[u, d] - zp_w) * (x[b, d] - zp_in) + bias[u]      # int32
    y[b, u]   = requantize(acc[b, u])                                      # flavour-dependent
    out[b, u] = clamp(y[b, u] + zp_out, act_min, act_max)

with the real multiplier ``S_in * S_w[u] / S_out``. Where the runtimes part ways
(arithmetic.md §2.4):

* ``tflite-ref`` (LiteRT BUILTIN_REF since 2025): requantization *in double*,
  ``y = (int32) round(double(acc) * (double(S_in) * double(S_w[u]) / double(S_out)))``
  with C ``round`` (half away from zero). An out-of-range double converts to
  ``INT32_MIN`` on x86 (``cvttsd2si``'s "integer indefinite"); reproduced.
* ``tflm``: fixed point, gemmlowp double rounding (``multiply_by_quantized_multiplier``)
  with the multiplier quantized from ``double(fl32(S_in * S_w)) / S_out`` for per-tensor
  weights, ``double(S_in) * double(S_w[u]) / double(S_out)`` per channel.

Mirrors: tflite/kernels/fully_connected.cc (Prepare, EvalQuantized) and
reference/integer_ops/fully_connected.h; tflite-micro micro/kernels/fully_connected*.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext
from ..flavors import Requant
from .padding import activation_range_float, clamp_float


@dataclass(frozen=True)
class OpData:
    """Everything ``invoke`` needs, precomputed in ``prepare``.

    Attributes
    ----------
    depth, units : int
        Accumulation depth and number of output units.
    input_offset : int
        ``-zp_in`` (int8), added to every input value.
    filter_offset : int
        ``-zp_w`` (0 for symmetric int8 weights).
    output_offset : int
        ``zp_out``.
    requant : Requantizer or None
        Scales the accumulator (None for float).
    act_min, act_max : int or float
        Fused-activation clamp, in the output's integer grid (int8) or a float op code.
    gemm_dtype : type
        Float type in which the integer GEMM is provably exact (see arithmetic.gemm_float_dtype).
    weights : ndarray
        ``[depth, units]`` (transposed, offset applied) in ``gemm_dtype`` (int8) or float32.
    bias : ndarray or None
        int64 (int8 path) or float32 (float path).
    acc_bound : float
        Bound on ``|acc + bias|`` (int8 path); below 2**31 no int32 wrap can occur.
    """

    depth: int
    units: int
    input_offset: int
    filter_offset: int
    output_offset: int
    requant: ar.Requantizer | None
    act_min: int
    act_max: int
    activation: int
    gemm_dtype: type
    weights: np.ndarray
    bias: np.ndarray | None
    acc_bound: float = float("inf")


def prepare(ctx: OpContext) -> OpData:
    x = ctx.input(0)
    w = ctx.input(1)
    bias = ctx.optional_input(2)
    out = ctx.output(0)
    opts = ctx.options
    activation = int(getattr(opts, "fused_activation_function", 0) or 0)
    keep_num_dims = bool(getattr(opts, "keep_num_dims", False))
    weights_format = int(getattr(opts, "weights_format", 0) or 0)
    if weights_format != 0:
        raise ctx.unsupported(f"weights_format {weights_format} (only DEFAULT is supported)")
    if len(w.shape) != 2:
        raise ctx.error(f"weights {w.describe()} must be rank 2 [units, depth]")
    if w.data is None:
        raise ctx.unsupported("non-constant weights", supported="constant weight tensors")
    units, depth = w.shape
    if depth == 0 or x.size % depth != 0:
        raise ctx.error(f"input {x.describe()} is not a whole number of rows of depth {depth}")
    batches = x.size // depth
    if keep_num_dims:
        if x.shape[-1] != depth:
            raise ctx.error(f"keep_num_dims needs input's last dim == depth {depth}")
        ctx.set_output_shape(0, tuple(x.shape[:-1]) + (units,))
    else:
        ctx.set_output_shape(0, (batches, units))
    if bias is not None and bias.size != units:
        raise ctx.error(f"bias {bias.describe()} must have {units} elements")

    in_dt, w_dt, out_dt = (np.dtype(t.dtype) for t in (x, w, out))
    if in_dt == np.float32 and w_dt == np.float32 and out_dt == np.float32:
        wt = np.ascontiguousarray(w.data.astype(np.float32).T)
        b = None if bias is None else np.asarray(bias.data, np.float32).reshape(-1)
        if bias is not None and bias.data is None:
            raise ctx.unsupported("non-constant bias")
        return OpData(depth, units, 0, 0, 0, None, 0, 0, activation, np.float32, wt, b)

    if not (in_dt == np.int8 and w_dt == np.int8 and out_dt == np.int8):
        raise ctx.unsupported(supported="float32; int8 input/weights/output with int32 bias")
    for t in (x, w, out):
        if not t.is_quantized:
            raise ctx.error(f"tensor {t.describe()} has no quantization parameters")
    if w.scale.size not in (1, units):
        raise ctx.error(f"weights have {w.scale.size} scales for {units} output units")
    if w.is_per_channel and w.quantized_dimension != 0:
        raise ctx.error(f"per-channel weights must be quantized along dim 0, got {w.quantized_dimension}")
    if w.is_per_channel and np.any(w.zero_point != 0):
        raise ctx.error("per-channel weights must have zero point 0")
    if bias is not None:
        if bias.data is None:
            raise ctx.unsupported("non-constant bias")
        if np.dtype(bias.dtype) != np.int32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with int8", "int32 bias")

    s_in, s_out = float(x.scale[0]), float(out.scale[0])
    zp_in, zp_out = int(x.zero_point[0]), int(out.zero_point[0])
    zp_w = 0 if w.is_per_channel else int(w.zero_point[0])
    requant = ar.make_requantizer(
        ctx.flavor.fc_requant,
        s_in,
        w.scale,
        s_out,
        # per-tensor weights: GetQuantizedConvolutionMultipler multiplies in float32
        product_in_float32=not w.is_per_channel and ctx.flavor.fc_requant is not Requant.FLOAT64,
    )
    act_min, act_max = ar.activation_range_quantized(activation, s_out, zp_out, np.int8)
    w_centered = w.data.astype(np.int64) - zp_w  # [units, depth]
    max_in = max(abs(-128 - zp_in), abs(127 - zp_in))
    colsum_max = float(np.abs(w_centered).sum(axis=1).max(initial=0))
    gemm_dtype = ar.gemm_float_dtype(max_in, colsum_max)
    weights = np.ascontiguousarray(w_centered.T.astype(gemm_dtype))
    b = None if bias is None else bias.data.astype(np.int64).reshape(-1)
    acc_bound = max_in * colsum_max + (0.0 if b is None else float(np.abs(b).max(initial=0)))
    return OpData(
        depth, units, -zp_in, -zp_w, zp_out, requant, act_min, act_max, activation, gemm_dtype,
        weights, b, acc_bound,
    )


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x = inputs[0]
    out_shape = ctx.output(0).shape
    if data.requant is None:
        return [_eval_float(data, x).reshape(out_shape)]
    return [_eval_int8(data, x).reshape(out_shape)]


def _eval_float(data: OpData, x: np.ndarray) -> np.ndarray:
    """float32, summed in the reference kernel's order.

    ``total += x[b, d] * w[u, d]`` for d = 0, 1, ... with every product and every sum
    rounded to float32 (no FMA), then ``total + bias[u]`` and the activation clamp, as
    LiteRT's reference ``FullyConnected``. Vectorised over batch and units; the loop runs
    over the depth only.
    """
    rows = x.reshape(-1, data.depth).astype(np.float32, copy=False)
    acc = np.zeros((rows.shape[0], data.units), np.float32)
    product = np.empty_like(acc)
    for d in range(data.depth):
        np.multiply(rows[:, d : d + 1], data.weights[d], out=product)
        acc += product
    acc += data.bias if data.bias is not None else np.float32(0.0)
    lo, hi = activation_range_float(data.activation)
    return clamp_float(acc, lo, hi)


def _eval_int8(data: OpData, x: np.ndarray) -> np.ndarray:
    rows = x.reshape(-1, data.depth).astype(data.gemm_dtype) + data.input_offset  # x - zp_in
    acc = ar.exact_matmul(rows, data.weights, data.gemm_dtype, as_int64=False)  # exact
    assert data.requant is not None
    return data.requant.to_output(acc, bias=data.bias, output_offset=data.output_offset,
                                  act_min=data.act_min, act_max=data.act_max, dtype=np.int8,
                                  acc_bound=data.acc_bound)


def reference_loop_int8(data: OpData, x: np.ndarray) -> np.ndarray:
    """Naive loop in the upstream order (batch, unit, depth); tests only."""
    rows = x.reshape(-1, data.depth).astype(np.int64)
    w = data.weights.astype(np.int64)  # [depth, units], offset applied
    out = np.empty((rows.shape[0], data.units), np.int8)
    for b in range(rows.shape[0]):
        for u in range(data.units):
            acc = 0
            for d in range(data.depth):
                acc += int(w[d, u]) * (int(rows[b, d]) + data.input_offset)
            if data.bias is not None:
                acc += int(data.bias[u])
            assert data.requant is not None
            idx = u if data.requant.multiplier.size > 1 else 0
            single = ar.Requantizer(
                data.requant.how,
                data.requant.real[idx : idx + 1],
                data.requant.multiplier[idx : idx + 1],
                data.requant.shift[idx : idx + 1],
                data.requant.xnn_scale[idx : idx + 1],
            )
            y = int(single(np.array([acc]))[0]) + data.output_offset
            out[b, u] = min(max(y, data.act_min), data.act_max)
    return out


FULLY_CONNECTED = Kernel(prepare, invoke)
