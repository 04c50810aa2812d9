"""Typed, read-only views of .tflite flatbuffers (first stage of tflite-refimpl).

bytes → :func:`read_model` → :class:`Model` (subgraphs, tensors, operators, buffers,
decoded builtin options). Every read is bounds-checked: a truncated or corrupt
file raises a :class:`SchemaError` naming the table and field, nothing else.

Example::

    from tflite_schema import load_model
    model = load_model("person_detect.tflite")
    sg = model.subgraphs[0]
    for op in sg.operators:
        code = model.operator_codes[op.opcode_index]
        print(op.index, code.name, op.inputs, op.outputs, op.builtin_options)
    weights = model.tensor_data(0, sg.operators[0].inputs[1])   # read-only ndarray
"""

from __future__ import annotations

from .builder_api import ModelBuilder, SubGraphBuilder
from .enums import ActivationFunctionType, BuiltinOperator, Padding, TensorType
from .errors import CorruptError, SchemaError, TruncatedError, UnsupportedTypeError
from .model import (Buffer, Metadata, Model, Operator, OperatorCode, QuantizationParameters,
                    SignatureDef, SignatureTensor, SubGraph, Tensor)
from .op_options import OPTIONS_FOR_OP, options_for
from .options import OPTIONS2_BY_TYPE, OPTIONS_BY_NAME, OPTIONS_BY_TYPE
from .reader import load_model, read_model
from .spec import (BufferSpec, MetadataSpec, ModelSpec, OperatorSpec, QuantizationSpec,
                   SignatureSpec, SpecError, SubGraphSpec, TensorSpec, model_to_spec)
from .writer import check_spec, save_model, write_model

__all__ = [
    "read_model", "load_model",
    "Model", "SubGraph", "Tensor", "Buffer", "OperatorCode", "Operator",
    "QuantizationParameters", "SignatureDef", "SignatureTensor", "Metadata",
    "TensorType", "BuiltinOperator", "Padding", "ActivationFunctionType",
    "SchemaError", "TruncatedError", "CorruptError", "UnsupportedTypeError",
    "OPTIONS_BY_TYPE", "OPTIONS2_BY_TYPE", "OPTIONS_BY_NAME", "OPTIONS_FOR_OP", "options_for",
    # writing
    "write_model", "save_model", "check_spec", "model_to_spec", "ModelBuilder",
    "SubGraphBuilder", "ModelSpec", "SubGraphSpec", "TensorSpec", "OperatorSpec",
    "BufferSpec", "QuantizationSpec", "SignatureSpec", "MetadataSpec", "SpecError",
]
