"""The compression audit behind ``refimpl sizes``: what a model's weights would compress to.

For every weight tensor (input 1 of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and
FULLY_CONNECTED, float16 followed back through its DEQUANTIZE; the same set as
:func:`refimpl.weights.weight_stats`, in every subgraph) the audit reports

* the fraction of zeros and whether the zeros form a structure: a block pattern (tfmot's
  ``block_size`` convention, on the Keras (in, out) view of a FULLY_CONNECTED kernel)
  and the 2:4 pattern (at most 2 non-zeros in every 4 consecutive weights along the
  last axis of the stored tensor: the input channels of CONV_2D / FULLY_CONNECTED);
* distinct stored values per tensor and per output channel (min and max);
* the minimum LUT index width per tensor and per channel, ``max(1, ceil(log2(u)))``
  for ``u`` distinct values (TFLM's compressor computes ``bit_length(u - 1) or 1``,
  the same number), and an estimate of the bytes a TFLM LUT encoding would take in the
  layout TFLM's DECODE kernel reads (per channel when the tensor has per-channel
  scales, else per tensor; see :mod:`compare.compression`), ``None`` past 7 bits;
* raw and gzip -9 bytes of the tensor;

and, for the model, its raw and gzip bytes and those of every non-empty buffer.
:func:`plot_histograms` draws a tensor's value histogram in one or more models (before /
after). Only NumPy is needed, plus matplotlib for the plot.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import tflite_schema as tfs
from refimpl.weights import weight_stats

from .pruning import is_pruned_m_by_n

__all__ = ["TensorAudit", "BufferAudit", "SizeAudit", "audit_model", "find_tensor",
           "block_pattern", "lut_bits", "plot_histograms", "BLOCK_CANDIDATES"]

#: block shapes looked for, (rows, cols) of the Keras (in, out) kernel, largest first
BLOCK_CANDIDATES = ((4, 4), (1, 8), (8, 1), (2, 2), (1, 4), (4, 1), (1, 2), (2, 1))
#: share of the zeros that whole zero blocks must hold for a pattern to count as present
BLOCK_COVERAGE = 0.9
LUT_MAX_BITS = 7  # TFLM's DCM bit-width field
DCM_BYTES = 16    # DECODE common metadata in front of the value tables


def gzip_bytes(data: bytes) -> int:
    """Size of ``gzip -9`` output (no timestamp)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def lut_bits(unique: int) -> int:
    """Minimum LUT index width for ``unique`` distinct values: ``max(1, ceil(log2 u))``."""
    return max(1, math.ceil(math.log2(max(unique, 1))))


def block_pattern(kernel: NDArray[Any]) -> str | None:
    """Largest block shape whose all-zero blocks hold >= 90 % of the zeros, or None.

    ``kernel`` is rank 2 (Keras (in, out)); blocks are aligned at (0, 0) as tfmot's
    expanded masks are; partial edge blocks count when all their cells are zero.
    """
    if kernel.ndim != 2:
        return None
    zero = kernel == 0
    total = int(zero.sum())
    if total == 0:
        return None
    rows, cols = zero.shape
    for bh, bw in BLOCK_CANDIDATES:
        if bh > rows or bw > cols:
            continue
        padded = np.ones((-(-rows // bh) * bh, -(-cols // bw) * bw), dtype=bool)
        padded[:rows, :cols] = zero
        blocks = padded.reshape(padded.shape[0] // bh, bh, -1, bw).all(axis=(1, 3))
        covered = np.repeat(np.repeat(blocks, bh, 0), bw, 1)[:rows, :cols] & zero
        if blocks.any() and covered.sum() >= BLOCK_COVERAGE * total:
            return f"{bh}x{bw}"
    return None


@dataclass(frozen=True)
class TensorAudit:
    """One weight tensor. ``block`` / ``two_four`` are None where they do not apply."""

    subgraph: int
    tensor: int
    buffer: int
    name: str
    op: str
    dtype: str
    shape: tuple[int, ...]
    channel_axis: int
    per_channel_scales: bool
    zeros: float
    block: str | None
    two_four: bool | None
    unique: int
    unique_per_channel_min: int
    unique_per_channel_max: int
    lut_bits_tensor: int
    lut_bits_channel: int
    bytes: int
    gzip_bytes: int
    lut_mode: str
    lut_bytes: int | None


@dataclass(frozen=True)
class BufferAudit:
    index: int
    bytes: int
    gzip_bytes: int
    tensors: tuple[str, ...]


@dataclass(frozen=True)
class SizeAudit:
    """The whole audit of one model."""

    label: str
    model_bytes: int
    model_gzip_bytes: int
    weights: tuple[TensorAudit, ...]
    buffers: tuple[BufferAudit, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self, before: SizeAudit | None = None) -> str:
        """Markdown tables (with a before -> after summary when ``before`` is given)."""
        out = [f"## {self.label or 'model'}", ""]
        if before is not None:
            out += ["| | before | after | ratio |", "|---|---|---|---|",
                    _ratio_row("model bytes", before.model_bytes, self.model_bytes),
                    _ratio_row("model gzip bytes", before.model_gzip_bytes,
                               self.model_gzip_bytes), ""]
        else:
            out += [f"model: {self.model_bytes} bytes, gzip -9 {self.model_gzip_bytes} "
                    "bytes", ""]
        out += ["### weight tensors", "",
                "| tensor | op | dtype | shape | zeros | block | 2:4 | unique | "
                "unique/ch (min..max) | LUT bits tensor / ch | bytes | gzip | "
                "TFLM LUT bytes (est.) |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for w in self.weights:
            lut = "n/a (> 7 bits)" if w.lut_bytes is None else f"{w.lut_bytes} ({w.lut_mode})"
            out.append(
                f"| {w.name} | {w.op} | {w.dtype} | {'x'.join(map(str, w.shape))} | "
                f"{w.zeros:.1%} | {w.block or '-'} | {_yes_no(w.two_four)} | {w.unique} | "
                f"{w.unique_per_channel_min}..{w.unique_per_channel_max} | "
                f"{w.lut_bits_tensor} / {w.lut_bits_channel} | {w.bytes} | {w.gzip_bytes} "
                f"| {lut} |")
        out += ["", "### buffers", "", "| buffer | bytes | gzip | tensors |",
                "|---|---|---|---|"]
        for b in self.buffers:
            names = ", ".join(b.tensors[:2]) + (f" (+{len(b.tensors) - 2})"
                                                 if len(b.tensors) > 2 else "")
            out.append(f"| {b.index} | {b.bytes} | {b.gzip_bytes} | {names} |")
        return "\n".join(out)


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _ratio_row(label: str, before: int, after: int) -> str:
    return f"| {label} | {before} | {after} | {after / before:.3f} |" if before else \
        f"| {label} | {before} | {after} | - |"


def _keras_2d(data: NDArray[Any], op: str) -> NDArray[Any]:
    """The Keras (in, out) view of a FULLY_CONNECTED kernel; other ops: unchanged."""
    return data.T if op == "FULLY_CONNECTED" and data.ndim == 2 else data


def _lut_estimate(data: NDArray[Any], per_channel: bool, axis: int, unique: int,
                  per_channel_max: int) -> tuple[str, int | None]:
    """TFLM LUT bytes: packed indices + DCM + value tables, in the layout TFLM decodes."""
    if per_channel:
        bits, tables = lut_bits(per_channel_max), data.shape[axis] * per_channel_max
        mode = "per channel"
    else:
        bits, tables, mode = lut_bits(unique), unique, "per tensor"
    if bits > LUT_MAX_BITS:
        return mode, None
    return mode, -(-data.size * bits // 8) + DCM_BYTES + tables * data.itemsize


def audit_model(model: bytes, label: str = "") -> SizeAudit:
    """Audit ``model`` (``.tflite`` bytes); see the module docstring for the columns."""
    parsed = tfs.read_model(model)
    weights = []
    for sg_index, sg in enumerate(parsed.subgraphs):
        for stats in weight_stats(parsed, sg_index):
            data = parsed.tensor_data(sg_index, stats.tensor)
            t = sg.tensors[stats.tensor]
            rows = np.moveaxis(data, stats.channel_axis, 0).reshape(
                data.shape[stats.channel_axis], -1)
            per_channel_min = min((np.unique(r).size for r in rows), default=0)
            per_channel = t.quantization is not None and t.quantization.scale.size > 1
            two_four = None
            if data.ndim >= 2 and data.shape[-1] >= 4:
                two_four = is_pruned_m_by_n(data, (2, 4), last_channel="C_IN")
            mode, lut = _lut_estimate(data, per_channel, stats.channel_axis, stats.unique,
                                      stats.unique_per_channel_max)
            weights.append(TensorAudit(
                sg_index, stats.tensor, t.buffer, stats.name, stats.op, stats.dtype,
                stats.shape, stats.channel_axis, per_channel, stats.zeros,
                block_pattern(_keras_2d(data, stats.op)), two_four, stats.unique,
                int(per_channel_min), stats.unique_per_channel_max, stats.lut_bits_tensor,
                stats.lut_bits_channel, stats.bytes, stats.gzip_bytes, mode, lut))
    users: dict[int, list[str]] = {}
    for sg in parsed.subgraphs:
        for t in sg.tensors:
            users.setdefault(t.buffer, []).append(t.name)
    for entry in parsed.metadata:
        users.setdefault(entry.buffer, []).append(f"metadata '{entry.name}'")
    buffers = []
    for index in range(len(parsed.buffers)):
        raw = bytes(parsed.buffer_data(index))
        if raw:
            buffers.append(BufferAudit(index, len(raw), gzip_bytes(raw),
                                       tuple(users.get(index, ()))))
    return SizeAudit(label, len(model), gzip_bytes(bytes(model)), tuple(weights),
                     tuple(buffers))


# --------------------------------------------------------------------------------------
# Histograms
# --------------------------------------------------------------------------------------
def find_tensor(model: bytes | tfs.Model, ref: str, *,
                constant: bool = False) -> tuple[int, int]:
    """``(subgraph, tensor)`` of a tensor given by exact name, unique substring, or index.

    With ``constant``, only tensors holding data are candidates (a weight's name is
    often a substring of the activation names the converter fuses after it).

    Raises
    ------
    KeyError
        No tensor, or several, match (the message lists candidates).
    """
    parsed = model if isinstance(model, tfs.Model) else tfs.read_model(model)
    tensors = [(sg.index, t) for sg in parsed.subgraphs for t in sg.tensors
               if not constant or len(parsed.buffer_data(t.buffer))]
    found = [(s, t.index) for s, t in tensors if t.name == ref]
    if not found:
        found = [(s, t.index) for s, t in tensors if ref in t.name]
    if not found and ref.isdigit() and int(ref) < len(parsed.subgraphs[0].tensors):
        found = [(0, int(ref))]
    if len(found) != 1:
        names = [parsed.subgraphs[s].tensors[i].name for s, i in found[:8]]
        raise KeyError(f"{len(found)} tensors match {ref!r}" + (f": {names}" if names else ""))
    return found[0]


def _tensor_values(model: bytes, ref: str) -> tuple[str, NDArray[Any]]:
    parsed = tfs.read_model(model)
    sg, index = find_tensor(parsed, ref, constant=True)
    data = parsed.tensor_data(sg, index)
    if data is None:
        raise KeyError(f"tensor {parsed.subgraphs[sg].tensors[index].name!r} is not a "
                       "constant")
    return parsed.subgraphs[sg].tensors[index].name, np.asarray(data)


def plot_histograms(models: Sequence[tuple[str, bytes]], tensor: str) -> bytes:
    """PNG bytes: the histogram of ``tensor``'s stored values in each model, stacked.

    Integer tensors get one bin per integer; float tensors 101 bins over the common
    range. The y axis is logarithmic so that a spike of zeros does not hide the rest.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [(label, *_tensor_values(data, tensor)) for label, data in models]
    lo = min(float(v.min()) for _, _, v in series)
    hi = max(float(v.max()) for _, _, v in series)
    if all(v.dtype.kind in "iu" for _, _, v in series):
        bins = np.arange(np.floor(lo) - 0.5, np.ceil(hi) + 1.5)
    else:
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 102)
    fig, axes = plt.subplots(len(series), 1, sharex=True, squeeze=False,
                             figsize=(8, 2.6 * len(series)))
    for ax, (label, name, values) in zip(axes[:, 0], series):
        ax.hist(values.reshape(-1).astype(np.float64), bins=bins, color="tab:blue")
        ax.set_yscale("log")
        ax.set_ylabel("count")
        ax.set_title(f"{label}: {name} — {values.size} values, "
                     f"{np.unique(values).size} distinct, {(values == 0).mean():.1%} zeros",
                     fontsize=9)
    axes[-1, 0].set_xlabel("stored value")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
