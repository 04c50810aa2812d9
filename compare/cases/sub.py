"""SUB: MUL's grid (broadcasting, activations, tie-heavy and extreme scales) for a - b."""

from __future__ import annotations

from ._simple import binary_grid, binary_strategies, uint8_grid

OP = "SUB"


def grid(full: bool):
    yield from binary_grid(OP, full, fast_scales=3)
    yield from uint8_grid(OP, full)


def strategies() -> dict:
    return binary_strategies(OP)
