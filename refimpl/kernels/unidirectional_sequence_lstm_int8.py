"""The two int8 LSTM algorithms of UNIDIRECTIONAL_SEQUENCE_LSTM (one time step each).

int8 input, hidden state and weights, int16 cell state (scale ``2**cell_log2``), int32
biases, int16 gates. LiteRT and TFLM compute *different* integers from the same model:

* gate matmuls: both fold the zero points (LiteRT in Prepare, TFLM per element: the
  same integers) and requantize each product to Q3.12 before a saturating add; the
  multipliers differ: LiteRT ``fl32(fl32(S_x * S_w) / S_gate)``, TFLM
  ``double(S_x) * double(S_w) / 2**-12``; LiteRT's ``S_gate`` is 2**-12, or the scale of
  intermediate 0-3 under layer norm (TFLM ignores the intermediates).
* sigmoid / tanh: LiteRT gemmlowp 16-bit fixed point (barrel-shifted exp, Newton
  division); TFLM a 256-entry table of sigmoid(i/24) with linear interpolation.
* ``f * c`` and ``i * g`` back to the cell grid: LiteRT ``RDBPOT(p, 15)`` and
  ``RDBPOT(p, 30 + cell_log2)`` (one rounding, half away from zero); TFLM fixed-point
  multipliers of 2**-15 and 2**-30 / S_c (double rounding: SRDHM half up, then RDBPOT).
* cell clip: LiteRT ``fl32(clip / S_c)``, TFLM ``double(clip) / double(S_c)`` (truncated).
* tanh(c): LiteRT gemmlowp with ``15 + cell_log2`` integer bits; TFLM the table, the
  input rescaled by ``3 * 2**k``.
* hidden ``o * tanh(c)``: LiteRT to intermediate 4's scale and zero point, TFLM to the
  output state's.
* variants: LiteRT has CIFG, peephole, projection and layer norm; TFLM refuses them.

On the MNIST LSTM example (100 random images) 5% of the LSTM outputs differ between the
two runtimes (by 1 or 2) and final cell states by up to ~70; refimpl reproduces each
runtime exactly.

Mirrors: tflite/kernels/lstm_eval.cc (``CalculateLstmGateInteger8x8_16``,
``UpdateLstmCellInteger``, ``CalculateLstmOutputInteger8x8_16``) with
reference/portable_tensor_utils.cc; tflite-micro micro/kernels/lstm_eval.h / .cc
(``CalculateLstmGate``, ``UpdateLstmCell``, ``UpdateLstmHidden``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .. import arithmetic as ar
from .. import fixedpoint as fp


@dataclass(frozen=True)
class IntegerGate:
    """One gate: weights ``[depth, n_cell]`` as int64, and their requantization.

    The zero points are folded into ``input_bias`` / ``recurrent_bias``
    (``bias - zp * rowsum(W)``, so ``x @ W + input_bias == (x - zp) @ W + bias``): LiteRT
    precomputes exactly this (without the gate bias under layer norm: it is added after
    the normalization), TFLM subtracts the zero point from each code (same integers).

    Attributes
    ----------
    input_weights, recurrent_weights : int64 ``[n_input | n_output, n_cell]``
    input_bias, recurrent_bias : int64 ``[n_cell]``
    input_multiplier, input_shift, recurrent_multiplier, recurrent_shift : int
        Each product to the gate's Q3.12.
    cell_weights : int64 ``[n_cell]`` or None
        Peephole (LiteRT), with ``cell_multiplier``, ``cell_shift``.
    layer_norm : int64 ``[n_cell]`` or None
        Layer-norm weights (LiteRT), with ``layer_norm_bias`` (the gate bias),
        ``layer_norm_multiplier``, ``layer_norm_shift`` and ``variance_guard``.
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
class IntegerLstm:
    """Everything one int8 step needs.

    Attributes
    ----------
    micro : bool
        TFLM's algorithm (else LiteRT's).
    gates : dict of str to IntegerGate
        ``"i"`` (absent under CIFG), ``"f"``, ``"c"``, ``"o"``.
    time_major, n_batch, n_output : as in the op's OpData
    cell_scale_log2 : int
        ``log2(S_c)``, e.g. -12.
    quantized_cell_clip : int
        0 = no clipping (LiteRT); TFLM clips whenever the float ``cell_clip > 0``
        (``clip_cell``).
    hidden_multiplier, hidden_shift, hidden_zero_point : int
        ``o * tanh(c)`` (units of 2**-30) to the hidden state's grid.
    output_state_zero_point : int
    forget_multiplier, forget_shift, input_multiplier, input_shift : int
        TFLM: ``f * c`` and ``i * g`` to the cell grid.
    projection_weights : int64 ``[n_cell, n_output]`` or None (LiteRT)
        With ``projection_bias`` (``bias + rowsum * hidden_zp``), ``projection_multiplier``,
        ``projection_shift`` and ``quantized_proj_clip`` (0 = none).
    """

    micro: bool
    gates: dict
    time_major: bool
    n_batch: int
    n_output: int
    cell_scale_log2: int
    quantized_cell_clip: int
    clip_cell: bool
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


@lru_cache(maxsize=None)
def _int16_table(function: str, integer_bits: int) -> np.ndarray:
    """``fp.logistic16`` / ``fp.tanh16`` of every int16 (indexed by ``x + 32768``).

    The functions are exact element-wise; tabulating them once makes a step cheap.
    """
    fn = fp.logistic16 if function == "logistic" else fp.tanh16
    table = fn(np.arange(fp.INT16_MIN, fp.INT16_MAX + 1, dtype=np.int64), integer_bits)
    table.flags.writeable = False
    return table


def _logistic16(z: np.ndarray) -> np.ndarray:
    return _int16_table("logistic", 3)[z - fp.INT16_MIN]


def _tanh16(z: np.ndarray, integer_bits: int) -> np.ndarray:
    return _int16_table("tanh", integer_bits)[z - fp.INT16_MIN]


def _mbqm(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """gemmlowp double-rounding requantization of int32 accumulators (variant A)."""
    return ar.multiply_by_quantized_multiplier(ar.wrap32(x), multiplier, shift)


def _gate_products(gate: IntegerGate, x: np.ndarray, h: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``sat16(MBQM(x @ Wx + bias_x))`` and ``MBQM(h @ Wh + bias_h)`` (int32 accumulators)."""
    a = fp.sat16(_mbqm(x @ gate.input_weights + gate.input_bias,
                       gate.input_multiplier, gate.input_shift))
    b = _mbqm(h @ gate.recurrent_weights + gate.recurrent_bias,
              gate.recurrent_multiplier, gate.recurrent_shift)
    return a, b


# --------------------------------------------------------------------------------------
# LiteRT
# --------------------------------------------------------------------------------------
def _gate_litert(p: IntegerLstm, gate: IntegerGate, x: np.ndarray, h: np.ndarray,
                 c: np.ndarray | None) -> np.ndarray:
    """Pre-activation in Q3.12 (``CalculateLstmGateInteger8x8_16``)::

        z = sat16(MBQM(x @ Wx + bias_x, e_x))
        z = sat16(MBQM(h @ Wh + bias_h, e_h) + z)
        z = sat16(MBQM(c * w_c, e_c) + z)          peephole, see _peephole_litert
        z = layer_norm_int16(z)                     layer norm
    """
    a, b = _gate_products(gate, x, h)
    z = fp.sat16(b + a)
    if gate.cell_weights is not None and c is not None:
        z = _peephole_litert(p, gate, z, c)
    if gate.layer_norm is not None:
        assert gate.layer_norm_bias is not None
        z = fp.layer_norm_int16(z, gate.layer_norm, gate.layer_norm_bias,
                                gate.layer_norm_multiplier, gate.layer_norm_shift,
                                gate.variance_guard)
    return z


def _peephole_litert(p: IntegerLstm, gate: IntegerGate, z: np.ndarray, c: np.ndarray
                     ) -> np.ndarray:
    """``z += MBQM(w_c * c, e_c)`` (saturating) as LiteRT applies it.

    Upstream passes the *output* width as the vector length
    (``VectorBatchVectorCwiseProductAccumulate(w_c, n_output, c, n_batch, ...)``). With a
    projection (``n_output < n_cell``) only cells ``0 .. n_output - 1`` get their term,
    and time-major (all rows in one call) the flat cell state and gate are walked in
    rows of ``n_output``. Reproduced as is; the textbook formula when n_output == n_cell.
    """
    n, w = p.n_output, gate.cell_weights
    assert w is not None
    if not p.time_major:  # one call per batch row
        z = z.copy()
        z[:, :n] = fp.sat16(_mbqm(c[:, :n] * w[:n], gate.cell_multiplier, gate.cell_shift)
                            + z[:, :n])
        return z
    count = p.n_batch * n
    flat = z.reshape(-1).copy()
    prod = c.reshape(-1)[:count] * np.tile(w[:n], p.n_batch)
    flat[:count] = fp.sat16(_mbqm(prod, gate.cell_multiplier, gate.cell_shift) + flat[:count])
    return flat.reshape(z.shape)


def step_litert(p: IntegerLstm, x: np.ndarray, h: np.ndarray, c: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """One step of ``LstmStepInteger8x8_16`` for all rows (int64 arrays of int8 / int16).

    ::

        i, f, o = logistic16(z, 3);  g = tanh16(z_c, 3)        gemmlowp, Q3.12 -> Q0.15
        c = int16(RDBPOT(f * c, 15))
        c = sat16(c + int16(RDBPOT(i * g, 30 + cell_log2)))   CIFG: i = 32767 - f
        c = clamp(c, -clip, clip)                             if clip > 0
        t = tanh16(c, 15 + cell_log2)
        h = clamp8(MBQM(o * t, e_hidden) + zp_hidden)
        projection: q = clamp8(MBQM(o * t, e_hidden) - zp_hidden)
                    h = clamp8(MBQM(q @ Wp + bias_p, e_proj) + zp_h), clamp(+-proj_clip)
    """
    g = p.gates
    f = _logistic16(_gate_litert(p, g["f"], x, h, c))
    i = _logistic16(_gate_litert(p, g["i"], x, h, c)) if "i" in g else \
        fp.wrap16(fp.INT16_MAX - f)
    cell_gate = _tanh16(_gate_litert(p, g["c"], x, h, None), 3)
    c = fp.wrap16(ar.rounding_divide_by_pot(f * c, 15))
    c = fp.sat16(c + fp.wrap16(ar.rounding_divide_by_pot(i * cell_gate, 30 + p.cell_scale_log2)))
    if p.quantized_cell_clip > 0:
        c = np.clip(c, -p.quantized_cell_clip, p.quantized_cell_clip)
    o = _logistic16(_gate_litert(p, g["o"], x, h, c))
    t = _tanh16(c, 15 + p.cell_scale_log2)
    hidden = ar.multiply_by_quantized_multiplier(o * t, p.hidden_multiplier, p.hidden_shift)
    if p.projection_weights is None:
        return np.clip(hidden + p.hidden_zero_point, -128, 127), c
    q = np.clip(hidden - p.hidden_zero_point, -128, 127)
    h = np.clip(_mbqm(q @ p.projection_weights + p.projection_bias, p.projection_multiplier,
                      p.projection_shift) + p.output_state_zero_point, -128, 127)
    if p.quantized_proj_clip > 0:
        h = np.clip(h, -p.quantized_proj_clip, p.quantized_proj_clip)
    return h, c


# --------------------------------------------------------------------------------------
# TFLM
# --------------------------------------------------------------------------------------
def _gate_micro(gate: IntegerGate, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``CalculateLstmGate``: two int16 fully-connected outputs, added with saturation."""
    a, b = _gate_products(gate, x, h)
    return fp.sat16(a + fp.sat16(b))


def step_micro(p: IntegerLstm, x: np.ndarray, h: np.ndarray, c: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """One step of TFLM's ``LstmStep<int8_t, int8_t, int16_t, int32_t>`` for all rows.

    ::

        f, i, o = sigmoid_lut16(z);  g = tanh_lut16(z_c)        table + interpolation
        c = sat16(sat16(MBQM(f * c, e_fc)) + sat16(MBQM(i * g, e_ig)))
        c = clamp(c, -clip, clip)                               if cell_clip > 0
        t = tanh_lut16(c), rescaled from 2**cell_log2 to Q3.12 inside (x 3 * 2**k)
        h = clamp8(MBQM(t * o, e_h) + zp_h)
    """
    g = p.gates
    f = fp.sigmoid_lut16(_gate_micro(g["f"], x, h))
    i = fp.sigmoid_lut16(_gate_micro(g["i"], x, h))
    cell_gate = fp.tanh_lut16(_gate_micro(g["c"], x, h))
    c = fp.sat16(ar.multiply_by_quantized_multiplier(f * c, p.forget_multiplier, p.forget_shift))
    c = fp.sat16(c + fp.sat16(ar.multiply_by_quantized_multiplier(
        i * cell_gate, p.input_multiplier, p.input_shift)))
    if p.clip_cell:
        c = np.clip(c, -p.quantized_cell_clip, p.quantized_cell_clip)
    o = fp.sigmoid_lut16(_gate_micro(g["o"], x, h))
    shift = 15 + p.cell_scale_log2 - 3  # lstm_internal::Tanh's input_left_shift
    t = fp.tanh_lut16(c, 0, shift) if shift >= 0 else fp.tanh_lut16(c, 3, -shift)
    h = ar.multiply_by_quantized_multiplier(t * o, p.hidden_multiplier, p.hidden_shift)
    return np.clip(h + p.hidden_zero_point, -128, 127), c
