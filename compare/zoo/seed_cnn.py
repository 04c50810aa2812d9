"""The seeds' Fashion-MNIST CNN, trained on embedded data and converted with TFLite.

Architecture (Keras, input float32 [N, 28, 28, 1])::

    Conv2D(32, 3x3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3x3, relu) -> MaxPooling2D(2)
    -> Flatten -> Dropout(0.5) -> Dense(100, relu) -> Dense(10, softmax)

trained with Adam(learning_rate=0.002) on sparse categorical cross-entropy, seeded
(``keras.utils.set_random_seed`` plus TF op determinism while fitting): two builds
with the same TF give byte-identical ``.tflite`` files. The data is the embedded
scikit-learn digits upsampled to 28x28 (:mod:`compare.zoo.data`), so it builds
without any download.

Conversion uses ``tf.lite.TFLiteConverter.from_keras_model`` on the Keras 3 model that
TF 2.21's ``tf.keras`` provides (it exports a SavedModel internally). Variants:

=================  ==================================================================
``float32``        no optimisation
``int8``           full integer: Optimize.DEFAULT, representative data, BUILTINS_INT8,
                   int8 input and output
``int8_float_io``  the same with float32 input/output (QUANTIZE / DEQUANTIZE at edges)
``int8_uint8_io``  the same with uint8 input/output
=================  ==================================================================

The batch dimension stays dynamic (``shape_signature[0] == -1``): resize input 0 to
``[N, 28, 28, 1]`` before ``allocate_tensors``. Keras 3's Flatten becomes
SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE (the batch size is read at run time).

TensorFlow is imported lazily, only when a build is needed.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from compare.zoo import cache, converters
from compare.zoo.data import Dataset, load_dataset

if TYPE_CHECKING:
    from compare.zoo.cache import Progress

SEED_CNN_NAME = "seed_cnn"
SEED_CNN_VARIANTS = ("float32", "int8", "int8_float_io", "int8_uint8_io")
HELDOUT_ARTIFACT = "heldout.npz"
INFO_ARTIFACT = "build_info.json"

# Everything that changes the built bytes. Bump builder_version when the code changes.
SEED_CNN_PARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "builder_version": 1,
        "dataset": "digits",
        "seed": 0,
        "epochs": 10,
        "batch_size": 32,
        "learning_rate": 0.002,
        "representative_samples": 100,
    }
)

# Kept under their old private names: the shared versions live in compare.zoo.converters.
_import_tf = converters.import_tf
_op_determinism = converters.op_determinism
_native_output_captured = converters.native_output_captured


# --------------------------------------------------------------------------------------
# Keras model, training, conversion
# --------------------------------------------------------------------------------------
def build_keras_model(learning_rate: float = 0.002) -> Any:
    """The seed CNN as a compiled, untrained Keras model (call after seeding)."""
    tf = _import_tf()
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Conv2D(64, (3, 3), activation="relu"),
            layers.MaxPooling2D((2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(100, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name=SEED_CNN_NAME,
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_seed_cnn(params: Mapping[str, Any], data: Dataset, progress: Progress) -> Any:
    """Seed everything, build and fit the model; one progress line per epoch."""
    tf = _import_tf()
    tf.keras.utils.set_random_seed(int(params["seed"]))
    model = build_keras_model(float(params["learning_rate"]))
    epochs = int(params["epochs"])

    class EpochLine(tf.keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            progress(
                f"{SEED_CNN_NAME}: epoch {epoch + 1}/{epochs} "
                f"loss {logs.get('loss', float('nan')):.4f} "
                f"accuracy {logs.get('accuracy', float('nan')):.4f}"
            )

    with _op_determinism(tf):
        model.fit(
            data.x_train,
            data.y_train,
            epochs=epochs,
            batch_size=int(params["batch_size"]),
            shuffle=True,
            verbose=0,
            callbacks=[EpochLine()],
        )
    return model


def convert(model: Any, variant: str, representative: NDArray[np.float32]) -> bytes:
    """Convert a Keras model to one ``.tflite`` variant (see the module docstring).

    ``representative`` : float32 [R, 28, 28, 1], fed one image at a time (batch 1)
    for calibration of the quantized variants.
    """
    if variant not in SEED_CNN_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(SEED_CNN_VARIANTS)}")
    # The variant names are converter modes (compare.zoo.converters.CONVERTER_MODES).
    representative_dataset = (
        None if variant == "float32" else converters.single_input_samples(representative)
    )
    return converters.convert_keras(model, variant, representative_dataset)


def _npz_bytes(**arrays: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def build_seed_cnn(params: Mapping[str, Any], progress: Progress) -> dict[str, bytes]:
    """Cache builder: train once, convert every variant, keep the held-out data.

    Returns ``{"<variant>.tflite": bytes, "heldout.npz": bytes, "build_info.json": bytes}``;
    ``heldout.npz`` holds ``x_test`` float32 [N, 28, 28, 1] and ``y_test`` int64 [N].
    """
    start = time.perf_counter()
    data = load_dataset(str(params["dataset"]), prefer_real=False)
    progress(f"{SEED_CNN_NAME}: data {data.description}")
    model = train_seed_cnn(params, data, progress)
    predicted = np.argmax(model.predict(data.x_test, verbose=0), axis=-1)
    keras_accuracy = float(np.mean(predicted == data.y_test))
    progress(f"{SEED_CNN_NAME}: Keras held-out accuracy {keras_accuracy:.4f}")

    representative = data.x_train[: int(params["representative_samples"])]
    out: dict[str, bytes] = {}
    for variant in SEED_CNN_VARIANTS:
        progress(f"{SEED_CNN_NAME}: converting {variant}")
        out[f"{variant}.tflite"] = convert(model, variant, representative)
    out[HELDOUT_ARTIFACT] = _npz_bytes(x_test=data.x_test, y_test=data.y_test)
    seconds = time.perf_counter() - start
    info = {
        "params": dict(params),
        "source": data.source,
        "keras_heldout_accuracy": keras_accuracy,
        "build_seconds": round(seconds, 1),
        "tensorflow": cache.tensorflow_version(),
        "sizes": {variant: len(out[f"{variant}.tflite"]) for variant in SEED_CNN_VARIANTS},
    }
    out[INFO_ARTIFACT] = (json.dumps(info, indent=1, sort_keys=True) + "\n").encode("utf-8")
    progress(f"{SEED_CNN_NAME}: built in {seconds:.1f} s")
    return out


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def seed_cnn_models(progress: Progress | None = None) -> dict[str, bytes]:
    """``{variant: .tflite bytes}`` for every entry of ``SEED_CNN_VARIANTS``.

    Served from the cache; trains and converts (tens of seconds) when anything is missing.
    """
    artifacts = [f"{variant}.tflite" for variant in SEED_CNN_VARIANTS]
    got = cache.get_or_build(
        SEED_CNN_NAME, build_seed_cnn, SEED_CNN_PARAMS, artifacts, progress=progress
    )
    return {variant: got[f"{variant}.tflite"] for variant in SEED_CNN_VARIANTS}


def seed_cnn_heldout(
    progress: Progress | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The held-out images and labels the seed CNN was not trained on.

    Returns ``(x_test float32 [N, 28, 28, 1] in [0, 1], y_test int64 [N])``.
    """
    got = cache.get_or_build(
        SEED_CNN_NAME, build_seed_cnn, SEED_CNN_PARAMS, [HELDOUT_ARTIFACT], progress=progress
    )
    with np.load(io.BytesIO(got[HELDOUT_ARTIFACT])) as npz:
        return npz["x_test"].astype(np.float32), npz["y_test"].astype(np.int64)


def seed_cnn_build_info(progress: Progress | None = None) -> dict[str, Any]:
    """What the build recorded: parameters, data source, Keras accuracy, time, sizes."""
    got = cache.get_or_build(
        SEED_CNN_NAME, build_seed_cnn, SEED_CNN_PARAMS, [INFO_ARTIFACT], progress=progress
    )
    return dict(json.loads(got[INFO_ARTIFACT]))


def quantize_input(x: NDArray[np.floating], details: Mapping[str, Any]) -> NDArray[Any]:
    """Turn float images into what the model's input tensor stores.

    Parameters
    ----------
    x : float [N, 28, 28, 1]
    details : mapping
        One entry of LiteRT's ``get_input_details()``: uses ``dtype`` and
        ``quantization`` = ``(scale, zero_point)``.

    Returns
    -------
    ndarray of ``details["dtype"]``
        float32 inputs are returned as float32. Integer inputs are
        ``clamp(zero_point + round_half_away(fl32(x / scale)), qmin, qmax)``: float32
        division and ties away from zero, as TFLite's reference QUANTIZE.

    Mirrors: ``reference_ops::AffineQuantize`` (tensorflow/lite/kernels/internal/reference/
    quantize.h).
    """
    from refimpl.arithmetic import quantize

    dtype = np.dtype(details["dtype"])
    if dtype == np.float32:
        return np.asarray(x, np.float32)
    scale, zero_point = details["quantization"]
    if not scale > 0:
        raise ValueError(f"input tensor of dtype {dtype} has no quantization scale")
    return quantize(np.asarray(x, np.float32), float(scale), int(zero_point), dtype)
