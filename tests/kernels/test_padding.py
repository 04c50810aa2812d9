"""Window geometry shared by conv / depthwise / pooling (refimpl.kernels.padding).

Golden sizes are worked out by hand from arithmetic.md §2.1 in each row's comment.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from refimpl.context import OpContext, TensorInfo
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF
from refimpl.kernels import padding as pd

SAME, VALID = pd.PADDING_SAME, pd.PADDING_VALID

# (padding, in, filter, stride, dilation) -> (out, pad_before, offset)
GEOMETRY = [
    # SAME: out = ceil(in/stride); total = (out-1)*s + eff - in
    ((SAME, 5, 3, 1, 1), (5, 1, 0)),   # total = 4 + 3 - 5 = 2
    ((SAME, 5, 3, 2, 1), (3, 1, 0)),   # total = 4 + 3 - 5 = 2
    ((SAME, 6, 3, 2, 1), (3, 0, 1)),   # total = 4 + 3 - 6 = 1: the odd pixel goes after
    ((SAME, 4, 4, 1, 1), (4, 1, 1)),   # total = 3 + 4 - 4 = 3
    ((SAME, 7, 3, 1, 2), (7, 2, 0)),   # eff = 5; total = 6 + 5 - 7 = 4
    ((SAME, 1, 5, 3, 1), (1, 2, 0)),   # total = 0 + 5 - 1 = 4
    ((SAME, 9, 1, 4, 1), (3, 0, 0)),   # total = 8 + 1 - 9 = 0
    # VALID: out = (in + s - eff) / s (C division); total clamps at 0
    ((VALID, 7, 3, 2, 1), (3, 0, 0)),  # (7+2-3)/2 = 3; total = 4 + 3 - 7 = 0
    ((VALID, 8, 3, 2, 1), (3, 0, 0)),  # 7/2 = 3; total = 4 + 3 - 8 = -1 -> 0
    ((VALID, 5, 3, 1, 2), (1, 0, 0)),  # eff = 5; (5+1-5)/1 = 1
    ((VALID, 2, 5, 2, 1), (0, 0, 1)),  # (2+2-5)/2 = -1/2 = 0 in C (truncation), not -1
]


@pytest.mark.parametrize("args,expected", GEOMETRY,
                         ids=[f"{pd.PADDING_NAMES[a[0]]}-in{a[1]}-f{a[2]}-s{a[3]}-d{a[4]}"
                              for a, _ in GEOMETRY])
def test_out_size_and_padding_match_hand_arithmetic(args, expected):
    padding, in_size, filt, stride, dil = args
    out = pd.compute_out_size(padding, in_size, filt, stride, dil)
    pad, offset = pd.compute_padding_with_offset(stride, dil, in_size, filt, out)
    assert (out, pad, offset) == expected


@pytest.mark.parametrize("a,b,q", [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (-1, 2, 0)],
                         ids=["pos", "neg-num", "neg-den", "both-neg", "small-neg"])
def test_c_div_truncates_toward_zero(a, b, q):
    assert pd.c_div(a, b) == q


def test_valid_window_wider_than_input_gives_empty_output_like_litert():
    # width: (1 + 1 - 5) / 1 = -3 < 0 -> LiteRT stops with both sizes 0
    w = pd.make_window(VALID, in_h=8, in_w=1, filter_h=5, filter_w=5, stride_h=1, stride_w=1)
    assert (w.out_h, w.out_w) == (0, 0) and w.is_empty
    # only height fails: width was already computed (8 + 1 - 5 = 4)
    w = pd.make_window(VALID, in_h=1, in_w=8, filter_h=5, filter_w=5, stride_h=1, stride_w=1)
    assert (w.out_h, w.out_w) == (0, 4)


def test_window_view_reads_strided_dilated_taps_of_padded_input():
    rng = np.random.default_rng(1)
    x = rng.integers(-100, 100, (2, 7, 6, 3)).astype(np.int32)
    w = pd.make_window(SAME, 7, 6, 3, 2, stride_h=2, stride_w=1, dilation_h=2, dilation_w=3)
    padded = pd.pad_input(x, w, -999)
    view = pd.window_view(padded, w)
    assert view.shape == (2, w.out_h, w.out_w, 3, 2, 3)
    for oy in range(w.out_h):
        for ox in range(w.out_w):
            for fy in range(3):
                for fx in range(2):
                    iy = oy * 2 - w.padding.height + fy * 2
                    ix = ox * 1 - w.padding.width + fx * 3
                    inside = 0 <= iy < 7 and 0 <= ix < 6
                    expected = x[:, iy, ix, :] if inside else np.full((2, 3), -999)
                    np.testing.assert_array_equal(view[:, oy, ox, fy, fx, :], expected)
                    np.testing.assert_array_equal(pd.tap_view(padded, w, fy, fx)[:, oy, ox],
                                                  expected)


def test_window_view_row_chunks_concatenate_to_the_full_view():
    x = np.arange(1 * 9 * 5 * 2).reshape(1, 9, 5, 2)
    w = pd.make_window(SAME, 9, 5, 3, 3, stride_h=2, stride_w=2)
    padded = pd.pad_input(x, w, 0)
    full = pd.window_view(padded, w)
    parts = [pd.window_view(padded, w, slice(a, b)) for a, b in ((0, 2), (2, 3), (3, w.out_h))]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), full)


def test_pad_input_crops_rows_valid_windows_never_read():
    x = np.arange(8).reshape(1, 8, 1, 1)
    w = pd.make_window(VALID, 8, 1, 3, 1, stride_h=2, stride_w=1)  # out 3 reads rows 0..6
    padded = pd.pad_input(x, w, -1)
    assert padded.shape == (1, 7, 1, 1)
    np.testing.assert_array_equal(padded.ravel(), np.arange(7))


def test_in_image_count_counts_only_taps_inside_the_image():
    # in 4x4, 3x3 window, SAME stride 1: pad 1 before; corners see 2x2, edges 2x3, centre 3x3
    w = pd.make_window(SAME, 4, 4, 3, 3, 1, 1)
    expected = np.array([[4, 6, 6, 4], [6, 9, 9, 6], [6, 9, 9, 6], [4, 6, 6, 4]])
    np.testing.assert_array_equal(pd.in_image_count(w), expected)


@pytest.mark.parametrize("n,out_h,row_bytes,budget", [
    (10, 4, 100, 1000),     # 2 images per chunk
    (3, 7, 100, 50),        # one row per chunk
    (2, 7, 100, 250),       # an image split into rows of 2
    (5, 3, 10, 10**9),      # everything at once
], ids=["images", "single-rows", "row-blocks", "one-chunk"])
def test_batch_chunks_cover_every_output_row_once(n, out_h, row_bytes, budget):
    seen = np.zeros((n, out_h), int)
    for b, rows in pd.batch_chunks(n, out_h, row_bytes, budget):
        seen[b, rows] += 1
        nb = b.stop - b.start
        assert nb * (rows.stop - rows.start) * row_bytes <= max(budget, row_bytes)
    np.testing.assert_array_equal(seen, 1)


def _ctx(options) -> OpContext:
    t = TensorInfo(0, "x", np.dtype(np.float32), (1, 4, 4, 1))
    return OpContext(11, "MAX_POOL_2D", [t], [t], options, TFLITE_REF)


@pytest.mark.parametrize("options,match", [
    (None, "strides must be > 0"),  # schema default strides are 0
    (types.SimpleNamespace(padding=2, stride_h=1, stride_w=1), "padding 2"),
    (types.SimpleNamespace(padding=0, stride_h=1, stride_w=0), "strides must be > 0"),
    (types.SimpleNamespace(padding=0, stride_h=1, stride_w=1, dilation_h_factor=0),
     "dilations must be > 0"),
], ids=["no-options", "bad-padding", "zero-stride", "zero-dilation"])
def test_invalid_window_options_raise_op_error_naming_the_node(options, match):
    with pytest.raises(OpError, match=f"node 11 .*{match}"):
        pd.window_from_options(_ctx(options), 4, 4, 2, 2, with_dilation=True)


def test_tanh_fused_activation_is_unsupported_on_window_ops():
    with pytest.raises(UnsupportedOpError, match="node 11"):
        pd.fused_activation(_ctx(types.SimpleNamespace(fused_activation_function=4)))


@pytest.mark.parametrize("act,lo,hi", [
    (0, -3.4028235e38, 3.4028235e38), (1, 0.0, 3.4028235e38), (2, -1.0, 1.0), (3, 0.0, 6.0)],
    ids=["NONE", "RELU", "RELU_N1_TO_1", "RELU6"])
def test_float_activation_ranges_are_the_c_float_limits(act, lo, hi):
    assert pd.activation_range_float(act) == (np.float32(lo), np.float32(hi))


def test_float_clamp_keeps_nan_and_negative_zero_and_saturates_infinity():
    lo, hi = pd.activation_range_float(1)  # RELU: [0, FLT_MAX]
    y = pd.clamp_float(np.array([np.nan, -0.0, np.inf, -5.0], np.float32), lo, hi)
    assert np.isnan(y[0])
    assert y[1] == 0 and np.signbit(y[1])  # -0.0 < 0.0 is false: std::max keeps -0.0
    assert y[2] == np.finfo(np.float32).max  # min(inf, FLT_MAX)
    assert y[3] == 0
