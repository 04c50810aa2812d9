"""The compiled TFLM x86 interpreter behind the ``tf.lite.Interpreter`` API.

``MicroInterpreter`` wraps ``tflite_micro``'s pybind interpreter (the reference kernels
of TensorFlow Lite Micro compiled for x86, no CMSIS-NN) so that it can be used exactly
like LiteRT's interpreter and refimpl's: tensors are addressed by their index in the
subgraph, details dicts carry the same keys, and ``get_tensor`` reads any tensor when
``preserve_all_tensors`` is on.

What the wrapper adds to the wheel
----------------------------------
* Arena sizing. TFLM needs one fixed buffer (the tensor arena) for activations and its
  own bookkeeping. The wheel's default (10x the model size) is too small for many real
  models, since weights stay in the flatbuffer and small models can have large
  activations. ``allocate_tensors`` starts from :func:`estimate_arena_size`, doubles on an
  allocation failure up to ``max_arena_size`` and keeps the size that worked in
  ``arena_size``.
* Quiet failures. TFLM prints its reasons on the C-level stderr; they are captured
  (:mod:`micro_ref.capture`) and put into the exception message instead.
* Outcome vs bug. A model TFLM refuses (unknown op, hybrid or float16-weight model...)
  raises :class:`MicroUnsupportedError`; misuse raises :class:`MicroInputError` or
  :class:`MicroStateError`; a failure inside ``Invoke`` raises :class:`MicroInvokeError`.
* Crash guards. The wheel segfaults on some calls instead of raising (``GetTensor`` with
  an out-of-range tensor or subgraph index, an arena too small to hold TFLM's own
  allocator objects); indices are checked and arenas start at :data:`MIN_ARENA_SIZE`.

Wraps
-----
``tensorflow/lite/micro/python/tflite_micro/runtime.py`` (``Interpreter``) and
``python/tflite_micro/interpreter_wrapper.cc`` in tensorflow/tflite-micro.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .capture import capture_fds
from .errors import (
    MicroArenaError,
    MicroInputError,
    MicroInvokeError,
    MicroStateError,
    MicroUnsupportedError,
)
from .model_info import ModelInfo, read_model_info

# Below ~8.3 KiB the wheel cannot even place its allocator objects and dereferences a
# null pointer (SIGSEGV) instead of raising; a too-small arena close to a model's need
# crashed once in our corpus scan too (keyword_scrambled at 16 KiB), so start generously.
MIN_ARENA_SIZE = 256 * 1024
DEFAULT_MAX_ARENA_SIZE = 512 * 1024 * 1024

# Text TFLM prints when the arena, rather than the model, is the problem.
_ARENA_TROUBLE = re.compile(
    r"failed to (allocate|resize)|missing: \d+|too many buffers|"
    r"failed starting model allocation|arena",
    re.IGNORECASE,
)


def estimate_arena_size(info: ModelInfo) -> int:
    """A first arena size that fits most models without a retry.

    ``4 x`` the bytes of all non-constant tensors (no memory sharing assumed, room for
    kernels' scratch buffers such as the int64 accumulators of 16x8 TRANSPOSE_CONV) plus
    1 KiB per tensor and per operator for TFLM's bookkeeping, at least
    :data:`MIN_ARENA_SIZE`, rounded up to 4 KiB. The arena is ``new uint8_t[n]``, which
    the OS backs lazily, so over-estimating costs address space, not time.
    """
    need = 4 * info.activation_bytes + 1024 * (len(info.tensors) + len(info.op_names))
    return max(MIN_ARENA_SIZE, -(-need // 4096) * 4096)


def _tflm_summary(log: str, limit: int = 2000) -> str:
    """TFLM's captured lines joined on one line, for an exception message."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    text = " | ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _details(info: ModelInfo, index: int) -> dict[str, Any]:
    """LiteRT-style details dict of tensor ``index`` of subgraph 0."""
    t = info.tensors[index]
    per_tensor = t.scales.size == 1 and t.zero_points.size == 1
    return {
        "name": t.name,
        "index": index,
        "shape": np.array(t.shape, dtype=np.int32),
        "shape_signature": np.array(t.shape_signature, dtype=np.int32),
        "dtype": t.dtype.type if t.dtype is not None else None,
        "quantization": (float(t.scales[0]), int(t.zero_points[0])) if per_tensor else (0.0, 0),
        "quantization_parameters": {
            "scales": t.scales.copy(),
            "zero_points": t.zero_points.copy(),
            "quantized_dimension": t.quantized_dimension,
        },
        "sparsity_parameters": {},
    }


class MicroInterpreter:
    """TFLM's x86 interpreter with LiteRT's Python API.

    Parameters
    ----------
    model_path : str or path, optional
    model_content : bytes, optional
        Exactly one of the two.
    arena_size : int, optional
        First tensor-arena size to try (default :func:`estimate_arena_size`). It doubles
        on allocation failure up to ``max_arena_size``; pass both equal to pin it.
    preserve_all_tensors : bool
        Build TFLM with ``InterpreterConfig.kPreserveAllTensors`` (no buffer sharing),
        which makes every tensor readable with :meth:`get_tensor` after :meth:`invoke`.
    max_arena_size : int
        Cap of the arena growth (default 512 MiB).

    Attributes
    ----------
    arena_size : int or None
        The arena size that worked, after :meth:`allocate_tensors`.
    arena_attempts : list of (int, bool)
        Every size tried and whether TFLM accepted it.
    log : str
        What TFLM printed during the last allocate/invoke (normally empty).

    Notes
    -----
    TFLM cannot resize inputs: :meth:`set_tensor` needs the model's exact shape. For a
    batch of N rows through a batch-1 model use :meth:`run`. Only subgraph 0 is exposed.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        model_content: bytes | None = None,
        arena_size: int | None = None,
        preserve_all_tensors: bool = False,
        *,
        max_arena_size: int = DEFAULT_MAX_ARENA_SIZE,
    ):
        if (model_path is None) == (model_content is None):
            raise MicroInputError("give exactly one of model_path and model_content")
        if model_path is not None:
            with open(model_path, "rb") as f:
                model_content = f.read()
        assert model_content is not None
        self._content = bytes(model_content)
        self.info = read_model_info(self._content)
        if arena_size is not None and arena_size < MIN_ARENA_SIZE:
            arena_size = MIN_ARENA_SIZE  # smaller arenas can segfault the wheel
        self._first_arena = arena_size or estimate_arena_size(self.info)
        self._max_arena = max(max_arena_size, self._first_arena)
        self.preserve_all_tensors = bool(preserve_all_tensors)
        self.arena_size: int | None = None
        self.arena_attempts: list[tuple[int, bool]] = []
        self.log = ""
        self._tflm: Any = None  # the pybind InterpreterWrapper once allocated
        self._last_inputs: dict[int, np.ndarray] = {}
        self._has_variables = any(t.is_variable for t in self.info.tensors)

    # --------------------------------------------------------------------------------
    # Allocation
    # --------------------------------------------------------------------------------
    def _create(self, arena_size: int) -> Any:
        from tflite_micro.python.tflite_micro import _runtime, runtime

        config = (
            runtime.InterpreterConfig.kPreserveAllTensors
            if self.preserve_all_tensors
            else runtime.InterpreterConfig.kAllocationRecording
        )
        # runtime.Interpreter first unpacks the whole model into Python objects to count
        # resource variables (~50 ms per MB, on every arena retry); model_info counted
        # them once, so call the pybind class directly when its signature is the known one.
        try:
            return _runtime.InterpreterWrapper(
                self._content,
                [],
                arena_size,
                self.info.num_resource_variables,
                runtime._ENUM_TRANSLATOR[config],
                0,
            )
        except TypeError:  # another wheel version: take the public, slower road
            return runtime.Interpreter.from_bytes(
                self._content, arena_size=arena_size, intrepreter_config=config
            )._interpreter

    def allocate_tensors(self) -> None:
        """Create the TFLM interpreter, growing the arena until TFLM accepts it.

        Raises
        ------
        MicroUnsupportedError
            TFLM refused the model for a reason other than arena size (its text in the
            message); :class:`MicroArenaError` when even ``max_arena_size`` was too small.
        """
        if self._tflm is not None:
            return
        size = self._first_arena
        while True:
            with capture_fds() as cap:
                try:
                    tflm = self._create(size)
                    error: RuntimeError | None = None
                except RuntimeError as e:
                    error = e
            self.log = cap.text
            self.arena_attempts.append((size, error is None))
            if error is None:
                self._tflm = tflm
                self.arena_size = size
                return
            # An empty log gives no reason either way; treat it like arena trouble.
            arena_trouble = not cap.text.strip() or _ARENA_TROUBLE.search(cap.text)
            if not arena_trouble:
                raise MicroUnsupportedError(
                    f"TFLM cannot run this model ({error}; arena {size} bytes): "
                    f"{_tflm_summary(cap.text)}",
                    cap.text,
                ) from None
            if size >= self._max_arena:
                raise MicroArenaError(
                    f"TFLM failed to allocate tensors with arenas up to {size} bytes: "
                    f"{_tflm_summary(cap.text)}",
                    cap.text,
                ) from None
            size = min(2 * size, self._max_arena)

    def _require_allocated(self) -> Any:
        if self._tflm is None:
            raise MicroStateError("call allocate_tensors() first")
        return self._tflm

    # --------------------------------------------------------------------------------
    # Details
    # --------------------------------------------------------------------------------
    def get_input_details(self) -> list[dict[str, Any]]:
        return [_details(self.info, i) for i in self.info.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [_details(self.info, i) for i in self.info.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [_details(self.info, t.index) for t in self.info.tensors]

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.info.tensors):
            raise MicroInputError(
                f"tensor index {index} out of range (subgraph 0 has {len(self.info.tensors)})"
            )

    # --------------------------------------------------------------------------------
    # Running
    # --------------------------------------------------------------------------------
    def resize_tensor_input(
        self, input_index: int, tensor_size: Sequence[int], strict: bool = False
    ) -> None:
        """Accepted only when the shape does not change: TFLM shapes are fixed."""
        self._check_index(input_index)
        if tuple(int(d) for d in tensor_size) != self.info.tensors[input_index].shape:
            raise MicroInputError(
                f"TFLM cannot resize input {input_index} from "
                f"{list(self.info.tensors[input_index].shape)} to {list(tensor_size)}; "
                "run() feeds a batch row by row"
            )

    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None:
        """Copy ``value`` into input tensor ``tensor_index``; dtype and shape must match."""
        tflm = self._require_allocated()
        self._check_index(tensor_index)
        if tensor_index not in self.info.inputs:
            raise MicroInputError(
                f"tensor {tensor_index} is not an input (inputs: {list(self.info.inputs)})"
            )
        meta = self.info.tensors[tensor_index]
        value = np.ascontiguousarray(value)
        if value.dtype != meta.dtype:
            raise MicroInputError(
                f"input {tensor_index} '{meta.name}' is {meta.type_name}, got {value.dtype}"
            )
        if value.shape != meta.shape:
            raise MicroInputError(
                f"input {tensor_index} '{meta.name}' has shape {list(meta.shape)}, got "
                f"{list(value.shape)} (TFLM cannot resize; run() loops over batch rows)"
            )
        try:
            tflm.SetInputTensor(value, self.info.inputs.index(tensor_index))
        except (ValueError, IndexError) as e:
            raise MicroInputError(f"input {tensor_index} '{meta.name}': {e}") from None
        self._last_inputs[tensor_index] = value.copy()

    def invoke(self) -> None:
        """Run the model once on the inputs set so far."""
        tflm = self._require_allocated()
        with capture_fds() as cap:
            try:
                status = tflm.Invoke()
                error: Exception | None = None
            except RuntimeError as e:
                status, error = -1, e
        self.log = cap.text
        if error is not None or status != 0:
            raise MicroInvokeError(
                f"TFLM invoke failed ({error or f'status {status}'}): {_tflm_summary(cap.text)}",
                cap.text,
            )

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of tensor ``tensor_index`` of subgraph 0.

        Outputs are always readable, inputs return what was last set; every other tensor
        needs ``preserve_all_tensors=True`` (TFLM reuses their memory otherwise).
        """
        tflm = self._require_allocated()
        if subgraph_index != 0:  # the wheel segfaults on a bad subgraph index
            raise MicroInputError("micro_ref exposes subgraph 0 only")
        self._check_index(tensor_index)
        if tensor_index in self.info.outputs:
            return tflm.GetOutputTensor(self.info.outputs.index(tensor_index))
        if self.preserve_all_tensors:
            return tflm.GetTensor(tensor_index, 0)["tensor_data"]
        if tensor_index in self._last_inputs:
            return self._last_inputs[tensor_index].copy()
        raise MicroStateError(
            f"tensor {tensor_index} '{self.info.tensors[tensor_index].name}' is not an "
            "output; build with preserve_all_tensors=True to read intermediates"
        )

    def reset(self) -> None:
        """Reset variable tensors (LSTM state...) to their initial values."""
        tflm = self._require_allocated()
        with capture_fds() as cap:
            status = tflm.Reset()
        if status != 0:
            raise MicroInvokeError(f"TFLM reset failed: {_tflm_summary(cap.text)}", cap.text)

    reset_all_variables = reset  # LiteRT's name for the same thing

    # --------------------------------------------------------------------------------
    # Convenience beyond the LiteRT API
    # --------------------------------------------------------------------------------
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run a batch: ``inputs[k]`` holds N rows for model input k.

        If the arrays have the model's exact input shapes, one invoke. Otherwise every
        model input must have batch 1, every array the model's shape with a leading N
        (the same N for all), and the model is invoked once per row; outputs are
        concatenated along axis 0. Rows are independent: variable tensors (if the model
        has any) are reset before each row, as if the batch were one LiteRT invoke.

        Returns
        -------
        list of np.ndarray
            One array per model output, batch-first.
        """
        self.allocate_tensors()
        rows = self._batch_rows(inputs)
        outputs: list[list[np.ndarray]] = [[] for _ in self.info.outputs]
        with capture_fds():  # one redirection for the whole loop
            for row in rows:
                if self._has_variables:
                    self.reset()
                for index, x in zip(self.info.inputs, row):
                    self.set_tensor(index, x)
                self.invoke()
                for k, index in enumerate(self.info.outputs):
                    outputs[k].append(self.get_tensor(index))
        if len(rows) == 1:
            return [o[0] for o in outputs]
        return [np.concatenate(o, axis=0) for o in outputs]

    def _batch_rows(self, inputs: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
        """Split a batch into the per-invoke input lists (one list if no split needed)."""
        inputs = [np.asarray(x) for x in inputs]
        metas = [self.info.tensors[i] for i in self.info.inputs]
        if len(inputs) != len(metas):
            raise MicroInputError(f"model has {len(metas)} inputs, got {len(inputs)}")
        if all(x.shape == m.shape for x, m in zip(inputs, metas)):
            return [inputs]
        counts = set()
        for k, (x, m) in enumerate(zip(inputs, metas)):
            if not (m.shape and m.shape[0] == 1 and x.shape[1:] == m.shape[1:] and x.ndim):
                raise MicroInputError(
                    f"input {k} '{m.name}': model shape {list(m.shape)} cannot take an array "
                    f"of shape {list(x.shape)} (only a batch-1 model can be fed row by row)"
                )
            counts.add(x.shape[0])
        if len(counts) != 1:
            raise MicroInputError(f"inputs disagree on the batch size: {sorted(counts)}")
        n = counts.pop()
        return [[x[r : r + 1] for x in inputs] for r in range(n)]
