"""Magnitude pruning masks exactly as tfmot 0.8.1 computes them.

Three mask kinds, chosen like ``Pruning._maybe_update_block_mask``:

* **element-wise** (``block_size=(1, 1)``, the default): :func:`magnitude_mask`;
* **block** (rank-2 weights, any other ``block_size``): :func:`block_mask`;
* **m-by-n** (``sparsity_m_by_n=(m, n)``, e.g. 2:4): :func:`m_by_n_mask`.

:func:`prune_mask` dispatches; :func:`update_mask` adds the step logic of a training
call (when the mask is recomputed). Masks come back in the weights' dtype (0 / 1),
as tfmot's ``mask`` variable; the pruned kernel is ``weights * mask``.

Element-wise rule (the whole tensor shares one threshold)::

    a = |W|,  n = a.size
    k = max(round_half_even(f32(n) * (f32(1) - f32(s))), 1)    # kept
    t = k-th largest value of a                                  # threshold
    mask = a >= t                                                # ties all kept

so the achieved sparsity can be *below* ``s`` when values tie at ``t``, an all-zero
tensor keeps everything, and at least one weight is kept.

Which tensors tfmot prunes: :func:`refimpl.compress.registry.tfmot_prunes`
(kernels; never biases or depthwise kernels).

Mirrors: ``tensorflow_model_optimization/python/core/sparsity/keras/
pruning_impl.py`` (``Pruning._update_mask``, ``_maybe_update_block_mask``,
``_update_mask_sparsity_m_by_n``, ``conditional_mask_update``) and
``pruning_utils.py`` (``factorized_pool``, ``expand_tensor``, ``weights_rearrange``,
``generate_m_by_n_mask``, ``m_by_n_sparsity_mask_prepare``, ``is_pruned_m_by_n``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .schedules import PruningSchedule

__all__ = [
    "PruneMask",
    "keep_count",
    "magnitude_mask",
    "block_mask",
    "block_pool",
    "m_by_n_mask",
    "prune_mask",
    "update_mask",
    "is_pruned_m_by_n",
    "M_BY_N_THRESHOLD",
]

#: What tfmot stores in the ``threshold`` variable for an m-by-n mask.
M_BY_N_THRESHOLD = 999.0


@dataclass(frozen=True)
class PruneMask:
    """A pruning mask and what it was derived from.

    Attributes
    ----------
    mask : ndarray, shape and float dtype of the weights
        1 where the weight is kept, 0 where it is pruned.
    threshold : numpy scalar of the weights' dtype
        The k-th largest magnitude (a pooled magnitude for block masks),
        :data:`M_BY_N_THRESHOLD` for m-by-n masks.
    kept : int
        ``k`` of the rule (elements or blocks), before ties; for m-by-n the number of
        non-zeros the pattern allows (``n - m`` per group, counting padded groups).
    """

    mask: NDArray[Any]
    threshold: Any
    kept: int

    @property
    def sparsity(self) -> float:
        """Fraction of zeros in the mask."""
        return float(1.0 - np.count_nonzero(self.mask) / self.mask.size)


def _float_weights(weights: ArrayLike) -> NDArray[np.floating]:
    w = np.asarray(weights)
    if w.dtype.kind != "f":
        raise ValueError(f"weights must be a float array, got dtype {w.dtype}")
    if w.size == 0:
        raise ValueError("weights are empty")
    return w


def keep_count(size: int, sparsity: float) -> int:
    """``max(round_half_even(f32(size) * (f32(1) - f32(sparsity))), 1)``.

    float32 product, banker's rounding (``tf.math.round``): size 10 at s = 0.25 keeps 8
    (7.5 -> 8), size 6 at 0.25 keeps 4 (4.5 -> 4).
    """
    one_minus = np.float32(1.0) - np.float32(sparsity)
    product = np.float32(size) * one_minus
    return int(max(np.rint(product), np.float32(1.0)))


def _threshold_mask(magnitudes: NDArray[np.floating],
                    sparsity: float) -> tuple[NDArray[np.bool_], Any, int]:
    """Element-wise rule on an array of magnitudes: (keep, threshold, k)."""
    flat = magnitudes.reshape(-1)
    k = keep_count(flat.size, sparsity)
    # k-th largest = element n-k of the ascending order (top_k sorts descending).
    threshold = np.partition(flat, flat.size - k)[flat.size - k]
    return magnitudes >= threshold, threshold, k


def magnitude_mask(weights: ArrayLike, sparsity: float) -> PruneMask:
    """Element-wise magnitude mask over the whole tensor (any rank).

    Parameters
    ----------
    weights : float array, any shape (Keras layout, e.g. HWIO conv, (in, out) dense)
    sparsity : float
        Target fraction of zeros; used as float32, like the schedule's output.

    Returns
    -------
    PruneMask
        ``mask = |W| >= t`` with ``t`` the k-th largest ``|W|`` (module docstring).
    """
    w = _float_weights(weights)
    keep, threshold, k = _threshold_mask(np.abs(w), sparsity)
    return PruneMask(keep.astype(w.dtype), w.dtype.type(threshold), k)


def _same_pool_1d(a: NDArray[np.floating], window: int, pooling: str) -> NDArray[Any]:
    """Non-overlapping 'SAME' pooling along axis 0 with stride = window.

    TF pads ``pad = ceil(L/window)*window - L`` cells, ``pad // 2`` *before* the data
    and the rest after. 'AVG' divides each window's float32 sum (in index order) by
    the number of real cells in it; 'MAX' takes the maximum of the real cells.
    """
    length = a.shape[0]
    out_len = -(-length // window)
    pad = out_len * window - length
    before = pad // 2
    fill = 0.0 if pooling == "AVG" else -np.inf
    padded = np.full((out_len * window,) + a.shape[1:], fill, dtype=a.dtype)
    padded[before:before + length] = a
    blocks = padded.reshape((out_len, window) + a.shape[1:])
    if pooling == "MAX":
        return blocks.max(axis=1)
    sums = np.cumsum(blocks, axis=1, dtype=a.dtype)[:, -1]  # sequential float sum
    valid = np.zeros(out_len * window, dtype=np.int64)
    valid[before:before + length] = 1
    counts = valid.reshape(out_len, window).sum(axis=1).astype(a.dtype)
    return sums / counts.reshape((out_len,) + (1,) * (a.ndim - 1))


def block_pool(magnitudes: ArrayLike, block_size: Sequence[int],
               pooling: str = "AVG") -> NDArray[Any]:
    """Pool a rank-2 array of magnitudes into blocks like ``factorized_pool``.

    Two 1-D passes, rows then columns, each a 'SAME' pool with stride = window
    (:func:`_same_pool_1d`). Output shape ``(ceil(H/bh), ceil(W/bw))``.

    Note the offset: when ``H % bh != 0`` the padding is split, ``pad // 2`` cells
    before row 0, so pooled block ``i`` covers rows ``i*bh - pad//2 ...`` while
    :func:`block_mask` expands it back onto rows ``i*bh ...`` (tfmot's behaviour).
    """
    a = np.asarray(magnitudes)
    if a.ndim != 2:
        raise ValueError("block pooling needs a rank-2 array")
    if pooling not in ("AVG", "MAX"):
        raise ValueError(f"block_pooling_type must be 'AVG' or 'MAX', got {pooling!r}")
    bh, bw = (int(b) for b in block_size)
    rows = _same_pool_1d(a, bh, pooling)
    return _same_pool_1d(rows.T, bw, pooling).T


def block_mask(weights: ArrayLike, sparsity: float, block_size: Sequence[int] = (1, 1),
               pooling: str = "AVG") -> PruneMask:
    """Block-sparse magnitude mask for rank-2 weights.

    Steps (``_maybe_update_block_mask``)::

        a      = |squeeze(W)|                            (H, W)
        pooled = block_pool(a, (bh, bw), AVG | MAX)      (ceil(H/bh), ceil(W/bw))
        keep   = element-wise rule on pooled             k counts blocks
        mask   = repeat(keep, bh, axis 0), repeat(keep, bw, axis 1), crop to (H, W)

    Raises
    ------
    ValueError
        If the weights are not rank 2 (tfmot refuses block sparsity on a Conv2D
        kernel), if squeezing leaves fewer than 2 axes, or if a pooled axis has
        length 1 (tfmot's ``expand_tensor`` then fails on the squeezed rank-1 array).
    """
    w = _float_weights(weights)
    bh, bw = (int(b) for b in block_size)
    if (bh, bw) == (1, 1):
        return magnitude_mask(w, sparsity)
    if bh < 1 or bw < 1:
        raise ValueError(f"block_size must be positive, got {tuple(block_size)}")
    if w.ndim != 2:
        raise ValueError("Block Sparsity can only be used for layers which have "
                         f"2-dimensional weights (got shape {w.shape})")
    squeezed = np.squeeze(w)
    if squeezed.ndim != 2:
        raise ValueError(f"weights of shape {w.shape} squeeze to rank {squeezed.ndim}; "
                         "tfmot's block pooling needs rank 2")
    pooled = block_pool(np.abs(squeezed), (bh, bw), pooling)
    if 1 in pooled.shape:
        raise ValueError(f"pooled shape {pooled.shape} has a length-1 axis; tfmot squeezes "
                         "it and its block expansion then fails")
    keep, threshold, k = _threshold_mask(pooled, sparsity)
    expanded = np.repeat(np.repeat(keep, bh, axis=0), bw, axis=1)
    mask = expanded[:squeezed.shape[0], :squeezed.shape[1]].reshape(w.shape)
    return PruneMask(mask.astype(w.dtype), w.dtype.type(threshold), k)


def _rearrange(w: NDArray[Any]) -> NDArray[Any]:
    """TF layout -> rows of the TFLite input-channel axis (``weights_rearrange``)."""
    if w.ndim == 2:   # Dense (in, out) -> (out, in)
        return w.T
    if w.ndim == 4:   # Conv2D (h, w, cin, cout) -> (cout*h*w, cin)
        return np.transpose(w, (3, 0, 1, 2)).reshape(-1, w.shape[2])
    raise ValueError(f"weight tensor with shape: {w.shape} is not supported.")


def _restore(mask2d: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    if len(shape) == 2:
        return mask2d.T
    h, kw, cin, cout = shape
    return np.transpose(mask2d.reshape(cout, h, kw, cin), (1, 2, 3, 0))


def m_by_n_mask(weights: ArrayLike, m_by_n: Sequence[int] = (2, 4)) -> PruneMask:
    """Structured m:n mask: at least ``m`` zeros in every ``n`` consecutive weights.

    The groups run along the *input-channel* axis of the TFLite layout: a Dense
    kernel (in, out) is viewed as (out, in), a Conv2D kernel (h, w, cin, cout) as
    (cout*h*w, cin). Each row of ``|W|`` is right-padded with zeros to
    ``C + (n - C % n)`` columns (a whole extra group when ``C % n == 0``), cut into
    groups of ``n``, and in each group the ``n - m`` largest magnitudes are kept;
    equal magnitudes go to the lower index (``tf.math.top_k``). Padding zeros take
    part: a row tail of at most ``n - m`` real weights is kept whole.

    Raises
    ------
    ValueError
        For ranks other than 2 and 4, or unless ``0 <= m < n``.
    """
    w = _float_weights(weights)
    m, n = (int(v) for v in m_by_n)
    if not 0 <= m < n:
        raise ValueError(f"Argument m_by_n received {tuple(m_by_n)}, m must be smaller "
                         "than n (and >= 0).")
    rows = np.abs(_rearrange(w))
    r, c = rows.shape
    padded = np.zeros((r, c + (n - c % n)), dtype=rows.dtype)
    padded[:, :c] = rows
    groups = padded.reshape(-1, n)
    # Descending by magnitude, ties by ascending index: a stable sort of -|w|.
    order = np.argsort(-groups, axis=1, kind="stable")[:, : n - m]
    keep = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    mask2d = keep.reshape(padded.shape)[:, :c]
    mask = _restore(mask2d, w.shape)
    return PruneMask(mask.astype(w.dtype), w.dtype.type(M_BY_N_THRESHOLD),
                     groups.shape[0] * (n - m))


def prune_mask(weights: ArrayLike, sparsity: float, *, block_size: Sequence[int] = (1, 1),
               block_pooling_type: str = "AVG",
               sparsity_m_by_n: Sequence[int] | None = None) -> PruneMask:
    """The mask tfmot computes for one weight at ``sparsity`` (its dispatch order).

    ``sparsity_m_by_n`` wins (sparsity ignored); otherwise ``block_size == (1, 1)``
    gives :func:`magnitude_mask`, any other block size :func:`block_mask`.
    """
    if block_pooling_type not in ("AVG", "MAX"):
        raise ValueError(f"block_pooling_type must be 'AVG' or 'MAX', "
                         f"got {block_pooling_type!r}")
    if sparsity_m_by_n:
        return m_by_n_mask(weights, sparsity_m_by_n)
    if tuple(int(b) for b in block_size) == (1, 1):
        return magnitude_mask(weights, sparsity)
    return block_mask(weights, sparsity, block_size, block_pooling_type)


def update_mask(weights: ArrayLike, mask: ArrayLike, step: int, schedule: PruningSchedule,
                *, block_size: Sequence[int] = (1, 1), block_pooling_type: str = "AVG",
                sparsity_m_by_n: Sequence[int] | None = None) -> tuple[NDArray[Any], bool]:
    """One training call's mask logic: ``(mask after the call, whether it was recomputed)``.

    ``step`` is the value *after* the call's increment (1 for the first batch).
    The mask is recomputed from the current, unmasked ``weights`` when
    ``schedule.should_prune(step)`` holds, or, with ``sparsity_m_by_n``, only when
    ``step == 1``; otherwise ``mask`` is returned unchanged. The layer then uses
    ``weights * mask``; gradients are not masked, so pruned weights regrow between
    updates and may come back at the next update.
    """
    if sparsity_m_by_n:
        due = step == 1
    else:
        due = bool(schedule.should_prune(step))
    if not due:
        return np.asarray(mask), False
    sparsity = float(schedule.sparsity(step))
    new = prune_mask(weights, sparsity, block_size=block_size,
                     block_pooling_type=block_pooling_type, sparsity_m_by_n=sparsity_m_by_n)
    return new.mask, True


def is_pruned_m_by_n(weights: ArrayLike, m_by_n: Sequence[int] = (2, 4),
                     last_channel: str = "C_OUT") -> bool:
    """Whether every group of ``n`` has at most ``n - m`` non-zeros (tfmot's checker).

    ``last_channel="C_OUT"``: TF layout, rearranged as in :func:`m_by_n_mask`;
    ``"C_IN"``: already TFLite layout, flattened to (-1, last axis). Groups start at
    column 0 of each row; the last group may be shorter.
    """
    w = np.asarray(weights)
    m, n = (int(v) for v in m_by_n)
    if m > n:
        raise ValueError(f"number of zeros can't be more than number elements: {m} > {n}")
    if last_channel.endswith("C_IN"):
        rows = w.reshape(-1, w.shape[-1])
    elif last_channel.endswith("C_OUT"):
        rows = _rearrange(w)
    else:
        raise ValueError("last_channel must be `C_IN` or `C_OUT`")
    r, c = rows.shape
    padded = np.zeros((r, -(-c // n) * n), dtype=rows.dtype)
    padded[:, :c] = rows
    nonzeros = np.count_nonzero(padded.reshape(r, -1, n), axis=2)
    return bool(np.all(nonzeros <= n - m))
