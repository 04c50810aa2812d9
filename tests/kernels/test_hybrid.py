"""Dynamic-range input quantizers and helpers (refimpl.kernels.hybrid), by hand arithmetic.

Rows on the grid ``k/16`` with range ``255/16`` make ``scale = 1/16`` and ``inv = 16``
exact, so every product ``x * inv`` is a known value (ties included). The rounding of the
quantizers' vector body was established on ai-edge-litert 2.3.0 with a hybrid Dense
whose weights are the identity (compare/dev_check_conv16_hybrid.py keeps tie rows).
"""

from __future__ import annotations

import numpy as np
import pytest

from refimpl.errors import UnsupportedOpError
from refimpl.flavors import TFLM
from refimpl.kernels import hybrid

from _op_builders import ctx, tensor

SUB_HALF = np.float32(0.5) - np.float32(2.0**-25)  # largest float32 below 0.5


def grid_row(values, n=None):
    """float32 row ``v / 16`` (exact), padded with zeros to ``n``."""
    v = np.zeros(n or len(values), np.float64)
    v[:len(values)] = values
    return (v / 16.0).astype(np.float32)[None, :]


# --------------------------------------------------------------------------------------
# Asymmetric
# --------------------------------------------------------------------------------------
def test_asymmetric_body_rounds_ties_away_from_zero():
    # rmin = -8, rmax = 127/16: span 255/16 -> scale 1/16, inv 16.
    # zp: -128 - (-128) = 0 (error 256) vs 127 - 127 = 0 (error 254) -> from max: 0.
    # v = x * 16 = [-128, 127, 0.5, 1.5, 2.5, -0.5, -1.5, 0]: all 8 in the vector body,
    # rounded trunc(v +- 0.5): half away from zero (round-half-even would give 0, 2, 2, ...)
    row = grid_row([-128, 127, 0.5, 1.5, 2.5, -0.5, -1.5, 0])
    qr = hybrid.quantize_rows_asymmetric(row)
    assert qr.scale.tolist() == [1 / 16] and qr.zero_point.tolist() == [0]
    assert qr.values.tolist() == [[-128, 127, 1, 2, 3, -1, -2, 0]]


def test_body_float_addition_rounds_before_truncation_but_tail_does_not():
    # v = 0.5 - 2**-25: body computes fl32(v + 0.5) = 1.0 -> 1; the tail's roundf gives 0.
    # 11 elements: 8 body + 3 tail.
    v = [-128, 127, float(SUB_HALF), 0, 0, 0, 0, 0, float(SUB_HALF), 2.5, -2.5]
    qr = hybrid.quantize_rows_asymmetric(grid_row(v))
    assert qr.values[0, 2] == 1 and qr.values[0, 8] == 0
    assert qr.values[0, 9:].tolist() == [3, -3]  # tail ties: half away from zero


def test_asymmetric_zero_point_and_clamp():
    # all positive: rmin = 0 -> zp from min = -128 (error 128 < 127 + 255) -> zp -128;
    # x = 255/16 * [0, 1/2, 1] -> v = [0, 127.5, 255] -> q = v - 128 with half away: [-128, 0, 127]
    qr = hybrid.quantize_rows_asymmetric(grid_row([0, 127.5, 255]))
    assert qr.zero_point.tolist() == [-128]
    assert qr.values.tolist() == [[-128, 0, 127]]
    # all negative: rmax = 0 -> zp 127 (from max, error 127 < 128 + 255)
    qr = hybrid.quantize_rows_asymmetric(grid_row([-255, -127.5, 0]))
    assert qr.zero_point.tolist() == [127]
    assert qr.values.tolist() == [[-128, -1, 127]]  # -127.5 -> -128 away, + 127


def test_asymmetric_range_is_subtracted_in_float32():
    # NeonAsymmetricQuantizeFloats subtracts the float32 bounds in float32 (the portable
    # version in double); for this pair the two give different float32 scales.
    rmax, rmin = np.float32(0.56146026), np.float32(-1.6527636e-05)
    qr = hybrid.quantize_rows_asymmetric(np.array([[rmax, rmin]], np.float32))
    span32 = np.float64(np.float32(rmax - rmin))
    span64 = np.float64(rmax) - np.float64(rmin)
    assert qr.scale[0] == np.float32(span32 / 255)
    assert qr.scale[0] != np.float32(span64 / 255)


def test_all_zero_rows_give_scale_one_and_zero_values():
    rows = np.zeros((2, 9), np.float32)
    rows[1, 3] = -0.0
    for quantize in (hybrid.quantize_rows_asymmetric, hybrid.quantize_rows_symmetric):
        qr = quantize(rows)
        assert qr.scale.tolist() == [1.0, 1.0]
        assert qr.zero_point.tolist() == [0, 0]
        assert not qr.values.any()


def test_rows_are_quantized_independently():
    a = grid_row([-128, 127, 2.5])
    b = grid_row([0, 255, 1.25])
    qr = hybrid.quantize_rows_asymmetric(np.concatenate([a, b]))
    assert qr.values[0].tolist() == hybrid.quantize_rows_asymmetric(a).values[0].tolist()
    assert qr.values[1].tolist() == hybrid.quantize_rows_asymmetric(b).values[0].tolist()


# --------------------------------------------------------------------------------------
# Symmetric
# --------------------------------------------------------------------------------------
def test_symmetric_scale_and_rounding():
    # range = 127/16 -> scale fl32(range/127) = 1/16, inv fl32(127/range) = 16
    # body (8): v = [127, -127, 0.5, -0.5, 2.5, SUB_HALF, 0, 0] -> [127, -127, 1, -1, 3, 1, 0, 0]
    # tail (2): v = [SUB_HALF, -2.5] -> [0, -3]
    v = [127, -127, 0.5, -0.5, 2.5, float(SUB_HALF), 0, 0, float(SUB_HALF), -2.5]
    qr = hybrid.quantize_rows_symmetric(grid_row(v))
    assert qr.scale.tolist() == [1 / 16] and qr.zero_point.tolist() == [0]
    assert qr.values.tolist() == [[127, -127, 1, -1, 3, 1, 0, 0, 0, -3]]


def test_symmetric_range_uses_the_larger_magnitude_and_clamps_to_127():
    qr = hybrid.quantize_rows_symmetric(grid_row([-127, 63.5]))  # range from the minimum
    assert qr.values.tolist() == [[-127, 64]]  # 63.5 -> 64 (tail, half away)
    assert qr.values.min() >= -127


# --------------------------------------------------------------------------------------
# Zero check, activations, flavour
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("values,expected", [
    ([0.0] * 6, True),
    ([-0.0] * 6, True),                        # -0.0 is zero in body and tail
    ([0.0, 0.0, 0.0, 0.0, 0.0, 1e-30], False),
    ([np.nan, 0.0, 0.0, 0.0, 0.0, 0.0], True),  # body compares |v| > 0: NaN is "zero"
    ([0.0, 0.0, 0.0, 0.0, 0.0, np.nan], False),  # tail compares v != 0: NaN is not
], ids=["zeros", "negative-zeros", "tiny", "nan-body", "nan-tail"])
def test_is_zero_vector_like_neon(values, expected):
    assert hybrid.is_zero_vector(np.array(values, np.float32)) is expected


def test_vector_relu_maps_negative_zero_and_nan_to_positive_zero():
    y = hybrid.apply_vector_activation(np.array([-0.0, np.nan, -2.0, 3.0], np.float32), 1)
    assert y.view(np.uint32).tolist() == np.array([0.0, 0.0, 0.0, 3.0], np.float32).view(
        np.uint32).tolist()


@pytest.mark.parametrize("act,expected", [(2, [-1.0, -0.5, 1.0]), (3, [0.0, 0.0, 6.0])],
                         ids=["RELU_N1_TO_1", "RELU6"])
def test_vector_clamps(act, expected):
    y = hybrid.apply_vector_activation(np.array([-3.0, -0.5, 9.0], np.float32), act)
    assert y.tolist() == expected


def test_tflm_flavor_refuses_hybrid_ops():
    c = ctx("FULLY_CONNECTED", [tensor(np.float32, (1, 4))], [tensor(np.float32, (1, 2))],
            flavor=TFLM)
    with pytest.raises(UnsupportedOpError, match="TFLite Micro has no dynamic-range"):
        hybrid.require_hybrid_runtime(c)
