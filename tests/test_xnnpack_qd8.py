"""XNNPACK's dynamic quantization ("qd8") and the float32 fused multiply-add, by hand.

Every golden below is worked out in the comments; the whole-op agreement with LiteRT's
XNNPACK delegate is checked by the sweep (``compare/``, dtype ``hybrid``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from refimpl import arithmetic as ar
from refimpl.kernels import xnnpack_qd8 as qd8


def test_params_of_an_asymmetric_row():
    # min -1, max 3: s = 255 / (3 - (-1)) = 63.75; rmin * s = -63.75, rmax * s = 191.25.
    # Errors: -128 + (-63.75) = -191.75 and 127 + 191.25 = 318.25; their sum 126.5 > 0,
    # so the zero point is anchored at the minimum: -128 - (-63.75) = -64.25 -> rint -64.
    s, zp, d = qd8.qd8_params(np.array([-1.0]), np.array([3.0]))
    assert s[0] == np.float32(63.75)
    assert zp[0] == -64
    assert d[0] == np.float32(1) / np.float32(63.75)


def test_params_anchor_the_maximum_when_its_error_is_smaller():
    # min -3, max 1: s = 63.75; rmin * s = -191.25, rmax * s = 63.75.
    # Errors: -128 - 191.25 = -319.25 and 127 + 63.75 = 190.75; the sum -128.5 is not > 0,
    # so the zero point comes from the maximum: 127 - 63.75 = 63.25 -> rint 63.
    s, zp, _ = qd8.qd8_params(np.array([-3.0]), np.array([1.0]))
    assert s[0] == np.float32(63.75) and zp[0] == 63


def test_params_of_an_all_zero_row():
    # rmin == rmax == 0: s = 1; errors -128 and 127 sum to -1 -> zp = 127 - 0 = 127.
    s, zp, d = qd8.qd8_params(np.array([0.0]), np.array([0.0]))
    assert (s[0], zp[0], d[0]) == (1.0, 127, 1.0)


def test_range_always_contains_zero():
    # a positive row 2..4 is widened to 0..4: s = 255 / 4 = 63.75, zp = -128 - 0 = -128
    s, zp, _ = qd8.qd8_params(np.array([2.0]), np.array([4.0]))
    assert s[0] == np.float32(63.75) and zp[0] == -128


def test_quantize_rounds_half_to_even():
    # Row max 255/128, min 0 -> s = 128 exactly, zp = -128 (anchored at the minimum).
    # x = 2**-8: x * s = 0.5 -> rint 0 (half to even; C's round would give 1) -> q = -128.
    # x = 3 * 2**-8: 1.5 -> 2 -> q = -126.  x = 5 * 2**-8: 2.5 -> 2 -> q = -126.
    row = np.array([[255 / 128, 2.0**-8, 3 * 2.0**-8, 5 * 2.0**-8, 0.0]], np.float32)
    r = qd8.quantize_rows(row)
    assert r.zero_point.tolist() == [-128]
    assert (r.centered + r.zero_point[:, None]).tolist() == [[127, -128, -126, -126, -128]]
    assert r.centered.tolist() == [[255, 0, 2, 2, 0]]


def test_fma_rounds_once():
    # a = b = 1 + 2**-12: a * b = 1 + 2**-11 + 2**-24 exactly, a float32 tie (the ulp of
    # 1 + 2**-11 is 2**-23). Adding c = 2**-80 puts the exact sum just above the tie, so a
    # single rounding goes up to 1 + 2**-11 + 2**-23. Rounding a * b + c to float64 first
    # loses 2**-80 and the tie then rounds to even, down to 1 + 2**-11.
    a = np.float32(1 + 2.0**-12)
    c = np.float32(2.0**-80)
    fused = ar.fma_f32(np.array([a]), np.array([a]), np.array([c]))[0]
    assert fused == np.float32(1 + 2.0**-11 + 2.0**-23)
    twice = np.float32(np.float64(a) * np.float64(a) + np.float64(c))
    assert twice == np.float32(1 + 2.0**-11)
    # and the other side of the tie: c = -2**-80 rounds down in both
    assert ar.fma_f32(np.array([a]), np.array([a]), np.array([-c]))[0] == np.float32(1 + 2.0**-11)


def test_fma_is_correctly_rounded_on_random_values():
    rng = np.random.default_rng(7)
    a, b = (rng.normal(size=2000).astype(np.float32) for _ in range(2))
    c = (rng.normal(size=2000) * 1e-3).astype(np.float32)
    got = ar.fma_f32(a, b, c)
    for i in range(0, 2000, 7):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        err = abs(Fraction(float(got[i])) - exact)
        for neighbour in (np.nextafter(got[i], np.float32(np.inf)),
                          np.nextafter(got[i], np.float32(-np.inf))):
            assert err <= abs(Fraction(float(neighbour)) - exact)


def test_rescale_by_hand():
    # acc = 1000, d = 0.5, s_w = 0.25, bias = 1: fl32(1000 * 0.5) = 500; 500 * 0.25 + 1 = 126
    y = qd8.rescale(np.array([[1000]]), np.float32(0.5), np.array([0.25], np.float32),
                    np.array([1.0], np.float32), activation=0)
    assert y.tolist() == [[126.0]]
    # RELU6 clamps to 6; RELU_N1_TO_1 to 1
    assert qd8.rescale(np.array([[1000]]), np.float32(0.5), np.array([0.25], np.float32),
                       None, activation=3).tolist() == [[6.0]]
    assert qd8.rescale(np.array([[-1000]]), np.float32(0.5), np.array([0.25], np.float32),
                       None, activation=2).tolist() == [[-1.0]]


def test_clamp_is_maxps_minps():
    y = np.array([np.nan, -0.0, 3.0], np.float32)
    out = qd8.clamp(y, activation=1)  # RELU: MAXPS(y, 0) returns 0 unless y > 0
    assert np.isnan(out).sum() == 0 and out[0] == 0
    assert np.signbit(out[1]) == np.False_  # -0.0 -> +0.0
    assert out[2] == 3
    # no activation: the clamp still runs with -inf / +inf, and a NaN becomes -inf
    assert qd8.clamp(np.array([np.nan], np.float32), activation=0)[0] == -np.inf


@pytest.mark.parametrize("geom,expected", [
    ((1, 1, 1, 1, False, 1, 4, 8), True),    # a pointwise convolution: GEMM per pixel
    ((1, 1, 1, 1, False, 1, 1, 1), False),   # C_in + C_out == 2: stays a convolution
    ((1, 1, 2, 2, False, 1, 4, 8), False),   # strided
    ((3, 3, 1, 1, False, 1, 4, 8), False),   # not 1x1
    ((1, 1, 1, 1, True, 1, 4, 8), False),    # padded
    ((1, 1, 1, 1, False, 2, 4, 8), False),   # grouped
])
def test_which_convolutions_become_fully_connected(geom, expected):
    assert qd8.conv_runs_as_fully_connected(*geom) is expected
