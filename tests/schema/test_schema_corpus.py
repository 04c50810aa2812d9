"""Real models from the shared corpus, decoded facts checked against independent readers.

Two oracles: the LiteRT interpreter (tensor details, ops, constant data, signatures)
and, for every corpus file, the object API of LiteRT's flatc-generated schema module
(``ai_edge_litert.schema_py_generated``), which is used here as a test oracle only.
"""

from __future__ import annotations

import numpy as np
import pytest
from _corpus import all_corpus_models, corpus_file

from tflite_schema import BuiltinOperator, TensorType, load_model, read_model

LITERT_MODELS = [
    "examples/hello_world/models/hello_world_int8.tflite",
    "examples/hello_world/models/hello_world_float.tflite",
    "examples/memory_footprint/models/simple_add_model.tflite",
    "examples/micro_speech/models/micro_speech_quantized.tflite",
    "examples/mnist_lstm/trained_lstm.tflite",
    "examples/mnist_lstm/trained_lstm_int8.tflite",
    "models/keyword_scrambled_8bit.tflite",
    "integration_tests/seanet/add/add0.tflite",
    "integration_tests/seanet/conv/conv0.tflite",
    "integration_tests/seanet/leaky_relu/leaky_relu0.tflite",
    "integration_tests/seanet/pad/pad0.tflite",
    "integration_tests/seanet/quantize/quantize0.tflite",
    "integration_tests/seanet/strided_slice/strided_slice0.tflite",
    "integration_tests/seanet/sub/sub0.tflite",
    "integration_tests/seanet/transpose_conv/transpose_conv0.tflite",
]


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".tflite")


@pytest.fixture(scope="module")
def litert():
    return pytest.importorskip("ai_edge_litert.interpreter")


def _interpreter(litert, path, allocate: bool = False):
    # Read details *before* allocate_tensors: LiteRT's FULLY_CONNECTED prepare rewrites
    # a per-tensor weight scale into one copy per output channel.
    interp = litert.Interpreter(model_path=str(path))
    if allocate:
        interp.allocate_tensors()
    return interp


@pytest.mark.parametrize("rel", LITERT_MODELS, ids=_short)
def test_tensor_details_match_litert(litert, rel):
    path = corpus_file(rel)
    model = load_model(path)
    details = _interpreter(litert, path).get_tensor_details()
    tensors = model.subgraphs[0].tensors
    assert len(details) == len(tensors)
    for d in details:
        t = tensors[d["index"]]
        assert t.name == d["name"]
        assert t.shape == tuple(d["shape"].tolist()), t.name
        assert (t.shape_signature or t.shape) == tuple(d["shape_signature"].tolist()), t.name
        assert t.type.numpy_dtype == np.dtype(d["dtype"]), t.name
        q = d["quantization_parameters"]
        if t.quantization is None:
            assert q["scales"].size == 0, t.name
        else:
            np.testing.assert_array_equal(t.quantization.scale, q["scales"])
            np.testing.assert_array_equal(t.quantization.zero_point, q["zero_points"])
            assert t.quantization.quantized_dimension == q["quantized_dimension"]


@pytest.mark.parametrize("rel", LITERT_MODELS, ids=_short)
def test_operators_match_litert(litert, rel):
    path = corpus_file(rel)
    model = load_model(path)
    ops = _interpreter(litert, path)._get_ops_details()
    operators = model.subgraphs[0].operators
    assert len(ops) == len(operators)
    for d, op in zip(ops, operators):
        assert model.operator_codes[op.opcode_index].name == d["op_name"]
        assert op.inputs == tuple(d["inputs"].tolist())
        assert op.outputs == tuple(d["outputs"].tolist())


@pytest.mark.parametrize("rel", LITERT_MODELS, ids=_short)
def test_constant_data_matches_litert(litert, rel):
    path = corpus_file(rel)
    model = load_model(path)
    interp = _interpreter(litert, path, allocate=True)
    for t in model.subgraphs[0].tensors:
        ours = model.tensor_data(0, t.index)
        if ours is None:
            continue
        theirs = interp.get_tensor(t.index)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, t.name
        np.testing.assert_array_equal(ours, theirs, err_msg=t.name)
        assert not ours.flags.writeable


@pytest.mark.parametrize("rel", LITERT_MODELS, ids=_short)
def test_signatures_match_litert(litert, rel):
    path = corpus_file(rel)
    model = load_model(path)
    theirs = _interpreter(litert, path).get_signature_list()
    ours = {s.signature_key: {"inputs": [m.name for m in s.inputs],
                              "outputs": [m.name for m in s.outputs]}
            for s in model.signature_defs}
    assert {k: {n: sorted(v) for n, v in d.items()} for k, d in ours.items()} == \
        {k: {n: sorted(v) for n, v in d.items()} for k, d in theirs.items()}


def test_person_detect_decodes_although_litert_rejects_its_bias_axis(litert):
    """person_detect's rank-1 per-channel biases carry quantized_dimension 3.

    TFLM runs the model; LiteRT refuses it. The schema layer reports the value as
    stored and leaves the policy to the interpreter flavour.
    """
    path = corpus_file("models/person_detect.tflite")
    model = load_model(path)
    sg = model.subgraphs[0]
    assert (len(sg.tensors), len(sg.operators)) == (89, 31)
    first = sg.operators[0]
    assert model.operator_codes[first.opcode_index].name == "DEPTHWISE_CONV_2D"
    assert (first.builtin_options.stride_w, first.builtin_options.depth_multiplier) == (2, 8)
    bias = sg.tensors[first.inputs[2]]
    assert bias.type == TensorType.INT32 and len(bias.shape) == 1
    assert bias.quantization.is_per_channel and bias.quantization.quantized_dimension == 3
    with pytest.raises(ValueError, match="quantized_dimension"):
        litert.Interpreter(model_path=str(path))


# -- every corpus model against the flatc-generated object API -------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def _as_tuple(value) -> tuple | None:
    if value is None:
        return None
    return tuple(np.asarray(value).tolist())


def _check_options(ours, theirs, where: str) -> None:
    if theirs is None:
        assert ours is None, where
        return
    assert type(ours).__name__ == type(theirs).__name__.removesuffix("T"), where
    for f in ours.FIELDS:
        if f.deprecated:
            continue
        mine, ref = getattr(ours, f.name), getattr(theirs, _camel(f.name))
        if f.is_vector:
            ref = _as_tuple(ref)
            mine = None if mine is None else tuple(mine)
        elif f.kind == "string" and isinstance(ref, bytes):
            ref = ref.decode()
        assert mine == ref, f"{where}.{f.name}: {mine!r} != {ref!r}"


@pytest.mark.parametrize("rel", all_corpus_models(), ids=lambda r: r.replace("/", "_"))
def test_corpus_model_matches_generated_schema(rel):
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    data = corpus_file(rel).read_bytes()
    model, ref = read_model(data), schema.ModelT.InitFromPackedBuf(data, 0)
    assert model.version == ref.version
    for code, rc in zip(model.operator_codes, ref.operatorCodes, strict=True):
        assert code.builtin_code == max(rc.builtinCode, rc.deprecatedBuiltinCode)
        assert code.version == rc.version
    for buf, rb in zip(model.buffers, ref.buffers, strict=True):
        inline = b"" if rb.data is None else np.asarray(rb.data, np.uint8).tobytes()
        assert bytes(model.buffer_data(buf.index)) == inline
    for sg, rsg in zip(model.subgraphs, ref.subgraphs, strict=True):
        assert sg.inputs == _as_tuple(rsg.inputs) and sg.outputs == _as_tuple(rsg.outputs)
        for t, rt in zip(sg.tensors, rsg.tensors, strict=True):
            assert t.name == (rt.name or b"").decode() and t.buffer == rt.buffer
            assert t.shape == (_as_tuple(rt.shape) or ()) and t.type == rt.type
            assert t.shape_signature == _as_tuple(rt.shapeSignature)
            assert (t.is_variable, t.has_rank, t.has_sparsity, t.external_buffer) == \
                (rt.isVariable, rt.hasRank, rt.sparsity is not None, rt.externalBuffer)
            rq = rt.quantization
            if t.quantization is not None:
                np.testing.assert_array_equal(t.quantization.scale, rq.scale)
                np.testing.assert_array_equal(t.quantization.zero_point, rq.zeroPoint)
                assert t.quantization.quantized_dimension == rq.quantizedDimension
                assert _as_tuple(t.quantization.min) == _as_tuple(rq.min)
                assert _as_tuple(t.quantization.max) == _as_tuple(rq.max)
            else:
                assert rq is None or rq.scale is None or len(rq.scale) == 0
        for op, rop in zip(sg.operators, rsg.operators, strict=True):
            where = f"{rel} op {op.index}"
            assert op.opcode_index == rop.opcodeIndex, where
            assert op.inputs == _as_tuple(rop.inputs), where
            assert op.outputs == _as_tuple(rop.outputs), where
            assert op.intermediates == (_as_tuple(rop.intermediates) or ()), where
            assert op.builtin_options_type == rop.builtinOptionsType, where
            _check_options(op.builtin_options, rop.builtinOptions, where)
            code = model.operator_codes[op.opcode_index].builtin_code
            assert code != BuiltinOperator.CUSTOM or op.custom_options is not None
    for sig, rs in zip(model.signature_defs, ref.signatureDefs or (), strict=True):
        assert (sig.signature_key, sig.subgraph_index) == (rs.signatureKey.decode(),
                                                           rs.subgraphIndex)
        assert [(m.name, m.tensor_index) for m in sig.inputs + sig.outputs] == \
            [(m.name.decode(), m.tensorIndex) for m in rs.inputs + rs.outputs]
    assert [(m.name, m.buffer) for m in model.metadata] == \
        [(m.name.decode(), m.buffer) for m in ref.metadata or ()]
