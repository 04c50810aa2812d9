"""compare.diff: element counts, first index, first divergent op."""

from __future__ import annotations

import numpy as np
import pytest

from compare.diff import assert_bit_exact, diff_arrays


def test_integer_diff_counts_lsb_and_first_index():
    a = np.array([[1, 2, 3], [4, 5, 6]], np.int8)
    b = a.copy()
    b[1, 0] = 7
    b[1, 2] = 5
    d = diff_arrays("t", a, b)
    assert (d.differing, d.max_abs_diff, d.first_index) == (2, 3.0, (1, 0))
    assert (d.a_value, d.b_value) == (4, 7)
    assert d.listed == [((1, 0), 4, 7), ((1, 2), 6, 5)]
    assert not d.exact


def test_int8_extremes_do_not_wrap():
    d = diff_arrays("t", np.array([-128], np.int8), np.array([127], np.int8))
    assert d.max_abs_diff == 255


def test_shape_and_dtype_mismatch_are_notes_not_values():
    assert "shape" in diff_arrays("t", np.zeros(3), np.zeros(4)).note
    assert "dtype" in diff_arrays("t", np.zeros(3, np.int8), np.zeros(3, np.int16)).note


def test_float_tolerance_and_nan():
    a = np.array([1.0, np.nan, 2.0], np.float32)
    b = np.array([1.0, np.nan, 2.0 + 1e-6], np.float32)
    assert diff_arrays("t", a, b).differing == 1
    assert diff_arrays("t", a, b, atol=1e-5).differing == 0
    assert diff_arrays("t", a, np.array([1.0, 0.0, 2.0], np.float32), atol=1).differing == 1


def test_assert_bit_exact_names_the_element():
    with pytest.raises(AssertionError, match=r"1/3 differ.*first at \[2\]: 3 vs 4"):
        assert_bit_exact(np.array([1, 2, 3]), np.array([1, 2, 4]), "case")
    assert_bit_exact(np.array([1, 2, 3]), np.array([1, 2, 3]), "case")
