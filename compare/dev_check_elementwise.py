"""Differential check of the element-wise and data-movement kernels against real runtimes.

Builds tiny Keras / tf.function models (ADD, MUL, RELU, RELU6, ZeroPadding2D, Concatenate,
Flatten, Reshape, QUANTIZE / DEQUANTIZE at the edges), converts them (float, full int8 with
int8 / float32 / uint8 I/O, 16x8), runs them on LiteRT ``BUILTIN_REF`` and TFLite Micro
with every intermediate tensor preserved, and re-evaluates each node with refimpl's kernel
from the *same* runtime's input tensors (flavour ``tflite-ref`` resp. ``tflm``). Prints
exact / total per op and runtime. Also: random quantization-parameter sweeps (scales
edited in the flatbuffer), a chained run of the Flatten pattern at batch 1 and 4, and the
RESHAPE stale-batch experiment.

Usage::

    .venv/bin/python compare/dev_check_elementwise.py [--quick] [--no-tflm]

A development tool (needs tensorflow, ai-edge-litert, tflite-micro), not part of the
test suite.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import types
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter, OpResolverType  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from refimpl.context import OpContext, TensorInfo  # noqa: E402
from refimpl.errors import RefimplError  # noqa: E402
from refimpl.flavors import TFLITE_REF, TFLM, Flavor  # noqa: E402
from refimpl.kernels import (  # noqa: E402
    activations,
    add,
    concatenation,
    dequantize,
    mul,
    pad,
    quantize,
    reshape,
    shape_ops,
)

KERNELS = {
    "ADD": add.ADD,
    "MUL": mul.MUL,
    "QUANTIZE": quantize.QUANTIZE,
    "DEQUANTIZE": dequantize.DEQUANTIZE,
    "RELU": activations.RELU,
    "RELU6": activations.RELU6,
    "RELU_N1_TO_1": activations.RELU_N1_TO_1,
    "PAD": pad.PAD,
    "PADV2": pad.PADV2,
    "CONCATENATION": concatenation.CONCATENATION,
    "RESHAPE": reshape.RESHAPE,
    "SHAPE": shape_ops.SHAPE,
    "STRIDED_SLICE": shape_ops.STRIDED_SLICE,
    "PACK": shape_ops.PACK,
}
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_DTYPES = {
    0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8
}
RNG = np.random.default_rng(1234)

# tally[(runtime, op)] = [exact, total]
TALLY: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
NOTES: list[str] = []


# ------------------------------------------------------------------------------------------
# Model plumbing
# ------------------------------------------------------------------------------------------
def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def options_ns(op) -> types.SimpleNamespace | None:
    o = op.builtinOptions
    if o is None:
        return None
    d = {}
    for k, v in vars(o).items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        d[snake(k)] = v
    return types.SimpleNamespace(**d)


def load(model_bytes: bytes) -> schema.ModelT:
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))


def pack(model_t: schema.ModelT) -> bytes:
    b = flatbuffers.Builder(0)
    b.Finish(model_t.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def op_name(model_t, op) -> str:
    oc = model_t.operatorCodes[op.opcodeIndex]
    return OP_NAMES[max(oc.builtinCode, oc.deprecatedBuiltinCode)]


def constant_data(model_t, t) -> np.ndarray | None:
    buf = model_t.buffers[t.buffer].data
    if buf is None or len(buf) == 0:
        return None
    dtype = TYPE_DTYPES[t.type]
    shape = [] if t.shape is None else list(t.shape)
    return np.frombuffer(bytes(bytearray(buf)), dtype=dtype).reshape(shape)


def tensor_infos(model_t, shapes: dict[int, tuple[int, ...]]) -> dict[int, TensorInfo]:
    sg = model_t.subgraphs[0]
    infos = {}
    for i, t in enumerate(sg.tensors):
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 0:
            scale = np.asarray(q.scale, np.float32)
            zp = np.asarray(q.zeroPoint, np.int64)
            qdim = int(q.quantizedDimension)
        else:
            scale, zp, qdim = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
        data = constant_data(model_t, t)
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        shape = shapes.get(i, tuple(t.shape) if t.shape is not None else ())
        dtype = np.dtype(TYPE_DTYPES[t.type])
        infos[i] = TensorInfo(i, name, dtype, tuple(shape), scale, zp, qdim, data)
    return infos


def make_ctx(
    model_t, node: int, infos: dict[int, TensorInfo], flavor: Flavor, share: bool
) -> OpContext:
    op = model_t.subgraphs[0].operators[node]
    get = (lambda i: infos[i]) if share else (lambda i: _copy(infos[i]))
    ins = [None if i < 0 else get(int(i)) for i in op.inputs]
    outs = [get(int(i)) for i in op.outputs]
    return OpContext(node, op_name(model_t, op), ins, outs, options_ns(op), flavor)


def _copy(t: TensorInfo) -> TensorInfo:
    return TensorInfo(
        t.index, t.name, t.dtype, t.shape, t.scale, t.zero_point, t.quantized_dimension, t.data
    )


# ------------------------------------------------------------------------------------------
# Runtimes
# ------------------------------------------------------------------------------------------
def run_ref(model_bytes: bytes, inputs: list[np.ndarray], resize: bool = False):
    it = Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    if resize:
        for d, x in zip(it.get_input_details(), inputs):
            it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    values = {}
    for d in it.get_tensor_details():
        try:
            values[d["index"]] = np.array(it.get_tensor(d["index"]))
        except ValueError:
            pass
    return values


def run_tflm(model_bytes: bytes, inputs: list[np.ndarray], n_tensors: int):
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(
        model_bytes,
        arena_size=4 << 20,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    values = {}
    for i in range(n_tensors):
        try:
            values[i] = np.array(it.GetTensor(i, 0)["tensor_data"])
        except Exception:  # noqa: BLE001 - tensors TFLM does not keep
            pass
    return values


def input_tensors(model_t):
    sg = model_t.subgraphs[0]
    return [sg.tensors[i] for i in sg.inputs]


def random_inputs(model_t, batch: int, float_ranges: list[tuple[float, float]] | None = None):
    xs = []
    for k, t in enumerate(input_tensors(model_t)):
        shape = list(t.shape) if batch is None else [batch] + list(t.shape[1:])
        dtype = np.dtype(TYPE_DTYPES[t.type])
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            xs.append(RNG.integers(info.min, info.max + 1, size=shape).astype(dtype))
        else:
            lo, hi = float_ranges[k] if float_ranges else (-4.0, 4.0)
            x = RNG.uniform(lo, hi, size=shape).astype(np.float32)
            # exact quantization ties and specials now and then
            flat = x.reshape(-1)
            flat[::7] = np.round(flat[::7] * 8) / 8
            specials = np.array([np.inf, -np.inf, np.nan, -0.0, 3e38, -3e38, 1e10], np.float32)
            flat[5::97] = specials[np.arange(flat[5::97].size) % specials.size]
            xs.append(x)
    return xs


def check_per_op(runtime: str, model_t, values: dict, flavor: Flavor, label: str, shapes=None,
                 only: tuple[str, ...] | None = None, quiet: bool = False):
    """Re-run every node of ours on the runtime's own input tensors; tally exact matches."""
    sg = model_t.subgraphs[0]
    if shapes is None:
        shapes = {i: v.shape for i, v in values.items()}
    infos = tensor_infos(model_t, shapes)
    for node, op in enumerate(sg.operators):
        name = op_name(model_t, op)
        if name not in KERNELS or any(int(o) not in values for o in op.outputs):
            continue
        if only is not None and name not in only:
            continue
        ctx = make_ctx(model_t, node, infos, flavor, share=False)
        if any(i >= 0 and int(i) not in values for i in op.inputs):
            continue
        xs = [None if i < 0 else values[int(i)] for i in op.inputs]
        key = (runtime, name)
        try:
            data = KERNELS[name].prepare(ctx)
            outs = KERNELS[name].invoke(ctx, data, xs)
        except RefimplError as e:
            NOTES.append(f"{label} {runtime} node {node} {name}: refimpl error {e}")
            TALLY[key][1] += int(values[int(op.outputs[0])].size)
            continue
        for o, got in zip(op.outputs, outs):
            want = values[int(o)]
            if got.shape != want.shape or got.dtype != want.dtype:
                NOTES.append(
                    f"{label} {runtime} node {node} {name}: shape/dtype {got.shape} {got.dtype}"
                    f" vs {want.shape} {want.dtype}"
                )
                TALLY[key][1] += int(want.size)
                continue
            g, w = np.ascontiguousarray(got).reshape(-1), np.ascontiguousarray(want).reshape(-1)
            same = (g.view(np.uint8) == w.view(np.uint8)).reshape(g.size, g.itemsize).all(axis=1)
            TALLY[key][0] += int(same.sum())
            TALLY[key][1] += int(want.size)
            if not same.all() and not quiet:
                bad = np.flatnonzero(~same)[:3]
                NOTES.append(
                    f"{label} {runtime} node {node} {name}: "
                    f"{int((~same).sum())}/{want.size} differ, "
                    f"e.g. got {got.reshape(-1)[bad]} want {want.reshape(-1)[bad]}"
                )


def check_model(
    label: str, model_bytes: bytes, batches=(1, 64), tflm: bool = True, float_ranges=None
):
    model_t = load(model_bytes)
    names = sorted({op_name(model_t, op) for op in model_t.subgraphs[0].operators})
    for b in batches:
        xs = random_inputs(model_t, b, float_ranges)
        values = run_ref(model_bytes, xs, resize=b != 1)
        check_per_op("REF", model_t, values, FLAVORS["REF"], label)
    if tflm:
        for _ in range(8):
            xs = random_inputs(model_t, None, float_ranges)  # the model's own (static) shapes
            try:
                values = run_tflm(model_bytes, xs, len(model_t.subgraphs[0].tensors))
            except Exception as e:  # noqa: BLE001
                NOTES.append(f"{label}: TFLM could not run the model ({type(e).__name__}: {e})")
                break
            check_per_op("TFLM", model_t, values, FLAVORS["TFLM"], label)
            check_per_op("TFLM-vs-ref-flavour", model_t, values, FLAVORS["REF"], label,
                         only=("MUL", "RELU", "RELU6"), quiet=True)
    return names


FLAVORS = {"REF": TFLITE_REF, "TFLM": TFLM}


# ------------------------------------------------------------------------------------------
# Model builders
# ------------------------------------------------------------------------------------------
def convert(model, rep=None, io=None, int16=False, float_ranges=None) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if rep is not None:
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = rep
        if int16:
            c.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io is not None:
            c.inference_input_type = io
            c.inference_output_type = io
    return c.convert()


def tflite_input_order(model) -> list[int]:
    """Positions of ``model.inputs`` in the converted model's input order (it is not stable)."""
    m = load(convert(model))
    names = [t.name.decode() for t in input_tensors(m)]
    keras = [i.name for i in model.inputs]
    return [next(k for k, n in enumerate(keras) if f"_{n}:" in name) for name in names]


def rep_for(model, ranges):
    """Representative data in the converted model's input order; ``ranges`` follow that order."""
    order = tflite_input_order(model)

    def rep():
        for _ in range(64):
            yield [
                RNG.uniform(lo, hi, size=[1] + list(model.inputs[k].shape[1:])).astype(np.float32)
                for k, (lo, hi) in zip(order, ranges)
            ]

    return rep


def keras_models(batch_size=None):
    L = tf.keras.layers
    names = iter("abcdefghijklmnopqrstuvwxyz" * 10)

    def I(shape):  # noqa: E743 - inputs named so the converter keeps their order
        name = f"in_{next(names)}{next(names)}"
        return tf.keras.Input(shape=shape, batch_size=batch_size, name=name)

    models = {}
    a, b = I((6, 6, 8)), I((6, 6, 8))
    models["add"] = (tf.keras.Model([a, b], L.Add()([a, b])), [(-3, 2), (-1, 5)])
    a, b = I((6, 6, 8)), I((1, 1, 8))
    models["add_bcast"] = (tf.keras.Model([a, b], a + b), [(-3, 2), (-1, 5)])
    a, b = I((6, 6, 8)), I((6, 6, 8))
    models["add_relu"] = (tf.keras.Model([a, b], L.ReLU()(L.Add()([a, b]))), [(-3, 2), (-1, 5)])
    a, b = I((6, 6, 8)), I((6, 6, 8))
    models["mul"] = (tf.keras.Model([a, b], L.Multiply()([a, b])), [(-3, 2), (-1, 5)])
    a, b = I((6, 6, 8)), I((6, 1, 8))
    models["mul_bcast"] = (tf.keras.Model([a, b], a * b), [(-2, 2), (0, 3)])
    a = I((6, 6, 8))
    models["relu"] = (tf.keras.Model(a, L.ReLU()(a)), [(-3, 5)])
    a = I((6, 6, 8))
    models["relu6"] = (tf.keras.Model(a, L.ReLU(max_value=6.0)(a)), [(-4, 9)])
    a, b = I((6, 6, 8)), I((6, 6, 4))
    models["concat_relu6"] = (
        tf.keras.Model([a, b], L.ReLU(max_value=6.0)(L.Concatenate()([a, b]))),
        [(-4, 9), (-4, 9)],
    )
    a, b = I((6, 6, 8)), I((6, 6, 4))
    models["concat"] = (tf.keras.Model([a, b], L.Concatenate(axis=-1)([a, b])), [(-2, 3), (-1, 6)])
    a = I((6, 6, 3))
    models["zeropad"] = (tf.keras.Model(a, L.ZeroPadding2D(((1, 2), (2, 1)))(a)), [(-1, 4)])
    a = I((5, 4, 3))
    models["flatten"] = (tf.keras.Model(a, L.Flatten()(a)), [(-2, 2)])
    a = I((5, 4, 3))
    models["reshape"] = (tf.keras.Model(a, L.Reshape((10, 6))(a)), [(-2, 2)])
    # ranges were written in Keras input order; the converted model may order inputs otherwise
    return {k: (m, [r[i] for i in tflite_input_order(m)]) for k, (m, r) in models.items()}


def fp16_weight_model() -> bytes:
    """Dense + Conv with float16 weights: constant fp16 -> fp32 DEQUANTIZE nodes."""
    a = tf.keras.Input(shape=(6, 6, 3), name="x")
    h = tf.keras.layers.Conv2D(8, 3)(a)
    model = tf.keras.Model(a, tf.keras.layers.Dense(5)(tf.keras.layers.Flatten()(h)))
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_types = [tf.float16]
    return c.convert()


def strided_slice_models() -> dict[str, bytes]:
    """tf.function slices with masks, negative strides, ellipsis, new axes, clamping."""
    cases = {
        "ss_basic": lambda x: x[:, 1:3, ::2],
        "ss_negative": lambda x: x[:, ::-1, -2::-2],
        "ss_shrink": lambda x: x[:, 2, :, 1],
        "ss_ellipsis": lambda x: x[..., 1:],
        "ss_newaxis": lambda x: x[:, tf.newaxis, 1:, ..., ::3],
        "ss_clamp": lambda x: x[:, -100:100, 5:1:-1],
        "ss_int_last": lambda x: x[1:, ..., -1],
    }
    out = {}
    for name, fn in cases.items():
        f = tf.function(fn, input_signature=[tf.TensorSpec([2, 5, 6, 4], tf.float32)])
        c = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
        out[name] = c.convert()
    return out


def strided_slice_fuzz(base: bytes, n: int):
    """Random begin/end/strides and all five masks + offset written into a STRIDED_SLICE node."""
    errors = refused = 0
    for k in range(n):
        m = load(base)
        sg = m.subgraphs[0]
        op = next(o for o in sg.operators if op_name(m, o) == "STRIDED_SLICE")
        count = int(RNG.integers(1, 6))
        strides = RNG.choice([-3, -2, -1, 1, 2, 3], count)
        vals = [RNG.integers(-7, 8, count), RNG.integers(-7, 8, count), strides]
        for idx, v in zip(op.inputs[1:4], vals):
            buf = schema.BufferT()
            buf.data = np.asarray(v, "<i4").view(np.uint8).tolist()
            m.buffers.append(buf)
            sg.tensors[idx].buffer = len(m.buffers) - 1
            sg.tensors[idx].shape = [count]
        o = op.builtinOptions
        bits = lambda p: int(sum(1 << i for i in range(count) if RNG.random() < p))  # noqa: E731
        o.beginMask, o.endMask, o.shrinkAxisMask = bits(0.3), bits(0.3), bits(0.2)
        o.newAxisMask = bits(0.2)
        o.ellipsisMask = (1 << int(RNG.integers(0, count))) if RNG.random() < 0.3 else 0
        o.offset = bool(RNG.random() < 0.15)
        mb = pack(m)
        mt = load(mb)
        infos = tensor_infos(mt, {})
        ops = mt.subgraphs[0].operators
        node = next(i for i, o in enumerate(ops) if op_name(mt, o) == "STRIDED_SLICE")
        try:  # combinations refimpl refuses are undefined behaviour in TFLite (can crash it)
            shape_ops.STRIDED_SLICE.prepare(make_ctx(mt, node, infos, TFLITE_REF, share=False))
        except RefimplError:
            refused += 1
            continue
        xs = random_inputs(mt, None)
        if os.environ.get("SS_FUZZ_DEBUG"):
            print(k, [v.tolist() for v in vals], o.beginMask, o.endMask, o.shrinkAxisMask,
                  o.newAxisMask, o.ellipsisMask, o.offset, flush=True)
        try:
            values = run_ref(mb, xs)
        except Exception:  # noqa: BLE001 - LiteRT refused the combination (e.g. empty shrink)
            errors += 1
            continue
        check_per_op("REF", load(mb), values, TFLITE_REF, f"ss_fuzz#{k}")
    print(f"strided-slice fuzz: {n - errors - refused} combinations compared; {refused} refused "
          "by refimpl (undefined in TFLite: out-of-range shrink index, or offset=True with masks "
          f"/ out-of-range sizes), {errors} refused by LiteRT")


# ------------------------------------------------------------------------------------------
# Scale sweeps (flatbuffer surgery)
# ------------------------------------------------------------------------------------------
def sweep(label: str, model_bytes: bytes, n: int, tflm: bool):
    """Re-randomise scales / zero points of every non-constant quantized tensor."""
    base = load(model_bytes)
    for k in range(n):
        m = load(model_bytes)
        sg = m.subgraphs[0]
        for i, t in enumerate(sg.tensors):
            q = t.quantization
            if q is None or q.scale is None or len(q.scale) != 1:
                continue
            if constant_data(base, base.subgraphs[0].tensors[i]) is not None:
                continue
            q.scale = [float(np.float32(2.0 ** RNG.uniform(-9, -1)))]
            if t.type == 9:
                q.zeroPoint = [int(RNG.integers(-128, 128))]
        _tie_cases(m, k)
        check_model(f"{label}#sweep{k}", pack(m), batches=(64,), tflm=tflm)


def _tie_cases(m, k):
    """Every 4th sweep: power-of-two scale ratios, which make exact rounding ties."""
    if k % 4:
        return
    for t in m.subgraphs[0].tensors:
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) == 1:
            q.scale = [float(2.0 ** int(RNG.integers(-7, -1)))]


def to_uint8(model_bytes: bytes) -> bytes:
    """Turn every int8 tensor into uint8 with zero point + 128 (same real values)."""
    m = load(model_bytes)
    for t in m.subgraphs[0].tensors:
        if t.type != 9:
            continue
        t.type = 3
        t.quantization.zeroPoint = [int(z) + 128 for z in t.quantization.zeroPoint]
        buf = m.buffers[t.buffer]
        if buf.data is not None and len(buf.data):
            buf.data = (np.asarray(buf.data, np.uint8) ^ 0x80).tolist()
    return pack(m)


def int16_pot_add(model_bytes: bytes, n: int):
    """16x8 ADD on the power-of-two path: pot_scale_int16 = true, s1 = s_out >= s2."""
    for k in range(n):
        m = load(model_bytes)
        sg = m.subgraphs[0]
        op = next(o for o in sg.operators if op_name(m, o) == "ADD")
        op.builtinOptions.potScaleInt16 = True
        e_out = int(RNG.integers(-14, -8))
        e2 = e_out - int(RNG.integers(0, 4))
        first = int(RNG.integers(0, 2))  # which input keeps the output scale
        exps = [e_out, e2] if first == 0 else [e2, e_out]
        for i, e in zip(op.inputs, exps):
            sg.tensors[i].quantization.scale = [2.0**e]
        sg.tensors[op.outputs[0]].quantization.scale = [2.0**e_out]
        check_model(f"add/16x8-pot#{k}", pack(m), batches=(64,), tflm=False)


def lone_requantize(model_bytes: bytes) -> bytes:
    """Turn the first int8 ADD into a lone int8 -> int8 QUANTIZE (requantize) node."""
    m = load(model_bytes)
    opcodes = m.operatorCodes
    q = schema.OperatorCodeT()
    q.builtinCode = q.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    q.version = 2
    opcodes.append(q)
    for op in m.subgraphs[0].operators:
        if op_name(m, op) == "ADD":
            op.opcodeIndex = len(opcodes) - 1
            op.inputs = op.inputs[:1]
            op.builtinOptionsType, op.builtinOptions = 0, None
            break
    return pack(m)


# ------------------------------------------------------------------------------------------
# Flatten chain and the stale-batch experiment
# ------------------------------------------------------------------------------------------
def run_chain(model_bytes: bytes, inputs: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Prepare all nodes (shared TensorInfos, constants fold), then invoke in order."""
    m = load(model_bytes)
    sg = m.subgraphs[0]
    shapes = {int(i): x.shape for i, x in zip(sg.inputs, inputs)}
    infos = tensor_infos(m, shapes)
    ctxs, datas = [], []
    for node in range(len(sg.operators)):
        ctx = make_ctx(m, node, infos, TFLITE_REF, share=True)
        ctxs.append(ctx)
        datas.append(KERNELS[ctx.op_name].prepare(ctx))
    values = {int(i): x for i, x in zip(sg.inputs, inputs)}
    for i, t in infos.items():
        if t.data is not None and i not in values:
            values[i] = np.asarray(t.data)
    for node, op in enumerate(sg.operators):
        xs = [None if i < 0 else values[int(i)] for i in op.inputs]
        outs = KERNELS[ctxs[node].op_name].invoke(ctxs[node], datas[node], xs)
        for o, y in zip(op.outputs, outs):
            values[int(o)] = y
    return values


def flatten_experiments():
    print("\n== Flatten / Reshape with a resized batch ==")
    L = tf.keras.layers
    for label, batch_size in (("dynamic batch", None), ("saved with batch 1", 1)):
        a = tf.keras.Input(shape=(5, 4, 3), batch_size=batch_size)
        model = tf.keras.Model(a, L.Flatten()(a))
        int8 = dict(rep=rep_for(model, [(-2, 2)]), io=tf.int8)
        for qlabel, kw in (("float", {}), ("int8", int8)):
            mb = convert(model, **kw)
            m = load(mb)
            ops = [op_name(m, op) for op in m.subgraphs[0].operators]
            shape_t = [
                (constant_data(m, m.subgraphs[0].tensors[op.inputs[1]]))
                for op in m.subgraphs[0].operators
                if op_name(m, op) == "RESHAPE" and len(op.inputs) > 1
            ]
            consts = [None if s is None else s.tolist() for s in shape_t]
            print(f"{label:20s} {qlabel:5s} ops={ops} reshape shape const={consts}")
            for batch in (1, 4):
                xs = random_inputs(m, batch, [(-2, 2)])
                try:
                    ref = run_ref(mb, xs, resize=batch != 1)
                    ref_out = ref[int(m.subgraphs[0].outputs[0])]
                    ref_msg = f"LiteRT ok {ref_out.shape}"
                except Exception as e:  # noqa: BLE001
                    ref_out, ref_msg = None, f"LiteRT error: {str(e).splitlines()[0][:150]}"
                try:
                    mine = run_chain(mb, xs)[int(m.subgraphs[0].outputs[0])]
                    same = (
                        ref_out is not None
                        and mine.shape == ref_out.shape
                        and mine.tobytes() == ref_out.tobytes()
                    )
                    my_msg = f"refimpl ok {mine.shape} {'== LiteRT' if same else '!= LiteRT'}"
                except RefimplError as e:
                    same = ref_out is None  # both refuse the model
                    my_msg = f"refimpl error: {str(e)[:230]}"
                print(f"    batch {batch}: {ref_msg} | {my_msg}")
                key = ("REF-chain", f"flatten[{label}]")  # agreement: same values or both refuse
                TALLY[key][0] += int(same)
                TALLY[key][1] += 1


def flavour_discriminators(tflm: bool):
    """Scales where float32 and float64 multipliers give different outputs (the unit tests'
    cases): RELU s_in 0.102 -> s_out 0.196; MUL 0.0778 * 0.0153 -> 0.0204 with q1 = 25."""
    print("\n== multiplier-precision discriminators (all 256 int8 codes) ==")
    L = tf.keras.layers
    for op in ("RELU", "MUL"):
        a = tf.keras.Input(shape=(256,), name="x")
        if op == "RELU":
            model, ranges = tf.keras.Model(a, L.ReLU()(a)), [(-3, 5)]
        else:
            b = tf.keras.Input(shape=(256,), name="y")
            model, ranges = tf.keras.Model([a, b], L.Multiply()([a, b])), [(-3, 5), (-3, 5)]
        m = load(convert(model, rep_for(model, ranges), io=tf.int8))
        sg = m.subgraphs[0]
        node = next(k for k, o in enumerate(sg.operators) if op_name(m, o) == op)
        op_t = sg.operators[node]
        codes = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
        if op == "RELU":
            params = [(op_t.inputs[0], 0.102, 0), (op_t.outputs[0], 0.196, -128)]
            xs = [codes]
        else:
            i1, i2, o1 = op_t.inputs[0], op_t.inputs[1], op_t.outputs[0]
            params = [(i1, 0.0778, 0), (i2, 0.0153, 0), (o1, 0.0204, 0)]
            xs = [np.full((1, 256), 25, np.int8), codes]
        for i, s, z in params:
            sg.tensors[i].quantization.scale = [float(np.float32(s))]
            sg.tensors[i].quantization.zeroPoint = [z]
        mb = pack(m)
        runs = {"LiteRT REF": run_ref(mb, xs)}
        if tflm:
            runs["TFLM"] = run_tflm(mb, xs, len(sg.tensors))
        for fl in (TFLITE_REF, TFLM):
            ctx = make_ctx(m, node, tensor_infos(m, {}), fl, share=False)
            kernel = KERNELS[op]
            xs_in = [runs["LiteRT REF"][int(i)] for i in op_t.inputs]
            out = kernel.invoke(ctx, kernel.prepare(ctx), xs_in)[0]
            agree = ", ".join(
                f"{rt} {int((out == v[int(op_t.outputs[0])]).sum())}/256" for rt, v in runs.items()
            )
            print(f"{op:5s} flavour {fl.name:10s} agrees with {agree}")


# ------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-tflm", action="store_true")
    args = ap.parse_args()
    tflm = not args.no_tflm
    n_sweep = 4 if args.quick else 12

    models = keras_models()
    built = {}
    for name, (model, ranges) in models.items():
        built[f"{name}/float"] = (convert(model), ranges)
        built[f"{name}/int8"] = (convert(model, rep_for(model, ranges), io=tf.int8), ranges)
    for name in ("add", "mul", "relu6", "concat"):
        model, ranges = models[name]
        built[f"{name}/int8-f32io"] = (convert(model, rep_for(model, ranges), io=None), ranges)
        built[f"{name}/int8-u8io"] = (convert(model, rep_for(model, ranges), io=tf.uint8), ranges)
    for name in ("add", "add_bcast", "mul", "mul_bcast", "relu", "relu6", "concat", "zeropad"):
        model, ranges = models[name]
        mb = convert(model, rep_for(model, ranges), io=tf.int16, int16=True)
        built[f"{name}/16x8"] = (mb, ranges)

    print("== models ==")
    for label, (mb, ranges) in built.items():
        names = check_model(label, mb, tflm=tflm, float_ranges=ranges)
        print(f"{label:24s} {' '.join(names)}")
    names = check_model("dense/fp16-weights", fp16_weight_model(), tflm=False)
    print(f"{'dense/fp16-weights':24s} {' '.join(names)}  (TFLM cannot load fp16 models)")

    ss_models = strided_slice_models()
    for label, mb in ss_models.items():
        names = check_model(label, mb, batches=(2,), tflm=tflm)
        print(f"{label:24s} {' '.join(names)}")
    strided_slice_fuzz(ss_models["ss_basic"], 100 if args.quick else 600)

    print("\n== quantization-parameter sweeps ==")
    for label in ("add/int8", "add_bcast/int8", "mul/int8", "mul_bcast/int8", "relu/int8",
                  "relu6/int8", "add/16x8", "mul/16x8", "relu/16x8", "relu6/16x8"):
        sweep(label, built[label][0], n_sweep, tflm)
    sweep("requantize", lone_requantize(built["add/int8"][0]), n_sweep, tflm)
    int16_pot_add(built["add/16x8"][0], n_sweep)

    print("\n== uint8 variants (REF only; TFLM has no uint8 kernels for these) ==")
    for label in ("add/int8", "add_bcast/int8", "mul/int8", "relu/int8", "relu6/int8",
                  "concat_relu6/int8", "concat/int8", "zeropad/int8", "flatten/int8"):
        u8 = to_uint8(built[label][0])
        names = check_model(label.replace("int8", "uint8"), u8, tflm=False)
        print(f"{label.replace('int8', 'uint8'):24s} {' '.join(names)}")
        if label.startswith(("add", "mul", "relu", "concat")):
            sweep(label.replace("int8", "uint8"), u8, n_sweep, tflm=False)
    sweep("requantize-uint8", to_uint8(lone_requantize(built["add/int8"][0])), n_sweep, tflm=False)
    print("done")

    flavour_discriminators(tflm)
    flatten_experiments()

    print("\n== exact / total per op ==")
    for (rt, op), (ok, tot) in sorted(TALLY.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"{op:22s} {rt:10s} {ok:>9d} / {tot:<9d} {'' if ok == tot else '  <-- differs'}")
    if NOTES:
        print("\n== notes ==")
        seen = set()
        for n in NOTES:
            key = re.sub(r"#sweep\d+", "", n)[:120]
            if key not in seen:
                seen.add(key)
                print(n[:400])


if __name__ == "__main__":
    main()
