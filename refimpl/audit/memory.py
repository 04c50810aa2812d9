"""Memory estimate: weights in flash, activations in a planned arena (RAM).

Flash is the bytes of every constant buffer (what a microcontroller keeps in read-only
memory, next to the flatbuffer's own ~kilobytes of structure). RAM is planned the way
TFLM's ``GreedyMemoryPlanner`` does: every non-constant tensor of the main subgraph lives
from the node that writes it (or the start, for graph inputs) to the last node that reads
it (or the end, for graph outputs); tensors are placed largest first, each at the lowest
16-byte-aligned offset that does not overlap a placed tensor alive at the same time. The
arena size is the highest end offset. Kernel scratch buffers are not modelled (TFLM's
reference kernels request few), so the plan is a lower bound of TFLM's "head" section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

import tflite_schema as tfs

ALIGN = 16


@dataclass(frozen=True)
class Placement:
    tensor: int
    name: str
    size: int
    first: int
    last: int
    offset: int


@dataclass(frozen=True)
class MemoryEstimate:
    flash_weight_bytes: int
    model_bytes: int
    arena_bytes: int
    largest_tensor_bytes: int
    placements: tuple[Placement, ...]
    tflm_head_bytes: int | None = None
    tflm_tail_bytes: int | None = None
    tflm_note: str = ""

    @property
    def ratio_to_tflm(self) -> float | None:
        if not self.tflm_head_bytes:
            return None
        return self.arena_bytes / self.tflm_head_bytes


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _nbytes(t: tfs.Tensor) -> int:
    try:
        item = np.dtype(t.type.numpy_dtype).itemsize
    except Exception:  # packed or exotic types: count one byte per element
        item = 1
    return int(np.prod(t.shape, dtype=np.int64)) * item if t.shape else item


def flash_bytes(model: tfs.Model) -> int:
    return sum(len(model.buffer_data(b.index)) for b in model.buffers)


def plan_arena(model: tfs.Model, subgraph: int = 0) -> tuple[int, tuple[Placement, ...]]:
    """Greedy first-fit arena plan of the subgraph's non-constant tensors."""
    g = model.subgraphs[subgraph]
    n_ops = len(g.operators)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def const(i: int) -> bool:
        t = g.tensors[i]
        return t.buffer > 0 and len(model.buffer_data(t.buffer)) > 0

    for i in g.inputs:
        first[i] = -1
        last[i] = max(last.get(i, -1), -1)
    for k, op in enumerate(g.operators):
        for i in op.inputs:
            if i >= 0 and not const(i):
                first.setdefault(i, k)
                last[i] = max(last.get(i, k), k)
        for i in op.outputs:
            if i >= 0:
                first.setdefault(i, k)
                last[i] = max(last.get(i, k), k)
    for i in g.outputs:
        last[i] = n_ops
    for i, t in enumerate(g.tensors):
        if t.is_variable and i in first:
            first[i], last[i] = -1, n_ops
    items = sorted(first, key=lambda i: (-_nbytes(g.tensors[i]), i))
    placed: list[Placement] = []
    for i in items:
        size = _align(_nbytes(g.tensors[i]))
        lo, hi = first[i], last[i]
        busy = sorted((p.offset, p.offset + p.size) for p in placed
                      if not (p.last < lo or p.first > hi))
        offset = 0
        for start, end in busy:
            if offset + size <= start:
                break
            offset = max(offset, end)
        placed.append(Placement(i, g.tensors[i].name, size, lo, hi, offset))
    arena = max((p.offset + p.size for p in placed), default=0)
    return arena, tuple(sorted(placed, key=lambda p: p.offset))


def tflm_arena(content: bytes) -> tuple[int | None, int | None, str]:
    """(head, tail, note) as TFLM's recording allocator reports them, or Nones with why."""
    try:
        from micro_ref import MicroInterpreter, capture_fds
    except ImportError:
        return None, None, "tflite-micro not installed"
    try:
        it = MicroInterpreter(model_content=content)
        it.allocate_tensors()
        with capture_fds() as cap:
            it._tflm.PrintAllocations()
    except Exception as e:  # TFLM refuses the model: report, don't fail the audit
        return None, None, f"TFLM could not allocate the model: {type(e).__name__}: {e}"
    head = re.search(r"allocation head (\d+) bytes", cap.text)
    tail = re.search(r"allocation tail (\d+) bytes", cap.text)
    if not head:
        return None, None, "TFLM printed no allocation summary"
    return int(head.group(1)), int(tail.group(1)) if tail else None, ""


def estimate(model: tfs.Model, *, with_tflm: bool = True) -> MemoryEstimate:
    arena, placements = plan_arena(model)
    head = tail = None
    note = "not asked"
    if with_tflm:
        head, tail, note = tflm_arena(bytes(model.data))
    return MemoryEstimate(
        flash_weight_bytes=flash_bytes(model), model_bytes=len(model.data), arena_bytes=arena,
        largest_tensor_bytes=max((p.size for p in placements), default=0),
        placements=placements, tflm_head_bytes=head, tflm_tail_bytes=tail, tflm_note=note)
