"""What a kernel sees of the model: tensor descriptions and the op context.

Kernels never touch the flatbuffer. The interpreter hands each kernel an
:class:`OpContext` holding plain NumPy views of its input / output tensors
(:class:`TensorInfo`: dtype, resolved shape, quantization, constant data) plus
the op's decoded builtin options and the runtime :class:`~refimpl.flavors.Flavor`.

Kernel protocol (one op family per module under ``refimpl/kernels``)::

    def prepare(ctx: OpContext) -> OpData:
        # validate, precompute multipliers / shifts / padding into a frozen OpData,
        # and set every output shape with ctx.set_output_shape(i, shape)
    def invoke(ctx: OpContext, data: OpData, inputs: list[np.ndarray | None]) -> list[np.ndarray]:
        # pure, batch-first NumPy; returns one array per output, in the output dtype
        # (then the new state of each input named in Kernel.state_inputs, if any)

Inputs arrive in their storage dtype (int8, uint8, int16, int32, float32...) and
with the shapes set by ``prepare``; absent optional inputs (index -1) are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .errors import OpError, UnsupportedOpError
from .flavors import Flavor


@dataclass
class TensorInfo:
    """One tensor as a kernel sees it.

    Attributes
    ----------
    index : int
        Tensor index in the subgraph.
    name : str
    dtype : np.dtype
        Storage dtype (``np.int8`` for int8 activations, ``np.float16`` for fp16 constants...).
    shape : tuple of int
        Resolved shape (after ``resize_tensor_input`` and shape propagation).
    scale : ndarray of float32, shape (n,)
        Quantization scales; empty when the tensor is not quantized.
    zero_point : ndarray of int64, shape (n,)
        Zero points, same length as ``scale``.
    quantized_dimension : int
        Axis the per-channel parameters run along (only meaningful when n > 1).
    data : ndarray or None
        Constant contents (read-only), or None for activations.
    """

    index: int
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    data: np.ndarray | None = None

    @property
    def is_quantized(self) -> bool:
        return self.scale.size > 0

    @property
    def is_per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def describe(self) -> str:
        q = ""
        if self.is_quantized:
            if self.is_per_channel:
                q = f" per-channel({self.scale.size}, axis {self.quantized_dimension})"
            else:
                q = f" s={float(self.scale[0]):.6g} zp={int(self.zero_point[0])}"
        return f"'{self.name}' {np.dtype(self.dtype).name}{list(self.shape)}{q}"


@dataclass
class OpContext:
    """Everything one node's kernel needs; built by the interpreter.

    Attributes
    ----------
    node_index : int
        Position of the op in the subgraph's execution order.
    op_name : str
        Schema enum name, e.g. ``"CONV_2D"``.
    inputs, outputs : list of TensorInfo (inputs may hold None for absent optionals)
    options : dataclass or None
        Decoded builtin options (``tflite_schema`` options class, schema field names).
    flavor : Flavor
        Which runtime's arithmetic to reproduce.
    op_version : int
        The operator code's version.
    intermediates : list of TensorInfo (None for index -1)
        The operator's ``intermediates`` tensors, in order. Only the quantized LSTM reads
        them: the converter records the scales of the gate outputs and of the hidden
        state there. Empty for every other op.
    """

    node_index: int
    op_name: str
    inputs: list[TensorInfo | None]
    outputs: list[TensorInfo]
    options: Any
    flavor: Flavor
    op_version: int = 1
    intermediates: list[TensorInfo | None] = field(default_factory=list)

    # -- access helpers ---------------------------------------------------------------
    def input(self, i: int) -> TensorInfo:
        """Input ``i``; a typed error if it is absent or out of range."""
        if i >= len(self.inputs) or self.inputs[i] is None:
            raise self.error(f"input {i} is required but missing")
        t = self.inputs[i]
        assert t is not None
        return t

    def optional_input(self, i: int) -> TensorInfo | None:
        return self.inputs[i] if i < len(self.inputs) else None

    def output(self, i: int) -> TensorInfo:
        if i >= len(self.outputs):
            raise self.error(f"output {i} is required but missing")
        return self.outputs[i]

    def set_output_shape(self, i: int, shape: Sequence[int]) -> None:
        """Record the shape output ``i`` will have (shape propagation in prepare)."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise self.error(f"output {i} would get a negative dimension {list(shape)}")
        self.output(i).shape = shape

    def options_or_error(self) -> Any:
        if self.options is None:
            raise self.error("builtin options are missing")
        return self.options

    # -- errors -----------------------------------------------------------------------
    def error(self, detail: str) -> OpError:
        """An :class:`OpError` naming this node; ``raise ctx.error("...")``."""
        return OpError(self.node_index, self.op_name, detail)

    def unsupported(self, detail: str | None = None, supported: str = "") -> UnsupportedOpError:
        """An :class:`UnsupportedOpError` naming this node and its dtypes."""
        if detail is None:
            ins = ", ".join(np.dtype(t.dtype).name if t is not None else "-" for t in self.inputs)
            outs = ", ".join(np.dtype(t.dtype).name for t in self.outputs)
            detail = f"inputs ({ins}) -> outputs ({outs})"
        if supported:
            detail += f"; supported: {supported}"
        return UnsupportedOpError(self.node_index, self.op_name, detail)

    def require(self, cond: bool, detail: str) -> None:
        """Raise ``ctx.error(detail)`` unless ``cond``."""
        if not cond:
            raise self.error(detail)


class Kernel(NamedTuple):
    """A registry entry: the two functions of one op, and the state it updates.

    ``state_inputs`` lists the input *positions* that are variable tensors the op
    rewrites on every invoke (recurrent state, e.g. SVDF's activation state, input 4).
    For such a kernel ``invoke`` returns one array per output followed by the new value
    of each of these inputs, in this order; it still never modifies its input arrays.
    The interpreter writes the new values back into the variable tensors, where the next
    invoke reads them (``reset_all_variables`` resets them). Default: no state.
    """

    prepare: Callable[[OpContext], Any]
    invoke: Callable[[OpContext, Any, list], list]
    state_inputs: tuple[int, ...] = ()
