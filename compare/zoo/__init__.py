"""Model zoo for the comparisons: small real models built locally with TF and cached.

* :mod:`compare.zoo.data`     - embedded image data (no download), Fashion-MNIST if on disk
* :mod:`compare.zoo.seed_cnn` - the seeds' CNN, trained and converted to four variants
* :mod:`compare.zoo.cache`    - atomic on-disk cache keyed by TF version and parameters

Importing this package does not import TensorFlow; building does.
"""

from __future__ import annotations

from compare.zoo.cache import get_or_build
from compare.zoo.data import Dataset, load_dataset, load_fashion_mnist
from compare.zoo.seed_cnn import (
    SEED_CNN_VARIANTS,
    quantize_input,
    seed_cnn_build_info,
    seed_cnn_heldout,
    seed_cnn_models,
)

__all__ = [
    "SEED_CNN_VARIANTS",
    "Dataset",
    "get_or_build",
    "load_dataset",
    "load_fashion_mnist",
    "quantize_input",
    "seed_cnn_build_info",
    "seed_cnn_heldout",
    "seed_cnn_models",
]
