"""Build *families*: one training run, then every converter variant of that trained model.

A family is the unit of caching (:func:`compare.zoo.cache.get_or_build`): its builder
trains once (seeded, op determinism on) and converts every variant, so the variants
of one model always share weights and held-out data. Each builder returns

* ``<variant>.tflite`` for every variant that converted,
* ``heldout.npz``: ``x_test`` (float32, the model's input layout) and ``y_test``
  (int64 labels, or float32 clean targets for the regressors),
* ``build_info.json``: parameters, data source, Keras held-out metric, seconds per
  variant, sizes, and ``unavailable``: ``{variant: error text}`` for conversions that
  failed (recorded, not dropped),
* ``weights.npz`` (``w0, w1, ...`` = ``get_weights()``) for the families whose trained
  weights seed the tfmot variants (:mod:`compare.zoo.tfmot_variants`).

This module runs in the parent process with Keras 3 (``tf.keras`` of TF 2.21).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from compare.zoo import architectures, cache, converters, data
from compare.zoo.cache import Progress

HELDOUT = "heldout.npz"
INFO = "build_info.json"
WEIGHTS = "weights.npz"
ERROR_TEXT_LIMIT = 2000  # characters of a failure message kept in build_info.json
SINE_TEST_SEED_OFFSET = 1000  # held-out sine points come from seed + this


def error_text(exc: BaseException) -> str:
    """``"<Type>: <message>"`` of a failure, whitespace-collapsed, at most 2000 chars."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 3] + "..."


def npz_bytes(**arrays: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def weights_npz(weights: Sequence[NDArray[Any]]) -> bytes:
    """``get_weights()`` as ``w0, w1, ...`` (order = layer order)."""
    return npz_bytes(**{f"w{i}": np.asarray(w) for i, w in enumerate(weights)})


def read_weights(blob: bytes) -> list[NDArray[Any]]:
    with np.load(io.BytesIO(blob)) as npz:
        return [npz[f"w{i}"] for i in range(len(npz.files))]


class Recorder:
    """Collects one family build: artifacts, seconds per variant, failures."""

    def __init__(self, family: str, progress: Progress):
        self.family = family
        self.progress = progress
        self.start = time.perf_counter()
        self.out: dict[str, bytes] = {}
        self.variants: dict[str, dict[str, Any]] = {}
        self.unavailable: dict[str, str] = {}

    def convert(self, variant: str, make: Callable[[], bytes], **extra: Any) -> bytes | None:
        """Run ``make()``; keep ``<variant>.tflite`` or record why it failed."""
        start = time.perf_counter()
        try:
            model = make()
        except Exception as exc:  # recorded per variant, the build goes on
            self.unavailable[variant] = error_text(exc)
            self.progress(f"{self.family}: {variant} FAILED: {self.unavailable[variant][:200]}")
            return None
        seconds = time.perf_counter() - start
        twin = next((stem for stem, blob in self.out.items() if blob == model), None)
        if twin is not None:  # e.g. 'dynamic' of a model with only small weight tensors
            extra = {**extra, "identical_to": twin.removesuffix(".tflite")}
        self.out[f"{variant}.tflite"] = model
        self.variants[variant] = {"seconds": round(seconds, 2), "size": len(model), **extra}
        self.progress(f"{self.family}: {variant} {len(model)} bytes ({seconds:.1f} s)")
        return model

    def finish(self, params: Mapping[str, Any], **info: Any) -> dict[str, bytes]:
        seconds = time.perf_counter() - self.start
        record = {
            "family": self.family,
            "params": dict(params),
            "tensorflow": cache.tensorflow_version(),
            "build_seconds": round(seconds, 1),
            "variants": self.variants,
            "unavailable": self.unavailable,
            **info,
        }
        self.out[INFO] = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self.progress(f"{self.family}: built in {seconds:.1f} s")
        return self.out


# --------------------------------------------------------------------------------------
# Data of a family
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingData:
    x_train: NDArray[np.float32]
    y_train: NDArray[Any]
    x_test: NDArray[np.float32]
    y_test: NDArray[Any]
    source: str
    description: str


def training_data(params: Mapping[str, Any]) -> TrainingData:
    """The arrays a family trains and is tested on, per ``params["dataset"]``.

    ``"sine"``: :func:`compare.zoo.data.sine_data` (``train_samples`` noisy points from
    ``seed``; 300 clean held-out points from ``seed + 1000``). Image sets: as loaded by
    :func:`compare.zoo.data.load_dataset` (already resolved, so the real set only when
    the name says so), cut to ``train_limit`` / ``test_limit``, and with the channel
    axis dropped when ``squeeze_channel``.
    """
    name = str(params["dataset"])
    if name == "sine":
        seed = int(params["seed"])
        x, y, _ = data.sine_data(int(params["train_samples"]), seed)
        x_test, _, y_test = data.sine_data(300, seed + SINE_TEST_SEED_OFFSET)
        return TrainingData(x, y, x_test, y_test, "generated-sine",
                            f"x ~ U[0, 2pi), sin(x) + 0.1 N(0,1), {len(x)} train (seed "
                            f"{seed}) / 300 clean held out (seed {seed + SINE_TEST_SEED_OFFSET})")
    loaded = data.load_dataset(name, prefer_real=name not in ("digits", "digits_rgb32"))
    train, test = int(params["train_limit"]), int(params["test_limit"])
    x_train, x_test = loaded.x_train[:train], loaded.x_test[:test]
    if params.get("squeeze_channel"):
        x_train, x_test = x_train[..., 0], x_test[..., 0]
    return TrainingData(np.ascontiguousarray(x_train), loaded.y_train[:train],
                        np.ascontiguousarray(x_test), loaded.y_test[:test], loaded.source,
                        f"{loaded.description}; used {len(x_train)} train / "
                        f"{len(x_test)} held out")


# --------------------------------------------------------------------------------------
# Keras families
# --------------------------------------------------------------------------------------
def train_keras(params: Mapping[str, Any], d: TrainingData, progress: Progress,
                label: str) -> Any:
    """Seed, build, compile and fit the family's Keras 3 architecture."""
    tf = converters.import_tf()
    keras = tf.keras
    keras.utils.set_random_seed(int(params["seed"]))
    architecture = str(params["architecture"])
    model = architectures.KERAS_ARCHITECTURES[architecture](keras)
    architectures.compile_model(keras, model, architecture, float(params["learning_rate"]))
    with converters.op_determinism(tf):
        architectures.fit(keras, model, d.x_train, d.y_train, epochs=int(params["epochs"]),
                          batch_size=int(params["batch_size"]), progress=progress, label=label)
    return model


def _representative(params: Mapping[str, Any], d: TrainingData) -> NDArray[np.float32]:
    return d.x_train[: int(params["representative_samples"])]


def build_keras_family(params: Mapping[str, Any], progress: Progress) -> dict[str, bytes]:
    """Cache builder of a Keras family (see the module docstring for the artifacts).

    ``params["export"]``: ``"keras"`` converts with ``from_keras_model``;
    ``"saved_model"`` exports the Keras 3 model (``model.export``) and converts with
    ``from_saved_model``. With ``params["signature_modes"]`` (MNIST dense net only) the
    trained weights are also wrapped in a two-signature ``tf.Module``
    (:func:`compare.zoo.architectures.make_signature_module`), saved, and converted from
    the SavedModel with both signatures: artifacts ``signatures_<mode>.tflite``.
    """
    family = str(params["family"])
    rec = Recorder(family, progress)
    d = training_data(params)
    progress(f"{family}: data {d.description}")
    model = train_keras(params, d, progress, family)
    regression = architectures.OUTPUT_KIND[str(params["architecture"])] == "regression"
    metric = architectures.heldout_metric(model.predict(d.x_test, verbose=0), d.y_test,
                                          regression)
    progress(f"{family}: Keras held-out {'MAE' if regression else 'accuracy'} {metric:.4f}")
    rep = converters.single_input_samples(_representative(params, d))
    info: dict[str, Any] = {"source": d.source, "data": d.description,
                            "keras_heldout_" + ("mae" if regression else "accuracy"): metric}

    with tempfile.TemporaryDirectory(prefix=f"{family}-") as tmp:
        if params["export"] == "saved_model":
            with converters.native_output_captured():
                model.export(f"{tmp}/saved_model", verbose=False)

            def make(mode: str) -> Callable[[], bytes]:
                return lambda: converters.convert_saved_model(f"{tmp}/saved_model", mode, rep)
        else:
            def make(mode: str) -> Callable[[], bytes]:
                return lambda: converters.convert_keras(model, mode, rep)

        for mode in params["modes"]:
            rec.convert(mode, make(mode))
        if params.get("signature_modes"):
            _convert_signature_variants(params, model, d, rec, f"{tmp}/signatures")

    if params.get("check_against_seed_cnn"):
        info["weights_match_seed_cnn"] = _weights_match_seed_cnn(model, rep, progress)
    if params.get("keep_weights"):
        rec.out[WEIGHTS] = weights_npz(model.get_weights())
    rec.out[HELDOUT] = npz_bytes(x_test=d.x_test, y_test=d.y_test)
    return rec.finish(params, **info)


def _convert_signature_variants(params: Mapping[str, Any], model: Any, d: TrainingData,
                                rec: Recorder, path: str) -> None:
    tf = converters.import_tf()
    module = architectures.make_signature_module(tf, model.get_weights())
    signatures = {"serving_default": module.serving_default.get_concrete_function(),
                  "classify": module.classify.get_concrete_function()}
    tf.saved_model.save(module, path, signatures=signatures)
    rep = converters.signature_samples(_representative(params, d),
                                       {key: "image" for key in signatures})
    for mode in params["signature_modes"]:
        rec.convert(f"signatures_{mode}",
                    lambda mode=mode: converters.convert_saved_model(path, mode, rep))


def _weight_digests(model: bytes) -> list[str]:
    """sha256 of every constant buffer of at least 256 bytes (the weights), sorted."""
    from tflite_schema import read_model

    parsed = read_model(model)
    digests = []
    for sg in parsed.subgraphs:
        for tensor in sg.tensors:
            blob = bytes(parsed.buffer_data(tensor.buffer))
            if len(blob) >= 256:
                digests.append(hashlib.sha256(blob).hexdigest())
    return sorted(digests)


def _weights_match_seed_cnn(model: Any, rep: Any, progress: Progress) -> bool:
    """Do this retrained seed CNN's float32 weights equal those of ``seed_cnn``'s build?

    The registry mixes variants of :mod:`compare.zoo.seed_cnn`'s cache with variants of
    this family, so they must come from the same weights (same seed, same code path).
    """
    from compare.zoo.seed_cnn import seed_cnn_models

    ours = _weight_digests(converters.convert_keras(model, "float32", rep))
    theirs = _weight_digests(seed_cnn_models(progress)["float32"])
    same = ours == theirs
    progress(f"seed CNN weights identical to compare.zoo.seed_cnn's build: {same}")
    return same


# --------------------------------------------------------------------------------------
# tf.Module family: 'same' padding convolutions, SavedModel and concrete functions
# --------------------------------------------------------------------------------------
def build_same_conv_family(params: Mapping[str, Any], progress: Progress) -> dict[str, bytes]:
    """Cache builder of the ``tf.Module`` 'same'-padding CNN.

    Trains :func:`compare.zoo.architectures.make_same_conv_module` with its own Adam
    loop, then converts every mode twice: ``saved_model_<mode>`` via
    ``tf.saved_model.save`` + ``from_saved_model`` and ``concrete_<mode>`` via
    ``from_concrete_functions([module.__call__.get_concrete_function()], module)``.
    """
    tf = converters.import_tf()
    family = str(params["family"])
    rec = Recorder(family, progress)
    d = training_data(params)
    progress(f"{family}: data {d.description}")
    seed = int(params["seed"])
    tf.random.set_seed(seed)
    module = architectures.make_same_conv_module(tf, seed)
    with converters.op_determinism(tf):
        architectures.train_module(
            tf, module, d.x_train, d.y_train, epochs=int(params["epochs"]),
            batch_size=int(params["batch_size"]), learning_rate=float(params["learning_rate"]),
            seed=seed, progress=progress, label=family)
    probabilities = module(tf.constant(d.x_test))["probabilities"].numpy()
    accuracy = architectures.heldout_metric(probabilities, d.y_test, regression=False)
    progress(f"{family}: held-out accuracy {accuracy:.4f}")
    rep = converters.single_input_samples(_representative(params, d))
    function = module.__call__.get_concrete_function()
    with tempfile.TemporaryDirectory(prefix=f"{family}-") as tmp:
        tf.saved_model.save(module, tmp, signatures={"serving_default": function})
        for mode in params["modes"]:
            rec.convert(f"saved_model_{mode}",
                        lambda mode=mode: converters.convert_saved_model(tmp, mode, rep))
            rec.convert(f"concrete_{mode}",
                        lambda mode=mode: converters.convert_concrete_functions(
                            [function], module, mode, rep))
    rec.out[HELDOUT] = npz_bytes(x_test=d.x_test, y_test=d.y_test)
    return rec.finish(params, source=d.source, data=d.description,
                      heldout_accuracy=accuracy)


# --------------------------------------------------------------------------------------
# The families
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Family:
    """One cached build: ``builder(params, progress)`` returns ``<stem>.tflite`` for
    every stem of ``variants`` (unless recorded unavailable) plus ``extra`` artifacts."""

    name: str
    builder: Callable[[Mapping[str, Any], Progress], Mapping[str, bytes]]
    params: Mapping[str, Any]
    variants: tuple[str, ...]
    extra: tuple[str, ...] = (HELDOUT, INFO)

    @property
    def key(self) -> str:
        return cache.params_key(self.params)

    def artifacts(self, *wanted: str, progress: Progress | None = None) -> dict[str, bytes]:
        """The requested artifacts from the cache, building the family when missing."""
        return cache.get_or_build(self.name, self.builder, self.params, wanted,
                                  progress=progress)


_FAMILY_VERSION = 1
_REPRESENTATIVE = 100
_IMAGE_LIMITS = {"train_limit": 10000, "test_limit": 1000}  # only bite on real data sets


def _keras_params(name: str, **params: Any) -> Mapping[str, Any]:
    base = {"family": name, "family_version": _FAMILY_VERSION, "export": "keras",
            "representative_samples": _REPRESENTATIVE, "seed": 0, "batch_size": 32,
            "modes": list(converters.ALL_MODES)}
    return MappingProxyType({**base, **params})


def keras_families() -> dict[str, Family]:
    """The plain (Keras 3 / tf.Module) families, with data sets resolved on this machine."""
    from compare.zoo.seed_cnn import SEED_CNN_PARAMS, SEED_CNN_VARIANTS

    seed_modes = [m for m in converters.ALL_MODES if m not in SEED_CNN_VARIANTS]
    mnist = data.resolve_dataset("mnist")
    specs = {
        # The seed CNN retrained with compare.zoo.seed_cnn's parameters (same weights,
        # checked) for the modes that module does not build, and for the tfmot weights.
        "zoo_seed_cnn": _keras_params(
            "zoo_seed_cnn", architecture="seed_cnn", dataset=SEED_CNN_PARAMS["dataset"],
            seed=SEED_CNN_PARAMS["seed"], epochs=SEED_CNN_PARAMS["epochs"],
            batch_size=SEED_CNN_PARAMS["batch_size"],
            learning_rate=SEED_CNN_PARAMS["learning_rate"],
            representative_samples=SEED_CNN_PARAMS["representative_samples"],
            modes=seed_modes, train_limit=10**9, test_limit=10**9,
            check_against_seed_cnn=True, keep_weights=True),
        "zoo_mnist_dense": _keras_params(
            "zoo_mnist_dense", architecture="mnist_dense", dataset=mnist, squeeze_channel=True,
            epochs=5, learning_rate=0.001, keep_weights=True,
            signature_modes=list(converters.ALL_MODES), **_IMAGE_LIMITS),
        "zoo_sine": _keras_params(
            "zoo_sine", architecture="sine_mlp", dataset="sine", train_samples=2000,
            epochs=40, learning_rate=0.01),
        "zoo_dense_1_16_1": _keras_params(
            "zoo_dense_1_16_1", architecture="dense_1_16_1", dataset="sine",
            train_samples=2000, epochs=40, learning_rate=0.01, export="saved_model"),
        "zoo_cifar_cnn": _keras_params(
            "zoo_cifar_cnn", architecture="cifar_cnn", dataset=data.resolve_dataset("cifar10"),
            epochs=4, learning_rate=0.001, **_IMAGE_LIMITS),
        "zoo_same_conv": MappingProxyType({
            "family": "zoo_same_conv", "family_version": _FAMILY_VERSION, "dataset": mnist,
            "seed": 0, "epochs": 3, "batch_size": 32, "learning_rate": 0.001,
            "representative_samples": _REPRESENTATIVE, "modes": list(converters.ALL_MODES),
            **_IMAGE_LIMITS}),
    }
    families = {}
    for name, params in specs.items():
        if name == "zoo_same_conv":
            stems = tuple(f"{path}_{mode}" for mode in params["modes"]
                          for path in ("saved_model", "concrete"))
            families[name] = Family(name, build_same_conv_family, params, stems)
            continue
        stems = tuple(params["modes"]) + tuple(
            f"signatures_{mode}" for mode in params.get("signature_modes", ()))
        extra = (HELDOUT, INFO, WEIGHTS) if params.get("keep_weights") else (HELDOUT, INFO)
        families[name] = Family(name, build_keras_family, params, stems, extra)
    return families
