"""HARD_SWISH: the int8 fixed-point pipeline by hand, gemmlowp's int16 quirk (shifts of
16 or more), the three float evaluation orders."""

from __future__ import annotations

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.hard_swish import HARD_SWISH, downscale_int32_to_int16_multiplier, \
    rounding_divide_by_pot16

I8, U8, F32 = np.int8, np.uint8, np.float32


def hctx(dtype, n, q_in, q_out, flavor=TFLITE_REF):
    return ctx("HARD_SWISH", [tensor(dtype, (n,), *q_in)], [tensor(dtype, (n,), *q_out)],
               flavor=flavor)


def test_int8_pipeline_by_hand():
    # s_in = s_out = 2**-4, zp 0. hires = 2**-11; output multiplier 2**-7 -> (2**30, -6) -> m16
    # = (2**30 + 2**15) >> 16 = 16384; reluish 2**-11 / (3 * 2**-15) = 16/3 -> (1431655765, 3)
    # -> m16 = 21845.  q = 16 (x = 1.0): v = 2048; po = floor((2048*16384 + 2**14) / 2**15) =
    # 1024; r = 2048 << 2 = 8192; SRDHM16(8192, 21845) = floor(5461.75) = 5461; << 1 = 10922;
    # (10922 + 32768) >> 1 = 21845; p = trunc(21845 * 1024 / 32768) = 682; RDBPOT(682, 6) =
    # round(10.66) = 11  (x * relu6(x + 3) / 6 = 2/3 = 10.67 output codes).
    c = hctx(I8, 3, (2**-4, 0), (2**-4, 0))
    d = HARD_SWISH.prepare(c)
    assert (d.output_multiplier_fixedpoint_int16, d.output_multiplier_exponent) == (16384, -6)
    assert (d.reluish_multiplier_fixedpoint_int16, d.reluish_multiplier_exponent) == (21845, 3)
    # q = 0 -> 0; q = -48 (x = -3) -> 0: r = (-32768 + 32768) >> 1 = 0
    assert run(HARD_SWISH, c, [16, 0, -48])[0].tolist() == [11, 0, 0]


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLITE_BUILTIN, TFLM], ids=lambda f: f.name)
def test_shift_of_16_or_more_rounds_every_value_away_from_zero(flavor):
    # s_in = 2**-13, s_out = 1: output multiplier 2**-20 -> exponent -19. gemmlowp's int16
    # RoundingDivideByPOT then returns 1 for p >= 0: q = zp_in (x = 0, p = 0) gives
    # zp_out + 1 = -127, as LiteRT and TFLM do (measured), not -128.
    # q = 126 (v = -128): po = floor((-128*16384 + 2**14) / 2**15) = -64; reluish multiplier
    # 2**-5 / 3 -> (m16 21845, exponent -6): SRDHM16(-128, 21845) = -85, RDBPOT(-85, 6) = -1,
    # r = (-1 + 32768) >> 1 = 16383; p = trunc(16383 * -64 / 2**15) = -31 -> -1 -> -129 -> -128.
    c = hctx(I8, 2, (2**-13, 127), (1.0, -128), flavor)
    assert run(HARD_SWISH, c, [127, 126])[0].tolist() == [-127, -128]


def test_rounding_divide_by_pot16_table():
    x = np.array([-3, -2, -1, 0, 1, 2, 3])
    assert rounding_divide_by_pot16(x, 1).tolist() == [-2, -1, -1, 0, 1, 1, 2]
    assert rounding_divide_by_pot16(x, 16).tolist() == [-1, -1, -1, 1, 1, 1, 1]


def test_downscale_multiplier_saturates_near_two_to_the_31():
    assert downscale_int32_to_int16_multiplier(2**30) == 16384
    assert downscale_int32_to_int16_multiplier(2**31 - 1) == 32767
    assert downscale_int32_to_int16_multiplier(2**31 - 1 - 2**15) == 32767
    assert downscale_int32_to_int16_multiplier(2**31 - 2 - 2**15) == 32767  # (m + 2**15) >> 16


def test_output_multiplier_above_one_is_rejected():
    with pytest.raises(OpError):
        HARD_SWISH.prepare(hctx(I8, 1, (1.0, 0), (2**-9, 0)))


def test_uint8_has_no_tflm_kernel():
    with pytest.raises(UnsupportedOpError):
        HARD_SWISH.prepare(hctx(U8, 1, (0.1, 0), (0.1, 0), TFLM))


def test_float_orders_of_the_three_kernels():
    x = np.array([1.1, -2.7, 0.3, 2.9, -1.3], F32)  # 5 elements: 4 vector + 1 tail (BUILTIN)
    r = np.minimum(F32(6), np.maximum(F32(0), (x + F32(3)).astype(F32)))
    ref = ((x * r).astype(F32) / F32(6)).astype(F32)
    sixth = F32(F32(1) / F32(6))
    vec = ((x * sixth).astype(F32) * r).astype(F32)
    tail = ((x * r).astype(F32) * sixth).astype(F32)
    n = 5
    fc = lambda f: ctx("HARD_SWISH", [tensor(F32, (n,))], [tensor(F32, (n,))], flavor=f)  # noqa
    assert np.array_equal(run(HARD_SWISH, fc(TFLITE_REF), x)[0], ref)
    assert np.array_equal(run(HARD_SWISH, fc(TFLITE_BUILTIN), x)[0],
                          np.concatenate([vec[:4], tail[4:]]))
    assert not np.array_equal(ref, vec)  # the inputs do separate the orders


def test_xnnpack_float_special_values():
    # fma(x, 1/6, 1/2) clamped to [0, 1] times x: -inf -> 0 * -inf = NaN; 1e-40 -> 0 (DAZ)
    c = ctx("HARD_SWISH", [tensor(F32, (4,))], [tensor(F32, (4,))], flavor=XNNPACK)
    got = run(HARD_SWISH, c, [-np.inf, np.inf, 1e-40, 3.0])[0]
    assert np.isnan(got[0]) and got[1] == np.inf and got[2] == 0.0 and got[3] == 3.0
