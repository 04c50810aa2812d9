"""A short way to build small models (single-op test models, hand-made graphs).

:class:`ModelBuilder` fills a :class:`~tflite_schema.spec.ModelSpec` one tensor and
one operator at a time; tensors are referred to by the index ``add_tensor`` returns
or by name. Example, an int8 ADD with its own scales::

    from tflite_schema import ModelBuilder
    from tflite_schema.options import AddOptions

    mb = ModelBuilder()
    a = mb.add_tensor("a", [1, 8], "int8", scale=0.05, zero_point=-3)
    b = mb.add_tensor("b", [1, 8], "int8", scale=0.02, zero_point=4)
    y = mb.add_tensor("y", [1, 8], "int8", scale=0.07, zero_point=-1)
    mb.add_operator("ADD", [a, b], [y], AddOptions(fused_activation_function=1))
    mb.set_inputs([a, b])
    mb.set_outputs([y])
    mb.add_signature("serving_default", {"lhs": a, "rhs": b}, {"sum": y})
    data = mb.to_bytes()                        # or mb.save("add.tflite")

Compared with filling a ModelSpec by hand, the builder

* creates one buffer per constant tensor and casts its data to the tensor type
  (exactly, for integer types: values that do not fit are an error);
* turns ``scale=`` / ``zero_point=`` / ``quantized_dimension=`` into quantization
  and checks a per-axis scale count against the tensor's shape;
* gives every op the options table it reads (schema defaults when ``options`` is
  omitted, like the converter, which always writes one) and refuses a table of the
  wrong class (runtimes would silently fall back to defaults);
* refuses duplicate tensor names within a subgraph, so that names are references.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .enums import BuiltinOperator
from .op_options import OPTIONS_FOR_OP
from .spec import (MetadataSpec, ModelSpec, OperatorSpec, QuantizationSpec, SignatureSpec,
                   SpecError, SubGraphSpec, TensorSpec, as_tensor_bytes, builtin_operator,
                   tensor_type)
from .writer import save_model, write_model

TensorRef = int | str | None  # index, name, or None for an absent optional input


class SubGraphBuilder:
    """Adds tensors and operators to one subgraph of a :class:`ModelBuilder`."""

    def __init__(self, model: ModelSpec, index: int):
        self._model = model
        self.index = index
        self._names: dict[str, int] = {}

    @property
    def graph(self) -> SubGraphSpec:
        """The subgraph spec being built."""
        return self._model.subgraphs[self.index]

    def add_tensor(self, name: str, shape: Sequence[int] | None = None, dtype: Any = None,
                   data: Any = None, *, scale: float | Sequence[float] | None = None,
                   zero_point: int | Sequence[int] = 0, quantized_dimension: int = 0,
                   shape_signature: Sequence[int] | None = None, is_variable: bool = False,
                   quantization: QuantizationSpec | None = None) -> int:
        """Add a tensor; return its index.

        Parameters
        ----------
        name : str
            Unique within the subgraph.
        shape : sequence of int, optional
            Defaults to ``data``'s shape.
        dtype : TensorType, name (``"int8"``) or NumPy dtype, optional
            Defaults to ``data``'s dtype.
        data : array-like or bytes, optional
            Constant contents (cast to ``dtype``, see
            :func:`~tflite_schema.spec.as_tensor_bytes`); raw ``bytes`` for packed types.
        scale, zero_point, quantized_dimension
            Quantization: one scale per tensor, or one per slice along
            ``quantized_dimension``; ``zero_point`` is broadcast when it is one value.
        shape_signature : sequence of int, optional
            Shape with -1 for dimensions that may change (e.g. batch).
        is_variable : bool
            A variable tensor (state kept across invocations, e.g. SVDF's).
        quantization : QuantizationSpec, optional
            Instead of ``scale`` etc., e.g. to give calibration ``min`` / ``max``.
        """
        where = f"subgraphs[{self.index}] tensor '{name}'"
        if name in self._names:
            raise SpecError(f"{where}: name already used by tensor {self._names[name]}")
        if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
            data = np.asarray(data)
            shape = data.shape if shape is None else shape
            dtype = data.dtype if dtype is None else dtype
        if shape is None or dtype is None:
            raise SpecError(f"{where}: give shape and dtype (or array data to take them from)")
        type_ = tensor_type(dtype)
        shape = tuple(int(d) for d in shape)
        if scale is not None:
            if quantization is not None:
                raise SpecError(f"{where}: give scale or quantization, not both")
            quantization = QuantizationSpec(scale, zero_point, quantized_dimension)
        if quantization is not None and quantization.scale.size > 1:
            axis, n = quantization.quantized_dimension, quantization.scale.size
            if not 0 <= axis < len(shape) or shape[axis] != n:
                raise SpecError(f"{where}: {n} scales along quantized_dimension {axis} of "
                                f"shape {list(shape)}")
        buffer = 0
        if data is not None:
            buffer = self._model.add_buffer(as_tensor_bytes(data, type_, shape, where))
        tensors = self.graph.tensors
        tensors.append(TensorSpec(
            name=name, shape=shape, type=type_, buffer=buffer, quantization=quantization,
            shape_signature=shape_signature, is_variable=is_variable, has_rank=True))
        self._names[name] = len(tensors) - 1
        return len(tensors) - 1

    def tensor_index(self, ref: TensorRef) -> int:
        """Index of a tensor given by index or name (None → -1, an absent input)."""
        if ref is None:
            return -1
        if isinstance(ref, str):
            try:
                return self._names[ref]
            except KeyError:
                raise SpecError(f"subgraphs[{self.index}]: no tensor named {ref!r}") from None
        index = int(ref)
        if not -1 <= index < len(self.graph.tensors):
            raise SpecError(f"subgraphs[{self.index}]: tensor index {index} out of range "
                            f"({len(self.graph.tensors)} tensors)")
        return index

    def _indices(self, refs: Sequence[TensorRef]) -> tuple[int, ...]:
        return tuple(self.tensor_index(r) for r in refs)

    def add_operator(self, op: BuiltinOperator | int | str, inputs: Sequence[TensorRef],
                     outputs: Sequence[TensorRef], options: Any = None, *,
                     intermediates: Sequence[TensorRef] = (), version: int = 1,
                     custom_code: str | None = None,
                     custom_options: bytes | None = None) -> int:
        """Add an operator after the existing ones; return its index.

        ``op`` is a :class:`BuiltinOperator`, its code or name (``"FULLY_CONNECTED"``,
        case-insensitive). ``options`` is an instance of the options class the op
        reads (:data:`~tflite_schema.OPTIONS_FOR_OP`), a dict of its fields, or None
        for the schema defaults. ``None`` among ``inputs`` is an absent optional input.
        """
        code = builtin_operator(op)
        name = code.name if isinstance(code, BuiltinOperator) else str(code)
        where = f"subgraphs[{self.index}].operators[{len(self.graph.operators)}] {name}"
        if code == BuiltinOperator.CUSTOM and not custom_code:
            raise SpecError(f"{where}: a CUSTOM op needs custom_code")
        expected = OPTIONS_FOR_OP.get(code)  # type: ignore[call-overload]
        known = isinstance(code, BuiltinOperator)  # newer codes: options taken as given
        if options is None:
            options = None if expected is None else expected()
        elif known and expected is None:
            raise SpecError(f"{where}: takes no builtin options")
        elif isinstance(options, Mapping):
            if expected is None:
                raise SpecError(f"{where}: unknown op, give an options instance")
            try:
                options = expected(**options)
            except TypeError as e:
                raise SpecError(f"{where}: {expected.__name__}: {e}") from None
        elif known and not isinstance(options, expected):
            raise SpecError(f"{where}: reads {expected.__name__}, not "
                            f"{type(options).__name__}")
        self.graph.operators.append(OperatorSpec(
            op=code, inputs=self._indices(inputs), outputs=self._indices(outputs),
            options=options, intermediates=self._indices(intermediates), version=version,
            custom_code=custom_code, custom_options=custom_options))
        return len(self.graph.operators) - 1

    def set_inputs(self, tensors: Sequence[TensorRef]) -> None:
        self.graph.inputs = list(self._indices(tensors))

    def set_outputs(self, tensors: Sequence[TensorRef]) -> None:
        self.graph.outputs = list(self._indices(tensors))


class ModelBuilder(SubGraphBuilder):
    """Builds a :class:`ModelSpec`; its own tensor / operator methods act on subgraph 0
    (named ``main``), :meth:`add_subgraph` adds more (bodies of WHILE, IF, CALL_ONCE)."""

    def __init__(self, description: str = "tflite_schema.ModelBuilder"):
        model = ModelSpec(subgraphs=[SubGraphSpec(name="main")], description=description)
        super().__init__(model, 0)
        self._subgraphs: list[SubGraphBuilder] = [self]

    @property
    def model(self) -> ModelSpec:
        """The spec being built (live: later calls keep changing it)."""
        return self._model

    def add_subgraph(self, name: str = "") -> SubGraphBuilder:
        self._model.subgraphs.append(SubGraphSpec(name=name))
        self._subgraphs.append(SubGraphBuilder(self._model, len(self._model.subgraphs) - 1))
        return self._subgraphs[-1]

    def subgraph(self, index: int) -> SubGraphBuilder:
        return self._subgraphs[index]

    def add_signature(self, key: str, inputs: Sequence[TensorRef] | Mapping[str, TensorRef]
                      | None = None, outputs: Sequence[TensorRef] | Mapping[str, TensorRef]
                      | None = None, *, subgraph: int = 0) -> None:
        """Add a signature def. ``inputs`` / ``outputs``: alias → tensor mappings, or
        tensor lists (aliases = tensor names); None takes the subgraph's own."""
        sg = self._subgraphs[subgraph]

        def aliases(refs: Any, default: list[int]) -> dict[str, int]:
            if refs is None:
                refs = default
            if isinstance(refs, Mapping):
                return {str(k): sg.tensor_index(v) for k, v in refs.items()}
            indices = sg._indices(refs)
            return {sg.graph.tensors[i].name: i for i in indices}

        self._model.signature_defs.append(SignatureSpec(
            key=key, inputs=aliases(inputs, sg.graph.inputs),
            outputs=aliases(outputs, sg.graph.outputs), subgraph_index=subgraph))

    def add_metadata(self, name: str, data: bytes) -> int:
        """Add a named metadata buffer (e.g. ``min_runtime_version``); return its buffer."""
        buffer = self._model.add_buffer(data)
        self._model.metadata.append(MetadataSpec(name, buffer))
        return buffer

    @property
    def description(self) -> str:
        return self._model.description

    @description.setter
    def description(self, value: str) -> None:
        self._model.description = value

    def build(self) -> ModelSpec:
        """The spec (the builder's live object; copy it before editing it separately)."""
        return self._model

    def to_bytes(self, **kwargs: Any) -> bytes:
        """:func:`~tflite_schema.write_model` of the spec."""
        return write_model(self._model, **kwargs)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """:func:`~tflite_schema.save_model` of the spec."""
        return save_model(self._model, path, overwrite=overwrite)


__all__ = ["ModelBuilder", "SubGraphBuilder"]
