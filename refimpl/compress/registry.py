"""Which weights tfmot prunes and clusters, by layer kind and tensor role.

tensorflow-model-optimization decides per Keras layer *class* which attributes it
touches (``prune_registry.py`` and ``clustering_registry.py``). Only kernels are
affected: biases, batch-norm parameters and depthwise kernels never are. This module
restates those tables so that a caller holding NumPy arrays (from a Keras model or from
a ``.tflite`` file) can ask "would tfmot prune / cluster this tensor?". The mask and
centroid functions themselves work on any array: the tables only give tfmot's default,
and a caller who wants something else (e.g. pruning a depthwise kernel) simply calls
them on that tensor.

Layer kinds are Keras class names (``"Conv2D"``, ``"Dense"``, ...) or TFLite builtin
operator names (``"CONV_2D"``, ``"FULLY_CONNECTED"``, ...). Roles are Keras attribute
names (``"kernel"``, ``"bias"``, ``"pointwise_kernel"``, ``"embeddings"``,
``"recurrent_kernel"``) or TFLite input names (``"filter"``, ``"weights"``,
``"bias"``, ``"value"``), see :data:`TFLITE_OPS`.

Mirrors: ``tensorflow_model_optimization/python/core/sparsity/keras/prune_registry.py``
and ``.../clustering/keras/clustering_registry.py`` and ``cluster.py``
(``layer_has_enough_weights_to_cluster``), tfmot 0.8.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "PRUNED_WEIGHTS",
    "CLUSTERED_WEIGHTS",
    "TFLITE_OPS",
    "tfmot_prunes",
    "tfmot_clusters",
    "tfmot_cluster_channel_axis",
    "conv2d_has_enough_weights_to_cluster",
]

_NONE: tuple[str, ...] = ()
_RNN = ("kernel", "recurrent_kernel")  # of every cell
_MHA = ("_query_dense.kernel", "_key_dense.kernel", "_value_dense.kernel",
        "_output_dense.kernel")

# Layers accepted by both registries without any weight being touched.
_NO_WEIGHTS_COMMON = (
    "DepthwiseConv2D", "BatchNormalization", "LayerNormalization",
)
# Accepted by the pruning registry with nothing pruned (tfmot lists them one by one).
_PRUNE_NO_WEIGHTS = _NO_WEIGHTS_COMMON + (
    "ELU", "LeakyReLU", "ReLU", "Softmax", "ThresholdedReLU", "Activation",
    "ActivityRegularization", "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Dropout", "Flatten", "Lambda", "Masking", "Permute", "RepeatVector", "Reshape",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Add", "Average",
    "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract", "AlphaDropout",
    "GaussianDropout", "GaussianNoise", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "TensorFlowOpLayer",
)

#: Keras layer class -> attributes tfmot's pruning wraps (``prune_low_magnitude``).
#: A class missing here makes ``prune_low_magnitude`` raise for the whole model.
PRUNED_WEIGHTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Conv1D": ("kernel",), "Conv2D": ("kernel",), "Conv2DTranspose": ("kernel",),
    "Conv3D": ("kernel",), "Conv3DTranspose": ("kernel",), "Dense": ("kernel",),
    "LocallyConnected1D": ("kernel",), "LocallyConnected2D": ("kernel",),
    "SeparableConv1D": ("pointwise_kernel",), "SeparableConv2D": ("pointwise_kernel",),
    "Embedding": ("embeddings",), "MultiHeadAttention": _MHA,
    "GRU": _RNN, "LSTM": _RNN, "SimpleRNN": _RNN, "RNN": _RNN,
    **{kind: _NONE for kind in _PRUNE_NO_WEIGHTS},
})

#: Keras layer class -> attributes tfmot's clustering wraps (``cluster_weights``).
#: Any other layer is accepted only when it has no trainable weights.
CLUSTERED_WEIGHTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Conv1D": ("kernel",), "Conv1DTranspose": ("kernel",), "Conv2D": ("kernel",),
    "Conv2DTranspose": ("kernel",), "Conv3D": ("kernel",), "Conv3DTranspose": ("kernel",),
    "Dense": ("kernel",), "LocallyConnected1D": ("kernel",),
    "LocallyConnected2D": ("kernel",), "SeparableConv1D": ("pointwise_kernel",),
    "SeparableConv2D": ("pointwise_kernel",), "Embedding": ("embeddings",),
    "MultiHeadAttention": _MHA, "GRU": _RNN, "LSTM": _RNN, "SimpleRNN": _RNN,
    "RNN": _RNN, "Bidirectional": _RNN,
    **{kind: _NONE for kind in _NO_WEIGHTS_COMMON},
})

#: TFLite builtin op -> (Keras layer kind it comes from, {input name: Keras role}).
#: SeparableConv2D converts to DEPTHWISE_CONV_2D + a 1x1 CONV_2D whose filter is the
#: pointwise kernel, so "CONV_2D filter" covers it.
TFLITE_OPS: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType({
    "CONV_2D": ("Conv2D", {"filter": "kernel", "bias": "bias"}),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2D", {"filter": "depthwise_kernel",
                                              "bias": "bias"}),
    "FULLY_CONNECTED": ("Dense", {"weights": "kernel", "filter": "kernel",
                                  "bias": "bias"}),
    "TRANSPOSE_CONV": ("Conv2DTranspose", {"weights": "kernel", "filter": "kernel",
                                           "bias": "bias"}),
    "CONV_3D": ("Conv3D", {"filter": "kernel", "bias": "bias"}),
    "CONV_3D_TRANSPOSE": ("Conv3DTranspose", {"filter": "kernel", "bias": "bias"}),
    "EMBEDDING_LOOKUP": ("Embedding", {"value": "embeddings"}),
})

# tfmot keys Rescaling by ``Rescaling.__class__`` (the metaclass), so pruning a model
# containing Rescaling raises.
_PRUNE_REGISTRY_BUG = ("Rescaling",)


def _keras_kind_and_role(layer_kind: str, role: str) -> tuple[str, str]:
    if layer_kind in TFLITE_OPS:
        keras_kind, roles = TFLITE_OPS[layer_kind]
        return keras_kind, roles.get(role, role)
    return layer_kind, role


def tfmot_prunes(layer_kind: str, role: str = "kernel") -> bool:
    """Whether tfmot's ``prune_low_magnitude`` prunes this tensor.

    Parameters
    ----------
    layer_kind : str
        Keras class name (``"Dense"``) or TFLite op name (``"FULLY_CONNECTED"``).
    role : str
        Keras attribute (``"kernel"``, ``"bias"``, ...) or TFLite input name
        (``"filter"``, ``"weights"``, ``"bias"``).

    Returns
    -------
    bool
        True for kernels of Conv1D/2D/3D(+Transpose), Dense, LocallyConnected,
        the pointwise kernel of SeparableConv, Embedding's embeddings, the four MHA
        projection kernels and the kernel / recurrent kernel of RNN cells. False for
        biases and for every weight of DepthwiseConv2D, BatchNormalization,
        LayerNormalization and the weight-free layers.

    Raises
    ------
    ValueError
        For a layer kind tfmot's pruning registry does not know (``prune_low_magnitude``
        then refuses the whole model), including ``Rescaling`` (a tfmot registry bug)
        and ``Conv1DTranspose`` / ``PReLU``.
    """
    kind, keras_role = _keras_kind_and_role(layer_kind, role)
    if kind in _PRUNE_REGISTRY_BUG:
        raise ValueError(f"tfmot 0.8.1 cannot prune a model with {kind}: its registry "
                         f"keys the class by {kind}.__class__ (a bug)")
    if kind not in PRUNED_WEIGHTS:
        raise ValueError(f"{layer_kind!r} is not in tfmot's pruning registry: "
                         "prune_low_magnitude raises for it")
    return keras_role in PRUNED_WEIGHTS[kind]


def tfmot_clusters(layer_kind: str, role: str = "kernel", *,
                   has_trainable_weights: bool = True) -> bool:
    """Whether tfmot's ``cluster_weights`` clusters this tensor (before the skip rule).

    Same conventions as :func:`tfmot_prunes`. tfmot accepts *any* layer without
    trainable weights (pass ``has_trainable_weights=False``); a registered Conv2D can
    still be left unclustered by :func:`conv2d_has_enough_weights_to_cluster`.

    Raises
    ------
    ValueError
        For a layer with trainable weights that the clustering registry does not know
        (e.g. ``PReLU``): ``cluster_weights`` refuses the whole model.
    """
    kind, keras_role = _keras_kind_and_role(layer_kind, role)
    if kind in CLUSTERED_WEIGHTS:
        return keras_role in CLUSTERED_WEIGHTS[kind]
    if not has_trainable_weights:
        return False
    raise ValueError(f"{layer_kind!r} has trainable weights and is not in tfmot's "
                     "clustering registry: cluster_weights raises for it")


def tfmot_cluster_channel_axis(layer_kind: str, kernel_rank: int,
                               data_format: str = "channels_last") -> int | None:
    """Axis tfmot clusters along with ``cluster_per_channel=True``, or None.

    Only ``isinstance(layer, Conv2D)`` layers are clustered per channel: Conv2D and its
    subclass Conv2DTranspose (whose last kernel axis is the *input* channel). tfmot
    slices the kernel with ``W[:, :, :, c]`` (``channels_last``) or ``W[:, c]``
    (``channels_first``) even though a Keras kernel is HWIO in both formats.
    Every other layer is clustered per tensor.
    """
    kind, _ = _keras_kind_and_role(layer_kind, "kernel")
    if kind not in ("Conv2D", "Conv2DTranspose") or kernel_rank != 4:
        return None
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be channels_last or channels_first, "
                         f"got {data_format!r}")
    return 1 if data_format == "channels_first" else 3


def conv2d_has_enough_weights_to_cluster(kernel_size: int, number_of_clusters: int,
                                         per_channel: bool = False, *,
                                         last_trainable_size: int | None = None) -> bool:
    """tfmot's skip rule for Conv2D: False means the layer is left unwrapped.

    Rule (``layer_has_enough_weights_to_cluster``)::

        n = kernel_size                                     (per tensor)
        n = kernel_size / size(trainable_weights[-1])       (per channel, float64)
        cluster only if n > number_of_clusters

    ``trainable_weights[-1]`` is the bias (size = output channels) when the layer has
    one; without a bias it is the kernel itself, so per-channel clustering of a bias-free
    Conv2D is always skipped (n = 1). Pass ``last_trainable_size`` = number of output
    channels for a layer with bias, = ``kernel_size`` for one without.
    """
    if per_channel:
        if last_trainable_size is None or last_trainable_size <= 0:
            raise ValueError("per-channel rule needs last_trainable_size (the bias size, "
                             "or the kernel size for a layer without bias)")
        n = kernel_size / last_trainable_size
    else:
        n = float(kernel_size)
    return n > number_of_clusters
