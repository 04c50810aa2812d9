"""Weight clustering as tfmot 0.8.1 initialises and assigns it, plus optional Lloyd steps.

tfmot's ``cluster_weights`` replaces each clusterable kernel ``W`` by ``c[idx]``: ``k``
centroids ``c`` (per tensor, or per output channel for Conv2D with
``cluster_per_channel=True``) and for every weight the index of its nearest centroid.
What tfmot does, and what this module reproduces bit for bit in float32:

1. **Initialise** the centroids from ``W`` (:func:`init_centroids`):
   ``LINEAR``, ``DENSITY_BASED``, ``KMEANS_PLUS_PLUS`` (TF's seeding op with seed 9,
   :mod:`refimpl.compress.tf_kmeans_pp`) or ``RANDOM``; optionally sparsity-preserving
   (a zero centroid, the others split between negative and positive weights).
2. **Assign** ``idx = argmin_j |W - c_j|`` in float32, the lowest index on ties
   (:func:`assign`).

tfmot then *fine-tunes*: centroids and original weights are trained by the optimizer
with straight-through gradients and ``idx`` is recomputed on every call; it never runs
k-means (Lloyd) iterations. Without training data there is nothing to fine-tune, so
:func:`cluster_weights` offers ``lloyd_iterations`` instead: the classical
re-estimation ``c_j = mean{W_i : idx_i = j}`` followed by re-assignment, until the
assignment stops changing. With 0 iterations (the default) the result is exactly what
``strip_clustering`` gives right after ``cluster_weights`` without training.

Data order: the weights (or a channel slice, or the negative / positive subset) are
flattened in row-major order of the TF layout (HWIO conv, (in, out) dense); the order
matters only for KMEANS_PLUS_PLUS (it samples by index).

The initialisers live in :mod:`refimpl.compress.centroids` (re-exported here).

Mirrors: ``tensorflow_model_optimization/python/core/clustering/keras/
clustering_algorithm.py`` (``get_pulling_indices``, per-channel variant) and
``cluster_wrapper.py`` (``build``: sparsity mask, zero index;
``update_clustered_weights_associations``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .centroids import (  # re-exported: the initialisers belong to the clustering API
    CentroidInit,
    _axis,
    _channel_major,
    _from_channel_major,
    density_based_centroids,
    init_centroids,
    kmeans_plus_plus_centroids,
    linear_centroids,
    random_centroids,
    tf_linspace,
)
from .tf_kmeans_pp import DEFAULT_LANES

__all__ = [
    "CentroidInit",
    "Clustering",
    "tf_linspace",
    "linear_centroids",
    "density_based_centroids",
    "random_centroids",
    "kmeans_plus_plus_centroids",
    "init_centroids",
    "assign",
    "gather",
    "lloyd",
    "inertia",
    "cluster_weights",
]

F32Array = NDArray[np.float32]
I64Array = NDArray[np.int64]

_CHUNK_ELEMENTS = 1 << 22  # bound on the (weights x centroids) distance matrix


# --------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------
def _nearest(rows: F32Array, centroids: F32Array) -> I64Array:
    """rows (G, m), centroids (G, k) -> argmin_j |rows[g, i] - c[g, j]| (first on ties)."""
    groups, m = rows.shape
    k = centroids.shape[1]
    out = np.empty((groups, m), dtype=np.int64)
    step = max(1, _CHUNK_ELEMENTS // max(1, k * groups))
    for start in range(0, m, step):
        block = rows[:, start:start + step, None] - centroids[:, None, :]  # float32
        out[:, start:start + step] = np.argmin(np.abs(block), axis=-1)
    return out


def _centroid_rows(w: NDArray[Any], centroids: ArrayLike,
                   channel_axis: int | None) -> F32Array:
    c = np.asarray(centroids, dtype=np.float32)
    if channel_axis is None:
        if c.ndim != 1:
            raise ValueError(f"per-tensor centroids must be 1-D, got shape {c.shape}")
        return c.reshape(1, -1)
    if c.ndim != 2 or c.shape[0] != w.shape[channel_axis]:
        raise ValueError(f"per-channel centroids must be ({w.shape[channel_axis]}, k), "
                         f"got shape {c.shape}")
    return c


def assign(weights: ArrayLike, centroids: ArrayLike, *,
           channel_axis: int | None = None) -> I64Array:
    """Pulling indices: ``idx = argmin_j |W - c_j|``, same shape as ``weights``.

    The difference and its absolute value are float32 (as in TF), and ties go to the
    lowest centroid index; for unsorted centroids (KMEANS_PLUS_PLUS, RANDOM) that is
    the array order, not the value order. Per channel, each weight is compared with
    its own channel's row of ``centroids`` (shape (C, k)).
    """
    w = np.asarray(weights, dtype=np.float32)
    axis = _axis(w, channel_axis)
    c = _centroid_rows(w, centroids, axis)
    idx = _nearest(_channel_major(w, axis), c)
    return _from_channel_major(idx, w.shape, axis)


def gather(centroids: ArrayLike, indices: ArrayLike, *,
           channel_axis: int | None = None) -> F32Array:
    """Clustered weights ``c[idx]`` (per channel ``c[ch, idx]``)."""
    idx = np.asarray(indices, dtype=np.int64)
    axis = _axis(idx, channel_axis)
    c = _centroid_rows(idx, centroids, axis)
    rows = _channel_major(idx, axis)
    picked = np.take_along_axis(c, rows, axis=1)
    return _from_channel_major(picked, idx.shape, axis).astype(np.float32)


def inertia(weights: ArrayLike, centroids: ArrayLike, indices: ArrayLike, *,
            channel_axis: int | None = None) -> float:
    """Sum of squared distances to the assigned centroids, in float64."""
    w = np.asarray(weights, dtype=np.float64)
    clustered = gather(centroids, indices, channel_axis=channel_axis).astype(np.float64)
    return float(np.sum((w - clustered) ** 2))


def _lloyd_1d(x_sorted: NDArray[np.float64], prefix: NDArray[np.float64],
              c: NDArray[np.float64], frozen: int | None,
              max_iterations: int) -> tuple[NDArray[np.float64], int]:
    """Lloyd on sorted 1-D data; clusters are index ranges, sums come from prefix sums.

    ``c`` (k,) in any order; returns the refined centroids in the same slots. Ties at a
    midpoint go to the lower-valued centroid; equal centroids: the lower slot wins.
    Empty clusters take the values of the points farthest from their centroid.
    """
    n, k = x_sorted.size, c.size
    c = c.copy()
    bounds_old = None
    updates = 0
    while updates < max_iterations:
        order = np.argsort(c, kind="stable")
        mids = (c[order][:-1] + c[order][1:]) / 2
        bounds = np.concatenate([[0], np.searchsorted(x_sorted, mids, side="right"), [n]])
        if bounds_old is not None and np.array_equal(bounds, bounds_old):
            break
        bounds_old = bounds
        updates += 1
        counts = np.diff(bounds)
        sums = prefix[bounds[1:]] - prefix[bounds[:-1]]
        new = c[order].copy()
        filled = counts > 0
        new[filled] = sums[filled] / counts[filled]
        if frozen is not None:
            new[np.flatnonzero(order == frozen)] = c[frozen]
        empty = np.flatnonzero(~filled & (order != (-1 if frozen is None else frozen)))
        if empty.size:
            owner = np.repeat(np.arange(k), counts)
            far = np.argsort(-np.abs(x_sorted - new[owner]), kind="stable")
            candidates = [v for v in dict.fromkeys(x_sorted[far[: 4 * k]].tolist())
                          if v not in set(new.tolist())]
            for slot, value in zip(empty, candidates):
                new[slot] = value
        c[order] = new
    return c, updates


def lloyd(weights: ArrayLike, centroids: ArrayLike, *, max_iterations: int = 300,
          channel_axis: int | None = None, pinned_zero: ArrayLike | None = None
          ) -> tuple[F32Array, I64Array, int]:
    """Lloyd's k-means iterations from given centroids (not part of tfmot).

    Per tensor (or channel), on the sorted values, until the partition stops changing
    or after ``max_iterations`` updates::

        partition: each value to its nearest centroid (midpoints between sorted
                   centroids, in float64)
        c_j = mean{W_i in cluster j}       (float64 prefix sums)
        empty c_j -> values of the points farthest from their centroid (as
                     scikit-learn does); DENSITY_BASED duplicates start empty
        c[pinned_zero] stays 0             (sparsity preservation)

    then ``c`` is rounded to float32 and the indices are :func:`assign`'s (float32,
    lowest index on ties), so the result is a valid tfmot-style clustering.

    Parameters
    ----------
    weights : float array; with sparsity preservation pass ``W * sparsity_mask``
    centroids : (k,) or (C, k) float32
    channel_axis : int, optional
    pinned_zero : int array (C,) or int, optional
        Index of the zero centroid (per channel) kept at exactly 0.

    Returns
    -------
    (centroids, indices, iterations)
        ``iterations``: centroid updates run, the largest count over the channels.
    """
    w = np.asarray(weights, dtype=np.float32)
    axis = _axis(w, channel_axis)
    rows = _channel_major(w, axis)
    c = _centroid_rows(w, centroids, axis).astype(np.float64)
    groups = c.shape[0]
    zero = None if pinned_zero is None else np.broadcast_to(
        np.asarray(pinned_zero, dtype=np.int64), (groups,))
    most = 0
    for group in range(groups):
        x = np.sort(rows[group].astype(np.float64))
        prefix = np.concatenate([[0.0], np.cumsum(x)])
        frozen = None if zero is None else int(zero[group])
        if frozen is not None:
            c[group, frozen] = 0.0
        c[group], done = _lloyd_1d(x, prefix, c[group], frozen, max_iterations)
        most = max(most, done)
    c32 = c.astype(np.float32)
    idx = _nearest(rows, c32)
    out_c = c32.reshape(-1) if axis is None else c32
    return out_c, _from_channel_major(idx, w.shape, axis), most


# --------------------------------------------------------------------------------------
# The whole procedure
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clustering:
    """Result of :func:`cluster_weights`.

    Attributes
    ----------
    centroids : float32 (k,) or (C, k)
    indices : int64, shape of the weights (pulling indices)
    weights : float32, shape of the weights: ``centroids[indices]`` (the stripped kernel)
    channel_axis : int or None
    sparsity_mask : bool array or None
        preserve_sparsity only: False where the initial nearest centroid is the exact
        zero centroid (those weights stay 0).
    iterations : int
        Lloyd updates run (0 = tfmot's result without fine-tuning).
    """

    centroids: F32Array
    indices: I64Array
    weights: F32Array
    channel_axis: int | None
    sparsity_mask: NDArray[np.bool_] | None
    iterations: int

    def unique_counts(self) -> NDArray[np.int64]:
        """Distinct values per tensor (shape (1,)) or per channel (shape (C,))."""
        rows = _channel_major(self.weights, self.channel_axis)
        return np.array([np.unique(r).size for r in rows], dtype=np.int64)


def cluster_weights(weights: ArrayLike, k: int,
                    method: str | CentroidInit = CentroidInit.KMEANS_PLUS_PLUS, *,
                    channel_axis: int | None = None, preserve_sparsity: bool = False,
                    centroids: ArrayLike | None = None, lloyd_iterations: int = 0,
                    seed: int | None = None, lanes: int = DEFAULT_LANES) -> Clustering:
    """Cluster one weight tensor: tfmot's init + assignment, then optional Lloyd steps.

    Steps (``ClusterWeights.build`` then ``strip_clustering`` without training)::

        c0   = init_centroids(W, k, method, ...)   or the given ``centroids``
        idx0 = assign(W, c0)
        preserve_sparsity:  mask = c0[idx0] != 0;  z = argmin |c0|  (first on ties)
                            c0[c0 == c0[z]] = 0   (tfmot's zero reset; a no-op when
                                                   c0 holds an exact 0, as it does
                                                   after sparsity-preserving init)
                            Wm = W * mask  (masked weights snap to the zero centroid)
        idx  = assign(Wm, c0);  clustered = c0[idx]

    tfmot itself then fine-tunes centroids and weights with gradients; it never runs
    Lloyd iterations. ``lloyd_iterations > 0`` replaces that by :func:`lloyd` on
    ``Wm`` (zero centroid pinned at 0 with preserve_sparsity), which lowers the
    within-cluster squared error without data.

    Parameters
    ----------
    weights : float array (TF layout)
    k : int > 1 (> 2 with preserve_sparsity), as tfmot's wrapper requires
    method, channel_axis, preserve_sparsity, seed, lanes : see :func:`init_centroids`
    centroids : array, optional
        Use these initial centroids instead (e.g. injected from tfmot's RANDOM).
    lloyd_iterations : int, default 0

    Returns
    -------
    Clustering
        At most ``k`` distinct values per tensor, or per channel.
    """
    w = np.asarray(weights, dtype=np.float32)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise ValueError(f"number_of_clusters must be an integer, got {type(k).__name__}")
    limit = 2 if preserve_sparsity else 1
    if k <= limit:
        raise ValueError(f"number_of_clusters must be greater than {limit}. Given: {k}")
    axis = _axis(w, channel_axis)
    if centroids is None:
        c0 = init_centroids(w, int(k), method, channel_axis=axis,
                            preserve_sparsity=preserve_sparsity, seed=seed, lanes=lanes)
    else:
        c0 = _centroid_rows(w, centroids, axis).copy()
        c0 = c0.reshape(-1) if axis is None else c0
    idx0 = assign(w, c0, channel_axis=axis)
    mask = None
    work = w
    zero = None
    if preserve_sparsity:
        mask = gather(c0, idx0, channel_axis=axis) != 0
        work = w * mask.astype(np.float32)
        zero = np.argmin(np.abs(c0), axis=-1)
        zero_value = np.take_along_axis(c0, np.asarray(zero)[..., None], axis=-1)
        c0 = np.where(c0 == zero_value, np.float32(0.0), c0).astype(np.float32)
    if lloyd_iterations > 0:
        c, idx, done = lloyd(work, c0, max_iterations=lloyd_iterations,
                             channel_axis=axis, pinned_zero=zero)
    else:
        c, done = c0, 0
        idx = idx0 if not preserve_sparsity else assign(work, c0, channel_axis=axis)
    clustered = gather(c, idx, channel_axis=axis)
    return Clustering(np.asarray(c, dtype=np.float32), idx, clustered, axis, mask, done)
