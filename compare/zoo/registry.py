"""The model zoo: every model x variant, how it is built, its held-out inputs and labels.

``ZOO`` maps a model name to a :class:`ZooModel`, whose ``variants`` map a variant name
to a :class:`ZooVariant` (which family build makes it, which converter mode, from
which TF representation). Everything is built on demand and cached
(:mod:`compare.zoo.cache`); importing this module imports no TensorFlow.

=========================  ==================================================  =========
model                      what                                                held out
=========================  ==================================================  =========
``seed_cnn``               the seeds' CNN (:mod:`compare.zoo.seed_cnn`) in     digits
                           every converter mode, plus 16 tfmot variants
``mnist_dense``            784-128-10 MLP, every mode, plus 16 tfmot variants  MNIST*
``mnist_signatures``       the same weights as a tf.Module with signatures     MNIST*
                           ``serving_default`` (logits) and ``classify``
                           (probabilities), from a SavedModel
``sine``                   hello_world 1-16-16-1 regressor                     sine
``dense_1_16_1``           Dense(1)-Dense(16)-Dense(1), from a SavedModel       sine
``cifar_cnn``              Conv32-Conv32-Pool-Conv64-Pool-Dense on 32x32x3     CIFAR-10*
``same_conv_saved_model``  tf.Module, 'same' convs, from ``from_saved_model``  MNIST*
``same_conv_concrete``     the same module, from ``from_concrete_functions``   MNIST*
=========================  ==================================================  =========

\\* the real data set only when its files are on disk; otherwise the embedded digits
(28x28x1, or 32x32x3 tiled), see :mod:`compare.zoo.data`.

Converter-mode variants are named after :data:`compare.zoo.converters.CONVERTER_MODES`;
tfmot variants after :data:`compare.zoo.tfmot_variants.TFMOT_VARIANTS`.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.zoo import converters, families, seed_cnn, tfmot_variants
from compare.zoo.cache import Progress, print_progress
from compare.zoo.families import HELDOUT, INFO, Family


class ZooUnavailableError(RuntimeError):
    """A registered variant that cannot be built with the installed versions."""


@dataclass(frozen=True)
class ZooVariant:
    """One model file of the zoo.

    Attributes
    ----------
    model, name : str
        ``zoo_model(model, name)`` returns it.
    family : str
        The cached build that makes it (one training run per family).
    stem : str
        Artifact stem within the family (``<stem>.tflite``).
    mode : str
        Converter mode (:data:`compare.zoo.converters.CONVERTER_MODES`).
    origin : str
        What the converter was given: ``keras``, ``saved_model`` (Keras export or
        tf.Module), ``concrete_functions``, or ``tf_keras+tfmot``.
    description : str
    known_unavailable : str or None
        Why this variant cannot be built here (error text), when known in advance.
    """

    model: str
    name: str
    family: str
    stem: str
    mode: str
    origin: str
    description: str
    known_unavailable: str | None = None

    @property
    def artifact(self) -> str:
        return f"{self.stem}.tflite"


@dataclass(frozen=True)
class ZooModel:
    """A model of the zoo: its variants and where its held-out data come from."""

    name: str
    description: str
    task: str  # "classification" (labels int64) or "regression" (targets float32)
    heldout_family: str
    variants: Mapping[str, ZooVariant]
    signature_keys: tuple[str, ...] = ()
    default_signature: str | None = None
    notes: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------
# Families and models
# --------------------------------------------------------------------------------------
def _families() -> dict[str, Family]:
    found = {
        "seed_cnn": Family(
            "seed_cnn",
            lambda params, progress: seed_cnn.build_seed_cnn(params, progress),
            seed_cnn.SEED_CNN_PARAMS, seed_cnn.SEED_CNN_VARIANTS),
        **families.keras_families(),
    }
    for base in ("zoo_seed_cnn", "zoo_mnist_dense"):
        params = tfmot_variants.tfmot_params(found[base])
        name = str(params["family"])
        found[name] = Family(name, tfmot_variants.build_tfmot_family, params,
                             tuple(tfmot_variants.TFMOT_VARIANTS))
    return found


FAMILIES: Mapping[str, Family] = MappingProxyType(_families())

_MODE_TEXT = {name: mode.description for name, mode in converters.CONVERTER_MODES.items()}
_TFMOT_TEXT = {
    "qat": "QAT (quantize_model), Optimize.DEFAULT: int8 inside, float32 I/O",
    "qat_int8": "QAT (quantize_model), full int8 with int8 I/O",
    "qat_dense_only": "QAT of the Dense layers only, Optimize.DEFAULT",
    "prune_poly": "pruned PolynomialDecay 0 -> 50%, stripped",
    "prune_const": "pruned ConstantSparsity 50%, stripped",
    "cluster_kmeans": "16 clusters KMEANS_PLUS_PLUS, stripped",
    "cluster_linear": "16 clusters LINEAR, stripped",
    "prune_cluster": "pruned 50% -> sparsity-preserving clustering (8), stripped",
    "pqat": "pruned 50% -> prune-preserving QAT",
    "cqat": "clustered 16 -> cluster-preserving QAT",
    "pcqat": "pruned + clustered -> sparsity and cluster preserving QAT",
}
# Variants known not to build with TF 2.21 / tfmot 0.8.1 (error text), filled from the
# recorded build reports; a failure not listed here is still recorded by the build.
KNOWN_UNAVAILABLE: Mapping[tuple[str, str], str] = MappingProxyType({})


def _mode_variants(model: str, family: str, origin: str, prefix: str = "",
                   modes: Sequence[str] | None = None) -> dict[str, ZooVariant]:
    params = FAMILIES[family].params
    chosen = modes if modes is not None else params["modes"]
    return {mode: ZooVariant(model, mode, family, f"{prefix}{mode}", mode, origin,
                             _MODE_TEXT[mode], KNOWN_UNAVAILABLE.get((model, mode)))
            for mode in chosen}


def _tfmot_variants(model: str, family: str) -> dict[str, ZooVariant]:
    out = {}
    for variant, (mode, pipeline) in tfmot_variants.TFMOT_VARIANTS.items():
        text = _TFMOT_TEXT.get(variant) or f"{_TFMOT_TEXT[pipeline]}; {_MODE_TEXT[mode]}"
        out[variant] = ZooVariant(model, variant, family, variant, mode, "tf_keras+tfmot",
                                  text, KNOWN_UNAVAILABLE.get((model, variant)))
    return out


def _models() -> dict[str, ZooModel]:
    seed_variants = {
        **_mode_variants("seed_cnn", "seed_cnn", "keras", modes=seed_cnn.SEED_CNN_VARIANTS),
        **_mode_variants("seed_cnn", "zoo_seed_cnn", "keras"),
        **_tfmot_variants("seed_cnn", "zoo_seed_cnn_tfmot"),
    }
    ordered = {m: seed_variants[m] for m in converters.ALL_MODES}
    ordered.update(seed_variants)
    models = [
        ZooModel("seed_cnn", "seed Fashion-MNIST CNN on digits 28x28x1, softmax output",
                 "classification", "seed_cnn", ordered,
                 notes=("float32/int8*/uint8 variants come from compare.zoo.seed_cnn's "
                        "build, the others from a retrain checked to give identical "
                        "weights (build_info weights_match_seed_cnn)",)),
        ZooModel("mnist_dense", "MLP Flatten-Dense128(relu)-Dense10 on [N,28,28], logits",
                 "classification", "zoo_mnist_dense", {
                     **_mode_variants("mnist_dense", "zoo_mnist_dense", "keras"),
                     **_tfmot_variants("mnist_dense", "zoo_mnist_dense_tfmot")}),
        ZooModel("mnist_signatures",
                 "mnist_dense weights as a tf.Module with two signatures on input 'image'",
                 "classification", "zoo_mnist_dense",
                 _mode_variants("mnist_signatures", "zoo_mnist_dense", "saved_model",
                                prefix="signatures_",
                                modes=FAMILIES["zoo_mnist_dense"].params["signature_modes"]),
                 signature_keys=("classify", "serving_default"),
                 default_signature="serving_default",
                 notes=("serving_default -> 'logits', classify -> 'probabilities'; "
                        "subgraphs are in signature-key order (classify first)",
                        "int16x8*: TF 2.21's converter writes all-zero biases and other "
                        "int8 weights than the single-signature mnist_dense int16x8 for "
                        "the same float weights (LiteRT accuracy drops, ~0.75 vs 0.96); "
                        "kept as converted: a real converter output to run bit-exactly",)),
        ZooModel("sine", "TFLM hello_world sine regressor 1-16-16-1", "regression",
                 "zoo_sine", _mode_variants("sine", "zoo_sine", "keras"),
                 notes=("every tensor has < 1024 elements: 'dynamic' quantizes nothing",)),
        ZooModel("dense_1_16_1", "Dense(1)-Dense(16,relu)-Dense(1) regressor on the sine data",
                 "regression", "zoo_dense_1_16_1",
                 _mode_variants("dense_1_16_1", "zoo_dense_1_16_1", "saved_model")),
        ZooModel("cifar_cnn", "Conv32-Conv32-Pool-Conv64-Pool-Dense10 on 32x32x3, logits",
                 "classification", "zoo_cifar_cnn",
                 _mode_variants("cifar_cnn", "zoo_cifar_cnn", "keras")),
        ZooModel("same_conv_saved_model",
                 "tf.Module: Conv8 'same'-Conv16 'same'-MaxPool-Dense128-Dense10, softmax",
                 "classification", "zoo_same_conv",
                 _mode_variants("same_conv_saved_model", "zoo_same_conv", "saved_model",
                                prefix="saved_model_")),
        ZooModel("same_conv_concrete", "the same_conv module from its concrete function",
                 "classification", "zoo_same_conv",
                 _mode_variants("same_conv_concrete", "zoo_same_conv", "concrete_functions",
                                prefix="concrete_")),
    ]
    return {model.name: model for model in models}


ZOO: Mapping[str, ZooModel] = MappingProxyType(_models())


# --------------------------------------------------------------------------------------
# Lookup
# --------------------------------------------------------------------------------------
def list_zoo() -> list[tuple[str, str]]:
    """Every ``(model, variant)`` pair, in registry order."""
    return [(model.name, variant) for model in ZOO.values() for variant in model.variants]


def zoo_variant(name: str, variant: str) -> ZooVariant:
    """The registry entry of ``(name, variant)``; KeyError naming what exists."""
    if name not in ZOO:
        raise KeyError(f"no zoo model {name!r}; known: {', '.join(ZOO)}")
    variants = ZOO[name].variants
    if variant not in variants:
        raise KeyError(f"model {name!r} has no variant {variant!r}; known: "
                       f"{', '.join(variants)}")
    return variants[variant]


def family_info(family: str, progress: Progress | None = None) -> dict[str, Any]:
    """``build_info.json`` of a family (building it when needed)."""
    blob = FAMILIES[family].artifacts(INFO, progress=progress)[INFO]
    return dict(json.loads(blob))


def variant_unavailable(name: str, variant: str, progress: Progress | None = None
                        ) -> str | None:
    """Why ``(name, variant)`` cannot be built (None when it can); may build its family."""
    entry = zoo_variant(name, variant)
    if entry.known_unavailable is not None:
        return entry.known_unavailable
    reason = family_info(entry.family, progress).get("unavailable", {}).get(entry.stem)
    return None if reason is None else str(reason)


def zoo_model(name: str, variant: str, progress: Progress | None = None) -> bytes:
    """The ``.tflite`` bytes of ``(name, variant)`` (cached; built on first use).

    Raises ZooUnavailableError, with the recorded error text, for a variant that the
    installed TF / tfmot cannot build.
    """
    entry = zoo_variant(name, variant)
    reason = variant_unavailable(name, variant, progress)
    if reason is not None:
        raise ZooUnavailableError(f"{name}/{variant} is unavailable: {reason}")
    return FAMILIES[entry.family].artifacts(entry.artifact, progress=progress)[entry.artifact]


def zoo_heldout(name: str, progress: Progress | None = None
                ) -> tuple[NDArray[np.float32], NDArray[Any]]:
    """``(x_test float32 in the model's input layout, y_test)`` of model ``name``."""
    if name not in ZOO:
        raise KeyError(f"no zoo model {name!r}; known: {', '.join(ZOO)}")
    family = FAMILIES[ZOO[name].heldout_family]
    blob = family.artifacts(HELDOUT, progress=progress)[HELDOUT]
    with np.load(io.BytesIO(blob)) as npz:
        return npz["x_test"].astype(np.float32), np.asarray(npz["y_test"])


def zoo_labels(name: str, n: int | None = None, progress: Progress | None = None
               ) -> NDArray[Any]:
    """Held-out labels (int64, classification) or clean targets (float32 [N, 1],
    regression; see ``ZOO[name].task``), aligned with :func:`zoo_inputs`."""
    _, y = zoo_heldout(name, progress)
    return y[:n] if n is not None else y


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def input_tensors(model: bytes, signature: str | None = None) -> list[Any]:
    """The input tensors (``tflite_schema.Tensor``) of subgraph 0, or of a signature's
    subgraph in the signature's input order."""
    from tflite_schema import read_model

    parsed = read_model(model)
    if signature is None:
        sg = parsed.subgraphs[0]
        return [sg.tensors[i] for i in sg.inputs]
    for sig in parsed.signature_defs:
        if sig.signature_key == signature:
            tensors = parsed.subgraphs[sig.subgraph_index].tensors
            return [tensors[t.tensor_index] for t in sig.inputs]
    keys = [sig.signature_key for sig in parsed.signature_defs]
    raise KeyError(f"no signature {signature!r}; the model has {keys}")


def quantize_for_tensor(x: NDArray[np.floating], tensor: Any) -> NDArray[Any]:
    """Float inputs in the storage dtype of ``tensor`` (a ``tflite_schema.Tensor``).

    float32 passes through (as float32). Integer tensors get
    ``clamp(zero_point + round_half_away(fl32(x / scale)), qmin, qmax)``: float32
    division, ties away from zero, as TFLite's reference QUANTIZE.
    Mirrors: ``reference_ops::AffineQuantize`` (tensorflow/lite/kernels/internal/
    reference/quantize.h).
    """
    from refimpl.arithmetic import quantize

    dtype = tensor.type.numpy_dtype
    if dtype == np.float32:
        return np.asarray(x, np.float32)
    q = tensor.quantization
    if q is None or q.scale.size != 1 or not float(q.scale[0]) > 0:
        raise ValueError(f"input {tensor.name!r} ({tensor.type.name}) has no per-tensor "
                         f"quantization scale")
    return quantize(np.asarray(x, np.float32), float(q.scale[0]), int(q.zero_point[0]), dtype)


def zoo_inputs(name: str, variant: str, n: int | None = None, signature: str | None = None,
               progress: Progress | None = None) -> list[NDArray[Any]]:
    """Held-out inputs of ``(name, variant)``, one array per model input, batch first.

    ``n`` (default: all held out, at least 300 here) first samples, converted to each
    input tensor's dtype with its scale / zero point (:func:`quantize_for_tensor`).
    ``signature`` picks a signature's inputs; the default is subgraph 0, the one the
    runtimes of :mod:`compare.runtimes` run (for ``mnist_signatures`` that is
    ``classify``: subgraphs follow the sorted signature keys).
    """
    x, _ = zoo_heldout(name, progress)
    if n is not None:
        if n > len(x):
            raise ValueError(f"{name} has {len(x)} held-out samples, {n} asked")
        x = x[:n]
    model = zoo_model(name, variant, progress)
    tensors = input_tensors(model, signature)
    if len(tensors) != 1:
        raise ValueError(f"{name}/{variant}: {len(tensors)} inputs; zoo models have one")
    tensor = tensors[0]
    expected = tensor.shape_signature or tensor.shape
    if tuple(expected[1:]) != x.shape[1:]:
        raise ValueError(f"{name}/{variant}: input {tensor.name!r} has shape {expected}, "
                         f"held-out samples are {x.shape[1:]}")
    return [quantize_for_tensor(x, tensor)]


# --------------------------------------------------------------------------------------
# Building everything, with a report
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariantReport:
    """One line of :func:`build_all`'s report."""

    model: str
    variant: str
    family: str
    status: str  # "built" or "unavailable"
    size: int | None = None
    gzip_size: int | None = None
    seconds: float | None = None  # conversion (tfmot: + its pipeline's fine-tune)
    reason: str | None = None


def gzip_size(data: bytes) -> int:
    """Bytes of ``gzip -9`` of ``data`` (no file name, mtime 0)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def _variant_seconds(info: Mapping[str, Any], entry: ZooVariant) -> float | None:
    record = info.get("variants", {}).get(entry.stem, {})
    seconds = record.get("seconds")
    if seconds is None:
        return None
    pipeline = tfmot_variants.TFMOT_VARIANTS.get(entry.stem, (None, None))[1]
    extra = info.get("pipelines", {}).get(pipeline, {}).get("seconds", 0.0)
    return round(float(seconds) + float(extra), 2)


def build_all(progress: Progress | None = None, models: Sequence[str] | None = None
              ) -> list[VariantReport]:
    """Build (or load from the cache) every variant; one report line each.

    A family whose build raises makes all its variants ``unavailable`` with that error.
    """
    report = progress or print_progress
    chosen = list(models) if models is not None else list(ZOO)
    lines = []
    infos: dict[str, dict[str, Any] | str] = {}
    for name in chosen:
        for variant, entry in zoo_variant_map(name).items():
            if entry.family not in infos:
                start = time.perf_counter()
                try:
                    infos[entry.family] = family_info(entry.family, report)
                except Exception as exc:  # reported per variant
                    infos[entry.family] = f"family {entry.family} failed: " + \
                        families.error_text(exc)
                report(f"{entry.family}: ready ({time.perf_counter() - start:.1f} s)")
            info = infos[entry.family]
            if isinstance(info, str):
                lines.append(VariantReport(name, variant, entry.family, "unavailable",
                                           reason=info))
                continue
            try:
                data = zoo_model(name, variant, report)
            except ZooUnavailableError as exc:
                lines.append(VariantReport(name, variant, entry.family, "unavailable",
                                           reason=str(exc)))
                continue
            lines.append(VariantReport(name, variant, entry.family, "built", len(data),
                                       gzip_size(data), _variant_seconds(info, entry)))
    return lines


def zoo_variant_map(name: str) -> Mapping[str, ZooVariant]:
    if name not in ZOO:
        raise KeyError(f"no zoo model {name!r}; known: {', '.join(ZOO)}")
    return ZOO[name].variants


def format_report(lines: Sequence[VariantReport]) -> str:
    """A fixed-width table of :func:`build_all`'s lines."""
    head = f"{'model':<22} {'variant':<24} {'status':<11} {'bytes':>9} {'gzip-9':>9} {'s':>6}"
    rows = [head, "-" * len(head)]
    for line in lines:
        seconds = "" if line.seconds is None else f"{line.seconds:.1f}"
        size = "" if line.size is None else str(line.size)
        packed = "" if line.gzip_size is None else str(line.gzip_size)
        row = (f"{line.model:<22} {line.variant:<24} {line.status:<11} {size:>9} "
               f"{packed:>9} {seconds:>6}")
        if line.reason:
            row += f"  {line.reason[:160]}"
        rows.append(row)
    return "\n".join(rows)
