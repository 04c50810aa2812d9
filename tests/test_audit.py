"""refimpl audit: each rule fires on a hand-made model that breaks it, stays silent on
the seed CNN's own int8 model, and its predictions are confirmed by the real runtimes
where they are installed."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from compare.cases._common import TensorArg, one_op_model
from refimpl.audit import ERROR, INFO, WARNING, audit
from refimpl.audit.compat import TFLM_OPS

HAVE_RUNTIMES = (importlib.util.find_spec("ai_edge_litert") is not None
                 and importlib.util.find_spec("tflite_micro") is not None)


def softmax_model(scale: float, beta: float = 1.0) -> bytes:
    return one_op_model("SOFTMAX", [TensorArg((1, 8), "int8", scale=scale, zero_point=0)],
                        [TensorArg((1, 8), "int8", scale=1 / 256, zero_point=-128)],
                        {"beta": beta})


def conv_model(*, w_axis: int = 0, bias_scale_factor: float = 1.0, w_zp: int = 0,
               out_scale: float = 0.05) -> bytes:
    rng = np.random.default_rng(0)
    s_in, s_w = 0.02, np.array([0.01, 0.02, 0.03], np.float32)
    w = rng.integers(-127, 128, (3, 3, 3, 2)).astype(np.int8)
    # per-channel scales along w_axis: axis 0 has 3 channels; to test a wrong axis we
    # keep 3 scales and point them at axis 1 (also size 3)
    wq = TensorArg(w.shape, "int8", data=w, scale=s_w.tolist(), zero_point=[w_zp] * 3,
                   quantized_dimension=w_axis)
    bias = np.array([10, -20, 30], np.int32)
    bq = TensorArg((3,), "int32", data=bias,
                   scale=(np.float32(s_in) * s_w * np.float32(bias_scale_factor)).tolist(),
                   zero_point=[0, 0, 0])
    return one_op_model("CONV_2D", [TensorArg((1, 5, 5, 2), "int8", scale=s_in, zero_point=3),
                                    wq, bq],
                        [TensorArg((1, 5, 5, 3), "int8", scale=out_scale, zero_point=-1)],
                        {"padding": 0, "stride_w": 1, "stride_h": 1})


# ------------------------------------------------------------------------------------
# lint rules
# ------------------------------------------------------------------------------------
def test_softmax_prepare_abort_is_predicted_below_the_threshold_only():
    # beta * s * 2^26 <= 1 aborts: s = 2^-26 is exactly 1 (aborts), 1.5 * 2^-26 does not
    assert "softmax-prepare-abort" in audit(softmax_model(2.0**-26), memory=False).rules(ERROR)
    assert "softmax-prepare-abort" not in audit(softmax_model(1.5 * 2.0**-26), memory=False).rules()
    # beta scales the condition: 2^-20 with beta 2^-7 -> 2^-1 <= 1
    assert "softmax-prepare-abort" in audit(softmax_model(2.0**-20, 2.0**-7), memory=False).rules()


@pytest.mark.skipif(not HAVE_RUNTIMES, reason="needs ai-edge-litert and tflite-micro")
@pytest.mark.parametrize("runtime", ["litert-ref", "tflm"])
def test_softmax_prediction_matches_the_runtimes(runtime):
    from compare.runtimes import get_runtime

    x = np.arange(-4, 4, dtype=np.int8).reshape(1, 8)
    rt = get_runtime(runtime)  # isolated: the abort kills a child process, not pytest
    assert rt.run(softmax_model(2.0**-26), [x]).status == "crashed"
    assert rt.run(softmax_model(1.5 * 2.0**-26), [x]).status == "ok"


def test_per_channel_dense_is_flagged():
    w = np.ones((4, 6), np.int8)
    m = one_op_model("FULLY_CONNECTED", [
        TensorArg((2, 6), "int8", scale=0.1, zero_point=0),
        TensorArg(w.shape, "int8", data=w, scale=[0.01, 0.02, 0.03, 0.04], zero_point=[0] * 4),
        None], [TensorArg((2, 4), "int8", scale=0.2, zero_point=0)])
    rep = audit(m, memory=False)
    assert "per-channel-fully-connected" in rep.rules(INFO)
    assert rep.clean  # legal on the installed runtimes: an info, not a warning


def test_wrong_quantized_dimension_is_an_error():
    rep = audit(conv_model(w_axis=1), memory=False)
    f = [f for f in rep.findings if f.rule == "quantized-dimension"]
    assert f and f[0].severity == ERROR and f[0].node == 0 and f[0].op == "CONV_2D"


def test_bias_scale_mismatch_is_an_error_and_float32_rounding_is_not():
    assert "bias-scale" in audit(conv_model(bias_scale_factor=1.001), memory=False).rules(ERROR)
    # one float32 ulp of difference (~1.2e-7 relative) is the converter's own rounding
    assert "bias-scale" not in audit(conv_model(bias_scale_factor=1 + 2**-23),
                                     memory=False).rules()


def test_asymmetric_weights_are_an_error():
    assert "weights-symmetric" in audit(conv_model(w_zp=2), memory=False).rules(ERROR)


def test_tiny_effective_multiplier_is_a_warning():
    # s_in * s_w / s_out = 0.02 * 0.01 / 1e8 = 2e-12 < 2^-31
    assert "multiplier-underflow" in audit(conv_model(out_scale=1e8), memory=False).rules(WARNING)


def test_max_pool_must_keep_its_input_parameters():
    m = one_op_model("MAX_POOL_2D", [TensorArg((1, 4, 4, 1), "int8", scale=0.1, zero_point=0)],
                     [TensorArg((1, 2, 2, 1), "int8", scale=0.2, zero_point=0)],
                     {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2,
                      "filter_height": 2})
    assert "same-params" in audit(m, memory=False).rules(ERROR)


def test_softmax_output_parameters_are_fixed():
    m = one_op_model("SOFTMAX", [TensorArg((1, 8), "int8", scale=0.1, zero_point=0)],
                     [TensorArg((1, 8), "int8", scale=1 / 255, zero_point=-128)], {"beta": 1.0})
    assert "fixed-output-params" in audit(m, memory=False).rules(ERROR)


# ------------------------------------------------------------------------------------
# the seed CNN: clean, error split, memory
# ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_models():
    pytest.importorskip("tensorflow", reason="the seed CNN is built with TensorFlow")
    from compare.zoo.seed_cnn import seed_cnn_models

    return seed_cnn_models()


def test_seed_cnn_int8_is_clean(seed_models):
    rep = audit(seed_models["int8"], with_tflm=False)
    assert rep.clean, rep.to_markdown()


def test_float_twin_error_report(seed_models, tmp_path):
    rep = audit(seed_models["int8"], float_model=seed_models["float32"], with_tflm=False,
                runtime="litert-ref", plot_dir=tmp_path)
    ops = [r.op for r in rep.layers]
    assert ops.count("CONV_2D") == 2 and ops.count("FULLY_CONNECTED") == 2, ops
    for r in rep.layers:
        # int8 activations: the error of a well-calibrated layer is a fraction of a step
        assert 0 < r.rmse_over_scale < 2, r
        assert r.cosine > 0.99, r
        # LiteRT's reference kernels are refimpl's tflite-ref flavour: no implementation error
        assert r.impl_differing == 0, r
        assert Path(r.plot).is_file()


@pytest.mark.skipif(not HAVE_RUNTIMES, reason="needs tflite-micro")
def test_arena_plan_matches_tflm(seed_models):
    mem = audit(seed_models["int8"]).memory
    # TFLM's greedy planner places the same tensors the same way: measured ratio 1.000
    assert mem.tflm_head_bytes and 0.9 <= mem.ratio_to_tflm <= 1.1, mem


def test_arena_plan_by_hand():
    # input 1x4x4x1 int8 (16 B), pool -> 1x2x2x1 (4 B -> aligned 16); both alive at node 0
    m = one_op_model("MAX_POOL_2D", [TensorArg((1, 4, 4, 1), "int8", scale=0.1, zero_point=0)],
                     [TensorArg((1, 2, 2, 1), "int8", scale=0.1, zero_point=0)],
                     {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2,
                      "filter_height": 2})
    mem = audit(m, with_tflm=False).memory
    assert mem.arena_bytes == 32 and mem.flash_weight_bytes == 0


@pytest.mark.skipif(importlib.util.find_spec("tflite_micro") is None, reason="needs tflite-micro")
def test_tflm_op_table_matches_the_installed_wheel():
    spec = importlib.util.find_spec("tflite_micro")
    so = next(Path(spec.submodule_search_locations[0]).rglob("_runtime*.so"))
    names = set(re.findall(rb"Register_([A-Z][A-Z0-9_]+?)E?v", so.read_bytes()))
    registered = {n.decode() for n in names}
    missing = TFLM_OPS - registered
    assert not missing, f"table lists ops the wheel does not register: {sorted(missing)}"


def test_cli_writes_report_and_refuses_to_overwrite(tmp_path):
    from refimpl.cli import main

    path = tmp_path / "m.tflite"
    path.write_bytes(softmax_model(2.0**-26))
    out = tmp_path / "rep"
    assert main(["audit", str(path), "--out", str(out), "--no-tflm"]) == 1  # an error found
    text = (out / "audit.md").read_text()
    assert "softmax-prepare-abort" in text
    assert main(["audit", str(path), "--out", str(out), "--no-tflm"]) == 2  # exists
    assert main(["audit", str(path), "--out", str(out), "--no-tflm", "--force",
                 "--format", "json"]) == 1
