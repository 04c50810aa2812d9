"""What micro_ref needs to know about a .tflite model before TFLM sees it.

TFLM's Python wrapper reports only ``shape``, ``dtype`` and quantization for the model's
inputs and outputs, by *position*. LiteRT's API (which refimpl and micro_ref follow)
speaks of tensors by *index in the subgraph* and gives names and shape signatures. This
module reads those facts from the flatbuffer with the schema module bundled in the TFLM
wheel (the schema TFLM itself was built against; LiteRT's copy if TFLM is absent),
without unpacking weight buffers.

Only subgraph 0 (the entry subgraph, the one TFLM's ``GetTensor(i, 0)`` addresses) is
described.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import MicroModelError

# TensorType enum of schema.fbs -> NumPy dtype, as LiteRT's Python API reports them.
# Types NumPy has no dtype for are left out (their tensors get dtype None).
_NUMPY_DTYPES: dict[int, np.dtype] = {
    0: np.dtype(np.float32),
    1: np.dtype(np.float16),
    2: np.dtype(np.int32),
    3: np.dtype(np.uint8),
    4: np.dtype(np.int64),
    5: np.dtype(np.object_),  # STRING
    6: np.dtype(np.bool_),
    7: np.dtype(np.int16),
    8: np.dtype(np.complex64),
    9: np.dtype(np.int8),
    10: np.dtype(np.float64),
    11: np.dtype(np.complex128),
    12: np.dtype(np.uint64),
    15: np.dtype(np.uint32),
    16: np.dtype(np.uint16),
    17: np.dtype(np.int8),  # INT4: LiteRT reports packed int4 tensors as int8
}

_TYPE_NAMES = {
    0: "FLOAT32", 1: "FLOAT16", 2: "INT32", 3: "UINT8", 4: "INT64", 5: "STRING", 6: "BOOL",
    7: "INT16", 8: "COMPLEX64", 9: "INT8", 10: "FLOAT64", 11: "COMPLEX128", 12: "UINT64",
    13: "RESOURCE", 14: "VARIANT", 15: "UINT32", 16: "UINT16", 17: "INT4", 18: "BFLOAT16",
}


@dataclass(frozen=True)
class TensorMeta:
    """One tensor of subgraph 0, as stored in the flatbuffer."""

    index: int
    name: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    type_name: str  # schema TensorType name, e.g. "INT8"
    dtype: np.dtype | None  # None for types NumPy cannot hold (RESOURCE, VARIANT, BFLOAT16)
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


@functools.cache
def _builtin_names(schema) -> dict[int, str]:
    """BuiltinOperator value -> name, from the generated schema module."""
    ops = vars(schema.BuiltinOperator)
    return {v: k for k, v in ops.items() if not k.startswith("_") and isinstance(v, int)}


def _op_name(schema, opcode) -> str:
    # The builtin code lives in two fields since schema v3a; the larger one is right.
    code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
    if code == schema.BuiltinOperator.CUSTOM:
        custom = opcode.CustomCode()
        return f"CUSTOM({custom.decode(errors='replace') if custom else '?'})"
    return _builtin_names(schema).get(code, f"BUILTIN_{code}")


def _schema():
    """The generated schema module: TFLM's own copy, else LiteRT's or TensorFlow's."""
    try:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated
    except ImportError:
        try:
            from ai_edge_litert import schema_py_generated
        except ImportError:
            from tensorflow.lite.python import schema_py_generated
    return schema_py_generated


def _count_resource_variables(schema, model) -> int:
    """Distinct shared names of VAR_HANDLE ops over all subgraphs (TFLM sizes a table)."""
    names = set()
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for j in range(sg.OperatorsLength()):
            op = sg.Operators(j)
            opcode = model.OperatorCodes(op.OpcodeIndex())
            code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
            if code != schema.BuiltinOperator.VAR_HANDLE:
                continue
            table = op.BuiltinOptions()
            name = b""
            if table is not None:
                opts = schema.VarHandleOptions()
                opts.Init(table.Bytes, table.Pos)
                name = opts.SharedName() or b""
            names.add(name)
    return len(names)


def read_model_info(content: bytes) -> ModelInfo:
    """Parse ``content`` (a .tflite flatbuffer) into a :class:`ModelInfo`.

    Raises
    ------
    MicroModelError
        If the bytes are not a readable TFLite model with at least one subgraph.
    """
    schema = _schema()
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise MicroModelError(
            f"not a TFLite flatbuffer (file identifier {bytes(content[4:8])!r}, expected b'TFL3')"
        )
    try:
        model = schema.Model.GetRootAs(content, 0)
        if model.SubgraphsLength() < 1:
            raise MicroModelError("model has no subgraphs")
        sg = model.Subgraphs(0)
        buffers = [model.Buffers(i) for i in range(model.BuffersLength())]
        tensors = []
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            shape = tuple(int(d) for d in t.ShapeAsNumpy()) if not t.ShapeIsNone() else ()
            sig = (
                tuple(int(d) for d in t.ShapeSignatureAsNumpy())
                if not t.ShapeSignatureIsNone()
                else shape
            )
            buf = buffers[t.Buffer()] if 0 < t.Buffer() < len(buffers) else None
            # Data lives inline (DataLength) or, in models over 2 GiB, at an offset.
            is_constant = buf is not None and (buf.DataLength() > 0 or buf.Offset() > 1)
            q = t.Quantization()
            scales = np.zeros(0, np.float32)
            zero_points = np.zeros(0, np.int32)
            qdim = 0
            if q is not None:
                if not q.ScaleIsNone():
                    scales = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
                if not q.ZeroPointIsNone():
                    zero_points = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64).astype(np.int32)
                qdim = int(q.QuantizedDimension())
            name = t.Name()
            tensors.append(
                TensorMeta(
                    index=i,
                    name=name.decode("utf-8", errors="replace") if name else "",
                    shape=shape,
                    shape_signature=sig,
                    type_name=_TYPE_NAMES.get(t.Type(), f"TYPE_{t.Type()}"),
                    dtype=_NUMPY_DTYPES.get(t.Type()),
                    scales=scales,
                    zero_points=zero_points,
                    quantized_dimension=qdim,
                    is_constant=is_constant,
                    is_variable=bool(t.IsVariable()),
                )
            )
        opcodes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        op_names = []
        for j in range(sg.OperatorsLength()):
            k = sg.Operators(j).OpcodeIndex()
            op_names.append(_op_name(schema, opcodes[k]) if k < len(opcodes) else f"OPCODE_{k}")
        inputs = tuple(int(i) for i in sg.InputsAsNumpy()) if not sg.InputsIsNone() else ()
        outputs = tuple(int(i) for i in sg.OutputsAsNumpy()) if not sg.OutputsIsNone() else ()
        num_subgraphs = model.SubgraphsLength()
        num_resource_variables = _count_resource_variables(schema, model)
    except MicroModelError:
        raise
    except Exception as e:  # flatbuffers raises bare IndexError/struct.error on garbage
        raise MicroModelError(f"cannot read model: {e!r}") from e
    for i in inputs + outputs:
        if not 0 <= i < len(tensors):
            raise MicroModelError(f"subgraph 0 names tensor {i}, but has {len(tensors)} tensors")
    return ModelInfo(
        tensors=tuple(tensors),
        inputs=inputs,
        outputs=outputs,
        op_names=tuple(op_names),
        num_subgraphs=num_subgraphs,
        num_resource_variables=num_resource_variables,
        model_bytes=len(content),
    )
