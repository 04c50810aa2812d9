"""The seeds' optimisation table, two ways: tfmot in training vs refimpl after training.

Four configurations of the seed CNN, each made two ways:

=================================  ===========================  =============================
configuration                      tfmot, in training (zoo)     refimpl, post-training
=================================  ===========================  =============================
baseline                           ``seed_cnn/int8``            ``seed_cnn/int8``
pruned 50 %                        ``prune_const_int8``         :func:`prune_model` 0.5
clustered 16                       ``cluster_kmeans_int8``      :func:`cluster_model` 16
pruned 50 % + sparsity-preserving  ``prune_cluster_int8``       prune 0.5, then
clustered 8                                                     ``cluster_model(8,
                                                                preserve_sparsity=True)``
=================================  ===========================  =============================

tfmot variants are fine-tuned Keras models, stripped and converted to full int8
(:mod:`compare.zoo.tfmot_variants`): ``ConstantSparsity(0.5)`` (``prune_const``, the one
that is exactly "pruned 50 %"; ``prune_poly`` reaches the same sparsity by a schedule),
16 KMEANS_PLUS_PLUS clusters per tensor, and the pruned model re-clustered into 8 with
``preserve_sparsity``.

refimpl's rows start from the converted int8 model itself (``zoo_model('seed_cnn',
'int8')``), not from the float32 one: a ``.tflite`` cannot be re-quantized without
TensorFlow's converter and the Keras model, and the int8 file is what is deployed. The
rules are tfmot's (:mod:`refimpl.compress.tflite`): one magnitude threshold per tensor
on the real values ``scale[c] * q``; per-tensor KMEANS_PLUS_PLUS centroids (tfmot's
seeding, bit-exact) on the real values, requantized with the existing scales. Without
data there is no fine-tuning; ``lloyd_iterations`` Lloyd steps (default 20) stand in
for it.

Columns: held-out accuracy with refimpl (flavour ``tflite-ref``) and its change from the
baseline, ``.tflite`` bytes and gzip -9 bytes, the fraction of zero weights, distinct
values per weight tensor and the largest per output channel (in op order), and the size
of the TFLM LUT-compressed model (:mod:`compare.compression`, in the layout TFLM's
DECODE kernel reads; '-' when nothing compresses or the wheel lacks the module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from refimpl.compress.audit import gzip_bytes
from refimpl.compress.tflite import cluster_model, prune_model
from refimpl.weights import model_zero_fraction, weight_stats

from .runtimes import get_runtime
from .zoo.registry import ZooUnavailableError, zoo_inputs, zoo_labels, zoo_model

MODEL = "seed_cnn"
BASE_VARIANT = "int8"
CONFIGS = ("baseline", "pruned 50%", "clustered 16",
           "pruned 50% + sparsity-preserving clustered 8")
TFMOT_VARIANTS = {"baseline": BASE_VARIANT, "pruned 50%": "prune_const_int8",
                  "clustered 16": "cluster_kmeans_int8",
                  "pruned 50% + sparsity-preserving clustered 8": "prune_cluster_int8"}
TFMOT = "tfmot (in training)"
REFIMPL = "refimpl (post-training)"


@dataclass
class OptimisationRow:
    """One (way, configuration) of the table."""

    way: str
    config: str
    source: str
    accuracy: float | None = None
    accuracy_change: float | None = None
    size: int | None = None
    gzip_size: int | None = None
    zeros: float | None = None
    unique_per_tensor: str = ""
    unique_per_channel: str = ""
    lut_size: int | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def refimpl_models(base: bytes, *, sparsity: float = 0.5, clusters: int = 16,
                   collab_clusters: int = 8, lloyd_iterations: int = 20
                   ) -> dict[str, tuple[str, bytes]]:
    """``{config: (how it was made, model bytes)}`` for the post-training way."""
    pruned = prune_model(base, sparsity).model
    clustered = cluster_model(base, clusters, lloyd_iterations=lloyd_iterations).model
    both = cluster_model(pruned, collab_clusters, preserve_sparsity=True,
                         lloyd_iterations=lloyd_iterations).model
    lloyd = f", {lloyd_iterations} Lloyd steps" if lloyd_iterations else ""
    return {
        "baseline": (f"{MODEL}/{BASE_VARIANT}", base),
        "pruned 50%": (f"prune_model(int8, {sparsity:g})", pruned),
        "clustered 16": (f"cluster_model(int8, {clusters}, kmeans++ per tensor{lloyd})",
                         clustered),
        "pruned 50% + sparsity-preserving clustered 8": (
            f"cluster_model(pruned, {collab_clusters}, preserve_sparsity{lloyd})", both),
    }


def _lut_size(model: bytes) -> tuple[int | None, str]:
    from .compression import compress_lut, compression_unavailable

    reason = compression_unavailable()
    if reason is not None:
        return None, reason
    try:
        return len(compress_lut(model).model), ""
    except ValueError:  # nothing fits 7 bits without growing
        return None, ""


def _row(way: str, config: str, source: str, model: bytes, x: np.ndarray,
         labels: np.ndarray, with_lut: bool) -> OptimisationRow:
    stats = weight_stats(model)
    row = OptimisationRow(way, config, source, size=len(model), gzip_size=gzip_bytes(model),
                          zeros=round(model_zero_fraction(stats), 4),
                          unique_per_tensor=" ".join(str(s.unique) for s in stats),
                          unique_per_channel=" ".join(str(s.unique_per_channel_max)
                                                      for s in stats))
    result = get_runtime("refimpl", isolate=False).run(model, [x])
    if result.status == "ok":
        row.accuracy = float((np.argmax(result.outputs[0], axis=1) == labels).mean())
    else:
        row.note = f"refimpl: {result.status}: {result.message[:100]}"
    if with_lut:
        row.lut_size, why = _lut_size(model)
        row.note = "; ".join(filter(None, [row.note, why]))
    return row


def optimisation_rows(samples: int | None = None, *, lloyd_iterations: int = 20,
                      with_lut: bool = True,
                      progress: Callable[[str], None] | None = None) -> list[OptimisationRow]:
    """The eight rows (4 configurations x 2 ways), tfmot's first.

    ``samples``: held-out images to score (default all). Models come from the zoo cache
    (built on first use; the tfmot family needs tf_keras + tfmot and takes minutes).
    """
    say = progress or (lambda message: None)
    base = zoo_model(MODEL, BASE_VARIANT)
    x = zoo_inputs(MODEL, BASE_VARIANT, samples)[0]
    labels = zoo_labels(MODEL, samples)
    rows = []
    for config in CONFIGS:
        variant = TFMOT_VARIANTS[config]
        say(f"{TFMOT}: {config} ({variant})")
        try:
            model = zoo_model(MODEL, variant)
        except ZooUnavailableError as e:
            rows.append(OptimisationRow(TFMOT, config, f"{MODEL}/{variant}", note=str(e)))
            continue
        # Every int8 variant keeps the base's input quantization; check, don't assume.
        xv = zoo_inputs(MODEL, variant, samples)[0]
        rows.append(_row(TFMOT, config, f"{MODEL}/{variant}", model, xv, labels, with_lut))
    for config, (source, model) in refimpl_models(
            base, lloyd_iterations=lloyd_iterations).items():
        say(f"{REFIMPL}: {config}")
        rows.append(_row(REFIMPL, config, source, model, x, labels, with_lut))
    for way in (TFMOT, REFIMPL):
        baseline = next((r for r in rows if r.way == way and r.config == "baseline"), None)
        for r in rows:
            if r.way == way and baseline is not None and None not in (r.accuracy,
                                                                       baseline.accuracy):
                r.accuracy_change = r.accuracy - baseline.accuracy
    return rows


def to_markdown(rows: list[OptimisationRow], samples: int | None = None) -> str:
    """The table, one line per row (accuracy change in percentage points)."""
    n = f"{samples} " if samples else ""
    out = ["## Seed CNN optimisation: tfmot in training vs refimpl post-training", "",
           f"Accuracy on the {n}held-out images with refimpl; sizes in bytes; zeros over all "
           "weight tensors; distinct values per weight tensor and max per output channel "
           "(conv1 conv2 dense1 dense2); LUT = the TFLM LUT-compressed model.", "",
           "| way | configuration | source | accuracy | change (pp) | size | gzip | "
           "zeros | unique/tensor | unique/channel | LUT size | note |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = "" if r.accuracy is None else f"{r.accuracy:.4f}"
        change = "" if r.accuracy_change is None else f"{100 * r.accuracy_change:+.2f}"
        zeros = "" if r.zeros is None else f"{r.zeros:.1%}"
        out.append(f"| {r.way} | {r.config} | {r.source} | {acc} | {change} | "
                   f"{r.size or ''} | {r.gzip_size or ''} | {zeros} | {r.unique_per_tensor} | "
                   f"{r.unique_per_channel} | {r.lut_size or '-'} | {r.note} |")
    return "\n".join(out) + "\n"


def optimisation_table(samples: int | None = None, **options: Any
                       ) -> tuple[list[OptimisationRow], str]:
    """``(rows, markdown)``: what ``refimpl zoo``'s report includes."""
    rows = optimisation_rows(samples, **options)
    return rows, to_markdown(rows, samples)
