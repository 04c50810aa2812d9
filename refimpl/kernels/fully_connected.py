"""FULLY_CONNECTED: ``out[b, u] = sum_d w[u, d] * x[b, d] + bias[u]``.

Layouts
-------
* weights ``[units, depth]`` (``depth = filter.shape[-1]``), row-major;
* the input is read as a flat ``[batches, depth]`` matrix, ``batches = input.size // depth``
  (so a ``[N, 5, 5, 64]`` tensor feeds a ``depth = 1600`` layer directly);
* output ``[batches, units]``, or the input's shape with its last dimension replaced by
  ``units`` when ``keep_num_dims`` is set (same numbers, another shape).

Kinds: float32; int8; 16x8 (int16 activations, int8 weights, int64 or int32 bias);
hybrid (float32 activations, int8 weights, float32 output; LiteRT only).

Arithmetic (int8 and 16x8)
--------------------------
::

    acc[b, u] = sum_d (w[u, d] - zp_w) * (x[b, d] - zp_in) + bias[u]      # int32 / int64
    y[b, u]   = requantize(acc[b, u])                                      # flavour-dependent
    out[b, u] = clamp(y[b, u] + zp_out, act_min, act_max)

with the real multiplier ``S_in * S_w[u] / S_out``. Where the runtimes part ways
(arithmetic.md §2.4):

* ``tflite-ref`` (LiteRT BUILTIN_REF since 2025): requantization *in double*,
  ``y = (int32) round(double(acc) * (double(S_in) * double(S_w[u]) / double(S_out)))``
  with C ``round`` (half away from zero), for int8 and for 16x8 (int64 or int32
  accumulator). An out-of-range double converts to ``INT32_MIN`` on x86
  (``cvttsd2si``'s "integer indefinite"); reproduced.
* ``tflm``: fixed point with the multiplier quantized from ``double(fl32(S_in * S_w)) /
  S_out`` for per-tensor weights, ``double(S_in) * double(S_w[u]) / double(S_out)`` per
  channel; int32 accumulators use gemmlowp double rounding (variant A), 16x8 int64
  accumulators variant (C) (15-16 bit multiplier, one rounding half up).

16x8: zero points of input and output must be 0; the accumulator width follows the bias
(``conv_2d.accumulator_bits_16x8``: LiteRT reads ``quantized_bias_type``).

Arithmetic (hybrid, ``EvalHybridDense``; arithmetic.md §3)
----------------------------------------------------------
::

    out[b, u] = bias[u] (or 0)
    all-zero input (the whole tensor)  ->  out = activation(out)
    q, sf_b, zp_b = per-row quantization (asymmetric_quantize_inputs: asymmetric with
                    zero point, else symmetric with zp_b = 0; .hybrid)
    dot[b, u] = sum_d w[u, d] * q[b, d] - zp_b * rowsum[u]                (int32)
    scale     = fl32(s_w[u] * sf_b)   (per-channel)   |  sf_b = fl32(sf_b * s_w) (per-tensor)
    out[b, u] = fl32(out[b, u] + fl32(float(dot) * scale)) ; then the float activation

The dot products run on x86 in SSE/AVX2 integer code (exact), the rescale in scalar
float32 (no FMA observed).

Under the ``xnnpack`` flavour a node the delegate takes follows XNNPACK's ``qd8`` path
instead (:mod:`.xnnpack_qd8`): per-row asymmetric parameters ``s = 255 / (rmax - rmin)``,
round-half-even quantization, and ``fmaf(fl32(acc * d_b), s_w[u], bias[u])``.

Mirrors: tflite/kernels/fully_connected.cc (PrepareImpl, EvalQuantized, EvalHybridDense),
reference/integer_ops/fully_connected.h, optimized/sse_tensor_utils.cc
(``SseMatrixBatchVectorMultiplyAccumulateImpl``); tflite-micro
micro/kernels/fully_connected*.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext
from ..flavors import Requant
from . import hybrid, xnnpack_qd8
from .conv_2d import accumulator_bits_16x8
from .xnnpack_checks import delegates_qs8_gemm
from .padding import activation_range_float, clamp_float

_INT8, _INT16, _FLOAT32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.float32)


@dataclass(frozen=True)
class HybridFC:
    """Hybrid parameters: weight scales, row sums, input quantizer choice.

    Attributes
    ----------
    filter_scale : ndarray of float32, shape (units,) or (1,)
    per_channel : bool
        More than one scale (``VerifyPerChannelQuantization``).
    asymmetric : bool
        ``asymmetric_quantize_inputs``.
    row_sums : ndarray of int64, shape (units,)
        ``sum_d w[u, d]`` (multiplied by the row's zero point and subtracted).
    xnnpack : bool
        The XNNPACK delegate takes the node (flavour ``xnnpack``): its ``qd8`` path
        (:mod:`.xnnpack_qd8`) replaces LiteRT's hybrid arithmetic.
    """

    filter_scale: np.ndarray
    per_channel: bool
    asymmetric: bool
    row_sums: np.ndarray
    xnnpack: bool = False


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
        Scales the accumulator (None for float and hybrid).
    act_min, act_max : int
        Fused-activation clamp, in the output's integer grid.
    activation : int
        Schema activation code (float and hybrid clamps).
    gemm_dtype : type
        Float type in which the integer GEMM is provably exact (see arithmetic.gemm_float_dtype).
    weights : ndarray
        ``[depth, units]`` (transposed, offset applied) in ``gemm_dtype``, or float32.
    bias : ndarray or None
        int64 (integer kinds) or float32 (float, hybrid).
    acc_bound : float
        Bound on ``|acc + bias|`` (integer kinds); below 2**31 no int32 wrap can occur.
    accumulator_bits : int
        32 (wraps like C's int32) or 64 (16x8 with an int64 accumulator).
    output_dtype : np.dtype
        int8, int16 or float32.
    hybrid : HybridFC or None
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
    accumulator_bits: int = 32
    output_dtype: np.dtype = _INT8
    hybrid: HybridFC | None = None


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
    if bias is not None and bias.data is None:
        raise ctx.unsupported("non-constant bias")

    dtypes = tuple(np.dtype(t.dtype) for t in (x, w, out))
    if dtypes == (_FLOAT32,) * 3:
        wt = np.ascontiguousarray(w.data.astype(np.float32).T)
        b = None if bias is None else np.asarray(bias.data, np.float32).reshape(-1)
        return OpData(depth, units, 0, 0, 0, None, 0, 0, activation, np.float32, wt, b,
                      output_dtype=_FLOAT32)
    if dtypes == (_FLOAT32, _INT8, _FLOAT32):
        return _prepare_hybrid(ctx, activation, depth, units)
    if dtypes not in ((_INT8,) * 3, (_INT16, _INT8, _INT16)):
        raise ctx.unsupported(supported="float32; int8; int16 activations with int8 weights "
                              "(16x8); float32 activations with int8 weights (hybrid)")
    return _prepare_quantized(ctx, activation, depth, units)


def _prepare_quantized(ctx: OpContext, activation: int, depth: int, units: int) -> OpData:
    """int8 and 16x8: quantization checks, requantizer, exact GEMM dtype."""
    x, w, bias, out = ctx.input(0), ctx.input(1), ctx.optional_input(2), ctx.output(0)
    assert w.data is not None
    out_dtype = np.dtype(out.dtype)
    for t in (x, w, out):
        if not t.is_quantized:
            raise ctx.error(f"tensor {t.describe()} has no quantization parameters")
    if w.scale.size not in (1, units):
        raise ctx.error(f"weights have {w.scale.size} scales for {units} output units")
    if w.is_per_channel and w.quantized_dimension != 0:
        raise ctx.error("per-channel weights must be quantized along dim 0, got "
                        f"{w.quantized_dimension}")
    if w.is_per_channel and np.any(w.zero_point != 0):
        raise ctx.error("per-channel weights must have zero point 0")
    s_in, s_out = float(x.scale[0]), float(out.scale[0])
    zp_in, zp_out = int(x.zero_point[0]), int(out.zero_point[0])
    if out_dtype == _INT16:
        if zp_in != 0 or zp_out != 0:
            raise ctx.error(f"int16 zero points must be 0, got input {zp_in}, output {zp_out}")
        bits = accumulator_bits_16x8(ctx, bias)
        max_in = 32768
    else:
        if bias is not None and np.dtype(bias.dtype) != np.int32:
            raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} with int8", "int32 bias")
        bits = 32
        max_in = max(abs(-128 - zp_in), abs(127 - zp_in))
    zp_w = 0 if w.is_per_channel else int(w.zero_point[0])
    how = _requant_variant(ctx, x, w, bias, out, activation, bits, zp_in, zp_w, zp_out)
    requant = ar.make_requantizer(
        how,
        s_in,
        w.scale,
        s_out,
        # per-tensor weights: GetQuantizedConvolutionMultipler multiplies in float32
        product_in_float32=not w.is_per_channel and how is not Requant.FLOAT64,
    )
    act_min, act_max = ar.activation_range_quantized(activation, s_out, zp_out, out_dtype)
    w_centered = w.data.astype(np.int64) - zp_w  # [units, depth]
    colsum_max = float(np.abs(w_centered).sum(axis=1).max(initial=0))
    gemm_dtype = ar.gemm_float_dtype(max_in, colsum_max)
    weights = np.ascontiguousarray(w_centered.T.astype(gemm_dtype))
    b = None if bias is None else bias.data.astype(np.int64).reshape(-1)
    acc_bound = max_in * colsum_max + (0.0 if b is None else float(np.abs(b).max(initial=0)))
    return OpData(
        depth, units, -zp_in, -zp_w, zp_out, requant, act_min, act_max, activation, gemm_dtype,
        weights, b, acc_bound, bits, out_dtype,
    )


def _requant_variant(ctx: OpContext, x, w, bias, out, activation: int, bits: int,
                     zp_in: int, zp_w: int, zp_out: int) -> Requant:
    """Which requantization the flavour's runtime uses for this FULLY_CONNECTED node.

    * ``tflite-ref``: float64, round half away (the reference kernel since 2025);
    * ``tflm``: fixed-point double rounding (A) (variant (C) for int64 accumulators);
    * ``tflite-builtin``: (D) through ruy / the custom GEMV, except 16x8 with an int64
      bias or a non-zero zero point, which LiteRT sends to the reference kernel (float64);
    * ``xnnpack``: (F) when the delegate takes the node (int8 only), else as builtin.
    """
    how = ctx.flavor.fc_requant
    if ctx.flavor.optimized and np.dtype(out.dtype) == _INT16 and (
            bits == 64 or zp_in or zp_w or zp_out):
        how = Requant.FLOAT64
    if bits == 32 and delegates_qs8_gemm(ctx, x, w, bias, out, activation):
        how = Requant.XNN_FP32
    return how


def _prepare_hybrid(ctx: OpContext, activation: int, depth: int, units: int) -> OpData:
    """Hybrid: weight scales, row sums, bias and the input quantizer of the options."""
    hybrid.require_hybrid_runtime(ctx)
    hybrid.check_vector_activation(ctx, activation)
    w, bias = ctx.input(1), ctx.optional_input(2)
    assert w.data is not None
    scales = hybrid.hybrid_filter_scales(ctx, w, units)
    if scales.size > 1 and w.quantized_dimension != 0:
        raise ctx.error("per-channel weights must be quantized along dim 0, got "
                        f"{w.quantized_dimension}")
    if bias is not None and np.dtype(bias.dtype) != _FLOAT32:
        raise ctx.unsupported(f"bias dtype {np.dtype(bias.dtype).name} on a hybrid op",
                              supported="float32 bias")
    asymmetric = bool(getattr(ctx.options, "asymmetric_quantize_inputs", False))
    xnn = xnnpack_qd8.delegates_qd8(ctx, ctx.input(0), w, bias, ctx.output(0), activation,
                                    bias_required=False)
    if xnn:
        xnnpack_qd8.refuse_nonzero_weight_zero_point(ctx, w)
    w64 = w.data.astype(np.int64)
    colsum_max = float(np.abs(w64).sum(axis=1).max(initial=0))
    gemm_dtype = ar.gemm_float_dtype(255 if xnn else 128, colsum_max)  # |q - zp| or |q|
    weights = np.ascontiguousarray(w64.T.astype(gemm_dtype))
    b = None if bias is None else np.asarray(bias.data, np.float32).reshape(-1)
    info = HybridFC(scales, scales.size > 1, asymmetric, w64.sum(axis=1), xnn)
    return OpData(depth, units, 0, 0, 0, None, 0, 0, activation, gemm_dtype, weights, b,
                  output_dtype=_FLOAT32, hybrid=info)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    x = inputs[0]
    out_shape = ctx.output(0).shape
    if data.hybrid is not None:
        return [_eval_hybrid(data, x).reshape(out_shape)]
    if data.requant is None:
        return [_eval_float(data, x).reshape(out_shape)]
    return [_eval_quantized(data, x).reshape(out_shape)]


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


def _requantize_to_output(data: OpData, acc: np.ndarray) -> np.ndarray:
    """Output stage: the flavour's requantizer, or variant (C) for TFLM int64 accumulators."""
    assert data.requant is not None
    if data.accumulator_bits == 64 and data.requant.how is not Requant.FLOAT64:
        return ar.requantize_int64_to_output(
            acc, bias=data.bias, multiplier=data.requant.multiplier, shift=data.requant.shift,
            act_min=data.act_min, act_max=data.act_max, dtype=data.output_dtype)
    return data.requant.to_output(acc, bias=data.bias, output_offset=data.output_offset,
                                  act_min=data.act_min, act_max=data.act_max,
                                  dtype=data.output_dtype, wrap=data.accumulator_bits == 32,
                                  acc_bound=data.acc_bound)


def _eval_quantized(data: OpData, x: np.ndarray) -> np.ndarray:
    rows = x.reshape(-1, data.depth).astype(data.gemm_dtype)
    if data.input_offset:
        rows += data.input_offset  # x - zp_in
    acc = ar.exact_matmul(rows, data.weights, data.gemm_dtype, as_int64=False)  # exact
    return _requantize_to_output(data, acc)


def _eval_hybrid(data: OpData, x: np.ndarray) -> np.ndarray:
    """Hybrid dense: see the module docstring for the arithmetic."""
    h = data.hybrid
    assert h is not None
    rows = np.asarray(x, np.float32).reshape(-1, data.depth)
    if h.xnnpack:
        qd8 = xnnpack_qd8.quantize_rows(rows)
        acc = ar.exact_matmul(qd8.centered.astype(data.gemm_dtype), data.weights,
                              data.gemm_dtype, as_int64=False)
        scales = np.broadcast_to(h.filter_scale, (data.units,))
        return xnnpack_qd8.rescale(acc, qd8.dequant_scale[:, None], scales, data.bias,
                                   data.activation)
    n = rows.shape[0]
    out = np.zeros((n, data.units), np.float32)
    if data.bias is not None:
        out[:] = data.bias
    if hybrid.is_zero_vector(rows):  # the multiply is skipped for an all-zero input
        return hybrid.apply_vector_activation(out, data.activation)
    if h.asymmetric:
        qr = hybrid.quantize_rows_asymmetric(rows)
    else:
        qr = hybrid.quantize_rows_symmetric(rows)
    if h.per_channel:  # per_channel_scale[u] * scaling_factor[b]
        row_scale = (h.filter_scale[None, :] * qr.scale[:, None]).astype(np.float32)
    else:  # scaling_factor[b] *= filter scale, once
        row_scale = (qr.scale * h.filter_scale[0]).astype(np.float32)[:, None]
    acc = ar.exact_matmul(qr.values.astype(data.gemm_dtype), data.weights, data.gemm_dtype)
    if h.asymmetric:
        acc -= qr.zero_point[:, None] * h.row_sums[None, :]
    dot = ar.wrap32(acc)  # the C sum is int32
    out += dot.astype(np.float32) * row_scale  # fl32(out + fl32(float(dot) * scale))
    return hybrid.apply_vector_activation(out, data.activation)


def reference_loop(data: OpData, x: np.ndarray) -> np.ndarray:
    """Naive loop in the upstream order (batch, unit, depth), int8 / 16x8; tests only."""
    rows = x.reshape(-1, data.depth).astype(np.int64)
    w = data.weights.astype(np.int64)  # [depth, units], offset applied
    acc = np.zeros((rows.shape[0], data.units), np.int64)
    for b in range(rows.shape[0]):
        for u in range(data.units):
            total = 0
            for d in range(data.depth):
                total += int(w[d, u]) * (int(rows[b, d]) + data.input_offset)
            acc[b, u] = total
    out = np.empty(acc.shape, data.output_dtype)
    for u in range(data.units):  # one output unit at a time: its own multiplier
        assert data.requant is not None
        idx = u if data.requant.multiplier.size > 1 else 0
        single = ar.Requantizer(
            data.requant.how,
            data.requant.real[idx : idx + 1],
            data.requant.multiplier[idx : idx + 1],
            data.requant.shift[idx : idx + 1],
            data.requant.xnn_scale[idx : idx + 1],
        )
        bias = None if data.bias is None else data.bias[u : u + 1]
        unit = OpData(1, 1, data.input_offset, data.filter_offset, data.output_offset, single,
                      data.act_min, data.act_max, data.activation, np.int64,
                      np.zeros((1, 1), np.int64), bias, float("inf"), data.accumulator_bits,
                      data.output_dtype)
        out[:, u] = _requantize_to_output(unit, acc[:, u : u + 1])[:, 0]
    return out


reference_loop_int8 = reference_loop

FULLY_CONNECTED = Kernel(prepare, invoke)
