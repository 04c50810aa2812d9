"""Writing files the safe way: atomically, and never over a user's file unless asked."""

from __future__ import annotations

import os
from pathlib import Path

from tflite_schema.writer import save_model

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *,
                 overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    Readers see the old file or the complete new one, never a partial write; without
    ``overwrite`` an existing file is left alone and :class:`FileExistsError` raised.
    (The same publish step as :func:`tflite_schema.save_model`, which takes raw bytes.)
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_model(bytes(data), path, overwrite=overwrite)
