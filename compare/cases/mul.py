"""MUL: broadcasting, fused activations, int8 / int16x8 / float32; scale products whose
float32 and float64 evaluations give different multipliers (TFLite vs TFLM), XNNPACK's
fp32 path, and ratios at the delegate's limits (grid shared with SUB, in ``_simple``)."""

from __future__ import annotations

from ._simple import binary_grid, binary_strategies

OP = "MUL"


def grid(full: bool):
    # all four scale sets in the fast run: q2 and q3 reproduce the optimized-kernel bug
    return binary_grid(OP, full, fast_scales=4)


def strategies() -> dict:
    return binary_strategies(OP)
