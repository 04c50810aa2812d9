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

The four flavours and the runtimes they reproduce:

================  ==================================================================
``tflite-ref``    LiteRT ``OpResolverType.BUILTIN_REF`` (reference kernels; default)
``tflite-builtin`` LiteRT ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (optimized x86 kernels)
``xnnpack``       LiteRT ``AUTO``: XNNPACK's arithmetic for the nodes the delegate
                  accepts (its own checks, decided per node in Prepare), the rest as
                  ``tflite-builtin``
``tflm``          TFLite Micro's reference kernels (the ``tflite-micro`` x86 wheel)
================  ==================================================================

Kernels ask the flavour in two ways: the requantization fields below
(``conv_requant``...) and the family flags (:attr:`Flavor.tflm`,
:attr:`Flavor.optimized`, :attr:`Flavor.xnnpack`); an op-specific choice is decided in
the op's own module from those flags, and its docstring says which runtime does what.
``refimpl fingerprint`` checks, op by op, that each flavour still matches its runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
        ``"tflite-ref"``, ``"tflite-builtin"``, ``"xnnpack"``, ``"tflm"`` (or a custom
        name for an experiment built with :meth:`with_changes`).
    conv_requant : Requant
        CONV_2D and DEPTHWISE_CONV_2D int8 requantization (for ``xnnpack``: the
        fallback used when the delegate refuses the node).
    fc_requant : Requant
        FULLY_CONNECTED int8 requantization (same remark).
    mul_multiplier : Precision
        Precision of ``s1 * s2 / s_out`` for MUL.
    relu_multiplier : Precision
        Precision of ``s_in / s_out`` for standalone RELU / RELU6 / LEAKY_RELU.
    family : str
        ``"tflite"`` (LiteRT kernels) or ``"tflm"`` (TFLite Micro's op glue).
    optimized : bool
        LiteRT's optimized kernels (``BUILTIN``) rather than the reference ones.
    xnnpack : bool
        Nodes the XNNPACK delegate accepts use XNNPACK's arithmetic.
    """

    name: str
    conv_requant: Requant = Requant.DOUBLE_ROUNDING
    fc_requant: Requant = Requant.FLOAT64
    mul_multiplier: Precision = Precision.F32
    relu_multiplier: Precision = Precision.F32
    family: str = "tflite"
    optimized: bool = False
    xnnpack: bool = False

    @property
    def tflm(self) -> bool:
        """True for TFLite Micro's arithmetic."""
        return self.family == "tflm"

    def with_changes(self, name: str, **changes: object) -> Flavor:
        """A renamed copy with other fields, for experiments (e.g. ``fc_requant``)."""
        return replace(self, name=name, **changes)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return self.name


#: LiteRT with ``OpResolverType.BUILTIN_REF`` (the default flavour).
TFLITE_REF = Flavor("tflite-ref")

#: LiteRT's optimized x86 kernels (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``): ruy /
#: NEON_2_SSE requantization (D) for CONV/DEPTHWISE/FC int8, and the op-specific
#: optimized routines each kernel module documents (arithmetic.md §6, column OPT).
TFLITE_BUILTIN = Flavor(
    "tflite-builtin",
    conv_requant=Requant.NEON,
    fc_requant=Requant.NEON,
    optimized=True,
)

#: LiteRT ``AUTO``: the XNNPACK delegate's arithmetic (F) for every node it accepts,
#: otherwise exactly :data:`TFLITE_BUILTIN` (partial delegation leaves the other nodes
#: to the optimized kernels). The fields below are that fallback.
XNNPACK = Flavor(
    "xnnpack",
    conv_requant=Requant.NEON,
    fc_requant=Requant.NEON,
    optimized=True,
    xnnpack=True,
)

#: TensorFlow Lite Micro's reference kernels (the ``tflite-micro`` x86 wheel).
#: FULLY_CONNECTED keeps fixed-point double rounding; MUL and RELU multipliers are
#: computed in double (arithmetic.md §1.2, verified on the wheel).
TFLM = Flavor(
    "tflm",
    fc_requant=Requant.DOUBLE_ROUNDING,
    mul_multiplier=Precision.F64,
    relu_multiplier=Precision.F64,
    family="tflm",
)

FLAVORS: dict[str, Flavor] = {f.name: f for f in (TFLITE_REF, TFLITE_BUILTIN, XNNPACK, TFLM)}

#: The LiteRT / TFLM runtime each flavour reproduces (names of :mod:`compare.runtimes`).
RUNTIME_OF_FLAVOR: dict[str, str] = {
    "tflite-ref": "litert-ref",
    "tflite-builtin": "litert-builtin",
    "xnnpack": "litert-xnnpack",
    "tflm": "tflm",
}


def get_flavor(name: str | Flavor) -> Flavor:
    """Look a flavour up by name; a clear error lists the known ones."""
    if isinstance(name, Flavor):
        return name
    try:
        return FLAVORS[name]
    except KeyError:
        from .errors import InputError

        raise InputError(f"unknown flavor {name!r}; known: {', '.join(FLAVORS)}") from None
