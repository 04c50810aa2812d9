"""UNIDIRECTIONAL_SEQUENCE_LSTM: a whole LSTM sequence per invoke, with recurrent state.

Tensors (input positions of the op, as in the schema / ``lstm_shared.h``)
----------------------------------------------------------------------------
==  ===========================  ===========================  ==========================
0   input                        ``[B, T, I]`` (``[T, B, I]`` when ``time_major``)
1-4 input_to_{i,f,c,o} weights   ``[n_cell, I]``               input gate absent = CIFG
5-8 recurrent_to_{i,f,c,o}       ``[n_cell, n_output]``        (rank 1: diagonal, float)
9-11 cell_to_{i,f,o} (peephole)  ``[n_cell]``                  optional, all or none
12-15 {i,f,c,o} gate bias        ``[n_cell]``                  float32 / int32
16, 17 projection weights, bias  ``[n_output, n_cell]``, ``[n_output]``   optional
18  output_state  (variable)     ``[B, n_output]``             h, int8 in the int8 kind
19  cell_state    (variable)     ``[B, n_cell]``               c, int16 in the int8 kind
20-23 layer norm {i,f,c,o}       ``[n_cell]``                  optional
==  ===========================  ===========================  ==========================

Output ``[B, T, n_output]`` (``[T, B, n_output]`` time-major): the hidden state after each
step. Inputs 18 and 19 are the op's state (``Kernel.state_inputs``): each invoke starts
from their values and leaves the last step's h and c in them. Rows of a batch never
interact, so every step is vectorised over the batch; the loop over time is inherent.
Neither runtime resizes the state with the batch: both check that the state holds
exactly ``B * n_output`` (``B * n_cell``) values, and so does ``prepare``.

Kinds: float32, and int8 (int8 input / h / weights, int16 c, int32 biases, int16
peephole and layer-norm weights). Hybrid (float input, int8 weights) is not supported.

Float arithmetic, per gate (sigmoid; the cell gate uses the fused activation)::

    z = (W_x x + b) + W_h h  [+ w_c * c]          float32, no FMA
    z = LN(z) * ln_w + b     (layer norm, then the bias instead of above)
    i, f, o = sigmoid(z_i, z_f, z_o);  g = act(z_c);  CIFG: i = 1 - f
    c = f * c + g * i  (then clip to +-cell_clip);  h = o * act(c)  [projection]

LiteRT evaluates ``W x`` with Eigen's GEMV and sigmoid / tanh with Eigen's vectorised
approximations; TFLM with plain loops and libm (see the float section below).

Int8 arithmetic: LiteRT and TFLM use two different algorithms, compared in
:mod:`.unidirectional_sequence_lstm_int8` (``step_litert``, ``step_micro``). The op's
``intermediates`` tensors give, for LiteRT, the scale of the hidden state ``o * tanh(c)``
(intermediate 4) and, with layer norm, of each gate's matmul output (0-3); TFLM ignores
them and uses the output state's scale instead.

Mirrors: tflite/kernels/unidirectional_sequence_lstm.cc (Prepare,
``PopulateQuantizedLstmParams8x8_16``, ``PopulatePrecomputedZPTimesWeightsWithBias``),
tflite/kernels/lstm_eval.cc (``LstmStepFloat``, ``LstmStepInteger8x8_16``),
reference/portable_tensor_utils.cc; tflite-micro micro/kernels/unidirectional_sequence_lstm.cc,
lstm_eval.h, lstm_eval.cc, lstm_eval_common.cc.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import arithmetic as ar
from .. import fixedpoint as fp
from ..context import Kernel, OpContext, TensorInfo
from . import logistic
from .unidirectional_sequence_lstm_int8 import IntegerGate, IntegerLstm, step_litert, step_micro

# Input positions (tflite/kernels/lstm_shared.h).
INPUT = 0
INPUT_WEIGHTS = {"i": 1, "f": 2, "c": 3, "o": 4}
RECURRENT_WEIGHTS = {"i": 5, "f": 6, "c": 7, "o": 8}
CELL_WEIGHTS = {"i": 9, "f": 10, "o": 11}
GATE_BIAS = {"i": 12, "f": 13, "c": 14, "o": 15}
PROJECTION_WEIGHTS, PROJECTION_BIAS = 16, 17
OUTPUT_STATE, CELL_STATE = 18, 19
LAYER_NORM = {"i": 20, "f": 21, "c": 22, "o": 23}
GATES = ("i", "f", "c", "o")
#: Intermediate holding the scale / zero point of ``o * tanh(c)`` (int8, LiteRT).
HIDDEN_INTERMEDIATE = 4

# Fused activations (schema ActivationFunctionType) the float kernel applies.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH = 0, 1, 2, 3, 4
_FLOAT_ACTIVATIONS = (ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH)

_F32, _I8, _I16, _I32 = (np.dtype(t) for t in (np.float32, np.int8, np.int16, np.int32))


# ======================================================================================
# OpData
# ======================================================================================
@dataclass(frozen=True)
class FloatGate:
    """One gate of the float kernel. Weights are transposed for ``x @ w``.

    Attributes
    ----------
    input_weights : float32 ``[n_input, n_cell]``
    recurrent_weights : float32 ``[n_output, n_cell]``, or ``[n_cell]`` when diagonal
    bias : float32 ``[n_cell]``
    cell_weights : float32 ``[n_cell]`` or None (peephole)
    layer_norm : float32 ``[n_cell]`` or None
    """

    input_weights: np.ndarray
    recurrent_weights: np.ndarray
    bias: np.ndarray
    cell_weights: np.ndarray | None
    layer_norm: np.ndarray | None


@dataclass(frozen=True)
class OpData:
    """Everything ``invoke`` needs.

    Attributes
    ----------
    kind : str
        ``"float"`` or ``"int8"``.
    time_major : bool
    n_batch, n_time, n_input, n_cell, n_output : int
    use_cifg : bool
        No input gate: ``i = 1 - f``.
    gates : dict of str to FloatGate
        Float kind: keys ``"i"`` (absent under CIFG), ``"f"``, ``"c"``, ``"o"``.
    activation : int
        Fused activation of the cell gate and of the cell state (float kind).
    cell_clip, proj_clip : float
        Float clipping (0 = none).
    projection_weights, projection_bias : float32 or None
        ``[n_cell, n_output]`` and ``[n_output]`` (float kind).
    integer : IntegerLstm or None
        The int8 kinds' parameters (:mod:`.unidirectional_sequence_lstm_int8`).
    tflm : bool
        TFLM's arithmetic instead of LiteRT's.
    """

    kind: str
    time_major: bool
    n_batch: int
    n_time: int
    n_input: int
    n_cell: int
    n_output: int
    use_cifg: bool
    gates: dict
    activation: int
    cell_clip: float
    proj_clip: float
    projection_weights: np.ndarray | None = None
    projection_bias: np.ndarray | None = None
    integer: IntegerLstm | None = None
    tflm: bool = False


# ======================================================================================
# prepare
# ======================================================================================
def prepare(ctx: OpContext) -> OpData:
    """Validate the 24 inputs, set the output shape and precompute the gate parameters.

    Mirrors: ``Prepare`` / ``CheckInputTensorDimensions`` (LiteRT) and
    ``UnidirectionalSequenceLstmPrepare`` / ``ValidateTensorSize`` (TFLM).
    """
    time_major = bool(_option(ctx, "time_major", False))
    activation = int(_option(ctx, "fused_activation_function", ACT_NONE))
    cell_clip = float(np.float32(_option(ctx, "cell_clip", 0.0)))
    proj_clip = float(np.float32(_option(ctx, "proj_clip", 0.0)))
    if len(ctx.inputs) not in (20, 24):
        raise ctx.error(f"expects 20 or 24 inputs, got {len(ctx.inputs)}")
    ctx.require(cell_clip >= 0 and proj_clip >= 0, "cell_clip and proj_clip must be >= 0")
    x = ctx.input(INPUT)
    if len(x.shape) != 3:
        raise ctx.unsupported(f"input {x.describe()} of rank {len(x.shape)}",
                              supported="rank-3 input [batch, time, features]")
    n_time, n_batch = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    n_input = x.shape[2]
    w_out = ctx.input(INPUT_WEIGHTS["o"])
    ctx.require(len(w_out.shape) == 2 and w_out.shape[1] == n_input,
                f"input_to_output weights {w_out.describe()} must be [n_cell, {n_input}]")
    n_cell = w_out.shape[0]
    r_out = ctx.input(RECURRENT_WEIGHTS["o"])
    n_output = r_out.shape[0] if len(r_out.shape) == 1 else r_out.shape[-1]
    use_cifg = ctx.optional_input(INPUT_WEIGHTS["i"]) is None
    _check_shapes(ctx, n_input, n_cell, n_output, use_cifg)
    h, c = ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    # Neither runtime grows the state with the batch (their NumElements checks).
    ctx.require(h.size == n_batch * n_output,
                f"output_state {h.describe()} must hold batch x n_output = "
                f"{n_batch} x {n_output} values")
    ctx.require(c.size == n_batch * n_cell,
                f"cell_state {c.describe()} must hold batch x n_cell = {n_batch} x {n_cell}")
    ctx.set_output_shape(0, (*x.shape[:2], n_output))
    common = dict(time_major=time_major, n_batch=n_batch, n_time=n_time, n_input=n_input,
                  n_cell=n_cell, n_output=n_output, use_cifg=use_cifg,
                  activation=activation, cell_clip=cell_clip, proj_clip=proj_clip)
    tflm = ctx.flavor.name == "tflm"
    if tflm:
        _check_micro_support(ctx, use_cifg, activation)
    dtypes = (np.dtype(x.dtype), np.dtype(w_out.dtype), np.dtype(ctx.output(0).dtype))
    if dtypes == (_F32, _F32, _F32):
        return _prepare_float(ctx, common, tflm)
    if dtypes == (_I8, _I8, _I8):
        if tflm:
            return _prepare_int8_micro(ctx, common)
        return _prepare_int8_litert(ctx, common)
    raise ctx.unsupported(supported="float32; int8 input / weights / output with int16 cell "
                          "state (hybrid LSTM is not supported)")


def _option(ctx: OpContext, name: str, default: Any) -> Any:
    """Builtin option ``name``; the schema default when the options table is absent."""
    return default if ctx.options is None else getattr(ctx.options, name, default)


def _check_shapes(ctx: OpContext, n_input: int, n_cell: int, n_output: int,
                  use_cifg: bool) -> None:
    """``CheckInputTensorDimensions``: shapes, all-or-none groups, CIFG consistency."""
    for g in GATES:
        w = ctx.optional_input(INPUT_WEIGHTS[g])
        r = ctx.optional_input(RECURRENT_WEIGHTS[g])
        b = ctx.optional_input(GATE_BIAS[g])
        if g == "i" and use_cifg:
            ctx.require(r is None and b is None,
                        "CIFG (no input_to_input weights) needs no recurrent_to_input "
                        "weights and no input gate bias")
            continue
        for t, pos in ((w, INPUT_WEIGHTS[g]), (r, RECURRENT_WEIGHTS[g]), (b, GATE_BIAS[g])):
            if t is None:
                raise ctx.error(f"input {pos} ({g} gate) is required")
            if t.data is None:
                raise ctx.unsupported(f"input {pos} {t.describe()} is not constant")
        assert w is not None and r is not None and b is not None
        ctx.require(w.shape == (n_cell, n_input), f"{w.describe()} must be [{n_cell}, {n_input}]")
        ctx.require(r.shape in ((n_cell, n_output), (n_cell,)),
                    f"{r.describe()} must be [{n_cell}, {n_output}] (or [{n_cell}])")
        ctx.require(b.shape == (n_cell,), f"{b.describe()} must be [{n_cell}]")
    peep = [ctx.optional_input(CELL_WEIGHTS[g]) for g in ("i", "f", "o")]
    have = [t is not None for t in peep]
    ctx.require(not any(have) or (all(have[1:]) and (have[0] or use_cifg)),
                "peephole weights must be all present or all absent")
    for t in peep:
        if t is not None:
            ctx.require(t.shape == (n_cell,) and t.data is not None,
                        f"peephole {t.describe()} must be a constant [{n_cell}]")
    pw = ctx.optional_input(PROJECTION_WEIGHTS)
    pb = ctx.optional_input(PROJECTION_BIAS)
    ctx.require(pw is not None or pb is None, "projection bias without projection weights")
    if pw is None:
        ctx.require(n_output == n_cell, f"without projection n_output ({n_output}) must "
                    f"equal n_cell ({n_cell})")
    else:
        ctx.require(pw.shape == (n_output, n_cell) and pw.data is not None,
                    f"projection {pw.describe()} must be a constant [{n_output}, {n_cell}]")
    if pb is not None:
        ctx.require(pb.shape == (n_output,) and pb.data is not None,
                    f"projection bias {pb.describe()} must be a constant [{n_output}]")
    ln = [ctx.optional_input(LAYER_NORM[g]) if len(ctx.inputs) == 24 else None for g in GATES]
    if ln[1] is not None:  # the forget coefficients decide (LiteRT Prepare)
        for g, t in zip(GATES, ln):
            if g == "i" and use_cifg:
                ctx.require(t is None, "CIFG with input layer-norm coefficients")
                continue
            ctx.require(t is not None and t.shape == (n_cell,) and t.data is not None,
                        f"layer norm: input {LAYER_NORM[g]} must be a constant [{n_cell}]")


def _check_micro_support(ctx: OpContext, use_cifg: bool, activation: int) -> None:
    """TFLM's LSTM is the plain Keras LSTM (``LstmTensors::ValidateTensorStatus``)."""
    absent = [CELL_WEIGHTS["i"], CELL_WEIGHTS["f"], CELL_WEIGHTS["o"], PROJECTION_WEIGHTS,
              PROJECTION_BIAS, *LAYER_NORM.values()]
    if use_cifg or any(ctx.optional_input(p) is not None for p in absent):
        raise ctx.unsupported("CIFG, peephole, projection or layer norm",
                              supported="TFLM: the standard LSTM only")
    for g in GATES:
        if len(ctx.input(RECURRENT_WEIGHTS[g]).shape) != 2:
            raise ctx.unsupported("diagonal recurrent weights", supported="TFLM: matrices")
    if activation != ACT_TANH:  # CalculateLstmGate: anything else is TFLITE_ASSERT_FALSE
        raise ctx.unsupported(f"fused activation {activation}", supported="TFLM: TANH")


def _data(t: TensorInfo | None, dtype: type) -> np.ndarray | None:
    return None if t is None else np.asarray(t.data).astype(dtype)


def _prepare_float(ctx: OpContext, common: dict, tflm: bool) -> OpData:
    for pos in (OUTPUT_STATE, CELL_STATE):
        ctx.require(np.dtype(ctx.input(pos).dtype) == _F32, "float LSTM needs float32 state")
    activation = common["activation"]
    if activation not in _FLOAT_ACTIVATIONS:
        raise ctx.unsupported(f"fused activation {activation}", supported="NONE, RELU, "
                              "RELU_N1_TO_1, RELU6, TANH")
    gates = {}
    for g in GATES:
        if g == "i" and common["use_cifg"]:
            continue
        gates[g] = FloatGate(
            input_weights=np.ascontiguousarray(_data(ctx.input(INPUT_WEIGHTS[g]), np.float32).T),
            recurrent_weights=np.ascontiguousarray(
                _data(ctx.input(RECURRENT_WEIGHTS[g]), np.float32).T),
            bias=_data(ctx.input(GATE_BIAS[g]), np.float32),
            cell_weights=_data(ctx.optional_input(CELL_WEIGHTS.get(g, -1)), np.float32)
            if g != "c" else None,
            layer_norm=_data(_layer_norm_input(ctx, g), np.float32),
        )
    pw = _data(ctx.optional_input(PROJECTION_WEIGHTS), np.float32)
    return OpData(kind="float", gates=gates, tflm=tflm,
                  projection_weights=None if pw is None else np.ascontiguousarray(pw.T),
                  projection_bias=_data(ctx.optional_input(PROJECTION_BIAS), np.float32),
                  **common)


def _layer_norm_input(ctx: OpContext, gate: str) -> TensorInfo | None:
    if len(ctx.inputs) != 24 or ctx.optional_input(LAYER_NORM["f"]) is None:
        return None
    return ctx.optional_input(LAYER_NORM[gate])


def _scale(ctx: OpContext, t: TensorInfo) -> np.float32:
    """The (single) float32 scale of a quantized tensor."""
    if not t.is_quantized:
        raise ctx.error(f"tensor {t.describe()} has no quantization parameters")
    if t.is_per_channel:
        raise ctx.unsupported(f"per-channel quantization of {t.describe()}",
                              supported="per-tensor scales (the kernels read one scale)")
    return np.float32(t.scale[0])


def _zero_point(t: TensorInfo) -> int:
    return int(t.zero_point[0]) if t.zero_point.size else 0


def _check_int8_tensors(ctx: OpContext) -> tuple[TensorInfo, TensorInfo, TensorInfo]:
    """Types of the int8 kind; returns (input, output_state, cell_state)."""
    x, h, c = ctx.input(INPUT), ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    ctx.require(np.dtype(h.dtype) == _I8, f"output_state {h.describe()} must be int8")
    ctx.require(np.dtype(c.dtype) == _I16, f"cell_state {c.describe()} must be int16")
    for g in GATES:
        for pos in (INPUT_WEIGHTS[g], RECURRENT_WEIGHTS[g]):
            t = ctx.optional_input(pos)
            if t is not None:
                ctx.require(np.dtype(t.dtype) == _I8 and len(t.shape) == 2,
                            f"weights {t.describe()} must be an int8 matrix")
                _scale(ctx, t)
        b = ctx.optional_input(GATE_BIAS[g])
        if b is not None:
            ctx.require(np.dtype(b.dtype) == _I32, f"bias {b.describe()} must be int32")
    for g in ("i", "f", "o"):
        t = ctx.optional_input(CELL_WEIGHTS[g])
        if t is not None:
            ctx.require(np.dtype(t.dtype) == _I16, f"peephole {t.describe()} must be int16")
    for t in (x, h, c):
        _scale(ctx, t)
    return x, h, c


def _cell_scale_log2(ctx: OpContext, s_cell: np.float32) -> tuple[int, bool]:
    """``CheckedLog2``: ``round(log(s) / log(2))`` in float32 and whether it is exact.

    ``x_log2 = fl32(logf(s) * fl32(1 / logf(2)))``; exact when |x_log2 - round| < 1e-3.
    """
    log2 = np.float32(np.float32(np.log(np.float64(s_cell))) *
                      np.float32(np.float32(1.0) / np.float32(np.log(2.0))))
    rounded = float(ar.round_half_away(float(log2)))
    return int(rounded), abs(float(log2) - rounded) < 1e-3


def _prepare_int8_litert(ctx: OpContext, common: dict) -> OpData:
    """LiteRT: ``PopulateQuantizedLstmParams8x8_16`` + zero-point folding.

    Effective scales in float32 (as upstream, all ``float`` variables)::

        e_x = fl32(fl32(S_wx * S_in) / S_gate)       S_gate = 2**-12, or intermediate k
        e_h = fl32(fl32(S_wh * S_h) / S_gate)           under layer norm (k = 0..3)
        e_c = fl32(2**cell_log2 * S_wc / S_gate)      (double, then float)
        e_hidden = fl32(2**-15 / S_hidden * 2**-15)   (double; S_hidden = intermediate 4)
        e_proj = fl32(fl32(S_proj * S_hidden) / S_h)
        (multiplier, shift) = QuantizeMultiplier(double(e))
    """
    x, h, c = _check_int8_tensors(ctx)
    if len(ctx.intermediates) != 5 or any(t is None for t in ctx.intermediates):
        raise ctx.error(f"the int8 LSTM needs 5 intermediate tensors, got "
                        f"{len(ctx.intermediates)}")
    for g in GATES:
        if ctx.optional_input(RECURRENT_WEIGHTS[g]) is not None and \
                len(ctx.input(RECURRENT_WEIGHTS[g]).shape) != 2:
            raise ctx.unsupported("diagonal recurrent weights on int8")
    use_peephole = ctx.optional_input(CELL_WEIGHTS["o"]) is not None
    if use_peephole and common["n_output"] > common["n_cell"]:
        # LiteRT walks the peephole with the output width (see _peephole_litert): here
        # it would read past the peephole weights.
        raise ctx.unsupported("int8 peephole with n_output > n_cell")
    use_layer_norm = _layer_norm_input(ctx, "f") is not None
    hidden = ctx.intermediates[HIDDEN_INTERMEDIATE]
    assert hidden is not None
    s_hidden, hidden_zp = _scale(ctx, hidden), _zero_point(hidden)
    s_in, s_h, s_c = _scale(ctx, x), _scale(ctx, h), _scale(ctx, c)
    zp_in, zp_h = _zero_point(x), _zero_point(h)
    cell_log2, exact = _cell_scale_log2(ctx, s_c)
    if not exact:
        raise ctx.error(f"cell_state scale {float(s_c)!r} is not a power of two")
    if not -15 <= cell_log2 <= -9:  # PortableApplyTanh handles 0..6 integer bits only
        raise ctx.unsupported(f"cell_state scale 2**{cell_log2}", supported="2**-15 .. 2**-9")
    gates = {}
    for k, g in enumerate(GATES):
        if g == "i" and common["use_cifg"]:
            continue
        s_gate = _scale(ctx, ctx.intermediates[k]) if use_layer_norm else np.float32(2**-12)
        w, r = ctx.input(INPUT_WEIGHTS[g]), ctx.input(RECURRENT_WEIGHTS[g])
        wx, wh = _data(w, np.int64), _data(r, np.int64)
        bias = _data(ctx.input(GATE_BIAS[g]), np.int64)
        mx, sx = ar.quantize_multiplier(float(np.float32(_scale(ctx, w) * s_in) / s_gate))
        mh, sh = ar.quantize_multiplier(float(np.float32(_scale(ctx, r) * s_h) / s_gate))
        # PrecomputeZeroPointTimesWeightWithBias: int32 bias + rowsum * (-zp)
        input_bias = ar.wrap32((0 if use_layer_norm else bias) + wx.sum(axis=1) * -zp_in)
        extra: dict = {}
        wc = ctx.optional_input(CELL_WEIGHTS.get(g, -1)) if g != "c" else None
        if wc is not None:
            e_c = np.float32(2.0**cell_log2 * float(_scale(ctx, wc)) / float(s_gate))
            mc, sc = ar.quantize_multiplier(float(e_c))
            extra.update(cell_weights=_data(wc, np.int64), cell_multiplier=mc, cell_shift=sc)
        if use_layer_norm:
            ln = _layer_norm_input(ctx, g)
            assert ln is not None
            s_ln = _scale(ctx, ln)
            ml, sl = ar.quantize_multiplier(float(s_ln))
            guard = max(1, int(np.float32(10000) * s_ln))  # truncating cast
            extra.update(layer_norm=_data(ln, np.int64), layer_norm_bias=bias,
                         layer_norm_multiplier=ml, layer_norm_shift=sl, variance_guard=guard)
        gates[g] = IntegerGate(
            input_weights=np.ascontiguousarray(wx.T), recurrent_weights=np.ascontiguousarray(wh.T),
            input_bias=input_bias, recurrent_bias=ar.wrap32(wh.sum(axis=1) * -zp_h),
            input_multiplier=mx, input_shift=sx, recurrent_multiplier=mh, recurrent_shift=sh,
            **extra)
    e_hidden = np.float32(2.0**-15 / float(s_hidden) * 2.0**-15)
    hm, hs = ar.quantize_multiplier(float(e_hidden))
    cell_clip, proj_clip = np.float32(common["cell_clip"]), np.float32(common["proj_clip"])
    qcell = int(np.clip(cell_clip / s_c, -32768, 32767)) if cell_clip > 0 else 0
    proj: dict = {}
    pw = ctx.optional_input(PROJECTION_WEIGHTS)
    if pw is not None:
        ctx.require(np.dtype(pw.dtype) == _I8, f"projection {pw.describe()} must be int8")
        wp = _data(pw, np.int64)
        pb = _data(ctx.optional_input(PROJECTION_BIAS), np.int64)
        mp, sp = ar.quantize_multiplier(float(np.float32(_scale(ctx, pw) * s_hidden) / s_h))
        qproj = int(np.clip(proj_clip / s_h, -128, 127)) if proj_clip > 0 else 0
        proj = dict(projection_weights=np.ascontiguousarray(wp.T),
                    projection_bias=ar.wrap32((0 if pb is None else pb)
                                              + wp.sum(axis=1) * hidden_zp),
                    projection_multiplier=mp, projection_shift=sp, quantized_proj_clip=qproj)
    integer = IntegerLstm(
        micro=False, gates=gates, time_major=common["time_major"], n_batch=common["n_batch"],
        n_output=common["n_output"], cell_scale_log2=cell_log2, quantized_cell_clip=qcell,
        clip_cell=qcell > 0, hidden_multiplier=hm, hidden_shift=hs,
        hidden_zero_point=hidden_zp, output_state_zero_point=zp_h, **proj)
    return OpData(kind="int8", gates={}, integer=integer, **common)


def _prepare_int8_micro(ctx: OpContext, common: dict) -> OpData:
    """TFLM: ``PrepareGateParametersInteger`` + ``CreateLstmCellStateInfo``.

    Each of the 8 fully connected layers maps to Q3.12 (scale 2**-12) with the
    multiplier of ``double(S_in) * double(S_w) / 2**-12``; the three elementwise products
    use ``double(S_a) * double(S_b) / double(S_out)`` with 2**-15 for the gate outputs::

        f * c -> c :  2**-15 * S_c / S_c       i * g -> c :  2**-30 / S_c
        tanh(c) * o -> h :  2**-30 / S_h  (+ zp_h)
    """
    x, h, c = _check_int8_tensors(ctx)
    s_in, s_h, s_c = _scale(ctx, x), _scale(ctx, h), _scale(ctx, c)
    zp_in, zp_h = _zero_point(x), _zero_point(h)
    gate_scale = np.float32(2**-12)
    gates = {}
    for g in GATES:
        w, r = ctx.input(INPUT_WEIGHTS[g]), ctx.input(RECURRENT_WEIGHTS[g])
        # Products in double: the tflite-micro wheel's multipliers (the float32 product
        # that tflite-micro's kernel_util.cc source suggests mismatched a cell state).
        mx, sx = ar.quantize_multiplier(float(s_in) * float(_scale(ctx, w)) / float(gate_scale))
        mh, sh = ar.quantize_multiplier(float(s_h) * float(_scale(ctx, r)) / float(gate_scale))
        wx, wh = _data(w, np.int64), _data(r, np.int64)
        # (x - zp) @ W + b folded into x @ W + (b - zp * rowsum): the same integers
        gates[g] = IntegerGate(
            input_weights=np.ascontiguousarray(wx.T), recurrent_weights=np.ascontiguousarray(wh.T),
            input_bias=_data(ctx.input(GATE_BIAS[g]), np.int64) - zp_in * wx.sum(axis=1),
            recurrent_bias=-zp_h * wh.sum(axis=1),
            input_multiplier=mx, input_shift=sx, recurrent_multiplier=mh, recurrent_shift=sh)
    cell_log2, _ = _cell_scale_log2(ctx, s_c)  # TFLM ignores whether it is exact
    s15 = 2.0**-15
    fm, fs = ar.quantize_multiplier(s15 * float(s_c) / float(s_c))
    im, is_ = ar.quantize_multiplier(s15 * s15 / float(s_c))
    hm, hs = ar.quantize_multiplier(s15 * s15 / float(s_h))
    clip = common["cell_clip"]
    qcell = int(np.clip(clip / float(s_c), -32768.0, 32767.0))  # double, truncating
    integer = IntegerLstm(
        micro=True, gates=gates, time_major=common["time_major"], n_batch=common["n_batch"],
        n_output=common["n_output"], cell_scale_log2=cell_log2, quantized_cell_clip=qcell,
        clip_cell=common["cell_clip"] > 0, hidden_multiplier=hm, hidden_shift=hs,
        hidden_zero_point=zp_h, output_state_zero_point=zp_h, forget_multiplier=fm,
        forget_shift=fs, input_multiplier=im, input_shift=is_)
    return OpData(kind="int8", gates={}, integer=integer, tflm=True, **common)


# ======================================================================================
# invoke
# ======================================================================================
def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Run the sequence; returns ``[output, new output_state, new cell_state]``."""
    x = np.asarray(inputs[INPUT])
    seq = x if data.time_major else x.transpose(1, 0, 2)  # [T, B, I]
    h = np.asarray(inputs[OUTPUT_STATE]).reshape(data.n_batch, data.n_output)
    c = np.asarray(inputs[CELL_STATE]).reshape(data.n_batch, data.n_cell)
    out = np.empty((data.n_time, data.n_batch, data.n_output), dtype=ctx.output(0).dtype)
    if data.integer is None:
        h, c = h.astype(np.float32), c.astype(np.float32)
        for t in range(data.n_time):
            h, c = _step_float(data, seq[t], h, c)
            out[t] = h
    else:
        step = step_micro if data.integer.micro else step_litert
        seq, h, c = seq.astype(np.int64), h.astype(np.int64), c.astype(np.int64)
        for t in range(data.n_time):
            h, c = step(data.integer, seq[t], h, c)
            out[t] = h
    if not data.time_major:
        out = out.transpose(1, 0, 2)
    h_info, c_info = ctx.input(OUTPUT_STATE), ctx.input(CELL_STATE)
    return [np.ascontiguousarray(out),
            h.astype(h_info.dtype).reshape(h_info.shape),
            c.astype(c_info.dtype).reshape(c_info.shape)]


# --------------------------------------------------------------------------------------
# float
# --------------------------------------------------------------------------------------
# LiteRT's x86 wheel evaluates the float LSTM with Eigen compiled for SSE without FMA:
# ``W x`` is a row-major GEMV (``lstm_eval.cc`` MatrixBatchVectorMultiplyAccumulate ->
# optimized_ops::FullyConnected -> cpu_backend_gemm -> Eigen), sigmoid and tanh are
# Eigen's vectorised approximations, and a sigmoid element that does not fill a whole
# 4-float packet of the destination buffer takes Eigen's scalar path (expf based).
# TFLM uses plain loops and glibc. Both: products and sums rounded to float32, no FMA.
PACKET_FLOATS = fp.EIGEN_PACKET_FLOATS  # Eigen's assignment peels to 16-byte alignment


def _matvec(data: OpData, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x [B, K] @ w [K, R]`` in the runtime's summation order.

    TFLM: in order. LiteRT: Eigen, called once per batch row when batch-major and once
    for all rows when time-major (:func:`~refimpl.fixedpoint.eigen_product_f32`).
    """
    if data.tflm:
        return fp.matmul_f32_in_order(x, w)
    return fp.eigen_product_f32(x, w, calls_per_row=not data.time_major)


def _packet_mask(data: OpData, buffer: int) -> np.ndarray:
    """Which elements of a gate's ``[B, n_cell]`` scratch Eigen computes as packets.

    The scratch buffer (16-byte aligned) holds gate k at float offset ``k * B * n_cell``;
    batch-major LiteRT works on one row (offset ``+ b * n_cell``) at a time. Eigen's
    assignment loop does scalars until the destination is 16-byte aligned, whole
    packets, then scalars for the rest.
    """
    rows, length = (1, data.n_batch * data.n_cell) if data.time_major else \
        (data.n_batch, data.n_cell)
    start = buffer * data.n_batch * data.n_cell + np.arange(rows)[:, None] * length
    head = np.minimum((-start) % PACKET_FLOATS, length)
    end = head + (length - head) // PACKET_FLOATS * PACKET_FLOATS
    pos = np.arange(length)[None, :]
    return ((pos >= head) & (pos < end)).reshape(data.n_batch, data.n_cell)


def _sigmoid(data: OpData, z: np.ndarray, gate: str) -> np.ndarray:
    if data.tflm:
        return logistic.logistic_float(z)  # reference_ops::Logistic (glibc expf)
    order = ("c", "f", "o") if data.use_cifg else ("i", "c", "f", "o")
    packet = _packet_mask(data, order.index(gate))
    return np.where(packet, fp.eigen_logistic_f32(z), fp.eigen_logistic_scalar_f32(z))


def _activation(data: OpData, z: np.ndarray) -> np.ndarray:
    """The fused activation of the cell gate and of the cell state (float)."""
    if data.activation == ACT_TANH:
        return fp.tanhf_glibc(z) if data.tflm else fp.eigen_tanh_f32(z)
    return ar.activation_float(z, data.activation)


def _gate_float(data: OpData, gate: FloatGate, x: np.ndarray, h: np.ndarray,
                c: np.ndarray | None) -> np.ndarray:
    """Pre-activation of one gate: ``(W_x x + b) + W_h h [+ w_c c]`` (then layer norm).

    (LiteRT skips ``W_x x`` for an all-zero input; that changes at most the sign of a
    zero, see :func:`_cell_gate_float` for the one place where it matters.)
    """
    z = _matvec(data, x, gate.input_weights)
    if gate.layer_norm is None:
        z += gate.bias
    if gate.recurrent_weights.ndim == 1:  # diagonal: an elementwise product
        z += gate.recurrent_weights * h
    elif data.tflm:
        z += _matvec(data, h, gate.recurrent_weights) + np.float32(0)  # FC without bias
    else:
        z = _matvec(data, h, gate.recurrent_weights) + z
    if gate.cell_weights is not None and c is not None:
        z += gate.cell_weights * c
    if gate.layer_norm is not None:
        z = _mean_stddev_normalization(z) * gate.layer_norm + gate.bias
    return z


def _cell_gate_float(data: OpData, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The cell gate ``g = act(z_c)`` with the fused activation.

    LiteRT quirk with activation NONE: ``ApplyActivationToVector`` then writes nothing,
    and the gate buffer keeps whatever it held. The pre-activation sum ends up in that
    buffer only for a non-zero input with a matrix recurrence, or an all-zero input
    (the input GEMV skipped) with a diagonal one; otherwise the buffer still holds its
    initial value, the bias (0 under layer norm).
    """
    gate = data.gates["c"]
    z = _gate_float(data, gate, x, h, None)
    if data.activation != ACT_NONE or data.tflm:
        return _activation(data, z)
    zero_input = np.all(x == 0, axis=1) if not data.time_major else np.full(
        x.shape[0], bool(np.all(x == 0)))
    in_buffer = zero_input if gate.recurrent_weights.ndim == 1 else ~zero_input
    initial = np.float32(0) if gate.layer_norm is not None else gate.bias
    return np.where(in_buffer[:, None], z, initial).astype(np.float32)


def _mean_stddev_normalization(z: np.ndarray) -> np.ndarray:
    """``PortableMeanStddevNormalization`` per row: float32 sums in order,
    ``(z - mean) * (1 / sqrt(variance + 1e-8))``."""
    n = np.float32(z.shape[1])
    total = np.zeros(z.shape[0], np.float32)
    for k in range(z.shape[1]):
        total += z[:, k]
    diff = z - (total / n)[:, None]
    squares = np.zeros(z.shape[0], np.float32)
    for k in range(z.shape[1]):
        squares += diff[:, k] * diff[:, k]
    inv = np.float32(1) / np.sqrt(squares / n + np.float32(1e-8))
    return diff * inv[:, None]


def _step_float(data: OpData, x: np.ndarray, h: np.ndarray, c: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One float time step for every batch row (``LstmStepFloat`` / TFLM ``LstmStep``).

    All arrays float32 (NumPy keeps float32 through these operations)::

        f = sigmoid(z_f);  i = sigmoid(z_i) (CIFG: 1 - f);  g = act(z_c)
        c = f * c;  c = c + g * i;  c = max(min(clip, c), -clip)
        o = sigmoid(z_o)   (peephole on the new c)
        h = o * act(c)     (TFLM: tanh(c) * o; LiteRT with NONE: o * g, see below)
        projection: h = W_p h + b_p, then clipped to +-proj_clip
    """
    x = x.astype(np.float32, copy=False)
    g = data.gates
    f = _sigmoid(data, _gate_float(data, g["f"], x, h, c), "f")
    i = None if data.use_cifg else _sigmoid(data, _gate_float(data, g["i"], x, h, c), "i")
    cell_gate = _cell_gate_float(data, x, h)
    c = f * c
    c += cell_gate * ((np.float32(1) - f) if i is None else i)
    if data.cell_clip > 0:
        clip = np.float32(data.cell_clip)
        c = np.maximum(np.minimum(clip, c), -clip)
    o = _sigmoid(data, _gate_float(data, g["o"], x, h, c), "o")
    if data.tflm:
        hidden = fp.tanhf_glibc(c) * o  # UpdateLstmHidden: always tanh
    elif data.activation == ACT_NONE:
        # NONE writes nothing: the scratch still holds the cell gate
        # (CalculateLstmOutputFloat reuses the cell gate's buffer)
        hidden = o * cell_gate
    else:
        hidden = o * _activation(data, c)
    if data.projection_weights is not None:
        bias = np.float32(0) if data.projection_bias is None else data.projection_bias
        hidden = _matvec(data, hidden, data.projection_weights) + bias
        if data.proj_clip > 0:
            clip = np.float32(data.proj_clip)
            hidden = np.maximum(np.minimum(clip, hidden), -clip)
    return hidden, c


UNIDIRECTIONAL_SEQUENCE_LSTM = Kernel(prepare, invoke, state_inputs=(OUTPUT_STATE, CELL_STATE))
