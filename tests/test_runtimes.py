"""compare.runtimes: one interface over LiteRT (3 resolvers), TFLM and refimpl.

The models are converted here with TensorFlow (cached under .cache/models/<tf version>/
by compare.zoo.cache); the tiny-scale softmax is made by editing a converted model's
flatbuffer with TensorFlow's generated schema.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("ai_edge_litert")
pytest.importorskip("tflite_micro")

from compare.runtimes import (  # noqa: E402
    IsolatedRuntime,
    RunResult,
    get_runtime,
    stack_rows,
    tensor_keys,
)
from micro_ref import ModelInfo, TensorMeta  # noqa: E402

pytestmark = pytest.mark.runtimes

REAL_RUNTIMES = ["litert-ref", "litert-builtin", "litert-xnnpack", "tflm"]
# beta * s_in * 2**26 <= 1 makes QuantizeMultiplierGreaterThanOne's TFLITE_CHECK_GT fail
# in the int8 SOFTMAX Prepare of LiteRT's reference kernel and of TFLM: SIGABRT.
TINY_SOFTMAX_SCALE = 1e-9


def _build(params, progress) -> dict[str, bytes]:
    import flatbuffers
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema

    rng = np.random.default_rng(0)

    def int8(model, shape):
        def rep():
            for _ in range(16):
                yield [rng.uniform(-1, 1, (1, *shape)).astype(np.float32)]

        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()

    models = {}
    models["maxpool_int8.tflite"] = int8(
        tf.keras.Sequential([tf.keras.Input((8, 8, 4)), tf.keras.layers.MaxPooling2D(2)]),
        (8, 8, 4),
    )
    models["cnn_int8.tflite"] = int8(
        tf.keras.Sequential(
            [
                tf.keras.Input((8, 8, 3)),
                tf.keras.layers.Conv2D(4, 3, activation="relu"),
                tf.keras.layers.MaxPooling2D(2),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(5),
            ]
        ),
        (8, 8, 3),
    )
    softmax = int8(tf.keras.Sequential([tf.keras.Input((10,)), tf.keras.layers.Softmax()]), (10,))
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAs(softmax, 0))
    sg = m.subgraphs[0]
    sg.tensors[sg.operators[0].inputs[0]].quantization.scale = [TINY_SOFTMAX_SCALE]
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    models["softmax_tiny_scale_int8.tflite"] = bytes(builder.Output())

    dense = tf.keras.Sequential([tf.keras.Input((64,)), tf.keras.layers.Dense(64)])
    conv = tf.lite.TFLiteConverter.from_keras_model(dense)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    models["fp16.tflite"] = conv.convert()

    class FixedBatch(tf.Module):  # RESHAPE to a constant [1, 32]: cannot take batch N
        @tf.function(input_signature=[tf.TensorSpec([1, 4, 8], tf.float32)])
        def f(self, x):
            return tf.reshape(x, [1, 32]) * 2.0

    fixed = FixedBatch()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fixed.f.get_concrete_function()], fixed)
    models["fixed_batch.tflite"] = conv.convert()
    return models


ARTIFACTS = [
    "maxpool_int8.tflite",
    "cnn_int8.tflite",
    "softmax_tiny_scale_int8.tflite",
    "fp16.tflite",
    "fixed_batch.tflite",
]


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    if importlib.util.find_spec("tensorflow") is None:  # find, not import: TF takes seconds
        pytest.skip("tensorflow is needed to convert the models")
    from compare.zoo.cache import get_or_build

    return get_or_build(
        "runtime_tests", _build, {"builder_version": 1}, ARTIFACTS, progress=lambda m: None
    )


def int8_batch(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)


# ------------------------------------------------------------------------------------
# Same integers everywhere, where the runtimes are known to agree
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REAL_RUNTIMES + ["refimpl"])
def test_int8_maxpool_batch_gives_the_exact_maximum_on_every_runtime(models, name):
    if name == "refimpl" and importlib.util.find_spec("refimpl.interpreter") is None:
        pytest.skip("refimpl.Interpreter not available")
    x = int8_batch((64, 8, 8, 4))
    res = get_runtime(name).run(models["maxpool_int8.tflite"], [x])
    if name == "refimpl" and res.status != "ok":
        pytest.skip(f"refimpl cannot run it yet: {res.message[:200]}")
    assert res.status == "ok", res.message
    # MAX_POOL_2D keeps the input's scale and zero point: the output is the plain
    # maximum of each 2x2 window of int8 values.
    expected = x.reshape(64, 4, 2, 4, 2, 4).max(axis=(2, 4))
    [y] = res.outputs
    assert y.dtype == np.int8
    np.testing.assert_array_equal(y, expected)
    assert res.batching == ("per-row" if name == "tflm" else "resized")


def test_litert_ref_and_tflm_agree_on_conv_and_pool_intermediates(models):
    x = int8_batch((16, 8, 8, 3), seed=1)
    ref = get_runtime("litert-ref").run(models["cnn_int8.tflite"], [x], intermediates=True)
    micro = get_runtime("tflm").run(models["cnn_int8.tflite"], [x], intermediates=True)
    assert ref.status == micro.status == "ok", ref.message + micro.message
    assert sorted(ref.tensors) == sorted(micro.tensors)
    # TFLM's int8 CONV_2D and MAX_POOL_2D are LiteRT's reference kernels (arithmetic.md
    # §6); FULLY_CONNECTED is not (float vs fixed-point requantization).
    checked = [k for k in ref.tensors if "Relu" in k or "MaxPool" in k]
    assert len(checked) == 2, sorted(ref.tensors)
    for key in checked:
        np.testing.assert_array_equal(ref.tensors[key], micro.tensors[key], err_msg=key)
        assert ref.tensors[key].shape[0] == 16


def test_isolated_and_in_process_runs_give_identical_results(models):
    x = int8_batch((8, 8, 8, 3), seed=2)
    a = get_runtime("litert-ref", isolate=True).run(models["cnn_int8.tflite"], [x])
    b = get_runtime("litert-ref", isolate=False).run(models["cnn_int8.tflite"], [x])
    assert a.status == b.status == "ok"
    np.testing.assert_array_equal(a.outputs[0], b.outputs[0])
    assert a.wall_seconds >= a.seconds > 0


# ------------------------------------------------------------------------------------
# Outcomes other than ok
# ------------------------------------------------------------------------------------
def test_float16_model_is_unsupported_on_tflm_but_runs_on_litert(models):
    x = np.random.default_rng(3).standard_normal((4, 64)).astype(np.float32)
    micro = get_runtime("tflm").run(models["fp16.tflite"], [x])
    assert micro.status == "unsupported"
    assert "DEQUANTIZE" in micro.message
    assert get_runtime("litert-ref").run(models["fp16.tflite"], [x]).status == "ok"


@pytest.mark.parametrize(
    "name, status",
    [("litert-ref", "crashed"), ("tflm", "crashed"), ("litert-builtin", "ok")],
)
def test_softmax_with_tiny_input_scale_aborts_only_the_reference_kernels(models, name, status):
    x = int8_batch((2, 10), seed=4)
    res = get_runtime(name).run(models["softmax_tiny_scale_int8.tflite"], [x])
    assert res.status == status, res.message
    if status == "crashed":
        assert "SIGABRT" in res.message
        # The next call gets a fresh child and works.
        again = get_runtime(name).run(models["maxpool_int8.tflite"], [int8_batch((1, 8, 8, 4))])
        assert again.status == "ok", again.message


def test_call_over_the_timeout_kills_the_child_and_reports_crashed():
    rt = get_runtime("litert-builtin", isolate=True, timeout=0.5)
    assert isinstance(rt, IsolatedRuntime)
    rt.run(b"", [])  # start the child (an unreadable model: status error, quickly)
    res = rt._call({"op": "sleep", "seconds": 30})
    assert res.status == "crashed" and "timed out" in res.message
    assert res.wall_seconds < 10


def test_crash_message_names_the_signal_and_keeps_what_the_runtime_printed():
    rt = get_runtime("litert-builtin", isolate=True)
    assert isinstance(rt, IsolatedRuntime)
    res = rt._call({"op": "abort", "message": "last words before abort()"})
    assert res.status == "crashed"
    assert "SIGABRT" in res.message and "last words before abort()" in res.message
    assert rt.run(b"", []).status == "error"  # a new child answers


def test_inputs_of_the_wrong_shape_give_error_status(models):
    res = get_runtime("litert-builtin").run(models["cnn_int8.tflite"], [int8_batch((2, 9, 9, 3))])
    assert res.status == "error"
    assert "do not fit" in res.message


def test_unreadable_model_is_error_not_exception():
    res = get_runtime("tflm", isolate=False).run(b"not a model", [np.zeros(1)])
    assert res.status == "error" and "TFL3" in res.message


# ------------------------------------------------------------------------------------
# Batching
# ------------------------------------------------------------------------------------
def test_graph_with_fixed_batch_falls_back_to_one_invoke_per_row(models):
    x = np.random.default_rng(5).standard_normal((3, 4, 8)).astype(np.float32)
    res = get_runtime("litert-builtin").run(models["fixed_batch.tflite"], [x])
    assert res.status == "ok", res.message
    assert res.batching == "per-row"
    np.testing.assert_array_equal(res.outputs[0], x.reshape(3, 32) * 2.0)


def test_stack_rows_concatenates_batch_one_rows_and_stacks_others():
    assert stack_rows([np.zeros((1, 2)), np.ones((1, 2))]).shape == (2, 2)
    assert stack_rows([np.zeros(4), np.ones(4)]).shape == (2, 4)
    assert stack_rows([np.array(1), np.array(2)]).shape == (2,)


def _meta(index: int, name: str) -> TensorMeta:
    return TensorMeta(
        index, name, (1,), (1,), "INT8", np.dtype(np.int8),
        np.zeros(0, np.float32), np.zeros(0, np.int32), 0, False, False,
    )  # fmt: skip


def test_tensor_keys_are_names_made_unique():
    info = ModelInfo(
        tensors=(_meta(0, "x"), _meta(1, ""), _meta(2, "dup"), _meta(3, "dup")),
        inputs=(0,), outputs=(3,), op_names=(), num_subgraphs=1,
        num_resource_variables=0, model_bytes=0,
    )  # fmt: skip
    assert tensor_keys(info) == {0: "x", 1: "tensor#1", 2: "dup#2", 3: "dup#3"}


def test_unknown_runtime_name_lists_the_known_ones():
    with pytest.raises(KeyError, match="litert-xnnpack"):
        get_runtime("litert-gpu")


def test_run_result_ok_property():
    assert RunResult("x", "ok").ok and not RunResult("x", "crashed").ok
