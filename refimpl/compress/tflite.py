"""Prune or cluster the constant weight tensors of a ``.tflite`` file, post-training.

tfmot prunes and clusters Keras kernels during training. This module applies the same
mask and centroid rules (:mod:`refimpl.compress.pruning`, :mod:`~.clustering`) to the
weights already in a converted model and writes a valid ``.tflite`` again (through
:func:`tflite_schema.model_to_spec` / :func:`tflite_schema.write_model`): same graph,
same tensors, same scales and zero points, only the weight bytes change.

Which tensors (tfmot's registry, :func:`refimpl.compress.registry.tfmot_prunes`)
    input 1 (filter / weights) of CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV; never a
    bias; DEPTHWISE_CONV_2D filters only with ``include_depthwise`` (tfmot never touches
    them). A float16 filter behind a DEQUANTIZE is followed back to its constant. A
    tensor shared by several ops is rewritten once. Skipped, with the reason recorded:
    non-constant filters, FULLY_CONNECTED with shuffled weights, and types other than
    float32, float16 and symmetric int8 (zero point 0).

Layout
    Every tensor is viewed in its Keras layout before a rule is applied, so that the
    layout-dependent parts (block shape, m:n groups along the input channels, k-means++
    data order) are tfmot's: CONV_2D OHWI -> HWIO, FULLY_CONNECTED [out, in] ->
    (in, out), TRANSPOSE_CONV [out, h, w, in] -> (h, w, out, in), DEPTHWISE_CONV_2D
    [1, h, w, C*M] -> (h, w, 1, C*M) (the row-major order of Keras' (h, w, C, M)).

int8 pruning (real domain)
    tfmot computes one threshold over the float kernel. An int8 per-channel weight
    stands for ``w = scale[c] * q`` (zero point 0), so the mask is computed on those
    float32 values and the pruned entries are set to ``q = 0`` (exactly 0.0). Scales
    are untouched; pruning only ever writes 0, so values stay in [-127, 127].

int8 clustering (a choice, by mode)
    * per tensor (default): in the **real domain**, then requantized with the existing
      scale: ``q = clamp(round_half_away(c[idx] / scale[c]), -127, 127)``. This is what
      tfmot per-tensor clustering followed by the converter gives (at most k values
      per output channel, up to k*C per tensor; docs ``tfmot.md`` §4) and keeps the
      bias scales valid (``bias_scale = input_scale * weight_scale`` is unchanged).
      A centroid outside a channel's range ``127 * scale[c]`` is clamped; the number
      of clamped values is reported.
    * per channel: in the **integer domain**, one set of k centroids per output channel
      computed on the stored int8 values and rounded half away from zero, then the
      values reassigned to the rounded centroids. Within a channel the scale is one
      positive factor, so this is the real-domain clustering up to rounding; working
      on the integers makes the stored values exactly the (rounded) centroids: at
      most k distinct int8 values per channel, always inside the channel's own
      [min, max] and so inside [-127, 127]. That is what a per-channel LUT
      (TFLM's DECODE) needs.

Per-channel axis: the TFLite output channel (int8: the quantized dimension) for every
op. tfmot clusters per channel only Conv2D / Conv2DTranspose, and the latter along its
*input* channels; here the axis is the one the int8 scales and TFLM's LUT tables use.
tfmot's skip rule (a Conv2D is left alone unless it has more than k weights, per
channel with ``cluster_per_channel``) is applied to every tensor.

Mirrors: tfmot's ``prune_low_magnitude`` + ``strip_pruning`` and ``cluster_weights``
+ ``strip_clustering`` without training (``tfmot.md`` §1, §2), applied to
converted weights; TFLite's symmetric per-channel weight quantization (§4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import tflite_schema as tfs
from refimpl.arithmetic import round_half_away
from refimpl.errors import ModelError

from .clustering import CentroidInit, assign, cluster_weights, gather
from .pruning import prune_mask
from .registry import tfmot_clusters, tfmot_prunes

__all__ = ["WeightTarget", "TensorChange", "CompressResult", "find_weights",
           "prune_model", "cluster_model", "parse_block", "parse_m_by_n", "INIT_NAMES"]

#: op -> (TFLite output-channel axis, transpose TFLite -> Keras, TFLite input role)
_OPS: dict[str, tuple[int, tuple[int, ...], str]] = {
    "CONV_2D": (0, (1, 2, 3, 0), "filter"),
    "FULLY_CONNECTED": (0, (1, 0), "weights"),
    "TRANSPOSE_CONV": (0, (1, 2, 0, 3), "weights"),
    "DEPTHWISE_CONV_2D": (3, (1, 2, 0, 3), "filter"),
}
_FILTER_INPUT = 1  # filter / weights input of all four ops
INT8_MIN, INT8_MAX = -127, 127  # TFLite's narrow int8 weight range

#: CLI spellings of the centroid initialisations
INIT_NAMES = {"kmeans++": CentroidInit.KMEANS_PLUS_PLUS, "linear": CentroidInit.LINEAR,
              "density": CentroidInit.DENSITY_BASED, "random": CentroidInit.RANDOM}


@dataclass(frozen=True)
class WeightTarget:
    """One constant weight tensor a rule may rewrite.

    ``tensor`` is the constant itself (for float16 weights the DEQUANTIZE's input).
    ``skip`` is the reason it is left alone, or None.
    """

    subgraph: int
    tensor: int
    name: str
    op: str
    node: int
    dtype: str
    shape: tuple[int, ...]
    skip: str | None = None

    @property
    def channel_axis(self) -> int:
        """Output-channel axis in the TFLite layout."""
        return _OPS[self.op][0]


@dataclass(frozen=True)
class TensorChange:
    """What happened to one weight tensor (``action``: pruned, clustered or skipped)."""

    name: str
    op: str
    dtype: str
    shape: tuple[int, ...]
    action: str
    reason: str = ""
    zeros_before: float = 0.0
    zeros_after: float = 0.0
    unique_before: int = 0
    unique_after: int = 0
    unique_per_channel_after: int = 0
    clamped: int = 0


@dataclass(frozen=True)
class CompressResult:
    """The rewritten model and one :class:`TensorChange` per weight tensor."""

    model: bytes
    changes: tuple[TensorChange, ...]

    def to_markdown(self) -> str:
        lines = ["| tensor | op | dtype | shape | action | zeros before -> after | "
                 "unique before -> after (max per ch) | clamped | note |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for c in self.changes:
            lines.append(
                f"| {c.name} | {c.op} | {c.dtype} | {'x'.join(map(str, c.shape))} | "
                f"{c.action} | {c.zeros_before:.1%} -> {c.zeros_after:.1%} | "
                f"{c.unique_before} -> {c.unique_after} ({c.unique_per_channel_after}) | "
                f"{c.clamped} | {c.reason} |")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Finding the weights
# --------------------------------------------------------------------------------------
def _op_name(op: tfs.OperatorSpec) -> str:
    try:
        return tfs.BuiltinOperator(op.op).name
    except ValueError:
        return str(op.op)


def _skip_reason(spec: tfs.ModelSpec, sg: int, index: int, op: tfs.OperatorSpec,
                 name: str) -> str | None:
    t = spec.subgraphs[sg].tensors[index]
    if not spec.buffers[t.buffer].data or t.is_variable:
        return "not a constant"
    if name == "FULLY_CONNECTED" and getattr(op.options, "weights_format", 0):
        return "shuffled FULLY_CONNECTED weights"
    kind = t.type.name
    if kind in ("FLOAT32", "FLOAT16"):
        return None
    if kind != "INT8":
        return f"{kind} weights are not supported (float32, float16, int8 only)"
    q = t.quantization
    if q is None or q.scale.size == 0:
        return "int8 weights without scales"
    if np.any(q.zero_point != 0):
        return "asymmetric int8 weights (zero point != 0)"
    if q.scale.size > 1 and q.quantized_dimension != _OPS[name][0]:
        return f"per-channel scales along axis {q.quantized_dimension}, not the output channel"
    return None


def _dequantize_source(spec: tfs.ModelSpec, sg: int, index: int) -> int:
    """The float16 constant behind a DEQUANTIZE that produces ``index`` (else ``index``)."""
    graph = spec.subgraphs[sg]
    if spec.buffers[graph.tensors[index].buffer].data:
        return index
    for op in graph.operators:
        if index in op.outputs and _op_name(op) == "DEQUANTIZE":
            return op.inputs[0]
    return index


def find_weights(spec: tfs.ModelSpec, *, include_depthwise: bool = False,
                 ops: Sequence[str] | None = None, role: str = "prune") -> list[WeightTarget]:
    """The weight tensors tfmot would prune (``role="prune"``) or cluster, in op order.

    ``ops`` restricts the op kinds considered (e.g. ``["FULLY_CONNECTED"]``).
    """
    wanted = {o.upper() for o in ops} if ops else set(_OPS)
    unknown = wanted - set(_OPS)
    if unknown:
        raise ValueError(f"ops {sorted(unknown)} have no weights to rewrite; "
                         f"known: {', '.join(_OPS)}")
    rule = tfmot_prunes if role == "prune" else tfmot_clusters
    out: list[WeightTarget] = []
    seen: set[tuple[int, int]] = set()
    for sg, graph in enumerate(spec.subgraphs):
        for node, op in enumerate(graph.operators):
            name = _op_name(op)
            if name not in wanted or len(op.inputs) <= _FILTER_INPUT:
                continue
            if op.inputs[_FILTER_INPUT] < 0:
                continue
            if not rule(name, _OPS[name][2]) and not (
                    include_depthwise and name == "DEPTHWISE_CONV_2D"):
                continue
            index = _dequantize_source(spec, sg, op.inputs[_FILTER_INPUT])
            if (sg, index) in seen:
                continue
            seen.add((sg, index))
            t = graph.tensors[index]
            out.append(WeightTarget(sg, index, t.name, name, node, t.type.name.lower(),
                                    tuple(t.shape), _skip_reason(spec, sg, index, op, name)))
    return out


# --------------------------------------------------------------------------------------
# Values: TFLite storage <-> float32 real values <-> Keras layout
# --------------------------------------------------------------------------------------
def _scales(spec: tfs.ModelSpec, target: WeightTarget) -> NDArray[np.float32]:
    """Per-element-broadcastable scales of an int8 weight (shape like the tensor)."""
    q = spec.subgraphs[target.subgraph].tensors[target.tensor].quantization
    scale = np.asarray(q.scale, np.float32)
    shape = [1] * len(target.shape)
    if scale.size > 1:
        shape[target.channel_axis] = scale.size
    return scale.reshape(shape)


def _to_keras(values: NDArray[Any], op: str) -> NDArray[Any]:
    perm = _OPS[op][1]
    return np.transpose(values, perm) if values.ndim == len(perm) else values


def _from_keras(values: NDArray[Any], op: str) -> NDArray[Any]:
    perm = _OPS[op][1]
    return np.transpose(values, np.argsort(perm)) if values.ndim == len(perm) else values


def _keras_channel_axis(op: str) -> int:
    return _OPS[op][1].index(_OPS[op][0])


def _per_channel_unique(values: NDArray[Any], axis: int) -> int:
    rows = np.moveaxis(values, axis, 0).reshape(values.shape[axis], -1)
    return max((np.unique(r).size for r in rows), default=0)


def _change(target: WeightTarget, action: str, before: NDArray[Any], after: NDArray[Any],
            reason: str = "", clamped: int = 0) -> TensorChange:
    return TensorChange(
        target.name, target.op, target.dtype, target.shape, action, reason,
        float((before == 0).mean()), float((after == 0).mean()),
        int(np.unique(before).size), int(np.unique(after).size),
        _per_channel_unique(after, target.channel_axis), clamped)


def _skipped(target: WeightTarget, values: NDArray[Any] | None, reason: str) -> TensorChange:
    if values is None:
        return TensorChange(target.name, target.op, target.dtype, target.shape, "skipped",
                            reason)
    return _change(target, "skipped", values, values, reason)


def _read_model(model: bytes | tfs.ModelSpec) -> tfs.ModelSpec:
    if isinstance(model, tfs.ModelSpec):
        return model
    try:
        return tfs.model_to_spec(bytes(model))
    except (tfs.SchemaError, tfs.SpecError) as e:
        raise ModelError(f"cannot rewrite this model: {e}") from None


def _write(spec: tfs.ModelSpec, changes: list[TensorChange]) -> CompressResult:
    try:
        data = tfs.write_model(spec)
    except tfs.SpecError as e:
        raise ModelError(f"cannot write the rewritten model: {e}") from None
    return CompressResult(data, tuple(changes))


# --------------------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------------------
def parse_block(text: str | None) -> tuple[int, int]:
    """``"1x4"`` -> (1, 4); None -> (1, 1)."""
    if not text:
        return (1, 1)
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"block must look like 1x4, got {text!r}") from None
    if rows < 1 or cols < 1:
        raise ValueError(f"block sizes must be positive, got {text!r}")
    return rows, cols


def parse_m_by_n(text: str | None) -> tuple[int, int] | None:
    """``"2:4"`` -> (2, 4) (m zeros in every n); None -> None."""
    if not text:
        return None
    try:
        m, n = (int(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"m-by-n must look like 2:4, got {text!r}") from None
    if not 0 < m < n:
        raise ValueError(f"m-by-n needs 0 < m < n, got {text!r}")
    return m, n


def prune_model(model: bytes | tfs.ModelSpec, sparsity: float = 0.5, *,
                block_size: Sequence[int] = (1, 1), block_pooling: str = "AVG",
                m_by_n: Sequence[int] | None = None, include_depthwise: bool = False,
                ops: Sequence[str] | None = None) -> CompressResult:
    """Magnitude-prune every eligible weight tensor, as tfmot's mask at ``sparsity``.

    Per tensor (Keras layout ``W``, real values)::

        mask = prune_mask(W, sparsity, block_size, block_pooling, m_by_n)
        stored = where(mask, stored, 0)

    one threshold per tensor (tfmot has no per-channel pruning); ``m_by_n`` wins over
    ``sparsity`` and ``block_size``. Block sizes other than 1x1 need rank-2 weights
    (FULLY_CONNECTED), as in tfmot: restrict ``ops`` otherwise.

    Raises
    ------
    ValueError
        Bad sparsity, block or m-by-n, or a block request on a rank-4 weight.
    ModelError
        The model cannot be read or written back.
    """
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    block = tuple(int(b) for b in block_size)
    spec = _read_model(model)
    changes = []
    for target in find_weights(spec, include_depthwise=include_depthwise, ops=ops):
        stored = None if target.skip else spec.tensor_data(target.subgraph, target.tensor)
        if stored is None:
            changes.append(_skipped(target, stored, target.skip or "no data"))
            continue
        if target.op == "DEPTHWISE_CONV_2D" and (block != (1, 1) or m_by_n):
            raise ValueError(f"{target.name}: only element-wise pruning is offered for "
                             "depthwise kernels (tfmot never prunes them)")
        real = stored.astype(np.float32)
        if target.dtype == "int8":
            real = real * _scales(spec, target)
        try:
            mask = prune_mask(_to_keras(real, target.op), sparsity, block_size=block,
                              block_pooling_type=block_pooling, sparsity_m_by_n=m_by_n).mask
        except ValueError as e:
            hint = ("; tfmot allows block sparsity on rank-2 weights only, restrict the ops "
                    "(e.g. --ops FULLY_CONNECTED)") if real.ndim != 2 else ""
            raise ValueError(f"{target.name} ({target.op}, shape {list(target.shape)}): "
                             f"{e}{hint}") from None
        keep = _from_keras(mask, target.op) != 0
        new = np.where(keep, stored, np.zeros((), stored.dtype))  # +0.0, never -0.0
        spec.set_tensor_data(target.subgraph, target.tensor, new)
        what = (f"{m_by_n[0]}:{m_by_n[1]}" if m_by_n else
                f"block {block[0]}x{block[1]} {block_pooling}" if block != (1, 1) else
                "element-wise")
        changes.append(_change(target, "pruned", stored, new,
                               f"{what}, target {sparsity:g}" if not m_by_n else what))
    return _write(spec, changes)


# --------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------
def _requantize(values: NDArray[np.floating], scales: NDArray[np.float32]
                ) -> tuple[NDArray[np.int8], int]:
    """``clamp(round_half_away(v / s), -127, 127)`` (float32 division) and #clamped."""
    q = round_half_away((values.astype(np.float32) / scales).astype(np.float32))
    clamped = int(np.count_nonzero((q < INT8_MIN) | (q > INT8_MAX)))
    return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8), clamped


def _cluster_one(spec: tfs.ModelSpec, target: WeightTarget, stored: NDArray[Any], k: int,
                 per_channel: bool, options: dict[str, Any]
                 ) -> tuple[NDArray[Any], int, str]:
    """New stored values, #clamped and a note; ValueError when tfmot would not cluster."""
    int_domain = target.dtype == "int8" and per_channel
    domain = stored.astype(np.float32)
    if target.dtype == "int8" and not per_channel:
        domain = domain * _scales(spec, target)
    keras = _to_keras(domain, target.op)
    axis = _keras_channel_axis(target.op) if per_channel else None
    group = keras.size // keras.shape[axis] if axis is not None else keras.size
    if group <= k:
        raise ValueError(f"{group} weights per {'channel' if per_channel else 'tensor'} "
                         f"<= {k} clusters (tfmot's skip rule)")
    result = cluster_weights(keras, k, channel_axis=axis, **options)
    if int_domain:
        centroids = round_half_away(result.centroids).astype(np.float32)
        work = keras if result.sparsity_mask is None else keras * result.sparsity_mask
        values = gather(centroids, assign(work, centroids, channel_axis=axis),
                        channel_axis=axis)
        q = _from_keras(values, target.op)
        clamped = int(np.count_nonzero((q < INT8_MIN) | (q > INT8_MAX)))
        return np.clip(q, INT8_MIN, INT8_MAX).astype(np.int8), clamped, "integer domain"
    clustered = _from_keras(result.weights, target.op)
    if target.dtype == "int8":
        q, clamped = _requantize(clustered, _scales(spec, target))
        return q, clamped, "real domain, requantized"
    return clustered.astype(stored.dtype), 0, ""


def cluster_model(model: bytes | tfs.ModelSpec, clusters: int = 16, *,
                  per_channel: bool = False, init: str | CentroidInit = "kmeans++",
                  seed: int | None = None, preserve_sparsity: bool = False,
                  lloyd_iterations: int = 0, include_depthwise: bool = False,
                  ops: Sequence[str] | None = None) -> CompressResult:
    """Cluster every eligible weight tensor into ``clusters`` values (per tensor or channel).

    Per tensor (Keras layout, module docstring for the int8 domains)::

        c0  = init_centroids(W, k, init)           tfmot's initialisers, bit-exact
        idx = argmin_j |W - c0_j|                   first index on ties
        c   = lloyd(W, c0) if lloyd_iterations     (tfmot fine-tunes instead)
        W'  = c[idx]

    ``init``: ``kmeans++`` (TF's seeding, Philox ``seed``, default 9), ``linear``,
    ``density`` or ``random`` (NumPy ``seed``, default 0); ``preserve_sparsity`` keeps
    the zeros of a pruned tensor (a zero centroid pinned at 0). A tensor is skipped,
    with the reason, when it has no more than ``clusters`` weights per tensor (per
    channel with ``per_channel``), or when tfmot's initialiser cannot run on it.
    """
    if isinstance(clusters, bool) or int(clusters) != clusters or clusters < 2:
        raise ValueError(f"clusters must be an integer >= 2, got {clusters}")
    method = INIT_NAMES.get(str(init).lower(), init)
    options = {"method": CentroidInit.parse(method), "seed": seed,
               "preserve_sparsity": preserve_sparsity, "lloyd_iterations": lloyd_iterations}
    spec = _read_model(model)
    changes = []
    for target in find_weights(spec, include_depthwise=include_depthwise, ops=ops,
                               role="cluster"):
        stored = None if target.skip else spec.tensor_data(target.subgraph, target.tensor)
        if stored is None:
            changes.append(_skipped(target, stored, target.skip or "no data"))
            continue
        try:
            new, clamped, note = _cluster_one(spec, target, stored, int(clusters),
                                              per_channel, options)
        except ValueError as e:
            changes.append(_skipped(target, stored, str(e)))
            continue
        spec.set_tensor_data(target.subgraph, target.tensor, new)
        mode = "per channel" if per_channel else "per tensor"
        note = ", ".join(filter(None, [f"{clusters} {mode}", options["method"].name, note]))
        changes.append(_change(target, "clustered", stored, new, note, clamped))
    return _write(spec, changes)
