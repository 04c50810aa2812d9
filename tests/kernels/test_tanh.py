"""TANH kernel: LiteRT LUT path, TFLM fixed-point path, their (dis)agreement, float."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.tanh import TANH

CODES = np.arange(-128, 128)


def tanh_ctx(s_in, zp_in, flavor=TFLITE_REF, out_scale=1 / 128, out_zp=0, dtype=np.int8, n=256):
    return ctx("TANH", [tensor(dtype, (n,), s_in, zp_in)], [tensor(dtype, (n,), out_scale, out_zp)],
               flavor=flavor)


def outputs(s_in, zp_in, flavor, **kw):
    return run(TANH, tanh_ctx(s_in, zp_in, flavor, **kw), CODES)[0].astype(np.int64)


# s_in = 1/16, zp_in = 0: q = 8: tanh(0.5) * 128 = 59.15 -> 59; q = 16: tanh(1) * 128 = 97.48
# -> 97; q = -16 -> -97; q = 0 -> 0; q = 119: tanh(7.44) * 128 = 128.0 -> clamp 127.
HAND = {0: 0, 8: 59, 16: 97, -16: -97, 119: 127, -128: -128}


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=["lut", "fixed-point"])
def test_hand_values(flavor):
    out = outputs(1 / 16, 0, flavor)
    assert {q: int(out[q + 128]) for q in HAND} == HAND


def test_lut_and_fixed_point_agree_except_rare_plus_minus_one():
    rng = np.random.default_rng(12)
    differ = 0
    for _ in range(300):
        s_in = float(np.float32(np.exp(rng.uniform(np.log(1e-3), np.log(2.0)))))
        zp = int(rng.integers(-128, 128))
        a, b = outputs(s_in, zp, TFLITE_REF), outputs(s_in, zp, TFLM)
        assert np.max(np.abs(a - b)) <= 1
        differ += int((a != b).sum())
    # Measured over 3000 random scales: 3 of 768 000 codes differ (see the cases below).
    assert differ <= 3


# Confirmed on the real runtimes (LiteRT 2.3.0 BUILTIN_REF vs the tflite-micro wheel):
# (s_in, zp_in, code, LiteRT, TFLM).
DIVERGENT = [
    (0.009436890482902527, 103, -64, -118, -117),
    (0.03387131914496422, 87, 67, -76, -75),
    (0.03387131914496422, 87, 107, 76, 75),
]


@pytest.mark.parametrize("s_in, zp, code, litert, tflm", DIVERGENT,
                         ids=[f"s{c[0]:.4g}-q{c[2]}" for c in DIVERGENT])
def test_known_runtime_divergence_is_reproduced_per_flavour(s_in, zp, code, litert, tflm):
    assert outputs(s_in, zp, TFLITE_REF)[code + 128] == litert
    assert outputs(s_in, zp, TFLM)[code + 128] == tflm


def test_litert_table_honours_nonstandard_output_quantization():
    # scale 1/100, zero point 5 (neither runtime checks them): q = zp_in -> 0 -> 5;
    # q = 16 (x = 1): tanh(1) * 100 = 76.16 -> 76 -> 81.
    out = outputs(1 / 16, 0, TFLITE_REF, out_scale=1 / 100, out_zp=5)
    assert (out[128], out[16 + 128]) == (5, 81)


def test_tflm_ignores_the_output_quantization():
    standard = outputs(0.05, -7, TFLM)
    assert np.array_equal(outputs(0.05, -7, TFLM, out_scale=1 / 100, out_zp=5), standard)


def test_tflm_rejects_uint8():
    with pytest.raises(UnsupportedOpError):
        TANH.prepare(tanh_ctx(0.1, 128, TFLM, out_zp=128, dtype=np.uint8))


def test_uint8_lut():
    c = ctx("TANH", [tensor(np.uint8, (3,), 1 / 16, 128)], [tensor(np.uint8, (3,), 1 / 128, 128)])
    (out,) = run(TANH, c, [128, 144, 112])
    assert out.dtype == np.uint8 and out.tolist() == [128, 225, 31]  # 0, +-97


@pytest.mark.parametrize("x", [0.0, 0.5, -0.5, 3.0, 9.5, -20.0, 1e-30])
def test_float_is_tanh_rounded_once_to_float32(x):
    c = ctx("TANH", [tensor(np.float32, (1,))], [tensor(np.float32, (1,))])
    (out,) = run(TANH, c, [x])
    assert out.dtype == np.float32 and out[0] == np.float32(math.tanh(float(np.float32(x))))


# ------------------------------------------------------------------------------------
# int16 (tanh(x) = 2*sigmoid(2x) - 1 from the sigmoid table; both runtimes)
# ------------------------------------------------------------------------------------
def int16_ctx(s_in, flavor=TFLITE_REF, out_scale=1 / 32768, zp_in=0, n=5):
    return ctx("TANH", [tensor(np.int16, (n,), s_in, zp_in)],
               [tensor(np.int16, (n,), out_scale, 0)], flavor=flavor)


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=["ref", "tflm"])
@pytest.mark.parametrize("s_in, mult, shift", [(2.0**-12, 0, 0), (2.0**-11, 0, 1)],
                         ids=["pot0", "pot1"])
def test_int16_power_of_two_scales(flavor, s_in, mult, shift):
    data = TANH.prepare(int16_ctx(s_in, flavor))
    assert (data.kind, data.input_multiplier, data.input_left_shift) == ("int16", mult, shift)


def test_int16_hand_values():
    # s_in = 2**-12 (v = 3q, h = |v| >> 8): q = 0 -> (2**23 - 2**23 + 2**7) >> 8 = 0;
    # q = 512 (0.125): v = 1536, h = 6, frac 0: (T[6] << 8) - 2**23 + 2**7 >> 8
    #   = (36843*256 - 8388608 + 128) >> 8 = 4075 (tanh(0.125) * 32768 = 4074.3)
    # q = -512: (-36843*256 + 8388608 + 127) >> 8 = floor(-4074.5) = -4075
    # q = +-32767/-32768 (+-8): saturate to +-32767
    (out,) = run(TANH, int16_ctx(2.0**-12), [0, 512, -512, 32767, -32768])
    assert out.tolist() == [0, 4075, -4075, 32767, -32767]


def test_int16_general_scale_is_odd_up_to_rounding():
    rng = np.random.default_rng(1)
    q = rng.integers(-32767, 32768, 400)
    (pos,) = run(TANH, int16_ctx(7.3e-4, n=400), q)
    (neg,) = run(TANH, int16_ctx(7.3e-4, n=400), -q)
    assert np.abs(pos.astype(int) + neg.astype(int)).max() <= 1


def test_int16_nonzero_zero_point_is_an_error():
    with pytest.raises(OpError, match="zero point 0"):
        TANH.prepare(int16_ctx(0.001, zp_in=3))


def test_int16_power_of_two_scale_on_the_optimized_kernels():
    # LiteRT's optimized resolver runs gemmlowp's 16-bit tanh on the raw input read as
    # Q3.12 (s_in = 2**-11: doubled first, saturating), not the table.
    from refimpl.flavors import TFLITE_BUILTIN

    for s_in, shift in ((2.0**-12, 0), (2.0**-11, 1)):
        data = TANH.prepare(int16_ctx(s_in, TFLITE_BUILTIN))
        assert (data.kind, data.input_left_shift) == ("int16_gemmlowp", shift)
    (opt,) = run(TANH, int16_ctx(2.0**-12, TFLITE_BUILTIN), [0, 512, -512, 32767, -32768])
    (ref,) = run(TANH, int16_ctx(2.0**-12), [0, 512, -512, 32767, -32768])
    # tanh(0) = 0 exactly (the zero mask); tanh is odd: -t for the negated input
    assert opt[0] == 0 and opt[2] == -opt[1]
    # tanh(0.125) * 32768 = 4074.3: the table gives 4075, the 16-bit fixed point (exp and
    # Newton division on 15-bit raws) 4076 -- a few codes off at most; every code is
    # checked against LiteRT by the sweep's TANH-int16x8-allcodes cases
    assert abs(int(opt[1]) - 4074.3) < 4 and opt.tolist() != ref.tolist()
    # s_in = 2**-11: 16384 (8.0) saturates to 32767 when doubled, i.e. tanh(8) = 32767
    (sat,) = run(TANH, int16_ctx(2.0**-11, TFLITE_BUILTIN, n=2), [16384, -16384])
    assert sat.tolist()[0] == -sat.tolist()[1] >= 32766
