"""LOGISTIC kernel: LiteRT LUT path, TFLM fixed-point path, their (dis)agreement, float."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.fixedpoint import SIGMOID_TABLE_UINT16
from refimpl.kernels.logistic import LOGISTIC

CODES = np.arange(-128, 128)


def logistic_ctx(s_in, zp_in, flavor=TFLITE_REF, out_scale=1 / 256, out_zp=-128, dtype=np.int8,
                 n=256):
    return ctx("LOGISTIC", [tensor(dtype, (n,), s_in, zp_in)],
               [tensor(dtype, (n,), out_scale, out_zp)], flavor=flavor)


def outputs(s_in, zp_in, flavor, **kw):
    return run(LOGISTIC, logistic_ctx(s_in, zp_in, flavor, **kw), CODES)[0].astype(np.int64)


# ------------------------------------------------------------------------------------
# Hand-computed values (s_in = 1/16, zp_in = 0)
# ------------------------------------------------------------------------------------
# q = 0: 1/2 -> 0;  q = 16: sigmoid(1) * 256 = 187.15 -> 59;  q = -16: 68.85 -> -59;
# q = 119: sigmoid(7.4375) * 256 = 255.85 -> 256 -> 128 -> 127;  q = -128: 0.0086 -> -128.
HAND = {0: 0, 16: 59, -16: -59, 119: 127, -128: -128}


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=["lut", "fixed-point"])
def test_hand_values(flavor):
    out = outputs(1 / 16, 0, flavor)
    assert {q: int(out[q + 128]) for q in HAND} == HAND


def test_fixed_point_parameters_and_radius():
    # s_in * 2**27 = 2**23 -> multiplier 2**30, left shift 24, radius 15 * 2**27 / 2**24 = 120.
    data = LOGISTIC.prepare(logistic_ctx(1 / 16, 0, TFLM))
    assert (data.input_multiplier, data.input_left_shift, data.input_range_radius) == (
        1 << 30, 24, 120)


def test_fixed_point_saturates_at_the_radius():
    out = outputs(1 / 16, 3, TFLM)  # d = q - 3; |d| >= 120 saturates
    assert out[123 + 128] == 127 and out[-117 + 128] == -128


# ------------------------------------------------------------------------------------
# The two algorithms agree almost always: a claim checked, with its exceptions
# ------------------------------------------------------------------------------------
def test_lut_and_fixed_point_agree_except_rare_plus_minus_one():
    rng = np.random.default_rng(11)
    differ = 0
    for _ in range(300):
        s_in = float(np.float32(np.exp(rng.uniform(np.log(1e-3), np.log(2.0)))))
        zp = int(rng.integers(-128, 128))
        a, b = outputs(s_in, zp, TFLITE_REF), outputs(s_in, zp, TFLM)
        assert np.max(np.abs(a - b)) <= 1
        differ += int((a != b).sum())
    # Measured over 3000 random scales: 4 of 768 000 codes differ (see the cases below).
    assert differ <= 3


# Confirmed on the real runtimes (LiteRT 2.3.0 BUILTIN_REF vs the tflite-micro wheel,
# compare/dev_check_activations.py plumbing): (s_in, zp_in, code, LiteRT, TFLM).
DIVERGENT = [
    (0.006823662202805281, 58, -23, -34, -35),
    (0.10853564739227295, 40, 70, 119, 118),
    (0.03387131914496422, 87, 127, 76, 75),
    (0.002705448539927602, 24, -2, -4, -5),
]


@pytest.mark.parametrize("s_in, zp, code, litert, tflm", DIVERGENT,
                         ids=[f"s{c[0]:.4g}-q{c[2]}" for c in DIVERGENT])
def test_known_runtime_divergence_is_reproduced_per_flavour(s_in, zp, code, litert, tflm):
    assert outputs(s_in, zp, TFLITE_REF)[code + 128] == litert
    assert outputs(s_in, zp, TFLM)[code + 128] == tflm


# ------------------------------------------------------------------------------------
# Output quantization: each runtime checks something different
# ------------------------------------------------------------------------------------
def test_litert_requires_output_scale_exactly_1_over_256():
    with pytest.raises(OpError, match="1/256"):
        LOGISTIC.prepare(logistic_ctx(0.1, 0, out_scale=1 / 255))


def test_litert_table_honours_any_output_zero_point():
    # zero point 0: q = zp_in -> 0.5 * 256 = 128 -> clamp 127; q = -128 -> ~0 -> 0.
    out = outputs(1 / 16, 0, TFLITE_REF, out_zp=0)
    assert (out[128], out[0]) == (127, 0)


def test_tflm_requires_output_zero_point_minus_128():
    with pytest.raises(OpError, match="-128"):
        LOGISTIC.prepare(logistic_ctx(0.1, 0, TFLM, out_zp=0))


def test_tflm_ignores_the_output_scale():
    assert np.array_equal(outputs(0.05, 4, TFLM, out_scale=0.01), outputs(0.05, 4, TFLM))


def test_tflm_rejects_uint8_and_tiny_input_scales():
    with pytest.raises(UnsupportedOpError):
        LOGISTIC.prepare(logistic_ctx(0.1, 128, TFLM, out_zp=0, dtype=np.uint8))
    with pytest.raises(UnsupportedOpError, match="2\\*\\*-28"):
        LOGISTIC.prepare(logistic_ctx(2.0**-30, 0, TFLM))


def test_uint8_lut():
    c = ctx("LOGISTIC", [tensor(np.uint8, (3,), 1 / 16, 128)], [tensor(np.uint8, (3,), 1 / 256, 0)])
    (out,) = run(LOGISTIC, c, [128, 144, 112])
    assert out.dtype == np.uint8 and out.tolist() == [128, 187, 69]  # 0.5, sigmoid(+-1)


# ------------------------------------------------------------------------------------
# float32
# ------------------------------------------------------------------------------------
def f32(v):
    return np.float32(v)


@pytest.mark.parametrize(
    "x, want",
    [
        (17.0, f32(1.0)),  # above 16.619047f: exactly 1
        (16.5, f32(f32(1) / f32(f32(1) + f32(math.exp(-16.5))))),
        (0.0, f32(0.5)),
        (-9.0, f32(f32(1) / f32(f32(1) + f32(math.exp(9.0))))),  # not below the cutoff
        (-10.0, f32(math.exp(-10.0))),  # below -9: exp(x) directly
        (-200.0, f32(0.0)),
    ],
    ids=["17", "16.5", "0", "-9", "-10", "-200"],
)
def test_float_cutoffs_and_formula(x, want):
    c = ctx("LOGISTIC", [tensor(np.float32, (1,))], [tensor(np.float32, (1,))])
    (out,) = run(LOGISTIC, c, [x])
    assert out.dtype == np.float32 and out[0] == want


# ------------------------------------------------------------------------------------
# int16 (table of sigmoid(i/24) with interpolation; identical in both runtimes)
# ------------------------------------------------------------------------------------
def int16_ctx(s_in, flavor=TFLITE_REF, out_scale=1 / 32768, zp_in=0, zp_out=0, n=5):
    return ctx("LOGISTIC", [tensor(np.int16, (n,), s_in, zp_in)],
               [tensor(np.int16, (n,), out_scale, zp_out)], flavor=flavor)


@pytest.mark.parametrize("flavor", [TFLITE_REF, TFLM], ids=["ref", "tflm"])
def test_int16_hand_values(flavor):
    # s_in = 2**-12 is the power-of-two case: v = 3*q, h = |v| >> 9.
    # q = 0: (T[0] << 9) + 2**9 >> 10 = (32768*512 + 512) >> 10 = 16384 (0.5)
    # q = 1024 (0.25): v = 3072, h = 6, frac 0: (T[6] << 9 + 512) >> 10 = (36843*512+512)>>10
    #   = 18864128 >> 10 = 18422 (sigmoid(0.25) * 32768 = 18424.6; the table is coarse)
    # q = -1024: (2**25 - 36843*512 + 511) >> 10 = 14346
    # q = 32767 (8.0): v = 98301, h = 191, frac 509: sigmoid(7.96) ~ 32756
    c = int16_ctx(2.0**-12, flavor)
    data = LOGISTIC.prepare(c)
    assert (data.kind, data.input_multiplier, data.input_left_shift) == ("int16", 0, 0)
    t = [int(v) for v in SIGMOID_TABLE_UINT16]
    big = ((t[191] << 9) + 509 * (t[192] - t[191]) + 512) >> 10
    (out,) = run(LOGISTIC, c, [0, 1024, -1024, 32767, -32768])
    assert out.tolist()[:3] == [16384, 18422, 14346]
    assert out.tolist()[3] == big and 32740 < big < 32767
    assert out.dtype == np.int16


def test_int16_general_scale_saturates_at_both_ends():
    # s_in = 0.001: multiplier 25165, shift 11 (int16_activation_input_rescaling);
    # 32767 -> v = 402,6xx, h >= 255 -> 32767;  -32768 -> 1
    (out,) = run(LOGISTIC, int16_ctx(0.001), [32767, -32768, 0, 1, -1])
    assert out.tolist()[:3] == [32767, 1, 16384]


def test_int16_output_scale_must_be_exactly_one_over_32768_in_litert_only():
    near = 1 / 32768 * (1 + 1e-5)  # CheckedLog2 tolerance accepts it
    with pytest.raises(OpError, match="exactly 1/32768"):
        LOGISTIC.prepare(int16_ctx(0.001, out_scale=near))
    assert LOGISTIC.prepare(int16_ctx(0.001, TFLM, out_scale=near)).kind == "int16"


@pytest.mark.parametrize("kw", [{"zp_in": 1}, {"zp_out": 1}, {"out_scale": 1 / 16384}],
                         ids=["zp_in", "zp_out", "scale"])
def test_int16_wrong_quantization_is_an_error(kw):
    with pytest.raises(OpError):
        LOGISTIC.prepare(int16_ctx(0.001, **kw))


def test_int16_power_of_two_scale_on_the_optimized_kernels():
    # s_in = 2**-12 on LiteRT's optimized resolver: gemmlowp's 16-bit logistic on Q3.12.
    # logistic(0) is the constant 1/2 = RoundingDivideByPOT(2**30, 16) = 16384; for
    # x > 0 the negative side is 32767 - p (so p(x) + p(-x) = 32767, not 32768).
    from refimpl.flavors import TFLITE_BUILTIN

    c = int16_ctx(2.0**-12, TFLITE_BUILTIN)
    assert LOGISTIC.prepare(c).kind == "int16_gemmlowp"
    (out,) = run(LOGISTIC, c, [0, 4096, -4096, 32767, -32768])
    assert out[0] == 16384
    assert int(out[1]) + int(out[2]) == 32767
    # logistic(1) * 32768 = 23955.3; 16-bit fixed point lands a few codes off (23952);
    # every code is checked against LiteRT by the sweep's LOGISTIC-int16x8-allcodes cases
    assert abs(int(out[1]) - 32768 / (1 + math.exp(-1.0))) < 4
    assert out[3] > 32750 and out[4] < 20  # logistic(+-8)
