"""The interpreter: prepare every op, then run them in order, keeping every tensor.

Drop-in for the ``tf.lite.Interpreter`` / ``ai_edge_litert`` API::

    interp = refimpl.Interpreter(model_path="model.tflite")      # flavor="tflite-ref"
    interp.resize_tensor_input(0, [300, 28, 28, 1])                # batch-first
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    y = interp.get_tensor(interp.get_output_details()[0]["index"])

Differences from LiteRT, on purpose: every intermediate tensor stays readable after
``invoke`` (no arena reuse), ``flavor`` chooses which runtime's arithmetic to
reproduce, and every error is a typed :mod:`refimpl.errors` exception naming the node,
op and tensor concerned.

The loop (data flow): ``tflite_schema`` bytes → :class:`~refimpl.context.TensorInfo` per
tensor → for each node ``kernel.prepare(ctx)`` (shapes propagate, OpData frozen) →
``invoke`` runs ``kernel.invoke(ctx, data, inputs)`` node after node. A kernel with
state (``Kernel.state_inputs``, e.g. SVDF) also returns the new values of its variable
inputs; they are stored back, so the state carries over to the next ``invoke`` until
``reset_all_variables`` (or ``allocate_tensors``) resets it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

import tflite_schema as tfs

from .context import Kernel, OpContext, TensorInfo
from .errors import InputError, ModelError, RefimplError, StateError, UnsupportedOpError
from .flavors import Flavor, get_flavor
from .kernels.registry import KERNELS

#: Refuse tensors larger than this many bytes (a corrupt shape must not allocate 100 GB).
MAX_TENSOR_BYTES = 8 * 2**30


@dataclass
class Node:
    """One prepared op: its context, its kernel and its precomputed OpData."""

    index: int
    op_name: str
    kernel: Kernel
    ctx: OpContext
    data: Any = None
    seconds: float = 0.0


class Interpreter:
    """Run a .tflite model with NumPy, reproducing a runtime's integer arithmetic.

    Parameters
    ----------
    model_path : str or path, optional
    model_content : bytes, optional
        Exactly one of the two.
    subgraph_index : int
        The subgraph to run (0, the entry point; signature runners pick theirs).
    flavor : str or Flavor
        ``"tflite-ref"`` (default: LiteRT's reference kernels) or ``"tflm"``.
    num_threads, experimental_preserve_all_tensors, **kwargs
        Accepted for API compatibility with LiteRT and ignored: refimpl's element-wise
        work is single-threaded NumPy (BLAS picks its own threads for the GEMMs), and
        every tensor is always kept.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        model_content: bytes | None = None,
        *,
        flavor: str | Flavor = "tflite-ref",
        num_threads: int | None = None,
        experimental_preserve_all_tensors: bool = True,
        subgraph_index: int = 0,
        **kwargs: Any,
    ):
        if (model_path is None) == (model_content is None):
            raise InputError("give exactly one of model_path and model_content")
        if model_path is not None:
            with open(model_path, "rb") as f:
                model_content = f.read()
        assert model_content is not None
        self._content = bytes(model_content)
        try:
            self.model = tfs.read_model(self._content)
        except tfs.SchemaError as e:
            raise ModelError(f"cannot read model: {e}") from e
        if not self.model.subgraphs:
            raise ModelError("model has no subgraphs")
        self.flavor = get_flavor(flavor)
        if not 0 <= subgraph_index < len(self.model.subgraphs):
            raise InputError(f"subgraph {subgraph_index} out of range "
                             f"(model has {len(self.model.subgraphs)})")
        self.subgraph_index = subgraph_index
        self.subgraph = self.model.subgraphs[subgraph_index]
        self._shapes: list[tuple[int, ...]] = [tuple(t.shape) for t in self.subgraph.tensors]
        self._constants: dict[int, np.ndarray] = {}
        for t in self.subgraph.tensors:
            try:
                data = self.model.tensor_data(subgraph_index, t.index)
            except tfs.SchemaError as e:
                raise ModelError(f"tensor {t.index} '{t.name}': {e}") from e
            if data is not None:
                self._constants[t.index] = data
        self._values: list[np.ndarray | None] = [None] * len(self.subgraph.tensors)
        self._infos: list[TensorInfo] = []
        self.nodes: list[Node] = []
        self._allocated = False
        self._check_ops_supported()

    # ------------------------------------------------------------------------------
    # Model structure
    # ------------------------------------------------------------------------------
    def _op_name(self, op: tfs.Operator) -> str:
        return self.model.operator_codes[op.opcode_index].name

    def _check_ops_supported(self) -> None:
        for op in self.subgraph.operators:
            name = self._op_name(op)
            if name not in KERNELS:
                dtypes = ", ".join(
                    self.subgraph.tensors[i].type.name if i >= 0 else "-" for i in op.inputs
                )
                raise UnsupportedOpError(
                    op.index,
                    name,
                    f"no kernel for this op (inputs: {dtypes}); supported ops: "
                    + ", ".join(sorted(KERNELS)),
                )

    def _tensor_info(self, t: tfs.Tensor) -> TensorInfo:
        try:
            dtype = np.dtype(t.type.numpy_dtype)
        except Exception as e:  # STRING, RESOURCE, INT4...
            raise ModelError(f"tensor {t.index} '{t.name}': unsupported type {t.type.name}") from e
        q = t.quantization
        info = TensorInfo(
            index=t.index,
            name=t.name,
            dtype=dtype,
            shape=self._shapes[t.index],
            data=self._constants.get(t.index),
        )
        if q is not None and q.scale.size > 0:
            info.scale = np.asarray(q.scale, np.float32)
            info.zero_point = np.asarray(q.zero_point, np.int64)  # one per scale
            info.quantized_dimension = int(q.quantized_dimension)
        return info

    # ------------------------------------------------------------------------------
    # LiteRT-compatible API
    # ------------------------------------------------------------------------------
    def allocate_tensors(self) -> None:
        """Prepare every node in order: validate, precompute OpData, propagate shapes."""
        self._infos = [self._tensor_info(t) for t in self.subgraph.tensors]
        nodes = []
        for op in self.subgraph.operators:
            name = self._op_name(op)
            ctx = OpContext(
                node_index=op.index,
                op_name=name,
                inputs=[self._infos[i] if i >= 0 else None for i in op.inputs],
                outputs=[self._infos[i] for i in op.outputs],
                options=tfs.options_for(self.model.operator_codes[op.opcode_index].builtin_code, op),
                flavor=self.flavor,
                op_version=self.model.operator_codes[op.opcode_index].version,
                intermediates=[self._infos[i] if i >= 0 else None for i in op.intermediates],
            )
            kernel = KERNELS[name]
            for pos in kernel.state_inputs:  # the op rewrites these inputs on every invoke
                ti = op.inputs[pos] if pos < len(op.inputs) else -1
                if ti < 0 or not self.subgraph.tensors[ti].is_variable:
                    raise ctx.error(f"input {pos} (the op's state) must be a variable tensor")
            try:
                data = kernel.prepare(ctx)
            except RefimplError:
                raise
            except Exception as e:  # a kernel bug must still say where it happened
                raise ModelError(f"node {op.index} ({name}): prepare failed: {e!r}") from e
            for t in ctx.outputs:
                nbytes = t.size * np.dtype(t.dtype).itemsize
                if nbytes > MAX_TENSOR_BYTES:
                    raise ModelError(
                        f"node {op.index} ({name}): output '{t.name}' {list(t.shape)} would need "
                        f"{nbytes / 2**30:.1f} GiB (limit {MAX_TENSOR_BYTES / 2**30:.0f} GiB)"
                    )
            nodes.append(Node(op.index, name, kernel, ctx, data))
        for i, info in enumerate(self._infos):
            self._shapes[i] = info.shape
        self.nodes = nodes
        self._values = [None] * len(self._infos)
        for i, v in self._constants.items():
            self._values[i] = v
        for t in self.subgraph.tensors:
            if t.is_variable and self._values[t.index] is None:
                self._values[t.index] = self._initial_variable(t.index)
        for i, info in enumerate(self._infos):
            # a zero-element tensor (e.g. an LSTM intermediate, which only carries
            # quantization parameters) reads back empty, as in LiteRT
            if self._values[i] is None and info.size == 0:
                self._values[i] = np.zeros(info.shape, info.dtype)
        self._allocated = True

    def _initial_variable(self, index: int) -> np.ndarray:
        """A variable tensor's reset value: its zero point if int8, else 0.

        LiteRT (``ResetVariableTensor``, tflite/core/api/tensor_utils.cc) and TFLM
        (``MicroInterpreterGraph::ResetTensorData``) ``memset`` the buffer with the int8
        zero point, and with 0 for every other type, at allocation and on reset.
        """
        info = self._infos[index]
        fill = 0
        if np.dtype(info.dtype) == np.int8 and info.zero_point.size:
            fill = int(info.zero_point[0])
        return np.full(info.shape, fill, info.dtype)

    def resize_tensor_input(
        self, input_index: int, tensor_size: Sequence[int], strict: bool = False
    ) -> None:
        """Change an input's shape (typically its batch); call allocate_tensors after."""
        if input_index not in self.subgraph.inputs:
            raise InputError(f"tensor {input_index} is not an input of the model")
        new = tuple(int(d) for d in tensor_size)
        if any(d < 0 for d in new):
            raise InputError(f"cannot resize input {input_index} to {list(new)}")
        old = self._shapes[input_index]
        if len(new) != len(old):
            raise InputError(f"cannot resize input {input_index} from rank {len(old)} to {len(new)}")
        if strict:
            sig = self.subgraph.tensors[input_index].shape_signature or old
            for d, (n, s) in enumerate(zip(new, sig)):
                if s != -1 and n != s:
                    raise InputError(f"strict resize: dim {d} of input {input_index} is fixed to {s}")
        self._shapes[input_index] = new
        self._allocated = False

    def _details(self, index: int) -> dict[str, Any]:
        t = self.subgraph.tensors[index]
        info = self._infos[index] if self._infos else self._tensor_info(t)
        per_tensor = info.scale.size == 1
        return {
            "name": t.name,
            "index": index,
            "shape": np.array(self._shapes[index], dtype=np.int32),
            "shape_signature": np.array(
                t.shape_signature if t.shape_signature is not None else t.shape, dtype=np.int32
            ),
            "dtype": info.dtype.type,
            "quantization": (
                (float(info.scale[0]), int(info.zero_point[0])) if per_tensor else (0.0, 0)
            ),
            "quantization_parameters": {
                "scales": info.scale.astype(np.float32),
                "zero_points": info.zero_point.astype(np.int32),
                "quantized_dimension": info.quantized_dimension,
            },
            "sparsity_parameters": {},
        }

    def get_input_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [self._details(i) for i in self.subgraph.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [self._details(t.index) for t in self.subgraph.tensors]

    def _check_index(self, index: int) -> None:
        if not 0 <= index < len(self.subgraph.tensors):
            raise InputError(
                f"tensor index {index} out of range (model has {len(self.subgraph.tensors)})"
            )

    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None:
        """Copy ``value`` into an input tensor; dtype and shape must match exactly."""
        self._require_allocated()
        self._check_index(tensor_index)
        info = self._infos[tensor_index]
        value = np.asarray(value)
        if value.dtype != info.dtype:
            raise InputError(
                f"cannot set tensor {tensor_index} '{info.name}': got {value.dtype.name}, "
                f"expected {info.dtype.name}"
            )
        if tuple(value.shape) != tuple(info.shape):
            raise InputError(
                f"cannot set tensor {tensor_index} '{info.name}': got shape {list(value.shape)}, "
                f"expected {list(info.shape)} (use resize_tensor_input to change the batch)"
            )
        if info.data is not None:
            raise InputError(f"tensor {tensor_index} '{info.name}' is a constant")
        self._values[tensor_index] = np.array(value, copy=True)

    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of any tensor: input, output, constant or intermediate."""
        self._check_index(tensor_index)
        v = self._values[tensor_index]
        if v is None:
            raise StateError(
                f"tensor {tensor_index} '{self.subgraph.tensors[tensor_index].name}' "
                "has no value yet (set it, or invoke first)"
            )
        return np.array(v, copy=True)

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """Like LiteRT's ``tensor``: a callable returning the live (read-only) array."""
        self._check_index(tensor_index)

        def view() -> np.ndarray:
            v = self._values[tensor_index]
            if v is None:
                raise StateError(f"tensor {tensor_index} has no value yet")
            out = v.view()
            out.flags.writeable = False
            return out

        return view

    def reset_all_variables(self) -> None:
        """Reset every variable tensor (recurrent state) as LiteRT does: 0, or the int8 zero point."""
        self._require_allocated()
        for t in self.subgraph.tensors:
            if t.is_variable:
                self._values[t.index] = self._initial_variable(t.index)

    def _require_allocated(self) -> None:
        if not self._allocated:
            raise StateError("call allocate_tensors() first (again after resize_tensor_input)")

    def invoke(self, *, stop_after: int | None = None, trace: bool = False) -> None:
        """Run every node in order.

        Parameters
        ----------
        stop_after : int, optional
            Stop after this node index (bisecting a divergence).
        trace : bool
            Print one line per node: index, op, output shape/dtype, milliseconds.
        """
        self._require_allocated()
        for i in self.subgraph.inputs:
            if self._values[i] is None:
                info = self._infos[i]
                raise StateError(f"input {i} '{info.name}' was not set")
        for node in self.nodes:
            op = self.subgraph.operators[node.index]
            inputs = [self._values[i] if i >= 0 else None for i in op.inputs]
            t0 = time.perf_counter()
            try:
                outs = node.kernel.invoke(node.ctx, node.data, inputs)
            except RefimplError:
                raise
            except Exception as e:
                raise ModelError(f"node {node.index} ({node.op_name}): eval failed: {e!r}") from e
            node.seconds = time.perf_counter() - t0
            state = [op.inputs[pos] for pos in node.kernel.state_inputs]
            if len(outs) != len(op.outputs) + len(state):
                raise ModelError(f"node {node.index} ({node.op_name}): wrong number of outputs")
            # outputs first, then the new values of the variable (state) inputs
            for ti, val in zip(list(op.outputs) + state, outs):
                info = self._infos[ti]
                if val.dtype != info.dtype or tuple(val.shape) != tuple(info.shape):
                    raise ModelError(
                        f"node {node.index} ({node.op_name}): produced {val.dtype.name}"
                        f"{list(val.shape)} for {info.describe()}"
                    )
                self._values[ti] = val
            if trace:
                o = node.ctx.outputs[0]
                print(
                    f"[{node.index:3d}] {node.op_name:<24} -> {np.dtype(o.dtype).name}"
                    f"{list(o.shape)}  {node.seconds * 1e3:.2f} ms"
                )
            if stop_after is not None and node.index >= stop_after:
                break

    # ------------------------------------------------------------------------------
    # Conveniences beyond the LiteRT API
    # ------------------------------------------------------------------------------
    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        """Resize inputs to the given arrays' shapes if needed, set, invoke, return outputs."""
        ins = list(self.subgraph.inputs)
        if len(inputs) != len(ins):
            raise InputError(f"model has {len(ins)} inputs, got {len(inputs)}")
        changed = False
        for idx, x in zip(ins, inputs):
            if tuple(np.shape(x)) != self._shapes[idx]:
                self.resize_tensor_input(idx, np.shape(x))
                changed = True
        if changed or not self._allocated:
            self.allocate_tensors()
        for idx, x in zip(ins, inputs):
            self.set_tensor(idx, x)
        self.invoke()
        return [self.get_tensor(i) for i in self.subgraph.outputs]

    def intermediates(self) -> dict[str, np.ndarray]:
        """Every non-constant tensor with a value, keyed by tensor name."""
        return {
            t.name: np.array(self._values[t.index])
            for t in self.subgraph.tensors
            if self._values[t.index] is not None and t.index not in self._constants
        }

    # ------------------------------------------------------------------------------
    # Signatures (LiteRT's SignatureRunner API)
    # ------------------------------------------------------------------------------
    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        """``{key: {"inputs": [names], "outputs": [names]}}`` as LiteRT reports it."""
        return {
            s.signature_key: {
                "inputs": [t.name for t in s.inputs],
                "outputs": [t.name for t in s.outputs],
            }
            for s in self.model.signature_defs
        }

    def get_signature_runner(self, signature_key: str | None = None) -> "SignatureRunner":
        """A callable running one signature by input / output *names*."""
        sigs = self.model.signature_defs
        if not sigs:
            raise InputError("the model has no signature defs")
        if signature_key is None:
            if len(sigs) > 1:
                raise InputError(
                    "the model has several signatures; name one of: "
                    + ", ".join(s.signature_key for s in sigs)
                )
            sig = sigs[0]
        else:
            matches = [s for s in sigs if s.signature_key == signature_key]
            if not matches:
                raise InputError(
                    f"no signature {signature_key!r}; the model has: "
                    + ", ".join(s.signature_key for s in sigs)
                )
            sig = matches[0]
        if sig.subgraph_index != self.subgraph_index:
            # each signature runs its own subgraph: give it an interpreter of its own
            other = Interpreter(model_content=self._content, flavor=self.flavor,
                                subgraph_index=sig.subgraph_index)
            return SignatureRunner(other, sig)
        return SignatureRunner(self, sig)

    def op_data(self, node_index: int) -> Any:
        """The frozen OpData ``prepare`` computed for a node (diff it against a runtime's)."""
        self._require_allocated()
        return self.nodes[node_index].data


class SignatureRunner:
    """Runs one signature of an :class:`Interpreter` by input and output names.

    ``runner(x=array, ...)`` resizes inputs whose shape changed, invokes, and returns
    ``{output_name: array}``, like LiteRT's ``SignatureRunner``.
    """

    def __init__(self, interpreter: Interpreter, signature: tfs.SignatureDef):
        self._it = interpreter
        self.signature = signature
        self._inputs = {t.name: t.tensor_index for t in signature.inputs}
        self._outputs = {t.name: t.tensor_index for t in signature.outputs}

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        return {n: self._it._details(i) for n, i in self._inputs.items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        return {n: self._it._details(i) for n, i in self._outputs.items()}

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        missing = set(self._inputs) - set(inputs)
        extra = set(inputs) - set(self._inputs)
        if missing or extra:
            raise InputError(
                f"signature {self.signature.signature_key!r} takes inputs "
                f"{sorted(self._inputs)}; missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        it = self._it
        changed = False
        for name, value in inputs.items():
            idx = self._inputs[name]
            if tuple(np.shape(value)) != it._shapes[idx]:
                it.resize_tensor_input(idx, np.shape(value))
                changed = True
        if changed or not it._allocated:
            it.allocate_tensors()
        for name, value in inputs.items():
            it.set_tensor(self._inputs[name], np.asarray(value))
        it.invoke()
        return {name: it.get_tensor(idx) for name, idx in self._outputs.items()}
