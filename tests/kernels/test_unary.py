"""ABS, NEG, SQRT, RSQRT, FLOOR, CEIL, SQUARE (unary.py) and EXP, LOG, SIN, COS
(unary_math.py): hand-computed quantized goldens, integer wrap-around, the float32 libm
reproductions against the machine's glibc, XNNPACK's special cases, errors."""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np
import pytest
from _op_builders import ctx, run, tensor

from refimpl.errors import OpError, UnsupportedOpError
from refimpl.flavors import TFLITE_BUILTIN, TFLITE_REF, TFLM, XNNPACK
from refimpl.kernels.unary import ABS, CEIL, FLOOR, NEG, RSQRT, SQRT, SQUARE, fma_f32, \
    flush_denormals
from refimpl.kernels.unary_math import COS, EXP, LOG, SIN, logf, sincosf

I8, I16, I32, I64, F32 = np.int8, np.int16, np.int32, np.int64, np.float32


def qctx(op, dtype, n, q_in, q_out, flavor=TFLITE_REF):
    return ctx(op, [tensor(dtype, (n,), *q_in)], [tensor(dtype, (n,), *q_out)], flavor=flavor)


def fctx(op, n, flavor=TFLITE_REF, dtype=F32):
    return ctx(op, [tensor(dtype, (n,))], [tensor(dtype, (n,))], flavor=flavor)


# ------------------------------------------------------------------------------------
# ABS
# ------------------------------------------------------------------------------------
def test_abs_int8_rescales_with_double_rounding():
    # s_in / s_out = 0.5 / 0.25 = 2 -> (2**30, 2). zp_in = 1, zp_out = -2.
    # q = -3: |-4| = 4 -> 8 - 2 = 6;  q = 1: 0 -> -2;  q = 100: 99 -> 198 - 2 -> clamp 127
    c = qctx("ABS", I8, 3, (0.5, 1), (0.25, -2))
    data = ABS.prepare(c)
    assert (data.needs_rescale, data.output_multiplier, data.output_shift) == (True, 2**30, 2)
    assert run(ABS, c, [-3, 1, 100])[0].tolist() == [6, -2, 127]


def test_abs_int8_equal_scales_only_moves_the_zero_point():
    # s_in == s_out: |q - zp_in| + zp_out, clamped; q = -128, zp 0: 128 -> 127.
    c = qctx("ABS", I8, 3, (0.1, 0), (0.1, -5))
    assert not ABS.prepare(c).needs_rescale
    assert run(ABS, c, [-128, -7, 7])[0].tolist() == [123, 2, 2]


def test_abs_int16_rounds_ties_away_from_zero():
    # s_in / s_out = 0.5 -> (2**30, 0): 3 * 0.5 = 1.5 -> 2;  5 -> 2.5 -> 3 (RDBPOT, not SRDHM)
    c = qctx("ABS", I16, 3, (0.5, 0), (1.0, 0))
    assert run(ABS, c, [-3, 5, -32768])[0].tolist() == [2, 3, 16384]


@pytest.mark.parametrize("dtype", [I32, I16], ids=["int32", "int16-raw"])
def test_abs_of_the_most_negative_raw_integer_wraps(dtype):
    lo = np.iinfo(dtype).min
    c = fctx("ABS", 3, dtype=dtype)
    assert run(ABS, c, [lo, -5, 7])[0].tolist() == [lo, 5, 7]


def test_int16_quantized_needs_zero_points_zero():
    with pytest.raises(OpError):
        ABS.prepare(qctx("ABS", I16, 2, (0.5, 3), (0.5, 0)))


# ------------------------------------------------------------------------------------
# NEG
# ------------------------------------------------------------------------------------
def test_neg_int8_negates_the_stored_codes_and_ignores_quantization():
    c = qctx("NEG", I8, 4, (0.5, 10), (0.25, -3))
    assert run(NEG, c, [-128, 127, 0, 10])[0].tolist() == [-128, -127, 0, -10]


def test_neg_float_flips_zero_sign():
    got = run(NEG, fctx("NEG", 2), [0.0, -2.5])[0]
    assert np.signbit(got[0]) and got[1] == 2.5


def test_neg_int8_has_no_tflm_kernel():
    with pytest.raises(UnsupportedOpError):
        NEG.prepare(fctx("NEG", 2, TFLM, dtype=I8))


# ------------------------------------------------------------------------------------
# SQRT / RSQRT
# ------------------------------------------------------------------------------------
def test_sqrt_int8_truncates_instead_of_rounding():
    # s_in = s_out = 1: sqrt(8) = 2.83 -> 2 (rounding would give 3); sqrt(127) = 11.27 -> 11
    c = qctx("SQRT", I8, 4, (1.0, 0), (1.0, -10))
    assert run(SQRT, c, [8, 127, 0, 4])[0].tolist() == [-8, 1, -10, -8]


def test_sqrt_beyond_int32_becomes_int32_min_then_wraps_with_the_zero_point():
    # s_in = 1, s_out = 2**-30: sqrt(4) * 2**30 = 2**31 does not fit int32 -> INT32_MIN
    # -> clamp -128; with zp_out = -5 the C int addition wraps to a positive value -> 127.
    # sqrt(1) * 2**30 fits -> 127; q = 0 -> zp. (Measured on LiteRT BUILTIN_REF.)
    c = qctx("SQRT", I8, 3, (1.0, 0), (2.0**-30, 7))
    assert run(SQRT, c, [4, 1, 0])[0].tolist() == [-128, 127, 7]
    c = qctx("SQRT", I8, 3, (1.0, 0), (2.0**-30, -5))
    assert run(SQRT, c, [4, 1, 0])[0].tolist() == [127, 127, -5]


def test_sqrt_int8_negative_real_input_fails_at_invoke():
    c = qctx("SQRT", I8, 2, (1.0, 5), (1.0, 0))
    with pytest.raises(OpError):
        run(SQRT, c, [4, 6])


def test_rsqrt_int8_fixed_point_hand_values():
    # s_in = 1, s_out = 2**-6, zp_out = -128: 1/sqrt(q) * 64 - 128.
    # q = 1: 64 -> -64;  q = 4: 32 -> -96;  q = 16: 16 -> -112;  q = 0: qmax.
    # (LiteRT BUILTIN_REF and TFLM gave the same codes, also q = 2 -> -83, 3 -> -91.)
    for flavor in (TFLITE_REF, TFLM):
        c = qctx("RSQRT", I8, 6, (1.0, 0), (2**-6, -128), flavor)
        assert run(RSQRT, c, [1, 4, 16, 0, 2, 3])[0].tolist() == [-64, -96, -112, 127, -83, -91]


def test_rsqrt_input_below_the_zero_point_fails_at_invoke():
    c = qctx("RSQRT", I8, 2, (1.0, 0), (0.1, 0))
    with pytest.raises(OpError):
        run(RSQRT, c, [3, -1])


def test_rsqrt_int16_litert_table_differs_from_tflm_fixed_point():
    # Outputs of LiteRT 2.3.0 BUILTIN_REF (interpolated 513-entry table) and TFLM (fixed
    # point) for s_in = 1, s_out = 2**-14: they agree only away from the singularity.
    q = [0, 1, 4, 100, 10000, 32767]
    c_ref = qctx("RSQRT", I16, 6, (1.0, 0), (2**-14, 0))
    c_tflm = qctx("RSQRT", I16, 6, (1.0, 0), (2**-14, 0), TFLM)
    assert run(RSQRT, c_ref, q)[0].tolist() == [25241, 25055, 24497, 6634, 164, 91]
    assert run(RSQRT, c_tflm, q)[0].tolist() == [32767, 16384, 8192, 1638, 164, 91]


def test_rsqrt_float_is_one_over_sqrtf_and_xnnpack_gives_nan_at_zero():
    x = [4.0, 0.0, 2.0]
    ref = run(RSQRT, fctx("RSQRT", 3), x)[0]
    assert ref[0] == 0.5 and ref[1] == np.inf
    assert ref[2] == F32(1) / np.sqrt(F32(2))
    xnn = run(RSQRT, fctx("RSQRT", 3, XNNPACK), x)[0]
    assert np.isnan(xnn[1])


# ------------------------------------------------------------------------------------
# FLOOR / CEIL / SQUARE and the XNNPACK denormal flush
# ------------------------------------------------------------------------------------
def test_floor_ceil_square_float():
    x = [-1.5, 2.5, -0.0]
    assert run(FLOOR, fctx("FLOOR", 3), x)[0].tolist() == [-2.0, 2.0, -0.0]
    assert run(CEIL, fctx("CEIL", 3), x)[0].tolist() == [-1.0, 3.0, -0.0]
    assert run(SQUARE, fctx("SQUARE", 3), x)[0].tolist() == [2.25, 6.25, 0.0]


def test_xnnpack_reads_denormals_as_zero():
    # measured on LiteRT AUTO: CEIL(1e-40) = 0 (the reference kernel gives 1), NEG(-1e-40) = 0
    assert run(CEIL, fctx("CEIL", 1, TFLITE_BUILTIN), [1e-40])[0][0] == 1.0
    assert run(CEIL, fctx("CEIL", 1, XNNPACK), [1e-40])[0][0] == 0.0
    assert run(NEG, fctx("NEG", 1, XNNPACK), [-1e-40])[0][0] == 0.0


def test_flush_denormals_keeps_the_sign():
    got = flush_denormals(np.array([1e-40, -1e-40, 1.2e-38, -3.0], F32))
    assert got.tolist() == [0.0, 0.0, float(F32(1.2e-38)), -3.0] and np.signbit(got[1])


def test_fma_f32_rounds_once():
    # 3 * fl32(1/3) - 1 = 3 * 11184811 * 2**-25 - 1 = 2**-25 exactly;
    # unfused: fl32(1 + 2**-25) = 1 -> 0
    third = F32(1) / F32(3)
    assert fma_f32(F32(3), third, F32(-1)) == F32(2.0**-25)
    assert (F32(3) * third).astype(F32) - F32(1) == 0


# ------------------------------------------------------------------------------------
# EXP / LOG
# ------------------------------------------------------------------------------------
def test_exp_int8_table_hand_values_and_saturation():
    # s_in = 0.1, zp_in = -128, s_out = 0.05, zp_out = 5: q = -128 -> exp(0) / 0.05 + 5 = 25;
    # q = -1 -> exp(12.7) / 0.05 = 6.5e6 -> 127. LiteRT gave 127 also for q = 127, where
    # exp(25.5) / 0.05 = 2.4e12 overflows int32 (saturated, not INT32_MIN).
    c = qctx("EXP", I8, 3, (0.1, -128), (0.05, 5))
    assert run(EXP, c, [-128, -1, 127])[0].tolist() == [25, 127, 127]


def test_log_int8_non_positive_inputs_give_the_lowest_code():
    # q = -128 (x = 0) -> lowest output; q = -1: log(12.7) = 2.5416 / 0.05 = 50.8 -> 51 + 5
    c = qctx("LOG", I8, 3, (0.1, -128), (0.05, 5))
    assert run(LOG, c, [-128, -1, 127])[0].tolist() == [-128, 56, 70]


def test_exp_log_int8_have_no_tflm_kernel():
    with pytest.raises(UnsupportedOpError):
        EXP.prepare(qctx("EXP", I8, 2, (0.1, 0), (0.1, 0), TFLM))


def _glibc(name: str):
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    f = getattr(lib, name)
    f.restype, f.argtypes = ctypes.c_float, [ctypes.c_float]
    return f


def test_logf_equals_the_machines_glibc_logf():
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 0x7F800000, 4000).astype(np.uint32)  # every positive float range
    x = np.concatenate([bits.view(F32), rng.uniform(0.5, 2.0, 2000).astype(F32),
                        np.array([1.0, 0.0, -0.0, -1.0, np.inf, np.nan, 1e-45], F32)])
    libm_logf = _glibc("logf")
    want = np.array([libm_logf(float(v)) for v in x], F32)
    got = logf(x)
    assert np.array_equal(got, want, equal_nan=True)


def test_float_log_and_exp_special_values():
    got = run(LOG, fctx("LOG", 4), [0.0, -1.0, 1.0, np.inf])[0]
    assert got[0] == -np.inf and np.isnan(got[1]) and got[2] == 0.0 and got[3] == np.inf
    got = run(EXP, fctx("EXP", 3), [0.0, -np.inf, 89.0])[0]
    assert got.tolist() == [1.0, 0.0, np.inf]


# ------------------------------------------------------------------------------------
# SIN / COS
# ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sinf", "cosf"])
def test_sincosf_equals_the_machines_glibc(name):
    rng = np.random.default_rng(9)
    bits = rng.integers(0, 0x7F800000, 3000).astype(np.uint32)  # up to 3e38 (table reduction)
    x = np.concatenate([bits.view(F32), rng.uniform(-130, 130, 3000).astype(F32),
                        np.array([0.0, -0.0, np.inf, np.nan, 1e-40, 0.78539819, 120.0], F32)])
    x[::2] *= -1
    libm_f = _glibc(name)
    want = np.array([libm_f(float(v)) for v in x], F32)
    assert np.array_equal(sincosf(x, name == "cosf"), want, equal_nan=True)


def test_xnnpack_sin_cos_exp_match_the_delegate():
    # LiteRT 2.3.0 AUTO (XNNPACK, AVX-512 machine) outputs for these inputs.
    x = [-0.5, -1.0, -17.25, -3.0, 2.0, np.nan, -100.0, -1e-40]
    want = {
        "SIN": [-0.4794255495071411, -0.8414708971977234, 0.9995864629745483,
                -0.14112010598182678, 0.9092974066734314, np.nan, 0.5063656568527222, 0.0],
        "COS": [0.8775825500488281, 0.5403022766113281, -0.0287556741386652,
                -0.9899924397468567, -0.416146844625473, np.nan, 0.8623188138008118, 1.0],
    }
    for op, kernel in (("SIN", SIN), ("COS", COS)):
        got = run(kernel, fctx(op, 8, XNNPACK), x)[0]
        assert np.array_equal(got, np.array(want[op], F32), equal_nan=True), op
    # exp: NaN -> 0 (maxps keeps the clamp constant), x * log2e rounding to 128 -> inf
    got = run(EXP, fctx("EXP", 3, XNNPACK), [np.nan, 88.8, -100.0])[0]
    assert got.tolist() == [0.0, np.inf, 0.0]
