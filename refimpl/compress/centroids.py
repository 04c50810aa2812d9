"""Centroid initialisation exactly as tfmot 0.8.1's ``clustering_centroids.py``.

Four methods, each on one 1-D interval of weights (a tensor, a channel slice, or the
negative / positive subset with sparsity preservation), all in float32:

* ``LINEAR``: :func:`tf_linspace` from min to max;
* ``DENSITY_BASED``: the inverse of a 30-point CDF (:func:`density_based_centroids`);
* ``KMEANS_PLUS_PLUS``: TF's k-means++ seeding op with seed 9
  (:mod:`refimpl.compress.tf_kmeans_pp`);
* ``RANDOM``: uniform draws (NumPy's generator: TF's stateful RNG is not portable).

:func:`init_centroids` adds per-channel and sparsity-preserving initialisation.
Data order: the weights are flattened in row-major order of the TF layout (HWIO conv,
(in, out) dense); it matters only for KMEANS_PLUS_PLUS, which samples by index.

Mirrors: ``tensorflow_model_optimization/python/core/clustering/keras/
clustering_centroids.py`` (the initialisers, ``TFCumulativeDistributionFunction``,
``TFLinearEquationSolver``, ``_zero_centroid_initialization``) and TF's
``linspace_nd``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .tf_kmeans_pp import DEFAULT_LANES, TFMOT_KMEANS_SEED, kmeans_plus_plus

__all__ = [
    "CentroidInit",
    "tf_linspace",
    "linear_centroids",
    "density_based_centroids",
    "random_centroids",
    "kmeans_plus_plus_centroids",
    "init_centroids",
]

F32Array = NDArray[np.float32]

#: Grid points of the DENSITY_BASED CDF (tfmot's constant).
CDF_GRID_POINTS = 30


class CentroidInit(str, enum.Enum):
    """tfmot's ``CentroidInitialization`` names (the enum values are these strings)."""

    LINEAR = "LINEAR"
    RANDOM = "RANDOM"
    DENSITY_BASED = "DENSITY_BASED"
    KMEANS_PLUS_PLUS = "KMEANS_PLUS_PLUS"

    @classmethod
    def parse(cls, value: str | CentroidInit) -> CentroidInit:
        """Accept ``CentroidInit``, ``"LINEAR"``, ``"linear"``, tfmot's
        ``"CentroidInitialization.LINEAR"``, or the short ``"density"`` / ``"kmeans++"``."""
        if isinstance(value, CentroidInit):
            return value
        name = str(value).rsplit(".", 1)[-1].upper()
        name = {"DENSITY": "DENSITY_BASED", "KMEANS++": "KMEANS_PLUS_PLUS"}.get(name, name)
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown centroid initialisation {value!r}; known: "
                             f"{', '.join(m.name for m in cls)}") from None


# --------------------------------------------------------------------------------------
# Initialisers on one 1-D interval
# --------------------------------------------------------------------------------------
def tf_linspace(start: float, stop: float, num: int) -> F32Array:
    """TF's float32 ``linspace``: ``[a, a + d*1, ..., a + d*(num-2), b]``.

    ``d = f32(b - a) / f32(num - 1)``; every product and sum is a float32 rounding and
    both endpoints are exact. ``num == 1`` gives ``[a]``, ``num <= 0`` an empty array.
    (``np.linspace`` computes in float64 and differs in the last bit.)
    """
    a, b = np.float32(start), np.float32(stop)
    if num <= 0:
        return np.zeros(0, dtype=np.float32)
    delta = np.float32(b - a) / np.float32(max(num - 1, 1))
    inner = a + delta * np.arange(1, max(num - 1, 1), dtype=np.float32)
    return np.concatenate([[a], inner, [b]]).astype(np.float32)[:num]


def _interval(weights: ArrayLike) -> F32Array:
    x = np.asarray(weights)
    if x.dtype != np.float32:
        x = x.astype(np.float32)
    return x.reshape(-1)


def linear_centroids(weights: ArrayLike, k: int) -> F32Array:
    """LINEAR: ``tf_linspace(min W, max W, k)``, ascending; empty for ``k <= 0``."""
    x = _interval(weights)
    if k <= 0:
        return np.zeros(0, dtype=np.float32)
    return tf_linspace(x.min(), x.max(), k)


def density_based_centroids(weights: ArrayLike, k: int, *,
                            preserve_sparsity: bool = False) -> F32Array:
    """DENSITY_BASED: invert a 30-point CDF of the weights at ``k`` probabilities.

    All float32::

        gap   = 0.01            (preserve_sparsity: min(0.01, min(|min W|, |max W|) / 2))
        grid  = tf_linspace(min W - gap, max W + gap, 30)
        cdf_j = f32(count(W <= grid_j)) / f32(W.size)
        prob  = tf_linspace(0.01, 1, k)
        i     = searchsorted(cdf, prob, side='right');  i1 = min(i, 29);  i0 = max(i1-1, 0)
        c     = grid[i1]                                   if cdf[i1] == cdf[i0]
              = (y1 - b) / a  with  a = (y0 - y1) / max(x0 - x1, 0.001),
                                     b = y1 - x1 * ((y0 - y1) / max(x0 - x1, 0.001))

    Since ``x0 < x1`` the ``max`` is always 0.001 and ``(y1 - b) / a`` is ``x1`` up to
    float32 rounding (a few ulps), so the centroids sit on the grid, ascending, often
    with duplicates. Empty for ``k <= 0``.
    """
    x = _interval(weights)
    if k <= 0:
        return np.zeros(0, dtype=np.float32)
    lo, hi = x.min(), x.max()
    gap = np.float32(0.01)
    if preserve_sparsity:
        gap = np.minimum(gap, np.minimum(np.abs(lo), np.abs(hi)) / np.float32(2.0))
    grid = tf_linspace(lo - gap, hi + gap, CDF_GRID_POINTS)
    counts = np.searchsorted(np.sort(x), grid, side="right")  # count(W <= g)
    cdf = counts.astype(np.float32) / np.float32(x.size)
    prob = tf_linspace(np.float32(0.01), np.float32(1.0), k)
    i1 = np.minimum(np.searchsorted(cdf, prob, side="right"), CDF_GRID_POINTS - 1)
    i0 = np.maximum(i1 - 1, 0)
    x1, y1, x0, y0 = grid[i1], cdf[i1], grid[i0], cdf[i0]
    with np.errstate(divide="ignore", invalid="ignore"):
        run = np.maximum(x0 - x1, np.float32(0.001))
        slope = (y0 - y1) / run
        intercept = y1 - x1 * ((y0 - y1) / run)
        solved = (y1 - intercept) / slope
    return np.where(y1 == y0, x1, solved).astype(np.float32)


def random_centroids(weights: ArrayLike, k: int, *,
                     seed: int | np.random.Generator = 0) -> F32Array:
    """RANDOM: ``k`` uniform draws in ``[min W, max W)``, unsorted.

    tfmot calls the stateful ``tf.random.uniform`` (global seed and op counter), which
    cannot be reproduced outside TF; here the draws come from NumPy's PCG64 with
    ``seed`` (or a Generator, continued): ``u = Generator.random(k, float32)``,
    ``c = u * (max - min) + min`` in float32 (TF's formula). Same distribution,
    different numbers.
    """
    x = _interval(weights)
    if k <= 0:
        return np.zeros(0, dtype=np.float32)
    lo, hi = x.min(), x.max()
    u = np.random.default_rng(seed).random(k, dtype=np.float32)
    return (u * np.float32(hi - lo) + lo).astype(np.float32)


def kmeans_plus_plus_centroids(weights: ArrayLike, k: int, *,
                               seed: int = TFMOT_KMEANS_SEED,
                               lanes: int = DEFAULT_LANES) -> F32Array:
    """KMEANS_PLUS_PLUS: TF's k-means++ seeding with ``seed`` (tfmot: 9).

    Bit-exact with TF when the data has at least ``k`` distinct values (see
    :mod:`refimpl.compress.tf_kmeans_pp`); unsorted; empty for ``k <= 0``.

    Raises
    ------
    ValueError
        If ``k`` exceeds the number of weights (TF raises InvalidArgument).
    """
    x = _interval(weights)
    if k <= 0:
        return np.zeros(0, dtype=np.float32)
    return kmeans_plus_plus(x, k, seed=seed, lanes=lanes)


@dataclass(frozen=True)
class _Init:
    """One initialisation request; ``rng`` feeds RANDOM across all intervals in order."""

    method: CentroidInit
    seed: int | None
    lanes: int
    rng: np.random.Generator


def _init_interval(x: F32Array, k: int, how: _Init, preserve_sparsity: bool) -> F32Array:
    if how.method is CentroidInit.LINEAR:
        return linear_centroids(x, k)
    if how.method is CentroidInit.DENSITY_BASED:
        return density_based_centroids(x, k, preserve_sparsity=preserve_sparsity)
    if how.method is CentroidInit.KMEANS_PLUS_PLUS:
        return kmeans_plus_plus_centroids(
            x, k, seed=TFMOT_KMEANS_SEED if how.seed is None else how.seed,
            lanes=how.lanes)
    return random_centroids(x, k, seed=how.rng)


def _zero_centroid_init(x: F32Array, k: int, how: _Init) -> F32Array:
    """Sparsity-preserving init: ``concat(init(neg, kn), [0], init(pos, k-1-kn))``.

    ``kn = round_half_even((k-1) * (#neg / #nonzero))`` in float64; ``[0]`` alone when
    every weight is zero. The negative and positive subsets keep row-major order.
    """
    negative = x[x < 0]
    positive = x[x > 0]
    nonzero = negative.size + positive.size
    if nonzero == 0:
        return np.zeros(1, dtype=np.float32)
    k_neg = int(np.rint((k - 1) * (negative.size / nonzero)))
    k_pos = (k - 1) - k_neg
    # A side without weights always gets 0 clusters (kn = 0 or kp = 0).
    parts = [_init_interval(side, count, how, True) if count > 0
             else np.zeros(0, dtype=np.float32)
             for side, count in ((negative, k_neg), (positive, k_pos))]
    return np.concatenate([parts[0], np.zeros(1, dtype=np.float32), parts[1]])


def _channel_major(w: NDArray[Any], channel_axis: int | None) -> NDArray[Any]:
    """(G, m): one row per channel (G = 1 per tensor), row-major within a channel."""
    if channel_axis is None:
        return w.reshape(1, -1)
    return np.moveaxis(w, channel_axis, 0).reshape(w.shape[channel_axis], -1)


def _from_channel_major(rows: NDArray[Any], shape: tuple[int, ...],
                        channel_axis: int | None) -> NDArray[Any]:
    if channel_axis is None:
        return rows.reshape(shape)
    moved = (shape[channel_axis],) + tuple(s for i, s in enumerate(shape) if i != channel_axis)
    return np.moveaxis(rows.reshape(moved), 0, channel_axis)


def _axis(w: NDArray[Any], channel_axis: int | None) -> int | None:
    if channel_axis is None:
        return None
    if not -w.ndim <= channel_axis < w.ndim:
        raise ValueError(f"channel_axis {channel_axis} out of range for rank {w.ndim}")
    return channel_axis % w.ndim


def init_centroids(weights: ArrayLike, k: int,
                   method: str | CentroidInit = CentroidInit.KMEANS_PLUS_PLUS, *,
                   channel_axis: int | None = None, preserve_sparsity: bool = False,
                   seed: int | None = None, lanes: int = DEFAULT_LANES) -> F32Array:
    """Initial centroids as tfmot's ``ClusterWeights.build`` computes them.

    Parameters
    ----------
    weights : float array (TF layout)
    k : int, number of clusters
    method : CentroidInit or its name
    channel_axis : int, optional
        Per-channel clustering along this axis (tfmot: 3 for a channels_last Conv2D,
        see :func:`refimpl.compress.registry.tfmot_cluster_channel_axis`); each
        channel slice is initialised independently (KMEANS_PLUS_PLUS restarts its
        RNG with the same seed for every channel).
    preserve_sparsity : bool
        Zero-centroid initialisation (:func:`_zero_centroid_init`).
    seed : int, optional
        KMEANS_PLUS_PLUS: Philox seed, default 9 (tfmot's). RANDOM: NumPy seed,
        default 0.
    lanes : int
        Eigen packet width for KMEANS_PLUS_PLUS (8 = x86 pip wheel).

    Returns
    -------
    float32 (k,) per tensor, (C, k) per channel
        A per-tensor result can be shorter than ``k`` only with preserve_sparsity and
        all-zero weights (``[0]``).

    Raises
    ------
    ValueError
        KMEANS_PLUS_PLUS with ``k`` (or a side's share) above the number of weights
        available; per-channel preserve_sparsity where channels get different numbers
        of centroids (an all-zero channel): tfmot fails to stack them too.
    """
    w = np.asarray(weights, dtype=np.float32)
    how = _Init(CentroidInit.parse(method), seed, lanes,
                np.random.default_rng(0 if seed is None else seed))
    rows = _channel_major(w, _axis(w, channel_axis))

    def one(x: F32Array) -> F32Array:
        if preserve_sparsity:
            return _zero_centroid_init(x, k, how)
        return _init_interval(x, k, how, False)

    per_row = [one(row) for row in rows]
    if channel_axis is None:
        return per_row[0]
    if len({c.size for c in per_row}) != 1:
        raise ValueError("per-channel centroids of different lengths (an all-zero channel "
                         "with preserve_sparsity); tfmot cannot stack them either")
    return np.stack(per_row).astype(np.float32)
