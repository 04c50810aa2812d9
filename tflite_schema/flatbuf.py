"""A small bounds-checked flatbuffer reader (tables, vectors, strings, unions).

Why not ``flatbuffers.Table``: the runtime's accessors trust every offset (a bad one
gives ``IndexError`` / ``struct.error`` or a huge allocation), and we want every
failure to say which table and field of the model is wrong. The format is simple
enough to read directly:

* the file starts with a ``uoffset`` (u32) to the root table, then the 4-byte file
  identifier;
* a table at position ``T`` starts with an ``soffset`` (i32): its vtable is at
  ``T - soffset``. A vtable is ``u16 vtable_size, u16 table_size`` followed by one
  ``u16`` per field slot; slot ``i`` lives at vtable offset ``4 + 2*i`` and holds the
  field's offset from ``T`` (0, or beyond ``vtable_size``: field absent → default);
* a reference field (table, vector, string) holds a u32 counted from the field's
  own position; vectors and strings start with a u32 element count (strings are
  UTF-8 bytes then a NUL).

All integers are little-endian. Every read is checked against the file size
*before* anything is allocated; a read past the end raises ``TruncatedError``,
anything else inconsistent ``CorruptError``. References only point forward, and the
TFLite schema has no recursive types, so decoding always terminates; to bound the
work on files whose offsets share one structure many times over, decoding charges
the bytes it visits against a budget of a few times the file size.
"""

from __future__ import annotations

import struct
from typing import Final

import numpy as np

from .errors import CorruptError, TruncatedError

# Scalar kinds by schema type name: (struct format, width in bytes).
SCALARS: Final[dict[str, tuple[struct.Struct, int]]] = {
    name: (struct.Struct("<" + code), struct.calcsize("<" + code))
    for name, code in {
        "bool": "?", "byte": "b", "ubyte": "B", "short": "h", "ushort": "H",
        "int": "i", "uint": "I", "long": "q", "ulong": "Q", "float": "f", "double": "d",
    }.items()
}
# Vector element dtypes by schema type name.
VECTOR_DTYPES: Final[dict[str, np.dtype]] = {
    "bool": np.dtype("u1"), "byte": np.dtype("i1"), "ubyte": np.dtype("u1"),
    "short": np.dtype("<i2"), "ushort": np.dtype("<u2"), "int": np.dtype("<i4"),
    "uint": np.dtype("<u4"), "long": np.dtype("<i8"), "ulong": np.dtype("<u8"),
    "float": np.dtype("<f4"), "double": np.dtype("<f8"),
}
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_OFFSETS = np.dtype("<u4")

#: Decoding may visit at most BUDGET_FACTOR * file size + BUDGET_SLACK bytes.
BUDGET_FACTOR: Final = 4
BUDGET_SLACK: Final = 1 << 16


class FlatBuffer:
    """The file bytes plus the bookkeeping shared by all tables read from them."""

    __slots__ = ("mv", "size", "budget")

    def __init__(self, mv: memoryview):
        self.mv = mv
        self.size = len(mv)
        self.budget = BUDGET_FACTOR * self.size + BUDGET_SLACK

    # -- raw reads ------------------------------------------------------------------
    def need(self, pos: int, nbytes: int, what: str) -> None:
        """Check that ``nbytes`` bytes at ``pos`` lie inside the file."""
        if pos < 0:
            raise CorruptError(f"{what}: position {pos} is before the start of the file")
        if pos + nbytes > self.size:
            raise TruncatedError(
                f"{what}: {nbytes} bytes at position {pos} run past the end of the file "
                f"(size {self.size})"
            )

    def u16(self, pos: int, what: str) -> int:
        self.need(pos, 2, what)
        return _U16.unpack_from(self.mv, pos)[0]

    def u32(self, pos: int, what: str) -> int:
        self.need(pos, 4, what)
        return _U32.unpack_from(self.mv, pos)[0]

    def charge(self, nbytes: int, what: str) -> None:
        self.budget -= nbytes
        if self.budget < 0:
            raise CorruptError(
                f"{what}: decoding has visited more than {BUDGET_FACTOR}x the file size "
                f"(size {self.size}); offsets must be sharing one structure many times over"
            )

    def root(self, path: str) -> Table:
        return Table(self, self.u32(0, f"{path} (root offset)"), path)


class Table:
    """One flatbuffer table: field lookup through its (validated) vtable."""

    __slots__ = ("buf", "pos", "vt", "vt_size", "size", "path")

    def __init__(self, buf: FlatBuffer, pos: int, path: str):
        self.buf, self.pos, self.path = buf, pos, path
        buf.need(pos, 4, f"{path}: table start")
        vt = pos - _I32.unpack_from(buf.mv, pos)[0]
        self.vt = vt
        self.vt_size = buf.u16(vt, f"{path}: vtable size")
        self.size = buf.u16(vt + 2, f"{path}: table size")
        if self.vt_size < 4 or self.vt_size % 2:
            raise CorruptError(f"{path}: vtable at {vt} has invalid size {self.vt_size}")
        buf.need(vt, self.vt_size, f"{path}: vtable")
        if self.size < 4:
            raise CorruptError(f"{path}: table at {pos} has invalid size {self.size}")
        buf.need(pos, self.size, f"{path}: table")
        buf.charge(self.size, path)

    # -- field lookup -----------------------------------------------------------------
    def _field(self, slot: int, width: int, name: str) -> int | None:
        """Absolute position of field ``slot`` (``width`` bytes), or None if absent."""
        voffset = 4 + 2 * slot
        if voffset >= self.vt_size:
            return None
        offset = _U16.unpack_from(self.buf.mv, self.vt + voffset)[0]
        if offset == 0:
            return None
        if offset < 4 or offset + width > self.size:
            raise CorruptError(
                f"{self.path}.{name}: field at offset {offset} does not fit in the "
                f"{self.size}-byte table"
            )
        return self.pos + offset

    def has(self, slot: int) -> bool:
        voffset = 4 + 2 * slot
        return voffset < self.vt_size and _U16.unpack_from(self.buf.mv, self.vt + voffset)[0] != 0

    def scalar(self, slot: int, kind: str, default, name: str):
        """A scalar field of schema type ``kind`` ('int', 'ubyte', 'float', ...)."""
        fmt, width = SCALARS[kind]
        pos = self._field(slot, width, name)
        if pos is None:
            return default
        return fmt.unpack_from(self.buf.mv, pos)[0]

    def _target(self, slot: int, name: str) -> int | None:
        """Absolute position a reference field points to (checked for a u32 there)."""
        pos = self._field(slot, 4, name)
        if pos is None:
            return None
        target = pos + _U32.unpack_from(self.buf.mv, pos)[0]
        self.buf.need(target, 4, f"{self.path}.{name}: referenced object")
        return target

    def table(self, slot: int, name: str, path: str | None = None) -> Table | None:
        target = self._target(slot, name)
        if target is None:
            return None
        return Table(self.buf, target, path or f"{self.path}.{name}")

    def _vector_start(self, slot: int, width: int, kind: str, name: str):
        """(count, position of element 0) after checking the whole vector fits."""
        target = self._target(slot, name)
        if target is None:
            return None
        count = _U32.unpack_from(self.buf.mv, target)[0]
        start = target + 4
        if start + count * width > self.buf.size:
            raise TruncatedError(
                f"{self.path}.{name}: vector of {count} {kind} ({count * width} bytes) at "
                f"position {start} runs past the end of the file (size {self.buf.size})"
            )
        self.buf.charge(4 + count * width, f"{self.path}.{name}")
        return count, start

    def vector(self, slot: int, kind: str, name: str) -> np.ndarray | None:
        """A vector of scalars as a read-only little-endian NumPy view (no copy)."""
        dtype = VECTOR_DTYPES[kind]
        found = self._vector_start(slot, dtype.itemsize, kind, name)
        if found is None:
            return None
        count, start = found
        return np.frombuffer(self.buf.mv, dtype=dtype, count=count, offset=start)

    def ints(self, slot: int, name: str, kind: str = "int") -> tuple[int, ...] | None:
        values = self.vector(slot, kind, name)
        return None if values is None else tuple(values.tolist())

    def byte_region(self, slot: int, name: str) -> tuple[int, int] | None:
        """A ``[ubyte]`` vector as (file position of its first byte, length)."""
        found = self._vector_start(slot, 1, "ubyte", name)
        if found is None:
            return None
        count, start = found
        return start, count

    def bytes_view(self, slot: int, name: str) -> memoryview | None:
        """A ``[ubyte]`` vector as a read-only memoryview into the file (no copy)."""
        region = self.byte_region(slot, name)
        if region is None:
            return None
        start, count = region
        return self.buf.mv[start : start + count]

    def string(self, slot: int, name: str) -> str | None:
        """A string field; invalid UTF-8 is replaced by U+FFFD (runtimes never check it)."""
        found = self._vector_start(slot, 1, "bytes of string", name)
        if found is None:
            return None
        count, start = found
        return bytes(self.buf.mv[start : start + count]).decode("utf-8", errors="replace")

    def tables(self, slot: int, name: str, label: str | None = None) -> list[Table] | None:
        """A vector of tables; element ``i`` gets the path ``<path>.<label>[i]``."""
        found = self._vector_start(slot, 4, "table offsets", name)
        if found is None:
            return None
        count, start = found
        offsets = np.frombuffer(self.buf.mv, dtype=_OFFSETS, count=count, offset=start)
        prefix = f"{self.path}.{label or name}"
        positions = (start + 4 * np.arange(count, dtype=np.int64) + offsets).tolist()
        return [Table(self.buf, p, f"{prefix}[{i}]") for i, p in enumerate(positions)]
