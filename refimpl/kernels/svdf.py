"""SVDF: a fully connected layer factored into a feature and a time filter, with memory.

An SVDF ("singular value decomposition filter", a rank-``rank`` factorisation of a
fully connected layer over the last ``memory_size`` frames) keeps a *state*: the last
``memory_size`` feature activations of each filter. Each invoke consumes one frame per
batch row and updates that state, so a model streams frames through consecutive invokes.

Inputs and layouts
------------------
0. ``input``            ``[batch, input_size]``
1. ``weights_feature``  ``[num_filters, input_size]``
2. ``weights_time``     ``[num_filters, memory_size]``
3. ``bias``             ``[num_units]`` (optional), ``num_units = num_filters / rank``
4. ``activation_state`` ``[batch, memory_size * num_filters]``, a *variable* tensor,
   read as ``[batch, num_filters, memory_size]`` (oldest frame first)

Output ``[batch, num_units]``. Options: ``rank``, ``fused_activation_function``,
``asymmetric_quantize_inputs`` (hybrid models only, not supported here).

One invoke (the equations; each runtime's order of float operations is below)::

    state[b, f, :-1] = state[b, f, 1:]                           # forget the oldest frame
    state[b, f, -1]  = sum_i weights_feature[f, i] * input[b, i] # the new frame
    t[b, f]          = sum_m weights_time[f, m] * state[b, f, m]
    out[b, u]        = act(sum_r t[b, u * rank + r] + bias[u])

The new state is returned after the output (``SVDF.state_inputs == (4,)``); the
interpreter stores it in the variable tensor for the next invoke.

Arithmetic (float32)
--------------------
No FMA: every product and every sum is rounded to float32.

* ``tflite-ref``: LiteRT's SVDF calls ``tensor_utils``, which the x86 pip wheel compiles
  to the NEON_2_SSE-translated ``Neon*`` functions. Every dot product and the rank
  reduction run in four lanes: lane ``l`` accumulates the terms ``k = l (mod 4)`` of the
  body ``k < 4 * floor(n / 4)`` in order, the lanes are added as
  ``((l0 + l1) + l2) + l3``, then the tail terms are added one by one. The bias is added
  after the rank sum.
* ``tflm``: plain loops. Each dot product sums its terms in order from ``0.0f``; the
  output starts from the bias (or 0) and adds the ``rank`` terms in order.

Fused activations NONE, RELU, RELU_N1_TO_1, RELU6 (as ``std::max / std::min`` in LiteRT,
``fmaxf / fminf`` in TFLM, which differ only on NaN).

Arithmetic (int8 input and output, int16 state: LiteRT and TFLM)
----------------------------------------------------------------
::

    acc1[b, f]   = sum_i w_f[f, i] * (x[b, i] - zp_in)                            # int32
    state[b,f,-1] = clamp(mbqm(acc1, m1, s1), -32768, 32767)
    acc2[b, f]   = sum_m w_t[f, m] * state[b, f, m]                               # int32
    acc3[b, u]   = sum_r acc2[b, u * rank + r] + bias[u]                          # int32
    out[b, u]    = clamp(mbqm(acc3, m2, s2) + zp_out, -128, 127)

with ``mbqm`` the double-rounding ``MultiplyByQuantizedMultiplier`` and

    S_in * S_wf / S_state = m1 * 2**(s1 - 31),   S_state * S_wt / S_out = m2 * 2**(s2 - 31)

evaluated in float32 and then widened (``tflite-ref``: ``(double)(s_in * s_wf / s_state)``
in ai-edge-litert 2.3.0; later LiteRT sources widen first), or in double from the
float32 scales (``tflm``, the tflite-micro wheel). Both were told apart on crafted
scales where the two multipliers round differently (compare/dev_check_svdf.py). The int32 sums wrap like
compiled C (reproduced with ``wrap32``; they only wrap for absurd sizes). The fused
activation is **not applied** on the integer path, by either runtime: the int8 clamp
is the only one (LiteRT refuses any activation but RELU; the converter always puts the
RELU into the output zero point, -128). LiteRT ignores the state zero point.

Arithmetic (int8 state: TFLM only)
----------------------------------
TFLM also accepts int8 ``weights_time`` with an int8 state that has a zero point::

    state[b,f,-1] = wrap8(zp_state + clamp(mbqm(acc1, m1, s1), -128, 127))
    acc2[b, f]    = sum_m w_t[f, m] * (state[b, f, m] - zp_state)

(the clamp comes *before* the zero point is added, and the sum is narrowed to int8 by
a wrapping conversion, as the tflite-micro wheel does). TFLM also requires a bias whose
scale is within 1e-5 of ``fl32(S_state * S_wt)``; it crashes (SIGSEGV) on an SVDF without
bias, of any type, so the ``tflm`` flavour refuses those. LiteRT has no such kernel: it reads
the int8 tensors as int16 (and crashes), so the ``tflite-ref`` flavour refuses them.

Mirrors: LiteRT tflite/kernels/svdf.cc (Prepare, Eval) and
tflite/kernels/internal/reference/svdf.h (EvalFloatSVDF, EvalIntegerSVDF), with
optimized/neon_tensor_utils.cc (NeonMatrixBatchVectorMultiplyAccumulate,
NeonVectorVectorDotProduct, NeonReductionSumVector) and portable_tensor_utils.cc
(ApplyReluToVector & co.); TFLM tensorflow/lite/micro/kernels/svdf.cc and svdf_common.cc
(PrepareSvdf, EvalFloatSvdfReference, EvalIntegerSvdfReference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import arithmetic as ar
from ..context import Kernel, OpContext

STATE_INPUT = 4  # position of the variable activation-state input

#: Fused activations reproduced on the float path (schema ActivationFunctionType).
FLOAT_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
RELU = 1

#: TFLM's tolerance between the bias scale and ``S_state * S_wt`` (svdf_common.cc).
TFLM_BIAS_SCALE_TOLERANCE = 1e-5

#: Float lanes of one NEON register (``kFloatValuesPerNeonVector``).
NEON_FLOAT_LANES = 4


@dataclass(frozen=True)
class OpData:
    """Everything ``invoke`` needs, precomputed in ``prepare``.

    Attributes
    ----------
    kind : str
        ``"float"`` or ``"integer"`` (int8 input and output, int16 or int8 state).
    batch, input_size, num_filters, num_units, memory_size, rank : int
    activation : int
        Fused activation code (applied on the float path only).
    lanes : bool
        Float path: sum dot products in NEON lanes (``tflite-ref``) or in order (``tflm``).
    tflm : bool
        Float path: TFLM's output order (bias first) and ``fmaxf / fminf`` clamps.
    input_zero_point, state_zero_point, output_zero_point : int
        Integer path. ``state_zero_point`` is 0 under ``tflite-ref`` (LiteRT ignores it).
    feature_multiplier, feature_shift : int
        ``S_in * S_wf / S_state`` as Q0.31 and shift (upstream ``effective_scale_1_a/b``).
    output_multiplier, output_shift : int
        ``S_state * S_wt / S_out`` (upstream ``effective_scale_2_a/b``).
    state_dtype : np.dtype
        Storage type of the state (float32, int16 or int8).
    """

    kind: str
    batch: int
    input_size: int
    num_filters: int
    num_units: int
    memory_size: int
    rank: int
    activation: int
    state_dtype: np.dtype
    lanes: bool = False
    tflm: bool = False
    input_zero_point: int = 0
    state_zero_point: int = 0
    output_zero_point: int = 0
    feature_multiplier: int = 0
    feature_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0


# --------------------------------------------------------------------------------------
# prepare
# --------------------------------------------------------------------------------------
def prepare(ctx: OpContext) -> OpData:
    if len(ctx.inputs) != 5 or len(ctx.outputs) != 1:
        raise ctx.error(f"needs 5 inputs and 1 output, got {len(ctx.inputs)} and "
                        f"{len(ctx.outputs)}")
    x, wf, wt, state = ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(STATE_INPUT)
    bias = ctx.optional_input(3)
    out = ctx.output(0)
    opts = ctx.options
    rank = int(getattr(opts, "rank", 0) or 0)
    activation = int(getattr(opts, "fused_activation_function", 0) or 0)

    for t, what in ((x, "input"), (wf, "weights_feature"), (wt, "weights_time"),
                    (state, "activation state")):
        if len(t.shape) != 2:
            raise ctx.error(f"{what} {t.describe()} must be rank 2")
    batch, input_size = x.shape
    num_filters = wf.shape[0]
    if rank < 1:
        raise ctx.error(f"rank must be >= 1, got {rank}")
    if num_filters % rank:
        raise ctx.error(f"num_filters {num_filters} is not a multiple of rank {rank}")
    num_units = num_filters // rank
    memory_size = wt.shape[1]
    if wf.shape[1] != input_size:
        raise ctx.error(f"weights_feature {wf.describe()} must have {input_size} columns")
    if wt.shape[0] != num_filters:
        raise ctx.error(f"weights_time {wt.describe()} must have {num_filters} rows")
    if bias is not None and (len(bias.shape) != 1 or bias.shape[0] != num_units):
        raise ctx.error(f"bias {bias.describe()} must have shape [{num_units}]")
    if state.shape != (batch, memory_size * num_filters):
        raise ctx.error(f"activation state {state.describe()} must have shape "
                        f"[{batch}, {memory_size * num_filters}] (memory_size * num_filters)")
    if bias is None and ctx.flavor.name == "tflm":
        raise ctx.unsupported("SVDF without bias: TFLite Micro crashes on it (SIGSEGV: "
                              "PrepareSvdf uses the absent bias tensor)",
                              supported="a bias tensor (under flavor 'tflm')")
    ctx.set_output_shape(0, (batch, num_units))
    shape = dict(batch=batch, input_size=input_size, num_filters=num_filters,
                 num_units=num_units, memory_size=memory_size, rank=rank)

    dtypes = [np.dtype(t.dtype) for t in (x, wf, wt, state, out)]
    if all(d == np.float32 for d in dtypes):
        if bias is not None and np.dtype(bias.dtype) != np.float32:
            raise ctx.unsupported(f"bias {bias.describe()} with float32 weights",
                                  "float32 bias")
        if activation not in FLOAT_ACTIVATIONS:
            raise ctx.unsupported(f"fused activation {activation} on float SVDF",
                                  supported="NONE, RELU, RELU_N1_TO_1, RELU6")
        tflm = ctx.flavor.name == "tflm"
        return OpData("float", activation=activation, state_dtype=np.dtype(np.float32),
                      lanes=not tflm, tflm=tflm, **shape)
    if dtypes[0] == np.float32 and dtypes[1] == np.int8:
        raise ctx.unsupported("hybrid SVDF (float32 input, int8 weights_feature) is not "
                              "implemented", supported=_SUPPORTED)
    if not (dtypes[0] == dtypes[1] == dtypes[4] == np.int8
            and dtypes[2] == dtypes[3] and dtypes[2] in (np.int16, np.int8)):
        raise ctx.unsupported(supported=_SUPPORTED)
    return _prepare_integer(ctx, shape, activation)


_SUPPORTED = ("float32; int8 input / weights_feature / output with int16 weights_time and "
              "state and int32 bias (TFLM also: int8 weights_time and state)")


def _prepare_integer(ctx: OpContext, shape: dict, activation: int) -> OpData:
    x, wf, wt, state = ctx.input(0), ctx.input(1), ctx.input(2), ctx.input(STATE_INPUT)
    bias = ctx.optional_input(3)
    out = ctx.output(0)
    tflm = ctx.flavor.name == "tflm"
    state_dtype = np.dtype(state.dtype)
    if state_dtype == np.int8 and not tflm:
        names = ", ".join(f"{n} {np.dtype(t.dtype).name}" for n, t in
                          (("input", x), ("weights_feature", wf), ("weights_time", wt),
                           ("state", state), ("output", out)))
        raise ctx.unsupported(
            f"int8 weights_time and int8 activation state ({names}) is a TFLite Micro-only "
            "variant: LiteRT's integer SVDF reads both as int16 (and crashes); use "
            "flavor='tflm'", supported=_SUPPORTED)
    for t in (x, wf, wt, state, out):
        if not t.is_quantized:
            raise ctx.error(f"tensor {t.describe()} has no quantization parameters")
    if bias is not None and np.dtype(bias.dtype) != np.int32:
        raise ctx.unsupported(f"bias {bias.describe()}", supported="int32 bias")
    if not tflm and activation != RELU:
        raise ctx.unsupported(f"fused activation {activation} on integer SVDF: LiteRT's "
                              "integer kernel requires RELU (which it does not apply)",
                              supported="RELU")

    s_in, s_wf, s_wt = (np.float32(t.scale[0]) for t in (x, wf, wt))
    s_state, s_out = np.float32(state.scale[0]), np.float32(out.scale[0])
    if tflm:
        assert bias is not None  # refused in prepare
        expected = float(s_state) * float(s_wt)
        if not abs(float(bias.scale[0]) - expected) < TFLM_BIAS_SCALE_TOLERANCE:
            raise ctx.error(f"bias scale {float(bias.scale[0])!r} differs from "
                            f"state scale * weights_time scale = {expected!r} by 1e-5 or "
                            "more (TFLM's check)")
        # every scale widened to double first
        real1 = float(s_in) * float(s_wf) / float(s_state)
        real2 = float(s_state) * float(s_wt) / float(s_out)
        state_zp = int(state.zero_point[0])
    else:
        # float32 products and quotients, widened to double afterwards
        real1 = float(np.float32(np.float32(s_in * s_wf) / s_state))
        real2 = float(np.float32(np.float32(s_state * s_wt) / s_out))
        state_zp = 0  # LiteRT assumes a symmetric state and never reads its zero point
    m1, sh1 = ar.quantize_multiplier(real1)
    m2, sh2 = ar.quantize_multiplier(real2)
    return OpData(
        "integer", activation=activation, state_dtype=state_dtype, tflm=tflm,
        input_zero_point=int(x.zero_point[0]), state_zero_point=state_zp,
        output_zero_point=int(out.zero_point[0]), feature_multiplier=m1,
        feature_shift=sh1, output_multiplier=m2, output_shift=sh2, **shape,
    )


# --------------------------------------------------------------------------------------
# invoke
# --------------------------------------------------------------------------------------
def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Returns ``[output, new_state]`` (the new state goes back into input 4)."""
    x, wf, wt, bias, state = inputs
    # [batch, num_filters, memory_size], oldest frame first
    memory = state.reshape(data.batch, data.num_filters, data.memory_size)
    if data.kind == "float":
        y, new_memory = eval_float(data, x, wf, wt, bias, memory)
    else:
        y, new_memory = eval_integer(data, x, wf, wt, bias, memory)
    return [y, new_memory.reshape(state.shape)]


def _shift_in(memory: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Drop the oldest frame of every filter and append ``frame`` ([batch, filters])."""
    new = np.empty_like(memory)
    new[..., :-1] = memory[..., 1:]
    new[..., -1] = frame
    return new


# -- float ------------------------------------------------------------------------------
Terms = Callable[[int, int], np.ndarray]


def sum_in_order(terms: Terms, n: int, start: np.ndarray | None = None) -> np.ndarray:
    """``((start + t0) + t1) + ...`` in float32, ``start`` 0 unless given.

    ``terms(k0, k1)`` returns the terms ``k0 .. k1-1`` along a new last axis.
    """
    total = terms(0, 0).sum(axis=-1) if start is None else start
    for k in range(n):
        total = total + terms(k, k + 1)[..., 0]
    return np.asarray(total, np.float32)


def sum_in_neon_lanes(terms: Terms, n: int) -> np.ndarray:
    """The four-lane float32 sum of the ``Neon*`` dot products and reductions.

    ::

        lane[l] = (((0 + t[l]) + t[l+4]) + t[l+8]) + ...      for k < body = n - n % 4
        total   = ((lane[0] + lane[1]) + lane[2]) + lane[3]
        total   = (total + t[body]) + t[body+1] + ...          # the tail, in order
    """
    body = n - n % NEON_FLOAT_LANES
    total = terms(0, 0).sum(axis=-1)
    if body:
        lanes = np.zeros_like(terms(0, NEON_FLOAT_LANES))
        for k in range(0, body, NEON_FLOAT_LANES):
            lanes = lanes + terms(k, k + NEON_FLOAT_LANES)
        total = ((lanes[..., 0] + lanes[..., 1]) + lanes[..., 2]) + lanes[..., 3]
    for k in range(body, n):
        total = total + terms(k, k + 1)[..., 0]
    return total


def eval_float(data: OpData, x: np.ndarray, wf: np.ndarray, wt: np.ndarray,
               bias: np.ndarray | None, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 SVDF on ``memory`` ``[batch, filters, memory_size]``; returns (out, memory)."""
    x = x.astype(np.float32, copy=False)[:, None, :]  # [batch, 1, input]
    wf = wf.astype(np.float32, copy=False)[None]  # [1, filters, input]
    wt = wt.astype(np.float32, copy=False)  # [filters, memory]
    dot = sum_in_neon_lanes if data.lanes else sum_in_order

    # [batch, filters]: products rounded to float32, then added (no FMA)
    frame = dot(lambda k0, k1: x[..., k0:k1] * wf[..., k0:k1], data.input_size)
    memory = _shift_in(memory, frame)
    t = dot(lambda k0, k1: memory[..., k0:k1] * wt[..., k0:k1], data.memory_size)
    t = t.reshape(data.batch, data.num_units, data.rank)
    b = None if bias is None else bias.astype(np.float32, copy=False)
    if data.tflm:  # output = bias (or 0), then += each rank term
        y = sum_in_order(lambda r0, r1: t[..., r0:r1], data.rank, start=b)
    else:  # output = rank sum (NEON lanes), then += bias
        y = dot(lambda r0, r1: t[..., r0:r1], data.rank)
        if b is not None:
            y = y + b
    return activation_float(y, data.activation, fmax_fmin=data.tflm), memory


def activation_float(y: np.ndarray, activation: int, *, fmax_fmin: bool) -> np.ndarray:
    """The fused clamp activations, as ``std::max(lo, std::min(y, hi))`` or with ``fmaxf``.

    ``std::max(a, b)`` is ``a < b ? b : a`` and ``std::min(a, b)`` is ``b < a ? b : a``
    (LiteRT's ``ApplyReluToVector`` & co.); glibc's ``fmaxf / fminf`` (TFLM's
    ``ActivationValFloat``) return the non-NaN operand. Both map NaN to ``lo`` under
    RELU; under RELU6 / RELU_N1_TO_1, ``std::`` gives ``lo`` and ``f`` gives ``hi``.
    """
    y = np.asarray(y, np.float32)
    if activation == 0:
        return y
    lo, hi = {1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}[activation]
    lo32 = np.float32(lo)
    if hi is not None:
        hi32 = np.float32(hi)
        if fmax_fmin:  # fminf(y, hi): y unless y > hi or y is NaN
            y = np.where(y <= hi32, y, hi32)
        else:  # std::min(y, hi)
            y = np.where(hi32 < y, hi32, y)
    if fmax_fmin:  # fmaxf(lo, y): lo if lo >= y or y is NaN
        y = np.where((lo32 >= y) | np.isnan(y), lo32, y)
    else:  # std::max(lo, y)
        y = np.where(lo32 < y, y, lo32)
    return y.astype(np.float32, copy=False)


# -- integer ----------------------------------------------------------------------------
def narrow(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """C's conversion of an ``int32_t`` to a narrower signed type: keep the low bits.

    (Implementation-defined before C++20, modular on every compiler the runtimes use.)
    """
    bits = 8 * np.dtype(dtype).itemsize
    x = np.asarray(x, np.int64)
    return ((x + (1 << (bits - 1))) & ((1 << bits) - 1)) - (1 << (bits - 1))


def eval_integer(data: OpData, x: np.ndarray, wf: np.ndarray, wt: np.ndarray,
                 bias: np.ndarray | None, memory: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer SVDF (int16 or int8 state); returns (int8 output, new memory)."""
    lo, hi = ar.qrange(data.state_dtype)
    rows = x.astype(np.int64) - data.input_zero_point  # [batch, input]
    acc1 = ar.wrap32(rows @ wf.astype(np.int64).T)  # [batch, filters], int32 like C
    y1 = ar.multiply_by_quantized_multiplier(acc1, data.feature_multiplier, data.feature_shift)
    if data.state_zero_point:  # TFLM int8 state: clamp, add the zero point, narrow
        frame = narrow(np.clip(y1, lo, hi) + data.state_zero_point, data.state_dtype)
    else:
        frame = np.clip(y1, lo, hi)
    memory = _shift_in(memory, frame.astype(data.state_dtype))

    centred = memory.astype(np.int64) - data.state_zero_point
    acc2 = ar.wrap32(np.einsum("bfm,fm->bf", centred, wt.astype(np.int64)))
    acc3 = acc2.reshape(data.batch, data.num_units, data.rank).sum(axis=-1)
    if bias is not None:
        acc3 = acc3 + bias.astype(np.int64)
    y2 = ar.multiply_by_quantized_multiplier(ar.wrap32(acc3), data.output_multiplier,
                                             data.output_shift)
    out = np.clip(y2 + data.output_zero_point, -128, 127).astype(np.int8)
    return out, memory


def reference_loop_integer(data: OpData, x: np.ndarray, wf: np.ndarray, wt: np.ndarray,
                           bias: np.ndarray | None,
                           state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Naive loop in the upstream order, on the flat state; tests only.

    Returns (output, new flat state). Python ints throughout, wrapped to int32 where C
    stores into an ``int32_t``.
    """
    n_mem, n_filt = data.memory_size, data.num_filters
    lo, hi = ar.qrange(data.state_dtype)
    s = [int(v) for v in state.reshape(-1)]
    s[:-1] = s[1:]  # std::copy(state + 1, end, state): shift the whole buffer left
    for b in range(data.batch):
        for f in range(n_filt):
            acc = 0
            for i in range(data.input_size):
                acc += int(wf[f, i]) * (int(x[b, i]) - data.input_zero_point)
            acc = int(ar.wrap32(np.int64(acc)))
            y = int(ar.multiply_by_quantized_multiplier(np.int64(acc), data.feature_multiplier,
                                                        data.feature_shift))
            y = min(max(y, lo), hi) + data.state_zero_point
            s[(b * n_filt + f) * n_mem + n_mem - 1] = int(narrow(np.int64(y), data.state_dtype))
    out = np.empty((data.batch, data.num_units), np.int8)
    for b in range(data.batch):
        scratch = []
        for f in range(n_filt):
            acc = 0
            for m in range(n_mem):
                acc += int(wt[f, m]) * (s[(b * n_filt + f) * n_mem + m] - data.state_zero_point)
            scratch.append(int(ar.wrap32(np.int64(acc))))
        for u in range(data.num_units):
            acc = 0 if bias is None else int(bias[u])
            for r in range(data.rank):
                acc += scratch[u * data.rank + r]
            acc = int(ar.wrap32(np.int64(acc)))
            y = int(ar.multiply_by_quantized_multiplier(np.int64(acc), data.output_multiplier,
                                                        data.output_shift))
            out[b, u] = min(max(y + data.output_zero_point, -128), 127)
    return out, np.array(s, data.state_dtype).reshape(state.shape)


SVDF = Kernel(prepare, invoke, state_inputs=(STATE_INPUT,))
