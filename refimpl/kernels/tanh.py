"""TANH, elementwise: float32, int8 / uint8 and int16 quantized.

As for LOGISTIC there are two int8 algorithms (arithmetic.md §2.9):

* LiteRT (``tflite-ref``): a 256-entry table of float32 ``std::tanh`` built in Prepare
  (``LUTPopulate`` in tflite/kernels/activations.cc ``TanhPrepare``). int8 and uint8.
* TFLM (``tflm``): gemmlowp fixed point, ``reference_integer_ops::Tanh``
  (tensorflow/lite/kernels/internal/reference/integer_ops/tanh.h), int8 only.

Output quantization: neither runtime checks it for int8. The converter always writes
zero point 0 and scale 1/128. LiteRT's table honours whatever the tensor says; TFLM's
arithmetic ignores it and writes codes meaning ``q / 128``. refimpl reproduces both.

int16 (16x8; zero points 0, output scale 2**-15) is one algorithm in both runtimes:
``tanh(x) = 2*sigmoid(2x) - 1`` from the same 256-entry sigmoid table, 8-bit
interpolation (:func:`~refimpl.fixedpoint.tanh_lut16`, ``reference_integer_ops::Tanh``);
input scales ``2**-12`` and ``2**-11`` take the multiplier-free power-of-two path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from ..arithmetic import (
    checked_log2,
    multiply_by_quantized_multiplier,
    rounding_divide_by_pot,
)
from ..context import Kernel, OpContext
from ..flavors import TFLM
from .logistic import gemmlowp_int16, int16_kind

#: Integer bits of the rescaled input of the fixed-point path (Q4.27).
INPUT_INTEGER_BITS = 4


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters (see :class:`refimpl.kernels.logistic.OpData`).

    Attributes
    ----------
    kind : str
        ``"float"``, ``"lut"`` (LiteRT int8/uint8), ``"fixed_point"`` (TFLM int8),
        ``"int16"`` (the table, both runtimes; ``input_multiplier`` / ``input_left_shift``
        then hold the int16 rescaling, multiplier 0 meaning a power-of-two input scale)
        or ``"int16_gemmlowp"`` (LiteRT's optimized kernel for a power-of-two input scale:
        :func:`~refimpl.kernels.logistic.gemmlowp_int16`).
    lut : ndarray of int64, shape (256,) or None
    input_zero_point, input_multiplier, input_left_shift, input_range_radius : int
        Fixed-point path: ``s_in * 2**27 = input_multiplier * 2**(input_left_shift - 31)``;
        inputs with ``|q - zp| >= radius`` saturate.
    """

    kind: str
    lut: np.ndarray | None = None
    input_zero_point: int = 0
    input_multiplier: int = 0
    input_left_shift: int = 0
    input_range_radius: int = 0


def prepare(ctx: OpContext) -> OpData:
    """Validate and precompute (the LUT, or the fixed-point input rescaling).

    Mirrors: ``TanhPrepare<kReference>`` (tflite/kernels/activations.cc) and
    ``CalculateArithmeticOpData`` (tensorflow/lite/micro/kernels/tanh.cc).
    """
    x = ctx.input(0)
    out = ctx.output(0)
    ctx.set_output_shape(0, x.shape)
    in_dtype, out_dtype = np.dtype(x.dtype), np.dtype(out.dtype)
    if in_dtype != out_dtype:
        raise ctx.unsupported(f"input {in_dtype.name} but output {out_dtype.name}")
    if in_dtype == np.float32:
        return OpData(kind="float")
    tflm = ctx.flavor.name == TFLM.name
    if in_dtype == np.int16:
        return _prepare_int16(ctx)
    allowed = (np.int8,) if tflm else (np.int8, np.uint8)
    if in_dtype not in [np.dtype(t) for t in allowed]:
        raise ctx.unsupported(
            supported="float32, int16, " + ", ".join(np.dtype(t).name for t in allowed)
        )
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    s_in, zp_in = float(x.scale[0]), int(x.zero_point[0])
    s_out, zp_out = float(out.scale[0]), int(out.zero_point[0])
    if tflm:
        try:
            multiplier, shift, radius = fp.activation_input_rescaling(s_in, INPUT_INTEGER_BITS)
        except ValueError:
            raise ctx.unsupported(
                f"input scale {s_in!r} < 2**-28 gives TFLM a negative input shift "
                "(undefined behaviour upstream)"
            ) from None
        return OpData(kind="fixed_point", input_zero_point=zp_in, input_multiplier=multiplier,
                      input_left_shift=shift, input_range_radius=radius)
    lut = fp.lut_populate_int8(s_in, zp_in, s_out, zp_out, fp.tanhf, in_dtype)
    return OpData(kind="lut", lut=lut)


def _prepare_int16(ctx: OpContext) -> OpData:
    """int16: zero points 0, output scale 2**-15, input rescaled to ``1/(3*4096)`` units.

    See :func:`~refimpl.fixedpoint.int16_activation_input_rescaling` (power-of-two input
    scales take the multiplier-free path). Identical in LiteRT and TFLM.
    """
    x, out = ctx.input(0), ctx.output(0)
    tflm = ctx.flavor.name == TFLM.name
    for t, role in ((x, "input"), (out, "output")):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"{role} {t.describe()} needs per-tensor quantization")
        ctx.require(int(t.zero_point[0]) == 0,
                    f"int16 {role} {t.describe()} must have zero point 0")
    is_pot, log2 = checked_log2(float(out.scale[0]))
    ctx.require(is_pot and log2 == -15,
                f"int16 output scale must be 2**-15, got {float(out.scale[0])!r}")
    multiplier, shift = fp.int16_activation_input_rescaling(float(x.scale[0]), tanh=True)
    return OpData(kind=int16_kind(ctx, multiplier), input_multiplier=multiplier,
                  input_left_shift=shift)


def tanh_float(x: np.ndarray) -> np.ndarray:
    """float32 ``std::tanh`` of each element (reference/tanh.h).

    Evaluated by :func:`~refimpl.fixedpoint.tanhf`.

    Tolerance: refimpl's tanh is correctly rounded; glibc 2.36's ``tanhf`` (used by the
    runtimes) is not, so results differ by 1 ulp on roughly 17% of random inputs and by
    2 ulp on ~0.4% (|x| >= ~9.01 gives exactly +-1 in both).
    """
    return fp.tanhf(x)


def tanh_fixed_point(q: np.ndarray, data: OpData) -> np.ndarray:
    """TFLM int8 tanh on int64 codes; returns int64 codes in [-128, 127].

    ::

        d = q - zp_in
        d <= -radius: -128 ;  d >= radius: 127
        else: z = MBQM_double(d, input_multiplier, input_left_shift)     # Q4.27
              y = gemmlowp tanh(z)                                      # Q0.31
              out = clamp(RDBPOT(y, 24), -128, 127)                     # no zero point
    """
    d = np.asarray(q, np.int64) - data.input_zero_point
    z = multiply_by_quantized_multiplier(d, data.input_multiplier, data.input_left_shift)
    y = fp.tanh(z, INPUT_INTEGER_BITS)
    mid = np.clip(rounding_divide_by_pot(y, 31 - 7), -128, 127)
    radius = data.input_range_radius
    return np.where(d <= -radius, -128, np.where(d >= radius, 127, mid))


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Elementwise tanh of ``inputs[0]`` (any shape).

    Arithmetic: float -> :func:`tanh_float`; LiteRT int8/uint8 -> ``out = lut[q - qmin]``
    (table of :func:`~refimpl.fixedpoint.lut_populate_int8` with float32 tanh);
    TFLM int8 -> :func:`tanh_fixed_point`.

    Mirrors: ``reference_ops::Tanh`` (reference/tanh.h), ``optimized_integer_ops::LookupTable``,
    ``reference_integer_ops::Tanh``.
    """
    x = inputs[0]
    out_dtype = ctx.output(0).dtype
    if data.kind == "int16":
        y = fp.tanh_lut16(x, data.input_multiplier, data.input_left_shift)
        return [y.astype(out_dtype)]
    if data.kind == "int16_gemmlowp":
        return [gemmlowp_int16(x, data.input_left_shift, tanh=True).astype(out_dtype)]
    if data.kind == "float":
        return [tanh_float(x)]
    if data.kind == "lut":
        assert data.lut is not None
        qmin = np.iinfo(x.dtype).min
        return [data.lut[np.asarray(x, np.int64) - qmin].astype(out_dtype)]
    return [tanh_fixed_point(x, data).astype(out_dtype)]


TANH = Kernel(prepare, invoke)
