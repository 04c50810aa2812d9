"""Zoo data beyond the seed CNN's: 32x32x3 digits, sine data, real sets only from disk."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from compare.zoo import data


@pytest.fixture(scope="module")
def rgb32() -> data.Dataset:
    return data.load_digits_rgb32()


def test_rgb32_digits_are_32x32x3_with_equal_channels(rgb32):
    assert rgb32.x_train.shape == (1497, 32, 32, 3) and rgb32.x_test.shape == (300, 32, 32, 3)
    assert rgb32.x_train.dtype == np.float32
    np.testing.assert_array_equal(rgb32.x_test[..., 0], rgb32.x_test[..., 2])
    assert rgb32.x_train.min() == 0.0 and rgb32.x_train.max() == 1.0
    assert rgb32.source == "sklearn-digits-rgb32"


def test_rgb32_digits_share_the_split_of_the_28x28_digits(rgb32):
    grey = data.load_digits_28()
    np.testing.assert_array_equal(rgb32.y_test, grey.y_test)
    np.testing.assert_array_equal(rgb32.y_train, grey.y_train)


def test_sine_data_is_seeded_and_in_range():
    x, noisy, clean = data.sine_data(500, seed=3)
    again = data.sine_data(500, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((x, noisy, clean), again))
    assert x.shape == noisy.shape == clean.shape == (500, 1) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() < 2 * np.pi
    np.testing.assert_allclose(clean, np.sin(x.astype(np.float64)), atol=1e-7)
    assert 0.05 < np.std(noisy - clean) < 0.15  # noise 0.1
    assert not np.array_equal(data.sine_data(500, seed=4)[0], x)


@pytest.fixture
def keras_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


@pytest.mark.parametrize(("name", "fallback"),
                         [("mnist", "digits"), ("cifar10", "digits_rgb32"),
                          ("fashion_mnist", "digits"), ("digits", "digits")])
def test_real_sets_fall_back_to_embedded_digits_when_absent(keras_home, name, fallback):
    assert data.resolve_dataset(name) == fallback


def test_missing_mnist_raises_instead_of_downloading(keras_home):
    with pytest.raises(data.DataUnavailableError, match="never downloaded"):
        data.load_mnist()


def test_mnist_npz_on_disk_is_read_as_uint8_over_255(keras_home):
    images = np.full((2, 28, 28), 255, np.uint8)
    np.savez(keras_home / "mnist.npz", x_train=images, y_train=np.array([3, 4], np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.array([7], np.uint8))
    assert data.resolve_dataset("mnist") == "mnist"
    assert data.resolve_dataset("mnist", prefer_real=False) == "digits"
    loaded = data.load_dataset("mnist")
    assert loaded.source == "keras-mnist" and loaded.x_train.shape == (2, 28, 28, 1)
    assert loaded.x_train.max() == 1.0 and loaded.x_test.max() == 0.0
    assert loaded.y_test.tolist() == [7] and loaded.y_train.dtype == np.int64


def test_cifar10_batches_on_disk_are_transposed_to_nhwc(keras_home):
    folder = keras_home / "cifar-10-batches-py"
    folder.mkdir()
    chw = np.zeros((1, 3, 32, 32), np.uint8)
    chw[0, 0, 1, 2] = 255  # red channel, row 1, column 2
    for i, name in enumerate(data.CIFAR10_FILES):
        record = {b"data": chw.reshape(1, 3072), b"labels": [i]}
        (folder / name).write_bytes(pickle.dumps(record))
    assert data.resolve_dataset("cifar10") == "cifar10"
    loaded = data.load_dataset("cifar10")
    assert loaded.x_train.shape == (5, 32, 32, 3) and loaded.x_test.shape == (1, 32, 32, 3)
    assert loaded.x_test[0, 1, 2, 0] == 1.0 and loaded.x_test.sum() == 1.0
    assert loaded.y_train.tolist() == [0, 1, 2, 3, 4] and loaded.y_test.tolist() == [5]
