"""Dynamic-range ("hybrid") cases of FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D:
float32 activations built to land on the input quantizer's rounding ties and boundaries,
the int8 filter with its scales, and the float32 bias.

A hybrid op quantizes each *row* of its float input on the fly (FULLY_CONNECTED: each
``[depth]`` row; CONV_2D / DEPTHWISE_CONV_2D: each whole ``[H, W, C]`` image), with a
scale fixed by the row's extremes (arithmetic.md §3.1):

* asymmetric (FC with ``asymmetric_quantize_inputs``; CONV_2D with per-channel scales;
  DEPTHWISE_CONV_2D): ``scale = fl32(f64(fl32(rmax - rmin)) / 255)``,
  ``inv = fl32(1 / f64(scale))``, ``q = round(fl32(x * inv)) + zp``;
* symmetric (FC without the flag; CONV_2D with one scale):
  ``inv = fl32(127 / max|x|)``, ``q = round(fl32(x * inv))``.

LiteRT's x86 quantizer rounds a vector *body* of ``8 * floor(n / 8)`` elements and a
scalar *tail* with two different roundings, so a row is filled with values whose
``fl32(x * inv)`` is exactly ``k + 0.5`` (ties), exactly ``±(0.5 - 2**-25)`` (where
``trunc(v + 0.5)`` in float32 rounds up and ``roundf`` does not), exactly an integer,
or anything in range, and the tail is always given ties. The ties are found by
recomputing ``inv`` as the quantizer will (from the row's planted minimum and maximum)
and searching a few float32 neighbours of ``(k + 0.5) / inv``; with a power-of-two span
(``rmax - rmin = 255 * 2**e``, or ``max|x| = 127 * 2**e``) every tie is exact by
construction.

Row kinds (:data:`ROW_KINDS`):

``pot``       power-of-two step, integer zero point (asymmetric) — exact ties
``halfzp``    power-of-two step, extremes on half steps: the zero point itself is a tie
``nonpot``    arbitrary extremes: ties found by search, ``rmax * inv`` may round past 127
``positive``  ``min = 0`` (zero point -128), power-of-two step
``negative``  ``max = 0`` (zero point 127), power-of-two step
``zero``      all zeros (some ``-0.0``): scale 1, zero point 0, product skipped
``random``    normal values, nothing planted
``tiny``      ``nonpot`` scaled by 2**-100 (inverse scale near 2**100)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import TensorArg
from ._conv_common import per_channel_scales, weights

#: Elements per iteration of LiteRT's NEON (NEON_2_SSE on x86) quantizer body.
QUANTIZER_BODY = 8
ROW_KINDS = ("pot", "halfzp", "nonpot", "positive", "negative", "zero", "random", "tiny")
#: filter scale layouts: one scale; one per output channel around ``s_w``; one per
#: output channel, all equal (LiteRT's CONV_2D then takes its per-tensor path)
SCALE_KINDS = ("pt", "pc", "pc-equal")
#: fused activations: NONE, RELU, RELU_N1_TO_1, RELU6
ACTS = (0, 1, 2, 3)
#: float32 just below 0.5: ``trunc(fl32(v + 0.5))`` gives 1, ``roundf(v)`` gives 0
BELOW_HALF = float(np.float32(0.5) - np.float32(2.0**-25))

_F32 = np.float32


# ------------------------------------------------------------------------------------
# Filter and bias
# ------------------------------------------------------------------------------------
def hybrid_filter_and_bias(rng: np.random.Generator, wshape: Sequence[int], cout: int,
                           s_w: float, scales: str, quantized_dimension: int = 0
                           ) -> tuple[TensorArg, TensorArg]:
    """Symmetric int8 weights (±127 planted) with ``scales`` (:data:`SCALE_KINDS`), and a
    float32 bias in [-1, 1) whose first element is ``-0.0`` (``bias + 0.0`` is ``+0.0``,
    the bias alone stays ``-0.0``: an all-zero input shows which one a runtime returns).
    """
    if scales == "pt":
        scale: float | list[float] = float(_F32(s_w))
        zps: int | list[int] = 0
    else:
        scale = per_channel_scales(s_w, cout) if scales == "pc" else [float(_F32(s_w))] * cout
        zps = [0] * cout
    w = TensorArg(tuple(wshape), "int8", data=weights(rng, tuple(wshape)), scale=scale,
                  zero_point=zps, quantized_dimension=quantized_dimension)
    b = rng.uniform(-1, 1, cout).astype(_F32)
    b[0] = -0.0
    return w, TensorArg((cout,), "float32", data=b)


# ------------------------------------------------------------------------------------
# The quantizer's inverse scale, and inputs that hit its ties
# ------------------------------------------------------------------------------------
def inverse_scale(rmin: float, rmax: float, asymmetric: bool) -> np.float32:
    """``inv`` as LiteRT's quantizer derives it from a row's extremes (see module doc)."""
    if asymmetric:
        span = _F32(_F32(rmax) - _F32(rmin))  # float32 subtraction
        scale = _F32(np.float64(span) / 255.0)
        return _F32(1.0 / np.float64(scale))
    return _F32(127) / _F32(max(abs(rmin), abs(rmax)))  # float32 division


def value_hitting(v: float, inv: np.float32, lo: float, hi: float) -> float | None:
    """A float32 ``x`` in ``[lo, hi]`` with ``fl32(x * inv) == v`` exactly, or None.

    Searches ``fl32(v / inv)`` and its four float32 neighbours on each side.
    """
    x = _F32(np.float64(v) / np.float64(inv))
    cands = [x]
    up = down = x
    for _ in range(4):
        up, down = np.nextafter(up, _F32(np.inf)), np.nextafter(down, _F32(-np.inf))
        cands += [up, down]
    for c in cands:
        if lo <= c <= hi and _F32(c * inv) == _F32(v):
            return float(c)
    return None


def _targets(rng: np.random.Generator, vlo: float, vhi: float, count: int) -> list[float]:
    """``count`` values of ``x * inv`` to aim at: ties ``k + 0.5`` (most), ``±BELOW_HALF``,
    ``±0.5`` and integers, all inside ``[vlo, vhi]``."""
    klo, khi = int(np.ceil(vlo - 0.5)), int(np.floor(vhi - 0.5))
    out: list[float] = []
    for t in (BELOW_HALF, -BELOW_HALF, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5):
        if vlo <= t <= vhi:
            out.append(t)
    while len(out) < count:
        r = rng.random()
        if klo <= khi and r < 0.75:
            out.append(float(rng.integers(klo, khi + 1)) + 0.5)  # a tie
        elif r < 0.85:
            out.append(float(rng.choice([BELOW_HALF, -BELOW_HALF])))
        else:
            out.append(float(rng.integers(int(np.ceil(vlo)), int(np.floor(vhi)) + 1)))
    return [t for t in out if vlo <= t <= vhi]


def _extremes(rng: np.random.Generator, kind: str, asymmetric: bool) -> tuple[float, float]:
    """(rmin, rmax) of a row of ``kind``; the quantizer's range is exactly this."""
    step = float(2.0 ** int(rng.integers(-7, 0)))
    qmax = 255 if asymmetric else 127
    if kind == "pot":
        if asymmetric:
            a = int(rng.integers(1, 255))
            return -a * step, (255 - a) * step
        other = float(rng.integers(0, 128)) * step
        return (-other, 127 * step) if rng.random() < 0.5 else (-127 * step, other)
    if kind == "halfzp":
        if asymmetric:
            a = int(rng.integers(1, 254))
            return -(a + 0.5) * step, (254.5 - a) * step
        return -127 * step, float(rng.integers(0, 127)) * step + 0.5 * step
    if kind == "positive":
        return 0.0, qmax * step
    if kind == "negative":
        return -qmax * step, 0.0
    if kind in ("nonpot", "tiny"):
        lo, hi = -float(_F32(rng.uniform(0.05, 4.0))), float(_F32(rng.uniform(0.05, 4.0)))
        if kind == "tiny":
            lo, hi = float(_F32(lo * 2.0**-100)), float(_F32(hi * 2.0**-100))
        return lo, hi
    raise ValueError(kind)


def quantizer_row(rng: np.random.Generator, n: int, kind: str, asymmetric: bool) -> np.ndarray:
    """One float32 row of length ``n`` of ``kind`` (:data:`ROW_KINDS`) for the asymmetric
    or the symmetric quantizer (see the module doc)."""
    if kind == "zero":
        row = np.zeros(n, _F32)
        row[rng.random(n) < 0.5] = -0.0
        return row
    if kind == "random":
        return rng.normal(0.0, 1.5, n).astype(_F32)
    rmin, rmax = _extremes(rng, kind, asymmetric)
    inv = inverse_scale(rmin, rmax, asymmetric)
    vlo, vhi = float(_F32(_F32(rmin) * inv)), float(_F32(_F32(rmax) * inv))
    found = [x for x in (value_hitting(t, inv, rmin, rmax)
                         for t in _targets(rng, vlo, vhi, 2 * n + 8)) if x is not None]
    if not found:  # no exact hit near these extremes: values in range still test rounding
        found = [float(v) for v in rng.uniform(rmin, rmax, n).astype(_F32)]
    row = np.array(rng.choice(found, n), _F32)
    filler = rng.random(n) < 0.15  # some values anywhere in range
    row[filler] = rng.uniform(rmin, rmax, int(filler.sum())).astype(_F32)
    tail = n % QUANTIZER_BODY
    if tail:  # the scalar tail always gets designed values (ties first)
        row[n - tail:] = found[:tail] if len(found) >= tail else rng.choice(found, tail)
    # plant the extremes (the range the quantizer sees), away from the designed tail
    body = max(n - tail, 1)
    i, j = rng.choice(body, 2, replace=False) if body >= 2 else (0, 0)
    row[i], row[j] = rmin, rmax
    if rmin == rmax:  # degenerate (cannot happen for these kinds): keep it non-zero
        row[i] = 1.0
    return row


def hybrid_rows(rng: np.random.Generator, rows: int, n: int, asymmetric: bool,
                first_kind: int = 0) -> tuple[np.ndarray, list[str]]:
    """``[rows, n]`` float32, row ``r`` of kind ``ROW_KINDS[(first_kind + r) % 8]``;
    returns the array and the kinds (for the case's params)."""
    kinds = [ROW_KINDS[(first_kind + r) % len(ROW_KINDS)] for r in range(rows)]
    return np.stack([quantizer_row(rng, n, k, asymmetric) for k in kinds]), kinds


def hybrid_input(rng: np.random.Generator, shape: Sequence[int], row_len: int,
                 asymmetric: bool, first_kind: int = 0, zero: bool = False
                 ) -> tuple[np.ndarray, list[str]]:
    """A float32 input of ``shape`` quantized in rows of ``row_len`` (an FC row, a conv
    image): :func:`hybrid_rows`, or :func:`all_zero` with ``zero``; and the row kinds."""
    if zero:
        return all_zero(rng, shape), ["all-zero input"]
    rows, kinds = hybrid_rows(rng, int(np.prod(shape)) // row_len, row_len, asymmetric,
                              first_kind)
    return rows.reshape(tuple(shape)), kinds


def all_zero(rng: np.random.Generator, shape: Sequence[int]) -> np.ndarray:
    """All zeros, half of them ``-0.0`` (LiteRT's zero check treats both as zero)."""
    x = np.zeros(tuple(shape), _F32)
    x[rng.random(tuple(shape)) < 0.5] = -0.0
    return x


def hybrid_draw(draw, n_kinds: int = len(ROW_KINDS)) -> dict:
    """The parameters every hybrid strategy draws: filter scale (kind and base value),
    activation, first row kind and seed."""
    from hypothesis import strategies as st

    return {
        "s_w": draw(st.sampled_from([2.0**-7, 0.0031, 0.0113, 0.021])),
        "scales": draw(st.sampled_from(SCALE_KINDS)),
        "act": draw(st.sampled_from(ACTS)),
        "first_kind": draw(st.integers(0, n_kinds - 1)),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }
