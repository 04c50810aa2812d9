"""refimpl.Interpreter: the LiteRT API, batching, intermediates, and typed errors."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import refimpl
from refimpl.errors import InputError, ModelError, StateError, UnsupportedOpError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
HELLO_INT8 = CORPUS / "examples" / "hello_world" / "models" / "hello_world_int8.tflite"
HELLO_FLOAT = CORPUS / "examples" / "hello_world" / "models" / "hello_world_float.tflite"

_spec = importlib.util.spec_from_file_location(
    "_tflite_builder", Path(__file__).parent / "schema" / "_builder.py")
builder = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = builder  # dataclasses look their module up
_spec.loader.exec_module(builder)


def needs_corpus(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not available (../shared/corpus absent)")


def add_model(op_code: int = 0, dtype: int = builder.FLOAT32) -> bytes:
    """x + y -> z on [1, 4] tensors (op_code 0 = ADD; anything else to test errors)."""
    return builder.build_model(
        tensors=[builder.T("x", [1, 4], dtype, shape_signature=[-1, 4]),
                 builder.T("y", [1, 4], dtype, shape_signature=[-1, 4]),
                 builder.T("z", [1, 4], dtype, shape_signature=[-1, 4])],
        ops=[builder.Op(0, [0, 1], [2])],
        codes=[builder.Code(builtin_code=op_code, version=1)],
        inputs=[0, 1], outputs=[2],
    )


# ---------------------------------------------------------------------------------------
# API shape
# ---------------------------------------------------------------------------------------
def test_hand_built_add_runs_and_batches():
    it = refimpl.Interpreter(model_content=add_model())
    it.allocate_tensors()
    x = np.array([[1, 2, 3, 4]], np.float32)
    y = np.array([[10, 20, 30, 40]], np.float32)
    it.set_tensor(0, x)
    it.set_tensor(1, y)
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(2), [[11, 22, 33, 44]])
    # batch 3 after resize
    it.resize_tensor_input(0, [3, 4])
    it.resize_tensor_input(1, [3, 4])
    it.allocate_tensors()
    assert it.get_output_details()[0]["shape"].tolist() == [3, 4]
    xs = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = it.run(xs, xs)
    np.testing.assert_array_equal(out[0], 2 * xs)


def test_details_have_litert_keys_and_types():
    it = refimpl.Interpreter(model_content=add_model())
    it.allocate_tensors()
    d = it.get_input_details()[0]
    assert set(d) == {"name", "index", "shape", "shape_signature", "dtype", "quantization",
                      "quantization_parameters", "sparsity_parameters"}
    assert d["dtype"] is np.float32
    assert d["shape"].dtype == np.int32 and d["shape_signature"].tolist() == [-1, 4]
    assert set(d["quantization_parameters"]) == {"scales", "zero_points", "quantized_dimension"}


def test_details_match_litert_on_a_real_int8_model():
    needs_corpus(HELLO_INT8)
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    content = HELLO_INT8.read_bytes()
    ours = refimpl.Interpreter(model_content=content)
    ours.allocate_tensors()
    theirs = lite.Interpreter(model_content=content)
    theirs.allocate_tensors()
    for a, b in zip(ours.get_input_details() + ours.get_output_details(),
                    theirs.get_input_details() + theirs.get_output_details()):
        assert a["name"] == b["name"] and a["index"] == b["index"]
        assert a["dtype"] is b["dtype"]
        assert a["shape"].tolist() == b["shape"].tolist()
        assert a["quantization"] == pytest.approx(b["quantization"])


def test_hello_world_int8_equals_litert_reference_over_a_period():
    needs_corpus(HELLO_INT8)
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    content = HELLO_INT8.read_bytes()
    ours = refimpl.Interpreter(model_content=content)
    d = ours.get_input_details()[0]
    s, zp = d["quantization"]
    x = np.linspace(0, 2 * np.pi, 200, dtype=np.float32).reshape(200, 1)
    xq = refimpl.arithmetic.quantize(x, s, zp, np.int8)
    y = ours.run(xq)[0]
    ref = lite.Interpreter(model_content=content,
                           experimental_op_resolver_type=lite.OpResolverType.BUILTIN_REF)
    ref.resize_tensor_input(d["index"], [200, 1])
    ref.allocate_tensors()
    ref.set_tensor(d["index"], xq)
    ref.invoke()
    np.testing.assert_array_equal(y, ref.get_tensor(ref.get_output_details()[0]["index"]))
    # and the model does what it is for: y ~ sin(x) (trained regressor, int8)
    od = ours.get_output_details()[0]
    ys = od["quantization"][0] * (y.astype(np.float32) - od["quantization"][1])
    assert np.abs(ys[:, 0] - np.sin(x[:, 0])).max() < 0.2


def test_every_intermediate_is_readable_after_invoke():
    needs_corpus(HELLO_FLOAT)
    it = refimpl.Interpreter(model_path=HELLO_FLOAT)
    it.run(np.array([[0.5]], np.float32))
    values = it.intermediates()
    for op in it.subgraph.operators:
        for i in op.outputs:
            assert it.subgraph.tensors[i].name in values
            it.get_tensor(i)  # no error


def test_stop_after_runs_a_prefix():
    needs_corpus(HELLO_FLOAT)
    it = refimpl.Interpreter(model_path=HELLO_FLOAT)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.array([[0.5]], np.float32))
    it.invoke(stop_after=0)
    first_out = it.subgraph.operators[0].outputs[0]
    it.get_tensor(first_out)
    with pytest.raises(StateError, match="no value yet"):
        it.get_tensor(it.get_output_details()[0]["index"])


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------
def test_unsupported_op_names_node_op_and_dtypes():
    with pytest.raises(UnsupportedOpError, match=r"node 0 \(LSH_PROJECTION\).*FLOAT32") as e:
        refimpl.Interpreter(model_content=add_model(op_code=15))  # LSH_PROJECTION
    assert e.value.node_index == 0 and e.value.op_name == "LSH_PROJECTION"


def test_wrong_input_dtype_is_a_clear_error():
    it = refimpl.Interpreter(model_content=add_model())
    it.allocate_tensors()
    with pytest.raises(InputError, match="tensor 0 'x': got float64, expected float32"):
        it.set_tensor(0, np.zeros((1, 4)))


def test_wrong_input_shape_is_a_clear_error():
    it = refimpl.Interpreter(model_content=add_model())
    it.allocate_tensors()
    with pytest.raises(InputError, match=r"got shape \[2, 4\], expected \[1, 4\]"):
        it.set_tensor(0, np.zeros((2, 4), np.float32))


def test_using_the_interpreter_out_of_order_is_a_state_error():
    it = refimpl.Interpreter(model_content=add_model())
    with pytest.raises(StateError, match="allocate_tensors"):
        it.invoke()
    it.allocate_tensors()
    with pytest.raises(StateError, match="input 0 'x' was not set"):
        it.invoke()
    it.resize_tensor_input(0, [2, 4])
    with pytest.raises(StateError, match="allocate_tensors"):
        it.set_tensor(0, np.zeros((2, 4), np.float32))


def test_incompatible_resize_is_reported_at_the_failing_node():
    it = refimpl.Interpreter(model_content=add_model())
    it.resize_tensor_input(0, [2, 4])
    it.resize_tensor_input(1, [3, 4])  # [2,4] + [3,4] does not broadcast
    with pytest.raises(ModelError, match=r"node 0 \(ADD\)"):
        it.allocate_tensors()


@pytest.mark.parametrize("cut", [0, 7, 40, 200])
def test_truncated_model_is_a_model_error(cut):
    data = add_model()
    with pytest.raises(ModelError, match="cannot read model"):
        refimpl.Interpreter(model_content=data[:cut])


def test_unknown_flavor_lists_the_known_ones():
    with pytest.raises(InputError, match="tflite-ref"):
        refimpl.Interpreter(model_content=add_model(), flavor="nope")


def test_model_path_and_content_are_exclusive():
    with pytest.raises(InputError, match="exactly one"):
        refimpl.Interpreter()


def signature_model() -> bytes:
    return builder.build_model(
        tensors=[builder.T("serving_x:0", [1, 4], shape_signature=[-1, 4]),
                 builder.T("serving_y:0", [1, 4], shape_signature=[-1, 4]),
                 builder.T("Identity:0", [1, 4], shape_signature=[-1, 4])],
        ops=[builder.Op(0, [0, 1], [2])],
        codes=[builder.Code(builtin_code=0, version=1)],
        inputs=[0, 1], outputs=[2],
        signatures=[builder.Sig("add_two", [("x", 0), ("y", 1)], [("sum", 2)])],
    )


def test_signature_runner_runs_by_names_and_resizes():
    it = refimpl.Interpreter(model_content=signature_model())
    assert it.get_signature_list() == {"add_two": {"inputs": ["x", "y"], "outputs": ["sum"]}}
    run = it.get_signature_runner("add_two")
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = run(x=x, y=np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(out["sum"], x + 1)
    assert set(run.get_input_details()) == {"x", "y"}
    with pytest.raises(InputError, match="missing \\['y'\\]"):
        run(x=x)
    with pytest.raises(InputError, match="no signature 'nope'"):
        it.get_signature_runner("nope")


def test_signature_runner_matches_litert():
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    content = signature_model()
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    theirs = lite.Interpreter(model_content=content).get_signature_runner("add_two")(x=x, y=x)
    ours = refimpl.Interpreter(model_content=content).get_signature_runner("add_two")(x=x, y=x)
    assert set(theirs) == set(ours)
    np.testing.assert_array_equal(ours["sum"], theirs["sum"])
