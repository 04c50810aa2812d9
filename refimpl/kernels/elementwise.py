"""Helpers shared by the element-wise kernels (ADD, SUB, MUL and friends).

Not a kernel module: no ``Kernel`` objects live here. It holds the three pieces of
TFLite semantics that every binary element-wise op repeats:

* NumPy-style broadcasting of two shapes, limited to rank 6 like
  ``BroadcastBinaryOpSimple`` / ``*6DSlow`` in TFLite;
* the clamp TFLite applies to *float* and plain-integer results
  (``CalculateActivationRange<T>`` + ``ActivationFunctionWithMinMax``), which clamps
  even with no activation: ``NONE`` means ``[lowest, max]`` of the type, so a float
  ``+inf`` becomes ``FLT_MAX`` (verified on LiteRT 2.3.0 BUILTIN_REF: ``3e38 + 3e38``
  gives ``3.4028235e38``), and NaN passes through;
* the integer clamp range of a fused activation on a quantized output
  (``CalculateActivationRangeQuantized``), where TANH and SIGN_BIT are treated as
  NONE, exactly like TFLite (they fall into its ``else`` branch).

Mirrors: tensorflow/lite/kernels/kernel_util.{h,cc} (CalculateShapeForBroadcast,
CalculateActivationRange, CalculateActivationRangeQuantized) and
internal/common.h (ActivationFunctionWithMinMax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..arithmetic import activation_range_quantized
from ..context import OpContext, TensorInfo

#: Highest rank the broadcasting element-wise kernels accept (``*6DSlow``).
MAX_BROADCAST_RANK = 6

#: Schema ``ActivationFunctionType`` values.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def fused_activation(ctx: OpContext) -> int:
    """The op's ``fused_activation_function`` (schema default NONE when options are absent)."""
    act = getattr(ctx.options, "fused_activation_function", ACT_NONE) if ctx.options else ACT_NONE
    act = int(act)
    if act not in ACTIVATION_NAMES:
        raise ctx.error(f"unknown fused activation {act}")
    return act


def broadcast_shape(
    ctx: OpContext, shape1: Sequence[int], shape2: Sequence[int]
) -> tuple[int, ...]:
    """Output shape of a broadcasting binary op (NumPy rules, rank <= 6).

    Shapes are right-aligned; each pair of dimensions must be equal or contain a 1.
    Equal shapes need no broadcasting and are accepted at any rank (TFLite then runs
    the flat element-wise loop).
    """
    s1, s2 = tuple(int(d) for d in shape1), tuple(int(d) for d in shape2)
    if s1 == s2:
        return s1
    rank = max(len(s1), len(s2))
    if rank > MAX_BROADCAST_RANK:
        raise ctx.error(
            f"broadcasting {list(s1)} with {list(s2)} needs rank {rank}; "
            f"TFLite supports at most {MAX_BROADCAST_RANK}"
        )
    p1 = (1,) * (rank - len(s1)) + s1
    p2 = (1,) * (rank - len(s2)) + s2
    out = []
    for d1, d2 in zip(p1, p2):
        if d1 != d2 and d1 != 1 and d2 != 1:
            raise ctx.error(f"input shapes {list(s1)} and {list(s2)} cannot be broadcast")
        out.append(d2 if d1 == 1 else d1)
    return tuple(out)


def float_activation_bounds(activation: int) -> tuple[np.float32, np.float32]:
    """``CalculateActivationRange<float>``: NONE (and TANH, SIGN_BIT) is ``[-FLT_MAX, FLT_MAX]``."""
    big = np.finfo(np.float32).max
    bounds = {ACT_RELU: (0.0, big), ACT_RELU6: (0.0, 6.0), ACT_RELU_N1_TO_1: (-1.0, 1.0)}
    lo, hi = bounds.get(activation, (-big, big))
    return np.float32(lo), np.float32(hi)


def clamp_like_std(x: np.ndarray, lo, hi) -> np.ndarray:
    """``std::min(std::max(x, lo), hi)`` element-wise, keeping C++'s NaN behaviour.

    ``std::max(x, lo)`` is ``x < lo ? lo : x`` and ``std::min(y, hi)`` is
    ``hi < y ? hi : y``; both comparisons are false for NaN, so NaN passes through
    (``np.clip`` would do the same, but this spells the C++ order out).
    """
    y = np.where(x < lo, lo, x)
    return np.where(hi < y, hi, y).astype(x.dtype, copy=False)


def apply_float_activation(x: np.ndarray, activation: int) -> np.ndarray:
    """Clamp float32 results like TFLite's float ADD/SUB/MUL (always clamps, see module doc)."""
    lo, hi = float_activation_bounds(activation)
    return clamp_like_std(x.astype(np.float32, copy=False), lo, hi)


def apply_int_activation(x: np.ndarray, activation: int, dtype: np.dtype) -> np.ndarray:
    """Clamp plain (non-quantized) integer results: ``CalculateActivationRange<int>``.

    RELU gives ``[0, max]``, RELU6 ``[0, 6]``, RELU_N1_TO_1 ``[-1, 1]``, anything else the
    full type range (a no-op).
    """
    info = np.iinfo(dtype)
    bounds = {ACT_RELU: (0, info.max), ACT_RELU6: (0, 6), ACT_RELU_N1_TO_1: (-1, 1)}
    lo, hi = bounds.get(activation, (info.min, info.max))
    return clamp_like_std(x, dtype.type(lo), dtype.type(hi))


def quantized_activation_range(
    ctx: OpContext, activation: int, output: TensorInfo
) -> tuple[int, int]:
    """Integer clamp range of a fused activation on the quantized ``output``.

    A bound ``f`` becomes ``zp + round_half_away(fl32(f / scale))`` (see
    :func:`refimpl.arithmetic.activation_range_quantized`); TANH and SIGN_BIT clamp to
    the storage range only, as in TFLite.
    """
    scale = float(output.scale[0])
    zero_point = int(output.zero_point[0])
    act = ACT_NONE if activation in (ACT_TANH, ACT_SIGN_BIT) else activation
    return activation_range_quantized(act, scale, zero_point, output.dtype)


def require_per_tensor(ctx: OpContext, t: TensorInfo, role: str) -> tuple[float, int]:
    """``(scale, zero_point)`` of a per-tensor quantized tensor; a clear error otherwise."""
    if not t.is_quantized:
        raise ctx.error(f"{role} {t.describe()} must be quantized")
    if t.is_per_channel:
        raise ctx.error(f"{role} {t.describe()} must be per-tensor quantized, not per-channel")
    return float(np.float32(t.scale[0])), int(t.zero_point[0])


@dataclass(frozen=True)
class FiveFoldRuns:
    """How LiteRT's optimized broadcast loop splits an output into contiguous runs.

    ``run``: elements per run; ``scalar``: True when each run pairs one element of the
    fast-broadcasting input with a run of the other (the ``*ScalarBroadcast`` /
    ``*SimpleBroadcast`` function), False when both inputs supply a run (the element-wise
    function, also used for equal shapes: one run of the whole size).
    """

    run: int
    scalar: bool

    def body_mask(self, out_shape: Sequence[int], block: int) -> np.ndarray:
        """True for output elements in a whole ``block``-element vector step of their run."""
        size = int(np.prod(out_shape, dtype=np.int64))
        if self.run == 0 or size == 0:
            return np.zeros(tuple(out_shape), bool)
        pos = np.arange(size, dtype=np.int64) % self.run
        return (pos < self.run // block * block).reshape(tuple(out_shape))


def five_fold_runs(shape1: Sequence[int], shape2: Sequence[int]) -> FiveFoldRuns | None:
    """The runs of LiteRT's optimized binary int8 kernels (ADD, MUL), or None.

    These kernels process the output in runs of contiguous elements, each handed to a
    function whose *vector body* takes a fixed number of elements at a time and whose
    *scalar tail* finishes the run with the reference formula. Where the two formulas
    differ (int16 narrowing, rounding), an element's result depends on its place in its
    run.

    Equal shapes are one run of every element. Otherwise the shapes are folded into five
    extents ``y0..y4`` (``ProcessBroadcastShapes``): walking from the innermost axis,
    ``y4`` collects the axes where both inputs agree, ``y3`` the axes where the
    fast-broadcasting input has 1, ``y2`` agreeing axes again, ``y1`` axes where the other
    input has 1, ``y0`` the remaining agreeing axes. A run is ``y4`` elements
    (element-wise function) when ``y4 > 1``, else ``y3`` elements (scalar-broadcast
    function). Shapes that do not fold this way ("generic" broadcast) run the reference
    kernel everywhere: None.

    Mirrors: reference/process_broadcast_shapes.h (``ProcessBroadcastShapes``),
    optimized/optimized_ops.h (``BinaryBroadcastFiveFold``).
    """
    s1, s2 = tuple(int(d) for d in shape1), tuple(int(d) for d in shape2)
    rank = max(len(s1), len(s2))
    e1 = (1,) * (rank - len(s1)) + s1
    e2 = (1,) * (rank - len(s2)) + s2
    if e1 == e2:
        return FiveFoldRuns(int(np.prod(e1, dtype=np.int64)), scalar=False)
    first_broadcasts = next(a == 1 for a, b in zip(reversed(e1), reversed(e2)) if a != b)
    sa, sb = (e1, e2) if first_broadcasts else (e2, e1)  # sa: the fast-broadcasting input
    y = [1, 1, 1, 1, 1]
    i = rank - 1
    steps = ((4, lambda k: sa[k] == sb[k], sb), (3, lambda k: sa[k] == 1, sb),
             (2, lambda k: sa[k] == sb[k], sa), (1, lambda k: sb[k] == 1, sa),
             (0, lambda k: sa[k] == sb[k], sb))
    for slot, cond, source in steps:
        while i >= 0 and cond(i):
            y[slot] *= source[i]
            i -= 1
    if i >= 0:
        return None  # generic broadcast: the reference kernel
    return FiveFoldRuns(y[4], scalar=False) if y[4] > 1 else FiveFoldRuns(y[3], scalar=True)
