"""The single-op sweep's cases, as data: one module per op (``compare/cases/<op>.py``).

A case is one small model written with :class:`tflite_schema.ModelBuilder` (no
TensorFlow), its inputs, and the parameters that produced it. A case module exposes

``OP``
    the schema op name (``"CONV_2D"``); a module may cover several related ops with
    ``OPS = ("EQUAL", "LESS", ...)`` instead.
``grid(full: bool) -> Iterable[Case]``
    hand-picked parameter grids and inputs aimed at the places where formulas part
    ways (rounding ties, multipliers around powers of two, zero points at both ends,
    saturation). ``full=False`` is the fast subset run by default.
``strategies() -> dict[str, SearchStrategy[Case]]`` (optional)
    per coverage dtype, a hypothesis strategy drawing quantization parameters and
    shapes; :func:`compare.sweep.drawn_cases` turns them into a fixed, seeded list.

Modules are found by listing this package (sorted), so adding an op is adding a file.
Shared builders and strategies are in :mod:`compare.cases._common`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def case_modules() -> list[ModuleType]:
    """Every case module of this package, in name order (``_private`` ones skipped)."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{__name__}.{n}") for n in names]
