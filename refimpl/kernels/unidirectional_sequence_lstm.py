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

Int8 arithmetic: two different algorithms, see :func:`_step_int8_ref` (LiteRT
``lstm_eval.cc`` ``LstmStepInteger8x8_16``) and :func:`_step_int8_micro` (TFLM
``lstm_eval.h``). The ``intermediates`` tensors of the op give, for LiteRT, the scale
of the hidden state ``o * tanh(c)`` (intermediate 4) and, with layer norm, of each gate's
matmul output (0-3); TFLM ignores them and uses the output state's scale instead.

Mirrors: tflite/kernels/unidirectional_sequence_lstm.cc (Prepare,
``PopulateQuantizedLstmParams8x8_16``, ``PopulatePrecomputedZPTimesWeightsWithBias``),
tflite/kernels/lstm_eval.cc (``LstmStepFloat``, ``LstmStepInteger8x8_16``),
reference/portable_tensor_utils.cc; tflite-micro micro/kernels/unidirectional_sequence_lstm.cc,
lstm_eval.h, lstm_eval.cc, lstm_eval_common.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import arithmetic as ar
from .. import fixedpoint as fp
from ..context import Kernel, OpContext, TensorInfo
from . import logistic

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
class IntegerGate:
    """One gate of the int8 kernels: weights ``[depth, n_cell]`` as int64.

    LiteRT (``tflite-ref``) folds the zero points into ``input_bias`` /
    ``recurrent_bias`` (``bias + rowsum(W) * -zp``; without the gate bias under layer
    norm) and reads the raw codes; TFLM subtracts the zero points from the codes and
    adds the gate bias to the input product only. Each product is scaled to the gate's
    Q3.12 by its own ``(multiplier, shift)``.

    Attributes
    ----------
    input_weights, recurrent_weights : int64 ``[n_input | n_output, n_cell]``
    input_bias, recurrent_bias : int64 ``[n_cell]``
    input_multiplier, input_shift, recurrent_multiplier, recurrent_shift : int
    cell_weights : int64 ``[n_cell]`` or None; ``cell_multiplier``, ``cell_shift``
    layer_norm : int64 ``[n_cell]`` or None; ``layer_norm_bias`` int64 (the gate bias),
        ``layer_norm_multiplier``, ``layer_norm_shift``, ``variance_guard``
    """

    input_weights: np.ndarray
    recurrent_weights: np.ndarray
    input_bias: np.ndarray
    recurrent_bias: np.ndarray
    input_multiplier: int
    input_shift: int
    recurrent_multiplier: int
    recurrent_shift: int
    cell_weights: np.ndarray | None = None
    cell_multiplier: int = 0
    cell_shift: int = 0
    layer_norm: np.ndarray | None = None
    layer_norm_bias: np.ndarray | None = None
    layer_norm_multiplier: int = 0
    layer_norm_shift: int = 0
    variance_guard: int = 1


@dataclass(frozen=True)
class IntegerState:
    """Cell update and hidden output parameters of the int8 kernels.

    Attributes
    ----------
    cell_scale_log2 : int
        ``log2(S_c)`` (the cell state scale must be a power of two), e.g. -12.
    quantized_cell_clip : int
        ``cell_clip / S_c`` truncated to int16 (0 = no clipping).
    hidden_multiplier, hidden_shift, hidden_zero_point : int
        ``o * tanh(c)`` (2**-30 per unit) to the hidden grid: LiteRT uses intermediate 4's
        scale and zero point, TFLM the output state's.
    forget_multiplier, forget_shift, input_multiplier, input_shift : int
        TFLM only: ``f * c`` and ``i * g`` back to the cell grid (fixed point); LiteRT
        shifts by 15 and ``30 + cell_scale_log2`` instead.
    projection_weights : int64 ``[n_cell, n_output]`` or None; ``projection_bias`` int64
        (``bias + rowsum * hidden_zp``), ``projection_multiplier``, ``projection_shift``,
        ``quantized_proj_clip`` (int8 clip, 0 = none).
    output_state_zero_point : int
    """

    cell_scale_log2: int
    quantized_cell_clip: int
    hidden_multiplier: int
    hidden_shift: int
    hidden_zero_point: int
    output_state_zero_point: int
    forget_multiplier: int = 0
    forget_shift: int = 0
    input_multiplier: int = 0
    input_shift: int = 0
    projection_weights: np.ndarray | None = None
    projection_bias: np.ndarray | None = None
    projection_multiplier: int = 0
    projection_shift: int = 0
    quantized_proj_clip: int = 0


@dataclass(frozen=True)
class OpData:
    """Everything ``invoke`` needs.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"int8_ref"`` (LiteRT) or ``"int8_micro"`` (TFLM).
    time_major : bool
    n_batch, n_time, n_input, n_cell, n_output : int
    use_cifg : bool
        No input gate: ``i = 1 - f``.
    gates : dict of str to FloatGate or IntegerGate
        Keys ``"i"`` (absent under CIFG), ``"f"``, ``"c"``, ``"o"``.
    activation : int
        Fused activation (cell gate and output, float; TFLM int8 cell gate).
    cell_clip, proj_clip : float
        Float clipping (0 = none).
    projection_weights, projection_bias : float32 or None
        ``[n_cell, n_output]`` and ``[n_output]`` (float kind).
    state : IntegerState or None
    tflm : bool
        TFLM's float arithmetic (plain loops, libm) instead of LiteRT's (Eigen).
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
    state: IntegerState | None = None
    tflm: bool = False


# ======================================================================================
# prepare
# ======================================================================================
def prepare(ctx: OpContext) -> OpData:
    """Validate the 24 inputs, set the output shape and precompute the gate parameters.

    Mirrors: ``Prepare`` / ``CheckInputTensorDimensions`` (LiteRT) and
    ``UnidirectionalSequenceLstmPrepare`` / ``ValidateTensorSize`` (TFLM).
    """
    opts = ctx.options
    time_major = bool(getattr(opts, "time_major", False))
    activation = int(getattr(opts, "fused_activation_function", 0) or 0)
    cell_clip = float(np.float32(getattr(opts, "cell_clip", 0.0) or 0.0))
    proj_clip = float(np.float32(getattr(opts, "proj_clip", 0.0) or 0.0))
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
        return _prepare_int8_ref(ctx, common)
    raise ctx.unsupported(supported="float32; int8 input / weights / output with int16 cell "
                          "state (hybrid LSTM is not supported)")


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


def _prepare_int8_ref(ctx: OpContext, common: dict) -> OpData:
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
    if use_peephole and common["n_output"] != common["n_cell"]:
        # LiteRT walks the cell state with the output width here (lstm_eval.cc).
        raise ctx.unsupported("peephole with n_output != n_cell")
    use_layer_norm = _layer_norm_input(ctx, "f") is not None
    hidden = ctx.intermediates[HIDDEN_INTERMEDIATE]
    assert hidden is not None
    s_hidden, hidden_zp = _scale(ctx, hidden), _zero_point(hidden)
    s_in, s_h, s_c = _scale(ctx, x), _scale(ctx, h), _scale(ctx, c)
    zp_in, zp_h = _zero_point(x), _zero_point(h)
    cell_log2, exact = _cell_scale_log2(ctx, s_c)
    if not exact:
        raise ctx.error(f"cell_state scale {float(s_c)!r} is not a power of two")
    if not (-30 <= cell_log2 <= 1 and 0 <= 15 + cell_log2 <= 6):
        raise ctx.unsupported(f"cell_state scale 2**{cell_log2}",
                              supported="2**-15 .. 2**-9 (tanh of the cell needs 0..6 "
                              "integer bits)")
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
    state = IntegerState(cell_scale_log2=cell_log2, quantized_cell_clip=qcell,
                         hidden_multiplier=hm, hidden_shift=hs, hidden_zero_point=hidden_zp,
                         output_state_zero_point=zp_h, **proj)
    return OpData(kind="int8_ref", gates=gates, state=state, **common)


def _prepare_int8_micro(ctx: OpContext, common: dict) -> OpData:
    """TFLM: ``PrepareGateParametersInteger`` + ``CreateLstmCellStateInfo``.

    Each of the 8 fully connected layers maps to Q3.12 (scale 2**-12) with the
    multiplier of ``double(fl32(S_in * S_w)) / 2**-12``; the three elementwise products
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
        mx, sx = ar.quantize_multiplier(float(np.float32(s_in * _scale(ctx, w))) / float(gate_scale))
        mh, sh = ar.quantize_multiplier(float(np.float32(s_h * _scale(ctx, r))) / float(gate_scale))
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
    state = IntegerState(cell_scale_log2=cell_log2, quantized_cell_clip=qcell,
                         hidden_multiplier=hm, hidden_shift=hs, hidden_zero_point=zp_h,
                         output_state_zero_point=zp_h, forget_multiplier=fm, forget_shift=fs,
                         input_multiplier=im, input_shift=is_)
    return OpData(kind="int8_micro", gates=gates, state=state, tflm=True, **common)


# ======================================================================================
# invoke
# ======================================================================================
def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Run the sequence; returns ``[output, new output_state, new cell_state]``."""
    x = np.asarray(inputs[INPUT])
    seq = x if data.time_major else x.transpose(1, 0, 2)  # [T, B, I]
    h = np.asarray(inputs[OUTPUT_STATE]).reshape(data.n_batch, data.n_output)
    c = np.asarray(inputs[CELL_STATE]).reshape(data.n_batch, data.n_cell)
    if data.kind == "float":
        step, h, c = _step_float, h.astype(np.float32), c.astype(np.float32)
    else:
        step = _step_int8_ref if data.kind == "int8_ref" else _step_int8_micro
        seq, h, c = seq.astype(np.int64), h.astype(np.int64), c.astype(np.int64)
    out = np.empty((data.n_time, data.n_batch, data.n_output), dtype=ctx.output(0).dtype)
    for t in range(data.n_time):
        h, c = step(data, seq[t], h, c)
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
PACKET_FLOATS = 4  # SSE packet (Eigen's assignment peels to 16-byte alignment)


def _matmul_f32(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` (``x [B, K]``, ``w [K, N]``) summed over k in increasing order.

    The reference loop of TFLM (``reference_ops::FullyConnected``), and what Eigen's
    GEMM accumulates per output element (LiteRT, time-major with batch > 1).
    """
    acc = np.zeros((x.shape[0], w.shape[1]), np.float32)
    for k in range(w.shape[0]):
        acc += x[:, k:k + 1] * w[k]
    return acc


def _gemv_eigen(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Eigen's row-major GEMV with 4-float packets, once per row of ``x [B, K]``.

    For each output: four lane sums over columns ``k = l, l+4, l+8, ...`` (l = 0..3),
    reduced as ``(s0 + s2) + (s1 + s3)``, then the last ``K mod 4`` columns added one by
    one (``general_matrix_vector_product<..., RowMajor, ...>`` and SSE ``predux``).
    """
    full = w.shape[0] - w.shape[0] % PACKET_FLOATS
    lanes = [np.zeros((x.shape[0], w.shape[1]), np.float32) for _ in range(PACKET_FLOATS)]
    for k in range(full):
        lanes[k % PACKET_FLOATS] += x[:, k:k + 1] * w[k]
    acc = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
    for k in range(full, w.shape[0]):
        acc += x[:, k:k + 1] * w[k]
    return acc


def _matvec(data: OpData, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    if data.tflm or (data.time_major and data.n_batch > 1):
        return _matmul_f32(x, w)
    return _gemv_eigen(x, w)  # LiteRT calls it with one batch row at a time


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
    """Pre-activation of one gate: ``(W_x x + b) + W_h h [+ w_c c]`` (then layer norm)."""
    if gate.layer_norm is None:
        z = _matvec(data, x, gate.input_weights) + gate.bias
    else:
        z = _matvec(data, x, gate.input_weights)
    if gate.recurrent_weights.ndim == 1:
        z = z + gate.recurrent_weights * h
    elif data.tflm:
        z = z + (_matvec(data, h, gate.recurrent_weights) + np.float32(0))
    else:
        z = _matvec(data, h, gate.recurrent_weights) + z
    if gate.cell_weights is not None and c is not None:
        z = z + gate.cell_weights * c
    if gate.layer_norm is not None:
        z = _mean_stddev_normalization(z) * gate.layer_norm + gate.bias
    return z.astype(np.float32)


def _mean_stddev_normalization(z: np.ndarray) -> np.ndarray:
    """``PortableMeanStddevNormalization``: float32 sums in order, 1 / sqrt(var + 1e-8)."""
    n = z.shape[1]
    total = np.zeros(z.shape[0], np.float32)
    for k in range(n):
        total += z[:, k]
    mean = (total / np.float32(n)).astype(np.float32)
    diff = (z - mean[:, None]).astype(np.float32)
    sq = np.zeros(z.shape[0], np.float32)
    for k in range(n):
        sq += diff[:, k] * diff[:, k]
    variance = (sq / np.float32(n)).astype(np.float32)
    inv = (np.float32(1) / np.sqrt(variance + np.float32(1e-8))).astype(np.float32)
    return (diff * inv[:, None]).astype(np.float32)


def _step_float(data: OpData, x: np.ndarray, h: np.ndarray, c: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One float time step for every batch row (``LstmStepFloat`` / TFLM ``LstmStep``)."""
    x = x.astype(np.float32, copy=False)
    g = data.gates
    f = _sigmoid(data, _gate_float(data, g["f"], x, h, c), "f")
    i = None if data.use_cifg else _sigmoid(data, _gate_float(data, g["i"], x, h, c), "i")
    cell_gate = _activation(data, _gate_float(data, g["c"], x, h, None))
    c = f * c
    c += cell_gate * ((np.float32(1) - f) if i is None else i)
    if data.cell_clip > 0:
        clip = np.float32(data.cell_clip)
        c = np.maximum(np.minimum(clip, c), -clip)
    o = _sigmoid(data, _gate_float(data, g["o"], x, h, c), "o")
    if data.tflm:
        hidden = fp.tanhf_glibc(c) * o  # TFLM: always tanh here
    elif data.activation == ACT_NONE:
        # ApplyActivationToVector(NONE) writes nothing: the scratch still holds the
        # cell gate (LiteRT CalculateLstmOutputFloat).
        hidden = o * cell_gate
    else:
        hidden = o * _activation(data, c)
    if data.projection_weights is not None:
        bias = np.float32(0) if data.projection_bias is None else data.projection_bias
        hidden = _matvec(data, hidden, data.projection_weights) + bias
        if data.proj_clip > 0:
            clip = np.float32(data.proj_clip)
            hidden = np.maximum(np.minimum(clip, hidden), -clip)
    return hidden.astype(np.float32), c


# --------------------------------------------------------------------------------------
# int8, LiteRT
# --------------------------------------------------------------------------------------
def _mbqm(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """gemmlowp double-rounding requantization of int32 values (variant A)."""
    return ar.multiply_by_quantized_multiplier(ar.wrap32(x), multiplier, shift)


def _gate_int8_ref(data: OpData, gate: IntegerGate, x: np.ndarray, h: np.ndarray,
                   c: np.ndarray | None) -> np.ndarray:
    """Pre-activation of one gate in Q3.12 (``CalculateLstmGateInteger8x8_16``)::

        z = sat16(MBQM(x @ Wx + bias_x, e_x))                  # int32 accumulators
        z = sat16(MBQM(h @ Wh + bias_h, e_h) + z)
        z = sat16(MBQM(c * wc, e_c) + z)                      # peephole
        z = layer_norm(z)                                     # if any
    """
    z = fp.sat16(_mbqm(x @ gate.input_weights + gate.input_bias,
                       gate.input_multiplier, gate.input_shift))
    z = fp.sat16(_mbqm(h @ gate.recurrent_weights + gate.recurrent_bias,
                       gate.recurrent_multiplier, gate.recurrent_shift) + z)
    if gate.cell_weights is not None and c is not None:
        z = fp.sat16(_mbqm(c * gate.cell_weights, gate.cell_multiplier, gate.cell_shift) + z)
    if gate.layer_norm is not None:
        z = fp.layer_norm_int16(z, gate.layer_norm, gate.layer_norm_bias,
                                gate.layer_norm_multiplier, gate.layer_norm_shift,
                                gate.variance_guard)
    return z


def _step_int8_ref(data: OpData, x: np.ndarray, h: np.ndarray, c: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One int8 step as LiteRT's ``LstmStepInteger8x8_16``.

    Arithmetic (int16 gates in Q3.12 -> Q0.15, c with scale 2**cell_log2)::

        i, f, o = logistic16(z)  ;  g = tanh16(z_c, 3)          gemmlowp 16-bit
        c = int16(RDBPOT(f * c, 15))
        u = int16(RDBPOT(i * g, 30 + cell_log2))      CIFG: i = 32767 - f
        c = clamp(sat16(c + u), -clip, clip)
        t = tanh16(c, 15 + cell_log2)
        h = clamp8(MBQM(o * t, e_hidden) + zp_hidden)
        projection: p = clamp8(MBQM(o * t, e_hidden) - zp_hidden)
                    h = clip(clamp8(MBQM(p @ Wp + bias_p, e_proj) + zp_h))
    """
    s = data.state
    assert s is not None
    g = data.gates
    f = fp.logistic16(_gate_int8_ref(data, g["f"], x, h, c), 3)
    i = None if data.use_cifg else fp.logistic16(_gate_int8_ref(data, g["i"], x, h, c), 3)
    cell_gate = fp.tanh16(_gate_int8_ref(data, g["c"], x, h, None), 3)
    c = fp.wrap16(ar.rounding_divide_by_pot(f * c, 15))
    i_eff = fp.wrap16(fp.INT16_MAX - f) if i is None else i
    c = fp.sat16(c + fp.wrap16(ar.rounding_divide_by_pot(i_eff * cell_gate,
                                                         30 + s.cell_scale_log2)))
    if s.quantized_cell_clip > 0:
        c = np.clip(c, -s.quantized_cell_clip, s.quantized_cell_clip)
    o = fp.logistic16(_gate_int8_ref(data, g["o"], x, h, c), 3)
    t = fp.tanh16(c, 15 + s.cell_scale_log2)
    scaled = ar.multiply_by_quantized_multiplier(o * t, s.hidden_multiplier, s.hidden_shift)
    if s.projection_weights is None:
        return np.clip(scaled + s.hidden_zero_point, -128, 127), c
    p = np.clip(scaled - s.hidden_zero_point, -128, 127)
    acc = p @ s.projection_weights + s.projection_bias
    h = np.clip(_mbqm(acc, s.projection_multiplier, s.projection_shift)
                + s.output_state_zero_point, -128, 127)
    if s.quantized_proj_clip > 0:
        h = np.clip(h, -s.quantized_proj_clip, s.quantized_proj_clip)
    return h, c


# --------------------------------------------------------------------------------------
# int8, TFLM
# --------------------------------------------------------------------------------------
def _gate_int8_micro(gate: IntegerGate, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Pre-activation of one gate (``CalculateLstmGate``): two int16 FC outputs, added::

        a = sat16(MBQM((x - zp_x) @ Wx + b, e_x))      b = sat16(MBQM((h - zp_h) @ Wh, e_h))
        z = sat16(a + b)
    """
    a = fp.sat16(_mbqm(x @ gate.input_weights + gate.input_bias,
                       gate.input_multiplier, gate.input_shift))
    b = fp.sat16(_mbqm(h @ gate.recurrent_weights + gate.recurrent_bias,
                       gate.recurrent_multiplier, gate.recurrent_shift))
    return fp.sat16(a + b)


def _step_int8_micro(data: OpData, x: np.ndarray, h: np.ndarray, c: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One int8 step as TFLM's ``LstmStep<int8_t, int8_t, int16_t, int32_t>``.

    Arithmetic::

        f, i, o = sigmoid_lut16(z)       g = tanh_lut16(z_c)       (table + interpolation)
        c = sat16(MBQM(f * c, e_fc))     u = sat16(MBQM(i * g, e_ig))
        c = clamp(sat16(c + u), -clip, clip)
        t = tanh_lut16(c rescaled from 2**cell_log2 to Q3.12)
        h = clamp8(MBQM(t * o, e_h) + zp_h)
    """
    s = data.state
    assert s is not None
    g = data.gates
    f = fp.sigmoid_lut16(_gate_int8_micro(g["f"], x, h))
    i = fp.sigmoid_lut16(_gate_int8_micro(g["i"], x, h))
    cell_gate = fp.tanh_lut16(_gate_int8_micro(g["c"], x, h))
    c = fp.sat16(ar.multiply_by_quantized_multiplier(f * c, s.forget_multiplier,
                                                     s.forget_shift))
    u = fp.sat16(ar.multiply_by_quantized_multiplier(i * cell_gate, s.input_multiplier,
                                                     s.input_shift))
    c = fp.sat16(c + u)
    if data.cell_clip > 0:
        c = np.clip(c, -s.quantized_cell_clip, s.quantized_cell_clip)
    o = fp.sigmoid_lut16(_gate_int8_micro(g["o"], x, h))
    shift = 15 + s.cell_scale_log2 - 3  # Q(-cell_log2) -> Q3.12, x3 inside the LUT
    t = fp.tanh_lut16(c, 0, shift) if shift >= 0 else fp.tanh_lut16(c, 3, -shift)
    h = np.clip(ar.multiply_by_quantized_multiplier(t * o, s.hidden_multiplier, s.hidden_shift)
                + s.hidden_zero_point, -128, 127)
    return h, c


UNIDIRECTIONAL_SEQUENCE_LSTM = Kernel(prepare, invoke, state_inputs=(OUTPUT_STATE, CELL_STATE))
