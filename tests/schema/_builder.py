"""Build small .tflite files by hand with ``flatbuffers.Builder`` (test helper only).

Field slots are written from the schema.fbs declaration order, independently of
``tflite_schema.reader``; options tables are written from the option classes'
``FIELDS`` (their slot layout is checked separately against LiteRT's generated
schema in test_schema_options.py).

Example::

    data = build_model(
        tensors=[T("x", [1, 4]), T("w", [4], type=INT8, buffer=1, scale=[0.5])],
        ops=[Op(0, [0, 1], [0])],
        codes=[Code(builtin_code=0)],
        buffers=[Buf(), Buf(data=bytes(4))],
        inputs=[0], outputs=[0],
    )
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import flatbuffers
import numpy as np

FLOAT32, INT32, UINT8, STRING, BOOL, INT16, INT8, INT4 = 0, 2, 3, 5, 6, 7, 9, 17

_SLOT_WRITERS = {
    "bool": "PrependBoolSlot", "byte": "PrependInt8Slot", "ubyte": "PrependUint8Slot",
    "short": "PrependInt16Slot", "ushort": "PrependUint16Slot", "int": "PrependInt32Slot",
    "uint": "PrependUint32Slot", "long": "PrependInt64Slot", "ulong": "PrependUint64Slot",
    "float": "PrependFloat32Slot", "double": "PrependFloat64Slot",
}
_NUMPY = {"bool": np.uint8, "byte": np.int8, "ubyte": np.uint8, "short": np.int16,
          "ushort": np.uint16, "int": np.int32, "uint": np.uint32, "long": np.int64,
          "ulong": np.uint64, "float": np.float32, "double": np.float64}


@dataclass
class T:
    """A tensor. ``scale`` None → no quantization table."""

    name: str
    shape: Sequence[int]
    type: int = FLOAT32
    buffer: int = 0
    scale: Sequence[float] | None = None
    zero_point: Sequence[int] | None = None
    quantized_dimension: int = 0
    shape_signature: Sequence[int] | None = None
    is_variable: bool = False
    has_rank: bool | None = None
    min: Sequence[float] | None = None
    external_buffer: int = 0


@dataclass
class Op:
    opcode_index: int
    inputs: Sequence[int]
    outputs: Sequence[int]
    intermediates: Sequence[int] | None = None
    options_type: int = 0
    options: Any = None  # an options dataclass instance (written from its FIELDS)
    custom_options: bytes | None = None
    large_custom_options: bytes | None = None  # appended after the flatbuffer


@dataclass
class Code:
    builtin_code: int | None = None
    deprecated_builtin_code: int | None = None
    custom_code: str | None = None
    version: int | None = None


@dataclass
class Buf:
    data: bytes | None = None  # inline
    external: bytes | None = None  # appended after the flatbuffer, found by offset/size


@dataclass
class Sig:
    key: str
    inputs: Sequence[tuple[str, int]]
    outputs: Sequence[tuple[str, int]]
    subgraph_index: int = 0


@dataclass
class Graph:
    tensors: Sequence[T]
    ops: Sequence[Op] = ()
    inputs: Sequence[int] = ()
    outputs: Sequence[int] = ()
    name: str | None = "main"


@dataclass
class _Ctx:
    b: flatbuffers.Builder
    offsets: dict[int, int] = field(default_factory=dict)  # external blob id → file offset


def _vector(b: flatbuffers.Builder, kind: str, values: Sequence[Any]) -> int:
    return b.CreateNumpyVector(np.asarray(values, dtype=_NUMPY[kind]))


def _bytes(b: flatbuffers.Builder, data: bytes, alignment: int = 16) -> int:
    b.StartVector(1, len(data), alignment)
    b.head = b.head - len(data)
    b.Bytes[b.head : b.head + len(data)] = data
    return b.EndVector()


def _table_vector(b: flatbuffers.Builder, offsets: Sequence[int]) -> int:
    b.StartVector(4, len(offsets), 4)
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def write_options(b: flatbuffers.Builder, options: Any) -> int:
    """Write an options dataclass instance as a table (every field written)."""
    refs: dict[int, int] = {}
    for f in options.FIELDS:
        value = None if f.deprecated else getattr(options, f.name)
        if value is None or not (f.is_vector or f.kind == "string"):
            continue
        if f.kind == "string":
            refs[f.slot] = b.CreateString(value)
        elif f.kind == "ubyte":
            refs[f.slot] = _bytes(b, value, 1)
        else:
            refs[f.slot] = _vector(b, f.kind, value)
    b.StartObject(len(options.FIELDS))
    for f in options.FIELDS:
        if f.slot in refs:
            b.PrependUOffsetTRelativeSlot(f.slot, refs[f.slot], 0)
        elif not f.deprecated and not (f.is_vector or f.kind == "string"):
            getattr(b, _SLOT_WRITERS[f.kind])(f.slot, getattr(options, f.name), f.default)
    return b.EndObject()


def _tensor(c: _Ctx, t: T) -> int:
    b = c.b
    name = b.CreateString(t.name)
    shape = _vector(b, "int", t.shape)
    signature = None if t.shape_signature is None else _vector(b, "int", t.shape_signature)
    quant = None
    if t.scale is not None:
        scale = _vector(b, "float", t.scale)
        zp = None if t.zero_point is None else _vector(b, "long", t.zero_point)
        qmin = None if t.min is None else _vector(b, "float", t.min)
        b.StartObject(7)
        if qmin is not None:
            b.PrependUOffsetTRelativeSlot(0, qmin, 0)
        b.PrependUOffsetTRelativeSlot(2, scale, 0)
        if zp is not None:
            b.PrependUOffsetTRelativeSlot(3, zp, 0)
        b.PrependInt32Slot(6, t.quantized_dimension, 0)
        quant = b.EndObject()
    b.StartObject(11)
    b.PrependUOffsetTRelativeSlot(0, shape, 0)
    b.PrependInt8Slot(1, t.type, 0)
    b.PrependUint32Slot(2, t.buffer, 0)
    b.PrependUOffsetTRelativeSlot(3, name, 0)
    if quant is not None:
        b.PrependUOffsetTRelativeSlot(4, quant, 0)
    b.PrependBoolSlot(5, t.is_variable, False)
    if signature is not None:
        b.PrependUOffsetTRelativeSlot(7, signature, 0)
    if t.has_rank is not None:
        b.PrependBoolSlot(8, t.has_rank, False)
    if t.external_buffer:
        b.PrependUint32Slot(10, t.external_buffer, 0)
    return b.EndObject()


def _operator(c: _Ctx, op: Op, blob_id: int) -> int:
    b = c.b
    inputs = _vector(b, "int", op.inputs)
    outputs = _vector(b, "int", op.outputs)
    inter = None if op.intermediates is None else _vector(b, "int", op.intermediates)
    options = None if op.options is None else write_options(b, op.options)
    custom = None if op.custom_options is None else _bytes(b, op.custom_options, 1)
    b.StartObject(13)
    b.PrependUint32Slot(0, op.opcode_index, 0)
    b.PrependUOffsetTRelativeSlot(1, inputs, 0)
    b.PrependUOffsetTRelativeSlot(2, outputs, 0)
    b.PrependUint8Slot(3, op.options_type, 0)
    if options is not None:
        b.PrependUOffsetTRelativeSlot(4, options, 0)
    if custom is not None:
        b.PrependUOffsetTRelativeSlot(5, custom, 0)
    if inter is not None:
        b.PrependUOffsetTRelativeSlot(8, inter, 0)
    if op.large_custom_options is not None:
        b.PrependUint64Slot(9, c.offsets.get(blob_id, 2), 0)
        b.PrependUint64Slot(10, len(op.large_custom_options), 0)
    return b.EndObject()


def _subgraph(c: _Ctx, g: Graph, blob_ids: dict[int, int]) -> int:
    b = c.b
    tensors = _table_vector(b, [_tensor(c, t) for t in g.tensors])
    ops = _table_vector(b, [_operator(c, op, blob_ids.get(id(op), -1)) for op in g.ops])
    inputs = _vector(b, "int", g.inputs)
    outputs = _vector(b, "int", g.outputs)
    name = None if g.name is None else b.CreateString(g.name)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    b.PrependUOffsetTRelativeSlot(1, inputs, 0)
    b.PrependUOffsetTRelativeSlot(2, outputs, 0)
    b.PrependUOffsetTRelativeSlot(3, ops, 0)
    if name is not None:
        b.PrependUOffsetTRelativeSlot(4, name, 0)
    return b.EndObject()


def _code(b: flatbuffers.Builder, code: Code) -> int:
    custom = None if code.custom_code is None else b.CreateString(code.custom_code)
    b.StartObject(4)
    if code.deprecated_builtin_code is not None:
        b.PrependInt8Slot(0, code.deprecated_builtin_code, 0)
    if custom is not None:
        b.PrependUOffsetTRelativeSlot(1, custom, 0)
    if code.version is not None:
        b.PrependInt32Slot(2, code.version, 1)
    if code.builtin_code is not None:
        b.PrependInt32Slot(3, code.builtin_code, 0)
    return b.EndObject()


def _buffer(c: _Ctx, buf: Buf, blob_id: int) -> int:
    b = c.b
    data = None if buf.data is None else _bytes(b, buf.data)
    b.StartObject(3)
    if data is not None:
        b.PrependUOffsetTRelativeSlot(0, data, 0)
    if buf.external is not None:
        b.PrependUint64Slot(1, c.offsets.get(blob_id, 2), 0)
        b.PrependUint64Slot(2, len(buf.external), 0)
    return b.EndObject()


def _signature(b: flatbuffers.Builder, sig: Sig) -> int:
    def maps(pairs: Sequence[tuple[str, int]]) -> int:
        tables = []
        for name, index in pairs:
            s = b.CreateString(name)
            b.StartObject(2)
            b.PrependUOffsetTRelativeSlot(0, s, 0)
            b.PrependUint32Slot(1, index, 0)
            tables.append(b.EndObject())
        return _table_vector(b, tables)

    inputs, outputs, key = maps(sig.inputs), maps(sig.outputs), b.CreateString(sig.key)
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, inputs, 0)
    b.PrependUOffsetTRelativeSlot(1, outputs, 0)
    b.PrependUOffsetTRelativeSlot(2, key, 0)
    b.PrependUint32Slot(4, sig.subgraph_index, 0)
    return b.EndObject()


def _build_once(graphs: Sequence[Graph], codes: Sequence[Code], buffers: Sequence[Buf],
                signatures: Sequence[Sig], metadata: Sequence[tuple[str, int]],
                description: str | None, version: int, identifier: bool,
                offsets: dict[int, int], blob_ids: dict[int, int]) -> bytes:
    c = _Ctx(flatbuffers.Builder(1024), offsets)
    b = c.b
    b.ForceDefaults(True)
    codes_v = _table_vector(b, [_code(b, code) for code in codes])
    subgraphs_v = _table_vector(b, [_subgraph(c, g, blob_ids) for g in graphs])
    buffers_v = _table_vector(b, [_buffer(c, buf, blob_ids.get(id(buf), -1))
                                  for buf in buffers])
    sigs_v = _table_vector(b, [_signature(b, s) for s in signatures])
    meta = []
    for name, index in metadata:
        s = b.CreateString(name)
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, s, 0)
        b.PrependUint32Slot(1, index, 0)
        meta.append(b.EndObject())
    meta_v = _table_vector(b, meta)
    desc = None if description is None else b.CreateString(description)
    b.StartObject(8)
    b.PrependUint32Slot(0, version, 0)
    b.PrependUOffsetTRelativeSlot(1, codes_v, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs_v, 0)
    if desc is not None:
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers_v, 0)
    b.PrependUOffsetTRelativeSlot(6, meta_v, 0)
    b.PrependUOffsetTRelativeSlot(7, sigs_v, 0)
    root = b.EndObject()
    b.Finish(root, file_identifier=b"TFL3" if identifier else None)
    return bytes(b.Output())


def build_model(tensors: Sequence[T] = (), ops: Sequence[Op] = (),
                codes: Sequence[Code] = (), buffers: Sequence[Buf] = (Buf(),),
                inputs: Sequence[int] = (), outputs: Sequence[int] = (), *,
                graphs: Sequence[Graph] | None = None, signatures: Sequence[Sig] = (),
                metadata: Sequence[tuple[str, int]] = (), description: str | None = "test",
                version: int = 3, identifier: bool = True) -> bytes:
    """A complete .tflite file; external blobs are appended 16-aligned after the flatbuffer."""
    if graphs is None:
        graphs = [Graph(tensors, ops, inputs, outputs)]
    blobs: list[tuple[int, bytes]] = [(id(buf), buf.external) for buf in buffers
                                      if buf.external is not None]
    blobs += [(id(op), op.large_custom_options) for g in graphs for op in g.ops
              if op.large_custom_options is not None]
    blob_ids = {key: i for i, (key, _) in enumerate(blobs)}
    args = (graphs, codes, buffers, signatures, metadata, description, version, identifier)
    first = _build_once(*args, {}, blob_ids)
    if not blobs:
        return first
    # The offsets are fixed-width u64 fields, so the flatbuffer keeps its size.
    offsets, position = {}, (len(first) + 15) // 16 * 16
    for i, (_, blob) in enumerate(blobs):
        offsets[i] = position
        position = (position + len(blob) + 15) // 16 * 16
    flat = _build_once(*args, offsets, blob_ids)
    assert len(flat) == len(first)
    out = bytearray(flat)
    for i, (_, blob) in enumerate(blobs):
        out.extend(bytes(offsets[i] - len(out)))
        out.extend(blob)
    return bytes(out)
