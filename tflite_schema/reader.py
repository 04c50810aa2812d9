"""Decode a .tflite flatbuffer into the typed views of :mod:`tflite_schema.model`.

Decoding is eager (models are at most tens of MB) except for buffer contents, which
stay in the file bytes. Each table's fields are read by vtable slot in schema.fbs
declaration order; a union takes two slots (type code, then value). After the
structure is read, cross-references are checked so that consumers can index
without guarding:

* every tensor's ``buffer`` and every metadata ``buffer`` is an index of ``buffers``;
* every operator's ``opcode_index`` is an index of ``operator_codes``;
* operator inputs are tensor indices or -1 (absent optional input); operator outputs
  and intermediates and subgraph inputs / outputs are tensor indices;
* a signature's subgraph and tensor indices exist;
* quantization: ``zero_point`` has 0, 1 or ``len(scale)`` entries;
* a buffer's ``offset``/``size`` region and an operator's large custom options lie
  inside the file.

Policy on the file identifier: bytes 4..8 must read ``TFL3`` (as the flatbuffers
verifier LiteRT runs requires); pass ``require_identifier=False`` to accept a file
without one. The schema version must be 3 (both runtimes refuse anything else).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .enums import TensorType
from .errors import CorruptError, SchemaError, TruncatedError
from .flatbuf import FlatBuffer, Table
from .model import (Buffer, Metadata, Model, Operator, OperatorCode, QuantizationParameters,
                    SignatureDef, SignatureTensor, SubGraph, Tensor)
from .options import OPTIONS2_BY_TYPE, OPTIONS_BY_TYPE, decode_options

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3


def read_model(data: bytes | bytearray | memoryview, *,
               require_identifier: bool = True) -> Model:
    """Decode a whole .tflite file held in memory.

    The returned :class:`Model` keeps a read-only view of ``data`` (so a
    ``bytearray`` can no longer be resized while the model lives).

    Raises
    ------
    TruncatedError
        A read runs past the end of the data.
    CorruptError
        Any other inconsistency (vtable, index out of range, unknown tensor type...).
    SchemaError
        Base class of both; also an unsupported schema version.
    """
    mv = memoryview(data)
    if mv.ndim != 1 or mv.format != "B":
        mv = mv.cast("B")
    mv = mv.toreadonly()
    if len(mv) < 8:
        raise TruncatedError(f"file of {len(mv)} bytes is too short for a flatbuffer "
                             "(root offset + file identifier need 8)")
    ident = bytes(mv[4:8])
    if require_identifier and ident != FILE_IDENTIFIER:
        raise CorruptError(f"file identifier is {ident!r}, expected {FILE_IDENTIFIER!r} "
                           "(not a .tflite file?)")
    return _read_model(FlatBuffer(mv))


def load_model(path: str | os.PathLike[str], *, require_identifier: bool = True) -> Model:
    """Read and decode a .tflite file (see :func:`read_model`)."""
    with open(path, "rb") as f:
        return read_model(f.read(), require_identifier=require_identifier)


# -- tables ---------------------------------------------------------------------------


def _read_model(buf: FlatBuffer) -> Model:
    root = buf.root("Model")
    version = root.scalar(0, "uint", 0, "version")
    if version != SCHEMA_VERSION:
        raise SchemaError(f"Model.version: schema version {version} is not supported "
                          f"(only {SCHEMA_VERSION})")
    operator_codes = tuple(_operator_code(t) for t in root.tables(1, "operator_codes") or ())
    buffers = tuple(_buffer(t, i) for i, t in enumerate(root.tables(4, "buffers") or ()))
    subgraph_tables = root.tables(2, "subgraphs") or []
    if not subgraph_tables:
        raise CorruptError("Model.subgraphs: the model has no subgraph")
    subgraphs = tuple(_subgraph(t, i, len(buffers), len(operator_codes))
                      for i, t in enumerate(subgraph_tables))
    metadata = tuple(_metadata(t, len(buffers)) for t in root.tables(6, "metadata") or ())
    signature_defs = tuple(_signature_def(t, subgraphs)
                           for t in root.tables(7, "signature_defs") or ())
    return Model(
        version=version,
        description=root.string(3, "description") or "",
        subgraphs=subgraphs,
        buffers=buffers,
        operator_codes=operator_codes,
        signature_defs=signature_defs,
        metadata=metadata,
        data=buf.mv,
    )


def _operator_code(t: Table) -> OperatorCode:
    deprecated = t.scalar(0, "byte", 0, "deprecated_builtin_code")
    builtin = t.scalar(3, "int", 0, "builtin_code")
    return OperatorCode(
        builtin_code=max(deprecated, builtin),
        custom_code=t.string(1, "custom_code"),
        version=t.scalar(2, "int", 1, "version"),
        deprecated_builtin_code=deprecated,
    )


def _buffer(t: Table, index: int) -> Buffer:
    inline = t.byte_region(0, "data")
    offset = t.scalar(1, "ulong", 0, "offset")
    size = t.scalar(2, "ulong", 0, "size")
    if inline is not None and inline[1] > 0:
        region = inline
    elif offset > 1 and size > 0:
        if offset + size > t.buf.size:
            raise TruncatedError(
                f"{t.path}: data region [{offset}, {offset + size}) runs past the end of "
                f"the file (size {t.buf.size})")
        region = (offset, size)
    else:
        region = (0, 0)
    return Buffer(index=index, offset=offset, size=size,
                  inline_size=0 if inline is None else inline[1], region=region)


def _check_index(value: int, limit: int, what: str, what_limit: str) -> None:
    if not 0 <= value < limit:
        raise CorruptError(f"{what}: index {value} out of range ({limit} {what_limit})")


def _check_indices(values: tuple[int, ...], limit: int, what: str,
                   allow_absent: bool = False) -> None:
    for i, value in enumerate(values):
        if not (0 <= value < limit or (allow_absent and value == -1)):
            raise CorruptError(f"{what}[{i}]: tensor index {value} out of range "
                               f"({limit} tensors{'; -1 means absent' if allow_absent else ''})")


def _subgraph(t: Table, index: int, n_buffers: int, n_codes: int) -> SubGraph:
    tensors = tuple(_tensor(tt, i, n_buffers)
                    for i, tt in enumerate(t.tables(0, "tensors") or ()))
    inputs = t.ints(1, "inputs") or ()
    outputs = t.ints(2, "outputs") or ()
    _check_indices(inputs, len(tensors), f"{t.path}.inputs")
    _check_indices(outputs, len(tensors), f"{t.path}.outputs")
    operators = tuple(_operator(ot, i, len(tensors), n_codes)
                      for i, ot in enumerate(t.tables(3, "operators") or ()))
    return SubGraph(index=index, name=t.string(4, "name") or "", tensors=tensors,
                    inputs=inputs, outputs=outputs, operators=operators)


def _tensor(t: Table, index: int, n_buffers: int) -> Tensor:
    type_code = t.scalar(1, "byte", 0, "type")
    try:
        tensor_type = TensorType(type_code)
    except ValueError:
        raise CorruptError(f"{t.path}.type: unknown TensorType {type_code}") from None
    buffer = t.scalar(2, "uint", 0, "buffer")
    _check_index(buffer, n_buffers, f"{t.path}.buffer", "buffers")
    quant_table = t.table(4, "quantization")
    return Tensor(
        index=index,
        name=t.string(3, "name") or "",
        shape=t.ints(0, "shape") or (),
        shape_signature=t.ints(7, "shape_signature"),
        type=tensor_type,
        buffer=buffer,
        quantization=None if quant_table is None else _quantization(quant_table),
        is_variable=t.scalar(5, "bool", False, "is_variable"),
        has_sparsity=t.has(6),
        has_rank=t.scalar(8, "bool", False, "has_rank"),
        external_buffer=t.scalar(10, "uint", 0, "external_buffer"),
    )


def _quantization(t: Table) -> QuantizationParameters | None:
    scale = t.vector(2, "float", "scale")
    if scale is None or scale.size == 0:
        return None
    n = scale.size
    zero_point = t.vector(3, "long", "zero_point")
    if zero_point is None or zero_point.size == 0:
        zero_point = np.zeros(n, dtype=np.int64)
    elif zero_point.size == 1:
        zero_point = np.full(n, zero_point[0], dtype=np.int64)
    elif zero_point.size != n:
        raise CorruptError(f"{t.path}.zero_point: {zero_point.size} zero points for {n} "
                           "scales (expected 0, 1 or the same number)")
    return QuantizationParameters(
        scale=_frozen(scale, np.float32),
        zero_point=_frozen(zero_point, np.int64),
        quantized_dimension=t.scalar(6, "int", 0, "quantized_dimension"),
        min=_frozen_or_none(t.vector(0, "float", "min")),
        max=_frozen_or_none(t.vector(1, "float", "max")),
        has_details=t.scalar(4, "ubyte", 0, "details_type") != 0,
    )


def _frozen(values: np.ndarray, dtype: Any) -> np.ndarray:
    out = np.array(values, dtype=dtype)  # small: copy to native byte order
    out.flags.writeable = False
    return out


def _frozen_or_none(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else _frozen(values, np.float32)


def _operator(t: Table, index: int, n_tensors: int, n_codes: int) -> Operator:
    opcode_index = t.scalar(0, "uint", 0, "opcode_index")
    _check_index(opcode_index, n_codes, f"{t.path}.opcode_index", "operator codes")
    inputs = t.ints(1, "inputs") or ()
    outputs = t.ints(2, "outputs") or ()
    intermediates = t.ints(8, "intermediates") or ()
    _check_indices(inputs, n_tensors, f"{t.path}.inputs", allow_absent=True)
    _check_indices(outputs, n_tensors, f"{t.path}.outputs")
    _check_indices(intermediates, n_tensors, f"{t.path}.intermediates")
    options_type = t.scalar(3, "ubyte", 0, "builtin_options_type")
    options_2_type = t.scalar(11, "ubyte", 0, "builtin_options_2_type")
    mutating = t.vector(7, "bool", "mutating_variable_inputs")
    return Operator(
        index=index,
        opcode_index=opcode_index,
        inputs=inputs,
        outputs=outputs,
        intermediates=intermediates,
        builtin_options_type=options_type,
        builtin_options=_union(t, 4, "builtin_options", OPTIONS_BY_TYPE.get(options_type)),
        custom_options=_custom_options(t),
        custom_options_format=t.scalar(6, "byte", 0, "custom_options_format"),
        mutating_variable_inputs=() if mutating is None else tuple((mutating != 0).tolist()),
        builtin_options_2_type=options_2_type,
        builtin_options_2=_union(t, 12, "builtin_options_2",
                                 OPTIONS2_BY_TYPE.get(options_2_type)),
    )


def _union(t: Table, slot: int, name: str, cls: type | None) -> Any:
    if cls is None:
        return None
    table = t.table(slot, name, f"{t.path}.{name}<{cls.__name__}>")
    return None if table is None else decode_options(table, cls)


def _custom_options(t: Table) -> bytes | None:
    large_offset = t.scalar(9, "ulong", 0, "large_custom_options_offset")
    if large_offset > 1:  # large models keep custom options outside the flatbuffer
        size = t.scalar(10, "ulong", 0, "large_custom_options_size")
        if large_offset + size > t.buf.size:
            raise TruncatedError(
                f"{t.path}: large custom options [{large_offset}, {large_offset + size}) "
                f"run past the end of the file (size {t.buf.size})")
        return bytes(t.buf.mv[large_offset : large_offset + size])
    view = t.bytes_view(5, "custom_options")
    return None if view is None else bytes(view)


def _metadata(t: Table, n_buffers: int) -> Metadata:
    buffer = t.scalar(1, "uint", 0, "buffer")
    _check_index(buffer, n_buffers, f"{t.path}.buffer", "buffers")
    return Metadata(name=t.string(0, "name") or "", buffer=buffer)


def _signature_def(t: Table, subgraphs: tuple[SubGraph, ...]) -> SignatureDef:
    # slot 3 is the deprecated deprecated_tag
    subgraph_index = t.scalar(4, "uint", 0, "subgraph_index")
    _check_index(subgraph_index, len(subgraphs), f"{t.path}.subgraph_index", "subgraphs")
    n_tensors = len(subgraphs[subgraph_index].tensors)

    def tensor_maps(slot: int, name: str) -> tuple[SignatureTensor, ...]:
        out = []
        for m in t.tables(slot, name) or ():
            tensor_index = m.scalar(1, "uint", 0, "tensor_index")
            _check_index(tensor_index, n_tensors, f"{m.path}.tensor_index",
                         f"tensors in subgraph {subgraph_index}")
            out.append(SignatureTensor(name=m.string(0, "name") or "",
                                       tensor_index=tensor_index))
        return tuple(out)

    return SignatureDef(signature_key=t.string(2, "signature_key") or "",
                        subgraph_index=subgraph_index,
                        inputs=tensor_maps(0, "inputs"), outputs=tensor_maps(1, "outputs"))
