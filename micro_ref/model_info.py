"""What micro_ref needs to know about a .tflite model before TFLM sees it.

TFLM's Python wrapper reports only ``shape``, ``dtype`` and quantization for the model's
inputs and outputs, by *position*. LiteRT's API (which refimpl and micro_ref follow)
speaks of tensors by *index in the subgraph* and gives names and shape signatures. This
module takes those facts from the project's own reader, :mod:`tflite_schema` (the one
way the project reads a flatbuffer), without touching weight buffers, and presents them
the way LiteRT's Python API reports them.

Only subgraph 0 (the entry subgraph, the one TFLM's ``GetTensor(i, 0)`` addresses) is
described.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import tflite_schema
from tflite_schema import BuiltinOperator, TensorType

from .errors import MicroModelError

# Element type -> NumPy dtype, as LiteRT's Python API reports it (which is not always
# tflite_schema's storage dtype: STRING is object, packed INT4 is int8). Types NumPy has
# no dtype for are left out (their tensors get dtype None).
_NUMPY_DTYPES: dict[TensorType, np.dtype] = {
    TensorType.FLOAT32: np.dtype(np.float32),
    TensorType.FLOAT16: np.dtype(np.float16),
    TensorType.INT32: np.dtype(np.int32),
    TensorType.UINT8: np.dtype(np.uint8),
    TensorType.INT64: np.dtype(np.int64),
    TensorType.STRING: np.dtype(np.object_),
    TensorType.BOOL: np.dtype(np.bool_),
    TensorType.INT16: np.dtype(np.int16),
    TensorType.COMPLEX64: np.dtype(np.complex64),
    TensorType.INT8: np.dtype(np.int8),
    TensorType.FLOAT64: np.dtype(np.float64),
    TensorType.COMPLEX128: np.dtype(np.complex128),
    TensorType.UINT64: np.dtype(np.uint64),
    TensorType.UINT32: np.dtype(np.uint32),
    TensorType.UINT16: np.dtype(np.uint16),
    TensorType.INT4: np.dtype(np.int8),  # LiteRT reports packed int4 tensors as int8
}


@dataclass(frozen=True)
class TensorMeta:
    """One tensor of subgraph 0, as stored in the flatbuffer."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    type_name: str  # schema TensorType name, e.g. "INT8"
    dtype: np.dtype | None  # None where LiteRT has none (RESOURCE, VARIANT, BFLOAT16, ...)
    scales: np.ndarray  # float32, empty when not quantized
    zero_points: np.ndarray  # int32 (LiteRT reports int32 even though the schema has int64)
    quantized_dimension: int
    is_constant: bool  # backed by a non-empty buffer: weights, biases, shape operands
    is_variable: bool  # state kept across invokes (LSTM, VAR_HANDLE targets)

    @property
    def nbytes(self) -> int:
        """Storage size of the tensor (4 bytes per element when the dtype is unknown)."""
        itemsize = self.dtype.itemsize if self.dtype is not None and self.dtype.kind != "O" else 4
        return int(np.prod(self.shape, dtype=np.int64)) * itemsize


@dataclass(frozen=True)
class ModelInfo:
    """Subgraph 0 of a model: tensors, input/output tensor indices, operators in order."""

    tensors: tuple[TensorMeta, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    op_names: tuple[str, ...]  # one per operator of subgraph 0, in execution order
    num_subgraphs: int
    num_resource_variables: int  # distinct VAR_HANDLE shared names, all subgraphs
    model_bytes: int

    @property
    def activation_bytes(self) -> int:
        """Bytes of every non-constant tensor of subgraph 0 (no sharing assumed)."""
        return sum(t.nbytes for t in self.tensors if not t.is_constant)


def _op_name(code: tflite_schema.OperatorCode) -> str:
    """``'CONV_2D'``, ``'CUSTOM(<custom_code>)'`` (``'CUSTOM(?)'`` unnamed) or ``'BUILTIN_<n>'``.

    ``code.builtin_code`` is already the effective code (the larger of the schema's two
    builtin-code fields), see :class:`tflite_schema.OperatorCode`.
    """
    if code.builtin_code == BuiltinOperator.CUSTOM:
        return f"CUSTOM({code.custom_code or '?'})"
    try:
        return BuiltinOperator(code.builtin_code).name
    except ValueError:  # newer than tflite_schema's enum
        return f"BUILTIN_{code.builtin_code}"


def _count_resource_variables(model: tflite_schema.Model) -> int:
    """Distinct shared names of VAR_HANDLE ops over all subgraphs (TFLM sizes a table).

    A VAR_HANDLE without options (or without ``shared_name``) counts as the name ``""``.
    """
    names = set()
    for sg in model.subgraphs:
        for op in sg.operators:
            if model.operator_codes[op.opcode_index].builtin_code != BuiltinOperator.VAR_HANDLE:
                continue
            names.add(getattr(op.builtin_options, "shared_name", None) or "")
    return len(names)


def _tensor_meta(model: tflite_schema.Model, t: tflite_schema.Tensor) -> TensorMeta:
    """One tensor as LiteRT's Python API would report it (no quantization: empty arrays)."""
    buf = model.buffers[t.buffer]  # the reader checked the index
    q = t.quantization  # None unless the file gives at least one scale
    if q is None:
        scales, zero_points, qdim = np.zeros(0, np.float32), np.zeros(0, np.int32), 0
    else:
        scales = q.scale  # float32, read-only
        # One zero point per scale (the reader broadcasts a single stored value).
        zero_points = q.zero_point.astype(np.int32)
        qdim = q.quantized_dimension
    return TensorMeta(
        index=t.index,
        name=t.name,
        shape=t.shape,
        shape_signature=t.shape_signature if t.shape_signature is not None else t.shape,
        type_name=t.type.name,
        dtype=_NUMPY_DTYPES.get(t.type),
        scales=scales,
        zero_points=zero_points,
        quantized_dimension=qdim,
        # Buffer 0 is the schema's empty sentinel. Data lives inline or, in models over
        # 2 GiB, at an offset (> 1) into the file.
        is_constant=t.buffer > 0 and (buf.inline_size > 0 or buf.offset > 1),
        is_variable=t.is_variable,
    )


def read_model_info(content: bytes) -> ModelInfo:
    """Parse ``content`` (a .tflite flatbuffer) into a :class:`ModelInfo`.

    The bytes are decoded by :func:`tflite_schema.read_model`, which checks them
    (file identifier ``TFL3``, schema version 3, bounds, cross-references).

    Raises
    ------
    MicroModelError
        If the bytes are not a readable TFLite model with at least one subgraph; the
        message is tflite_schema's (table path and field) and the
        :class:`tflite_schema.SchemaError` is chained.
    """
    try:
        model = tflite_schema.read_model(content)
    except tflite_schema.SchemaError as e:
        raise MicroModelError(f"cannot read model: {e}") from e
    sg = model.subgraphs[0]  # the reader guarantees at least one subgraph
    return ModelInfo(
        tensors=tuple(_tensor_meta(model, t) for t in sg.tensors),
        inputs=sg.inputs,
        outputs=sg.outputs,
        op_names=tuple(_op_name(model.operator_codes[op.opcode_index]) for op in sg.operators),
        num_subgraphs=len(model.subgraphs),
        num_resource_variables=_count_resource_variables(model),
        model_bytes=len(content),
    )
