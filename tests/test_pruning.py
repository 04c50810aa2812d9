"""Unit tests of refimpl.compress pruning: masks, schedules, registry, glibc powf.

Golden values are hand arithmetic (shown next to each case) or values measured with
tfmot 0.8.1 on TF 2.21 (marked "tfmot"); the full differential suite against the
installed tfmot is compare/test_tfmot_parity.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest

from refimpl.compress import (
    ConstantSparsity,
    PolynomialDecay,
    block_mask,
    conv2d_has_enough_weights_to_cluster,
    is_pruned_m_by_n,
    keep_count,
    m_by_n_mask,
    magnitude_mask,
    prune_mask,
    should_prune,
    tfmot_cluster_channel_axis,
    tfmot_clusters,
    tfmot_prunes,
    update_mask,
)
from refimpl.compress.glibc_powf import powf
from refimpl.compress.pruning import M_BY_N_THRESHOLD, block_pool

F32 = np.float32


# --------------------------------------------------------------------------------------
# k and the element-wise rule
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, sparsity, kept", [
    pytest.param(10, 0.25, 8, id="7.5-rounds-to-even-8"),
    pytest.param(6, 0.25, 4, id="4.5-rounds-to-even-4"),
    pytest.param(9, 0.5, 4, id="4.5-rounds-to-even-4-again"),
    pytest.param(10, 0.3, 7, id="f32(0.7)*10=6.9999999-rounds-to-7"),
    # f32(1 - f32(0.7)) = 0.30000001; * 15 = 4.5000002 -> float32 4.5 -> even 4
    # (float64 arithmetic would give 4.500000000000001 -> 5)
    pytest.param(15, 0.7, 4, id="float32-product-is-exactly-4.5"),
    pytest.param(100, 0.999, 1, id="at-least-one-kept"),
    pytest.param(7, 0.0, 7, id="zero-sparsity-keeps-all"),
])
def test_keep_count_is_float32_product_rounded_half_even(size, sparsity, kept):
    assert keep_count(size, sparsity) == kept


def test_magnitude_mask_keeps_the_k_largest_magnitudes():
    w = np.array([0.1, -0.5, 0.3, -0.25, 0.2, 0.0], F32)
    # n = 6, s = 0.5: k = 3; |w| descending 0.5, 0.3, 0.25 -> threshold 0.25
    got = magnitude_mask(w, 0.5)
    np.testing.assert_array_equal(got.mask, [0, 1, 1, 1, 0, 0])
    assert got.mask.dtype == np.float32
    assert got.threshold == F32(0.25) and got.threshold.dtype == np.float32
    assert got.kept == 3 and got.sparsity == 0.5


def test_ties_at_the_threshold_are_all_kept():
    w = np.array([0.3, -0.3, 0.3, 0.1], F32)  # k = 2, threshold 0.3, three values tie
    got = magnitude_mask(w, 0.5)
    np.testing.assert_array_equal(got.mask, [1, 1, 1, 0])
    assert got.sparsity == 0.25  # below the 0.5 target


def test_all_zero_tensor_keeps_everything():
    got = magnitude_mask(np.zeros((3, 4), F32), 0.5)
    assert got.threshold == 0 and np.all(got.mask == 1)


def test_one_threshold_for_the_whole_tensor_of_any_rank():
    w = np.arange(1, 25, dtype=F32).reshape(2, 3, 4)  # |w| = 1..24, k = 12 -> t = 13
    got = magnitude_mask(w, 0.5)
    np.testing.assert_array_equal(got.mask.reshape(-1), (np.arange(1, 25) >= 13).astype(F32))


def test_mask_takes_the_weight_dtype():
    got = magnitude_mask(np.array([1, -2, 3, -4], np.float16), 0.5)
    assert got.mask.dtype == np.float16 and got.threshold.dtype == np.float16


@pytest.mark.parametrize("weights", [np.zeros(0, F32), np.arange(4)], ids=["empty", "ints"])
def test_non_float_or_empty_weights_are_rejected(weights):
    with pytest.raises(ValueError):
        magnitude_mask(weights, 0.5)


# --------------------------------------------------------------------------------------
# Block sparsity
# --------------------------------------------------------------------------------------
def test_block_pool_average_counts_only_real_cells_and_pads_before():
    # 1-D pass over 10 cells with window 4: pad 2 = 1 before + 1 after, so the windows
    # are [pad, 1, 2, 3] [4 5 6 7] [8 9 10 pad] -> 2, 5.5, 9 (as tf.nn.pool 'SAME').
    a = np.tile(np.arange(1, 11, dtype=F32), (2, 1))
    np.testing.assert_array_equal(block_pool(a, (1, 4), "AVG"), [[2, 5.5, 9]] * 2)
    np.testing.assert_array_equal(block_pool(a, (1, 4), "MAX"), [[3, 7, 10]] * 2)


def test_partial_block_offset_can_prune_the_largest_weight():
    # Columns pool as [pad c0 c1 c2] and [c3 c4 pad pad] (pad 3: 1 before, 2 after),
    # but block j expands onto columns 4j..4j+3. Row = [1 1 1 9 0]: pooled AVG
    # [1, 4.5]; s = 0.5 over 4 blocks keeps 2 -> threshold 4.5 -> block 1 kept, which
    # maps to column 4 only: the 9 in column 3 is pruned (tfmot's behaviour).
    w = np.array([[1, 1, 1, 9, 0]] * 2, F32)
    got = block_mask(w, 0.5, (1, 4), "AVG")
    np.testing.assert_array_equal(got.mask, [[0, 0, 0, 0, 1]] * 2)
    assert got.threshold == F32(4.5) and got.kept == 2


def test_block_mask_with_2x2_max_pooling():
    w = np.array([[1, 0, 0, 0],
                  [0, 0, 0, 5],
                  [0, 2, 0, 0],
                  [0, 0, 3, 0]], F32)  # block maxima [[1, 5], [2, 3]]; keep 2 -> t = 3
    got = block_mask(w, 0.5, (2, 2), "MAX")
    np.testing.assert_array_equal(got.mask, [[0, 0, 1, 1]] * 4)


def test_block_size_one_by_one_is_the_element_wise_rule():
    w = np.random.default_rng(0).standard_normal((6, 5)).astype(F32)
    np.testing.assert_array_equal(block_mask(w, 0.4, (1, 1)).mask, magnitude_mask(w, 0.4).mask)


@pytest.mark.parametrize("shape, block", [
    pytest.param((3, 3, 2, 4), (2, 2), id="conv-kernel-rank-4"),
    pytest.param((1, 8), (1, 2), id="squeezes-to-rank-1"),
    pytest.param((3, 16), (4, 4), id="one-pooled-row"),
])
def test_block_masks_tfmot_cannot_build_are_errors(shape, block):
    with pytest.raises(ValueError):
        block_mask(np.ones(shape, F32), 0.5, block)


def test_unknown_pooling_type_is_an_error():
    with pytest.raises(ValueError):
        prune_mask(np.ones((4, 4), F32), 0.5, block_size=(2, 2), block_pooling_type="SUM")


# --------------------------------------------------------------------------------------
# m-by-n
# --------------------------------------------------------------------------------------
def test_two_by_four_groups_run_along_the_dense_input_axis():
    # Dense kernel (in=4, out=2): out channel 0 sees [1, -4, 2, 3], channel 1 [5, 0, 0, 6]
    w = np.array([[1, 5], [-4, 0], [2, 0], [3, 6]], F32)
    got = m_by_n_mask(w, (2, 4))
    np.testing.assert_array_equal(got.mask, [[0, 1], [1, 0], [0, 0], [1, 1]])
    assert got.threshold == F32(M_BY_N_THRESHOLD)
    assert is_pruned_m_by_n(w * got.mask, (2, 4))


def test_m_by_n_ties_keep_the_lower_index():
    got = m_by_n_mask(np.full((4, 1), 0.5, F32), (2, 4))
    np.testing.assert_array_equal(got.mask[:, 0], [1, 1, 0, 0])


def test_conv_kernel_groups_follow_the_tflite_ohwi_input_channel():
    # (h, w, cin, cout) = (1, 2, 4, 1): TFLite rows are (cout*h*w, cin) = 2 rows of cin
    w = np.zeros((1, 2, 4, 1), F32)
    w[0, 0, :, 0] = [4, 3, 2, 1]
    w[0, 1, :, 0] = [1, 2, 3, 4]
    got = m_by_n_mask(w, (2, 4))
    np.testing.assert_array_equal(got.mask[0, :, :, 0], [[1, 1, 0, 0], [0, 0, 1, 1]])


def test_padding_zeros_compete_in_the_last_group():
    # in = 6: [a b c d] [e f 0 0]; e and f beat the padding zeros and are both kept
    w = np.array([[1], [2], [3], [4], [0.5], [0.25]], F32)
    np.testing.assert_array_equal(m_by_n_mask(w, (2, 4)).mask[:, 0], [0, 0, 1, 1, 1, 1])


@pytest.mark.parametrize("m_by_n", [(4, 4), (5, 4), (-1, 4)], ids=str)
def test_m_must_be_below_n(m_by_n):
    with pytest.raises(ValueError):
        m_by_n_mask(np.ones((4, 4), F32), m_by_n)


def test_m_by_n_rejects_rank_three():
    with pytest.raises(ValueError):
        m_by_n_mask(np.ones((3, 4, 4), F32))


def test_m_by_n_wins_over_block_size_in_the_dispatch():
    w = np.random.default_rng(1).standard_normal((8, 4)).astype(F32)
    got = prune_mask(w, 0.9, block_size=(2, 2), sparsity_m_by_n=(2, 4))
    np.testing.assert_array_equal(got.mask, m_by_n_mask(w).mask)


# --------------------------------------------------------------------------------------
# Schedules and the step logic
# --------------------------------------------------------------------------------------
def test_should_prune_rule():
    steps = np.arange(0, 12)
    got = should_prune(steps, begin_step=2, end_step=8, frequency=3)
    np.testing.assert_array_equal(np.flatnonzero(got), [2, 5, 8])
    assert should_prune(1000, 0, -1, 100) is True  # end -1: forever


@pytest.mark.parametrize("step, graph, value", [
    pytest.param(999, True, F32(0.19999999), id="before-begin"),
    # p = 0: f32(0.2 - 0.8) * 1 + f32(0.8) = -0.6 + 0.8 -> 0.19999999 (not f32(0.2))
    pytest.param(1000, True, F32(0.19999999), id="begin-is-not-float32-0.2"),
    pytest.param(1100, False, F32(0.36260006), id="tfmot-1100"),
    pytest.param(1500, False, F32(0.725), id="tfmot-1500"),
    pytest.param(2000, True, F32(0.8), id="end"),
    pytest.param(5000, True, F32(0.8), id="after-end"),
    # measured with TF 2.21: Grappler's x*(x*x) vs eager powf differ in the last bit
    pytest.param(1001, True, F32(0.20179814), id="tfmot-1001-graph"),
    pytest.param(1001, False, F32(0.2017982), id="tfmot-1001-eager"),
    pytest.param(1002, True, F32(0.20359272), id="tfmot-1002-graph"),
    pytest.param(1002, False, F32(0.20359278), id="tfmot-1002-eager"),
])
def test_polynomial_decay_values(step, graph, value):
    schedule = PolynomialDecay(0.2, 0.8, 1000, 2000)
    got = schedule.sparsity(step, graph=graph)
    assert got.dtype == np.float32 and got == value


def test_polynomial_decay_updates_every_frequency_steps_within_the_range():
    schedule = PolynomialDecay(0.2, 0.8, 1000, 2000)
    np.testing.assert_array_equal(schedule.update_steps(2500), np.arange(1000, 2001, 100))


def test_constant_sparsity_default_frequency_never_prunes_a_short_run():
    schedule = ConstantSparsity(0.5, 0)
    assert schedule.update_steps(99).size == 0  # training steps start at 1
    np.testing.assert_array_equal(schedule.update_steps(250), [100, 200])
    prune, sparsity = schedule(np.array([100, 101]))
    np.testing.assert_array_equal(prune, [True, False])
    assert sparsity.dtype == np.float32 and np.all(sparsity == F32(0.5))


@pytest.mark.parametrize("make", [
    lambda: ConstantSparsity(1.0, 0), lambda: ConstantSparsity(0.5, -1),
    lambda: ConstantSparsity(0.5, 10, 5), lambda: ConstantSparsity(0.5, 0, frequency=0),
    lambda: PolynomialDecay(0.1, 0.5, 0, -1), lambda: PolynomialDecay(-0.1, 0.5, 0, 10),
], ids=["sparsity-1", "negative-begin", "end-before-begin", "frequency-0",
        "poly-forever", "negative-initial"])
def test_invalid_schedules_are_rejected(make):
    with pytest.raises(ValueError):
        make()


def test_update_mask_follows_the_schedule_and_m_by_n_only_at_step_one():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((8, 4)).astype(F32)
    ones = np.ones_like(w)
    schedule = ConstantSparsity(0.5, 0, frequency=100)
    assert update_mask(w, ones, 1, schedule)[1] is False
    mask, updated = update_mask(w, ones, 100, schedule)
    assert updated and np.array_equal(mask, magnitude_mask(w, 0.5).mask)
    mask, updated = update_mask(w, ones, 1, schedule, sparsity_m_by_n=(2, 4))
    assert updated and np.array_equal(mask, m_by_n_mask(w).mask)
    assert update_mask(w, ones, 100, schedule, sparsity_m_by_n=(2, 4))[1] is False


# --------------------------------------------------------------------------------------
# glibc powf
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, y, value", [
    (0.5, 3.0, 0.125), (0.25, 0.5, 0.5), (0.0, 3.0, 0.0), (0.0, -1.0, np.inf),
    (1.0, 7.5, 1.0), (0.3, 0.0, 1.0), (2.0, 10.0, 1024.0), (0.5, 200.0, 0.0),
])
def test_powf_exact_cases(x, y, value):
    assert powf(F32(x), F32(y)) == F32(value)


def _libm_powf():
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).powf
    except (OSError, AttributeError):
        return None
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float, ctypes.c_float]
    return fn


@pytest.mark.parametrize("exponent", [1.5, 3.0, 0.3, 5.0, -0.5])
def test_powf_equals_the_machines_glibc_powf(exponent):
    libm_powf = _libm_powf()
    if libm_powf is None:
        pytest.skip("no C math library to compare with")
    x = np.random.default_rng(3).random(3000).astype(F32)
    expected = np.array([libm_powf(float(v), exponent) for v in x], F32)
    np.testing.assert_array_equal(powf(x, F32(exponent)), expected)


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind, role, pruned", [
    ("Dense", "kernel", True), ("Dense", "bias", False), ("Conv2D", "kernel", True),
    ("DepthwiseConv2D", "depthwise_kernel", False), ("SeparableConv2D", "pointwise_kernel", True),
    ("SeparableConv2D", "depthwise_kernel", False), ("LSTM", "recurrent_kernel", True),
    ("BatchNormalization", "gamma", False), ("MaxPooling2D", "kernel", False),
    ("CONV_2D", "filter", True), ("CONV_2D", "bias", False),
    ("FULLY_CONNECTED", "weights", True), ("DEPTHWISE_CONV_2D", "filter", False),
    ("TRANSPOSE_CONV", "weights", True),
])
def test_tfmot_prunes_kernels_only(kind, role, pruned):
    assert tfmot_prunes(kind, role) is pruned


@pytest.mark.parametrize("kind", ["Rescaling", "PReLU", "Conv1DTranspose"])
def test_layers_outside_the_pruning_registry_are_errors(kind):
    with pytest.raises(ValueError):
        tfmot_prunes(kind)


def test_clustering_registry_differs_from_pruning_where_tfmot_does():
    assert tfmot_clusters("Conv1DTranspose") is True
    assert tfmot_clusters("DepthwiseConv2D", "depthwise_kernel") is False
    assert tfmot_clusters("Rescaling", has_trainable_weights=False) is False
    with pytest.raises(ValueError):
        tfmot_clusters("PReLU", "alpha")


def test_per_channel_axis_only_for_conv2d_and_its_transpose():
    assert tfmot_cluster_channel_axis("Conv2D", 4) == 3
    assert tfmot_cluster_channel_axis("CONV_2D", 4, "channels_first") == 1
    assert tfmot_cluster_channel_axis("Conv2DTranspose", 4) == 3
    assert tfmot_cluster_channel_axis("Dense", 2) is None
    assert tfmot_cluster_channel_axis("DepthwiseConv2D", 4) is None


@pytest.mark.parametrize("size, k, per_channel, last, enough", [
    pytest.param(72, 16, False, 8, True, id="72-weights-per-tensor"),
    pytest.param(72, 16, True, 8, False, id="9-per-channel-not-above-16"),
    pytest.param(16, 16, False, 8, False, id="equal-is-not-enough"),
    pytest.param(288, 8, True, 288, False, id="no-bias-per-channel-always-skipped"),
])
def test_conv2d_skip_rule(size, k, per_channel, last, enough):
    assert conv2d_has_enough_weights_to_cluster(size, k, per_channel,
                                                last_trainable_size=last) is enough
