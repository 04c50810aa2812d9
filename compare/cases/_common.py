"""What every case module shares: the :class:`Case` record, a one-op model builder,
inputs that hit ties and boundaries, and hypothesis strategies for quantization
parameters.

Coverage dtype labels (the ``dtype`` of a case, a column of the coverage report):

=============  ===========================================================
``float32``    float activations and weights
``int8``       int8 activations, per-tensor weights (if any)
``int8-pc``    int8 activations, per-channel weights
``int16x8``    int16 activations (zero point 0), int8 weights, int64 bias
``int32``      int32 tensors (index, shape and integer-math ops)
``int16``      plain int16 tensors (integer math and data movement, not quantized)
``int64``      int64 tensors
``bool``       boolean tensors (comparisons, SELECT conditions)
``uint8``      uint8 tensors
``hybrid``     float activations, int8 weights (dynamic range)
=============  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tflite_schema import ModelBuilder

__all__ = [
    "Case",
    "Tolerance",
    "TensorArg",
    "one_op_model",
    "QRANGE",
    "int_inputs",
    "float_inputs",
    "qparams",
    "scales_near_pot",
    "pot_scale",
]

#: Integer range of each quantized storage type.
QRANGE: dict[str, tuple[int, int]] = {
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-32768, 32767),
    "int32": (-(2**31), 2**31 - 1),
}


@dataclass(frozen=True)
class Tolerance:
    """An accepted float difference for one runtime, with the reason it cannot be 0.

    Two floats agree when ``|a - b| <= atol`` or they are at most ``ulps`` float32
    units in the last place apart. Only for float outputs; integers are always exact.
    """

    reason: str
    ulps: int = 0
    atol: float = 0.0


@dataclass(frozen=True)
class Case:
    """One single-op model with its inputs.

    Attributes
    ----------
    op : str
        Schema op name (the coverage report's row).
    dtype : str
        Coverage dtype label (see the module docstring).
    name : str
        Readable, unique within (op, dtype): becomes the pytest id.
    model : bytes
        The .tflite flatbuffer.
    inputs : tuple of np.ndarray
        One array per model input, exactly the model's input shapes.
    params : mapping
        What produced the case (shapes, options, scales...), printed on failure.
    tolerance : mapping of runtime name to Tolerance
        Float outputs only; a runtime not listed must match exactly.
    runtimes : tuple of str, optional
        Restrict the case to these runtimes (``litert-ref``, ``litert-builtin``,
        ``litert-xnnpack``, ``tflm``); default all four.
    """

    op: str
    dtype: str
    name: str
    model: bytes
    inputs: tuple[np.ndarray, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    tolerance: Mapping[str, Tolerance] = field(default_factory=dict)
    runtimes: tuple[str, ...] | None = None

    @property
    def id(self) -> str:
        return f"{self.op}-{self.dtype}-{self.name}"


@dataclass(frozen=True)
class TensorArg:
    """A tensor of a one-op model: a graph input (``data`` None) or a constant.

    ``scale`` / ``zero_point`` / ``quantized_dimension`` as in
    :meth:`tflite_schema.ModelBuilder.add_tensor`.
    """

    shape: Sequence[int]
    dtype: str
    data: Any = None
    scale: float | Sequence[float] | None = None
    zero_point: int | Sequence[int] = 0
    quantized_dimension: int = 0
    name: str | None = None


def one_op_model(
    op: str,
    inputs: Sequence[TensorArg | None],
    outputs: Sequence[TensorArg],
    options: Any = None,
    *,
    version: int = 1,
) -> bytes:
    """A model with one operator: non-constant ``inputs`` become graph inputs, in order.

    ``None`` in ``inputs`` is an absent optional input (e.g. no bias).
    """
    mb = ModelBuilder(f"tflite-refimpl sweep: {op}")
    refs: list[int | None] = []
    graph_inputs: list[int] = []
    for k, t in enumerate(inputs):
        if t is None:
            refs.append(None)
            continue
        name = t.name or (f"input{k}" if t.data is None else f"const{k}")
        idx = mb.add_tensor(name, t.shape, t.dtype, t.data, scale=t.scale,
                            zero_point=t.zero_point, quantized_dimension=t.quantized_dimension)
        refs.append(idx)
        if t.data is None:
            graph_inputs.append(idx)
    outs = [mb.add_tensor(t.name or f"output{k}", t.shape, t.dtype, scale=t.scale,
                          zero_point=t.zero_point, quantized_dimension=t.quantized_dimension)
            for k, t in enumerate(outputs)]
    mb.add_operator(op, refs, outs, options, version=version)
    mb.set_inputs(graph_inputs)
    mb.set_outputs(outs)
    return mb.to_bytes()


# ------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------
def int_inputs(rng: np.random.Generator, shape: Sequence[int], dtype: str,
               specials: Sequence[int] = ()) -> np.ndarray:
    """Uniform over the type's whole range, with both ends and ``specials`` planted.

    The first elements (in flat order) are ``qmin, qmax, *specials`` so every case
    sees saturation at both ends, whatever its size.
    """
    lo, hi = QRANGE[dtype]
    x = rng.integers(lo, hi + 1, size=tuple(shape), dtype=np.int64)
    planted = np.array([lo, hi, *specials], dtype=np.int64)
    flat = x.reshape(-1)
    n = min(flat.size, planted.size)
    flat[:n] = np.clip(planted[:n], lo, hi)
    return flat.reshape(tuple(shape)).astype(dtype)


def float_inputs(rng: np.random.Generator, shape: Sequence[int], low: float = -4.0,
                 high: float = 4.0, specials: Sequence[float] = ()) -> np.ndarray:
    """Uniform float32 in ``[low, high)`` with ``0, low, high, *specials`` planted first."""
    x = rng.uniform(low, high, size=tuple(shape)).astype(np.float32)
    planted = np.array([0.0, low, high, *specials], dtype=np.float32)
    flat = x.reshape(-1)
    n = min(flat.size, planted.size)
    flat[:n] = planted[:n]
    return flat.reshape(tuple(shape))


# ------------------------------------------------------------------------------------
# Quantization parameters
# ------------------------------------------------------------------------------------
def pot_scale(e: int) -> float:
    """``2**e`` as a float32-representable scale."""
    return float(np.float32(2.0**e))


def scales_near_pot(e: int) -> list[float]:
    """Scales just below, at and just above ``2**e`` (float32 neighbours).

    Ratios of such scales put effective multipliers right around powers of two, where
    ``QuantizeMultiplier``'s rounding overflow (``q == 2**31``) and float32-vs-float64
    evaluation of the ratio part ways.
    """
    s = np.float32(2.0**e)
    return [float(np.nextafter(s, np.float32(0))), float(s), float(np.nextafter(s, np.float32(np.inf)))]


def qparams(dtype: str) -> Any:
    """A hypothesis strategy for ``(scale, zero_point)`` of an activation of ``dtype``.

    Scales: log-uniform over ``[2**-20, 2**4]`` mixed with exact powers of two and their
    float32 neighbours; zero points: both ends of the range, 0, and anything between
    (int16 activations always have zero point 0).
    """
    from hypothesis import strategies as st

    e = st.integers(-20, 4)
    scale = st.one_of(
        st.floats(-20.0, 4.0).map(lambda t: float(np.float32(2.0**t))),
        e.map(pot_scale),
        st.tuples(e, st.integers(0, 2)).map(lambda p: scales_near_pot(p[0])[p[1]]),
    )
    if dtype == "int16":
        return st.tuples(scale, st.just(0))
    lo, hi = QRANGE[dtype]
    zp = st.one_of(st.sampled_from([lo, hi, 0, lo + 1, hi - 1]), st.integers(lo, hi))
    return st.tuples(scale, zp)
