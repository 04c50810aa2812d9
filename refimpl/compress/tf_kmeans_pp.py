"""TensorFlow's k-means++ seeding op, bit for bit: Philox RNG, Eigen float sum, sampling.

tfmot's ``KMEANS_PLUS_PLUS`` centroid initialisation calls the C++ op
``KmeansPlusPlusInitialization(points, k, seed=9, num_retries_per_sample=-1)``. It is
only the k-means++ *seeding* (greedy, with retries), not a Lloyd k-means, and its
randomness is TF's own Philox stream seeded with the constant 9, independent of
``tf.random.set_seed``. To reproduce it we need three pieces of TF/Eigen behaviour:

* :class:`Philox4x32` and :class:`SimplePhilox`: the counter-based generator and the
  draws the op makes from it (``Uniform64``, ``RandFloat``);
* :func:`eigen_sum`: Eigen's vectorised float32 reduction (the "potential" of a
  candidate), whose summation order depends on the SIMD width (8 lanes for the x86
  pip wheel, built for AVX);
* :func:`upper_bound`: ``std::upper_bound`` (binary search, first element ``> v``).

Algorithm (:func:`kmeans_plus_plus`, 1-D points ``x``, all float32)::

    R      = retries if retries >= 0 else 2 + floor(ln k)
    hs[i]  = 0.5 * x[i]*x[i]
    d_j[i] = (hs[i] - x[i]*x[j]) + hs[j]           # half squared distance to x[j]
    mind   = +inf;  chosen = {}
    for c in 0..k-1:
        if c > 0: cums = sequential float32 cumsum(mind)
        best = +inf
        repeat R + 1 times:                      # also for the first centre
            j   = Uniform64(n)  if chosen is empty  else
                  upper_bound(cums, f32(RandFloat() * cums[n-1])), redrawn while j in chosen
            new = min(mind, d_j);  pot = eigen_sum(new)
            if pot < best: best, j_best, new_best = pot, j, new     # first wins ties
        mind = new_best;  chosen += {j_best};  centroid[c] = x[j_best]

Centroids come back in sampling order (unsorted). With fewer distinct values than
``k`` the total ``cums[n-1]`` reaches 0; TF 2.21's kernel then reads past its array
(undefined result) while newer TF sources draw ``Uniform64(n)`` instead: this module
does the latter, so such inputs are deterministic here but not comparable with
TF 2.21.

Mirrors: ``tensorflow/core/kernels/clustering_ops.cc``
(``KmeansPlusPlusInitializationOp``), ``xla/tsl/lib/random/philox_random.h``,
``random_distributions.h`` (``Uint32ToFloat``), ``simple_philox.cc``,
``exact_uniform_int.h``, and Eigen's ``redux_impl`` (LinearVectorizedTraversal) with
the SSE/AVX ``predux``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Philox4x32", "SimplePhilox", "eigen_sum", "upper_bound", "kmeans_plus_plus",
           "TFMOT_KMEANS_SEED", "DEFAULT_LANES"]

#: The seed tfmot passes to the op (a constant, not the TF global seed).
TFMOT_KMEANS_SEED = 9
#: float32 lanes of Eigen's packet in the x86 TF pip wheel (AVX). 4 for SSE-only
#: builds, 16 for AVX-512 builds (NEON's horizontal add differs and is not modelled).
DEFAULT_LANES = 8

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_MUL_A = 0xD2511F53
_MUL_B = 0xCD9E8D57
_KEY_A = 0x9E3779B9
_KEY_B = 0xBB67AE85


class Philox4x32:
    """Philox4x32-10 with a 64-bit key from ``seed`` and a 128-bit counter from 0.

    Each call runs 10 rounds on the counter words ``(c0, c1, c2, c3)``::

        (hi0, lo0) = 0xD2511F53 * c0        (hi1, lo1) = 0xCD9E8D57 * c2
        c = (hi1 ^ c1 ^ k0,  lo1,  hi0 ^ c3 ^ k1,  lo0)

    raising the key by ``(0x9E3779B9, 0xBB67AE85)`` between rounds (9 times), returns
    the 4 words and then increments the counter by one (carry across words).
    """

    def __init__(self, seed: int, counter: tuple[int, int, int, int] = (0, 0, 0, 0)):
        seed &= _M64
        self.key = (seed & _M32, seed >> 32)
        self.counter = list(counter)

    @staticmethod
    def block(counter: tuple[int, ...] | list[int], key: tuple[int, int]) -> tuple[int, ...]:
        """The 10-round Philox function of one counter under one key."""
        c0, c1, c2, c3 = counter
        k0, k1 = key
        for round_index in range(10):
            p0 = _MUL_A * c0
            p1 = _MUL_B * c2
            c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & _M32, (p0 >> 32) ^ c3 ^ k1,
                              p0 & _M32)
            if round_index < 9:
                k0 = (k0 + _KEY_A) & _M32
                k1 = (k1 + _KEY_B) & _M32
        return c0, c1, c2, c3

    def __call__(self) -> tuple[int, ...]:
        out = self.block(self.counter, self.key)
        for word in range(4):  # SkipOne: 128-bit increment
            self.counter[word] = (self.counter[word] + 1) & _M32
            if self.counter[word]:
                break
        return out


class SimplePhilox:
    """TF's ``SimplePhilox`` over a single-sample adapter (one uint32 at a time)."""

    def __init__(self, seed: int):
        self._gen = Philox4x32(seed)
        self._buffer: tuple[int, ...] = ()
        self._used = 4

    def rand32(self) -> int:
        if self._used == 4:
            self._buffer = self._gen()
            self._used = 0
        value = self._buffer[self._used]
        self._used += 1
        return value

    def rand64(self) -> int:
        low = self.rand32()
        high = self.rand32()
        return low | (high << 32)

    def rand_float(self) -> np.float32:
        """``bitcast(0x3F800000 | (u & 0x7FFFFF)) - 1``: 23 random bits in [0, 1)."""
        return np.float32((self.rand32() & 0x7FFFFF) * 2.0**-23)  # exact

    def uniform64(self, n: int) -> int:
        """Exact uniform integer in ``[0, n)`` (``ExactUniformInt``, rejection)."""
        if n <= 0:
            raise ValueError("uniform64 needs n > 0")
        if n & (n - 1) == 0:
            return self.rand64() & (n - 1)
        reject_below = (_M64 % n) + 1
        while True:
            value = self.rand64()
            if value >= reject_below:
                return value % n


def eigen_sum(values: NDArray[np.float32], lanes: int = DEFAULT_LANES) -> np.float32:
    """float32 sum in the order of Eigen's vectorised ``VectorXf::sum()``.

    For ``n >= lanes`` (aligned storage, ``P = lanes``)::

        p0 = v[0:P];  p1 = v[P:2P]                       (p1 only if n >= 2P)
        for s in 2P, 4P, ... while s + 2P <= n:  p0 += v[s:s+P];  p1 += v[s+P:s+2P]
        p0 += p1;  if one more whole packet fits: p0 += it
        fold halves down to 4 lanes: l[i] = p[i] + p[i + width/2]
        result = (l0 + l2) + (l1 + l3), then + each tail element in order

    and a plain sequential sum for ``n < lanes``.
    """
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    n = v.size
    if lanes not in (4, 8, 16):
        raise ValueError("lanes must be 4, 8 or 16")
    if n < lanes:
        return np.cumsum(v, dtype=np.float32)[-1] if n else np.float32(0.0)
    aligned = (n // lanes) * lanes
    aligned2 = (n // (2 * lanes)) * (2 * lanes)
    if aligned > lanes:
        pairs = v[:aligned2].reshape(-1, 2 * lanes)
        acc = np.cumsum(pairs, axis=0, dtype=np.float32)[-1]  # sequential per lane
        packet = acc[:lanes] + acc[lanes:]
        if aligned > aligned2:
            packet = packet + v[aligned2:aligned2 + lanes]
    else:
        packet = v[:lanes].copy()
    while packet.size > 4:
        half = packet.size // 2
        packet = packet[:half] + packet[half:]
    total = (packet[0] + packet[2]) + (packet[1] + packet[3])
    for tail in v[aligned:]:
        total = np.float32(total + tail)
    return np.float32(total)


def upper_bound(sorted_values: NDArray[np.float32], value: np.float32) -> int:
    """``std::upper_bound``: libstdc++'s binary search for the first element > value.

    Written out so that its probes match C++ even if ``sorted_values`` is not quite
    monotone (float rounding can make a distance slightly negative).
    """
    first, count = 0, sorted_values.size
    while count > 0:
        step = count // 2
        probe = first + step
        if not value < sorted_values[probe]:
            first = probe + 1
            count -= step + 1
        else:
            count = step
    return first


def kmeans_plus_plus(points: ArrayLike, k: int, *, seed: int = TFMOT_KMEANS_SEED,
                     retries: int = -1, lanes: int = DEFAULT_LANES) -> NDArray[np.float32]:
    """TF's ``kmeans_plus_plus_initialization`` on 1-D points (module docstring).

    Parameters
    ----------
    points : float32 array, flattened in row-major order
    k : int, 1 <= k <= points.size
    seed : int, default 9 (tfmot's constant)
    retries : int, default -1 (= ``2 + floor(ln k)``)
    lanes : int, default 8 (Eigen packet width of the TF build)

    Returns
    -------
    float32 (k,)
        Chosen point values in sampling order.

    Raises
    ------
    ValueError
        If ``k < 1``, ``k > points.size`` or there are no points (TF raises
        InvalidArgument).
    """
    x = np.asarray(points, dtype=np.float32).reshape(-1)
    n = x.size
    if n == 0:
        raise ValueError("Expected points.rows() > 0.")
    if k <= 0:
        raise ValueError("Expected num_to_sample > 0.")
    if k > n:
        raise ValueError(f"Expected num_to_sample <= points.rows(). {k} vs {n}.")
    tries = 1 + (retries if retries >= 0 else 2 + int(math.log(k)))
    half_sq = np.float32(0.5) * (x * x)
    rng = SimplePhilox(seed)
    min_dist = np.full(n, np.inf, dtype=np.float32)
    cums = min_dist
    chosen: list[int] = []
    chosen_set: set[int] = set()

    def draw() -> int:
        if not chosen_set:
            return rng.uniform64(n)
        while True:
            total = cums[n - 1]
            if not total > 0:  # newer TF: uniform fallback (TF 2.21: undefined)
                index = rng.uniform64(n)
            else:
                target = np.float32(rng.rand_float() * total)
                index = min(upper_bound(cums, target), n - 1)
            if index not in chosen_set:
                return index

    for centre in range(k):
        if centre > 0:
            cums = np.cumsum(min_dist, dtype=np.float32)
        best_potential = np.float32(np.inf)
        best_index = 0
        best_dist = min_dist
        for _ in range(tries):
            index = draw()
            dist = (half_sq - x * x[index]) + half_sq[index]
            candidate = np.minimum(min_dist, dist)
            potential = eigen_sum(candidate, lanes)
            if potential < best_potential:
                best_potential, best_index, best_dist = potential, index, candidate
        min_dist = best_dist
        chosen.append(best_index)
        chosen_set.add(best_index)
    return x[np.asarray(chosen, dtype=np.int64)]
