"""Zoo registry: structure, held-out input quantization, cache keys, build report.

No TensorFlow and no training: families are replaced by fakes where something must
be "built", and tiny .tflite files are written with the schema tests' builder.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from compare.zoo import build, cache, converters, families, registry, seed_cnn, tfmot_variants
from tflite_schema import QuantizationParameters, Tensor, TensorType


def _load_schema_builder():
    path = Path(__file__).parent / "schema" / "_builder.py"
    spec = importlib.util.spec_from_file_location("zoo_schema_builder", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


B = _load_schema_builder()


# --------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------
ALL_VARIANT_NAMES = set(converters.ALL_MODES) | set(tfmot_variants.TFMOT_VARIANTS)


def test_every_variant_names_a_family_that_makes_its_artifact():
    for model in registry.ZOO.values():
        assert model.heldout_family in registry.FAMILIES
        for name, entry in model.variants.items():
            assert (entry.model, entry.name) == (model.name, name)
            family = registry.FAMILIES[entry.family]
            assert entry.stem in family.variants, (model.name, name)
            assert entry.artifact == f"{entry.stem}.tflite"


def test_variant_names_are_converter_modes_or_tfmot_variants():
    for model in registry.ZOO.values():
        assert set(model.variants) <= ALL_VARIANT_NAMES, model.name
        for entry in model.variants.values():
            assert entry.mode in converters.CONVERTER_MODES
            assert entry.origin in ("keras", "saved_model", "concrete_functions",
                                    "tf_keras+tfmot")
            assert model.task in ("classification", "regression")


@pytest.mark.parametrize("model", ["seed_cnn", "mnist_dense"])
def test_seed_cnn_and_mnist_dense_have_every_mode_and_every_tfmot_variant(model):
    assert set(registry.ZOO[model].variants) == ALL_VARIANT_NAMES


@pytest.mark.parametrize("model", ["mnist_signatures", "sine", "dense_1_16_1", "cifar_cnn",
                                   "same_conv_saved_model", "same_conv_concrete"])
def test_other_models_have_every_converter_mode(model):
    assert tuple(registry.ZOO[model].variants) == converters.ALL_MODES


def test_required_converter_paths_are_all_present():
    origins = {m: {v.origin for v in registry.ZOO[m].variants.values()} for m in registry.ZOO}
    assert origins["same_conv_saved_model"] == {"saved_model"}
    assert origins["same_conv_concrete"] == {"concrete_functions"}
    assert origins["dense_1_16_1"] == {"saved_model"}
    assert registry.ZOO["same_conv_concrete"].variants["int8_uint8_io"].mode == "int8_uint8_io"


def test_signature_model_records_its_signature_keys():
    model = registry.ZOO["mnist_signatures"]
    assert model.default_signature == "serving_default"
    assert set(model.signature_keys) == {"serving_default", "classify"}
    assert list(model.signature_keys) == sorted(model.signature_keys)  # subgraph order


def test_seed_cnn_mode_variants_reuse_the_seed_cnn_build():
    variants = registry.ZOO["seed_cnn"].variants
    for name in seed_cnn.SEED_CNN_VARIANTS:
        assert variants[name].family == "seed_cnn"
    assert variants["int16x8"].family == "zoo_seed_cnn"
    assert variants["qat"].family == "zoo_seed_cnn_tfmot"


def test_list_zoo_is_every_model_variant_pair_in_order():
    pairs = registry.list_zoo()
    assert len(pairs) == len(set(pairs)) == sum(len(m.variants) for m in registry.ZOO.values())
    assert pairs[0] == ("seed_cnn", "float32")


@pytest.mark.parametrize(("model", "variant", "message"),
                         [("nope", "int8", "no zoo model 'nope'"),
                          ("sine", "qat", "has no variant 'qat'")],
                         ids=["model", "variant"])
def test_unknown_names_are_errors_that_list_what_exists(model, variant, message):
    with pytest.raises(KeyError, match=message):
        registry.zoo_variant(model, variant)


def test_importing_the_registry_does_not_import_tensorflow():
    code = ("import sys, compare.zoo.registry, compare.zoo.build; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cli_list_prints_every_model(capsys):
    assert build.main(["list"]) == 0
    out = capsys.readouterr().out
    for name in registry.ZOO:
        assert f"{name}:" in out


# --------------------------------------------------------------------------------------
# Cache keys
# --------------------------------------------------------------------------------------
# Pinned: a change here rebuilds every model of that family. Change deliberately (bump
# family_version) and update the value; seed_cnn's key predates the zoo and must stay.
PINNED_KEYS = {
    "seed_cnn": "b3f19e9ccf582a97",
    "zoo_seed_cnn": "6011aa2a2b2b90ea",
    "zoo_mnist_dense": "a078761651c92c8c",
    "zoo_sine": "b21349bded7cc410",
    "zoo_dense_1_16_1": "192691d4b418f5a4",
    "zoo_cifar_cnn": "8163496677984734",
    "zoo_same_conv": "22f652e41e06f451",
    "zoo_seed_cnn_tfmot": "b3acd1a8114e1d3d",
    "zoo_mnist_dense_tfmot": "cd2bd3f97c50e9ed",
}


@pytest.fixture
def no_real_data(monkeypatch, tmp_path):
    """A Keras home with no data sets: every family falls back to embedded data."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "keras").mkdir()


def test_family_cache_keys_are_pinned(no_real_data):
    keys = {name: family.key for name, family in registry._families().items()}
    assert keys == PINNED_KEYS


def test_params_are_json_and_keys_are_their_hash(no_real_data):
    for family in registry._families().values():
        text = json.dumps(dict(family.params), sort_keys=True)
        assert cache.params_key(json.loads(text)) == family.key


def test_real_mnist_on_disk_changes_the_mnist_families_keys(no_real_data, tmp_path):
    before = {name: f.key for name, f in registry._families().items()}
    (tmp_path / "keras" / "datasets").mkdir()
    np.savez(tmp_path / "keras" / "datasets" / "mnist.npz",
             x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.zeros(1, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    after = {name: f.key for name, f in registry._families().items()}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"zoo_mnist_dense", "zoo_mnist_dense_tfmot", "zoo_same_conv"}


def test_tfmot_key_follows_its_base_family():
    base = registry.FAMILIES["zoo_mnist_dense"]
    other = families.Family(base.name, base.builder,
                            MappingProxyType({**base.params, "epochs": 6}), base.variants)
    assert tfmot_variants.tfmot_params(other)["base_key"] == other.key != base.key
    assert cache.params_key(tfmot_variants.tfmot_params(other)) != \
        registry.FAMILIES["zoo_mnist_dense_tfmot"].key


# --------------------------------------------------------------------------------------
# Input quantization
# --------------------------------------------------------------------------------------
def _tensor(ttype, scale=None, zero_point=0, shape=(-1, 2)):
    q = None if scale is None else QuantizationParameters(
        np.atleast_1d(np.asarray(scale, np.float32)),
        np.atleast_1d(np.asarray(zero_point, np.int64)))
    return Tensor(0, "x", tuple(max(d, 1) for d in shape), tuple(shape), ttype, 0, q)


@pytest.mark.parametrize(
    ("ttype", "scale", "zero_point", "x", "expected"),
    [
        # 0.25 / 0.5 = 0.5 exactly: ties go away from zero (np.round would give 0, -0)
        (TensorType.INT8, 0.5, 0, [0.25, -0.25, 0.75, -0.75], [1, -1, 2, -2]),
        # MNIST-like input scale 1/255, zero point -128: 0 -> -128, 1 -> 127, clamp
        (TensorType.INT8, 1 / 255, -128, [0.0, 1.0, 1.5], [-128, 127, 127]),
        (TensorType.UINT8, 1 / 255, 0, [0.0, 1.0, -0.5], [0, 255, 0]),
        # 16x8: symmetric int16, 1/32767 scale: 1.0 -> 32767, -2.0 clamps to -32768
        (TensorType.INT16, 1 / 32767, 0, [1.0, -1.0, -2.0], [32767, -32767, -32768]),
    ],
    ids=["int8-ties-away", "int8-edges", "uint8-clamp", "int16-symmetric"],
)
def test_quantize_for_tensor_rounds_half_away_and_clamps(ttype, scale, zero_point, x,
                                                         expected):
    tensor = _tensor(ttype, scale, zero_point)
    got = registry.quantize_for_tensor(np.array(x, np.float32), tensor)
    assert got.dtype == ttype.numpy_dtype
    np.testing.assert_array_equal(got, np.array(expected, ttype.numpy_dtype))


def test_quantize_for_tensor_divides_in_float32():
    # x / scale rounds to 4.5 exactly in float32 but is 4.49999995 in float64: the
    # reference QUANTIZE divides in float32, so the tie goes away from zero -> 5.
    x, scale = np.float32(0.16825646), np.float32(0.037390325)
    assert np.float32(x / scale) == np.float32(4.5) and float(x) / float(scale) < 4.5
    got = registry.quantize_for_tensor(np.array([x]), _tensor(TensorType.INT8, scale))
    assert got[0] == 5


def test_quantize_for_tensor_passes_float32_through():
    got = registry.quantize_for_tensor(np.array([0.1], np.float64),
                                       _tensor(TensorType.FLOAT32))
    assert got.dtype == np.float32 and got[0] == np.float32(0.1)


@pytest.mark.parametrize("scale", [None, [0.1, 0.2]], ids=["no-scale", "per-channel"])
def test_quantize_for_tensor_needs_one_scale(scale):
    with pytest.raises(ValueError, match="per-tensor quantization scale"):
        registry.quantize_for_tensor(np.zeros(2), _tensor(TensorType.INT8, scale, [0, 0]))


def _two_signature_model(scales=(0.5, 0.25)):
    """Two subgraphs with one int8 input each; signatures 'a' (subgraph 0) and 'b'."""
    graphs = [B.Graph([B.T(f"in_{key}", [1, 2], type=B.INT8, scale=[s], zero_point=[3],
                           shape_signature=[-1, 2])], inputs=[0], outputs=[0], name=key)
              for key, s in zip("ab", scales)]
    sigs = [B.Sig("a", [("x", 0)], [("y", 0)], 0), B.Sig("b", [("x", 0)], [("y", 0)], 1)]
    return B.build_model(graphs=graphs, signatures=sigs)


def test_input_tensors_default_to_subgraph_0_or_follow_the_signature():
    model = _two_signature_model()
    assert [t.name for t in registry.input_tensors(model)] == ["in_a"]
    assert [t.name for t in registry.input_tensors(model, "b")] == ["in_b"]
    with pytest.raises(KeyError, match="no signature 'c'"):
        registry.input_tensors(model, "c")


@pytest.fixture
def fake_heldout(monkeypatch):
    x = np.array([[0.0, 1.0], [0.25, -0.25], [2.0, 3.0]], np.float32)
    y = np.array([1, 0, 1], np.int64)
    monkeypatch.setattr(registry, "zoo_heldout", lambda name, progress=None: (x, y))
    monkeypatch.setattr(registry, "zoo_model",
                        lambda name, variant, progress=None: _two_signature_model())
    return x, y


def test_zoo_inputs_quantize_held_out_data_with_the_input_scale(fake_heldout):
    (got,) = registry.zoo_inputs("sine", "int8", n=2)
    # q = 3 + round_half_away(x / 0.5): 0 -> 3, 1 -> 5, 0.5 -> 4, -0.5 -> 2
    np.testing.assert_array_equal(got, np.array([[3, 5], [4, 2]], np.int8))
    (via_b,) = registry.zoo_inputs("sine", "int8", signature="b")
    assert via_b.shape == (3, 2) and via_b[2].tolist() == [11, 15]


def test_zoo_inputs_refuse_more_samples_than_held_out(fake_heldout):
    with pytest.raises(ValueError, match="3 held-out samples, 4 asked"):
        registry.zoo_inputs("sine", "int8", n=4)


def test_zoo_inputs_check_the_sample_shape(monkeypatch, fake_heldout):
    monkeypatch.setattr(registry, "zoo_heldout",
                        lambda name, progress=None: (np.zeros((3, 5), np.float32), None))
    with pytest.raises(ValueError, match=r"held-out samples are \(5,\)"):
        registry.zoo_inputs("sine", "int8")


def test_zoo_labels_are_cut_to_n(fake_heldout):
    np.testing.assert_array_equal(registry.zoo_labels("sine", 2), [1, 0])


# --------------------------------------------------------------------------------------
# Building, unavailability and the report, with a fake family
# --------------------------------------------------------------------------------------
def _fake_builder(params, progress):
    progress("fake: building")
    info = {"variants": {"float32": {"seconds": 1.5, "size": 9}},
            "unavailable": {"int8": "ConverterError: nope"}}
    return {"float32.tflite": bytes(range(9)) * 50,
            families.HELDOUT: families.npz_bytes(x_test=np.zeros((2, 1), np.float32),
                                                 y_test=np.zeros((2, 1), np.float32)),
            families.INFO: json.dumps(info).encode()}


def _broken_builder(params, progress):
    raise RuntimeError("training diverged")


@pytest.fixture
def fake_zoo(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    fams = {"fake": families.Family("fake", _fake_builder, {"v": 1}, ("float32", "int8")),
            "broken": families.Family("broken", _broken_builder, {"v": 1}, ("float32",))}

    def variant(model, name, family, known=None):
        return registry.ZooVariant(model, name, family, name, name, "keras", "", known)

    zoo = {
        "m": registry.ZooModel("m", "", "regression", "fake", {
            "float32": variant("m", "float32", "fake"),
            "int8": variant("m", "int8", "fake"),
            "dynamic": variant("m", "dynamic", "fake", known="not with these versions")}),
        "b": registry.ZooModel("b", "", "regression", "broken",
                               {"float32": variant("b", "float32", "broken")}),
    }
    monkeypatch.setattr(registry, "FAMILIES", fams)
    monkeypatch.setattr(registry, "ZOO", zoo)


def test_zoo_model_returns_the_cached_bytes(fake_zoo):
    assert registry.zoo_model("m", "float32", progress=lambda _: None) == bytes(range(9)) * 50


@pytest.mark.parametrize(("variant", "reason"),
                         [("int8", "ConverterError: nope"),
                          ("dynamic", "not with these versions")],
                         ids=["recorded-by-the-build", "known-in-advance"])
def test_unavailable_variants_raise_with_their_reason(fake_zoo, variant, reason):
    with pytest.raises(registry.ZooUnavailableError, match=reason):
        registry.zoo_model("m", variant, progress=lambda _: None)


def test_build_all_reports_sizes_gzip_seconds_and_reasons(fake_zoo):
    lines = {(x.model, x.variant): x for x in registry.build_all(progress=lambda _: None)}
    built = lines["m", "float32"]
    data = bytes(range(9)) * 50
    assert (built.status, built.size, built.seconds) == ("built", len(data), 1.5)
    assert built.gzip_size == len(gzip.compress(data, compresslevel=9, mtime=0)) < len(data)
    assert lines["m", "int8"].status == "unavailable"
    assert "ConverterError: nope" in lines["m", "int8"].reason
    assert "not with these versions" in lines["m", "dynamic"].reason
    broken = lines["b", "float32"]
    assert broken.status == "unavailable" and "training diverged" in broken.reason
    table = registry.format_report(list(lines.values()))
    assert "training diverged" in table and str(len(data)) in table


def test_zoo_heldout_comes_from_the_models_family(fake_zoo):
    x, y = registry.zoo_heldout("m", progress=lambda _: None)
    assert x.shape == (2, 1) and x.dtype == np.float32 and y.dtype == np.float32


# --------------------------------------------------------------------------------------
# Pieces of the family builders that need no TensorFlow
# --------------------------------------------------------------------------------------
def test_recorder_keeps_failures_as_text_and_marks_identical_outputs():
    rec = families.Recorder("f", progress=lambda _: None)
    rec.convert("float32", lambda: b"same")
    rec.convert("dynamic", lambda: b"same")

    def fail() -> bytes:
        raise RuntimeError("line one\n   line two")

    assert rec.convert("int8", fail) is None
    out = rec.finish({"p": 1})
    info = json.loads(out[families.INFO])
    assert info["unavailable"] == {"int8": "RuntimeError: line one line two"}
    assert info["variants"]["dynamic"]["identical_to"] == "float32"
    assert set(out) == {"float32.tflite", "dynamic.tflite", families.INFO}


def test_error_text_is_capped():
    text = families.error_text(ValueError("x" * 5000))
    assert len(text) == families.ERROR_TEXT_LIMIT and text.endswith("...")


def test_weights_round_trip_through_npz_in_layer_order():
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)] * 6
    back = families.read_weights(families.weights_npz(weights))
    assert len(back) == 12 and all(np.array_equal(a, b) for a, b in zip(weights, back))


@pytest.mark.parametrize(("samples", "batch", "epochs", "frequency", "end"),
                         [(1497, 32, 2, 10, 70),   # 94 steps: 0.8 * 94 = 75.2 -> 70
                          (10000, 32, 2, 10, 500),  # 626 steps -> 500
                          (64, 32, 1, 1, 1)],       # 2 steps, frequency 1 -> 1
                         ids=["digits", "mnist-10k", "tiny"])
def test_prune_end_step_is_a_multiple_of_frequency_inside_the_run(samples, batch, epochs,
                                                                  frequency, end):
    assert tfmot_variants.prune_end_step(samples, batch, epochs, frequency) == end


def test_default_pruning_frequency_in_a_short_run_is_refused():
    # tfmot's default frequency=100 with 2 steps would prune nothing (tfmot.md 1.3).
    with pytest.raises(ValueError, match="never be updated"):
        tfmot_variants.prune_end_step(64, 32, 1, 100)


def test_legacy_keras_child_refuses_a_process_with_keras3_tensorflow(monkeypatch):
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    with pytest.raises(RuntimeError, match="child process"):
        tfmot_variants.import_legacy_tf()


def test_tflite_weight_stats_counts_zeros_and_levels_per_channel():
    w = np.zeros((4, 64), np.int8)
    w[:, :32] = np.arange(32, dtype=np.int8)[None, :] % 8 - 4  # 8 levels, zeros among them
    model = B.build_model(
        tensors=[B.T("w", [4, 64], type=B.INT8, buffer=1, scale=[0.1] * 4,
                     zero_point=[0] * 4)],
        buffers=[B.Buf(), B.Buf(data=w.tobytes())], inputs=[], outputs=[])
    stats = tfmot_variants.tflite_weight_stats(model)["w"]
    assert stats == {"zeros": round(float(np.mean(w == 0)), 4), "unique": 8,
                     "max_unique_per_channel": 8}


def test_cli_ops_lists_operators(monkeypatch, capsys):
    model = B.build_model(tensors=[B.T("x", [1, 2])], ops=[B.Op(0, [0], [0])],
                          codes=[B.Code(builtin_code=19)], inputs=[0], outputs=[0])
    monkeypatch.setattr(registry, "zoo_model", lambda name, variant, progress=None: model)
    assert build.main(["ops", "sine", "float32"]) == 0
    assert capsys.readouterr().out.strip() == "main: RELU"


def test_npz_bytes_is_loadable():
    blob = families.npz_bytes(a=np.arange(3))
    with np.load(io.BytesIO(blob)) as npz:
        assert npz["a"].tolist() == [0, 1, 2]
