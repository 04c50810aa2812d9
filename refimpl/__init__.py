"""tflite-refimpl: a pure-NumPy reference implementation of the TFLite interpreter.

``refimpl.Interpreter`` runs a .tflite model with the integer arithmetic of a chosen
runtime (``flavor="tflite-ref"``, LiteRT's reference kernels, by default).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    InputError,
    ModelError,
    OpError,
    RefimplError,
    StateError,
    UnsupportedOpError,
)
from .flavors import FLAVORS, TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK, Flavor  # noqa: E402


def __getattr__(name: str):
    # Interpreter is imported lazily so that `import refimpl.arithmetic` stays light.
    if name == "Interpreter":
        from .interpreter import Interpreter

        return Interpreter
    raise AttributeError(name)


__all__ = [
    "Interpreter",
    "Flavor",
    "FLAVORS",
    "TFLITE_REF",
    "TFLITE_BUILTIN",
    "XNNPACK",
    "TFLM",
    "RefimplError",
    "ModelError",
    "OpError",
    "UnsupportedOpError",
    "InputError",
    "StateError",
]
