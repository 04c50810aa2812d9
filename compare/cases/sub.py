"""SUB: MUL's grid (broadcasting, activations, tie-heavy and extreme scales) for a - b."""

from __future__ import annotations

from ._simple import binary_grid, binary_strategies

OP = "SUB"


def grid(full: bool):
    return binary_grid(OP, full, fast_scales=3)


def strategies() -> dict:
    return binary_strategies(OP)
