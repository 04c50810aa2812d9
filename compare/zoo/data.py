"""Small image-classification data sets for building zoo models, with no download.

These machines cannot fetch data sets, so the default is data embedded in an
installed package: scikit-learn's ``load_digits()`` (1797 handwritten digits, 8x8,
16 grey levels), upsampled to the 28x28x1 layout of (Fashion-)MNIST. The real
Fashion-MNIST is used only when its four files are already on disk, where Keras
keeps them; nothing here ever triggers a download.

Layout of every array returned: images ``float32 [N, 28, 28, 1]`` (NHWC) in [0, 1],
labels ``int64 [N]`` in 0..9.
"""

from __future__ import annotations

import gzip
import os
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
DATASET_NAMES = ("digits", "fashion_mnist")


class DataUnavailableError(RuntimeError):
    """A data set asked for is not on this machine (and will not be downloaded)."""


@dataclass(frozen=True)
class Dataset:
    """A train / held-out split of 28x28x1 images.

    Attributes
    ----------
    x_train, x_test : float32 [N, 28, 28, 1]
        Images in [0, 1], NHWC.
    y_train, y_test : int64 [N]
        Class labels 0..9.
    source : str
        Which data was used: ``"sklearn-digits"`` or ``"keras-fashion-mnist"``.
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
def load_digits_28(
    test_size: int = DIGITS_TEST_SIZE, seed: int = DIGITS_SPLIT_SEED
) -> Dataset:
    """scikit-learn's 8x8 digits as 28x28x1 float32 in [0, 1], split by a seeded shuffle.

    Preprocessing: ``pixel / 16`` then bilinear upsampling 8 -> 28 (:func:`resize_bilinear`).
    Split: ``np.random.default_rng(seed).permutation(1797)``; the first ``test_size``
    indices are held out, the rest (in permutation order) are for training.
    Deterministic: the same arguments give identical arrays on every machine.
    """
    from sklearn.datasets import load_digits  # ships its data inside the wheel

    digits = load_digits()
    n = len(digits.target)
    if not 0 < test_size < n:
        raise ValueError(f"test_size must be in 1..{n - 1}, got {test_size}")
    images = resize_bilinear(np.asarray(digits.images, np.float64) / DIGITS_GREY_LEVELS)
    images = np.clip(images, np.float32(0.0), np.float32(1.0))[..., None]
    labels = np.asarray(digits.target, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:test_size], order[test_size:]
    return Dataset(
        x_train=np.ascontiguousarray(images[train]),
        y_train=labels[train],
        x_test=np.ascontiguousarray(images[test]),
        y_test=labels[test],
        source="sklearn-digits",
        description=(
            f"scikit-learn load_digits 8x8 (0..16) /16, bilinear to 28x28x1; "
            f"seeded split (seed {seed}): {n - test_size} train / {test_size} held out"
        ),
    )


# --------------------------------------------------------------------------------------
# Fashion-MNIST, only when already on disk
# --------------------------------------------------------------------------------------
def keras_fashion_mnist_dir() -> Path:
    """Where ``keras.datasets.fashion_mnist.load_data()`` looks for its files.

    Keras home is ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when the home
    directory is not writable; ``get_file`` applies the same fallback when the Keras
    home itself is not writable); the files live in ``datasets/fashion-mnist`` below it.
    """
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):
        home = os.path.join("/tmp", ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


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


def load_dataset(name: str = "digits", prefer_real: bool = True) -> Dataset:
    """Load a data set by name.

    Parameters
    ----------
    name : {"digits", "fashion_mnist"}
        ``"digits"`` is always the embedded scikit-learn data. ``"fashion_mnist"``
        is the real data when it is on disk and ``prefer_real``; otherwise it falls
        back to the embedded digits (same shapes and range), which ``source`` reports.
    prefer_real : bool
        False forces the embedded data even when the real files exist.
    """
    if name not in DATASET_NAMES:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASET_NAMES)}")
    if name == "fashion_mnist" and prefer_real and fashion_mnist_available():
        return load_fashion_mnist()
    return load_digits_28()
