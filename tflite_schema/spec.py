"""Editable model descriptions: what :func:`tflite_schema.write_model` turns into bytes.

The read side (:mod:`tflite_schema.model`) is frozen and points into the file; these
are plain mutable dataclasses that own their data, shaped like schema.fbs so that a
read model maps onto them one to one (:func:`model_to_spec`):

* ``ModelSpec.buffers`` is the schema's buffer list: ``buffers[0]`` is the empty
  sentinel, a tensor with ``buffer == 0`` has no constant data, several tensors (and
  metadata entries) may share a buffer;
* an operator names its op directly (``OperatorSpec.op``, ``custom_code``,
  ``version``); the writer builds the deduplicated ``operator_codes`` table;
* ``OperatorSpec.options`` is an options dataclass of :mod:`tflite_schema.options`;
  its class says which union (``BuiltinOptions`` or ``BuiltinOptions2``) and which
  type code the writer uses.

Editing constant data goes through :meth:`ModelSpec.tensor_data` and
:meth:`ModelSpec.set_tensor_data` (copy-on-write when a buffer is shared)::

    spec = model_to_spec(load_model("hello_world_int8.tflite"))
    w = spec.tensor_data(0, 4)                     # a writable copy
    w[np.abs(w) < 8] = 0                           # prune
    spec.set_tensor_data(0, 4, w)
    spec.subgraphs[0].tensors[4].quantization.scale *= 2   # scale surgery
    save_model(spec, "pruned.tflite")

For small test models, :class:`tflite_schema.ModelBuilder` is shorter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .enums import BuiltinOperator, TensorType
from .model import Model
from .reader import read_model


class SpecError(ValueError):
    """A model description cannot be written (or a read model cannot be made editable).

    Messages start with the path of the offending object, e.g.
    ``"subgraphs[0].operators[2].inputs[1]: tensor index 9 out of range (7 tensors)"``.
    """


_TYPE_BY_DTYPE: dict[np.dtype, TensorType] = {}
for _t in TensorType:
    if _t.has_numpy_dtype and _t.numpy_dtype not in _TYPE_BY_DTYPE:
        _TYPE_BY_DTYPE[_t.numpy_dtype] = _t


def tensor_type(value: Any) -> TensorType:
    """``TensorType`` from a member, its value, a name (``"int8"``) or a NumPy dtype."""
    if isinstance(value, TensorType):
        return value
    if isinstance(value, str) and value.upper() in TensorType.__members__:
        return TensorType[value.upper()]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if int(value) in TensorType._value2member_map_:
            return TensorType(int(value))
    else:
        try:
            return _TYPE_BY_DTYPE[np.dtype(value).newbyteorder("<")]
        except (TypeError, KeyError):
            pass
    raise SpecError(f"{value!r} is not a TensorType, a type name or a NumPy dtype of one")


def builtin_operator(value: Any) -> int:
    """``BuiltinOperator`` from a member, a name (``"conv_2d"``) or a code (kept as int
    when newer than :class:`~tflite_schema.BuiltinOperator`)."""
    if isinstance(value, str):
        try:
            return BuiltinOperator[value.upper()]
        except KeyError:
            raise SpecError(f"unknown builtin operator name {value!r}") from None
    code = int(value)
    try:
        return BuiltinOperator(code)
    except ValueError:
        return code


def _floats(values: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(values, dtype=np.float32)).copy()


def _ints(values: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


@dataclass
class QuantizationSpec:
    """Affine quantization ``real = scale * (q - zero_point)``, per tensor or per axis.

    ``scale`` (float32) has n >= 1 entries; ``zero_point`` (int64) has 1 (broadcast when
    written) or n; ``quantized_dimension`` is the axis the n channels run along.
    ``min`` / ``max`` are the optional calibration ranges converters keep.
    """

    scale: np.ndarray
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    quantized_dimension: int = 0
    min: np.ndarray | None = None
    max: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.scale = _floats(self.scale)
        self.zero_point = np.atleast_1d(np.asarray(self.zero_point, dtype=np.int64)).copy()
        self.min = None if self.min is None else _floats(self.min)
        self.max = None if self.max is None else _floats(self.max)


@dataclass
class TensorSpec:
    """One tensor. ``type`` accepts anything :func:`tensor_type` does."""

    name: str
    shape: tuple[int, ...]
    type: TensorType
    buffer: int = 0
    quantization: QuantizationSpec | None = None
    shape_signature: tuple[int, ...] | None = None
    is_variable: bool = False
    has_rank: bool = False

    def __post_init__(self) -> None:
        self.shape = _ints(self.shape)
        self.type = tensor_type(self.type)
        if self.shape_signature is not None:
            self.shape_signature = _ints(self.shape_signature)


@dataclass
class OperatorSpec:
    """One node. ``op`` accepts anything :func:`builtin_operator` does; ``-1`` in
    ``inputs`` marks an absent optional input; ``version`` is the op's schema version."""

    op: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any = None
    intermediates: tuple[int, ...] = ()
    version: int = 1
    custom_code: str | None = None
    custom_options: bytes | None = None
    custom_options_format: int = 0
    mutating_variable_inputs: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        self.op = builtin_operator(self.op)
        self.inputs = _ints(self.inputs)
        self.outputs = _ints(self.outputs)
        self.intermediates = _ints(self.intermediates)
        self.mutating_variable_inputs = tuple(bool(v) for v in self.mutating_variable_inputs)


@dataclass
class SubGraphSpec:
    tensors: list[TensorSpec] = field(default_factory=list)
    operators: list[OperatorSpec] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    name: str = ""


@dataclass
class BufferSpec:
    """Raw little-endian bytes of one buffer (empty: no data)."""

    data: bytes = b""


@dataclass
class SignatureSpec:
    """A signature: alias → tensor index of subgraph ``subgraph_index``, in order."""

    key: str
    inputs: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, int] = field(default_factory=dict)
    subgraph_index: int = 0


@dataclass
class MetadataSpec:
    name: str
    buffer: int


@dataclass
class ModelSpec:
    """A whole model; ``buffers[0]`` must stay the empty sentinel."""

    subgraphs: list[SubGraphSpec] = field(default_factory=list)
    buffers: list[BufferSpec] = field(default_factory=lambda: [BufferSpec()])
    signature_defs: list[SignatureSpec] = field(default_factory=list)
    metadata: list[MetadataSpec] = field(default_factory=list)
    description: str = ""

    def add_buffer(self, data: bytes | bytearray | memoryview = b"") -> int:
        """Append a buffer; return its index."""
        self.buffers.append(BufferSpec(bytes(data)))
        return len(self.buffers) - 1

    def tensor_data(self, subgraph_index: int, tensor_index: int) -> np.ndarray | None:
        """A writable copy of a tensor's constant data, shaped; None without data.

        Raises
        ------
        SpecError
            The type has no NumPy dtype (read ``buffers[t.buffer].data`` instead) or the
            buffer size does not match the shape.
        """
        t = self.subgraphs[subgraph_index].tensors[tensor_index]
        raw = self.buffers[t.buffer].data
        if not raw:
            return None
        where = f"subgraphs[{subgraph_index}].tensors[{tensor_index}] '{t.name}'"
        dtype = _dtype(t, where)
        if len(raw) != math.prod(t.shape) * dtype.itemsize:
            raise SpecError(f"{where}: buffer {t.buffer} holds {len(raw)} bytes, shape "
                            f"{list(t.shape)} of {t.type.name} needs "
                            f"{math.prod(t.shape) * dtype.itemsize}")
        values = np.frombuffer(raw, dtype=dtype).reshape(t.shape)
        return values != 0 if t.type == TensorType.BOOL else values.copy()

    def set_tensor_data(self, subgraph_index: int, tensor_index: int, values: Any) -> int:
        """Store ``values`` (cast to the tensor's type, see :func:`as_tensor_bytes`) as the
        tensor's constant data; return the buffer index used.

        The tensor's own buffer is overwritten when no other tensor or metadata entry
        uses it; otherwise (and for ``buffer == 0``) a new buffer is appended, so other
        users of a shared buffer keep their data.
        """
        t = self.subgraphs[subgraph_index].tensors[tensor_index]
        where = f"subgraphs[{subgraph_index}].tensors[{tensor_index}] '{t.name}'"
        data = as_tensor_bytes(values, t.type, t.shape, where)
        users = sum(1 for sg in self.subgraphs for other in sg.tensors
                    if other.buffer == t.buffer) + sum(
                        1 for m in self.metadata if m.buffer == t.buffer)
        if t.buffer == 0 or users > 1:
            t.buffer = self.add_buffer(data)
        else:
            self.buffers[t.buffer] = BufferSpec(data)
        return t.buffer


def _dtype(t: TensorSpec, where: str) -> np.dtype:
    if not t.type.has_numpy_dtype:
        raise SpecError(f"{where}: data of type {t.type.name} has no NumPy dtype; "
                        "use raw bytes")
    return t.type.numpy_dtype


def as_tensor_bytes(values: Any, type_: TensorType, shape: tuple[int, ...],
                    where: str = "tensor") -> bytes:
    """Little-endian bytes of ``values`` as a constant of ``type_`` and ``shape``.

    ``bytes`` are taken as they are (the way to give packed INT4 or STRING data) and
    only size-checked for types with a NumPy dtype. Arrays are cast to the tensor's
    dtype: to an integer or bool type only when every value survives unchanged (no
    silent wraparound or truncation), to a float type always. The shape must match
    (a same-size array of another shape is an error, not a reshape).
    """
    if isinstance(values, (bytes, bytearray, memoryview)):
        raw = bytes(values)
        if type_.has_numpy_dtype:
            need = math.prod(shape) * type_.numpy_dtype.itemsize
            if len(raw) != need:
                raise SpecError(f"{where}: {len(raw)} bytes given, shape {list(shape)} of "
                                f"{type_.name} needs {need}")
        return raw
    dtype = _dtype(TensorSpec("", shape, type_), where)
    array = np.asarray(values)
    if array.shape != tuple(shape):
        raise SpecError(f"{where}: data of shape {list(array.shape)} for a tensor of "
                        f"shape {list(shape)}")
    cast = array.astype(dtype)
    if dtype.kind in "iub" and not np.array_equal(cast, array):
        raise SpecError(f"{where}: values do not fit {type_.name} exactly (range "
                        f"[{array.min()}, {array.max()}], dtype {array.dtype})")
    if type_ == TensorType.BOOL:
        cast = cast.astype(np.uint8)
    return cast.tobytes()


# -- read model → spec ------------------------------------------------------------------


def model_to_spec(model: Model | bytes | bytearray | memoryview) -> ModelSpec:
    """An editable copy of a read model (or of .tflite bytes).

    Everything the reader decodes is kept: tensors (quantization incl. min/max,
    shape signatures, variables, has_rank), buffer contents (inline or offset/size
    regions become plain bytes), operators with their options and custom options,
    signature defs, metadata, description, subgraph names. Operator codes become
    per-operator ``op`` / ``custom_code`` / ``version``.

    Raises
    ------
    SpecError
        The model uses something the reader does not decode, so that rewriting it
        would silently drop it: sparse tensors, custom / blockwise quantization
        details, external weight files, options of a union type unknown to
        :mod:`tflite_schema.options`, or options set in both unions of one operator.
    """
    if not isinstance(model, Model):
        model = read_model(model)
    codes = model.operator_codes
    subgraphs = []
    for sg in model.subgraphs:
        path = f"subgraphs[{sg.index}]"
        tensors = [_tensor_spec(t, f"{path}.tensors[{t.index}]") for t in sg.tensors]
        operators = []
        for op in sg.operators:
            where = f"{path}.operators[{op.index}]"
            code = codes[op.opcode_index]
            operators.append(OperatorSpec(
                op=code.builtin_code, inputs=op.inputs, outputs=op.outputs,
                options=_options(op, where), intermediates=op.intermediates,
                version=code.version, custom_code=code.custom_code,
                custom_options=op.custom_options,
                custom_options_format=op.custom_options_format,
                mutating_variable_inputs=op.mutating_variable_inputs))
        subgraphs.append(SubGraphSpec(tensors=tensors, operators=operators,
                                      inputs=list(sg.inputs), outputs=list(sg.outputs),
                                      name=sg.name))
    return ModelSpec(
        subgraphs=subgraphs,
        buffers=[BufferSpec(bytes(model.buffer_data(b.index))) for b in model.buffers],
        signature_defs=[SignatureSpec(
            key=s.signature_key, subgraph_index=s.subgraph_index,
            inputs={m.name: m.tensor_index for m in s.inputs},
            outputs={m.name: m.tensor_index for m in s.outputs})
            for s in model.signature_defs],
        metadata=[MetadataSpec(m.name, m.buffer) for m in model.metadata],
        description=model.description,
    )


def _tensor_spec(t: Any, where: str) -> TensorSpec:
    if t.has_sparsity:
        raise SpecError(f"{where} '{t.name}': sparse tensors cannot be rewritten "
                        "(sparsity parameters are not decoded)")
    if t.external_buffer:
        raise SpecError(f"{where} '{t.name}': data in external buffer "
                        f"{t.external_buffer} (a separate weights file) is not supported")
    q = t.quantization
    if q is not None and q.has_details:
        raise SpecError(f"{where} '{t.name}': quantization details (custom or blockwise "
                        "quantization) are not decoded and cannot be rewritten")
    quant = None if q is None else QuantizationSpec(
        scale=q.scale, zero_point=q.zero_point, quantized_dimension=q.quantized_dimension,
        min=q.min, max=q.max)
    return TensorSpec(name=t.name, shape=t.shape, type=t.type, buffer=t.buffer,
                      quantization=quant, shape_signature=t.shape_signature,
                      is_variable=t.is_variable, has_rank=t.has_rank)


def _options(op: Any, where: str) -> Any:
    for type_code, value, union in ((op.builtin_options_type, op.builtin_options,
                                     "builtin_options"),
                                    (op.builtin_options_2_type, op.builtin_options_2,
                                     "builtin_options_2")):
        if type_code and value is None:
            raise SpecError(f"{where}: {union} of union type {type_code} are not decoded "
                            "by tflite_schema.options and would be lost")
    if op.builtin_options is not None and op.builtin_options_2 is not None:
        raise SpecError(f"{where}: options in both builtin_options and builtin_options_2 "
                        "(an operator spec holds one)")
    return op.builtin_options if op.builtin_options is not None else op.builtin_options_2
