"""Tensors of any plain type for the type-generic ops (TILE, BROADCAST_TO, REVERSE_V2,
GATHER_ND, the logical ops): coverage label -> storage type, quantization (int8 tensors
are quantized, as a converter writes them; the ops copy the stored integers) and values
that cover the type's whole range."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import TensorArg, float_inputs, int_inputs

#: coverage label -> storage dtype
STORE = {"float32": "float32", "int8": "int8", "int16": "int16", "int32": "int32",
         "int64": "int64", "bool": "bool"}
#: quantization of the int8 tensors (input and output share it)
INT8_Q = (0.05, -3)


def arg(shape: Sequence[int], label: str, data=None) -> TensorArg:
    """A tensor of coverage type ``label`` (int8: quantized with :data:`INT8_Q`)."""
    kw = {"scale": INT8_Q[0], "zero_point": INT8_Q[1]} if label == "int8" else {}
    return TensorArg(tuple(shape), STORE[label], data=data, **kw)


def values(rng: np.random.Generator, shape: Sequence[int], label: str) -> np.ndarray:
    """Distinct-looking values over the type's range (both ends planted for integers)."""
    shape = tuple(shape)
    if label == "float32":
        return float_inputs(rng, shape, -100.0, 100.0, specials=[-0.0, np.inf, np.nan])
    if label == "bool":
        return rng.random(shape) < 0.5
    if label == "int64":
        x = rng.integers(-(2**62), 2**62, size=shape, dtype=np.int64)
        flat = x.reshape(-1)
        planted = [np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1]
        flat[: min(flat.size, 4)] = planted[: flat.size]
        return x
    return int_inputs(rng, shape, STORE[label])
