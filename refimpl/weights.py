"""What the converter did to the weights: sparsity, unique values, bytes.

For every weight tensor of a model (the filter of CONV_2D, DEPTHWISE_CONV_2D,
TRANSPOSE_CONV and FULLY_CONNECTED, followed back through a DEQUANTIZE for float16
models), :func:`weight_stats` reports the fraction of zeros, how many distinct values
the tensor holds and how many its fullest channel holds, and its raw and gzip bytes.
That answers the questions pruning and clustering raise after conversion: did the
zeros survive (they do: 0.0 quantizes to the zero point 0 of symmetric int8 weights),
and did "16 clusters" survive (per channel only, once per-channel scales are applied).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np

import tflite_schema as tfs

#: ops whose input 1 is a weight tensor, and the axis its output channels run along
WEIGHT_OPS = {"CONV_2D": 0, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0, "DEPTHWISE_CONV_2D": 3}


@dataclass
class WeightStats:
    """Statistics of one weight tensor (``unique_*`` count distinct stored values)."""

    tensor: int
    name: str
    op: str
    node: int
    dtype: str
    shape: tuple[int, ...]
    zeros: float  # fraction of elements equal to zero
    unique: int
    unique_per_channel_max: int
    channel_axis: int
    bytes: int
    gzip_bytes: int

    @property
    def lut_bits_tensor(self) -> int:
        """Index bits a look-up table over the whole tensor would need."""
        return max(1, int(np.ceil(np.log2(max(self.unique, 1)))))

    @property
    def lut_bits_channel(self) -> int:
        """Index bits a per-channel look-up table would need."""
        return max(1, int(np.ceil(np.log2(max(self.unique_per_channel_max, 1)))))


def _producer(sg: tfs.SubGraph, tensor: int) -> tfs.Operator | None:
    for op in sg.operators:
        if tensor in op.outputs:
            return op
    return None


def weight_stats(model: tfs.Model | bytes, subgraph: int = 0) -> list[WeightStats]:
    """One :class:`WeightStats` per weight tensor of ``subgraph``, in op order."""
    if not isinstance(model, tfs.Model):
        model = tfs.read_model(model)
    sg = model.subgraphs[subgraph]
    out = []
    seen: set[int] = set()
    for op in sg.operators:
        name = model.operator_codes[op.opcode_index].name
        if name not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        index = op.inputs[1]
        data = model.tensor_data(subgraph, index)
        if data is None:  # float16 weights: follow the DEQUANTIZE back to its constant
            producer = _producer(sg, index)
            if producer is not None and model.operator_codes[producer.opcode_index].name == "DEQUANTIZE":
                index = producer.inputs[0]
                data = model.tensor_data(subgraph, index)
        if data is None or index in seen:
            continue
        seen.add(index)
        axis = WEIGHT_OPS[name] if data.ndim > WEIGHT_OPS[name] else 0
        per_channel = np.moveaxis(data, axis, 0).reshape(data.shape[axis], -1)
        per_channel_unique = max((np.unique(row).size for row in per_channel), default=0)
        raw = np.ascontiguousarray(data).tobytes()
        out.append(WeightStats(
            tensor=index, name=sg.tensors[index].name, op=name, node=op.index,
            dtype=str(data.dtype), shape=tuple(data.shape),
            zeros=float((data == 0).mean()) if data.size else 0.0,
            unique=int(np.unique(data).size), unique_per_channel_max=int(per_channel_unique),
            channel_axis=axis, bytes=len(raw),
            gzip_bytes=len(gzip.compress(raw, compresslevel=9, mtime=0)),
        ))
    return out


def model_zero_fraction(stats: list[WeightStats]) -> float:
    """Fraction of zeros over all weight elements."""
    total = sum(int(np.prod(s.shape)) for s in stats)
    zeros = sum(s.zeros * int(np.prod(s.shape)) for s in stats)
    return zeros / total if total else 0.0
