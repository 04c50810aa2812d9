"""Small data sets for building zoo models, with no download.

These machines cannot fetch data sets, so the default is data embedded in an
installed package: scikit-learn's ``load_digits()`` (1797 handwritten digits, 8x8,
16 grey levels), upsampled to the 28x28x1 layout of (Fashion-)MNIST, or to 32x32 and
tiled to three channels for a CIFAR-10-shaped input. The real MNIST, Fashion-MNIST and
CIFAR-10 are used only when their files are already on disk, where Keras keeps them;
nothing here ever triggers a download. :func:`sine_data` generates the regression data
of TFLite Micro's hello_world example.

Layout of every image array returned: ``float32 [N, H, W, C]`` (NHWC) in [0, 1],
``28x28x1`` (digits, MNIST, Fashion-MNIST) or ``32x32x3`` (digits_rgb32, CIFAR-10);
labels ``int64 [N]`` in 0..9.
"""

from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

F32Array = NDArray[np.float32]
I64Array = NDArray[np.int64]

IMAGE_SIZE = 28
DIGITS_GREY_LEVELS = 16  # load_digits() pixels are integers 0..16
DIGITS_TEST_SIZE = 300  # 1797 = 1497 train + 300 held out
DIGITS_SPLIT_SEED = 0
FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
CIFAR_SIZE = 32
CIFAR10_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
DATASET_NAMES = ("digits", "fashion_mnist", "mnist", "digits_rgb32", "cifar10")
# What each real data set falls back to when its files are not on disk.
FALLBACKS = {"fashion_mnist": "digits", "mnist": "digits", "cifar10": "digits_rgb32"}


class DataUnavailableError(RuntimeError):
    """A data set asked for is not on this machine (and will not be downloaded)."""


@dataclass(frozen=True)
class Dataset:
    """A train / held-out split of images.

    Attributes
    ----------
    x_train, x_test : float32 [N, H, W, C]
        Images in [0, 1], NHWC: 28x28x1, or 32x32x3 for ``digits_rgb32`` / ``cifar10``.
    y_train, y_test : int64 [N]
        Class labels 0..9.
    source : str
        Which data was used: ``"sklearn-digits"``, ``"sklearn-digits-rgb32"``,
        ``"keras-fashion-mnist"``, ``"keras-mnist"`` or ``"keras-cifar10"``.
    description : str
        One human-readable line: origin, preprocessing, split sizes.
    """

    x_train: F32Array
    y_train: I64Array
    x_test: F32Array
    y_test: I64Array
    source: str
    description: str


# --------------------------------------------------------------------------------------
# Resizing
# --------------------------------------------------------------------------------------
def _bilinear_taps(in_size: int, out_size: int) -> tuple[I64Array, I64Array, NDArray[np.float64]]:
    """Source indices and weights of 1-D bilinear resampling with half-pixel centres.

    Output pixel ``o`` samples the input at ``s = (o + 0.5) * in/out - 0.5``, clamped to
    ``[0, in - 1]``; it takes ``(1 - t) * x[lo] + t * x[hi]`` with ``lo = floor(s)``,
    ``hi = min(lo + 1, in - 1)``, ``t = s - lo``. This is the convention of
    ``tf.image.resize(method="bilinear")`` and PIL's upsampling.
    """
    s = (np.arange(out_size, dtype=np.float64) + 0.5) * (in_size / out_size) - 0.5
    s = np.clip(s, 0.0, in_size - 1)
    lo = np.floor(s).astype(np.int64)
    hi = np.minimum(lo + 1, in_size - 1)
    return lo, hi, s - lo


def resize_bilinear(images: NDArray[np.floating], size: int = IMAGE_SIZE) -> F32Array:
    """Resize a batch of single-channel images with separable bilinear interpolation.

    Parameters
    ----------
    images : float [N, H, W]
    size : int
        Output height and width.

    Returns
    -------
    float32 [N, size, size]
        Computed in float64, rounded once to float32. Each output is a convex
        combination of inputs, so the input range is preserved.
    """
    x = np.asarray(images, dtype=np.float64)
    _, height, width = x.shape
    y_lo, y_hi, y_t = _bilinear_taps(height, size)
    x_lo, x_hi, x_t = _bilinear_taps(width, size)
    rows = x[:, y_lo, :] * (1.0 - y_t)[None, :, None] + x[:, y_hi, :] * y_t[None, :, None]
    out = rows[:, :, x_lo] * (1.0 - x_t) + rows[:, :, x_hi] * x_t
    return out.astype(np.float32)


# --------------------------------------------------------------------------------------
# Embedded data: scikit-learn digits
# --------------------------------------------------------------------------------------
def _load_digits(size: int, channels: int, test_size: int, seed: int) -> Dataset:
    """The digits at ``size x size``, ``channels`` identical channels, seeded split."""
    from sklearn.datasets import load_digits  # ships its data inside the wheel

    digits = load_digits()
    n = len(digits.target)
    if not 0 < test_size < n:
        raise ValueError(f"test_size must be in 1..{n - 1}, got {test_size}")
    images = resize_bilinear(np.asarray(digits.images, np.float64) / DIGITS_GREY_LEVELS, size)
    images = np.clip(images, np.float32(0.0), np.float32(1.0))[..., None]
    if channels > 1:
        images = np.repeat(images, channels, axis=-1)
    labels = np.asarray(digits.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:test_size], order[test_size:]
    layout = f"{size}x{size}x{channels}"
    return Dataset(
        x_train=np.ascontiguousarray(images[train]),
        y_train=labels[train],
        x_test=np.ascontiguousarray(images[test]),
        y_test=labels[test],
        source="sklearn-digits" if channels == 1 else f"sklearn-digits-rgb{size}",
        description=(
            f"scikit-learn load_digits 8x8 (0..16) /16, bilinear to {layout}"
            f"{', grey tiled to 3 channels' if channels > 1 else ''}; "
            f"seeded split (seed {seed}): {n - test_size} train / {test_size} held out"
        ),
    )


def load_digits_28(
    test_size: int = DIGITS_TEST_SIZE, seed: int = DIGITS_SPLIT_SEED
) -> Dataset:
    """scikit-learn's 8x8 digits as 28x28x1 float32 in [0, 1], split by a seeded shuffle.

    Preprocessing: ``pixel / 16`` then bilinear upsampling 8 -> 28 (:func:`resize_bilinear`).
    Split: ``np.random.default_rng(seed).permutation(1797)``; the first ``test_size``
    indices are held out, the rest (in permutation order) are for training.
    Deterministic: the same arguments give identical arrays on every machine.
    """
    return _load_digits(IMAGE_SIZE, 1, test_size, seed)


def load_digits_rgb32(
    test_size: int = DIGITS_TEST_SIZE, seed: int = DIGITS_SPLIT_SEED
) -> Dataset:
    """The digits as a CIFAR-10-shaped input: 32x32x3 float32 in [0, 1].

    Same preprocessing and split as :func:`load_digits_28`, but upsampled 8 -> 32 and
    the grey channel repeated three times (R = G = B). Held-out indices are the same.
    """
    return _load_digits(CIFAR_SIZE, 3, test_size, seed)


def sine_data(
    n: int, seed: int, noise: float = 0.1
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """The hello_world regression data: ``x ~ U[0, 2*pi)``, ``y = sin(x) + noise * N(0, 1)``.

    Returns ``(x float32 [n, 1], y_noisy float32 [n, 1], y_clean float32 [n, 1])``,
    drawn from ``np.random.default_rng(seed)`` (x first, then the noise); ``y_clean``
    is ``sin`` of the float32 ``x``, computed in float64 and rounded once.
    Mirrors: tensorflow/lite/micro/examples/hello_world/train.py (data generation).
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 2.0 * np.pi, size=(n, 1)).astype(np.float32)
    clean = np.sin(x.astype(np.float64))  # of the float32 x the model is given
    noisy = clean + noise * rng.standard_normal(size=(n, 1))
    return x, noisy.astype(np.float32), clean.astype(np.float32)


# --------------------------------------------------------------------------------------
# Real data sets, only when already on disk (Fashion-MNIST first)
# --------------------------------------------------------------------------------------
def keras_datasets_dir() -> Path:
    """Where ``keras.datasets.*.load_data()`` keep their files: ``<keras home>/datasets``.

    Keras home is ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when the home
    directory is not writable; ``get_file`` applies the same fallback when the Keras
    home itself is not writable).
    """
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home) / "datasets"


def keras_fashion_mnist_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist.load_data()`` looks for its files
    (``datasets/fashion-mnist`` below the Keras home, see :func:`keras_datasets_dir`)."""
    return keras_datasets_dir() / "fashion-mnist"


def fashion_mnist_available() -> bool:
    """True when all four Fashion-MNIST files are already on disk (no download needed)."""
    folder = keras_fashion_mnist_dir()
    return all((folder / name).is_file() for name in FASHION_MNIST_FILES)


def _read_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """Read one gzipped IDX file (big-endian int32 header, then uint8 data).

    Header: ``magic`` (2049 labels, 2051 images), item count, then one int32 per item
    dimension (28, 28 for images). Checked against ``item_shape`` and the data length.
    """
    with gzip.open(path, "rb") as handle:
        raw = handle.read()
    header_len = 4 * (2 + len(item_shape))
    if len(raw) < header_len:
        raise DataUnavailableError(f"{path}: {len(raw)} bytes, shorter than an IDX header")
    header = np.frombuffer(raw, dtype=">i4", count=2 + len(item_shape))
    count, dims = int(header[1]), tuple(int(d) for d in header[2:])
    if int(header[0]) != magic or dims != item_shape:
        raise DataUnavailableError(
            f"{path}: IDX header {header.tolist()}, expected magic {magic} and item shape "
            f"{item_shape}"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if data.size != count * int(np.prod(item_shape, dtype=np.int64)):
        raise DataUnavailableError(f"{path}: {data.size} data bytes for {count} items")
    return data.reshape((count, *item_shape))


def load_fashion_mnist() -> Dataset:
    """Fashion-MNIST (60000 train / 10000 test) as float32 [N, 28, 28, 1] in [0, 1].

    Reads the four gzipped IDX files from where ``keras.datasets.fashion_mnist.load_data()``
    keeps them (:func:`keras_fashion_mnist_dir`), giving the same arrays, but without
    calling Keras: that could start a download, and Keras fixes its home directory when
    it is first imported, so a check made here could look at a different folder.
    Preprocessing: ``uint8 / 255``.

    Raises
    ------
    DataUnavailableError
        When the files are not on disk or are not valid IDX files.
    """
    folder = keras_fashion_mnist_dir()
    if not fashion_mnist_available():
        raise DataUnavailableError(
            f"Fashion-MNIST is not on this machine (looked for {', '.join(FASHION_MNIST_FILES)} "
            f"in {folder}); it is never downloaded here"
        )
    image_shape = (IMAGE_SIZE, IMAGE_SIZE)
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", 2049, ())
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", 2051, image_shape)
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, ())
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, image_shape)
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataUnavailableError(f"{folder}: image and label counts differ")

    def images(x: NDArray[np.uint8]) -> F32Array:
        return (x.astype(np.float32) / np.float32(255.0))[..., None]

    return Dataset(
        x_train=images(x_train),
        y_train=y_train.astype(np.int64),
        x_test=images(x_test),
        y_test=y_test.astype(np.int64),
        source="keras-fashion-mnist",
        description=(
            f"Fashion-MNIST from {folder}, uint8/255, "
            f"{len(y_train)} train / {len(y_test)} test"
        ),
    )


# --------------------------------------------------------------------------------------
# MNIST and CIFAR-10, only when already on disk
# --------------------------------------------------------------------------------------
def mnist_path() -> Path:
    """``mnist.npz`` as ``keras.datasets.mnist.load_data()`` keeps it."""
    return keras_datasets_dir() / "mnist.npz"


def mnist_available() -> bool:
    """True when ``mnist.npz`` is already on disk (it is never downloaded here)."""
    return mnist_path().is_file()


def load_mnist() -> Dataset:
    """MNIST (60000 train / 10000 test) as float32 [N, 28, 28, 1] in [0, 1] (uint8 / 255).

    Reads Keras' ``mnist.npz`` (arrays ``x_train, y_train, x_test, y_test``) directly.
    Raises :class:`DataUnavailableError` when it is not on disk.
    """
    path = mnist_path()
    if not path.is_file():
        raise DataUnavailableError(f"MNIST is not on this machine ({path}); never downloaded")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in ("x_train", "y_train", "x_test", "y_test")}

    def images(x: NDArray[np.uint8]) -> F32Array:
        return (x.astype(np.float32) / np.float32(255.0))[..., None]

    return Dataset(
        x_train=images(arrays["x_train"]),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=images(arrays["x_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        source="keras-mnist",
        description=f"MNIST from {path}, uint8/255, "
        f"{len(arrays['y_train'])} train / {len(arrays['y_test'])} test",
    )


def cifar10_dir() -> Path:
    """The extracted ``cifar-10-batches-py`` folder of ``keras.datasets.cifar10``."""
    return keras_datasets_dir() / "cifar-10-batches-py"


def cifar10_available() -> bool:
    """True when the six CIFAR-10 batch files are already on disk."""
    folder = cifar10_dir()
    return all((folder / name).is_file() for name in CIFAR10_FILES)


def load_cifar10() -> Dataset:
    """CIFAR-10 (50000 train / 10000 test) as float32 [N, 32, 32, 3] in [0, 1].

    Reads the Python-pickle batches Keras extracts (``data`` uint8 [N, 3072] in CHW
    order, ``labels``), transposes to NHWC and divides by 255. The files are the
    official archive's, loaded as Keras loads them; they are only read when present.
    """
    folder = cifar10_dir()
    if not cifar10_available():
        raise DataUnavailableError(f"CIFAR-10 is not on this machine ({folder}); "
                                   "never downloaded")

    def batch(name: str) -> tuple[F32Array, I64Array]:
        with open(folder / name, "rb") as handle:
            record = pickle.load(handle, encoding="bytes")
        raw = np.asarray(record[b"data"], np.uint8).reshape(-1, 3, CIFAR_SIZE, CIFAR_SIZE)
        x = raw.transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255.0)
        return np.ascontiguousarray(x), np.asarray(record[b"labels"], np.int64)

    train = [batch(name) for name in CIFAR10_FILES[:-1]]
    x_test, y_test = batch(CIFAR10_FILES[-1])
    return Dataset(
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test,
        y_test=y_test,
        source="keras-cifar10",
        description=f"CIFAR-10 from {folder}, uint8/255, 50000 train / 10000 test",
    )


_REAL_AVAILABLE = {
    "fashion_mnist": fashion_mnist_available,
    "mnist": mnist_available,
    "cifar10": cifar10_available,
}
_LOADERS = {
    "digits": load_digits_28,
    "digits_rgb32": load_digits_rgb32,
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "cifar10": load_cifar10,
}


def resolve_dataset(name: str, prefer_real: bool = True) -> str:
    """The data set :func:`load_dataset` would load for ``name``: the real one when its
    files are on disk (and ``prefer_real``), else its embedded fallback."""
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASET_NAMES)}")
    if name in FALLBACKS and not (prefer_real and _REAL_AVAILABLE[name]()):
        return FALLBACKS[name]
    return name


def load_dataset(name: str = "digits", prefer_real: bool = True) -> Dataset:
    """Load a data set by name.

    Parameters
    ----------
    name : {"digits", "fashion_mnist", "mnist", "digits_rgb32", "cifar10"}
        ``"digits"`` / ``"digits_rgb32"`` are always the embedded scikit-learn data.
        The real sets are used when on disk and ``prefer_real``; otherwise they fall
        back to the embedded digits of the same layout (``FALLBACKS``), which
        ``source`` reports.
    prefer_real : bool
        False forces the embedded data even when the real files exist.
    """
    return _LOADERS[resolve_dataset(name, prefer_real)]()
