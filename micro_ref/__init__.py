"""micro_ref: TensorFlow Lite Micro's compiled x86 interpreter behind LiteRT's Python API.

The only code in the project that imports ``tflite_micro`` (lazily: importing micro_ref
does not need the wheel; allocating an interpreter does).

>>> from micro_ref import MicroInterpreter
>>> it = MicroInterpreter(model_content=model_bytes)       # doctest: +SKIP
>>> it.allocate_tensors()                                  # grows the arena as needed
>>> [y] = it.run([x_batch])                                # batch-1 model, N rows
"""

from __future__ import annotations

from .capture import capture_fds, leftover_captures
from .errors import (
    MicroArenaError,
    MicroInputError,
    MicroInvokeError,
    MicroModelError,
    MicroRefError,
    MicroStateError,
    MicroUnsupportedError,
)
from .model_info import ModelInfo, TensorMeta, read_model_info
from .runner import DEFAULT_MAX_ARENA_SIZE, MIN_ARENA_SIZE, MicroInterpreter, estimate_arena_size

__all__ = [
    "MicroInterpreter",
    "estimate_arena_size",
    "MIN_ARENA_SIZE",
    "DEFAULT_MAX_ARENA_SIZE",
    "MicroRefError",
    "MicroModelError",
    "MicroUnsupportedError",
    "MicroArenaError",
    "MicroInputError",
    "MicroStateError",
    "MicroInvokeError",
    "ModelInfo",
    "TensorMeta",
    "read_model_info",
    "capture_fds",
    "leftover_captures",
]
