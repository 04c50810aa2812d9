"""Runtime compatibility, predicted from the model alone (nothing is run).

* TFLite Micro: ops the installed wheel registers (:data:`TFLM_OPS`), and dtype gaps
  (hybrid kernels, float16 weights);
* XNNPACK: nodes the delegate will leave to the optimized kernels (arithmetic.md §5);
* Prepare-time failures: conditions under which a runtime's Prepare aborts the whole
  process or refuses the model, each with the arithmetic reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import tflite_schema as tfs

from .lint import ERROR, INFO, WARNING, WEIGHTED_OPS, Finding, op_name

#: Builtin ops whose kernels the ``tflite-micro`` wheel (0.dev20261023182759) registers:
#: the ``Register_<OP>`` symbols of its ``_runtime.so`` (checked by
#: tests/test_audit.py against the installed wheel when present).
TFLM_OPS = frozenset("""
ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL
BATCH_TO_SPACE_ND BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D
COS CUMSUM DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV ELU EMBEDDING_LOOKUP EQUAL
EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER
GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAXIMUM MAX_POOL_2D MEAN MINIMUM
MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_ALL
REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH
SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH
TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE
""".split())

#: Quantized ops XNNPACK (ai-edge-litert 2.3.0) leaves to the optimized kernels.
XNN_NOT_QUANTIZED = frozenset({"SOFTMAX", "RELU", "RELU6", "RELU_N1_TO_1", "HARD_SWISH",
                               "AVERAGE_POOL_2D"})


def _t(g: tfs.SubGraph, i: int) -> tfs.Tensor | None:
    return g.tensors[i] if 0 <= i < len(g.tensors) else None


def _scale(t: tfs.Tensor | None) -> float | None:
    if t is None or t.quantization is None:
        return None
    return float(t.quantization.scale[0])


def compatibility(model: tfs.Model) -> Iterator[Finding]:
    for g in model.subgraphs:
        for op in g.operators:
            yield from _node(model, g, op)


def _node(model: tfs.Model, g: tfs.SubGraph, op: tfs.Operator) -> Iterator[Finding]:
    name = op_name(model, op)
    ins = [_t(g, i) for i in op.inputs]
    outs = [_t(g, i) for i in op.outputs]
    x = ins[0] if ins else None
    out = outs[0] if outs else None

    def f(sev: str, rule: str, tensor: tfs.Tensor | None, msg: str) -> Finding:
        return Finding(sev, rule, op.index, name, tensor.name if tensor else "", msg, g.index)

    # ---- TFLite Micro -----------------------------------------------------------
    if name.startswith("CUSTOM:"):
        yield f(WARNING, "tflm-no-kernel", None,
                f"custom op {name[7:]!r}: TFLM runs it only with a registered custom kernel")
    elif name not in TFLM_OPS:
        yield f(WARNING, "tflm-no-kernel", None, f"TFLM has no {name} kernel")
    if name in WEIGHTED_OPS and x is not None and x.type.name == "FLOAT32":
        w = ins[WEIGHTED_OPS[name][0]] if len(ins) > WEIGHTED_OPS[name][0] else None
        if w is not None and w.type.name == "INT8":
            yield f(WARNING, "tflm-no-hybrid", w,
                    "hybrid (dynamic-range) kernel: float activations with int8 weights; "
                    "TFLM has no hybrid kernels and refuses the model")
    if name == "DEQUANTIZE" and x is not None and x.type.name == "FLOAT16":
        yield f(WARNING, "tflm-no-float16", x,
                "float16 DEQUANTIZE (float16 weights): TFLM cannot allocate it")
    if name == "FULLY_CONNECTED" and len(ins) > 1 and ins[1] is not None \
            and ins[1].quantization is not None and ins[1].quantization.is_per_channel:
        yield f(INFO, "per-channel-fully-connected", ins[1],
                "per-channel FULLY_CONNECTED weights (the TF 2.21 converter's default): "
                "TFLM releases before 2024 rejected them (tflite-micro#2602); the installed "
                "wheel and LiteRT 2.3 run them")
    # ---- XNNPACK ------------------------------------------------------------------
    quantized = x is not None and x.type.name in ("INT8", "INT16") and x.quantization
    if quantized and x.type.name == "INT16":
        yield f(INFO, "xnnpack-not-delegated", x,
                "int16 activations: XNNPACK delegates no 16x8 op (runs on the optimized "
                "kernels)")
    elif quantized and name in XNN_NOT_QUANTIZED:
        yield f(INFO, "xnnpack-not-delegated", x,
                f"quantized {name} is not delegated to XNNPACK (runs on the optimized kernels)")
    elif quantized and name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        w = ins[1] if len(ins) > 1 else None
        s_in, s_out = _scale(x), _scale(out)
        if w is not None and w.quantization is not None and s_in and s_out:
            eff = np.float32(s_in) * w.quantization.scale.astype(np.float32) / np.float32(s_out)
            if np.any(eff >= 256):
                yield f(INFO, "xnnpack-not-delegated", w,
                        f"requantization scale {float(eff.max()):.4g} >= 256: XNNPACK refuses "
                        "the node")
    elif quantized and name in ("ADD", "SUB") and len(ins) > 1:
        s_out = _scale(out)
        for t in ins[:2]:
            s = _scale(t)
            if s and s_out and not (1 / 1024 <= s / s_out < 256):
                yield f(INFO, "xnnpack-not-delegated", t,
                        f"input/output scale ratio {s / s_out:.4g} outside [1/1024, 256): "
                        "XNNPACK refuses the node")
    # ---- Prepare-time failures --------------------------------------------------------
    if name == "SOFTMAX" and x is not None and x.type.name in ("INT8", "UINT8") \
            and x.quantization is not None:
        beta = float(getattr(op.builtin_options, "beta", 1.0) or 1.0) \
            if op.builtin_options is not None else 1.0
        real = beta * float(x.quantization.scale[0]) * 2.0**26
        if real <= 1.0:
            yield f(ERROR, "softmax-prepare-abort", x,
                    f"beta x input scale x 2^26 = {real:.4g} <= 1: the reference kernels' "
                    "Prepare (LiteRT BUILTIN_REF, TFLM) needs a multiplier > 1 "
                    "(QuantizeMultiplierGreaterThanOne) and aborts the whole process "
                    "(SIGABRT); LiteRT's optimized kernel runs it")
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and x is not None \
            and x.type.name == "INT16":
        b_idx = WEIGHTED_OPS[name][1]
        b = ins[b_idx] if len(ins) > b_idx else None
        w = ins[1] if len(ins) > 1 else None
        if b is not None and b.type.name == "INT32" and w is not None:
            depth = int(np.prod(w.shape)) // max(int(w.shape[WEIGHTED_OPS[name][2]]), 1)
            if name == "DEPTHWISE_CONV_2D":
                depth = int(np.prod(w.shape[1:3]))
            worst = depth * 32768 * 127
            if worst > 2**31 - 1:
                yield f(WARNING, "int16-accumulator-overflow", b,
                        f"16x8 with int32 bias accumulates in int32: {depth} terms of up to "
                        f"32768 x 127 reach {worst:.3g} > 2^31 - 1, so the accumulator can "
                        "wrap; the converter's default int64 bias avoids this")
    if name in WEIGHTED_OPS:
        b_idx = WEIGHTED_OPS[name][1]
        b = ins[b_idx] if len(ins) > b_idx else None
        if b is not None and b.quantization is not None and b.quantization.is_per_channel \
                and b.quantization.quantized_dimension >= len(b.shape):
            yield f(ERROR, "litert-refuses-quantized-dimension", b,
                    f"bias of rank {len(b.shape)} has quantized_dimension "
                    f"{b.quantization.quantized_dimension}: LiteRT refuses to load the model "
                    "(TFLM ignores the axis of a bias)")
