"""Model definitions of the zoo and the small training loops that fit them.

Keras architectures are functions of the Keras *module* they should use, so the same
definition serves Keras 3 (``tf.keras`` of TF 2.21, in the parent process) and
tf_keras 2 (``tf.keras`` when ``TF_USE_LEGACY_KERAS=1``, in the tfmot child process,
see :mod:`compare.zoo.tfmot_variants`). Every layer has an explicit name, so the
tensor names in a converted model do not depend on what was built before in the same
process. Layer order fixes the order of ``get_weights()``, which is how trained
weights move from a Keras 3 model to its tf_keras twin.

==================  ===================================================================
``seed_cnn``        Conv2D(32,3x3,relu)-MaxPool(2)-Conv2D(64,3x3,relu)-MaxPool(2)-Flatten
                    -Dropout(0.5)-Dense(100,relu)-Dense(10,softmax) on [N,28,28,1]
``mnist_dense``     Flatten-Dense(128,relu)-Dense(10) (logits) on [N,28,28]
``sine_mlp``        Dense(16,relu)-Dense(16,relu)-Dense(1) on [N,1] (TFLM hello_world)
``dense_1_16_1``    Dense(1)-Dense(16,relu)-Dense(1) on [N,1]
``cifar_cnn``       Conv2D(32)-Conv2D(32)-MaxPool-Conv2D(64)-MaxPool-Flatten-Dense(10)
                    (3x3 'valid', relu; logits) on [N,32,32,3]
==================  ===================================================================

Two models are plain ``tf.Module`` objects with ``tf.function`` methods instead of
Keras models: :func:`make_same_conv_module` (two 'same' convolutions, for the
SavedModel and concrete-function converter paths) and :func:`make_signature_module`
(two named signatures over the MNIST dense net's weights).

TensorFlow is never imported here: callers pass ``tf`` / ``keras`` in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

Progress = Callable[[str], None]


# --------------------------------------------------------------------------------------
# Keras architectures
# --------------------------------------------------------------------------------------
def seed_cnn(keras: Any) -> Any:
    """The seed CNN (same layers as :mod:`compare.zoo.seed_cnn`), named layers."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(100, activation="relu", name="dense1"),
            layers.Dense(10, activation="softmax", name="dense2"),
        ],
        name="seed_cnn",
    )


def mnist_dense(keras: Any) -> Any:
    """784-128-10 multilayer perceptron of the TF beginners' tutorial (logits out)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28), name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense1"),
            layers.Dense(10, name="logits"),
        ],
        name="mnist_dense",
    )


def sine_mlp(keras: Any) -> Any:
    """1-16-16-1 regressor of TFLite Micro's hello_world example."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(1,), name="x"),
            layers.Dense(16, activation="relu", name="dense1"),
            layers.Dense(16, activation="relu", name="dense2"),
            layers.Dense(1, name="y"),
        ],
        name="sine",
    )


def dense_1_16_1(keras: Any) -> Any:
    """Dense(1) (linear) -> Dense(16, relu) -> Dense(1): a one-unit first layer."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(1,), name="x"),
            layers.Dense(1, name="dense1"),
            layers.Dense(16, activation="relu", name="dense16"),
            layers.Dense(1, name="y"),
        ],
        name="dense_1_16_1",
    )


def cifar_cnn(keras: Any) -> Any:
    """A small CIFAR-10-style CNN on 32x32x3 (logits out)."""
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3), name="image"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv2"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv3"),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, name="logits"),
        ],
        name="cifar_cnn",
    )


KERAS_ARCHITECTURES: Mapping[str, Callable[[Any], Any]] = {
    "seed_cnn": seed_cnn,
    "mnist_dense": mnist_dense,
    "sine_mlp": sine_mlp,
    "dense_1_16_1": dense_1_16_1,
    "cifar_cnn": cifar_cnn,
}
# Output of each architecture: softmax probabilities, logits, or a regression value.
OUTPUT_KIND = {
    "seed_cnn": "probabilities",
    "mnist_dense": "logits",
    "sine_mlp": "regression",
    "dense_1_16_1": "regression",
    "cifar_cnn": "logits",
}


def compile_model(keras: Any, model: Any, architecture: str, learning_rate: float) -> None:
    """Adam + the loss that fits the architecture's output (see ``OUTPUT_KIND``)."""
    kind = OUTPUT_KIND[architecture]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    if kind == "regression":
        model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=kind == "logits")
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def fit(
    keras: Any, model: Any, x: NDArray[Any], y: NDArray[Any], *, epochs: int,
    batch_size: int, progress: Progress, label: str, callbacks: Sequence[Any] = (),
) -> None:
    """``model.fit`` (shuffled, silent) with a progress line every few epochs.

    Seeding is the caller's business (``keras.utils.set_random_seed`` before building
    the model); run it under :func:`compare.zoo.converters.op_determinism`.
    """

    every = max(1, epochs // 5)  # at most about five lines per fit

    class EpochLine(keras.callbacks.Callback):  # type: ignore[misc, name-defined]
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            if (epoch + 1) % every and epoch + 1 != epochs:
                return
            logs = logs or {}
            shown = " ".join(f"{k} {v:.4f}" for k, v in sorted(logs.items())
                             if k in ("loss", "accuracy", "mae"))
            progress(f"{label}: epoch {epoch + 1}/{epochs} {shown}")

    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
              callbacks=[*callbacks, EpochLine()])


def heldout_metric(predicted: NDArray[Any], y: NDArray[Any], regression: bool) -> float:
    """Accuracy (argmax == label) for classifiers, mean absolute error for regressors."""
    if regression:
        return float(np.mean(np.abs(predicted.reshape(y.shape) - y)))
    return float(np.mean(np.argmax(predicted, axis=-1) == y))


# --------------------------------------------------------------------------------------
# tf.Module models
# --------------------------------------------------------------------------------------
def _glorot(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
            fan_out: int) -> NDArray[np.float32]:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def make_same_conv_module(tf: Any, seed: int, conv_channels: tuple[int, int] = (8, 16),
                          hidden: int = 128) -> Any:
    """A ``tf.Module``: Conv2D 'same' x2 (relu) -> MaxPool 2 -> Dense(hidden, relu) -> Dense(10).

    Input ``image`` float32 [N, 28, 28, 1]. ``__call__`` returns
    ``{"probabilities": softmax(logits)}`` (the serving signature); ``logits(x)`` is
    what training uses. Weights are Glorot-uniform from ``np.random.default_rng(seed)``
    (biases zero), so the initial module is identical on every machine.
    """
    rng = np.random.default_rng(seed)
    c1, c2 = conv_channels
    flat = 14 * 14 * c2
    spec = tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")

    class SameConvNet(tf.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__(name="same_conv")
            self.conv1_w = tf.Variable(_glorot(rng, (3, 3, 1, c1), 9, 9 * c1), name="conv1_w")
            self.conv1_b = tf.Variable(np.zeros(c1, np.float32), name="conv1_b")
            self.conv2_w = tf.Variable(_glorot(rng, (3, 3, c1, c2), 9 * c1, 9 * c2),
                                       name="conv2_w")
            self.conv2_b = tf.Variable(np.zeros(c2, np.float32), name="conv2_b")
            self.dense1_w = tf.Variable(_glorot(rng, (flat, hidden), flat, hidden),
                                        name="dense1_w")
            self.dense1_b = tf.Variable(np.zeros(hidden, np.float32), name="dense1_b")
            self.dense2_w = tf.Variable(_glorot(rng, (hidden, 10), hidden, 10), name="dense2_w")
            self.dense2_b = tf.Variable(np.zeros(10, np.float32), name="dense2_b")

        def logits(self, x: Any) -> Any:
            y = tf.nn.relu(tf.nn.conv2d(x, self.conv1_w, 1, "SAME") + self.conv1_b)
            y = tf.nn.relu(tf.nn.conv2d(y, self.conv2_w, 1, "SAME") + self.conv2_b)
            y = tf.nn.max_pool2d(y, 2, 2, "VALID")
            y = tf.reshape(y, [-1, flat])
            y = tf.nn.relu(tf.matmul(y, self.dense1_w) + self.dense1_b)
            return tf.matmul(y, self.dense2_w) + self.dense2_b

        @tf.function(input_signature=[spec])
        def __call__(self, image: Any) -> dict[str, Any]:
            return {"probabilities": tf.nn.softmax(self.logits(image))}

    return SameConvNet()


def train_module(
    tf: Any, module: Any, x: NDArray[np.float32], y: NDArray[np.int64], *, epochs: int,
    batch_size: int, learning_rate: float, seed: int, progress: Progress, label: str,
) -> None:
    """Fit ``module.logits`` with softmax cross-entropy and a hand-written Adam.

    Adam (beta1 0.9, beta2 0.999, eps 1e-7, bias-corrected) on every trainable variable;
    each epoch visits the data in the order of ``np.random.default_rng(seed)``
    permutations. No Keras involved, so this runs the same under Keras 3 and tf_keras.
    """
    variables = list(module.trainable_variables)
    moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    squares = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    step = tf.Variable(0.0, trainable=False)
    beta1, beta2, eps = 0.9, 0.999, 1e-7

    @tf.function
    def train_step(xb: Any, yb: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=yb, logits=module.logits(xb)))
        grads = tape.gradient(loss, variables)
        step.assign_add(1.0)
        lr_t = learning_rate * tf.sqrt(1.0 - beta2**step) / (1.0 - beta1**step)
        for var, grad, m, v in zip(variables, grads, moments, squares):
            m.assign(beta1 * m + (1.0 - beta1) * grad)
            v.assign(beta2 * v + (1.0 - beta2) * tf.square(grad))
            var.assign_sub(lr_t * m / (tf.sqrt(v) + eps))
        return loss

    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        losses = []
        for first in range(0, len(x), batch_size):
            batch = order[first:first + batch_size]
            losses.append(float(train_step(tf.constant(x[batch]), tf.constant(y[batch]))))
        progress(f"{label}: epoch {epoch + 1}/{epochs} loss {np.mean(losses):.4f} "
                 f"({time.perf_counter() - start:.1f} s)")


def make_signature_module(tf: Any, weights: Sequence[NDArray[np.float32]]) -> Any:
    """A ``tf.Module`` with two signatures over the MNIST dense net's trained weights.

    ``weights`` = ``[kernel1 (784,128), bias1, kernel2 (128,10), bias2]`` (the
    ``get_weights()`` of :func:`mnist_dense`). Signatures, both on input ``image``
    float32 [N, 28, 28]:

    * ``serving_default`` -> ``{"logits": [N, 10]}``
    * ``classify``        -> ``{"probabilities": softmax(logits) [N, 10]}``
    """
    kernel1, bias1, kernel2, bias2 = (np.asarray(w, np.float32) for w in weights)
    spec = tf.TensorSpec([None, 28, 28], tf.float32, name="image")

    class TwoSignatures(tf.Module):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            super().__init__(name="mnist_signatures")
            self.kernel1 = tf.Variable(kernel1, name="kernel1")
            self.bias1 = tf.Variable(bias1, name="bias1")
            self.kernel2 = tf.Variable(kernel2, name="kernel2")
            self.bias2 = tf.Variable(bias2, name="bias2")

        def _logits(self, image: Any) -> Any:
            flat = tf.reshape(image, [-1, 28 * 28])
            hidden = tf.nn.relu(tf.matmul(flat, self.kernel1) + self.bias1)
            return tf.matmul(hidden, self.kernel2) + self.bias2

        @tf.function(input_signature=[spec])
        def serving_default(self, image: Any) -> dict[str, Any]:
            return {"logits": self._logits(image)}

        @tf.function(input_signature=[spec])
        def classify(self, image: Any) -> dict[str, Any]:
            return {"probabilities": tf.nn.softmax(self._logits(image))}

    return TwoSignatures()
