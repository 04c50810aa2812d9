"""Weight pruning and clustering exactly as tensorflow-model-optimization 0.8.1 does them.

NumPy-only reproductions of tfmot's algorithms, so that a pruned or clustered model can
be explained (and produced) without TensorFlow:

=====================================  =================================================
:mod:`~refimpl.compress.pruning`        magnitude, block (AVG/MAX) and m-by-n masks;
                                        the mask update of one training step
:mod:`~refimpl.compress.schedules`      ``ConstantSparsity`` / ``PolynomialDecay`` as
                                        pure float32 functions of the step
:mod:`~refimpl.compress.centroids`      LINEAR / DENSITY_BASED / KMEANS_PLUS_PLUS /
                                        RANDOM centroids, per channel, sparsity
                                        preserving
:mod:`~refimpl.compress.clustering`     nearest-centroid assignment, the whole
                                        procedure, optional Lloyd iterations
:mod:`~refimpl.compress.tf_kmeans_pp`   TF's k-means++ seeding op (Philox RNG, Eigen's
                                        float sum order)
:mod:`~refimpl.compress.glibc_powf`     glibc's ``powf`` (TF's scalar ``Pow``)
:mod:`~refimpl.compress.registry`       which layer weights tfmot prunes / clusters
=====================================  =================================================

Everything is float32 where tfmot computes in float32, so masks, thresholds,
sparsities and centroids are bit-identical to tfmot's (``compare/test_tfmot_parity.py``
checks this against the installed tfmot). What cannot be identical, and why, is stated
where it applies: RANDOM centroids (TF's stateful global RNG) and k-means++ on data
with fewer distinct values than clusters (undefined in TF 2.21).
"""

from __future__ import annotations

from .clustering import (
    CentroidInit,
    Clustering,
    assign,
    cluster_weights,
    gather,
    inertia,
    init_centroids,
    lloyd,
    tf_linspace,
)
from .pruning import (
    PruneMask,
    block_mask,
    is_pruned_m_by_n,
    keep_count,
    m_by_n_mask,
    magnitude_mask,
    prune_mask,
    update_mask,
)
from .registry import (
    conv2d_has_enough_weights_to_cluster,
    tfmot_cluster_channel_axis,
    tfmot_clusters,
    tfmot_prunes,
)
from .schedules import ConstantSparsity, PolynomialDecay, PruningSchedule, should_prune
from .tf_kmeans_pp import kmeans_plus_plus

__all__ = [
    "CentroidInit", "Clustering", "assign", "cluster_weights", "gather", "inertia",
    "init_centroids", "lloyd", "tf_linspace",
    "PruneMask", "block_mask", "is_pruned_m_by_n", "keep_count", "m_by_n_mask",
    "magnitude_mask", "prune_mask", "update_mask",
    "conv2d_has_enough_weights_to_cluster", "tfmot_cluster_channel_axis",
    "tfmot_clusters", "tfmot_prunes",
    "ConstantSparsity", "PolynomialDecay", "PruningSchedule", "should_prune",
    "kmeans_plus_plus",
]
