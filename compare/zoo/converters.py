"""TFLite conversion modes shared by every zoo model, and the helpers around the converter.

One *mode* is one set of converter settings. The same names are used as variant names
throughout the zoo (``zoo_model("mnist_dense", "int16x8")``):

====================  ==============================================================
``float32``           no optimisation
``dynamic``           dynamic-range quantization: ``Optimize.DEFAULT`` and no
                      representative data. Large weight tensors become int8 (per
                      channel), activations stay float: hybrid FULLY_CONNECTED /
                      CONV_2D kernels. Tensors below about 1024 elements stay float.
``float16``           ``Optimize.DEFAULT`` + ``target_spec.supported_types=[float16]``:
                      float16 weights, DEQUANTIZE to float32 in front of each op
``int8``              full integer: ``Optimize.DEFAULT``, representative data,
                      ``TFLITE_BUILTINS_INT8``, int8 input and output
``int8_float_io``     the same with float32 input/output (QUANTIZE / DEQUANTIZE at edges)
``int8_uint8_io``     the same with uint8 input/output
``int16x8``           ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``:
                      int16 activations (symmetric, zero point 0), int8 weights, int64
                      bias; int16 input and output
``int16x8_float_io``  the same with float32 input/output
====================  ==============================================================

Representative data is fed one sample at a time (batch 1). The calibration set of a
model is always its first ``representative_samples`` training inputs.

TensorFlow is imported lazily (first call of :func:`import_tf`).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RepresentativeDataset = Callable[[], Iterable[Any]]


@dataclass(frozen=True)
class ConverterMode:
    """Converter settings of one mode (see the module docstring).

    Attributes
    ----------
    name : str
    description : str
    optimize : bool
        ``converter.optimizations = [Optimize.DEFAULT]``.
    ops_set : str or None
        Name of the ``tf.lite.OpsSet`` put alone in ``target_spec.supported_ops``.
    io_type : str or None
        ``inference_input_type`` and ``inference_output_type`` (a ``tf`` dtype name);
        None leaves the converter's default (float32).
    float16 : bool
        ``target_spec.supported_types = [tf.float16]``.
    """

    name: str
    description: str
    optimize: bool = False
    ops_set: str | None = None
    io_type: str | None = None
    float16: bool = False

    @property
    def needs_representative(self) -> bool:
        """Full-integer modes calibrate activations on representative data."""
        return self.ops_set is not None


_INT8_OPS = "TFLITE_BUILTINS_INT8"
_INT16X8_OPS = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"

CONVERTER_MODES: Mapping[str, ConverterMode] = {
    mode.name: mode
    for mode in (
        ConverterMode("float32", "float32, no optimisation"),
        ConverterMode("dynamic", "dynamic range: int8 weights, float activations (hybrid)",
                      optimize=True),
        ConverterMode("float16", "float16 weights dequantized to float32", optimize=True,
                      float16=True),
        ConverterMode("int8", "full int8, int8 I/O", True, _INT8_OPS, "int8"),
        ConverterMode("int8_float_io", "full int8, float32 I/O", True, _INT8_OPS),
        ConverterMode("int8_uint8_io", "full int8, uint8 I/O", True, _INT8_OPS, "uint8"),
        ConverterMode("int16x8", "int16 activations, int8 weights, int16 I/O", True,
                      _INT16X8_OPS, "int16"),
        ConverterMode("int16x8_float_io", "int16 activations, int8 weights, float32 I/O",
                      True, _INT16X8_OPS),
    )
}
ALL_MODES: tuple[str, ...] = tuple(CONVERTER_MODES)


def import_tf() -> Any:
    """Import TensorFlow with its C++ logging turned down (only if not already set)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


@contextlib.contextmanager
def op_determinism(tf: Any) -> Iterator[None]:
    """Turn on TF op determinism for the body, then restore the previous setting.

    The setting is process-wide; restoring it keeps a build from changing the
    behaviour of whatever else runs TF in the same process (e.g. a test session).
    """
    from tensorflow.python.framework import config as tf_config  # has the disable switch

    was_enabled = bool(tf_config.is_op_determinism_enabled())
    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        if not was_enabled:
            tf_config.disable_op_determinism()


@contextlib.contextmanager
def native_output_captured() -> Iterator[None]:
    """Send file descriptors 1 and 2 (Python and C++ writes) to a temporary file.

    The captured text is dropped on success and written to stderr if the body raises,
    so a failed conversion still shows the converter's own diagnostics.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(io.StringIO()):
                yield
        except BaseException:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def single_input_samples(samples: NDArray[Any]) -> RepresentativeDataset:
    """Representative dataset of a one-input model: ``[sample[None]]`` per sample."""
    batch = np.asarray(samples, np.float32)

    def generate() -> Iterator[list[NDArray[np.float32]]]:
        for sample in batch:
            yield [sample[None]]

    return generate


def signature_samples(
    samples: NDArray[Any], signature_inputs: Mapping[str, str]
) -> RepresentativeDataset:
    """Representative dataset of a multi-signature model whose signatures share one input.

    ``signature_inputs`` maps signature key -> input name; each sample is fed to every
    signature as ``(key, {input_name: sample[None]})``.
    """
    batch = np.asarray(samples, np.float32)

    def generate() -> Iterator[tuple[str, dict[str, NDArray[np.float32]]]]:
        for sample in batch:
            for key, input_name in signature_inputs.items():
                yield key, {input_name: sample[None]}

    return generate


def configure(tf: Any, converter: Any, mode: str,
              representative: RepresentativeDataset | None) -> None:
    """Apply the settings of ``mode`` to a ``tf.lite.TFLiteConverter``."""
    try:
        spec = CONVERTER_MODES[mode]
    except KeyError:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(ALL_MODES)}") from None
    if spec.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if spec.float16:
        converter.target_spec.supported_types = [tf.float16]
    if spec.needs_representative:
        if representative is None:
            raise ValueError(f"mode {mode!r} needs representative data")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, str(spec.ops_set))]
    if spec.io_type is not None:
        io_type = getattr(tf, spec.io_type)
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type


def run_converter(converter: Any) -> bytes:
    """``converter.convert()`` with its chatter captured (shown only on failure)."""
    # Keras' SavedModel export prints "Saved artifact at ..." and the converter's C++
    # side prints its settings: keep both quiet unless the conversion fails.
    with native_output_captured(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return bytes(converter.convert())


def convert_keras(model: Any, mode: str, representative: RepresentativeDataset | None) -> bytes:
    """``TFLiteConverter.from_keras_model`` (Keras 3, or tf_keras in a legacy child)."""
    tf = import_tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    configure(tf, converter, mode, representative)
    return run_converter(converter)


def convert_saved_model(
    path: str,
    mode: str,
    representative: RepresentativeDataset | None,
    signature_keys: Sequence[str] | None = None,
) -> bytes:
    """``TFLiteConverter.from_saved_model`` (all signatures when ``signature_keys`` is None)."""
    tf = import_tf()
    keys = None if signature_keys is None else list(signature_keys)
    converter = tf.lite.TFLiteConverter.from_saved_model(path, signature_keys=keys)
    configure(tf, converter, mode, representative)
    return run_converter(converter)


def convert_concrete_functions(
    functions: Sequence[Any], trackable: Any, mode: str,
    representative: RepresentativeDataset | None,
) -> bytes:
    """``TFLiteConverter.from_concrete_functions(functions, trackable)``."""
    tf = import_tf()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(list(functions), trackable)
    configure(tf, converter, mode, representative)
    return run_converter(converter)
