"""Zoo data and model cache: shapes, ranges, determinism, atomic cache writes.

No TensorFlow training here: builders are fakes. Building the real seed CNN is
exercised by the compare/ suite.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from compare.zoo import cache, data, seed_cnn

# --------------------------------------------------------------------------------------
# Embedded digits
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load_digits_28()


def test_digits_shapes_and_dtypes_are_28x28x1_float32_with_int64_labels(digits):
    assert digits.x_train.shape == (1497, 28, 28, 1)
    assert digits.x_test.shape == (300, 28, 28, 1)
    assert digits.x_train.dtype == digits.x_test.dtype == np.float32
    assert digits.y_train.shape == (1497,) and digits.y_test.shape == (300,)
    assert digits.y_train.dtype == digits.y_test.dtype == np.int64
    assert digits.source == "sklearn-digits"


def test_digits_pixels_span_exactly_zero_to_one(digits):
    for x in (digits.x_train, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0


def test_digits_labels_cover_all_ten_classes_in_both_splits(digits):
    assert set(np.unique(digits.y_train)) == set(range(10))
    assert set(np.unique(digits.y_test)) == set(range(10))


def test_digits_split_is_a_partition_of_all_1797_images(digits):
    from sklearn.datasets import load_digits

    per_class = np.bincount(load_digits().target, minlength=10)
    together = np.bincount(np.concatenate([digits.y_train, digits.y_test]), minlength=10)
    np.testing.assert_array_equal(together, per_class)


def test_digits_are_identical_on_every_call(digits):
    again = data.load_digits_28()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(digits, name))


def test_digits_split_seed_changes_the_held_out_set(digits):
    other = data.load_digits_28(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test)


@pytest.mark.parametrize("test_size", [0, 1797], ids=["empty-test", "empty-train"])
def test_digits_degenerate_split_is_rejected(test_size):
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits_28(test_size=test_size)


# --------------------------------------------------------------------------------------
# Bilinear resize (half-pixel centres)
# --------------------------------------------------------------------------------------


def test_resize_two_pixels_to_four_by_hand():
    # in=2, out=4: sample points s=(o+0.5)/2-0.5 = -0.25, 0.25, 0.75, 1.25,
    # clamped to 0, 0.25, 0.75, 1 -> values 0, 0.25, 0.75, 1 along each axis.
    image = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    out = data.resize_bilinear(image, size=4)
    np.testing.assert_array_equal(out[0], np.tile([0.0, 0.25, 0.75, 1.0], (4, 1)))
    np.testing.assert_array_equal(
        data.resize_bilinear(image.transpose(0, 2, 1), size=4)[0],
        np.tile([0.0, 0.25, 0.75, 1.0], (4, 1)).T,
    )


def test_resize_keeps_a_constant_image_constant():
    out = data.resize_bilinear(np.full((1, 8, 8), 0.375), size=28)
    assert out.dtype == np.float32 and out.shape == (1, 28, 28)
    assert np.all(out == np.float32(0.375))


# --------------------------------------------------------------------------------------
# Fashion-MNIST: only from files already on disk
# --------------------------------------------------------------------------------------


def _write_idx(path: Path, magic: int, array: np.ndarray) -> None:
    header = np.array([magic, len(array), *array.shape[1:]], dtype=">i4").tobytes()
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion_mnist(keras_home: Path, n_train: int = 6, n_test: int = 4) -> None:
    folder = keras_home / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    _write_idx(folder / "train-labels-idx1-ubyte.gz", 2049, np.arange(n_train) % 10)
    _write_idx(folder / "train-images-idx3-ubyte.gz", 2051, rng.integers(0, 256, (n_train, 28, 28)))
    _write_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, np.arange(n_test) % 10)
    images = rng.integers(0, 256, (n_test, 28, 28))
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    _write_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, images)


def test_fashion_mnist_dir_follows_keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert data.keras_fashion_mnist_dir() == tmp_path / "datasets" / "fashion-mnist"


def test_missing_fashion_mnist_raises_instead_of_downloading(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert not data.fashion_mnist_available()
    with pytest.raises(data.DataUnavailableError, match="never downloaded"):
        data.load_fashion_mnist()


def test_load_dataset_falls_back_to_digits_when_fashion_mnist_is_absent(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    got = data.load_dataset("fashion_mnist")
    assert got.source == "sklearn-digits"
    assert got.x_train.shape[1:] == (28, 28, 1)


def test_fashion_mnist_files_on_disk_are_read_as_uint8_over_255(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _fake_fashion_mnist(tmp_path)
    got = data.load_dataset("fashion_mnist")
    assert got.source == "keras-fashion-mnist"
    assert got.x_train.shape == (6, 28, 28, 1) and got.x_test.shape == (4, 28, 28, 1)
    assert got.x_test.dtype == np.float32 and got.y_test.dtype == np.int64
    assert got.x_test[0, 0, 0, 0] == 0.0 and got.x_test[0, 0, 1, 0] == 1.0
    np.testing.assert_array_equal(got.y_train, np.arange(6) % 10)


def test_prefer_real_false_ignores_fashion_mnist_on_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _fake_fashion_mnist(tmp_path)
    assert data.load_dataset("fashion_mnist", prefer_real=False).source == "sklearn-digits"


def test_corrupt_idx_header_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _fake_fashion_mnist(tmp_path)
    labels = tmp_path / "datasets" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    _write_idx(labels, 2051, np.arange(4))  # image magic on a label file
    with pytest.raises(data.DataUnavailableError, match="magic"):
        data.load_fashion_mnist()


def test_unknown_dataset_name_is_an_error():
    with pytest.raises(ValueError, match="unknown data set"):
        data.load_dataset("imagenet")


# --------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------


class FakeBuilder:
    """Counts calls; returns small artifacts derived from the parameters."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay

    def __call__(self, params, progress):
        self.calls += 1
        progress("fake: building")
        time.sleep(self.delay)
        tag = json.dumps(dict(params), sort_keys=True).encode()
        return {"a.tflite": b"A" + tag, "b.tflite": b"B" + tag, "extra.npz": b"E"}


PARAMS = {"seed": 0, "epochs": 3}


def test_cache_dir_is_repo_dot_cache_by_default(monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    assert (cache.repo_root() / "pyproject.toml").is_file()
    expected = cache.repo_root() / ".cache" / "models" / cache.tensorflow_version()
    assert cache.cache_dir() == expected


def test_cache_dir_env_var_overrides_root(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    assert cache.cache_dir() == tmp_path / cache.tensorflow_version()


def test_params_key_ignores_key_order_and_sees_value_changes():
    assert cache.params_key({"a": 1, "b": 2}) == cache.params_key({"b": 2, "a": 1})
    assert cache.params_key({"a": 1, "b": 2}) != cache.params_key({"a": 1, "b": 3})
    assert len(cache.params_key({})) == cache.KEY_LENGTH


def test_second_request_is_served_from_disk_without_building(tmp_path):
    builder = FakeBuilder()
    lines: list[str] = []
    first = cache.get_or_build("m", builder, PARAMS, ["a.tflite"], directory=tmp_path,
                               progress=lines.append)
    second = cache.get_or_build("m", builder, PARAMS, ["a.tflite", "b.tflite"],
                                directory=tmp_path, progress=lines.append)
    assert builder.calls == 1
    assert first["a.tflite"] == second["a.tflite"] and second["b.tflite"].startswith(b"B")
    assert list(second) == ["a.tflite", "b.tflite"]
    assert "fake: building" in lines


def test_every_artifact_is_stored_under_name_stem_key(tmp_path):
    cache.get_or_build("m", FakeBuilder(), PARAMS, ["a.tflite"], directory=tmp_path,
                       progress=lambda _: None)
    key = cache.params_key(PARAMS)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([f"m-a-{key}.tflite", f"m-b-{key}.tflite", f"m-extra-{key}.npz",
                            f"m-{key}.json", f"m-{key}.lock"])
    assert json.loads((tmp_path / f"m-{key}.json").read_text()) == PARAMS


def test_changed_params_build_beside_the_old_files(tmp_path):
    builder = FakeBuilder()
    old = cache.get_or_build("m", builder, PARAMS, ["a.tflite"], directory=tmp_path,
                             progress=lambda _: None)
    new = cache.get_or_build("m", builder, {**PARAMS, "epochs": 4}, ["a.tflite"],
                             directory=tmp_path, progress=lambda _: None)
    assert builder.calls == 2 and old != new
    assert len(list(tmp_path.glob("m-a-*.tflite"))) == 2


def test_builder_missing_an_artifact_is_an_error_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="did not produce"):
        cache.get_or_build("m", FakeBuilder(), PARAMS, ["zzz.tflite"], directory=tmp_path,
                           progress=lambda _: None)
    assert not list(tmp_path.glob("*.tflite"))


def test_failing_builder_leaves_no_files(tmp_path):
    def broken(params, progress):
        raise RuntimeError("training diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cache.get_or_build("m", broken, PARAMS, ["a.tflite"], directory=tmp_path,
                           progress=lambda _: None)
    assert [p.name for p in tmp_path.iterdir()] == [f"m-{cache.params_key(PARAMS)}.lock"]


def test_interrupted_write_keeps_the_old_file_and_no_temp_file(monkeypatch, tmp_path):
    target = tmp_path / "model.tflite"
    cache.atomic_write_bytes(target, b"old")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(cache.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        cache.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]


def test_atomic_write_replaces_content_and_is_world_readable(tmp_path):
    target = tmp_path / "sub" / "model.tflite"
    cache.atomic_write_bytes(target, b"one")
    cache.atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o644


def test_concurrent_requests_build_once(tmp_path):
    builder = FakeBuilder(delay=0.3)
    results: list[dict[str, bytes]] = []

    def request() -> None:
        results.append(cache.get_or_build("m", builder, PARAMS, ["a.tflite"],
                                          directory=tmp_path, progress=lambda _: None))

    threads = [threading.Thread(target=request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builder.calls == 1
    assert len(results) == 3 and all(r == results[0] for r in results)


@pytest.mark.parametrize("artifact", ["noext", ".tflite", "a/b.tflite"],
                         ids=["no-suffix", "no-stem", "slash"])
def test_artifact_names_must_be_stem_dot_suffix(artifact, tmp_path):
    with pytest.raises(ValueError, match="artifact names"):
        cache.artifact_path("m", artifact, "k", tmp_path)


# --------------------------------------------------------------------------------------
# Seed CNN public API with a fake builder (no TensorFlow)
# --------------------------------------------------------------------------------------


def _fake_seed_cnn_builder(params, progress):
    buffer = io.BytesIO()
    np.savez(buffer, x_test=np.zeros((3, 28, 28, 1), np.float32), y_test=np.arange(3))
    out = {f"{v}.tflite": v.encode() for v in seed_cnn.SEED_CNN_VARIANTS}
    out["heldout.npz"] = buffer.getvalue()
    out["build_info.json"] = b'{"keras_heldout_accuracy": 1.0}'
    return out


def test_seed_cnn_api_returns_every_variant_and_the_held_out_set(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(seed_cnn, "build_seed_cnn", _fake_seed_cnn_builder)
    models = seed_cnn.seed_cnn_models(progress=lambda _: None)
    assert tuple(models) == seed_cnn.SEED_CNN_VARIANTS
    assert models["int8"] == b"int8"
    x, y = seed_cnn.seed_cnn_heldout()
    assert x.shape == (3, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int64
    assert seed_cnn.seed_cnn_build_info()["keras_heldout_accuracy"] == 1.0


def test_importing_the_zoo_does_not_import_tensorflow():
    code = "import sys, compare.zoo; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --------------------------------------------------------------------------------------
# quantize_input: TFLite reference QUANTIZE rounding
# --------------------------------------------------------------------------------------


def _details(dtype, scale, zero_point):
    return {"dtype": dtype, "quantization": (scale, zero_point)}


def test_quantize_input_float_model_passes_float32_through():
    x = np.array([0.1, 0.7], np.float64)
    got = seed_cnn.quantize_input(x, _details(np.float32, 0.0, 0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x.astype(np.float32))


@pytest.mark.parametrize(
    ("dtype", "scale", "zero_point", "x", "expected"),
    [
        # x/scale = 0.25/0.5 = 0.5: a tie, away from zero -> 1 (np.round would give 0)
        (np.int8, 0.5, 0, [0.25, -0.25, 0.75], [1, -1, 2]),
        # 1/255 scale, zero point -128: 0 -> -128, 1 -> -128 + 255 = 127
        (np.int8, 1 / 255, -128, [0.0, 1.0], [-128, 127]),
        # uint8 with zero point 0: 1.0 -> 255, and values past the range clamp
        (np.uint8, 1 / 255, 0, [0.0, 1.0, 2.0, -1.0], [0, 255, 255, 0]),
    ],
    ids=["int8-ties-away", "int8-edges", "uint8-clamp"],
)
def test_quantize_input_rounds_half_away_and_clamps(dtype, scale, zero_point, x, expected):
    got = seed_cnn.quantize_input(np.array(x, np.float32), _details(dtype, scale, zero_point))
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.array(expected, dtype))


def test_quantize_input_without_scale_is_an_error():
    with pytest.raises(ValueError, match="no quantization scale"):
        seed_cnn.quantize_input(np.zeros(2), _details(np.int8, 0.0, 0))


# --------------------------------------------------------------------------------------
# Converter chatter is captured, and shown again only on failure
# --------------------------------------------------------------------------------------


def test_native_output_is_hidden_on_success(capfd):
    with seed_cnn._native_output_captured():
        os.write(1, b"native stdout\n")
        os.write(2, b"native stderr\n")
        print("python stdout")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_native_output_is_replayed_on_stderr_on_failure(capfd):
    with pytest.raises(RuntimeError), seed_cnn._native_output_captured():
        os.write(2, b"converter: op not supported\n")
        raise RuntimeError("conversion failed")
    _, err = capfd.readouterr()
    assert "converter: op not supported" in err
