"""SUB: element-wise difference ``input1 - input2`` with NumPy broadcasting (rank <= 6).

Supported: float32; int8 / uint8 quantized; int16 quantized (zero points 0; general path,
or LiteRT's power-of-two path); int32 / int64 plain integers (wrapping difference,
activation clamp). TFLM accepts float32, int8, int16 and int32 only.

The quantized arithmetic is ADD's (arithmetic.md §2.6) with ``a - b`` in place of
``a + b``: the parameters come from :func:`refimpl.kernels.add.quantized_add_sub_params`
and the evaluation from :func:`refimpl.kernels.add.add_sub_quantized`. SUB differs from
ADD in what its Prepare accepts (and LiteRT's power-of-two int16 path also broadcasts):

* **LiteRT tolerates an output multiplier above one.** ``PrepareGeneralSubOp``
  (tflite/kernels/sub.cc) calls ``QuantizeMultiplierGreaterThanOne`` when
  ``real_out = 2*max(s1, s2) / (2**left_shift * s_out) > 1`` (a very narrow output
  range), where ADD would abort. The evaluation then hands the resulting *positive*
  shift ``k`` to ``MultiplyByQuantizedMultiplierSmallerThanOneExp``, i.e. to gemmlowp's
  ``RoundingDivideByPOT(x, -k)``: a shift by a negative amount, undefined behaviour in
  C++. What the x86-64 wheel (ai-edge-litert 2.3.0) computes was measured instead
  (compare/dev_check_int16.py: int8 and int16, shifts between 1 and 13; uint8 is assumed
  to behave alike) and is reproduced by
  :func:`sub_output_multiplier_above_one`: with ``s = SRDHM(a - b, m_out)``,

  - the SSE-vectorised body of the same-shape loop (the first ``4*floor(n/4)``
    elements) gives ``(s >> 31) + (s >= 0)``, i.e. ``+1`` or ``-1`` (vector shifts by a
    count >= 32 fill with the sign bit);
  - the scalar tail (the last ``n mod 4`` elements) and every element of the
    broadcasting loop give ``(s >> ((32 - k) mod 32)) + (s >= 0)`` (x86 masks the
    shift count to 5 bits; the rounding mask becomes all ones).

  Then ``+ zp_out`` and the activation clamp, as usual.
* **TFLM aborts**, like ADD, on an output ratio >= 1 (``CalculateOpDataSub`` in
  micro/kernels/sub_common.cc uses ``QuantizeMultiplierSmallerThanOneExp``); refimpl
  raises :class:`~refimpl.errors.OpError` for the ``tflm`` flavour.

Mirrors: tensorflow/lite/kernels/sub.cc (Prepare, PrepareGeneralSubOp,
PrepareInt16SubOpPOT, EvalQuantized), internal/reference/sub.h (SubElementwise,
BroadcastQuantSubSlow, Sub16, BroadcastSub16POTSlow, SubWithActivation),
micro/kernels/sub.cc and sub_common.cc (TFLM).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arithmetic import (
    INT32_MAX,
    multiply_by_quantized_multiplier,
    saturating_rounding_doubling_high_mul,
)
from ..context import Kernel, OpContext
from .add import (
    Int16PotParams,
    QuantizedAddSubParams,
    add_int16_pot,
    add_sub_quantized,
    XnnAddSubParams,
    add_sub_xnnpack,
    xnnpack_variant,
    int16_pot_params,
    pot_scale_int16_requested,
    quantized_add_sub_params,
    wrapping_int_op,
)
from .elementwise import (
    apply_float_activation,
    apply_int_activation,
    broadcast_shape,
    fused_activation,
    require_per_tensor,
)

_F32, _I8, _U8, _I16, _I32, _I64 = (
    np.dtype(t) for t in (np.float32, np.int8, np.uint8, np.int16, np.int32, np.int64)
)

#: int32 lanes of the SSE-vectorised same-shape loop of LiteRT's reference SUB (x86-64).
VECTOR_LANES = 4


@dataclass(frozen=True)
class OpData:
    """What SUB's invoke needs.

    kind : ``"float"``, ``"int"`` (plain wrapping integers), ``"quantized"`` (general
        path), ``"quantized_above_one"`` (LiteRT, output multiplier > 1), ``"int16_pot"`` or
        ``"xnnpack"`` (flavour ``xnnpack``, node delegated).
    broadcast : input shapes differ after right-aligned rank extension (LiteRT's
        ``ProcessBroadcastShapes``): the element-wise loop is not used.
    """

    kind: str
    output_shape: tuple[int, ...]
    output_dtype: np.dtype
    activation: int
    broadcast: bool = False
    quantized: QuantizedAddSubParams | None = None
    pot: Int16PotParams | None = None
    xnn: XnnAddSubParams | None = None


def _needs_broadcast(shape1: tuple[int, ...], shape2: tuple[int, ...]) -> bool:
    rank = max(len(shape1), len(shape2))
    extend = lambda s: (1,) * (rank - len(s)) + tuple(s)  # noqa: E731
    return extend(shape1) != extend(shape2)


def prepare(ctx: OpContext) -> OpData:
    """Validate SUB, choose the path and precompute its parameters."""
    in1, in2, out = ctx.input(0), ctx.input(1), ctx.output(0)
    if in1.dtype != in2.dtype:
        raise ctx.error(f"input types differ: {in1.describe()} vs {in2.describe()}")
    if out.dtype != in1.dtype:
        raise ctx.error(f"output {out.describe()} must have the input type {in1.dtype.name}")
    act = fused_activation(ctx)
    shape = broadcast_shape(ctx, in1.shape, in2.shape)
    ctx.set_output_shape(0, shape)
    dtype = np.dtype(out.dtype)
    tflm = ctx.flavor.name == "tflm"
    broadcast = _needs_broadcast(tuple(in1.shape), tuple(in2.shape))

    if dtype == _F32:
        return OpData("float", shape, dtype, act, broadcast)
    if dtype == _I32 or (dtype == _I64 and not tflm):
        if tflm and (in1.is_quantized or in2.is_quantized or out.is_quantized):
            raise ctx.error("TFLM supports only unquantized int32 SUB")
        return OpData("int", shape, dtype, act, broadcast)
    if dtype in (_I8, _I16) or (dtype == _U8 and not tflm):
        for role, t in (("input 1", in1), ("input 2", in2), ("output", out)):
            require_per_tensor(ctx, t, role)
            if dtype == _I16 and int(t.zero_point[0]) != 0:
                raise ctx.error(f"int16 {role} {t.describe()} must have zero point 0")
        if dtype == _I16 and not tflm and pot_scale_int16_requested(ctx):
            pot = int16_pot_params(ctx, in1, in2, out, act)
            if pot is not None:
                return OpData("int16_pot", shape, dtype, act, broadcast, pot=pot)
        params = quantized_add_sub_params(
            ctx, in1, in2, out, act,
            allow_output_multiplier_above_one=not tflm
        )
        if params.output_shift > 31:
            raise ctx.unsupported(
                f"output multiplier 2**{params.output_shift} (output scale {out.describe()}): "
                "LiteRT's shift by a negative amount was only characterised up to 2**31"
            )
        kind = "quantized_above_one" if params.output_shift > 0 else "quantized"
        xnn = xnnpack_variant(ctx, in1, in2, out, params, sign=-1)
        if xnn is not None:  # XNNPACK subtracts with its 21-bit multipliers (b negated)
            return OpData("xnnpack", shape, dtype, act, broadcast, quantized=params, xnn=xnn)
        return OpData(kind, shape, dtype, act, broadcast, quantized=params)
    if tflm:
        raise ctx.unsupported(supported="float32, int8, int16, int32")
    raise ctx.unsupported(supported="float32, int8, uint8, int16, int32, int64")


def sub_output_multiplier_above_one(
    q1: np.ndarray, q2: np.ndarray, p: QuantizedAddSubParams, out_dtype: np.dtype,
    broadcast: bool,
) -> np.ndarray:
    """LiteRT's quantized SUB when ``real_out > 1`` (``output_shift = k >= 1``), on x86-64.

    Arithmetic
    ----------
    ::

        a, b as in add_sub_quantized;  s = SRDHM(a - b, output_multiplier)
        vector lane: r = (s >> 31) + (s >= 0)                   # +1 or -1
        scalar:      r = (s >> ((32 - k) mod 32)) + (s >= 0)
        out = clamp(r + output_offset, act_min, act_max)

    The scalar form is gemmlowp ``RoundingDivideByPOT(s, -k)`` evaluated with x86's
    masked shift counts: ``s >> (-k & 31)``; the rounding mask ``(1LL << (-k & 63)) - 1``
    keeps 32 one bits for k <= 32, so the rounding threshold is -1 (s >= 0) or 0 (s < 0)
    and the rounding bit is ``s >= 0``. Vector lanes shift by a count >= 32 and keep
    only the sign. Vector lanes: the first ``4*floor(n/4)`` elements of the same-shape
    loop; all other elements (its tail, and the broadcasting loop) are scalar.
    See the module docstring; measured, since C++ leaves it undefined.
    """
    a = (q1.astype(np.int64) + p.input1_offset) << p.left_shift
    b = (q2.astype(np.int64) + p.input2_offset) << p.left_shift
    a = multiply_by_quantized_multiplier(a, p.input1_multiplier, p.input1_shift)
    b = multiply_by_quantized_multiplier(b, p.input2_multiplier, p.input2_shift)
    s = saturating_rounding_doubling_high_mul(a - b, p.output_multiplier)
    s = np.broadcast_to(s, np.broadcast_shapes(q1.shape, q2.shape)).reshape(-1)
    k = p.output_shift
    assert 1 <= k <= 31 and p.output_multiplier <= INT32_MAX
    round_bit = (s >= 0).astype(np.int64)
    r = (s >> ((32 - k) % 32)) + round_bit  # scalar lanes
    if not broadcast:
        body = s.size - s.size % VECTOR_LANES
        r[:body] = (s[:body] >> 31) + round_bit[:body]
    r = r + p.output_offset
    out = np.minimum(np.maximum(r, p.output_activation_min), p.output_activation_max)
    return out.astype(out_dtype)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Evaluate SUB on the path chosen in :func:`prepare`."""
    x1, x2 = inputs[0], inputs[1]
    if data.kind == "float":
        with np.errstate(over="ignore", invalid="ignore"):  # inf / NaN behave as in C
            diff = x1.astype(np.float32) - x2.astype(np.float32)
        out = apply_float_activation(diff, data.activation)
    elif data.kind == "quantized":
        assert data.quantized is not None
        out = add_sub_quantized(x1, x2, data.quantized, data.output_dtype, sign=-1)
    elif data.kind == "xnnpack":
        assert data.xnn is not None
        out = add_sub_xnnpack(x1, x2, data.xnn, data.output_dtype)
    elif data.kind == "quantized_above_one":
        assert data.quantized is not None
        out = sub_output_multiplier_above_one(
            x1, x2, data.quantized, data.output_dtype, data.broadcast
        ).reshape(data.output_shape)
    elif data.kind == "int16_pot":
        assert data.pot is not None
        out = add_int16_pot(x1, x2, data.pot, sign=-1)
    else:
        out = wrapping_int_op(x1, x2, data.output_dtype, np.subtract)
        out = apply_int_activation(out, data.activation, data.output_dtype)
    return [np.broadcast_to(out, data.output_shape).astype(data.output_dtype, copy=True)]


SUB = Kernel(prepare, invoke)
