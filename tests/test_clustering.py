"""Unit tests of refimpl.compress clustering and of TF's k-means++ emulation.

Golden values are hand arithmetic, published known-answer vectors (Philox4x32-10 from
Random123) or naive loop oracles written out here; the differential suite against the
installed tfmot is compare/test_tfmot_parity.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from refimpl.compress import (
    CentroidInit,
    assign,
    cluster_weights,
    gather,
    inertia,
    init_centroids,
    lloyd,
    tf_linspace,
)
from refimpl.compress.centroids import density_based_centroids, linear_centroids
from refimpl.compress.tf_kmeans_pp import (
    Philox4x32,
    SimplePhilox,
    eigen_sum,
    kmeans_plus_plus,
    upper_bound,
)

F32 = np.float32


# --------------------------------------------------------------------------------------
# TF's linspace and the simple initialisers
# --------------------------------------------------------------------------------------
def _linspace_loop(a: float, b: float, num: int) -> list[np.float32]:
    """tf.linspace written as a loop: a, a + d*1, ..., a + d*(num-2), b in float32."""
    a32, b32 = F32(a), F32(b)
    delta = F32(b32 - a32) / F32(num - 1)
    return [a32] + [F32(a32 + F32(delta * F32(i))) for i in range(1, num - 1)] + [b32]


@pytest.mark.parametrize("a, b, num", [(0.0, 1.0, 5), (0.1, 0.7, 7), (-0.13, 0.29, 16),
                                       (-1e-3, 2.5, 30)])
def test_tf_linspace_matches_the_float32_loop(a, b, num):
    got = tf_linspace(a, b, num)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _linspace_loop(a, b, num))
    assert got[0] == F32(a) and got[-1] == F32(b)  # both endpoints exact


def test_tf_linspace_degenerate_lengths():
    np.testing.assert_array_equal(tf_linspace(2.0, 3.0, 1), [2.0])
    assert tf_linspace(2.0, 3.0, 0).size == 0


def test_linear_centroids_span_min_to_max():
    np.testing.assert_array_equal(linear_centroids(np.array([3, -1, 0.5], F32), 5),
                                  [-1, 0, 1, 2, 3])
    assert linear_centroids(np.ones(3, F32), 0).size == 0


def test_density_centroids_sit_on_the_cdf_grid():
    # x = [0, 0, 0, 1]: grid = tf_linspace(-0.01, 1.01, 30); cdf is 0 below 0, 0.75 on
    # [0, 1), 1 from 1. prob = [0.01, 1]: 0.01 first exceeded at grid[1] (0.0252);
    # 1.0 never exceeded -> index 30 clipped to 29 -> grid[29] = 1.01.
    grid = tf_linspace(-0.01, 1.01, 30)
    got = density_based_centroids(np.array([0, 0, 0, 1], F32), 2)
    ulp = np.spacing(np.abs(grid[[1, 29]]))
    assert np.all(np.abs(got - grid[[1, 29]]) <= 9 * ulp)


def test_density_centroids_ascend_and_repeat():
    x = np.random.default_rng(0).laplace(size=500).astype(F32)
    got = density_based_centroids(x, 16)
    assert np.all(np.diff(got) >= 0) and np.unique(got).size < 16


def test_random_centroids_are_seeded_unsorted_and_in_range():
    x = np.random.default_rng(1).standard_normal(100).astype(F32)
    a = init_centroids(x, 8, "RANDOM", seed=5)
    np.testing.assert_array_equal(a, init_centroids(x, 8, "RANDOM", seed=5))
    assert a.min() >= x.min() and a.max() < x.max() and not np.all(np.diff(a) >= 0)


@pytest.mark.parametrize("name", ["LINEAR", "linear", "CentroidInitialization.LINEAR",
                                  CentroidInit.LINEAR])
def test_method_names_parse(name):
    assert CentroidInit.parse(name) is CentroidInit.LINEAR


# --------------------------------------------------------------------------------------
# Philox, Eigen's sum, upper_bound, k-means++
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("counter, key, expected", [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
], ids=["zeros", "ones", "pi"])
def test_philox_matches_random123_known_answers(counter, key, expected):
    assert Philox4x32.block(counter, key) == expected


def test_philox_counter_increments_with_carry():
    gen = Philox4x32(0, counter=(0xFFFFFFFF, 0, 0, 0))
    gen()
    assert gen.counter == [0, 1, 0, 0]


def test_simple_philox_draw_order():
    words = Philox4x32.block((0, 0, 0, 0), (9, 0))
    rng = SimplePhilox(9)
    assert rng.rand64() == words[0] | (words[1] << 32)  # low word first
    assert rng.rand_float() == F32((words[2] & 0x7FFFFF) * 2.0**-23)
    assert rng.uniform64(4) == words[3] & 3  # Rand64 low word = the 4th, masked


def _eigen_sum_loop(v: np.ndarray, lanes: int) -> np.float32:
    """Eigen's LinearVectorizedTraversal redux as scalar float32 statements."""
    n = len(v)
    if n < lanes:
        total = F32(0.0) if n == 0 else v[0]
        for x in v[1:]:
            total = F32(total + x)
        return total
    aligned, aligned2 = n // lanes * lanes, n // (2 * lanes) * (2 * lanes)
    p0 = [v[i] for i in range(lanes)]
    if aligned > lanes:
        p1 = [v[lanes + i] for i in range(lanes)]
        for start in range(2 * lanes, aligned2, 2 * lanes):
            p0 = [F32(p0[i] + v[start + i]) for i in range(lanes)]
            p1 = [F32(p1[i] + v[start + lanes + i]) for i in range(lanes)]
        p0 = [F32(p0[i] + p1[i]) for i in range(lanes)]
        if aligned > aligned2:
            p0 = [F32(p0[i] + v[aligned2 + i]) for i in range(lanes)]
    while len(p0) > 4:
        half = len(p0) // 2
        p0 = [F32(p0[i] + p0[half + i]) for i in range(half)]
    total = F32(F32(p0[0] + p0[2]) + F32(p0[1] + p0[3]))
    for x in v[aligned:]:
        total = F32(total + x)
    return total


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 24, 33, 100, 1001])
@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_eigen_sum_matches_the_loop(n, lanes):
    rng = np.random.default_rng(n)
    v = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 5, n)).astype(F32)
    assert eigen_sum(v, lanes) == _eigen_sum_loop(list(v), lanes)


def test_eigen_sum_order_differs_from_sequential():
    v = np.array([1e8, 1, 1, 1, 1, 1, 1, 1, -1e8, 1, 1, 1, 1, 1, 1, 1], F32)
    # lanes: (1e8 + -1e8) + ... pairs cancel first; sequentially the 1s are absorbed
    assert eigen_sum(v, 8) == F32(14.0) and np.cumsum(v, dtype=F32)[-1] == F32(7.0)


def test_upper_bound_is_the_first_element_above():
    a = np.array([0, 1, 1, 2, 5], F32)
    assert [upper_bound(a, F32(v)) for v in (-1, 0, 1, 1.5, 5, 6)] == [0, 1, 3, 3, 5, 5]


def test_kmeans_plus_plus_first_centre_is_the_best_of_three_uniform_draws():
    # k = 1: retries 2 + floor(ln 1) = 2 -> 3 candidates j = Uniform64(4) = low 2 bits of
    # the low word of each Rand64; potentials of x = [0, 1, 2, 3] are 7, 3, 3, 7
    # (sum of half squared distances), the first minimum wins.
    x = np.array([0, 1, 2, 3], F32)
    w0 = Philox4x32.block((0, 0, 0, 0), (9, 0))
    w1 = Philox4x32.block((1, 0, 0, 0), (9, 0))
    candidates = [w0[0] & 3, w0[2] & 3, w1[0] & 3]
    potentials = [sum(0.5 * (x - x[j]) ** 2) for j in candidates]
    expected = x[candidates[int(np.argmin(potentials))]]
    np.testing.assert_array_equal(kmeans_plus_plus(x, 1), [expected])


def test_kmeans_plus_plus_picks_distinct_data_values_deterministically():
    x = np.random.default_rng(4).standard_normal(300).astype(F32)
    got = kmeans_plus_plus(x, 16)
    assert np.unique(got).size == 16 and np.all(np.isin(got, x))
    np.testing.assert_array_equal(got, kmeans_plus_plus(x, 16))
    assert not np.array_equal(got, kmeans_plus_plus(x, 16, seed=10))


def test_kmeans_plus_plus_needs_enough_points():
    with pytest.raises(ValueError):
        kmeans_plus_plus(np.ones(3, F32), 4)


# --------------------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------------------
def test_assignment_ties_go_to_the_lowest_index_in_array_order():
    np.testing.assert_array_equal(assign(np.array([2.0], F32), [1.0, 3.0]), [0])
    np.testing.assert_array_equal(assign(np.array([2.0], F32), [3.0, 1.0]), [0])
    np.testing.assert_array_equal(assign(np.array([2.0], F32), [5.0, 1.0, 3.0]), [1])


def test_assignment_distance_is_float32():
    # w = 1, c0 = 0.5 - 2^-25 (representable), c1 = 1.5. Exactly, c1 is nearer
    # (0.5 < 0.5 + 2^-25); in float32 |1 - c0| = 0.5 + 2^-25 rounds (tie, to even) to
    # 0.5, the distances tie and the lower index wins.
    w = np.array([1.0], F32)
    c = np.array([0.5 - 2.0**-25, 1.5], F32)
    assert c[0] == 0.5 - 2.0**-25
    assert F32(w[0] - c[0]) == F32(0.5)
    assert assign(w, c)[0] == 0
    assert np.argmin(np.abs(w.astype(np.float64) - c.astype(np.float64))) == 1


def test_assign_matches_a_loop_oracle():
    rng = np.random.default_rng(5)
    w = np.round(rng.standard_normal((7, 9)) * 4).astype(F32) / 4  # ties on purpose
    c = np.round(rng.standard_normal(6) * 4).astype(F32) / 4
    expected = np.empty(w.shape, np.int64)
    for pos in np.ndindex(w.shape):
        distances = [abs(F32(w[pos] - cj)) for cj in c]
        expected[pos] = distances.index(min(distances))
    np.testing.assert_array_equal(assign(w, c), expected)


def test_per_channel_assignment_uses_each_channels_row():
    w = np.zeros((1, 1, 2, 2), F32)
    w[..., 0] = [1, 2]   # channel 0
    w[..., 1] = [10, 20]  # channel 1
    c = np.array([[1, 2], [20, 10]], F32)
    idx = assign(w, c, channel_axis=3)
    np.testing.assert_array_equal(idx[0, 0], [[0, 1], [1, 0]])
    np.testing.assert_array_equal(gather(c, idx, channel_axis=3), w)


# --------------------------------------------------------------------------------------
# The whole procedure
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", list(CentroidInit))
def test_clustered_kernel_has_at_most_k_values(method):
    w = np.random.default_rng(6).standard_normal((3, 3, 4, 5)).astype(F32)
    per_tensor = cluster_weights(w, 8, method)
    assert per_tensor.unique_counts()[0] <= 8
    per_channel = cluster_weights(w, 8, method, channel_axis=3)
    assert per_channel.centroids.shape == (5, 8) and np.all(per_channel.unique_counts() <= 8)


def test_preserve_sparsity_splits_clusters_and_keeps_zeros():
    # 3 negative, 1 positive non-zero weight, k = 5: kn = round(4 * 3/4) = 3, kp = 1
    w = np.array([-3, -2, -1, 0, 0, 4], F32)
    got = cluster_weights(w, 5, "LINEAR", preserve_sparsity=True)
    np.testing.assert_array_equal(got.centroids, [-3, -2, -1, 0, 4])
    np.testing.assert_array_equal(got.weights, w)
    # 2 negative, 2 positive, k = 4: kn = round(3 * 0.5) = round(1.5) = 2 (half even),
    # kp = 1 and a single LINEAR centroid is the minimum: tf_linspace(1, 2, 1) = [1]
    c = init_centroids(np.array([-2, -1, 1, 2], F32), 4, "LINEAR", preserve_sparsity=True)
    np.testing.assert_array_equal(c, [-2, -1, 0, 1])


def test_preserve_sparsity_on_a_pruned_kernel_keeps_every_zero():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((40, 10)).astype(F32)
    w[np.abs(w) < 0.7] = 0
    for lloyd_iterations in (0, 50):
        got = cluster_weights(w, 8, "KMEANS_PLUS_PLUS", preserve_sparsity=True,
                              lloyd_iterations=lloyd_iterations)
        assert np.array_equal(got.weights == 0, w == 0)
        assert np.count_nonzero(got.centroids == 0) == 1


def test_all_zero_weights_cluster_to_the_single_zero_centroid():
    np.testing.assert_array_equal(
        init_centroids(np.zeros(5, F32), 4, "LINEAR", preserve_sparsity=True), [0])
    with pytest.raises(ValueError):  # per channel the rows cannot be stacked (as tfmot)
        init_centroids(np.array([[0, 1], [0, -1], [0, 2]], F32), 4, "LINEAR",
                       channel_axis=1, preserve_sparsity=True)


@pytest.mark.parametrize("k, preserve", [(1, False), (2, True)], ids=["k1", "k2-sparse"])
def test_too_few_clusters_are_rejected(k, preserve):
    with pytest.raises(ValueError):
        cluster_weights(np.arange(10, dtype=F32), k, "LINEAR", preserve_sparsity=preserve)


def test_injected_centroids_are_used_as_given():
    w = np.array([0.0, 0.9, 2.1, 3.0], F32)
    got = cluster_weights(w, 2, centroids=[3.0, 0.0])
    np.testing.assert_array_equal(got.indices, [1, 1, 0, 0])


# --------------------------------------------------------------------------------------
# Lloyd
# --------------------------------------------------------------------------------------
def test_lloyd_finds_two_separated_groups():
    w = np.array([0, 0.1, 0.2, 10, 10.1, 10.2], F32)
    c, idx, iterations = lloyd(w, np.array([0.0, 0.1], F32))
    np.testing.assert_allclose(np.sort(c), [0.1, 10.1], rtol=1e-6)
    assert iterations >= 1 and len(set(idx[:3])) == 1 and len(set(idx[3:])) == 1


def test_lloyd_moves_duplicate_centroids_to_far_points():
    # DENSITY_BASED often starts with equal centroids: the duplicate is empty and moves
    w = np.array([0, 0, 0, 10, 10, 10], F32)
    c, _, _ = lloyd(w, np.array([5.0, 5.0], F32))
    np.testing.assert_array_equal(np.sort(c), [0, 10])


def test_lloyd_keeps_the_pinned_zero_and_never_raises_inertia():
    rng = np.random.default_rng(8)
    w = rng.standard_normal(500).astype(F32)
    start = init_centroids(w, 8, "DENSITY_BASED", preserve_sparsity=True)
    zero = int(np.argmin(np.abs(start)))
    c, idx, _ = lloyd(w, start, pinned_zero=zero)
    assert c[zero] == 0
    assert inertia(w, c, idx) <= inertia(w, start, assign(w, start))


def test_lloyd_per_channel_refines_each_channel():
    rng = np.random.default_rng(9)
    w = rng.standard_normal((3, 3, 8, 4)).astype(F32)
    start = init_centroids(w, 4, "LINEAR", channel_axis=3)
    c, idx, _ = lloyd(w, start, channel_axis=3)
    assert c.shape == (4, 4)
    before = inertia(w, start, assign(w, start, channel_axis=3), channel_axis=3)
    assert inertia(w, c, idx, channel_axis=3) < before


def test_kmeans_plus_plus_with_fewer_distinct_values_than_k_is_deterministic():
    # TF 2.21 reads past its array here (undefined); we draw uniformly like newer TF
    x = np.array([0, 0, 1, 1, 1], F32)
    got = kmeans_plus_plus(x, 4)
    assert got.size == 4 and set(got.tolist()) == {0.0, 1.0}
    np.testing.assert_array_equal(got, kmeans_plus_plus(x, 4))
