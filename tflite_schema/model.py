"""Typed, read-only views of a TFLite model (produced by :func:`tflite_schema.read_model`).

All objects are frozen dataclasses holding plain Python values (tuples of ints,
strings) and small NumPy arrays; constant tensor data stays in the file bytes and is
reached through :meth:`Model.buffer_data` / :meth:`Model.tensor_data` as read-only
views (no copy). Field names are the schema.fbs ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .enums import BuiltinOperator, TensorType
from .errors import CorruptError, SchemaError, UnsupportedTypeError


@dataclass(frozen=True, eq=False)
class QuantizationParameters:
    """Affine quantization ``real = scale * (q - zero_point)``, per tensor or per channel.

    Attributes
    ----------
    scale : ndarray of float32, shape (n,), n >= 1
    zero_point : ndarray of int64, shape (n,)
        Broadcast to ``n`` when the file stores one value, zeros when it stores none.
    quantized_dimension : int
        Axis of the tensor the ``n`` channels run along (meaningful when n > 1). Not
        checked against the tensor's rank: runtimes differ there (LiteRT rejects an
        out-of-range axis, TFLM ignores it for per-tensor use).
    min, max : ndarray of float32 or None
        Calibration range kept by the converter, when present.
    has_details : bool
        The ``details`` union (custom / blockwise quantization) is set; the affine
        parameters may then not be the whole story.
    """

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int = 0
    min: np.ndarray | None = None
    max: np.ndarray | None = None
    has_details: bool = False

    @property
    def is_per_channel(self) -> bool:
        return self.scale.size > 1

    def __repr__(self) -> str:  # short: per-channel scales can number in the thousands
        if self.is_per_channel:
            body = (f"per-channel n={self.scale.size} axis={self.quantized_dimension}, "
                    f"scale[0]={float(self.scale[0]):.6g}, zero_point[0]={int(self.zero_point[0])}")
        else:
            body = f"scale={float(self.scale[0]):.6g}, zero_point={int(self.zero_point[0])}"
        extras = "".join(f", {name}=[...]" for name in ("min", "max")
                         if getattr(self, name) is not None)
        details = ", has_details=True" if self.has_details else ""
        return f"QuantizationParameters({body}{extras}{details})"


@dataclass(frozen=True, eq=False)
class Tensor:
    """One tensor of a subgraph.

    ``shape`` is the static shape (unknown dimensions stored as 1 by converters);
    ``shape_signature`` has -1 for unknown dimensions, None when absent.
    ``quantization`` is None when the file has no parameters or no scale.
    ``external_buffer`` (newest schema, slot 10) is non-zero when the constant data
    lives in a separate weights file (``Model.external_buffers``, not decoded here).
    """

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...] | None
    type: TensorType
    buffer: int
    quantization: QuantizationParameters | None
    is_variable: bool = False
    has_sparsity: bool = False
    has_rank: bool = False
    external_buffer: int = 0


@dataclass(frozen=True)
class Buffer:
    """A data buffer: ``data`` inline in the flatbuffer, or ``offset``/``size`` into the file.

    ``inline_size`` is the length of the inline ``data`` vector; ``offset``/``size``
    are the raw fields (meaningful when offset > 1). Read the bytes with
    :meth:`Model.buffer_data`.
    """

    index: int
    offset: int
    size: int
    inline_size: int
    # (start, length) in the file of the bytes buffer_data returns.
    region: tuple[int, int] = field(default=(0, 0), repr=False)


@dataclass(frozen=True)
class OperatorCode:
    """An entry of ``Model.operator_codes``.

    ``builtin_code`` is the *effective* code ``max(deprecated_builtin_code,
    builtin_code)``: old files only fill the int8 ``deprecated_builtin_code`` (slot 0),
    new ones put 127 (PLACEHOLDER_FOR_GREATER_OP_CODES) there and the real code in
    the int32 ``builtin_code`` (slot 3). ``deprecated_builtin_code`` keeps the raw
    int8 value. Mirrors ``GetBuiltinCode`` in tensorflow/lite/schema/schema_utils.cc.
    """

    builtin_code: int
    custom_code: str | None
    version: int = 1
    deprecated_builtin_code: int = 0

    @property
    def name(self) -> str:
        """``'CONV_2D'``, ``'CUSTOM:<custom_code>'`` or ``'UNKNOWN_<n>'``."""
        if self.builtin_code == BuiltinOperator.CUSTOM:
            return f"CUSTOM:{self.custom_code or ''}"
        try:
            return BuiltinOperator(self.builtin_code).name
        except ValueError:
            return f"UNKNOWN_{self.builtin_code}"


@dataclass(frozen=True, eq=False)
class Operator:
    """One node of a subgraph, in execution order.

    ``inputs`` may hold -1 for an absent optional input. ``builtin_options`` is the
    decoded options dataclass (see :mod:`tflite_schema.options`) for a known,
    present union member, else None; ``builtin_options_type`` is kept either way.
    It is *not* checked against the op: see :data:`tflite_schema.OPTIONS_FOR_OP`.
    ``custom_options`` are the raw bytes (inline, or the large-model region).
    """

    index: int
    opcode_index: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...] = ()
    builtin_options_type: int = 0
    builtin_options: Any = None
    custom_options: bytes | None = None
    custom_options_format: int = 0
    mutating_variable_inputs: tuple[bool, ...] = ()
    builtin_options_2_type: int = 0
    builtin_options_2: Any = None


@dataclass(frozen=True, eq=False)
class SubGraph:
    index: int
    name: str
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    operators: tuple[Operator, ...]


@dataclass(frozen=True)
class SignatureTensor:
    """Alias ``name`` of tensor ``tensor_index`` of the signature's subgraph (TensorMap)."""

    name: str
    tensor_index: int


@dataclass(frozen=True)
class SignatureDef:
    signature_key: str
    subgraph_index: int
    inputs: tuple[SignatureTensor, ...]
    outputs: tuple[SignatureTensor, ...]


@dataclass(frozen=True)
class Metadata:
    name: str
    buffer: int


@dataclass(frozen=True, eq=False)
class Model:
    """A decoded .tflite file; keeps a read-only view of the file bytes."""

    version: int
    description: str
    subgraphs: tuple[SubGraph, ...]
    buffers: tuple[Buffer, ...]
    operator_codes: tuple[OperatorCode, ...]
    signature_defs: tuple[SignatureDef, ...]
    metadata: tuple[Metadata, ...]
    data: memoryview = field(repr=False)

    def buffer_data(self, buffer_index: int) -> memoryview:
        """Bytes of buffer ``buffer_index`` as a read-only view into the file.

        The inline ``data`` vector when it is non-empty, otherwise the region
        ``[offset, offset + size)`` of the file when ``offset > 1`` (large models keep
        weights after the flatbuffer), otherwise empty. Bounds were checked at load.
        Mirrors the lookup in LiteRT's ``InterpreterBuilder::ParseTensors``.

        Raises
        ------
        IndexError
            ``buffer_index`` is not an index of ``buffers`` (a caller error).
        """
        if not 0 <= buffer_index < len(self.buffers):
            raise IndexError(f"buffer index {buffer_index} out of range "
                             f"({len(self.buffers)} buffers)")
        start, length = self.buffers[buffer_index].region
        return self.data[start : start + length]

    def tensor_data(self, subgraph_index: int, tensor_index: int) -> np.ndarray | None:
        """Constant contents of a tensor, decoded and reshaped; None without data.

        Returns a read-only view (no copy) of dtype ``tensor.type.numpy_dtype`` and
        shape ``tensor.shape``; BOOL data is returned as ``bytes != 0`` (a small copy).

        Raises
        ------
        IndexError
            Bad subgraph / tensor index (a caller error).
        UnsupportedTypeError
            The tensor type has no NumPy dtype (STRING, INT4 and the other packed
            types, BFLOAT16, FLOAT8, RESOURCE, VARIANT): read the raw bytes with
            :meth:`buffer_data` instead.
        CorruptError
            The buffer size is not ``prod(shape) * itemsize``.
        SchemaError
            The data lives in an external weights file (``external_buffer``).
        """
        tensor = self.subgraphs[subgraph_index].tensors[tensor_index]
        raw = self.buffer_data(tensor.buffer)
        where = f"subgraph {subgraph_index} tensor {tensor_index} '{tensor.name}'"
        if len(raw) == 0:
            if tensor.external_buffer:
                raise SchemaError(f"{where}: data is in external buffer "
                                  f"{tensor.external_buffer}, which is not supported")
            return None
        if not tensor.type.has_numpy_dtype:
            raise UnsupportedTypeError(
                f"{where}: constant data of type {tensor.type.name} cannot be decoded; "
                f"read its {len(raw)} raw bytes with Model.buffer_data({tensor.buffer})")
        dtype = tensor.type.numpy_dtype
        if any(d < 0 for d in tensor.shape):
            raise CorruptError(f"{where}: constant tensor has negative dimension in shape "
                               f"{list(tensor.shape)}")
        expected = math.prod(tensor.shape) * dtype.itemsize
        if expected != len(raw):
            raise CorruptError(
                f"{where}: buffer {tensor.buffer} holds {len(raw)} bytes but shape "
                f"{list(tensor.shape)} of {tensor.type.name} needs {expected}")
        if tensor.type == TensorType.BOOL:
            values = np.frombuffer(raw, dtype=np.uint8) != 0
            values.flags.writeable = False
        else:
            values = np.frombuffer(raw, dtype=dtype)
        return values.reshape(tensor.shape)
