"""LOG_SOFTMAX along the last axis: ``out = x - max(x) - log(sum(exp(x - max(x))))``.

Types: float32, int8 and uint8 in LiteRT, float32 and int8 in TFLM; XNNPACK has no
such operator (``AUTO`` runs LiteRT's optimized kernel). Quantized outputs have the
fixed parameters scale 16/256 and zero point 127 (int8) / 255 (uint8), checked by both
runtimes; beta is 1.

Variants (``OpData.kind``):

``float`` (LiteRT reference, TFLM)
    ``m = max``; ``sum = 0.0f; sum += expf(x_c - m)`` in order; ``ls = logf(sum)``;
    ``out = (x - m) - ls``, all float32, glibc ``expf`` / ``logf``.
``eigen-float`` (LiteRT optimized float32)
    as ``float`` except ``sum``: Eigen's SSE reduction of ``exp(x - m)``, with Eigen's
    own polynomial ``exp`` on whole packets of 4 and glibc ``expf`` on the rest
    (:func:`eigen_sum_of_exps`, :func:`eigen_expf`).
``fixed`` (LiteRT reference int8 / uint8, TFLM int8): gemmlowp fixed point, see
    :func:`_log_softmax_fixed`.
``table`` (LiteRT optimized int8 / uint8): a float32 table
    ``T[255 - v] = expf(fl32(-s_in) * v)``; per row ``sum = sum_c T[255 - (m - q_c)]``
    (float32, in order), ``ls = logf(sum)``, ``k = fl32(s_in / s_out)``,
    ``pre = fl32(fl32(s_in * m) + ls) / s_out``,
    ``out = clamp(rint(fl32(k * q) - pre) + zp_out)`` (round half to even).

``logf`` is glibc's (Arm optimized-routines) algorithm, evaluated here in float64
exactly as the C code does (:func:`logf`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fixedpoint as fp
from .. import libm
from ..arithmetic import (
    INT32_MIN,
    multiply_by_quantized_multiplier,
    qrange,
    quantize_multiplier,
    rounding_divide_by_pot,
    sat32,
    wrap32,
)
from ..context import Kernel, OpContext

F32 = np.float32
SCALED_DIFF_INTEGER_BITS = 5     # exp input in Q5.26
ACCUMULATION_INTEGER_BITS = 12   # sum of exps in Q12.19
OUTPUT_INTEGER_BITS = 4          # output in Q4.27 before the final shift
OUTPUT_SCALE = 16.0 / 256
OUTPUT_ZERO_POINT = {"int8": 127, "uint8": 255}

# --------------------------------------------------------------------------------------
# glibc logf (Arm optimized-routines, LOGF_TABLE_BITS = 4, polynomial order 4)
# --------------------------------------------------------------------------------------
_LOGF_TABLE = np.array([float.fromhex(v) for v in (
    "0x1.661ec79f8f3bep+0", "-0x1.57bf7808caadep-2", "0x1.571ed4aaf883dp+0",
    "-0x1.2bef0a7c06ddbp-2", "0x1.49539f0f010bp+0", "-0x1.01eae7f513a67p-2",
    "0x1.3c995b0b80385p+0", "-0x1.b31d8a68224e9p-3", "0x1.30d190c8864a5p+0",
    "-0x1.6574f0ac07758p-3", "0x1.25e227b0b8eap+0", "-0x1.1aa2bc79c81p-3",
    "0x1.1bb4a4a1a343fp+0", "-0x1.a4e76ce8c0e5ep-4", "0x1.12358f08ae5bap+0",
    "-0x1.1973c5a611cccp-4", "0x1.0953f419900a7p+0", "-0x1.252f438e10c1ep-5",
    "0x1p+0", "0x0p+0", "0x1.e608cfd9a47acp-1", "0x1.aa5aa5df25984p-5",
    "0x1.ca4b31f026aap-1", "0x1.c5e53aa362eb4p-4", "0x1.b2036576afce6p-1",
    "0x1.526e57720db08p-3", "0x1.9c2d163a1aa2dp-1", "0x1.bc2860d22477p-3",
    "0x1.886e6037841edp-1", "0x1.1058bc8a07ee1p-2", "0x1.767dcf5534862p-1",
    "0x1.4043057b6ee09p-2")]).reshape(16, 2)   # (1/c, log c) per subinterval
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_A0, _A1, _A2 = (float.fromhex(v) for v in
                 ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2"))
_OFF = 0x3F330000


def logf(x: np.ndarray) -> np.ndarray:
    """glibc ``logf`` for positive normal float32 ``x`` (others: NumPy's value).

    Arithmetic (float64 except the final rounding)::

        t = bits(x) - 0x3f330000;  i = (t >> 19) mod 16;  k = t >> 23 (arithmetic)
        z = float(bits(x) - (t & 0xff800000))              # x / 2^k, near 1
        r = z * invc[i] - 1;  y0 = logc[i] + k * ln2
        y = (A0 * r^2 + (A1 * r + A2)) * r^2 + (y0 + r);  logf = float32(y)

    ``x == 1`` gives exactly 0. glibc on x86-64 may select an FMA build of the same
    code; fused and unfused evaluations differ only when ``y`` falls within about an ulp
    of the double from a float32 rounding midpoint.
    """
    x = np.asarray(x, F32)
    ix = x.view(np.uint32).astype(np.int64)
    tmp = (ix - _OFF) & 0xFFFFFFFF
    i = (tmp >> 19) % 16
    k = np.where(tmp >= 1 << 31, tmp - (1 << 32), tmp) >> 23
    iz = (ix - (tmp & 0xFF800000)) & 0xFFFFFFFF
    z = iz.astype(np.uint32).view(F32).astype(np.float64)
    invc, logc = _LOGF_TABLE[i, 0], _LOGF_TABLE[i, 1]
    r = z * invc - 1.0
    y0 = logc + k.astype(np.float64) * _LN2
    r2 = r * r
    y = _A1 * r + _A2
    y = _A0 * r2 + y
    y = y * r2 + (y0 + r)
    out = y.astype(F32)
    normal = (x >= np.finfo(F32).tiny) & np.isfinite(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(normal, out, np.log(x))
    return np.where(x == F32(1), F32(0), out).astype(F32)


@dataclass(frozen=True)
class OpData:
    """Precomputed parameters.

    Attributes
    ----------
    kind : str
        ``"float"``, ``"eigen-float"``, ``"fixed"`` or ``"table"`` (module docstring).
    input_multiplier, input_left_shift : int
        ``min(s_in * 2^26, 2^31 - 1)`` as Q0.31 and left shift (>= 1).
    reverse_scaling_divisor, reverse_scaling_right_shift : int
        ``2^(31 - input_left_shift) / input_multiplier`` as Q0.31 and right shift.
    diff_min : int
        ``-CalculateInputRadius(5, input_left_shift)``.
    input_scale : float
        float32 input scale (``table``).
    table : tuple of float
        256 float32 entries ``expf(-s_in * v)`` at index ``255 - v`` (``table``).
    output_zero_point, out_min, out_max : int
    """

    kind: str
    input_multiplier: int = 0
    input_left_shift: int = 0
    reverse_scaling_divisor: int = 0
    reverse_scaling_right_shift: int = 0
    diff_min: int = 0
    input_scale: float = 0.0
    table: tuple[float, ...] = ()
    output_zero_point: int = 0
    out_min: int = 0
    out_max: int = 0


def prepare(ctx: OpContext) -> OpData:
    """Validate types and the fixed output quantization; precompute the variant's data.

    Arithmetic (``fixed``, double precision as upstream)::

        real = min(1.0 * s_in * 2^26, 2^31 - 1);  (m, ls) = QuantizeMultiplier(real)  # ls >= 1
        (d, e) = QuantizeMultiplier(2^(31 - ls) / m)  (must be < 1);  right shift = -e
        diff_min = -floor(31 * 2^26 / 2^ls)

    Mirrors: ``LogSoftmaxPrepare`` (tflite/kernels/activations.cc),
    ``PreprocessLogSoftmaxScalingExp`` (quantization_util.cc),
    ``PopulateSoftmaxLookupTable`` (optimized_ops.h), ``CalculateOpData``
    (micro/kernels/log_softmax.cc).
    """
    x, out = ctx.input(0), ctx.output(0)
    ctx.require(len(x.shape) >= 1, "the input must have rank >= 1")
    name = np.dtype(x.dtype).name
    allowed = ("float32", "int8") if ctx.flavor.tflm else ("float32", "int8", "uint8")
    if name not in allowed or np.dtype(out.dtype) != np.dtype(x.dtype):
        raise ctx.unsupported(supported=", ".join(allowed) + " (same input and output type)")
    ctx.set_output_shape(0, x.shape)
    if name == "float32":
        return OpData("eigen-float" if ctx.flavor.optimized else "float")
    for t in (x, out):
        ctx.require(t.is_quantized and not t.is_per_channel,
                    f"tensor {t.describe()} needs per-tensor quantization")
    zp = OUTPUT_ZERO_POINT[name]
    ctx.require(float(out.scale[0]) == OUTPUT_SCALE and int(out.zero_point[0]) == zp,
                f"output {out.describe()} must have scale 16/256 and zero point {zp}")
    lo, hi = qrange(np.dtype(x.dtype))
    s_in = F32(x.scale[0])
    if ctx.flavor.optimized:
        v = np.arange(256, dtype=F32)
        entries = libm.expf((F32(-s_in) * v).astype(F32))
        table = tuple(float(e) for e in entries[::-1])          # T[255 - v]
        return OpData("table", input_scale=float(s_in), table=table, output_zero_point=zp,
                      out_min=lo, out_max=hi)
    real = min(float(s_in) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), 2.0**31 - 1.0)
    if not real > 1.0:
        raise ctx.error(f"s_in * 2^26 = {real!r} must exceed 1 (QuantizeMultiplierGreaterThan"
                        "One aborts in LiteRT and TFLM)")
    multiplier, left_shift = quantize_multiplier(real)
    reverse = float(1 << (31 - left_shift)) / float(multiplier)
    if not 0.0 < reverse < 1.0:
        raise ctx.error(f"reverse scaling divisor {reverse!r} is not below 1 (the runtimes "
                        "abort in QuantizeMultiplierSmallerThanOneExp)")
    divisor, reverse_shift = quantize_multiplier(reverse)
    diff_min = -fp.calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    return OpData("fixed", input_multiplier=multiplier, input_left_shift=left_shift,
                  reverse_scaling_divisor=divisor, reverse_scaling_right_shift=-reverse_shift,
                  diff_min=diff_min, output_zero_point=zp, out_min=lo, out_max=hi)


# --------------------------------------------------------------------------------------
# Fixed point
# --------------------------------------------------------------------------------------
_LOG_2 = 1488522236             # ln 2 in Q0.31
_SQRT_SQRT_HALF = 1805811301     # 0.5^(1/4)
_SQRT_HALF = 1518500250          # 0.5^(1/2)
_ONE_QUARTER = 536870912
_ALPHA_N = 117049297             # 11/240 * 2^(1/4)
_ALPHA_D = 127690142             # 1/20 * 2^(1/4)
_ALPHA_I = 1057819769            # 2 / 2^(1/4) - 2^(1/4)
_ALPHA_F = 638450708             # 1/4 * 2^(1/4)


def _shift_left_sat(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """``SaturatingRoundingMultiplyByPOTParam`` for exponents >= 0 (per element)."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    threshold = (np.int64(1) << (31 - e)) - 1
    shifted = wrap32(x << e)
    out = np.where(x > threshold, 2**31 - 1, np.where(x < -threshold, INT32_MIN, shifted))
    return np.where(e == 0, x, out)


def log_x_for_x_greater_than_or_equal_to_1(x: np.ndarray, input_integer_bits: int,
                                           output_integer_bits: int) -> np.ndarray:
    """``ln(x)`` of a Q(in) fixed-point value ``x >= 1``, as Q(out) raw int32.

    Range reduction by the leading-zero count (twice: on ``x`` and on ``x*sqrt(1/2)``,
    keeping the better-conditioned one), then a rational approximation around
    ``2^(-1/4)`` with a Newton-Raphson reciprocal; accumulated with one extra integer
    bit, then rescaled. Mirrors ``log_x_for_x_greater_than_or_equal_to_1_impl``
    (tflite/kernels/internal/common.h).
    """
    acc_bits = output_integer_bits + 1
    quarter = fp.rescale(_ONE_QUARTER, 0, acc_bits)
    z_a = np.asarray(x, np.int64)
    hp1_a = fp.count_leading_zeros_u32(z_a)
    r_a_tmp = _shift_left_sat(z_a, hp1_a - 1)
    r_a = _shift_left_sat(fp.mul(r_a_tmp, _SQRT_HALF), 1)
    pow2_a = sat32(_shift_left_sat(input_integer_bits - hp1_a, 31 - acc_bits) + quarter)
    z_b = fp.mul(z_a, _SQRT_HALF)
    hr_b = fp.count_leading_zeros_u32(z_b) - 1
    r_b = _shift_left_sat(z_a, hr_b)
    pow2_b = sat32(_shift_left_sat(input_integer_bits - hr_b, 31 - acc_bits) - quarter)
    r = np.minimum(r_a, r_b)
    z_pow2_adj = np.maximum(pow2_a, pow2_b)
    p = fp.rounding_half_sum(r, _SQRT_SQRT_HALF)
    q = fp.sub(r, _SQRT_SQRT_HALF)
    q = fp.add(q, q)
    common_sq = fp.mul(q, q)
    num = fp.add(fp.mul(q, r), fp.mul(fp.mul(q, common_sq), _ALPHA_N))
    denom_minus_one = fp.add(
        fp.mul(p, fp.add(fp.add(_ALPHA_I, q), fp.mul(_ALPHA_D, common_sq))),
        fp.mul(_ALPHA_F, q))
    recip = fp.one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    num_scaled = fp.rescale(num, 0, acc_bits)
    total = fp.add(fp.mul(z_pow2_adj, _LOG_2), fp.mul(num_scaled, recip))
    return fp.rescale(total, acc_bits, output_integer_bits)


def _log_softmax_fixed(data: OpData, rows: np.ndarray) -> np.ndarray:
    """gemmlowp log-softmax of int64 rows of codes [R, depth].

    Arithmetic (per row, ``d = q - max <= 0``)::

        d5  = MBQM_double(d, input_multiplier, input_left_shift)        # Q5.26
        S   = sum over d >= diff_min of RDBPOT(exp_on_negative_values(d5), 12)  # Q12.19
        L   = log_x_for_x_greater_than_or_equal_to_1(S)                # Q5.26
        lim = max(diff_min - 1, MBQM_double(L + INT32_MIN, divisor, -right_shift))
        out = d > lim ? clamp(RDBPOT(d5 - L, 22) + zp_out) : type minimum
    """
    diff = rows - rows.max(axis=-1, keepdims=True)
    d5 = multiply_by_quantized_multiplier(diff, data.input_multiplier, data.input_left_shift)
    exps = fp.rescale(fp.exp_on_negative_values(d5, SCALED_DIFF_INTEGER_BITS), 0,
                      ACCUMULATION_INTEGER_BITS)
    total = wrap32(np.where(diff >= data.diff_min, exps, 0).sum(axis=-1))
    log_sum = log_x_for_x_greater_than_or_equal_to_1(total, ACCUMULATION_INTEGER_BITS,
                                                     SCALED_DIFF_INTEGER_BITS)[:, None]
    limit = multiply_by_quantized_multiplier(wrap32(log_sum + INT32_MIN),
                                             data.reverse_scaling_divisor,
                                             -data.reverse_scaling_right_shift)
    limit = np.maximum(data.diff_min - 1, limit)
    shift = 31 - SCALED_DIFF_INTEGER_BITS - OUTPUT_INTEGER_BITS
    out = rounding_divide_by_pot(wrap32(d5 - log_sum), shift) + data.output_zero_point
    out = np.clip(out, data.out_min, data.out_max)
    return np.where(diff > limit, out, data.out_min)


def _log_softmax_table(data: OpData, rows: np.ndarray) -> np.ndarray:
    """LiteRT optimized int8 / uint8 (float table, see the module docstring)."""
    table = np.asarray(data.table, F32)
    mx = np.maximum(rows.max(axis=-1, keepdims=True), data.out_min)
    terms = table[255 - (mx - rows)]
    total = np.zeros(rows.shape[0], F32)
    for c in range(rows.shape[1]):           # sequential float sum, vectorised over rows
        total = total + terms[:, c]
    log_sum = logf(total)[:, None]
    s_in, s_out = F32(data.input_scale), F32(OUTPUT_SCALE)
    k = F32(s_in / s_out)
    pre = ((s_in * mx.astype(F32)).astype(F32) + log_sum).astype(F32) / s_out
    log_prob = ((k * rows.astype(F32)).astype(F32) - pre.astype(F32)).astype(F32)
    q = np.rint(log_prob).astype(np.int64) + data.output_zero_point
    return np.clip(q, data.out_min, data.out_max)


def _log_softmax_float(rows: np.ndarray, eigen: bool) -> np.ndarray:
    mx = rows.max(axis=-1, keepdims=True)
    shifted = (rows - mx).astype(F32)
    if eigen:
        total = eigen_sum_of_exps(shifted)
    else:
        e = libm.expf(shifted)
        total = np.zeros(rows.shape[0], F32)
        for c in range(rows.shape[1]):       # sequential float sum, vectorised over rows
            total = total + e[:, c]
    return (shifted - logf(total)[:, None]).astype(F32)


def eigen_expf(x: np.ndarray) -> np.ndarray:
    """Eigen's packet ``pexp_float`` without FMA (SSE build), float32 throughout::

        v = min(x, 88.723);  m = floor(v * log2(e) + 1/2)
        r = (m * -0.693359375 + v) + m * 2.12194440e-4           # Cody-Waite ln 2
        y = r^2 * (r * (p3 + p5 r^2) + (p2 + r^2 (p4 + p6 r^2))) + (r + 1)
        exp = y * 2^m  (0 below -104)
    """
    f = F32
    x = np.asarray(x, f)
    v = np.minimum(x, f(88.723))
    m = np.floor((v * f(1.44269504088896341)).astype(f) + f(0.5)).astype(f)
    r = (m * f(-0.693359375) + v).astype(f)
    r = (m * f(2.12194440e-4) + r).astype(f)
    r2 = (r * r).astype(f)
    p_even = (r2 * f(1.37449637986719608306884765625e-3) + f(4.166965186595916748046875e-2))
    p_odd = (r2 * f(8.36894474923610687255859375e-3) + f(0.16666518151760101318359375))
    p_even = (r2 * p_even.astype(f) + f(0.49999988079071044921875)).astype(f)
    y = (r * p_odd.astype(f) + p_even).astype(f)
    y = (r2 * y + (r + f(1)).astype(f)).astype(f)
    with np.errstate(over="ignore", under="ignore"):
        out = np.ldexp(y, m.astype(np.int32)).astype(f)
    return np.where(x < f(-104), f(0), out)


def eigen_sum_of_exps(shifted: np.ndarray) -> np.ndarray:
    """``(x - max).exp().sum()`` per row as Eigen's vectorised reduction computes it.

    Packets of 4 (SSE) from index 0: two accumulators over pairs of packets, added, one
    last odd packet, ``predux = (l0 + l2) + (l1 + l3)``; the ``n mod 4`` last elements
    are added in order with the scalar ``expf``. Rows shorter than 4: scalar, in order.
    """
    rows, n = shifted.shape
    if n < 4:
        e = libm.expf(shifted)
        total = e[:, 0]
        for c in range(1, n):
            total = total + e[:, c]
        return total
    full = n - n % 4
    packets = eigen_expf(shifted[:, :full]).reshape(rows, full // 4, 4)
    acc0 = packets[:, 0]
    if full > 4:
        pairs = (n // 8) * 2
        acc1 = packets[:, 1]
        for j in range(2, pairs, 2):
            acc0 = acc0 + packets[:, j]
            acc1 = acc1 + packets[:, j + 1]
        acc0 = acc0 + acc1
        if full // 4 > pairs:
            acc0 = acc0 + packets[:, pairs]
    total = (acc0[:, 0] + acc0[:, 2]) + (acc0[:, 1] + acc0[:, 3])
    tail = libm.expf(shifted[:, full:])
    for c in range(tail.shape[1]):
        total = total + tail[:, c]
    return total.astype(F32)


def invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    """Log-softmax of every last-axis row; see the module docstring per variant.

    Mirrors: ``reference_ops::LogSoftmax`` (reference/log_softmax.h: float, uint8 and the
    int8 ``LogSoftmaxQuantized``), ``reference_integer_ops::LogSoftmax``,
    ``optimized_ops::LogSoftmax`` (optimized_ops.h).
    """
    x = np.asarray(inputs[0])
    out = ctx.output(0)
    if x.size == 0:
        return [x.copy()]
    if data.kind in ("float", "eigen-float"):
        rows = x.astype(F32).reshape(-1, x.shape[-1])
        return [_log_softmax_float(rows, data.kind == "eigen-float").reshape(out.shape)]
    rows = x.astype(np.int64).reshape(-1, x.shape[-1])
    y = _log_softmax_table(data, rows) if data.kind == "table" else _log_softmax_fixed(data, rows)
    return [y.astype(out.dtype).reshape(out.shape)]


LOG_SOFTMAX = Kernel(prepare, invoke)
