"""refimpl explain: the steps reproduce the element's value for every node kind of the
seed CNN (int8 and float32) and of person_detect, under every flavour; the values agree
with the real runtimes' intermediate tensors; and a tiny convolution is checked step by
step against arithmetic written out here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from compare.cases._common import TensorArg, one_op_model
from refimpl.explain import default_inputs, explain

FLAVOURS = ("tflite-ref", "tflite-builtin", "xnnpack", "tflm")
HAVE_RUNTIMES = (importlib.util.find_spec("ai_edge_litert") is not None
                 and importlib.util.find_spec("tflite_micro") is not None)
PERSON = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "tflm" / "models" / \
    "person_detect.tflite"


def test_tiny_convolution_step_by_step():
    # input 1x1x2x1 int8 (scale 0.5, zp 3) = [7, -1]; filter 1x1x2x1 = [10, -20] (scale
    # 0.125); bias 100 (scale 0.0625); output scale 1, zp -2; VALID -> one output.
    # acc = (7-3)*10 + (-1-3)*(-20) = 40 + 80 = 120; + bias = 220
    # real = 0.5*0.125/1 = 1/16 = 2^30 * 2^(-4-31)... multiplier 2^30, shift -3
    # SRDHM(220, 2^30) = 110 ; RDBPOT(110, 3) = 13.75 -> 14 ; + (-2) = 12
    m = one_op_model("CONV_2D", [
        TensorArg((1, 1, 2, 1), "int8", scale=0.5, zero_point=3),
        TensorArg((1, 1, 2, 1), "int8", data=np.array([10, -20], np.int8).reshape(1, 1, 2, 1),
                  scale=0.125, zero_point=0),
        TensorArg((1,), "int32", data=np.array([100], np.int32), scale=0.0625, zero_point=0)],
        [TensorArg((1, 1, 1, 1), "int8", scale=1.0, zero_point=-2)],
        {"padding": 1, "stride_w": 1, "stride_h": 1})
    x = np.array([7, -1], np.int8).reshape(1, 1, 2, 1)
    e = explain(m, 0, (0, 0, 0, 0), [x])
    steps = {s.name: s.value for s in e.steps}
    assert steps["acc = sum (q_x - zp_x) * q_w"] == 120
    assert steps["acc + bias"] == 220
    assert tuple(steps["(multiplier, shift)"]) == (2**30, -3)
    assert steps["SRDHM"] == 110
    assert steps["RDBPOT (half away from zero)"] == 14
    assert e.value == 12
    assert set(e.per_flavor.values()) == {12}


@pytest.fixture(scope="module")
def seed_models():
    pytest.importorskip("tensorflow")
    from compare.zoo.seed_cnn import seed_cnn_models

    return seed_cnn_models()


def _indices(shape, k=3):
    rng = np.random.default_rng(sum(shape))
    return [tuple(int(rng.integers(0, d)) for d in shape) for _ in range(k)]


@pytest.mark.parametrize("variant", ["int8", "float32"])
@pytest.mark.parametrize("flavor", FLAVOURS)
def test_every_seed_cnn_node_kind_is_explained(seed_models, variant, flavor):
    import refimpl

    model = seed_models[variant]
    ins = default_inputs(model)
    it = refimpl.Interpreter(model_content=model, flavor=flavor)
    it.run(*ins)
    tensors = it.intermediates()
    for n, node in enumerate(it.nodes):
        y = np.asarray(tensors[node.ctx.outputs[0].name])
        for idx in _indices(y.shape):
            e = explain(model, n, idx, ins, flavor, compare_flavors=False)
            assert e.value == y[idx].item() or (np.isnan(y[idx]) and np.isnan(e.value)), (n, idx)


@pytest.mark.skipif(not HAVE_RUNTIMES, reason="needs ai-edge-litert and tflite-micro")
def test_explained_values_equal_the_real_runtimes(seed_models):
    from compare.runtimes import get_runtime

    model = seed_models["int8"]
    ins = default_inputs(model)
    for flavor, rt in (("tflite-ref", "litert-ref"), ("tflm", "tflm")):
        res = get_runtime(rt).run(model, ins, intermediates=True)
        assert res.ok, res.message
        for node in (0, 1, 2, 8, 9, 10):
            e = explain(model, node, (0,) * 2 if node >= 8 else (0, 3, 4, 5), ins, flavor,
                        compare_flavors=False)
            name = [k for k in res.tensors if k == _output_name(model, node)][0]
            assert e.value == np.asarray(res.tensors[name])[e.index].item()


def _output_name(model, node):
    import refimpl

    it = refimpl.Interpreter(model_content=model)
    it.allocate_tensors()
    return it.nodes[node].ctx.outputs[0].name


@pytest.mark.skipif(not PERSON.is_file(), reason="../shared/corpus absent")
@pytest.mark.parametrize("flavor", FLAVOURS)
def test_every_person_detect_node_kind_is_explained(flavor):
    import refimpl

    model = PERSON.read_bytes()
    ins = default_inputs(model)
    it = refimpl.Interpreter(model_content=model, flavor=flavor)
    it.run(*ins)
    tensors = it.intermediates()
    seen = set()
    for n, node in enumerate(it.nodes):
        if node.op_name in seen:
            continue
        seen.add(node.op_name)
        y = np.asarray(tensors[node.ctx.outputs[0].name])
        for idx in _indices(y.shape, 2):
            assert explain(model, n, idx, ins, flavor, compare_flavors=False).value == y[idx]
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX"} <= seen


def test_cli_prints_the_steps(tmp_path, capsys):
    from refimpl.cli import main

    m = one_op_model("MAX_POOL_2D", [TensorArg((1, 2, 2, 1), "int8", scale=0.1)],
                     [TensorArg((1, 1, 1, 1), "int8", scale=0.1)],
                     {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2,
                      "filter_height": 2})
    p = tmp_path / "pool.tflite"
    p.write_bytes(m)
    x = tmp_path / "x.npy"
    np.save(x, np.array([3, -9, 8, 1], np.int8).reshape(1, 2, 2, 1))
    assert main(["explain", str(p), "--node", "0", "--index", "0,0,0,0", "--input", str(x)]) == 0
    out = capsys.readouterr().out
    assert "max" in out and "=> 8" in out and "tflm: 8" in out
