"""micro_ref: TFLM's x86 interpreter behind the LiteRT API, on real models.

Corpus models come from /work/shared/corpus/tflm (tests skip when it is absent); the
float16, hybrid and unknown-op models are converted here with TensorFlow (cached under
.cache/models/<tf version>/ by compare.zoo.cache).
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from micro_ref import (  # noqa: E402
    MIN_ARENA_SIZE,
    MicroArenaError,
    MicroInputError,
    MicroInterpreter,
    MicroModelError,
    MicroStateError,
    MicroUnsupportedError,
    capture_fds,
    estimate_arena_size,
    read_model_info,
)

pytestmark = pytest.mark.runtimes

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
HELLO_INT8 = CORPUS / "examples/hello_world/models/hello_world_int8.tflite"
PERSON = CORPUS / "models/person_detect.tflite"
KEYWORD = CORPUS / "models/keyword_scrambled.tflite"
SEANET = CORPUS / "integration_tests/seanet"
HELLO_FLOAT = CORPUS / "examples/hello_world/models/hello_world_float.tflite"
SEANET_CONV0 = SEANET / "conv/conv0.tflite"

# TFLM computes LEAKY_RELU's int16 multipliers in double where LiteRT's reference kernel
# (which made the goldens) uses float: +-1 on some elements (docs: arithmetic.md §8, §10).
SEANET_TFLM_DIVERGES = {"leaky_relu3", "leaky_relu11", "leaky_relu18", "leaky_relu19"}


def corpus_file(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"corpus file {path} not available")
    return path


# ------------------------------------------------------------------------------------
# Models TFLM must refuse, converted on the fly
# ------------------------------------------------------------------------------------
def _build_refused(params, progress) -> dict[str, bytes]:
    import tensorflow as tf

    dense = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(64)])
    models = {}
    conv = tf.lite.TFLiteConverter.from_keras_model(dense)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]  # dynamic range: int8 weights, float I/O
    models["hybrid.tflite"] = conv.convert()
    conv = tf.lite.TFLiteConverter.from_keras_model(dense)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    models["fp16.tflite"] = conv.convert()

    class TopK(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
        def f(self, x):
            return tf.math.top_k(x, 2).values

    m = TopK()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([m.f.get_concrete_function()], m)
    models["topk.tflite"] = conv.convert()
    return models


@pytest.fixture(scope="module")
def refused_models() -> dict[str, bytes]:
    if importlib.util.find_spec("tensorflow") is None:  # find, not import: TF takes seconds
        pytest.skip("tensorflow is needed to convert the models")
    from compare.zoo.cache import get_or_build

    return get_or_build(
        "micro_ref_refused",
        _build_refused,
        {"builder_version": 1},
        ["hybrid.tflite", "fp16.tflite", "topk.tflite"],
        progress=lambda msg: None,
    )


# ------------------------------------------------------------------------------------
# Real models
# ------------------------------------------------------------------------------------
def test_hello_world_int8_approximates_sine():
    it = MicroInterpreter(model_path=corpus_file(HELLO_INT8))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    x = np.linspace(0.0, 2 * np.pi, 100, dtype=np.float32)
    s_in, zp_in = inp["quantization"]
    q = np.clip(np.round(x / s_in) + zp_in, -128, 127).astype(np.int8)[:, None]
    [y] = it.run([q])
    s_out, zp_out = out["quantization"]
    approx = (y[:, 0].astype(np.float32) - zp_out) * s_out
    # A 1-16-16-1 MLP trained on noisy samples of sin: measured max error 0.116 here.
    assert np.max(np.abs(approx - np.sin(x))) < 0.15
    assert y.shape == (100, 1) and y.dtype == np.int8


def test_person_detect_batch_equals_row_by_row_invokes():
    it = MicroInterpreter(model_path=corpus_file(PERSON))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert list(inp["shape"]) == [1, 96, 96, 1] and inp["dtype"] is np.int8
    x = np.random.default_rng(0).integers(-128, 128, (3, 96, 96, 1)).astype(np.int8)
    [y] = it.run([x])
    assert y.shape == (3, 2) and y.dtype == np.int8
    for row in range(3):
        it.set_tensor(inp["index"], x[row : row + 1])
        it.invoke()
        np.testing.assert_array_equal(it.get_tensor(out["index"]), y[row : row + 1])


def test_preserve_all_tensors_makes_every_tensor_readable():
    it = MicroInterpreter(model_path=corpus_file(HELLO_INT8), preserve_all_tensors=True)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], np.array([[17]], np.int8))
    it.invoke()
    details = it.get_tensor_details()
    for d in details:
        value = it.get_tensor(d["index"])
        assert value.shape == tuple(d["shape"]) and value.dtype == d["dtype"], d["name"]
    np.testing.assert_array_equal(it.get_tensor(inp["index"]), [[17]])
    assert it.get_tensor(out["index"]).shape == (1, 1)


def _seanet_params() -> list:
    models = sorted(p.stem for p in SEANET.glob("*/*.tflite"))
    if not models:
        return [pytest.param("", marks=pytest.mark.skip(reason="seanet corpus not available"))]
    diverge = pytest.mark.xfail(
        strict=True, reason="TFLM LEAKY_RELU int16 multipliers in double vs LiteRT float"
    )
    return [pytest.param(m, marks=diverge) if m in SEANET_TFLM_DIVERGES else m for m in models]


@pytest.mark.parametrize("model", _seanet_params())
def test_seanet_model_matches_litert_golden_exactly(model):
    op = model.rstrip("0123456789")
    base = SEANET / op / model
    it = MicroInterpreter(model_path=base.with_suffix(".tflite"))
    it.allocate_tensors()
    inputs = []
    for k, d in enumerate(it.get_input_details()):
        [csv] = SEANET.glob(f"{op}/{model}_input{k}_*.csv")
        inputs.append(np.loadtxt(csv, delimiter=",", dtype=np.int64).astype(d["dtype"]))
        inputs[-1] = inputs[-1].reshape(d["shape"])
    [golden_csv] = SEANET.glob(f"{op}/{model}_golden_*.csv")
    golden = np.loadtxt(golden_csv, delimiter=",", dtype=np.int64).reshape(-1)
    [y] = it.run(inputs)
    np.testing.assert_array_equal(y.reshape(-1).astype(np.int64), golden)


def test_variables_are_reset_before_each_row_of_a_batch():
    # keyword_scrambled has SVDF ops whose state lives in variable tensors.
    it = MicroInterpreter(model_path=corpus_file(KEYWORD), preserve_all_tensors=True)
    it.allocate_tensors()
    state = next(t.index for t in it.info.tensors if t.is_variable)
    inp = it.get_input_details()[0]
    x = np.random.default_rng(1).integers(-10000, 10000, inp["shape"]).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    it.invoke()
    after_one = it.get_tensor(state)
    for _ in range(2):
        it.set_tensor(inp["index"], x)
        it.invoke()
    assert not np.array_equal(it.get_tensor(state), after_one)  # the state does move
    it.run([np.concatenate([x, x, x])])
    np.testing.assert_array_equal(it.get_tensor(state), after_one)


# ------------------------------------------------------------------------------------
# Arena
# ------------------------------------------------------------------------------------
def test_arena_doubles_until_tflm_accepts_it():
    # person_detect needs ~279 KB with kPreserveAllTensors (measured), above the start.
    it = MicroInterpreter(
        model_path=corpus_file(PERSON), arena_size=MIN_ARENA_SIZE, preserve_all_tensors=True
    )
    it.allocate_tensors()
    assert it.arena_attempts == [(MIN_ARENA_SIZE, False), (2 * MIN_ARENA_SIZE, True)]
    assert it.arena_size == 2 * MIN_ARENA_SIZE


def test_arena_cap_reached_is_arena_error_with_tflm_text():
    it = MicroInterpreter(
        model_path=corpus_file(PERSON),
        arena_size=MIN_ARENA_SIZE,
        max_arena_size=MIN_ARENA_SIZE,
        preserve_all_tensors=True,
    )
    with pytest.raises(MicroArenaError, match="Failed to resize buffer"):
        it.allocate_tensors()


def test_estimated_arena_fits_person_detect_first_time():
    info = read_model_info(corpus_file(PERSON).read_bytes())
    it = MicroInterpreter(model_content=corpus_file(PERSON).read_bytes())
    it.allocate_tensors()
    assert it.arena_attempts == [(estimate_arena_size(info), True)]


# ------------------------------------------------------------------------------------
# Models TFLM cannot run
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, reason",
    [
        ("hybrid.tflite", "FLOAT32 with filter type: INT8 not supported"),
        ("fp16.tflite", "Node DEQUANTIZE (number 0) failed to prepare"),
        ("topk.tflite", "Didn't find op for builtin opcode 'TOPK_V2'"),
    ],
    ids=["hybrid", "float16-weights", "unknown-op"],
)
def test_model_tflm_refuses_raises_unsupported_with_its_reason(refused_models, name, reason):
    it = MicroInterpreter(model_content=refused_models[name])
    with pytest.raises(MicroUnsupportedError, match=re.escape(reason)) as info:
        it.allocate_tensors()
    assert not isinstance(info.value, MicroArenaError)
    assert len(it.arena_attempts) == 1  # not mistaken for an arena problem


def test_tflm_chatter_stays_out_of_stdout_and_stderr(refused_models, capfd):
    it = MicroInterpreter(model_content=refused_models["topk.tflite"])
    with pytest.raises(MicroUnsupportedError):
        it.allocate_tensors()
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert "TOPK_V2" in it.log


# ------------------------------------------------------------------------------------
# API misuse is an exception, never a segfault
# ------------------------------------------------------------------------------------
@pytest.fixture
def hello() -> MicroInterpreter:
    it = MicroInterpreter(model_path=corpus_file(HELLO_INT8))
    it.allocate_tensors()
    return it


def test_set_tensor_with_wrong_dtype_is_input_error(hello):
    with pytest.raises(MicroInputError, match="INT8"):
        hello.set_tensor(0, np.zeros((1, 1), np.float32))


def test_set_tensor_with_batch_is_input_error_pointing_to_run(hello):
    with pytest.raises(MicroInputError, match="run"):
        hello.set_tensor(0, np.zeros((4, 1), np.int8))


def test_out_of_range_tensor_index_is_input_error(hello):
    # The wheel's GetTensor segfaults on this; micro_ref checks first.
    with pytest.raises(MicroInputError, match="out of range"):
        hello.get_tensor(10_000)


def test_intermediate_without_preserve_all_tensors_is_state_error(hello):
    hello.set_tensor(0, np.zeros((1, 1), np.int8))
    hello.invoke()
    with pytest.raises(MicroStateError, match="preserve_all_tensors"):
        hello.get_tensor(7)


def test_invoke_before_allocate_tensors_is_state_error():
    it = MicroInterpreter(model_path=corpus_file(HELLO_INT8))
    with pytest.raises(MicroStateError):
        it.invoke()


def test_bytes_that_are_not_a_model_are_model_error():
    with pytest.raises(MicroModelError, match="TFL3"):
        MicroInterpreter(model_content=b"\0" * 64)


# ------------------------------------------------------------------------------------
# Model info: read with tflite_schema, reported as LiteRT reports it
# ------------------------------------------------------------------------------------
def _tflite_builder():
    """tests/schema/_builder.py (hand-written flatbuffers), loaded as test_interpreter does."""
    name = "_tflite_builder"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parent / "schema" / "_builder.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_corrupt_model_is_model_error_chaining_the_schema_error():
    import tflite_schema

    content = corpus_file(HELLO_INT8).read_bytes()
    with pytest.raises(MicroModelError, match="^cannot read model: ") as info:
        read_model_info(content[: len(content) // 2])
    cause = info.value.__cause__
    assert isinstance(cause, tflite_schema.SchemaError)
    assert str(cause) in str(info.value)  # tflite_schema's table path and field kept


@pytest.mark.parametrize(
    "path",
    [HELLO_INT8, HELLO_FLOAT, KEYWORD, SEANET_CONV0],
    ids=["hello-int8", "hello-float", "keyword-int8", "seanet-conv0-int16"],
)
def test_every_tensor_matches_litert_tensor_details(path):
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    content = corpus_file(path).read_bytes()
    info = read_model_info(content)
    details = lite.Interpreter(model_content=content).get_tensor_details()
    assert len(details) == len(info.tensors)
    for d in details:
        t = info.tensors[d["index"]]
        assert (t.name, t.shape, t.shape_signature) == (
            d["name"], tuple(d["shape"]), tuple(d["shape_signature"])
        ), d["index"]
        assert t.dtype.type is d["dtype"], d["index"]
        qp = d["quantization_parameters"]
        for ours, theirs in ((t.scales, qp["scales"]), (t.zero_points, qp["zero_points"])):
            assert ours.dtype == theirs.dtype, d["index"]
            np.testing.assert_array_equal(ours, theirs)
        assert t.quantized_dimension == qp["quantized_dimension"], d["index"]


def test_op_names_spell_custom_and_unknown_builtins():
    b = _tflite_builder()
    content = b.build_model(
        tensors=[b.T("x", [1, 4]), b.T("y", [1, 4]), b.T("z", [1, 4]), b.T("w", [1, 4])],
        ops=[b.Op(0, [0], [1]), b.Op(1, [1], [2]), b.Op(2, [2], [3]), b.Op(3, [0], [1])],
        codes=[
            b.Code(builtin_code=32, custom_code="MyOp"),  # 32 = CUSTOM
            b.Code(deprecated_builtin_code=32),  # CUSTOM without a name
            b.Code(deprecated_builtin_code=127, builtin_code=10_000),  # beyond the enum
            b.Code(deprecated_builtin_code=3),  # CONV_2D, old files' field only
        ],
        inputs=[0],
        outputs=[3],
    )
    info = read_model_info(content)
    assert info.op_names == ("CUSTOM(MyOp)", "CUSTOM(?)", "BUILTIN_10000", "CONV_2D")


def test_resource_variables_are_distinct_var_handle_names_over_all_subgraphs():
    from tflite_schema import OPTIONS_BY_NAME

    b = _tflite_builder()
    var_handle = OPTIONS_BY_NAME["VarHandleOptions"]
    handle = 111  # BuiltinOptions.VarHandleOptions

    def var_op(out, shared_name):
        if shared_name is None:  # no options table: the empty name
            return b.Op(0, [], [out])
        return b.Op(0, [], [out], options_type=handle,
                    options=var_handle(container="", shared_name=shared_name))

    resource = 13  # TensorType.RESOURCE
    main = b.Graph(
        [b.T(f"h{i}", [], type=resource) for i in range(3)],
        ops=[var_op(0, "a"), var_op(1, "b"), var_op(2, None)],
        outputs=[0],
    )
    other = b.Graph([b.T("h", [], type=resource)], ops=[var_op(0, "a")], outputs=[0])
    content = b.build_model(
        graphs=[main, other], codes=[b.Code(deprecated_builtin_code=127, builtin_code=142)]
    )
    info = read_model_info(content)
    # "a" (in both subgraphs), "b" and "" (no options): three variables.
    assert info.num_resource_variables == 3
    assert info.num_subgraphs == 2 and info.op_names == ("VAR_HANDLE",) * 3
    assert all(t.dtype is None and t.type_name == "RESOURCE" for t in info.tensors)


def test_zero_point_without_scale_is_no_quantization_as_litert_reports():
    b = _tflite_builder()
    content = b.build_model(
        tensors=[
            b.T("x", [1, 2], type=b.INT8, scale=[], zero_point=[3], quantized_dimension=1),
            b.T("w", [2, 1], type=b.INT8, buffer=1, scale=[0.5, 0.25], zero_point=[1, -2]),
        ],
        buffers=[b.Buf(), b.Buf(data=bytes(2))],
        inputs=[0],
        outputs=[0],
    )
    x, w = read_model_info(content).tensors
    assert x.scales.size == 0 and x.zero_points.size == 0 and x.quantized_dimension == 0
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    qp = lite.Interpreter(model_content=content).get_tensor_details()[0]["quantization_parameters"]
    assert qp["scales"].size == 0 and qp["zero_points"].size == 0
    assert qp["quantized_dimension"] == 0
    assert not x.is_constant and w.is_constant
    assert w.scales.tolist() == [0.5, 0.25] and w.zero_points.tolist() == [1, -2]
    assert w.zero_points.dtype == np.int32


def test_details_have_litert_keys_and_values():
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    content = corpus_file(HELLO_INT8).read_bytes()
    ours = MicroInterpreter(model_content=content)
    theirs = lite.Interpreter(model_content=content)
    for a, b in zip(
        ours.get_input_details() + ours.get_output_details(),
        theirs.get_input_details() + theirs.get_output_details(),
    ):
        for key in ("name", "index", "dtype", "quantization"):
            assert a[key] == b[key], key
        for key in ("shape", "shape_signature"):
            np.testing.assert_array_equal(a[key], b[key])
        for key in ("scales", "zero_points", "quantized_dimension"):
            np.testing.assert_array_equal(
                a["quantization_parameters"][key], b["quantization_parameters"][key]
            )
        assert a["sparsity_parameters"] == {}


def test_nested_capture_sees_its_own_part_and_outer_sees_all():
    with capture_fds() as outer:
        os.write(1, b"one\n")
        with capture_fds() as inner:
            os.write(2, b"two\n")
        os.write(2, b"three\n")
    assert inner.text == "two\n"
    assert outer.text == "one\ntwo\nthree\n"
