"""Hand-built models (tests/schema/_builder.py) exercising individual schema fields."""

from __future__ import annotations

import numpy as np
import pytest
from _builder import BOOL, FLOAT32, INT4, INT8, STRING, Buf, Code, Graph, Op, Sig, T, build_model

from tflite_schema import (OPTIONS_BY_NAME, CorruptError, SchemaError, TensorType,
                           TruncatedError, load_model, read_model)
from tflite_schema.errors import UnsupportedTypeError

Conv2DOptions = OPTIONS_BY_NAME["Conv2DOptions"]


def _one_op_model(**op_kwargs) -> bytes:
    return build_model(tensors=[T("a", [1]), T("b", [1])], codes=[Code(builtin_code=0)],
                       ops=[Op(0, [0], [1], **op_kwargs)], inputs=[0], outputs=[1])


# -- operator codes ------------------------------------------------------------------------


@pytest.mark.parametrize("deprecated, builtin, effective, name", [
    (None, 3, 3, "CONV_2D"),  # new writer, small code: deprecated field left at 0
    (3, None, 3, "CONV_2D"),  # old file: only the int8 field
    (3, 3, 3, "CONV_2D"),  # converter writes both
    (127, 150, 150, "GELU"),  # code > 127: placeholder in the int8 field
    (None, None, 0, "ADD"),  # nothing written: ADD
    (127, None, 127, "PLACEHOLDER_FOR_GREATER_OP_CODES"),
], ids=["new-small", "old-only-deprecated", "both", "large-code", "absent", "placeholder"])
def test_effective_builtin_code_is_max_of_both_fields(deprecated, builtin, effective, name):
    data = build_model(tensors=[T("x", [1])],
                       codes=[Code(builtin_code=builtin, deprecated_builtin_code=deprecated)])
    code = read_model(data).operator_codes[0]
    assert (code.builtin_code, code.name) == (effective, name)
    assert code.deprecated_builtin_code == (deprecated or 0)


@pytest.mark.parametrize("code, name", [
    (Code(builtin_code=32, deprecated_builtin_code=32, custom_code="TFLite_Detection"),
     "CUSTOM:TFLite_Detection"),
    (Code(builtin_code=251), "UNKNOWN_251"),
], ids=["custom", "unknown"])
def test_operator_code_names(code, name):
    assert read_model(build_model(tensors=[T("x", [1])], codes=[code])).operator_codes[0].name \
        == name


def test_operator_code_version_defaults_to_one():
    data = build_model(tensors=[T("x", [1])], codes=[Code(builtin_code=3), Code(version=4)])
    assert [c.version for c in read_model(data).operator_codes] == [1, 4]


# -- buffers ---------------------------------------------------------------------------------


def test_external_buffer_is_read_from_offset_and_size():
    weights = np.arange(6, dtype=np.float32)
    data = build_model(tensors=[T("w", [2, 3], buffer=1)],
                       buffers=[Buf(), Buf(external=weights.tobytes())])
    model = read_model(data)
    buf = model.buffers[1]
    assert buf.offset > 1 and buf.size == 24 and buf.inline_size == 0
    assert buf.offset % 16 == 0 and buf.offset >= len(data) - 32
    assert bytes(model.buffer_data(1)) == weights.tobytes()
    np.testing.assert_array_equal(model.tensor_data(0, 0), weights.reshape(2, 3))


def test_inline_data_wins_over_offset_like_litert():
    data = build_model(tensors=[T("w", [1], buffer=1)],
                       buffers=[Buf(), Buf(data=b"\x01\x00\x00\x00", external=b"\xff" * 4)])
    assert bytes(read_model(data).buffer_data(1)) == b"\x01\x00\x00\x00"


def test_external_buffer_past_end_of_file_is_truncated_error():
    data = build_model(tensors=[T("w", [4], buffer=1)],
                       buffers=[Buf(), Buf(external=bytes(16))])
    with pytest.raises(TruncatedError, match=r"Model\.buffers\[1\].*past the end"):
        read_model(data[:-8])


def test_buffer_data_index_out_of_range_is_index_error():
    model = read_model(build_model(tensors=[T("x", [1])]))
    assert bytes(model.buffer_data(0)) == b""
    with pytest.raises(IndexError):
        model.buffer_data(1)


# -- tensor_data -------------------------------------------------------------------------------


@pytest.mark.parametrize("ttype, shape, raw, expected", [
    (FLOAT32, [2, 2], np.array([1, -2, 3.5, 0], np.float32).tobytes(),
     np.array([[1, -2], [3.5, 0]], np.float32)),
    (INT8, [3], bytes([0, 127, 128]), np.array([0, 127, -128], np.int8)),
    (BOOL, [3], bytes([0, 1, 2]), np.array([False, True, True])),
    (FLOAT32, [], np.float32(7).tobytes(), np.array(7, np.float32)),
], ids=["float32", "int8", "bool-nonzero-is-true", "scalar"])
def test_tensor_data_decodes_and_reshapes(ttype, shape, raw, expected):
    model = read_model(build_model(tensors=[T("c", shape, type=ttype, buffer=1)],
                                   buffers=[Buf(), Buf(data=raw)]))
    values = model.tensor_data(0, 0)
    assert values.dtype == expected.dtype and values.shape == expected.shape
    np.testing.assert_array_equal(values, expected)
    assert not values.flags.writeable


def test_tensor_data_is_none_without_buffer_contents():
    model = read_model(build_model(tensors=[T("x", [2])]))
    assert model.tensor_data(0, 0) is None


def test_tensor_data_in_an_external_weights_file_is_an_error_not_none():
    model = read_model(build_model(tensors=[T("w", [4], external_buffer=2)]))
    assert model.subgraphs[0].tensors[0].external_buffer == 2
    with pytest.raises(SchemaError, match="external buffer 2"):
        model.tensor_data(0, 0)


def test_tensor_data_size_mismatch_is_corrupt_error():
    model = read_model(build_model(tensors=[T("w", [2, 3], buffer=1)],
                                   buffers=[Buf(), Buf(data=bytes(20))]))
    with pytest.raises(CorruptError, match=r"'w'.*holds 20 bytes.*\[2, 3\] of FLOAT32 needs 24"):
        model.tensor_data(0, 0)


@pytest.mark.parametrize("ttype", [INT4, STRING], ids=["INT4", "STRING"])
def test_tensor_data_of_types_without_numpy_dtype_is_unsupported(ttype):
    model = read_model(build_model(tensors=[T("w", [4], type=ttype, buffer=1)],
                                   buffers=[Buf(), Buf(data=bytes(2))]))
    with pytest.raises(UnsupportedTypeError, match="buffer_data"):
        model.tensor_data(0, 0)
    assert len(model.buffer_data(1)) == 2


# -- quantization ------------------------------------------------------------------------------


def test_per_axis_quantization():
    model = read_model(build_model(tensors=[
        T("w", [3, 1, 1, 2], type=INT8, scale=[0.5, 0.25, 0.125], zero_point=[0, 1, -1],
          quantized_dimension=0, min=[-1, -2, -3])]))
    q = model.subgraphs[0].tensors[0].quantization
    assert q.scale.dtype == np.float32 and q.zero_point.dtype == np.int64
    np.testing.assert_array_equal(q.scale, [0.5, 0.25, 0.125])
    np.testing.assert_array_equal(q.zero_point, [0, 1, -1])
    assert q.quantized_dimension == 0 and q.is_per_channel and q.max is None
    np.testing.assert_array_equal(q.min, [-1, -2, -3])
    assert not q.scale.flags.writeable and not q.zero_point.flags.writeable


@pytest.mark.parametrize("zero_point, expected", [
    (None, [0, 0]), ([], [0, 0]), ([5], [5, 5]),
], ids=["absent", "empty", "one-broadcast"])
def test_zero_point_of_length_0_or_1_is_broadcast(zero_point, expected):
    model = read_model(build_model(tensors=[T("w", [2], scale=[1, 2], zero_point=zero_point)]))
    np.testing.assert_array_equal(model.subgraphs[0].tensors[0].quantization.zero_point,
                                  expected)


def test_zero_point_count_mismatch_is_corrupt_error():
    data = build_model(tensors=[T("x", [1]), T("w", [3], scale=[1, 2, 3], zero_point=[0, 0])])
    with pytest.raises(CorruptError, match=r"tensors\[1\]\.quantization\.zero_point: 2 zero"):
        read_model(data)


def test_quantization_without_scale_is_none():
    model = read_model(build_model(tensors=[T("x", [1], scale=[], zero_point=[0])]))
    assert model.subgraphs[0].tensors[0].quantization is None


# -- index validation --------------------------------------------------------------------------


def test_absent_optional_input_is_minus_one():
    op = read_model(build_model(tensors=[T("a", [1]), T("b", [1])], codes=[Code(builtin_code=9)],
                                ops=[Op(0, [0, -1, -1], [1])])).subgraphs[0].operators[0]
    assert op.inputs == (0, -1, -1) and op.outputs == (1,)


@pytest.mark.parametrize("kwargs, message", [
    (dict(ops=[Op(0, [2], [1])]), r"operators\[0\]\.inputs\[0\]: tensor index 2 out of range"),
    (dict(ops=[Op(0, [0], [-1])]), r"operators\[0\]\.outputs\[0\]: tensor index -1"),
    (dict(ops=[Op(0, [0], [1], intermediates=[7])]), r"intermediates\[0\]: tensor index 7"),
    (dict(ops=[Op(1, [0], [1])]), r"opcode_index: index 1 out of range \(1 operator codes"),
    (dict(inputs=[-1]), r"subgraphs\[0\]\.inputs\[0\]: tensor index -1"),
    (dict(outputs=[5]), r"subgraphs\[0\]\.outputs\[0\]: tensor index 5"),
    (dict(tensors=[T("a", [1]), T("b", [1], buffer=3)]), r"tensors\[1\]\.buffer: index 3"),
    (dict(metadata=[("m", 9)]), r"metadata\[0\]\.buffer: index 9"),
    (dict(signatures=[Sig("s", [("x", 0)], [], subgraph_index=2)]), r"subgraph_index: index 2"),
    (dict(signatures=[Sig("s", [("x", 4)], [])]), r"inputs\[0\]\.tensor_index: index 4"),
], ids=["op-input", "op-output-minus-one", "intermediate", "opcode", "subgraph-input",
        "subgraph-output", "tensor-buffer", "metadata-buffer", "signature-subgraph",
        "signature-tensor"])
def test_out_of_range_index_is_corrupt_error(kwargs, message):
    args = dict(tensors=[T("a", [1]), T("b", [1])], codes=[Code(builtin_code=0)])
    args.update(kwargs)
    with pytest.raises(CorruptError, match=message):
        read_model(build_model(**args))


# -- options and custom options ----------------------------------------------------------------


def test_builtin_options_decode():
    op = read_model(_one_op_model(options_type=1, options=Conv2DOptions(
        padding=1, stride_w=2, stride_h=3, fused_activation_function=3))).subgraphs[0].operators[0]
    assert op.builtin_options_type == 1
    assert op.builtin_options == Conv2DOptions(padding=1, stride_w=2, stride_h=3,
                                               fused_activation_function=3)


@pytest.mark.parametrize("options_type, options", [
    (1, None), (0, Conv2DOptions(stride_w=2)), (200, Conv2DOptions(stride_w=2)),
], ids=["type-without-table", "table-without-type", "unknown-type"])
def test_missing_or_unknown_options_give_none_and_keep_the_type(options_type, options):
    op = read_model(_one_op_model(options_type=options_type, options=options)) \
        .subgraphs[0].operators[0]
    assert op.builtin_options is None and op.builtin_options_type == options_type


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), None), (dict(custom_options=b"\x01\x02"), b"\x01\x02"),
    (dict(large_custom_options=b"big-options"), b"big-options"),
], ids=["none", "inline", "large-model-region"])
def test_custom_options(kwargs, expected):
    assert read_model(_one_op_model(**kwargs)).subgraphs[0].operators[0].custom_options \
        == expected


# -- model-level fields and policies -----------------------------------------------------------


def test_tensor_fields():
    model = read_model(build_model(tensors=[
        T("dyn", [1, 8], shape_signature=[-1, 8], has_rank=True),
        T("state", [4], is_variable=True), T("", [])]))
    dyn, state, unnamed = model.subgraphs[0].tensors
    assert (dyn.index, dyn.name, dyn.shape, dyn.shape_signature) == (0, "dyn", (1, 8), (-1, 8))
    assert dyn.has_rank and not dyn.is_variable and dyn.type is TensorType.FLOAT32
    assert state.is_variable and state.shape_signature is None and not state.has_rank
    assert (unnamed.name, unnamed.shape, unnamed.has_sparsity) == ("", (), False)


def test_subgraphs_signatures_metadata_and_description():
    data = build_model(graphs=[Graph([T("a", [1])], name="main"),
                               Graph([T("p", [1]), T("q", [2])], inputs=[0], outputs=[1],
                                     name=None)],
                       signatures=[Sig("serving", [("in", 0)], [("out", 1)], subgraph_index=1)],
                       buffers=[Buf(), Buf(data=b"{}")], metadata=[("min_runtime", 1)],
                       description="hand built")
    model = read_model(data)
    assert [sg.name for sg in model.subgraphs] == ["main", ""]
    assert model.subgraphs[1].inputs == (0,) and model.subgraphs[1].outputs == (1,)
    sig = model.signature_defs[0]
    assert (sig.signature_key, sig.subgraph_index) == ("serving", 1)
    assert [(m.name, m.tensor_index) for m in sig.inputs + sig.outputs] == [("in", 0), ("out", 1)]
    assert [(m.name, m.buffer) for m in model.metadata] == [("min_runtime", 1)]
    assert bytes(model.buffer_data(model.metadata[0].buffer)) == b"{}"
    assert model.description == "hand built" and model.version == 3


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview,
                                  lambda b: np.frombuffer(b, np.uint8)],
                         ids=["bytes", "bytearray", "memoryview", "ndarray"])
def test_read_model_accepts_any_byte_buffer_and_keeps_a_read_only_view(wrap):
    model = read_model(wrap(build_model(tensors=[T("x", [1])])))
    assert model.data.readonly and len(model.subgraphs[0].tensors) == 1


def test_load_model(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(build_model(tensors=[T("x", [3])]))
    assert load_model(path).subgraphs[0].tensors[0].shape == (3,)


def test_missing_file_identifier_is_rejected_unless_allowed():
    data = build_model(tensors=[T("x", [1])], identifier=False)
    with pytest.raises(CorruptError, match="file identifier"):
        read_model(data)
    assert read_model(data, require_identifier=False).subgraphs[0].tensors[0].name == "x"


@pytest.mark.parametrize("data, error, message", [
    (b"", TruncatedError, "too short"),
    (b"\x08\x00\x00\x00TFL", TruncatedError, "too short"),
    (build_model(tensors=[T("x", [1])], version=2), SchemaError, "schema version 2"),
    (build_model(graphs=[]), CorruptError, "no subgraph"),
], ids=["empty", "seven-bytes", "version-2", "no-subgraph"])
def test_unusable_files(data, error, message):
    with pytest.raises(error, match=message):
        read_model(data)


def test_invalid_utf8_in_a_name_is_replaced_not_raised():
    data = bytearray(build_model(tensors=[T("name", [1])]))
    data[data.index(b"name")] = 0xFF
    assert read_model(bytes(data)).subgraphs[0].tensors[0].name == "\ufffdame"
