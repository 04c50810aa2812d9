"""Errors raised while reading a .tflite file.

Every problem with the *bytes* of a model raises a :class:`SchemaError`; nothing
else escapes :func:`tflite_schema.read_model` for any input (no ``IndexError``,
``struct.error`` or ``UnicodeDecodeError``). Messages start with the table path and
the field, e.g. ``"Model.subgraphs[0].tensors[3].shape: vector of 2147483647 int
(8589934588 bytes) at position 640 runs past the end of the file (size 812)"``.

``SchemaError`` derives from ``ValueError`` so that callers that only know the
standard library still catch it; ``refimpl`` wraps it into its own ``ModelError``.
"""

from __future__ import annotations


class SchemaError(ValueError):
    """The file is not a well-formed TFLite flatbuffer (base class)."""


class TruncatedError(SchemaError):
    """A read would run past the end of the file (a short file or a huge offset/length)."""


class CorruptError(SchemaError):
    """A value is inconsistent: bad vtable, index out of range, unknown enum, mismatched sizes."""


class UnsupportedTypeError(SchemaError):
    """Constant data of this tensor type cannot be decoded to NumPy (STRING, INT4, ...)."""
