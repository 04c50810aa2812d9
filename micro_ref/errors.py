"""Errors raised by micro_ref, kept apart from refimpl's so that the two never mix.

``MicroUnsupportedError`` is an *outcome*, not a bug: TFLM cannot run this model
(unknown op, hybrid or float16-weight model, or no arena up to the cap was big enough).
Its message carries TFLM's own words.
"""

from __future__ import annotations


class MicroRefError(Exception):
    """Base class of every error micro_ref raises on purpose."""


class MicroModelError(MicroRefError):
    """The bytes are not a readable TFLite model."""


class MicroUnsupportedError(MicroRefError):
    """TFLM refused the model while allocating tensors (the message says why)."""

    def __init__(self, message: str, tflm_log: str = ""):
        self.tflm_log = tflm_log
        super().__init__(message)


class MicroArenaError(MicroUnsupportedError):
    """No tensor arena up to the size cap was big enough for the model."""


class MicroInputError(MicroRefError, ValueError):
    """A value passed by the caller does not fit the tensor (index, dtype or shape)."""


class MicroStateError(MicroRefError):
    """The interpreter was used out of order (e.g. invoke before allocate_tensors)."""


class MicroInvokeError(MicroRefError):
    """TFLM reported a failure while running the model."""

    def __init__(self, message: str, tflm_log: str = ""):
        self.tflm_log = tflm_log
        super().__init__(message)
