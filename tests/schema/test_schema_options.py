"""Options tables: union codes, field slots and defaults, checked against LiteRT's schema.

The oracle is LiteRT's flatc-generated module (``ai_edge_litert.schema_py_generated``):
its builder functions write each options table with a distinct value in every field
and our reader must decode those values under the schema field names. The generated
code is used by these tests only, never by ``tflite_schema``.
"""

from __future__ import annotations

import dataclasses

import flatbuffers
import numpy as np
import pytest
from _builder import Code, Op, T, build_model

import tflite_schema.options as options_module
from tflite_schema import (OPTIONS2_BY_TYPE, OPTIONS_BY_NAME, OPTIONS_BY_TYPE, OPTIONS_FOR_OP,
                           ActivationFunctionType, BuiltinOperator, Padding, TensorType,
                           options_for, read_model)
from tflite_schema import enums as our_enums
from tflite_schema.flatbuf import FlatBuffer
from tflite_schema.options import decode_options

ALL_OPTIONS = sorted(OPTIONS_BY_NAME.values(), key=lambda c: (c.UNION, c.UNION_TYPE))


@pytest.fixture(scope="module")
def schema():
    return pytest.importorskip("ai_edge_litert.schema_py_generated")


def _members(cls) -> dict[str, int]:
    return {k: v for k, v in vars(cls).items() if not k.startswith("_")}


def _upper_camel(name: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in name.split("_"))


def _lower_camel(name: str) -> str:
    camel = _upper_camel(name)
    return camel[:1].lower() + camel[1:]


# -- union codes and enum values ---------------------------------------------------------


@pytest.mark.parametrize("union, ours", [("BuiltinOptions", OPTIONS_BY_TYPE),
                                         ("BuiltinOptions2", OPTIONS2_BY_TYPE)])
def test_union_type_codes_match_schema(schema, union, ours):
    theirs = _members(getattr(schema, union))
    theirs.pop("NONE")
    assert {cls.__name__: code for code, cls in ours.items()} == theirs


@pytest.mark.parametrize("name", ["TensorType", "BuiltinOperator", "Padding",
                                  "ActivationFunctionType", "FullyConnectedOptionsWeightsFormat",
                                  "LSTMKernelType", "MirrorPadMode", "CombinerType",
                                  "LSHProjectionType", "CustomOptionsFormat",
                                  "QuantizationDetails"])
def test_enum_values_match_schema(schema, name):
    ours = {m.name: int(m) for m in getattr(our_enums, name)}
    theirs = _members(getattr(schema, name))
    # The one extra: TEMP_STREAMING_CONV_2D, from an older tflite-micro schema.fbs.
    ours.pop("TEMP_STREAMING_CONV_2D", None)
    assert ours == theirs


def test_enum_spot_values():
    assert (TensorType.FLOAT32, TensorType.INT8, TensorType.INT4) == (0, 9, 17)
    assert (Padding.SAME, Padding.VALID) == (0, 1)
    assert ActivationFunctionType.RELU6 == 3 and ActivationFunctionType.SIGN_BIT == 5
    assert BuiltinOperator.CONV_2D == 3 and BuiltinOperator.STABLEHLO_ADD == 163
    assert BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES == 127


@pytest.mark.parametrize("ttype, dtype", [(TensorType.FLOAT16, np.float16),
                                          (TensorType.BOOL, np.bool_),
                                          (TensorType.INT8, np.int8),
                                          (TensorType.COMPLEX64, np.complex64),
                                          (TensorType.UINT16, np.uint16)], ids=str)
def test_numpy_dtype(ttype, dtype):
    assert ttype.numpy_dtype == np.dtype(dtype)


@pytest.mark.parametrize("ttype", [TensorType.STRING, TensorType.RESOURCE, TensorType.VARIANT,
                                   TensorType.INT4, TensorType.BFLOAT16], ids=str)
def test_numpy_dtype_raises_for_types_without_one(ttype):
    with pytest.raises(our_enums.UnsupportedTypeError, match=ttype.name):
        ttype.numpy_dtype


# -- field slots and defaults ------------------------------------------------------------


def _distinct_value(f, i: int):
    """A non-default value for field ``f`` (the i-th field of its table)."""
    if f.kind == "string":
        return f"text{i}"
    if f.is_vector:
        if f.kind == "ubyte":
            return bytes([i, 7, i + 1])
        if f.kind == "bool":
            return (True, False, True)
        if f.kind in ("float", "double"):
            return (i + 0.5, -1.25)
        return (i + 1, -(i + 2) if f.kind in ("int", "long") else i + 3)
    if f.kind == "bool":
        return not f.default
    if f.kind in ("float", "double"):
        return i + 0.75
    return f.default + i + 2


_NUMPY = {"bool": np.uint8, "ubyte": np.uint8, "int": np.int32, "uint": np.uint32,
          "long": np.int64, "float": np.float32}


def _build_with_generated(schema, cls, field, value) -> bytes:
    """One ``cls`` table with only ``field`` set, written by the generated builder."""
    name = cls.__name__
    builder = flatbuffers.Builder(256)
    ref = value
    if field.kind == "string":
        ref = builder.CreateString(value)
    elif field.is_vector:
        raw = list(value) if field.kind == "ubyte" else value
        ref = builder.CreateNumpyVector(np.asarray(raw, dtype=_NUMPY[field.kind]))
    getattr(schema, f"{name}Start")(builder)
    getattr(schema, f"{name}Add{_upper_camel(field.name)}")(builder, ref)
    builder.Finish(getattr(schema, f"{name}End")(builder))
    return bytes(builder.Output())


@pytest.mark.parametrize("cls", ALL_OPTIONS, ids=lambda c: c.__name__)
def test_fields_decode_from_generated_builder(schema, cls):
    """Each field, written alone by LiteRT's generated builder, comes back under its name.

    One table per field, every other field absent: a slot mix-up shows as a wrong
    value or as a non-default value on another field.
    """
    live = [f for f in cls.FIELDS if not f.deprecated]
    for i, f in enumerate(live):
        value = _distinct_value(f, i)
        data = _build_with_generated(schema, cls, f, value)
        decoded = decode_options(FlatBuffer(memoryview(data)).root(cls.__name__), cls)
        if f.kind == "float" and not f.is_vector:
            value = float(np.float32(value))
        assert decoded == dataclasses.replace(cls(), **{f.name: value}), f.name
    # and no field of the generated object API is missing from ours
    generated = {k for k in vars(getattr(schema, f"{cls.__name__}T")()) if not k.startswith("_")}
    assert generated == {_lower_camel(f.name) for f in live}


@pytest.mark.parametrize("cls", ALL_OPTIONS, ids=lambda c: c.__name__)
def test_defaults_match_generated_object_api(schema, cls):
    theirs = vars(getattr(schema, f"{cls.__name__}T")())
    ours = cls()
    for f in cls.FIELDS:
        if not f.deprecated:
            assert getattr(ours, f.name) == theirs[_lower_camel(f.name)], f.name


@pytest.mark.parametrize("cls, field, default", [
    ("Conv2DOptions", "dilation_w_factor", 1),
    ("DepthwiseConv2DOptions", "dilation_h_factor", 1),
    ("AddOptions", "pot_scale_int16", True),
    ("SubOptions", "pot_scale_int16", True),
    ("BidirectionalSequenceLSTMOptions", "time_major", True),
    ("UniqueOptions", "idx_out_type", TensorType.INT32),
    ("Conv3DOptions", "dilation_d_factor", 1),
    ("ReshapeOptions", "new_shape", None),
    ("SoftmaxOptions", "beta", 0.0),
], ids=lambda v: str(v))
def test_schema_defaults(cls, field, default):
    assert getattr(OPTIONS_BY_NAME[cls](), field) == default


def test_empty_table_decodes_to_defaults():
    builder = flatbuffers.Builder(64)
    builder.StartObject(0)
    builder.Finish(builder.EndObject())
    table = FlatBuffer(memoryview(bytes(builder.Output()))).root("Conv2DOptions")
    assert decode_options(table, OPTIONS_BY_NAME["Conv2DOptions"]) == \
        OPTIONS_BY_NAME["Conv2DOptions"]()


def test_deprecated_fields_keep_their_slot_but_get_no_attribute():
    cls = OPTIONS_BY_NAME["ResizeBilinearOptions"]
    assert [(f.name, f.slot) for f in cls.FIELDS if not f.deprecated] == \
        [("align_corners", 2), ("half_pixel_centers", 3)]
    assert not hasattr(cls(), "new_height")


def test_module_docstring_example():
    opts = OPTIONS_BY_TYPE[1](stride_w=2, stride_h=2)
    assert type(opts).__name__ == "Conv2DOptions"
    assert (opts.dilation_w_factor, opts.padding) == (1, 0)


def test_option_classes_are_frozen_and_importable_by_name():
    conv = options_module.Conv2DOptions(stride_w=2)
    assert OPTIONS_BY_TYPE[1] is options_module.Conv2DOptions
    with pytest.raises(AttributeError):
        conv.stride_w = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        options_module.NoSuchOptions  # noqa: B018


# -- op → options mapping ----------------------------------------------------------------


@pytest.mark.parametrize("op, table", [
    ("CONV_2D", "Conv2DOptions"), ("MAX_POOL_2D", "Pool2DOptions"),
    ("MEAN", "ReducerOptions"), ("MINIMUM", "MaximumMinimumOptions"),
    ("UNIDIRECTIONAL_SEQUENCE_RNN", "SequenceRNNOptions"),
    ("CONV_3D_TRANSPOSE", "Conv3DOptions"), ("STABLEHLO_PAD", "StablehloPadOptions"),
])
def test_options_for_op(op, table):
    assert OPTIONS_FOR_OP[BuiltinOperator[op]] is OPTIONS_BY_NAME[table]


def test_every_option_table_is_read_by_some_op():
    assert set(OPTIONS_FOR_OP.values()) == set(OPTIONS_BY_NAME.values())


def test_options_for_ignores_a_mismatched_union_member():
    conv = OPTIONS_BY_NAME["Conv2DOptions"](stride_w=2, stride_h=2)
    add = OPTIONS_BY_NAME["AddOptions"]()
    data = build_model(tensors=[T("x", [1])], codes=[Code(builtin_code=3)],
                       ops=[Op(0, [0], [0], options_type=1, options=conv),
                            Op(0, [0], [0], options_type=11, options=add)])
    first, second = read_model(data).subgraphs[0].operators
    assert options_for(BuiltinOperator.CONV_2D, first) == conv
    assert second.builtin_options == add
    assert options_for(BuiltinOperator.CONV_2D, second) is None
    assert options_for(BuiltinOperator.RELU, first) is None
