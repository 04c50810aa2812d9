"""MUL: hand-computed goldens, multiplier precision per flavour, broadcasting, errors."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.mul import MUL

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def mul_ctx(t1, t2, out, act=0, flavor=TFLITE_REF):
    return ctx("MUL", [t1, t2], [out], flavor=flavor, fused_activation_function=act)


def srdhm(a: int, b: int) -> int:
    p = a * b
    t = p + ((1 << 30) if p >= 0 else 1 - (1 << 30))
    return t // (1 << 31) if t >= 0 else -((-t) // (1 << 31))


def rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    return (x >> e) + (1 if (x & mask) > (mask >> 1) + (1 if x < 0 else 0) else 0)


def mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(x * (1 << left), m), right)


# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "q1, q2, expected",
    [
        (3, -5, -15 + 4),  # real = 0.5*0.25/0.125 = 1.0 -> m = 2**30, shift 1: out = prod + zp
        (0, 100, 4),
        (12, 11, 127),  # 132 + 4 saturates high
        (-128, 2, -128),  # -256 + 4 saturates low
    ],
    ids=["prod", "zero", "sat_high", "sat_low"],
)
def test_int8_unit_multiplier(q1, q2, expected):
    c = mul_ctx(tensor(I8, [1], 0.5, 0), tensor(I8, [1], 0.25, 0), tensor(I8, [1], 0.125, 4))
    d = MUL.prepare(c)
    assert (d.output_multiplier, d.output_shift) == (2**30, 1)
    assert run(MUL, c, [q1], [q2])[0].tolist() == [expected]


def test_tie_rounds_half_away_in_the_final_shift():
    # real = 0.5*0.5/1.0 = 0.25 -> m = 2**30, shift -1 ; prod 2 -> 0.5 -> 1 ; prod -2 -> -1
    c = mul_ctx(tensor(I8, [2], 0.5, 0), tensor(I8, [2], 0.5, 0), tensor(I8, [2], 1.0, 0))
    assert run(MUL, c, [1, -1], [2, 2])[0].tolist() == [1, -1]


def test_zero_points_and_broadcasting_match_scalar_formula():
    rng = np.random.default_rng(3)
    t1, t2 = tensor(I8, [3, 1, 4], 0.021, -9), tensor(I8, [5, 1], 0.047, 17)
    out = tensor(I8, [3, 5, 4], 0.11, -3)
    c = mul_ctx(t1, t2, out, act=1)
    x1, x2 = rng.integers(-128, 128, [3, 1, 4]), rng.integers(-128, 128, [5, 1])
    d = MUL.prepare(c)
    b1, b2 = np.broadcast_arrays(x1, x2)
    m, sh, lo = d.output_multiplier, d.output_shift, d.output_activation_min
    want = [
        min(127, max(lo, mbqm((a + 9) * (b - 17), m, sh) - 3))
        for a, b in zip(b1.ravel().tolist(), b2.ravel().tolist())
    ]
    got = run(MUL, c, x1, x2)[0]
    assert got.shape == (3, 5, 4)
    np.testing.assert_array_equal(got.ravel(), want)


def test_multiplier_precision_follows_the_flavour():
    # s1 = 0.0778, s2 = 0.0153, s_out = 0.0204 (float32 values)
    # TFLite: fl32(fl32(s1*s2)/s_out) = 0.05835000053.. -> m = 2004890752, shift -4
    # TFLM:   f64 product and quotient = 0.05834999689.. -> m = 2004890627, shift -4
    # prod 25*25 = 625:
    #   TFLite: SRDHM(625, 2004890752) = floor((625*m + 2**30) / 2**31) = 584 -> 584/16 = 36.5 -> 37
    #   TFLM:   SRDHM(625, 2004890627) = 583                            -> 36.4375 -> 36
    t = lambda s: tensor(I8, [1], s, 0)  # noqa: E731
    s1, s2, so = np.float32(0.0778), np.float32(0.0153), np.float32(0.0204)
    ref = MUL.prepare(mul_ctx(t(s1), t(s2), t(so)))
    tflm = MUL.prepare(mul_ctx(t(s1), t(s2), t(so), flavor=TFLM))
    assert ref.real_multiplier == float(np.float32(s1 * s2) / so)
    assert tflm.real_multiplier == float(s1) * float(s2) / float(so)
    assert (ref.output_multiplier, ref.output_shift) == (2004890752, -4)
    assert (tflm.output_multiplier, tflm.output_shift) == (2004890627, -4)
    assert run(MUL, mul_ctx(t(s1), t(s2), t(so)), [25], [25])[0].tolist() == [37]
    assert run(MUL, mul_ctx(t(s1), t(s2), t(so), flavor=TFLM), [25], [25])[0].tolist() == [36]


def test_large_multiplier_shifts_left_first():
    # real = 1*1/0.25 = 4 -> m = 2**30, shift 3: prod * 2**3 in int32, then SRDHM -> prod * 4
    c = mul_ctx(tensor(I8, [2], 1.0, 0), tensor(I8, [2], 1.0, 0), tensor(I8, [2], 0.25, 0))
    assert run(MUL, c, [3, -7], [5, 4])[0].tolist() == [60, -112]


def test_uint8_and_int16():
    c = mul_ctx(tensor(U8, [2], 0.5, 128), tensor(U8, [2], 0.25, 128), tensor(U8, [2], 0.125, 128))
    assert run(MUL, c, [131, 127], [123, 130])[0].tolist() == [128 - 15, 128 - 2]
    t = tensor(I16, [1], 2.0**-8, 0)
    c = mul_ctx(t, tensor(I16, [1], 2.0**-8, 0), tensor(I16, [1], 2.0**-10, 0))
    # real = 2**-6 -> (300*400) / 64 = 1875
    assert run(MUL, c, [300], [400])[0].tolist() == [1875]


def test_float_mul_relu6_and_overflow_clamp():
    c = mul_ctx(tensor(F32, [4]), tensor(F32, [4]), tensor(F32, [4]), act=3)
    got = run(MUL, c, [2.0, -1.0, 1e30, np.inf], [2.5, 3.0, 1e30, 0.5])[0]
    assert got.tolist() == [5.0, 0.0, 6.0, 6.0]
    c = mul_ctx(tensor(F32, [1]), tensor(F32, [1]), tensor(F32, [1]))
    assert run(MUL, c, [1e30], [1e30])[0].tolist() == [float(np.finfo(np.float32).max)]


def test_int32_mul_wraps():
    c = mul_ctx(tensor(np.int32, [2]), tensor(np.int32, [2]), tensor(np.int32, [2]))
    assert run(MUL, c, [2**16, -3], [2**16, 4])[0].tolist() == [0, -12]


def test_int16_nonzero_zero_point_is_error():
    c = mul_ctx(tensor(I16, [1], 0.5, 0), tensor(I16, [1], 0.5, 3), tensor(I16, [1], 0.5, 0))
    with pytest.raises(OpError, match=r"node 7 \(MUL\).*zero points 0"):
        MUL.prepare(c)


def test_int16_inputs_int8_output_is_unsupported():
    c = mul_ctx(tensor(I16, [1], 0.5, 0), tensor(I16, [1], 0.5, 0), tensor(I8, [1], 0.5, 0))
    with pytest.raises(UnsupportedOpError):
        MUL.prepare(c)


def test_incompatible_shapes_is_error():
    c = mul_ctx(tensor(F32, [3]), tensor(F32, [4]), tensor(F32, [4]))
    with pytest.raises(OpError, match="cannot be broadcast"):
        MUL.prepare(c)


# ------------------------------------------------------------------------------------------
# LiteRT's optimized int8 kernel: runs, vector blocks and the int16 narrowing
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("s1, s2, run, scalar", [
    ((2, 5), (2, 5), 10, False),              # equal shapes: one run of all 10 elements
    ((2, 3, 20), (1, 3, 20), 60, False),      # y4 = 3 * 20 agree; y3 = 2 on input 1's 1
    ((1,), (35,), 35, True),                  # a scalar: y4 = 1, runs of y3 = 35
    ((3, 1), (3, 18), 18, True),              # innermost axes differ first: y4 = 1, y3 = 18
    ((4, 1, 6), (4, 5, 6), 6, False),         # y4 = 6, y3 = 5, y2 = 4: runs of 6
])
def test_five_fold_runs_by_hand(s1, s2, run, scalar):
    from refimpl.kernels.elementwise import five_fold_runs

    runs = five_fold_runs(s1, s2)
    assert (runs.run, runs.scalar) == (run, scalar)
    assert five_fold_runs(s2, s1) == runs  # which input broadcasts does not change runs


def test_generic_broadcast_has_no_runs():
    from refimpl.kernels.elementwise import five_fold_runs

    # (2,1,17) x (1,3,1): input 2 broadcasts fastest (1 against 17 innermost).
    # y4: axis 2 differs -> 1. y3: input 2 has 1 at axis 2 -> 17. y2: axis 1 is 1 vs 3,
    # not equal -> 1. y1: input 1 has 1 at axis 1 -> 3. y0: axis 0 is 2 vs 1, not equal,
    # and axis 0 is left over: no five-fold pattern, LiteRT runs the reference kernel.
    assert five_fold_runs((2, 1, 17), (1, 3, 1)) is None


def test_body_mask_marks_whole_blocks_of_each_run():
    from refimpl.kernels.elementwise import FiveFoldRuns

    mask = FiveFoldRuns(20, False).body_mask((2, 20), 16)
    assert mask.sum() == 32 and mask[:, :16].all() and not mask[:, 16:].any()


def test_optimized_body_saturates_to_int16_then_wraps_on_the_zero_point():
    # real = 0.1 * 0.1 / 0.003 = 3.33 -> shift 2. q1 = q2 = 127 with zp -128: prod = 255**2
    # = 65025, times 3.33 = 216750: the reference clamps 216750 + 7 to 127. In a vector
    # block the rescaled product saturates to int16 (32767), + 7 wraps to -32762 and
    # narrows to -128. Element 16 (the tail of a run of 17) follows the reference.
    from refimpl.flavors import TFLITE_BUILTIN

    t = lambda: tensor(I8, [17], 0.1, -128)  # noqa: E731
    out = tensor(I8, [17], 0.003, 7)
    q = [127] * 17
    opt = run(MUL, mul_ctx(t(), t(), out, flavor=TFLITE_BUILTIN), q, q)[0]
    ref = run(MUL, mul_ctx(t(), t(), out), q, q)[0]
    assert ref.tolist() == [127] * 17
    assert opt.tolist() == [-128] * 16 + [127]


def test_optimized_uint8_narrows_differently_in_scalar_broadcasts():
    # uint8, real = 0.1 * 0.1 / 0.003 = 3.33 (shift 2), zero points 0, 0 -> 3.
    # q1 = 255, q2 = 82: prod = 20910, rescaled 69700 (> 65535): the reference clamps
    # 69703 to 255. Element-wise body (8-blocks): vqmovn saturates to 32767, + 3 wraps
    # to -32766, vqmovun gives 0. Scalar-broadcast body: vmovn keeps the low 16 bits,
    # 69700 - 65536 = 4164, + 3 = 4167, vqmovun gives 255. The 9th element is a tail.
    from refimpl.flavors import TFLITE_BUILTIN

    out = tensor(U8, [9], 0.003, 3)
    flat = mul_ctx(tensor(U8, [9], 0.1, 0), tensor(U8, [9], 0.1, 0), out, flavor=TFLITE_BUILTIN)
    assert run(MUL, flat, [255] * 9, [82] * 9)[0].tolist() == [0] * 8 + [255]
    scalar = mul_ctx(tensor(U8, [1], 0.1, 0), tensor(U8, [9], 0.1, 0), out,
                     flavor=TFLITE_BUILTIN)
    assert run(MUL, scalar, [255], [82] * 9)[0].tolist() == [255] * 9
