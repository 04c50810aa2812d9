"""Write a :class:`~tflite_schema.spec.ModelSpec` as a .tflite flatbuffer.

:func:`write_model` builds the file with the ``flatbuffers`` runtime's ``Builder``
(the same library LiteRT's Python schema module uses); :func:`save_model` puts the
bytes on disk atomically. What the writer guarantees:

* file identifier ``TFL3``, ``Model.version`` 3 (the only version runtimes load);
* the data of every buffer starts on a 16-byte boundary of the file (the converter's
  alignment; LiteRT reads some constant data in place, which needs it);
* ``operator_codes`` deduplicated on (op, custom_code, version) in order of first
  use, with ``deprecated_builtin_code = min(op, 127)`` and ``builtin_code = op``, so
  that old readers see the op (or 127, PLACEHOLDER_FOR_GREATER_OP_CODES) and new ones
  read ``max`` of both fields, as ``GetBuiltinCode`` in schema_utils.cc does;
* options tables written from the options dataclasses' ``FIELDS`` (the slot layout
  the reader decodes), into ``builtin_options`` or ``builtin_options_2`` according to
  the class's ``UNION``, with its ``UNION_TYPE`` as the type code; fields equal to
  their schema default are left out, as flatc-generated builders do;
* quantization always carries ``zero_point`` with one entry per scale (TFLM ignores
  a quantization table without zero points).

With ``external_data=True`` every non-empty buffer is placed after the flatbuffer,
16-byte aligned, and found through ``Buffer.offset`` / ``Buffer.size`` (the layout
the converter uses for models over 2 GB, which are themselves out of scope).

Mirrors the table layout of tensorflow/lite/schema/schema.fbs (slots in declaration
order) and the operator-code convention of tensorflow/lite/schema/schema_utils.cc.
"""

from __future__ import annotations

import math
import os
import secrets
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np

from .enums import BuiltinOperator, TensorType
from .reader import FILE_IDENTIFIER, SCHEMA_VERSION
from .spec import (ModelSpec, OperatorSpec, QuantizationSpec, SignatureSpec, SpecError,
                   SubGraphSpec, TensorSpec)

#: Alignment of buffer data in the file (the converter's ``ForceVectorAlignment``).
BUFFER_ALIGNMENT = 16
_PLACEHOLDER_OP = int(BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
_OFFSET_PLACEHOLDER = 2  # any value > 1 marks "data at offset"; patched in a second pass
_FLATBUFFER_LIMIT = (1 << 31) - (1 << 24)  # 2 GiB minus room for the tables

_SLOT_WRITERS = {
    "bool": "PrependBoolSlot", "byte": "PrependInt8Slot", "ubyte": "PrependUint8Slot",
    "short": "PrependInt16Slot", "ushort": "PrependUint16Slot", "int": "PrependInt32Slot",
    "uint": "PrependUint32Slot", "long": "PrependInt64Slot", "ulong": "PrependUint64Slot",
    "float": "PrependFloat32Slot", "double": "PrependFloat64Slot",
}
_VECTOR_DTYPES = {
    "bool": "u1", "byte": "i1", "ubyte": "u1", "short": "<i2", "ushort": "<u2",
    "int": "<i4", "uint": "<u4", "long": "<i8", "ulong": "<u8", "float": "<f4",
    "double": "<f8",
}
# (type slot, value slot) of each options union in the Operator table.
_UNION_SLOTS = {"BuiltinOptions": (3, 4), "BuiltinOptions2": (11, 12)}


def write_model(spec: ModelSpec, *, external_data: bool = False,
                validate: bool = True) -> bytes:
    """The .tflite bytes of ``spec``.

    Parameters
    ----------
    spec : ModelSpec
    external_data : bool
        Put buffer contents after the flatbuffer (offset / size) instead of inline.
    validate : bool
        Check the spec first (:func:`check_spec`). Pass False only to write a
        deliberately inconsistent model, e.g. for error-path tests of a reader.

    Raises
    ------
    SpecError
        The spec is inconsistent (with ``validate``) or a value does not fit its
        schema field (a negative ``uint``, an int32 overflow...).
    """
    if validate:
        check_spec(spec)
    inline = 0 if external_data else sum(len(b.data) for b in spec.buffers)
    if inline > _FLATBUFFER_LIMIT:
        raise SpecError(f"buffers: {inline} bytes of data do not fit in a flatbuffer "
                        "(2 GiB); write them with external_data=True")
    codes = _operator_codes(spec)
    blobs = [i for i, b in enumerate(spec.buffers) if b.data] if external_data else []
    first = _Writer(spec, codes, {i: _OFFSET_PLACEHOLDER for i in blobs}).build()
    if not blobs:
        return first
    # Offsets are u64 fields present in both passes, so the flatbuffer keeps its size.
    offsets, position = {}, _align(len(first))
    for i in blobs:
        offsets[i] = position
        position = _align(position + len(spec.buffers[i].data))
    flat = _Writer(spec, codes, offsets).build()
    assert len(flat) == len(first), "second pass changed the flatbuffer size"
    out = bytearray(flat)
    for i in blobs:
        out.extend(bytes(offsets[i] - len(out)))
        out.extend(spec.buffers[i].data)
    out.extend(bytes(_align(len(out)) - len(out)))
    return bytes(out)


def save_model(model: Any, path: str | os.PathLike[str], *, overwrite: bool = False,
               external_data: bool = False) -> Path:
    """Write a model to ``path`` atomically; return the path.

    ``model`` is .tflite bytes, a :class:`ModelSpec` or anything with a ``build()``
    method returning one (a :class:`~tflite_schema.ModelBuilder`). The bytes go to a
    temporary file in the same directory, are flushed to disk, then take the final
    name in one step: readers never see a partial file, and a failure leaves no
    file behind. Without ``overwrite`` an existing file is never replaced (the final
    step is a hard link, which fails atomically if the name exists; on file systems
    without hard links, an existence check followed by ``os.replace``).

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
    else:
        spec = model if isinstance(model, ModelSpec) else model.build()
        data = write_model(spec, external_data=external_data)
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open applies the umask, unlike tempfile's private 0600 files.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_no_clobber(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _publish_no_clobber(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)") from None
    except OSError:  # no hard links here (some network / FAT file systems)
        if path.exists():
            raise FileExistsError(
                f"{path} exists (pass overwrite=True to replace it)") from None
        os.replace(tmp, path)


def _align(n: int) -> int:
    return -(-n // BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT


# -- validation -------------------------------------------------------------------------


def check_spec(spec: ModelSpec) -> None:
    """Raise :class:`SpecError` naming the first inconsistency of ``spec``.

    Checks: at least one subgraph; ``buffers[0]`` empty; every tensor, metadata and
    signature reference in range (-1 allowed for optional operator inputs);
    constant data sized ``prod(shape) * itemsize`` for types with a NumPy dtype;
    quantization with a scale and 1 or n zero points; options of an options class.
    (:class:`~tflite_schema.ModelBuilder` also checks a per-axis scale count against
    the tensor's shape.)
    """
    if not spec.subgraphs:
        raise SpecError("subgraphs: a model needs at least one subgraph")
    if not spec.buffers or spec.buffers[0].data:
        raise SpecError("buffers[0]: must exist and be empty (the sentinel buffer)")
    n_buffers = len(spec.buffers)
    for s, sg in enumerate(spec.subgraphs):
        _check_subgraph(spec, sg, f"subgraphs[{s}]", n_buffers)
    for i, m in enumerate(spec.metadata):
        _check_range(m.buffer, n_buffers, f"metadata[{i}] '{m.name}'.buffer", "buffers")
    for i, sig in enumerate(spec.signature_defs):
        _check_signature(spec, sig, f"signature_defs[{i}] '{sig.key}'")


def _check_range(value: int, limit: int, where: str, what: str) -> None:
    if not 0 <= value < limit:
        raise SpecError(f"{where}: index {value} out of range ({limit} {what})")


def _check_tensor_refs(values: Sequence[int], n: int, where: str,
                       allow_absent: bool = False) -> None:
    for i, v in enumerate(values):
        if not (0 <= v < n or (allow_absent and v == -1)):
            raise SpecError(f"{where}[{i}]: tensor index {v} out of range ({n} tensors)")


def _check_subgraph(spec: ModelSpec, sg: SubGraphSpec, path: str, n_buffers: int) -> None:
    n = len(sg.tensors)
    for i, t in enumerate(sg.tensors):
        _check_tensor(spec, t, f"{path}.tensors[{i}] '{t.name}'", n_buffers)
    _check_tensor_refs(sg.inputs, n, f"{path}.inputs")
    _check_tensor_refs(sg.outputs, n, f"{path}.outputs")
    for i, op in enumerate(sg.operators):
        where = f"{path}.operators[{i}]"
        _check_tensor_refs(op.inputs, n, f"{where}.inputs", allow_absent=True)
        _check_tensor_refs(op.outputs, n, f"{where}.outputs")
        _check_tensor_refs(op.intermediates, n, f"{where}.intermediates")
        if op.options is not None and getattr(type(op.options), "UNION", None) \
                not in _UNION_SLOTS:
            raise SpecError(f"{where}.options: {type(op.options).__name__} is not an "
                            "options class of tflite_schema.options")


def _check_tensor(spec: ModelSpec, t: TensorSpec, where: str, n_buffers: int) -> None:
    _check_range(t.buffer, n_buffers, f"{where}.buffer", "buffers")
    data = spec.buffers[t.buffer].data
    if data and t.type.has_numpy_dtype:
        need = math.prod(t.shape) * t.type.numpy_dtype.itemsize
        if len(data) != need:
            raise SpecError(f"{where}: buffer {t.buffer} holds {len(data)} bytes, shape "
                            f"{list(t.shape)} of {t.type.name} needs {need}")
    q = t.quantization
    if q is None:
        return
    n = q.scale.size
    if n == 0:
        raise SpecError(f"{where}.quantization: no scale (use quantization=None)")
    if q.zero_point.size not in (1, n):
        raise SpecError(f"{where}.quantization: {q.zero_point.size} zero points for {n} "
                        "scales (expected 1 or the same number)")
    # The per-axis dimension is not checked against the shape: runtimes differ (LiteRT
    # rejects an axis out of range, TFLM ignores it; person_detect's biases have 8
    # scales along axis 3 of a 1-D tensor), and the writer must reproduce real files.


def _check_signature(spec: ModelSpec, sig: SignatureSpec, where: str) -> None:
    _check_range(sig.subgraph_index, len(spec.subgraphs), f"{where}.subgraph_index",
                 "subgraphs")
    n = len(spec.subgraphs[sig.subgraph_index].tensors)
    _check_tensor_refs(list(sig.inputs.values()), n, f"{where}.inputs")
    _check_tensor_refs(list(sig.outputs.values()), n, f"{where}.outputs")


# -- building -----------------------------------------------------------------------------

_CodeKey = tuple[int, "str | None", int]


def _operator_codes(spec: ModelSpec) -> dict[_CodeKey, int]:
    """Deduplicated operator codes in order of first use → their index."""
    codes: dict[_CodeKey, int] = {}
    for sg in spec.subgraphs:
        for op in sg.operators:
            codes.setdefault(_code_key(op), len(codes))
    return codes


def _code_key(op: OperatorSpec) -> _CodeKey:
    return int(op.op), op.custom_code, int(op.version)


class _Writer:
    """One pass over the spec with one ``flatbuffers.Builder``.

    The builder writes back to front, so children (strings, vectors, tables) are
    created before the table that refers to them.
    """

    def __init__(self, spec: ModelSpec, codes: dict[_CodeKey, int], offsets: dict[int, int]):
        self.spec, self.codes, self.offsets = spec, codes, offsets
        inline = 0 if offsets else sum(len(b.data) for b in spec.buffers)
        self.b = flatbuffers.Builder(inline + 2 * BUFFER_ALIGNMENT * len(spec.buffers)
                                     + (1 << 16))

    def build(self) -> bytes:
        b, spec = self.b, self.spec
        # Buffers first: they end up at the end of the file, after the small tables.
        buffers = self._table_vector([self._buffer(i) for i in range(len(spec.buffers))])
        codes = self._table_vector([self._code(k) for k in self.codes])
        subgraphs = self._table_vector(
            [self._subgraph(sg, f"subgraphs[{i}]") for i, sg in enumerate(spec.subgraphs)])
        metadata = self._table_vector([self._name_index(m.name, m.buffer)
                                       for m in spec.metadata])
        signatures = self._table_vector([self._signature(s) for s in spec.signature_defs])
        description = b.CreateString(spec.description)
        b.StartObject(8)
        b.PrependUint32Slot(0, SCHEMA_VERSION, 0)
        b.PrependUOffsetTRelativeSlot(1, codes, 0)
        b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
        b.PrependUOffsetTRelativeSlot(3, description, 0)
        b.PrependUOffsetTRelativeSlot(4, buffers, 0)
        # slot 5: deprecated metadata_buffer
        b.PrependUOffsetTRelativeSlot(6, metadata, 0)
        b.PrependUOffsetTRelativeSlot(7, signatures, 0)
        b.Finish(b.EndObject(), file_identifier=FILE_IDENTIFIER)
        return bytes(b.Output())

    # -- helpers ------------------------------------------------------------------
    def _vector(self, kind: str, values: Any) -> int:
        array = np.asarray(values, dtype=_VECTOR_DTYPES[kind]).reshape(-1)
        return self.b.CreateNumpyVector(array)

    def _bytes(self, data: bytes, alignment: int) -> int:
        b = self.b
        b.StartVector(1, len(data), alignment)  # aligns the first data byte
        b.head = b.head - len(data)
        b.Bytes[b.head : b.head + len(data)] = data
        return b.EndVector()

    def _table_vector(self, offsets: Sequence[int]) -> int:
        b = self.b
        b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    # -- tables -------------------------------------------------------------------
    def _buffer(self, index: int) -> int:
        b, data = self.b, self.spec.buffers[index].data
        external = index in self.offsets
        inline = None if external or not data else self._bytes(data, BUFFER_ALIGNMENT)
        b.StartObject(3)
        if inline is not None:
            b.PrependUOffsetTRelativeSlot(0, inline, 0)
        if external:
            b.PrependUint64Slot(1, self.offsets[index], 0)
            b.PrependUint64Slot(2, len(data), 0)
        return b.EndObject()

    def _code(self, key: _CodeKey) -> int:
        b = self.b
        op, custom_code, version = key
        custom = None if custom_code is None else b.CreateString(custom_code)
        b.StartObject(4)
        b.PrependInt8Slot(0, min(op, _PLACEHOLDER_OP), 0)
        if custom is not None:
            b.PrependUOffsetTRelativeSlot(1, custom, 0)
        b.PrependInt32Slot(2, version, 1)
        b.PrependInt32Slot(3, op, 0)
        return b.EndObject()

    def _subgraph(self, sg: SubGraphSpec, path: str) -> int:
        b = self.b
        tensors = self._table_vector(
            [self._guard(self._tensor, t, f"{path}.tensors[{i}]")
             for i, t in enumerate(sg.tensors)])
        operators = self._table_vector(
            [self._guard(self._operator, op, f"{path}.operators[{i}]")
             for i, op in enumerate(sg.operators)])
        inputs, outputs = self._vector("int", sg.inputs), self._vector("int", sg.outputs)
        name = b.CreateString(sg.name)
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, tensors, 0)
        b.PrependUOffsetTRelativeSlot(1, inputs, 0)
        b.PrependUOffsetTRelativeSlot(2, outputs, 0)
        b.PrependUOffsetTRelativeSlot(3, operators, 0)
        b.PrependUOffsetTRelativeSlot(4, name, 0)
        return b.EndObject()

    def _guard(self, write: Any, item: Any, where: str) -> int:
        try:
            return write(item)
        except (struct.error, OverflowError, TypeError, ValueError) as e:
            if isinstance(e, SpecError):
                raise
            raise SpecError(f"{where}: a value does not fit its schema field ({e})") from e

    def _tensor(self, t: TensorSpec) -> int:
        b = self.b
        name = b.CreateString(t.name)
        shape = self._vector("int", t.shape)
        signature = None if t.shape_signature is None else self._vector("int",
                                                                        t.shape_signature)
        quant = None if t.quantization is None else self._quantization(t.quantization)
        b.StartObject(11)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, int(TensorType(t.type)), 0)
        b.PrependUint32Slot(2, t.buffer, 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        b.PrependBoolSlot(5, bool(t.is_variable), False)
        # slot 6: sparsity (not supported)
        if signature is not None:
            b.PrependUOffsetTRelativeSlot(7, signature, 0)
        b.PrependBoolSlot(8, bool(t.has_rank), False)
        return b.EndObject()

    def _quantization(self, q: QuantizationSpec) -> int:
        b = self.b
        scale = np.asarray(q.scale, dtype=np.float32).reshape(-1)
        zero_point = np.broadcast_to(np.asarray(q.zero_point, dtype=np.int64).reshape(-1),
                                     scale.shape)
        qmin = None if q.min is None else self._vector("float", q.min)
        qmax = None if q.max is None else self._vector("float", q.max)
        scale_v, zp_v = self._vector("float", scale), self._vector("long", zero_point)
        b.StartObject(7)
        if qmin is not None:
            b.PrependUOffsetTRelativeSlot(0, qmin, 0)
        if qmax is not None:
            b.PrependUOffsetTRelativeSlot(1, qmax, 0)
        b.PrependUOffsetTRelativeSlot(2, scale_v, 0)
        b.PrependUOffsetTRelativeSlot(3, zp_v, 0)
        b.PrependInt32Slot(6, q.quantized_dimension, 0)
        return b.EndObject()

    def _operator(self, op: OperatorSpec) -> int:
        b = self.b
        inputs, outputs = self._vector("int", op.inputs), self._vector("int", op.outputs)
        intermediates = self._vector("int", op.intermediates) if op.intermediates else None
        mutating = (self._vector("bool", op.mutating_variable_inputs)
                    if op.mutating_variable_inputs else None)
        custom = None if op.custom_options is None else self._bytes(op.custom_options, 4)
        options, slots = None, (0, 0)
        if op.options is not None:
            options = self._options(op.options)
            slots = _UNION_SLOTS[type(op.options).UNION]
        b.StartObject(13)
        b.PrependUint32Slot(0, self.codes[_code_key(op)], 0)
        b.PrependUOffsetTRelativeSlot(1, inputs, 0)
        b.PrependUOffsetTRelativeSlot(2, outputs, 0)
        if options is not None:
            b.PrependUint8Slot(slots[0], type(op.options).UNION_TYPE, 0)
            b.PrependUOffsetTRelativeSlot(slots[1], options, 0)
        if custom is not None:
            b.PrependUOffsetTRelativeSlot(5, custom, 0)
        b.PrependInt8Slot(6, op.custom_options_format, 0)
        if mutating is not None:
            b.PrependUOffsetTRelativeSlot(7, mutating, 0)
        if intermediates is not None:
            b.PrependUOffsetTRelativeSlot(8, intermediates, 0)
        return b.EndObject()

    def _options(self, options: Any) -> int:
        """An options dataclass as its table; fields at their default are left out."""
        b = self.b
        fields = type(options).FIELDS
        refs: dict[int, int] = {}
        for f in fields:
            value = None if f.deprecated else getattr(options, f.name)
            if value is None or not (f.is_vector or f.kind == "string"):
                continue
            if f.kind == "string":
                refs[f.slot] = b.CreateString(value)
            elif f.kind == "ubyte":
                refs[f.slot] = self._bytes(bytes(value), 1)
            else:
                refs[f.slot] = self._vector(f.kind, list(value))
        b.StartObject(len(fields))
        for f in fields:
            if f.slot in refs:
                b.PrependUOffsetTRelativeSlot(f.slot, refs[f.slot], 0)
            elif not (f.deprecated or f.is_vector or f.kind == "string"):
                getattr(b, _SLOT_WRITERS[f.kind])(f.slot, getattr(options, f.name), f.default)
        return b.EndObject()

    def _name_index(self, name: str, index: int) -> int:
        """A Metadata (name, buffer) or TensorMap (name, tensor_index) table."""
        b = self.b
        name_off = b.CreateString(name)
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, name_off, 0)
        b.PrependUint32Slot(1, index, 0)
        return b.EndObject()

    def _signature(self, sig: SignatureSpec) -> int:
        b = self.b
        inputs = self._table_vector([self._name_index(k, v) for k, v in sig.inputs.items()])
        outputs = self._table_vector([self._name_index(k, v) for k, v in sig.outputs.items()])
        key = b.CreateString(sig.key)
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, inputs, 0)
        b.PrependUOffsetTRelativeSlot(1, outputs, 0)
        b.PrependUOffsetTRelativeSlot(2, key, 0)
        # slot 3: deprecated deprecated_tag
        b.PrependUint32Slot(4, sig.subgraph_index, 0)
        return b.EndObject()
