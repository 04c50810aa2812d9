"""Runtime flavours: which runtime's arithmetic to reproduce, as configuration.

"TFLite" is not one arithmetic. The same model gives different integers on LiteRT's
reference kernels, its optimized x86 kernels, XNNPACK and TFLite Micro, because
they requantize differently (see ``docs`` and ../shared/docs/arithmetic.md §6).
A :class:`Flavor` names, op by op, which variant a kernel must use. It travels
in the :class:`~refimpl.context.OpContext`; no kernel reads a global.

Requantization variants (the "MBQM" evaluators of arithmetic.md §1.4):

``DOUBLE_ROUNDING`` (A)
    gemmlowp: saturating rounding doubling high multiply (half up), then rounding
    divide by a power of two (half away from zero). LiteRT reference and TFLM.
``NEON`` (D)
    ``vqrdmulh`` then a rounding right shift that rounds half *up*; LiteRT's
    optimized x86 kernels (ruy, NEON_2_SSE).
``FLOAT64`` 
    ``round_half_away(acc * (s_in * s_w / s_out))`` evaluated in double; LiteRT's
    reference FULLY_CONNECTED since 2025.
``XNN_FP32`` (F)
    float32 scale, float32 product, round half to even; XNNPACK.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Requant(str, Enum):
    """How an int32 accumulator is scaled back to the output's integer grid."""

    DOUBLE_ROUNDING = "double_rounding"
    NEON = "neon"
    FLOAT64 = "float64"
    XNN_FP32 = "xnn_fp32"


class Precision(str, Enum):
    """Precision in which a float expression of scales is evaluated in Prepare."""

    F32 = "float32"
    F64 = "float64"


@dataclass(frozen=True)
class Flavor:
    """Per-op arithmetic choices of one runtime.

    Attributes
    ----------
    name : str
        ``"tflite-ref"``, ``"tflm"``, ...
    conv_requant : Requant
        CONV_2D and DEPTHWISE_CONV_2D int8 requantization.
    fc_requant : Requant
        FULLY_CONNECTED int8 requantization.
    mul_multiplier : Precision
        Precision of ``s1 * s2 / s_out`` for MUL.
    relu_multiplier : Precision
        Precision of ``s_in / s_out`` for standalone RELU / RELU6 / LEAKY_RELU.
    """

    name: str
    conv_requant: Requant = Requant.DOUBLE_ROUNDING
    fc_requant: Requant = Requant.FLOAT64
    mul_multiplier: Precision = Precision.F32
    relu_multiplier: Precision = Precision.F32

    def __str__(self) -> str:
        return self.name


#: LiteRT with ``OpResolverType.BUILTIN_REF`` (the default flavour).
TFLITE_REF = Flavor("tflite-ref")

#: TensorFlow Lite Micro's reference kernels (the ``tflite-micro`` x86 wheel).
#: FULLY_CONNECTED keeps fixed-point double rounding; MUL and RELU multipliers are
#: computed in double (arithmetic.md §1.2, verified on the wheel).
TFLM = Flavor(
    "tflm",
    fc_requant=Requant.DOUBLE_ROUNDING,
    mul_multiplier=Precision.F64,
    relu_multiplier=Precision.F64,
)

FLAVORS: dict[str, Flavor] = {f.name: f for f in (TFLITE_REF, TFLM)}


def get_flavor(name: str | Flavor) -> Flavor:
    """Look a flavour up by name; a clear error lists the known ones."""
    if isinstance(name, Flavor):
        return name
    try:
        return FLAVORS[name]
    except KeyError:
        from .errors import InputError

        raise InputError(f"unknown flavor {name!r}; known: {', '.join(FLAVORS)}") from None
