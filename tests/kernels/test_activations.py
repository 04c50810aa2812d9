"""Standalone RELU / RELU6 / RELU_N1_TO_1: float clamps, requantization, TFLM's RELU6."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.arithmetic import quantize_multiplier
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_REF, TFLM
from refimpl.kernels.activations import RELU, RELU6, RELU_0_TO_1, RELU_N1_TO_1

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def act_ctx(name, inp, out, flavor=TFLITE_REF):
    return ctx(name, [inp], [out], flavor=flavor)


@pytest.mark.parametrize(
    "kernel, name, expected",
    [
        (RELU, "RELU", [0.0, 0.5, 7.0, 0.0]),
        (RELU6, "RELU6", [0.0, 0.5, 6.0, 0.0]),
        (RELU_N1_TO_1, "RELU_N1_TO_1", [-1.0, 0.5, 1.0, -0.25]),
        (RELU_0_TO_1, "RELU_0_TO_1", [0.0, 0.5, 1.0, 0.0]),
    ],
    ids=["relu", "relu6", "relu_n1_to_1", "relu_0_to_1"],
)
def test_float_clamps(kernel, name, expected):
    c = act_ctx(name, tensor(F32, [4]), tensor(F32, [4]))
    assert run(kernel, c, [-3.0, 0.5, 7.0, -0.25])[0].tolist() == expected


def test_float_relu_keeps_nan_and_negative_zero():
    # x < 0 ? 0 : x  -- false for NaN and for -0.0 (LiteRT REF returns -0.0 too)
    got = run(RELU, act_ctx("RELU", tensor(F32, [2]), tensor(F32, [2])), [np.nan, -0.0])[0]
    assert np.isnan(got[0]) and got[1] == 0 and np.signbit(got[1])
    got = run(RELU6, act_ctx("RELU6", tensor(F32, [1]), tensor(F32, [1])), [np.nan])[0]
    assert np.isnan(got[0])


def test_int8_relu_requantizes():
    # s_in/s_out = fl32(0.1/0.05) = 2 -> m = 2**30, shift 2 ; out = 2*(q + 10) - 128
    # RELU: lo = max(-128, -128 + roundf(0/0.05)) = -128, hi = 127
    c = act_ctx("RELU", tensor(I8, [4], 0.1, -10), tensor(I8, [4], 0.05, -128))
    d = RELU.prepare(c)
    assert (d.output_multiplier, d.output_shift) == (2**30, 2)
    assert (d.quantized_activation_min, d.quantized_activation_max) == (-128, 127)
    assert run(RELU, c, [-128, -10, 20, 127])[0].tolist() == [-128, -128, -68, 127]


def test_int8_relu6_upper_bound_from_output_scale():
    # hi = -128 + roundf(fl32(6 / 0.05)) = -128 + 120 = -8
    c = act_ctx("RELU6", tensor(I8, [3], 0.1, -10), tensor(I8, [3], 0.05, -128))
    d = RELU6.prepare(c)
    assert d.quantized_activation_max == -8
    assert run(RELU6, c, [20, 49, 50])[0].tolist() == [-68, -10, -8]  # 50 -> 2*60-128 = -8


def test_int8_relu_n1_to_1_bounds():
    # s_out = 0.01, zp 0: lo = roundf(-1/0.01) = -100, hi = 100 ; ratio 0.5/0.01 = 50
    c = act_ctx("RELU_N1_TO_1", tensor(I8, [3], 0.5, 0), tensor(I8, [3], 0.01, 0))
    assert run(RELU_N1_TO_1, c, [-3, 1, 3])[0].tolist() == [-100, 50, 100]


def test_multiplier_precision_follows_the_flavour():
    # s_in = 0.102, s_out = 0.196 (float32). TFLite divides in float32:
    #   fl32(0.102/0.196) -> m = 1117568000 ; q = 49: 49*m/2**31 = 25.4999995 -> 25
    # the TFLM wheel divides in double:
    #   -> m = 1117568029 ; 49*m/2**31 = 25.5000002 -> 26
    s_in, s_out = np.float32(0.102), np.float32(0.196)
    ref = act_ctx("RELU", tensor(I8, [1], s_in, 0), tensor(I8, [1], s_out, -128))
    tflm = act_ctx("RELU", tensor(I8, [1], s_in, 0), tensor(I8, [1], s_out, -128), flavor=TFLM)
    m32 = quantize_multiplier(float(s_in / s_out))[0]  # float32 division
    m64 = quantize_multiplier(float(s_in) / float(s_out))[0]  # double division
    assert RELU.prepare(ref).output_multiplier == m32 == 1117568000
    assert RELU.prepare(tflm).output_multiplier == m64 != m32
    assert run(RELU, ref, [49])[0].tolist() == [-103]
    assert run(RELU, tflm, [49])[0].tolist() == [-102]


def test_tflm_relu6_clamps_raw_input_codes_without_requantizing():
    # TFLM: lower = zp_in = -10, upper = roundf(6 / 0.1) + zp_in = 50; output params ignored
    c = act_ctx("RELU6", tensor(I8, [4], 0.1, -10), tensor(I8, [4], 0.05, -128), flavor=TFLM)
    d = RELU6.prepare(c)
    assert d.kind == "clamp"
    assert (d.quantized_activation_min, d.quantized_activation_max) == (-10, 50)
    assert run(RELU6, c, [-128, 0, 49, 127])[0].tolist() == [-10, 0, 49, 50]


def test_tflm_relu_still_requantizes():
    c = act_ctx("RELU", tensor(I8, [1], 0.1, -10), tensor(I8, [1], 0.05, -128), flavor=TFLM)
    assert RELU.prepare(c).kind == "requantize"


def test_uint8_and_int16():
    c = act_ctx("RELU6", tensor(U8, [3], 0.1, 118), tensor(U8, [3], 0.05, 0))
    assert run(RELU6, c, [0, 148, 255])[0].tolist() == [0, 60, 120]
    c = act_ctx("RELU", tensor(I16, [3], 2.0**-10, 0), tensor(I16, [3], 2.0**-11, 0))
    assert run(RELU, c, [-5, 7, 20000])[0].tolist() == [0, 14, 32767]


def test_int16_relu6_requantizes_in_tflite_and_clamps_raw_codes_in_tflm():
    # s_in = 2**-10, s_out = 2**-11 (ratio 2): LiteRT: Q_out(6) = 6 / 2**-11 = 12288;
    # 5000 -> 10000, 7000 -> 14000 -> 12288, -3 -> 0.
    # TFLM: clamp raw input codes to [0, Q_in(6) = 6144]: 5000, 6144, 0 (output scale ignored)
    t_in, t_out = tensor(I16, [3], 2.0**-10, 0), tensor(I16, [3], 2.0**-11, 0)
    assert run(RELU6, act_ctx("RELU6", t_in, t_out), [5000, 7000, -3])[0].tolist() == \
        [10000, 12288, 0]
    c = act_ctx("RELU6", tensor(I16, [3], 2.0**-10, 0), tensor(I16, [3], 2.0**-11, 0),
                flavor=TFLM)
    assert run(RELU6, c, [5000, 7000, -3])[0].tolist() == [5000, 6144, 0]


def test_int16_nonzero_zero_point_is_error():
    c = act_ctx("RELU", tensor(I16, [1], 0.5, 2), tensor(I16, [1], 0.5, 0))
    with pytest.raises(OpError, match=r"node 7 \(RELU\).*zero points 0"):
        RELU.prepare(c)


def test_relu_n1_to_1_int16_is_unsupported():
    c = act_ctx("RELU_N1_TO_1", tensor(I16, [1], 0.5, 0), tensor(I16, [1], 0.5, 0))
    with pytest.raises(UnsupportedOpError):
        RELU_N1_TO_1.prepare(c)


def test_type_change_is_error():
    c = act_ctx("RELU", tensor(I8, [1], 0.5, 0), tensor(U8, [1], 0.5, 0))
    with pytest.raises(OpError, match="input type"):
        RELU.prepare(c)
