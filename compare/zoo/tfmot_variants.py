"""tfmot variants (QAT, pruning, clustering, collaborative optimisation), built in a child.

tensorflow-model-optimization 0.8.1 needs Keras 2 (tf_keras): ``TF_USE_LEGACY_KERAS=1``
must be set, and ``tf_keras`` imported, *before* TensorFlow is first imported. The
rest of the zoo uses Keras 3, so these variants are built in a child process
(``python -m compare.zoo.build tfmot-child DIR``) and the parent's Keras is never
touched. The parent side (:func:`build_tfmot_family`, a cache builder) takes the trained
weights of the base family (``weights.npz``), writes them and the data to a temporary
directory, runs the child, streams its progress lines, and collects the ``.tflite``
files it wrote. The child side (:func:`run_child`) loads the weights into the same
architecture in tf_keras and runs every pipeline below, each fine-tune seeded and
short; a pipeline that raises is recorded with its error text (``unavailable`` in
``build_info.json``), and the pipelines that depend on it are recorded as such.

=========================  ===========================================================
variant                    pipeline (fine-tunes start from the base weights)
=========================  ===========================================================
``qat``                    ``quantize_model``, fine-tune; converted with Optimize.DEFAULT
                           only (the tfmot recipe: int8 inside, float32 I/O)
``qat_int8``               the same QAT model, full int8 with int8 I/O
``qat_dense_only``         ``quantize_annotate_layer`` on Dense layers only +
                           ``quantize_apply``; Optimize.DEFAULT (the rest stays float /
                           dynamic range)
``prune_poly_*``           ``prune_low_magnitude`` with ``PolynomialDecay(0 -> 0.5)``
                           (``frequency`` small enough to prune in the short run),
                           ``strip_pruning``; ``_float32`` and PTQ ``_int8`` (int8 I/O)
``prune_const_*``          the same with ``ConstantSparsity(0.5)``
``cluster_kmeans_*``       ``cluster_weights`` 16 clusters KMEANS_PLUS_PLUS, fine-tune,
                           ``strip_clustering``; ``_float32`` and PTQ ``_int8``
``cluster_linear_*``       the same with LINEAR centroid initialisation
``prune_cluster_*``        collaborative: the ``prune_const`` model -> sparsity-preserving
                           clustering (8 clusters, ``preserve_sparsity=True``) -> strip
``pqat_int8``              ``prune_const`` model -> QAT with
                           ``Default8BitPrunePreserveQuantizeScheme``
``cqat_int8``              ``cluster_kmeans`` model -> QAT with
                           ``Default8BitClusterPreserveQuantizeScheme(False)`` ->
                           ``strip_clustering_cqat``
``pcqat_int8``             ``prune_cluster`` model -> QAT with
                           ``Default8BitClusterPreserveQuantizeScheme(True)`` -> strip
=========================  ===========================================================
"""

from __future__ import annotations

import collections
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.zoo import architectures, cache, converters, families
from compare.zoo.cache import Progress

PROGRESS_PREFIX = "@@zoo-progress "
CHILD_TIMEOUT = 1800.0  # seconds; a hung child is killed and reported
CHILD_PARAMS = "params.json"
CHILD_INPUTS = "inputs.npz"
CHILD_WEIGHTS = "weights.npz"
CHILD_INFO = "child_info.json"

# variant -> (converter mode, what it depends on); order = build order.
TFMOT_VARIANTS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "qat": ("dynamic", "qat"),
    "qat_int8": ("int8", "qat"),
    "qat_dense_only": ("dynamic", "qat_dense_only"),
    "prune_poly_float32": ("float32", "prune_poly"),
    "prune_poly_int8": ("int8", "prune_poly"),
    "prune_const_float32": ("float32", "prune_const"),
    "prune_const_int8": ("int8", "prune_const"),
    "cluster_kmeans_float32": ("float32", "cluster_kmeans"),
    "cluster_kmeans_int8": ("int8", "cluster_kmeans"),
    "cluster_linear_float32": ("float32", "cluster_linear"),
    "cluster_linear_int8": ("int8", "cluster_linear"),
    "prune_cluster_float32": ("float32", "prune_cluster"),
    "prune_cluster_int8": ("int8", "prune_cluster"),
    "pqat_int8": ("int8", "pqat"),
    "cqat_int8": ("int8", "cqat"),
    "pcqat_int8": ("int8", "pcqat"),
})
# pipeline -> pipeline whose stripped weights it starts from (None: the base weights)
PIPELINE_BASE: Mapping[str, str | None] = MappingProxyType({
    "qat": None, "qat_dense_only": None, "prune_poly": None, "prune_const": None,
    "cluster_kmeans": None, "cluster_linear": None, "prune_cluster": "prune_const",
    "pqat": "prune_const", "cqat": "cluster_kmeans", "pcqat": "prune_cluster",
})


def tfmot_params(base: families.Family) -> Mapping[str, Any]:
    """Parameters of the tfmot family on top of ``base`` (its key is one of them)."""
    return MappingProxyType({
        "family": f"{base.name}_tfmot",
        "family_version": 1,
        "base_family": base.name,
        "base_key": base.key,
        "architecture": base.params["architecture"],
        "seed": 0,
        "batch_size": 32,
        "representative_samples": base.params["representative_samples"],
        "finetune_learning_rate": 0.0003,
        "qat_epochs": 1,
        "prune_epochs": 2,
        "prune_frequency": 10,
        "sparsity": 0.5,
        "cluster_epochs": 1,
        "clusters": 16,
        "collab_clusters": 8,
        "variants": list(TFMOT_VARIANTS),
    })


def prune_end_step(samples: int, batch_size: int, epochs: int, frequency: int) -> int:
    """``end_step`` of the PolynomialDecay schedule: the last multiple of ``frequency``
    within 80% of the fine-tune's steps (at least ``frequency``).

    tfmot counts steps from 1 and updates masks when ``(step - begin) % frequency == 0``
    (docs: tfmot.md 1.3-1.4), so with ``begin_step=0`` the final sparsity is applied at
    this step, and every step after it keeps the mask; a ``frequency`` larger than the
    number of steps (the default 100 here) would prune nothing.
    """
    steps = epochs * math.ceil(samples / batch_size)
    if frequency > steps:
        raise ValueError(f"pruning frequency {frequency} > {steps} training steps: "
                         "the masks would never be updated")
    return max(frequency, frequency * int(0.8 * steps / frequency))


# --------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------
def build_tfmot_family(params: Mapping[str, Any], progress: Progress) -> dict[str, bytes]:
    """Cache builder: run the child on the base family's weights and data."""
    base = families.keras_families()[str(params["base_family"])]
    if base.key != params["base_key"]:
        raise ValueError(f"{params['family']}: base {base.name} key is {base.key}, "
                         f"parameters say {params['base_key']}")
    got = base.artifacts(families.WEIGHTS, families.HELDOUT, progress=progress)
    d = families.training_data(base.params)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"{params['family']}-") as tmp:
        folder = Path(tmp)
        (folder / CHILD_PARAMS).write_text(json.dumps(dict(params)))
        (folder / CHILD_WEIGHTS).write_bytes(got[families.WEIGHTS])
        np.savez(folder / CHILD_INPUTS, x_train=d.x_train, y_train=d.y_train,
                 x_test=d.x_test, y_test=d.y_test)
        run_child_process(folder, progress, label=str(params["family"]))
        info = json.loads((folder / CHILD_INFO).read_text())
        out = {f"{variant}.tflite": (folder / f"{variant}.tflite").read_bytes()
               for variant in info["variants"]}
    info.update(params=dict(params), tensorflow=cache.tensorflow_version(),
                build_seconds=round(time.perf_counter() - start, 1), source=d.source)
    out[families.HELDOUT] = got[families.HELDOUT]
    out[families.INFO] = (json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8")
    return out


def run_child_process(folder: Path, progress: Progress, label: str) -> None:
    """``python -m compare.zoo.build tfmot-child FOLDER`` with the legacy-Keras switch.

    Lines the child prints with :data:`PROGRESS_PREFIX` go to ``progress``; the rest
    of its output (TF logs) is kept and shown only when it fails.
    """
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    root = str(cache.repo_root())
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "compare.zoo.build", "tfmot-child", str(folder)]
    tail: collections.deque[str] = collections.deque(maxlen=80)
    with subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace") as child:
        assert child.stdout is not None
        timer = threading.Timer(CHILD_TIMEOUT, child.kill)  # a hung child is ended
        timer.start()
        try:
            for line in child.stdout:
                if line.startswith(PROGRESS_PREFIX):
                    progress(line[len(PROGRESS_PREFIX):].rstrip("\n"))
                else:
                    tail.append(line.rstrip("\n"))
            code = child.wait()
        finally:
            timer.cancel()
    if code != 0 or not (folder / CHILD_INFO).is_file():
        log = "\n".join(tail)
        raise RuntimeError(f"{label}: tfmot child exited with status {code}; "
                           f"last output:\n{log}")


# --------------------------------------------------------------------------------------
# Child side (TF_USE_LEGACY_KERAS=1, tf_keras)
# --------------------------------------------------------------------------------------
def import_legacy_tf() -> tuple[Any, Any, Any]:
    """``(tf, keras, tfmot)`` with tf_keras as ``tf.keras``; refuses a Keras 3 process."""
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise RuntimeError("TensorFlow is already imported with Keras 3; tfmot variants "
                           "are built in a child process (python -m compare.zoo.build)")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras  # noqa: F401  (must precede TensorFlow's import)

    tf = converters.import_tf()
    import tensorflow_model_optimization as tfmot

    keras = tf.keras
    if not keras.__name__.startswith("tf_keras"):
        raise RuntimeError(f"tf.keras is {keras.__name__}, not tf_keras")
    return tf, keras, tfmot


def weight_stats(keras_model: Any) -> dict[str, dict[str, Any]]:
    """Zeros fraction and distinct values of every kernel (rank >= 2) of a Keras model."""
    stats = {}
    for layer in keras_model.layers:
        for weight in layer.weights:
            value = weight.numpy()
            if value.ndim >= 2:
                short = weight.name.split("/")[-1].split(":")[0]
                stats[f"{layer.name}/{short}"] = {"zeros": round(float(np.mean(value == 0)), 4),
                                      "unique": int(np.unique(value).size)}
    return stats


def tflite_weight_stats(model: bytes) -> dict[str, dict[str, Any]]:
    """Per int8 constant tensor of >= 256 elements: zeros fraction, distinct values
    in the tensor and the most in one output channel (axis 0)."""
    from tflite_schema import TensorType, read_model

    parsed = read_model(model)
    stats = {}
    for sg in parsed.subgraphs:
        for tensor in sg.tensors:
            if tensor.type != TensorType.INT8 or not parsed.buffer_data(tensor.buffer):
                continue
            value = np.asarray(parsed.tensor_data(sg.index, tensor.index))
            if value.size < 256:
                continue
            rows = value.reshape(value.shape[0], -1)
            stats[tensor.name] = {
                "zeros": round(float(np.mean(value == 0)), 4),
                "unique": int(np.unique(value).size),
                "max_unique_per_channel": max(int(np.unique(r).size) for r in rows),
            }
    return stats


class _Child:
    """The pipelines of one tfmot family, run in order (see the module docstring)."""

    def __init__(self, folder: Path, progress: Progress):
        self.tf, self.keras, self.tfmot = import_legacy_tf()
        self.folder = folder
        self.params = json.loads((folder / CHILD_PARAMS).read_text())
        self.progress = progress
        self.label = str(self.params["family"])
        with np.load(folder / CHILD_WEIGHTS) as npz:
            self.base_weights = [npz[f"w{i}"] for i in range(len(npz.files))]
        with np.load(folder / CHILD_INPUTS) as npz:
            self.x_train, self.y_train = npz["x_train"], npz["y_train"]
            self.x_test, self.y_test = npz["x_test"], npz["y_test"]
        count = int(self.params["representative_samples"])
        self.representative = converters.single_input_samples(self.x_train[:count])
        self.rec = families.Recorder(self.label, progress)
        self.stripped: dict[str, list[NDArray[Any]]] = {}  # pipeline -> weights
        self.pipeline_info: dict[str, dict[str, Any]] = {}

    # helpers -------------------------------------------------------------------------
    def fresh(self, weights: list[NDArray[Any]] | None = None) -> Any:
        """A new tf_keras model of the architecture holding ``weights`` (default: base)."""
        self.keras.utils.set_random_seed(int(self.params["seed"]))
        model = architectures.KERAS_ARCHITECTURES[self.params["architecture"]](self.keras)
        model.set_weights(self.base_weights if weights is None else weights)
        return model

    def finetune(self, model: Any, epochs: int, name: str, callbacks: tuple[Any, ...] = ()
                 ) -> None:
        self.keras.utils.set_random_seed(int(self.params["seed"]))
        architectures.compile_model(self.keras, model, self.params["architecture"],
                                    float(self.params["finetune_learning_rate"]))
        with converters.op_determinism(self.tf):
            architectures.fit(self.keras, model, self.x_train, self.y_train, epochs=epochs,
                              batch_size=int(self.params["batch_size"]),
                              progress=self.progress, label=f"{self.label} {name}",
                              callbacks=callbacks)

    def accuracy(self, model: Any) -> float:
        return architectures.heldout_metric(model.predict(self.x_test, verbose=0),
                                            self.y_test, regression=False)

    def convert(self, pipeline: str, model: Any) -> None:
        for variant, (mode, source) in TFMOT_VARIANTS.items():
            if source != pipeline:
                continue
            rep = self.representative if mode in ("int8",) else None
            made = self.rec.convert(variant, lambda mode=mode, rep=rep:
                                    converters.convert_keras(model, mode, rep), mode=mode)
            if made is not None and mode == "int8":
                self.rec.variants[variant]["int8_weights"] = tflite_weight_stats(made)

    def finish(self, pipeline: str, keras_model: Any, start: float, **extra: Any) -> None:
        self.pipeline_info[pipeline] = {
            "keras_heldout_accuracy": self.accuracy(keras_model),
            "seconds": round(time.perf_counter() - start, 1), **extra}
        self.progress(f"{self.label}: {pipeline} accuracy "
                      f"{self.pipeline_info[pipeline]['keras_heldout_accuracy']:.4f}")

    # pipelines -------------------------------------------------------------------------
    def qat(self) -> Any:
        model = self.tfmot.quantization.keras.quantize_model(self.fresh())
        self.finetune(model, int(self.params["qat_epochs"]), "qat")
        return model

    def qat_dense_only(self) -> Any:
        qk = self.tfmot.quantization.keras
        dense = self.keras.layers.Dense

        def annotate(layer: Any) -> Any:
            return qk.quantize_annotate_layer(layer) if isinstance(layer, dense) else layer

        annotated = self.keras.models.clone_model(self.fresh(), clone_function=annotate)
        model = qk.quantize_apply(annotated)
        self.finetune(model, int(self.params["qat_epochs"]), "qat_dense_only")
        return model

    def _prune(self, name: str, schedule: Any) -> Any:
        sparsity = self.tfmot.sparsity.keras
        model = sparsity.prune_low_magnitude(self.fresh(), pruning_schedule=schedule)
        self.finetune(model, int(self.params["prune_epochs"]), name,
                      callbacks=(sparsity.UpdatePruningStep(),))
        return sparsity.strip_pruning(model)

    def _prune_steps(self) -> tuple[int, int]:
        frequency = int(self.params["prune_frequency"])
        return frequency, prune_end_step(len(self.x_train), int(self.params["batch_size"]),
                                         int(self.params["prune_epochs"]), frequency)

    def prune_poly(self) -> Any:
        frequency, end = self._prune_steps()
        schedule = self.tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=float(self.params["sparsity"]),
            begin_step=0, end_step=end, frequency=frequency)
        return self._prune("prune_poly", schedule)

    def prune_const(self) -> Any:
        frequency, _ = self._prune_steps()
        schedule = self.tfmot.sparsity.keras.ConstantSparsity(
            float(self.params["sparsity"]), begin_step=0, frequency=frequency)
        return self._prune("prune_const", schedule)

    def _cluster(self, name: str, init: str, weights: list[NDArray[Any]] | None = None,
                 clusters: int | None = None, preserve_sparsity: bool = False) -> Any:
        ck = self.tfmot.clustering.keras
        options = {"number_of_clusters": clusters or int(self.params["clusters"]),
                   "cluster_centroids_init": getattr(ck.CentroidInitialization, init)}
        if preserve_sparsity:
            # Not re-exported by the public API in 0.8.1: the experimental module has it.
            from tensorflow_model_optimization.python.core.clustering.keras.experimental \
                import cluster as experimental

            model = experimental.cluster_weights(self.fresh(weights), preserve_sparsity=True,
                                                 **options)
        else:
            model = ck.cluster_weights(self.fresh(weights), **options)
        self.finetune(model, int(self.params["cluster_epochs"]), name)
        return ck.strip_clustering(model)

    def cluster_kmeans(self) -> Any:
        return self._cluster("cluster_kmeans", "KMEANS_PLUS_PLUS")

    def cluster_linear(self) -> Any:
        return self._cluster("cluster_linear", "LINEAR")

    def prune_cluster(self) -> Any:
        return self._cluster("prune_cluster", "KMEANS_PLUS_PLUS", self.stripped["prune_const"],
                             int(self.params["collab_clusters"]), preserve_sparsity=True)

    def _preserving_qat(self, name: str, start_from: str, scheme: Any, strip: bool) -> Any:
        qk = self.tfmot.quantization.keras
        annotated = qk.quantize_annotate_model(self.fresh(self.stripped[start_from]))
        model = qk.quantize_apply(annotated, scheme)
        self.finetune(model, int(self.params["qat_epochs"]), name)
        return self.tfmot.experimental.combine.strip_clustering_cqat(model) if strip else model

    def pqat(self) -> Any:
        scheme = self.tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        return self._preserving_qat("pqat", "prune_const", scheme, strip=False)

    def cqat(self) -> Any:
        combine = self.tfmot.experimental.combine
        scheme = combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)
        return self._preserving_qat("cqat", "cluster_kmeans", scheme, strip=True)

    def pcqat(self) -> Any:
        combine = self.tfmot.experimental.combine
        scheme = combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
        return self._preserving_qat("pcqat", "prune_cluster", scheme, strip=True)

    # driver ----------------------------------------------------------------------------
    def run(self) -> None:
        pipelines: dict[str, Callable[[], Any]] = {
            name: getattr(self, name) for name in PIPELINE_BASE}
        failed: dict[str, str] = {}
        for name, make in pipelines.items():
            start = time.perf_counter()
            needs = PIPELINE_BASE[name]
            if needs is not None and needs not in self.stripped:
                failed[name] = f"needs the {needs} model, which failed: {failed.get(needs, '?')}"
            else:
                self.progress(f"{self.label}: {name}")
                try:
                    model = make()
                except Exception as exc:  # recorded, the other pipelines go on
                    failed[name] = families.error_text(exc)
                    self.progress(f"{self.label}: {name} FAILED: {failed[name][:300]}")
                else:
                    stats = weight_stats(model) if not name.startswith("qat") else {}
                    self.stripped[name] = model.get_weights()
                    self.finish(name, model, start, keras_weights=stats)
                    self.convert(name, model)
                    continue
            for variant, (_, source) in TFMOT_VARIANTS.items():
                if source == name:
                    self.rec.unavailable[variant] = failed[name]

        for artifact, blob in self.rec.out.items():
            cache.atomic_write_bytes(self.folder / artifact, blob)
        info = {"family": self.label, "variants": self.rec.variants,
                "unavailable": self.rec.unavailable, "pipelines": self.pipeline_info}
        cache.atomic_write_bytes(self.folder / CHILD_INFO,
                                 json.dumps(info, indent=1, sort_keys=True).encode("utf-8"))


def run_child(folder: str | Path) -> None:
    """Child entry point: build every tfmot variant described in ``folder``."""

    def progress(message: str) -> None:
        print(PROGRESS_PREFIX + message, file=sys.stderr, flush=True)

    _Child(Path(folder), progress).run()
