"""Output size of a strided, dilated window (arithmetic.md §2.1); not a case module."""

from __future__ import annotations



def conv_out(size: int, k: int, stride: int, dil: int, pad: int) -> int:
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if pad == 0 else (size + stride - eff) // stride
