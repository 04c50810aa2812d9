"""TFLM look-up-table (LUT) compression of weight tensors, and a NumPy decoder for it.

The tflite-micro wheel ships ``tflite_micro.compression``: given a model and a list of
tensors with an index width, it replaces each tensor's data by bit-packed indices into
value tables and inserts a ``TFLM_DECODE`` custom op that rebuilds the tensor at run
time. A tensor with ``u`` distinct values per table needs ``max(1, ceil(log2 u))``
bits, at most 7. Clustered models (a few values per tensor or channel) are what it is
for. This module

* chooses, per weight tensor, the table layout and the smallest width
  (:func:`plan_lut`), skipping tensors that need more than 7 bits or would grow;
* calls the wheel's compressor (:func:`compress_lut`; the only place here that imports
  ``tflite_micro``, lazily, and :func:`compression_unavailable` says why it cannot);
* decodes a compressed model back into a plain one in NumPy (:func:`decode_lut`), the
  way TFLM's DECODE kernel reads it, so that refimpl can run it and the round trip can be
  checked value by value.

Table layout: what the kernel reads, not what the compressor writes
    The compressor records the layout it chose in the DCM header (byte 5, high nibble:
    the channel axis, or 15 for one table). The DECODE kernel compiled into this wheel
    ignores that field: it takes the number of tables from the *output tensor's
    quantization* (one per scale; none for float tensors) and the channel axis from its
    ``quantized_dimension`` (0, or the last axis). The two agree only when

    * a tensor with per-channel scales is compressed per channel along its quantized
      dimension (int8 conv / fully-connected weights: axis 0; depthwise: axis 3), and
    * any other tensor (float, or a single scale) is compressed with one table.

    Otherwise TFLM decodes other values than were encoded (measured: a float tensor
    compressed per channel is decoded with channel 0's table everywhere; an int8
    per-channel tensor compressed per tensor is decoded with one table per channel,
    read past the end of the value buffer). :func:`plan_lut` therefore only produces the
    layout the kernel reads (``layout="tflm"``); the other layouts are kept for the test
    that documents the mismatch.

Mirrors: ``tensorflow/lite/micro/compression/lut.py`` (``compress_array``,
``pack_indices``, ``LutAncillaryData``) for the format, and
``tensorflow/lite/micro/kernels/decode_state_lut.cc`` (``DecodeStateLut::Setup``,
``DecompressToBufferWidthAny``) for how it is read.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import tflite_schema as tfs
from refimpl.compress.audit import gzip_bytes, lut_bits
from refimpl.weights import weight_stats

DECODE_OP = "TFLM_DECODE"
DCM_BYTES = 16          # DECODE common metadata header
LUT_DECODE_TYPE = 0     # DCM byte 0
MAX_BITS = 7            # DCM byte 5, low 3 bits
PER_TENSOR_AXIS = 15    # DCM byte 5, high nibble: one table
LAYOUTS = ("tflm", "per_tensor", "per_channel")
#: output types ``DecodeStateLut::Decode`` handles
DECODE_TYPES = ("BOOL", "FLOAT32", "INT8", "INT16", "INT32", "INT64")


class LutLayoutError(ValueError):
    """A compressed tensor whose recorded layout is not the one TFLM's kernel reads."""


def compression_unavailable() -> str | None:
    """Why ``tflite_micro.compression`` cannot be used here, or None when it can."""
    try:
        from tflite_micro import compression  # noqa: F401
        from tflite_micro.tensorflow.lite.micro.compression import spec  # noqa: F401
        from tflite_micro.tensorflow.lite.micro.tools import (  # noqa: F401
            tflite_flatbuffer_align_wrapper,
        )
    except Exception as e:  # ImportError, a missing yaml, a broken extension module
        return f"tflite_micro.compression is unavailable: {type(e).__name__}: {e}"
    return None


@dataclass(frozen=True)
class LutTensor:
    """One weight tensor's LUT decision (``skip`` set when it stays uncompressed)."""

    subgraph: int
    tensor: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    axis: int | None         # table per slice along this axis; None = one table
    bits: int
    tables: int
    table_length: int        # the compressor pads every table to the longest
    bytes_before: int
    bytes_after: int         # packed indices + DCM + value tables
    skip: str | None = None


@dataclass(frozen=True)
class LutResult:
    """A compressed model and what happened to each weight tensor."""

    original_bytes: int
    original_gzip_bytes: int
    model: bytes
    tensors: tuple[LutTensor, ...]

    @property
    def compressed(self) -> tuple[LutTensor, ...]:
        return tuple(t for t in self.tensors if t.skip is None)

    def to_markdown(self) -> str:
        lines = [f"model: {self.original_bytes} -> {len(self.model)} bytes "
                 f"({len(self.model) / self.original_bytes:.3f}); gzip -9 "
                 f"{self.original_gzip_bytes} -> {gzip_bytes(self.model)}", "",
                 "| tensor | dtype | shape | tables | bits | bytes before | after | note |",
                 "|---|---|---|---|---|---|---|---|"]
        for t in self.tensors:
            where = "1" if t.axis is None else f"{t.tables} (axis {t.axis})"
            lines.append(f"| {t.name} | {t.dtype} | {'x'.join(map(str, t.shape))} | {where} "
                         f"| {t.bits} | {t.bytes_before} | {t.bytes_after} | "
                         f"{t.skip or ''} |")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------
def kernel_axis(tensor: tfs.Tensor) -> int | None:
    """The table axis TFLM's DECODE kernel uses for ``tensor``: its quantized dimension
    when it has more than one scale, else None (one table)."""
    q = tensor.quantization
    if q is None or q.scale.size <= 1:
        return None
    return int(q.quantized_dimension)


def _tables(data: NDArray[Any], axis: int | None) -> list[NDArray[Any]]:
    if axis is None:
        return [np.unique(data)]
    return [np.unique(s) for s in np.moveaxis(data, axis, 0)]


def _plan_one(model: tfs.Model, sg: int, index: int, layout: str,
              max_bits: int) -> LutTensor:
    t = model.subgraphs[sg].tensors[index]
    data = np.asarray(model.tensor_data(sg, index))
    if layout == "tflm":
        axis = kernel_axis(t)
    elif layout == "per_channel":
        axis = kernel_axis(t) if kernel_axis(t) is not None else 0
    else:
        axis = None
    tables = _tables(data, axis)
    length = max(len(v) for v in tables)
    bits = lut_bits(length)
    after = -(-data.size * bits // 8) + DCM_BYTES + len(tables) * length * data.itemsize
    skip = None
    if bits > max_bits:
        skip = f"{length} distinct values need {bits} bits (at most {max_bits})"
    elif t.type.name not in DECODE_TYPES:
        skip = f"TFLM's DECODE does not produce {t.type.name}"
    elif after > data.nbytes:
        skip = f"would grow: {data.nbytes} -> {after} bytes"
    return LutTensor(sg, index, t.name, t.type.name.lower(), tuple(t.shape), axis, bits,
                     len(tables), length, data.nbytes, after if skip is None else data.nbytes,
                     skip)


def plan_lut(model: bytes, *, layout: str = "tflm", max_bits: int = MAX_BITS,
             tensors: Sequence[str] | None = None) -> list[LutTensor]:
    """One :class:`LutTensor` per weight tensor (or per tensor named in ``tensors``).

    ``layout="tflm"`` (default) picks the table layout TFLM's kernel reads (module
    docstring); ``"per_tensor"`` / ``"per_channel"`` force one, for experiments.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    parsed = tfs.read_model(model)
    if tensors is None:
        chosen = [(sg, s.tensor) for sg in range(len(parsed.subgraphs))
                  for s in weight_stats(parsed, sg)]
    else:
        from refimpl.compress.audit import find_tensor

        chosen = [find_tensor(parsed, name, constant=True) for name in tensors]
    return [_plan_one(parsed, sg, index, layout, max_bits) for sg, index in chosen]


# --------------------------------------------------------------------------------------
# Compressing (the wheel)
# --------------------------------------------------------------------------------------
def compress_lut(model: bytes, plan: Sequence[LutTensor] | None = None) -> LutResult:
    """LUT-compress ``model`` with ``tflite_micro.compression`` following ``plan``.

    Raises
    ------
    RuntimeError
        The wheel's compression module is unavailable (the reason is in the message).
    ValueError
        No tensor of the plan can be compressed.
    """
    reason = compression_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    from tflite_micro import compression
    from tflite_micro.tensorflow.lite.micro.compression import spec

    plan = list(plan_lut(model) if plan is None else plan)
    todo = [t for t in plan if t.skip is None]
    if not todo:
        raise ValueError("no weight tensor can be LUT-compressed: "
                         + "; ".join(f"{t.name}: {t.skip}" for t in plan))
    builder = compression.SpecBuilder()
    for t in todo:
        mode = spec.PerTensor() if t.axis is None else spec.PerChannel(axis=t.axis)
        builder.add_tensor(subgraph=t.subgraph, tensor=t.tensor).with_lut(
            index_bitwidth=t.bits, mode=mode)
    # The compressor prints width notes on stderr and warns about growth; both are
    # already in the plan.
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        out = bytes(compression.compress(bytes(model), builder.build()))
    return LutResult(len(model), gzip_bytes(bytes(model)), out, tuple(plan))


# --------------------------------------------------------------------------------------
# Decoding (NumPy)
# --------------------------------------------------------------------------------------
def unpack_indices(packed: bytes, bits: int, count: int) -> NDArray[np.int64]:
    """``count`` indices of ``bits`` bits each, most significant bit first, no padding
    between them (the last byte is zero-filled)."""
    need = -(-count * bits // 8)
    if len(packed) < need:
        raise ValueError(f"{len(packed)} bytes of indices, {need} needed")
    stream = np.unpackbits(np.frombuffer(packed, np.uint8)[:need])[: count * bits]
    weights = np.left_shift(1, np.arange(bits - 1, -1, -1, dtype=np.int64))
    return stream.reshape(count, bits).astype(np.int64) @ weights


def decode_tensor(encoded: bytes, ancillary: bytes, tensor: tfs.Tensor) -> NDArray[Any]:
    """The values TFLM's DECODE kernel writes into ``tensor`` (the op's output).

    Layout (the kernel's): ``tables`` = number of scales of ``tensor`` (1 without
    quantization); element ``i`` (row-major) uses table ``c``::

        c = i % tables                    if quantized_dimension is the last axis
        c = i // (size / tables)          otherwise (the dimension must be 0)
        value = table[c][index[i]]        table[c] starts at DCM + c * stride

    Raises
    ------
    LutLayoutError
        The DCM header records a different layout than the kernel will use (TFLM then
        decodes other values than were encoded), or a header field is not LUT v1.
    """
    dcm = np.frombuffer(ancillary, np.uint8)
    if len(dcm) < DCM_BYTES or dcm[0] != LUT_DECODE_TYPE or dcm[1] != 1 or dcm[4] != 1:
        raise LutLayoutError(f"{tensor.name}: not a LUT v1 DCM header: {dcm[:8].tolist()}")
    bits, recorded_axis, stride = int(dcm[5] & 0x07), int(dcm[5] >> 4), int(dcm[6])
    shape = tuple(tensor.shape)
    size = int(np.prod(shape))
    axis = kernel_axis(tensor)
    expected = PER_TENSOR_AXIS if axis is None else axis
    if recorded_axis != expected:
        raise LutLayoutError(
            f"{tensor.name}: tables recorded along axis {recorded_axis} (15 = one table), "
            f"TFLM's kernel reads {'one table' if axis is None else f'axis {axis}'} "
            "(from the tensor's quantization)")
    dtype = tensor.type.numpy_dtype
    tables_count = 1 if axis is None else int(tensor.quantization.scale.size)
    values = np.frombuffer(bytes(ancillary[DCM_BYTES:]), dtype)
    if values.size < tables_count * stride:
        raise LutLayoutError(f"{tensor.name}: {values.size} table values, "
                             f"{tables_count} x {stride} needed")
    tables = values[: tables_count * stride].reshape(tables_count, stride)
    index = unpack_indices(encoded, bits, size)
    position = np.arange(size)
    if axis is None:
        channel = np.zeros(size, np.int64)
    elif axis == len(shape) - 1:
        channel = position % tables_count
    else:
        channel = position // (size // tables_count)
    if np.any(index >= stride):
        raise LutLayoutError(f"{tensor.name}: index past the table stride {stride}")
    return tables[channel, index].reshape(shape)


def decode_lut(model: bytes) -> bytes:
    """A plain model: every ``TFLM_DECODE`` op removed, its output a constant again.

    The encoded and ancillary tensors stay in the model, unused. Runtimes without the
    custom op (refimpl, LiteRT) can then run the compressed model's weights.
    """
    parsed = tfs.read_model(model)
    spec = tfs.model_to_spec(parsed)
    for sg_index, sg in enumerate(parsed.subgraphs):
        keep = []
        for op, op_spec in zip(sg.operators, spec.subgraphs[sg_index].operators):
            if parsed.operator_codes[op.opcode_index].custom_code != DECODE_OP:
                keep.append(op_spec)
                continue
            encoded = bytes(parsed.buffer_data(sg.tensors[op.inputs[0]].buffer))
            ancillary = bytes(parsed.buffer_data(sg.tensors[op.inputs[1]].buffer))
            out = sg.tensors[op.outputs[0]]
            spec.set_tensor_data(sg_index, out.index, decode_tensor(encoded, ancillary, out))
        spec.subgraphs[sg_index].operators = keep
    return tfs.write_model(spec)


def decoded_weights(model: bytes) -> dict[str, NDArray[Any]]:
    """``{original tensor name: decoded values}`` for every DECODE op of ``model``."""
    parsed = tfs.read_model(model)
    out = {}
    for sg in parsed.subgraphs:
        for op in sg.operators:
            if parsed.operator_codes[op.opcode_index].custom_code != DECODE_OP:
                continue
            t = sg.tensors[op.outputs[0]]
            encoded = bytes(parsed.buffer_data(sg.tensors[op.inputs[0]].buffer))
            ancillary = bytes(parsed.buffer_data(sg.tensors[op.inputs[1]].buffer))
            out[t.name.removesuffix("_decoded")] = decode_tensor(encoded, ancillary, t)
    return out
