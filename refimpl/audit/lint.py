"""The quantization-spec lint: per op, what the converter emitted against the rules the
runtimes' kernels assume (TFLite's "quantization specification" plus the checks their
Prepare functions make).

Each rule has a short id (``weights-symmetric``...); a :class:`Finding` names the rule,
the node, the op and the tensor, and says what was found and why it matters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

import tflite_schema as tfs

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}

#: op -> (index of the weights input, index of the bias input, per-channel axis)
WEIGHTED_OPS: dict[str, tuple[int, int, int]] = {
    "CONV_2D": (1, 2, 0),
    "DEPTHWISE_CONV_2D": (1, 2, 3),
    "FULLY_CONNECTED": (1, 2, 0),
    "TRANSPOSE_CONV": (1, 3, 0),
}
#: data-movement ops whose quantized output must keep the input's scale and zero point
#: (their kernels copy or compare raw integers; LiteRT checks some, not all)
SAME_PARAMS_OPS = frozenset({
    "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE",
    "PAD", "PADV2", "MIRROR_PAD", "CONCATENATION", "GATHER", "SLICE", "STRIDED_SLICE",
    "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SPLIT", "SPLIT_V", "UNPACK", "PACK",
    "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND", "TILE", "BROADCAST_TO", "REDUCE_MAX",
    "REDUCE_MIN", "REVERSE_V2", "GATHER_ND",
})
#: op -> {activation dtype: (scale, zero point)} the kernels require of the output
FIXED_OUTPUT = {
    "SOFTMAX": {"int8": (1 / 256, -128), "int16": (1 / 32768, 0)},
    "LOGISTIC": {"int8": (1 / 256, -128), "int16": (1 / 32768, 0)},
    "TANH": {"int8": (1 / 128, 0), "int16": (1 / 32768, 0)},
}
#: boundary ops allowed to have float tensors in a full-integer model
BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
#: relative tolerance on "bias scale = input scale x weight scale": the converter forms
#: the product in float32 and stores float32, so the two sides can differ by one
#: float32 rounding (~6e-8 relative); 1e-6 allows that and nothing a runtime would notice.
BIAS_SCALE_RTOL = 1e-6


@dataclass(frozen=True)
class Finding:
    """One lint or compatibility result."""

    severity: str
    rule: str
    node: int | None
    op: str
    tensor: str
    message: str
    subgraph: int = 0

    def line(self) -> str:
        where = f"node {self.node} {self.op}" if self.node is not None else "model"
        t = f", tensor '{self.tensor}'" if self.tensor else ""
        return f"[{self.severity}] {self.rule}: {where}{t}: {self.message}"


def dtype_name(t: tfs.Tensor) -> str:
    return t.type.name.lower()


def op_name(model: tfs.Model, op: tfs.Operator) -> str:
    return model.operator_codes[op.opcode_index].name


def _tensor(g: tfs.SubGraph, i: int) -> tfs.Tensor | None:
    return g.tensors[i] if 0 <= i < len(g.tensors) else None


def _qp(t: tfs.Tensor | None) -> tuple[np.ndarray, np.ndarray] | None:
    if t is None or t.quantization is None:
        return None
    return t.quantization.scale.astype(np.float64), t.quantization.zero_point


def is_const(model: tfs.Model, t: tfs.Tensor) -> bool:
    return t.buffer > 0 and len(model.buffer_data(t.buffer)) > 0


def _is_quantized_model(model: tfs.Model) -> bool:
    """Any op computing on int8/int16 activations: a "full integer" model by intent."""
    for g in model.subgraphs:
        for op in g.operators:
            name = op_name(model, op)
            if name in BOUNDARY_OPS:
                continue
            outs = [_tensor(g, i) for i in op.outputs]
            if any(t is not None and t.type.name in ("INT8", "INT16") and t.quantization
                   for t in outs):
                return True
    return False


def lint(model: tfs.Model) -> Iterator[Finding]:
    """Every quantization-spec finding of every subgraph, in node order."""
    quantized_model = _is_quantized_model(model)
    for g in model.subgraphs:
        for op in g.operators:
            yield from _lint_op(model, g, op, quantized_model)


def _f(sev, rule, g, op, name, tensor, message) -> Finding:
    return Finding(sev, rule, op.index, name, tensor.name if tensor is not None else "",
                   message, g.index)


def _lint_op(model: tfs.Model, g: tfs.SubGraph, op: tfs.Operator,
             quantized_model: bool) -> Iterator[Finding]:
    name = op_name(model, op)
    ins = [_tensor(g, i) for i in op.inputs]
    outs = [_tensor(g, i) for i in op.outputs]
    out = outs[0] if outs else None
    # activations: int16 zero point 0, zero points inside the type
    for t in [*ins, *outs]:
        if t is None or t.quantization is None or is_const(model, t):
            continue
        zp = t.quantization.zero_point
        if t.type.name == "INT16" and np.any(zp != 0):
            yield _f(ERROR, "int16-zero-point", g, op, name, t,
                     f"int16 activation with zero point {int(zp.flat[0])}: TFLite's int16 "
                     "kernels require 0 (symmetric)")
        if t.type.name == "INT8" and np.any((zp < -128) | (zp > 127)):
            yield _f(ERROR, "zero-point-range", g, op, name, t, "zero point outside int8")
    if name in WEIGHTED_OPS:
        yield from _lint_weighted(model, g, op, name, ins, out)
    if name in SAME_PARAMS_OPS and out is not None and out.quantization is not None:
        data_inputs = ins if name == "CONCATENATION" else ins[:1]
        for t in data_inputs:
            if t is None or t.quantization is None or is_const(model, t):
                continue
            if not (np.array_equal(t.quantization.scale, out.quantization.scale)
                    and np.array_equal(t.quantization.zero_point, out.quantization.zero_point)):
                yield _f(ERROR, "same-params", g, op, name, t,
                         f"{name} copies raw integers, so input and output must share scale "
                         f"and zero point; input {float(t.quantization.scale[0]):.6g}/"
                         f"{int(t.quantization.zero_point[0])} vs output "
                         f"{float(out.quantization.scale[0]):.6g}/"
                         f"{int(out.quantization.zero_point[0])}")
    if name in FIXED_OUTPUT and out is not None and out.quantization is not None:
        want = FIXED_OUTPUT[name].get(dtype_name(out))
        if want is not None:
            s, zp = float(out.quantization.scale[0]), int(out.quantization.zero_point[0])
            if not (math.isclose(s, want[0], rel_tol=1e-6) and zp == want[1]):
                yield _f(ERROR, "fixed-output-params", g, op, name, out,
                         f"{name} {dtype_name(out)} output must be scale {want[0]:.6g}, zero "
                         f"point {want[1]} (the kernels assume it); found {s:.6g}, {zp}")
    if quantized_model and name not in BOUNDARY_OPS and out is not None \
            and out.type.name == "FLOAT32" and name not in ("SHAPE",):
        float_in = [t for t in ins if t is not None and t.type.name == "FLOAT32"]
        weights_q = any(t is not None and t.type.name == "INT8" and is_const(model, t)
                        for t in ins)
        kind = "hybrid (float activations, int8 weights)" if weights_q else "float"
        if float_in or weights_q:
            yield _f(WARNING, "float-op-in-integer-model", g, op, name, out,
                     f"{kind} op left in a model whose other ops are integer: it runs in "
                     "float (TFLM and integer-only accelerators cannot run it)")


def _lint_weighted(model, g, op, name, ins, out) -> Iterator[Finding]:
    w_idx, b_idx, axis = WEIGHTED_OPS[name]
    data_idx = 2 if name == "TRANSPOSE_CONV" else 0
    x = ins[data_idx] if len(ins) > data_idx else None
    w = ins[w_idx] if len(ins) > w_idx else None
    b = ins[b_idx] if len(ins) > b_idx else None
    if w is None or w.quantization is None or w.type.name != "INT8":
        return
    wq = w.quantization
    channels = w.shape[axis] if len(w.shape) > axis else 0
    if np.any(wq.zero_point != 0):
        yield _f(ERROR, "weights-symmetric", g, op, name, w,
                 f"int8 weights must have zero point 0 (found {int(wq.zero_point.flat[0])}): "
                 "the kernels drop the weight offset")
    data = model.tensor_data(g.index, w.index) if is_const(model, w) else None
    if data is not None and data.size and int(data.min()) < -127:
        n = int((data == -128).sum())
        yield _f(WARNING, "weights-range", g, op, name, w,
                 f"{n} weight(s) are -128: the int8 weight range is [-127, 127] (symmetric); "
                 "-128 has no positive counterpart and breaks kernels that negate weights")
    if wq.is_per_channel:
        if wq.quantized_dimension != axis:
            yield _f(ERROR, "quantized-dimension", g, op, name, w,
                     f"per-channel weights of {name} must be quantized along axis {axis} "
                     f"(output channels), found {wq.quantized_dimension}")
        elif wq.scale.size != channels:
            yield _f(ERROR, "scale-count", g, op, name, w,
                     f"{wq.scale.size} scales for {channels} output channels")
    if x is None or x.quantization is None or x.type.name not in ("INT8", "INT16"):
        return
    s_in = float(x.quantization.scale[0])
    s_w = wq.scale.astype(np.float64)
    if b is not None:
        want_type = "INT64" if x.type.name == "INT16" else "INT32"
        if b.type.name != want_type:
            sev = INFO if (x.type.name == "INT16" and b.type.name == "INT32") else ERROR
            yield _f(sev, "bias-type", g, op, name, b,
                     f"bias is {b.type.name.lower()}, expected {want_type.lower()} for "
                     f"{x.type.name.lower()} activations"
                     + (" (int32 is allowed when quantized_bias_type says so)" if sev == INFO
                        else ""))
        if b.quantization is not None:
            bs = b.quantization.scale.astype(np.float64)
            expect = np.float32(s_in) * s_w.astype(np.float32)
            if bs.size not in (1, expect.size) or not np.allclose(
                    bs, expect, rtol=BIAS_SCALE_RTOL, atol=0):
                k = int(np.argmax(np.abs(np.broadcast_to(bs, expect.shape) - expect)))
                yield _f(ERROR, "bias-scale", g, op, name, b,
                         f"bias scale must be input scale x weight scale per channel; channel "
                         f"{k}: {float(np.broadcast_to(bs, expect.shape)[k]):.9g} vs "
                         f"{s_in:.9g} x {float(s_w[min(k, s_w.size - 1)]):.9g} = "
                         f"{float(expect[k]):.9g}")
            if np.any(b.quantization.zero_point != 0):
                yield _f(ERROR, "bias-zero-point", g, op, name, b, "bias zero point must be 0")
    if out is None or out.quantization is None:
        return
    s_out = float(out.quantization.scale[0])
    eff = s_in * s_w / s_out
    tiny = np.flatnonzero(eff < 2.0**-31)
    if tiny.size:
        yield _f(WARNING, "multiplier-underflow", g, op, name, out,
                 f"{tiny.size} channel(s) have effective multiplier s_in*s_w/s_out < 2^-31 "
                 f"(smallest {float(eff.min()):.3g}): QuantizeMultiplier flushes it to 0 and "
                 "those channels output only the zero point")
    big = np.flatnonzero(eff >= 1.0)
    if big.size:
        yield _f(INFO, "multiplier-above-one", g, op, name, out,
                 f"{big.size} channel(s) have effective multiplier >= 1 (largest "
                 f"{float(eff.max()):.3g}): legal (left shift), but unusual and the "
                 "double-rounding path can wrap int32 for large accumulators")
