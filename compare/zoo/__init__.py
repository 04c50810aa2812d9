"""Model zoo for the comparisons: small real models built locally with TF and cached.

* :mod:`compare.zoo.registry`       - ``ZOO``: every model x variant; ``zoo_model``,
  ``zoo_inputs``, ``zoo_labels``, ``list_zoo``, ``build_all``
* :mod:`compare.zoo.data`           - embedded data (no download); real MNIST,
  Fashion-MNIST, CIFAR-10 only if on disk; the sine data
* :mod:`compare.zoo.architectures`  - the Keras and tf.Module models, training loops
* :mod:`compare.zoo.converters`     - converter modes (float32 ... int16x8)
* :mod:`compare.zoo.families`       - one training run -> every converter variant
* :mod:`compare.zoo.tfmot_variants` - QAT / pruning / clustering, built in a tf_keras child
* :mod:`compare.zoo.seed_cnn`       - the seeds' CNN, trained and converted to four variants
* :mod:`compare.zoo.cache`          - atomic on-disk cache keyed by TF version and parameters
* :mod:`compare.zoo.build`          - command line: ``python -m compare.zoo.build all``

Importing this package does not import TensorFlow; building does.
"""

from __future__ import annotations

from compare.zoo.cache import get_or_build
from compare.zoo.data import Dataset, load_dataset, load_fashion_mnist
from compare.zoo.registry import (
    ZOO,
    ZooUnavailableError,
    build_all,
    list_zoo,
    zoo_heldout,
    zoo_inputs,
    zoo_labels,
    zoo_model,
)
from compare.zoo.seed_cnn import (
    SEED_CNN_VARIANTS,
    quantize_input,
    seed_cnn_build_info,
    seed_cnn_heldout,
    seed_cnn_models,
)

__all__ = [
    "SEED_CNN_VARIANTS",
    "ZOO",
    "ZooUnavailableError",
    "build_all",
    "list_zoo",
    "zoo_heldout",
    "zoo_inputs",
    "zoo_labels",
    "zoo_model",
    "Dataset",
    "get_or_build",
    "load_dataset",
    "load_fashion_mnist",
    "quantize_input",
    "seed_cnn_build_info",
    "seed_cnn_heldout",
    "seed_cnn_models",
]
