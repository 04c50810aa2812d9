"""RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR: index mapping per runtime variant, the
integer (Q10) and XNNPACK (Q11) rounding, the optimized 2x float kernel, flag checks."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.resize import RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR


def resize_ctx(op, shape, size, dtype=np.float32, align=False, half=False, flavor=TFLITE_REF,
               q=(None, 0)):
    x = tensor(dtype, shape, *q)
    s = tensor(np.int32, (2,), data=list(size))
    out = tensor(dtype, (1,), *q)
    return ctx(op, [x, s], [out], flavor=flavor, align_corners=align, half_pixel_centers=half)


def test_nearest_reference_and_fixed_point_scales_differ():
    # in 14 -> out 46, output column 23. Reference: scale = fl32(14/46) = 0.30434781 (just
    # below 14/46), 23 * scale = 6.9999995 in float32, floor -> 6.
    # Optimized uint8: step = (14 << 16) // 46 + 1 = 19946, (23 * 19946) >> 16 = 7.
    assert np.float32(23) * np.float32(np.float32(14) / np.float32(46)) < 7
    x = np.arange(14, dtype=np.uint8).reshape(1, 1, 14, 1)
    ref = run(RESIZE_NEAREST_NEIGHBOR, resize_ctx("RESIZE_NEAREST_NEIGHBOR", x.shape, (1, 46),
                                                  np.uint8, q=(0.5, 0)), x)[0]
    opt = run(RESIZE_NEAREST_NEIGHBOR, resize_ctx("RESIZE_NEAREST_NEIGHBOR", x.shape, (1, 46),
                                                  np.uint8, flavor=TFLITE_BUILTIN, q=(0.5, 0)),
              x)[0]
    assert ref.shape == (1, 1, 46, 1)
    assert (ref[0, 0, 23, 0], opt[0, 0, 23, 0]) == (6, 7)


@pytest.mark.parametrize("align, half, want", [
    (False, False, [0, 0, 1]),   # floor(y * 2/3): 0, 0.67, 1.33
    (True, False, [0, 1, 1]),    # round(y * 1/2) half away: 0, 0.5 -> 1, 1
    (False, True, [0, 1, 1]),    # floor((y + .5) * 2/3): 0.33, 1, 1.67
], ids=["plain", "align-corners", "half-pixel"])
def test_nearest_index_mapping(align, half, want):
    x = np.array([10.0, 20.0], np.float32).reshape(1, 2, 1, 1)
    c = resize_ctx("RESIZE_NEAREST_NEIGHBOR", x.shape, (3, 1), align=align, half=half)
    y = run(RESIZE_NEAREST_NEIGHBOR, c, x)[0]
    assert y.reshape(-1).tolist() == [10.0 * (1 + i) for i in want]


@pytest.mark.parametrize("value, want", [(101, 51), (-101, -51), (100, 50)],
                         ids=["pos-tie", "neg-tie", "exact"])
def test_bilinear_integer_rounds_half_away_from_zero(value, want):
    # 1x2 -> 1x4: s10 = (1024*2 + 2) // 4 = 512; column 1 has v10 = 512, weights 512/512:
    # (0*512 + value*512) * 1024 = value * 2**19; +-2**19, truncating / 2**20.
    x = np.array([0, value], np.int16).reshape(1, 1, 2, 1)
    c = resize_ctx("RESIZE_BILINEAR", x.shape, (1, 4), np.int16, q=(0.01, 0))
    assert run(RESIZE_BILINEAR, c, x)[0][0, 0, 1, 0] == want


@pytest.mark.parametrize("value, want", [(101, 51), (-101, -50)], ids=["pos-tie", "neg-tie"])
def test_bilinear_xnnpack_q11_rounds_half_up(value, want):
    # XNNPACK: scale 1/2, column 1 at 0.5: alpha = lrintf(0.5 * 2048) = 1024;
    # t = value * 1024; out = (t << 11) + 2**21 >> 22 = floor(value / 2 + 1/2).
    x = np.array([0, value], np.int8).reshape(1, 1, 2, 1)
    c = resize_ctx("RESIZE_BILINEAR", x.shape, (1, 4), np.int8, flavor=XNNPACK, q=(0.1, 0))
    assert RESIZE_BILINEAR.prepare(c).method == "xnn-q11"
    assert run(RESIZE_BILINEAR, c, x)[0][0, 0, 1, 0] == want


def test_optimized_float_exact_2x_upsample_uses_the_2x2_kernel():
    # Input [1, 2] -> [1, (1+2)/2, 2, (2+2)/2] (the right neighbour clamps at the edge).
    x = np.array([1.0, 2.0], np.float32).reshape(1, 1, 2, 1)
    c = resize_ctx("RESIZE_BILINEAR", x.shape, (2, 4), flavor=TFLITE_BUILTIN)
    assert RESIZE_BILINEAR.prepare(c).method == "opt-float-2x2"
    y = run(RESIZE_BILINEAR, c, x)[0]
    assert y[0, 0].reshape(-1).tolist() == [1.0, 1.5, 2.0, 2.0]
    assert y[0, 1].reshape(-1).tolist() == [1.0, 1.5, 2.0, 2.0]


def test_uint8_reference_adds_half_and_truncates():
    # 1x2 -> 1x4, column 1: 0 * 0.5 + 5 * 0.5 + 0.5 = 3.0 -> 3; column 3 (clamped): 5.
    x = np.array([0, 5], np.uint8).reshape(1, 1, 2, 1)
    c = resize_ctx("RESIZE_BILINEAR", x.shape, (1, 4), np.uint8, q=(0.1, 0))
    assert run(RESIZE_BILINEAR, c, x)[0].reshape(-1).tolist() == [0, 3, 5, 5]


def test_xnnpack_flavour_refuses_bilinear_with_different_output_quantization():
    # LiteRT AUTO fails to prepare such a model (the delegate's late refusal).
    x = tensor(np.int8, (1, 2, 2, 1), 0.1, 0)
    c = ctx("RESIZE_BILINEAR", [x, tensor(np.int32, (2,), data=[4, 4])],
            [tensor(np.int8, (1,), 0.2, 0)], flavor=XNNPACK, align_corners=False,
            half_pixel_centers=False)
    with pytest.raises(UnsupportedOpError, match="AUTO"):
        RESIZE_BILINEAR.prepare(c)


def test_bilinear_rejects_both_flags():
    c = resize_ctx("RESIZE_BILINEAR", (1, 2, 2, 1), (4, 4), align=True, half=True)
    with pytest.raises(OpError, match="half_pixel_centers"):
        RESIZE_BILINEAR.prepare(c)


@pytest.mark.parametrize("op, kernel, dtype", [
    ("RESIZE_BILINEAR", RESIZE_BILINEAR, np.int16),
    ("RESIZE_NEAREST_NEIGHBOR", RESIZE_NEAREST_NEIGHBOR, np.uint8)], ids=["bilinear-int16",
                                                                       "nearest-uint8"])
def test_tflm_type_limits(op, kernel, dtype):
    with pytest.raises(UnsupportedOpError):
        kernel.prepare(resize_ctx(op, (1, 2, 2, 1), (4, 4), dtype, flavor=TFLM, q=(0.1, 0)))


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _integer_bilinear_loops(x: np.ndarray, out_h: int, out_w: int, align: bool,
                            half: bool) -> np.ndarray:
    """The reference integer loops, one output element at a time (the oracle)."""
    n, in_h, in_w, depth = x.shape

    def scale10(n_in, n_out):
        if align and n_out > 1:
            return ((1 << 10) * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1)
        return ((1 << 10) * n_in + n_out // 2) // n_out

    def position(v, s10, n_in):
        p = v * s10 + s10 // 2 - (1 << 9) if half else v * s10
        return p, max(_c_div(p, 1 << 10), 0), min(_c_div(p + (1 << 10) - 1, 1 << 10), n_in - 1)

    out = np.zeros((n, out_h, out_w, depth), np.int64)
    sy, sx = scale10(in_h, out_h), scale10(in_w, out_w)
    for b in range(n):
        for y in range(out_h):
            py, y0, y1 = position(y, sy, in_h)
            for xo in range(out_w):
                px, x0, x1 = position(xo, sx, in_w)
                for c in range(depth):
                    dy, dx = py - 1024 * y0, px - 1024 * x0
                    total = (int(x[b, y0, x0, c]) * (1024 - dy) * (1024 - dx)
                             + int(x[b, y1, x0, c]) * dy * (1024 - dx)
                             + int(x[b, y0, x1, c]) * (1024 - dy) * dx
                             + int(x[b, y1, x1, c]) * dy * dx)
                    out[b, y, xo, c] = _c_div(total + (1 << 19 if total > 0 else -(1 << 19)),
                                              1 << 20)
    return out


@pytest.mark.parametrize("size", [(5, 7), (2, 3), (9, 4), (1, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("align, half", [(False, False), (True, False), (False, True)],
                         ids=["plain", "align", "half"])
def test_integer_bilinear_matches_the_loop_oracle(size, align, half):
    x = np.random.default_rng(7).integers(-128, 128, (2, 3, 4, 2)).astype(np.int8)
    c = resize_ctx("RESIZE_BILINEAR", x.shape, size, np.int8, align=align, half=half,
                   q=(0.1, 0))
    got = run(RESIZE_BILINEAR, c, x)[0]
    np.testing.assert_array_equal(got, _integer_bilinear_loops(x, *size, align, half))
