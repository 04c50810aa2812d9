"""Differential check of the int16 (16x8) kernels, SUB and LEAKY_RELU against real runtimes.

Sections (each prints exact / total per op and runtime at the end):

* ``keras``: tiny Keras models (ADD, SUB, MUL with and without broadcasting, LEAKY_RELU,
  RELU, RELU6, LOGISTIC, TANH, SOFTMAX, MAX/AVERAGE_POOL_2D, CONCATENATION (with the
  requantizing QUANTIZE the converter inserts), PAD, PADV2, STRIDED_SLICE, RESHAPE, MEAN,
  SUM) converted with the 16x8 recipe (``Optimize.DEFAULT`` + representative data +
  ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``), with int16 and with
  float32 I/O (QUANTIZE float->int16, DEQUANTIZE int16->float); SUB and LEAKY_RELU also
  in float32 and full int8. Every node is re-evaluated by refimpl's kernel from the
  runtime's own input tensors (LiteRT ``BUILTIN_REF`` with flavour ``tflite-ref``,
  TFLite Micro with flavour ``tflm``), and the whole model runs through
  ``refimpl.Interpreter`` against each runtime's outputs ("e2e").
* ``sweep``: quantization parameters (scales, LEAKY_RELU alpha, SOFTMAX beta) edited in
  the flatbuffer, all 65536 int16 codes for the unary ops, power-of-two LOGISTIC/TANH
  input scales, QUANTIZE int16 <-> int8 by op surgery.
* ``special``: the int16 power-of-two ADD/SUB paths (``pot_scale_int16``), SUB with an
  output multiplier above one (LiteRT's undefined-behaviour evaluation; TFLM aborts).
* ``seanet``: the corpus models (../shared/corpus/tflm/integration_tests/seanet): refimpl
  (default flavour) against the goldens, refimpl ``tflm`` against the TFLM runtime, and
  why TFLM differs from the golden on some LEAKY_RELU models.

Usage::

    .venv/bin/python compare/dev_check_int16.py [--quick] [--no-tflm] [--only SECTION ...]

A development tool (needs tensorflow, ai-edge-litert, tflite-micro), not part of the
test suite. The runtimes run in child processes (compare.runtimes), so an abort in
one of them is reported instead of ending the script.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io as io_module
import os
import re
import sys
import types
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import refimpl  # noqa: E402
from compare.corpus import seanet_models, shaped_inputs  # noqa: E402
from compare.runtimes import get_runtime, shutdown_workers, tensor_keys  # noqa: E402
from compare.zoo.cache import get_or_build  # noqa: E402
from micro_ref import read_model_info  # noqa: E402
from refimpl.arithmetic import quantize_multiplier  # noqa: E402
from refimpl.context import OpContext, TensorInfo  # noqa: E402
from refimpl.errors import RefimplError, UnsupportedOpError  # noqa: E402
from refimpl.flavors import TFLITE_REF, TFLM, Flavor, Precision  # noqa: E402
from refimpl.kernels.leaky_relu import leaky_relu_real_multipliers  # noqa: E402
from refimpl.kernels.registry import KERNELS  # noqa: E402

TYPE_DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
INT8, INT16 = 9, 7
RUNTIMES = {"REF": "litert-ref", "TFLM": "tflm"}
FLAVORS = {"REF": TFLITE_REF, "TFLM": TFLM}
RNG = np.random.default_rng(20261116)

# TALLY[(runtime, op)] = [exact, total] (per node, elements); E2E[(runtime, label)] likewise
TALLY: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
E2E: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
NOTES: list[str] = []
_RT: dict[str, object] = {}


# ------------------------------------------------------------------------------------------
# Flatbuffer plumbing (tensorflow's generated schema module)
# ------------------------------------------------------------------------------------------
def schema():
    from tensorflow.lite.python import schema_py_generated

    return schema_py_generated


def load(model_bytes: bytes):
    S = schema()
    return S.ModelT.InitFromObj(S.Model.GetRootAsModel(model_bytes, 0))


def pack(model_t) -> bytes:
    b = flatbuffers.Builder(0)
    b.Finish(model_t.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def op_name(model_t, op) -> str:
    names = {v: k for k, v in vars(schema().BuiltinOperator).items() if not k.startswith("_")}
    oc = model_t.operatorCodes[op.opcodeIndex]
    return names[max(oc.builtinCode, oc.deprecatedBuiltinCode)]


def options_ns(op) -> types.SimpleNamespace | None:
    if op.builtinOptions is None:
        return None
    snake = lambda k: re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower()  # noqa: E731
    d = {}
    for k, v in vars(op.builtinOptions).items():
        d[snake(k)] = v.tolist() if isinstance(v, np.ndarray) else v
    return types.SimpleNamespace(**d)


def tensor_info(model_t, i: int, shape) -> TensorInfo:
    t = model_t.subgraphs[0].tensors[i]
    dtype = np.dtype(TYPE_DTYPES[t.type])
    buf = model_t.buffers[t.buffer].data
    data = None
    if buf is not None and len(buf) > 0:
        shape0 = [] if t.shape is None else list(t.shape)
        data = np.frombuffer(bytes(bytearray(buf)), dtype=dtype).reshape(shape0)
    q = t.quantization
    if q is not None and q.scale is not None and len(q.scale) > 0:
        scale, zp = np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64)
        qdim = int(q.quantizedDimension)
    else:
        scale, zp, qdim = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    return TensorInfo(i, name, dtype, tuple(shape), scale, zp, qdim, data)


def ops_of(model_t, name: str):
    return [(k, op) for k, op in enumerate(model_t.subgraphs[0].operators)
            if op_name(model_t, op) == name]


def set_quant(model_t, index: int, scale: float | None = None, zp: int | None = None):
    q = model_t.subgraphs[0].tensors[index].quantization
    if scale is not None:
        q.scale = np.array([scale], np.float32)
    if zp is not None:
        q.zeroPoint = np.array([zp], np.int64)


def scale_of(model_t, index: int) -> float:
    return float(model_t.subgraphs[0].tensors[index].quantization.scale[0])


# ------------------------------------------------------------------------------------------
# Runtimes and comparisons
# ------------------------------------------------------------------------------------------
def runtime(key: str):
    if key not in _RT:
        _RT[key] = get_runtime(RUNTIMES[key])
    return _RT[key]


def inputs_for(model_bytes: bytes, rows: int, lo: float = -4.0, hi: float = 4.0):
    """Random rows for every model input: full integer range, or uniform floats."""
    info = read_model_info(model_bytes)
    xs = []
    for i in info.inputs:
        t = info.tensors[i]
        shape = (rows,) + tuple(t.shape[1:])
        if t.dtype.kind in "iu":
            ii = np.iinfo(t.dtype)
            xs.append(RNG.integers(ii.min, ii.max + 1, size=shape).astype(t.dtype))
        else:
            xs.append(RNG.uniform(lo, hi, size=shape).astype(t.dtype))
    return xs


def run(key: str, model_bytes: bytes, inputs, label: str):
    """Run on a runtime with every tensor kept; ``{tensor index: array}`` or None."""
    res = runtime(key).run(model_bytes, inputs, intermediates=True)
    if not res.ok:
        NOTES.append(f"{label} {key}: {res.status}: {res.message[:300]}")
        return None, res
    keys = tensor_keys(read_model_info(model_bytes))
    return {i: res.tensors[k] for i, k in keys.items() if k in res.tensors}, res


#: Ops whose arithmetic differs between the flavours: also re-run with the *other*
#: flavour, quietly, to show that the choice matters (tallied as "REF~tflm" etc.).
CROSS_OPS = ("MUL", "LEAKY_RELU", "SOFTMAX", "RELU", "RELU6", "ADD", "SUB")


def check_nodes(key: str, model_bytes: bytes, values: dict, label: str,
                only: tuple[str, ...] | None = None, flavor: Flavor | None = None) -> None:
    """Re-run each node with refimpl from the runtime's own inputs; tally exact elements.

    With ``flavor`` (the other runtime's), only :data:`CROSS_OPS` are re-run, without
    notes, and tallied under ``"<key>~<flavor>"``.
    """
    model_t = load(model_bytes)
    cross = flavor is not None
    if cross:
        only = tuple(o for o in (only or CROSS_OPS) if o in CROSS_OPS)
        tally_key = f"{key}~{flavor.name}"
    else:
        flavor, tally_key = FLAVORS[key], key
    for node, op in enumerate(model_t.subgraphs[0].operators):
        name = op_name(model_t, op)
        if only is not None and name not in only:
            continue
        ins, outs = [int(i) for i in op.inputs], [int(o) for o in op.outputs]
        if name not in KERNELS or any(o not in values for o in outs):
            continue
        if any(i >= 0 and i not in values and not _is_const(model_t, i) for i in ins):
            continue
        get = lambda i: tensor_info(model_t, i, values[i].shape if i in values else  # noqa
                                    _static_shape(model_t, i))
        ctx = OpContext(node, name, [None if i < 0 else get(i) for i in ins],
                        [get(o) for o in outs], options_ns(op), flavor)
        xs = [None if i < 0 else values.get(i, ctx.inputs[k].data) for k, i in enumerate(ins)]
        want = values[outs[0]]
        tally = TALLY[(tally_key, name)]
        try:
            data = KERNELS[name].prepare(ctx)
            got = KERNELS[name].invoke(ctx, data, xs)[0]
        except UnsupportedOpError as e:
            if not cross:
                NOTES.append(f"{label} {key} node {node} {name}: skipped, refimpl refuses: {e}")
            continue
        except RefimplError as e:
            if not cross:
                NOTES.append(f"{label} {key} node {node} {name}: refimpl error: {e}")
            tally[1] += want.size
            continue
        if got.shape != want.shape or got.dtype != want.dtype:
            NOTES.append(f"{label} {key} node {node} {name}: {got.shape} {got.dtype} vs "
                         f"{want.shape} {want.dtype}")
            tally[1] += want.size
            continue
        same = _same(got, want)
        tally[0] += int(same.sum())
        tally[1] += want.size
        if not same.all() and not cross:
            bad = np.flatnonzero(~same.reshape(-1))[:4]
            NOTES.append(f"{label} {key} node {node} {name}: {int((~same).sum())}/{want.size} "
                         f"differ, e.g. refimpl {got.reshape(-1)[bad]} vs "
                         f"{want.reshape(-1)[bad]}")


def _static_shape(model_t, i: int) -> tuple[int, ...]:
    shape = model_t.subgraphs[0].tensors[i].shape
    return () if shape is None else tuple(int(d) for d in shape)


def _is_const(model_t, i: int) -> bool:
    t = model_t.subgraphs[0].tensors[i]
    buf = model_t.buffers[t.buffer].data
    return buf is not None and len(buf) > 0


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise equality per element (float NaN payloads and -0.0 included)."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    if a.dtype.kind == "f":
        return (a.view(np.uint8).reshape(a.size, -1) == b.view(np.uint8).reshape(b.size, -1)
                ).all(axis=1).reshape(a.shape)
    return a == b


def check_e2e(key: str, model_bytes: bytes, inputs, res, label: str) -> None:
    """The whole model through refimpl.Interpreter, outputs against the runtime's."""
    flavor = FLAVORS[key]
    try:
        it = refimpl.Interpreter(model_content=model_bytes, flavor=flavor.name)
        ours = it.run(*inputs)
    except RefimplError as e:
        NOTES.append(f"{label} e2e {key}: refimpl error {e}")
        E2E[key][1] += sum(o.size for o in res.outputs)
        return
    for k, (a, b) in enumerate(zip(ours, res.outputs)):
        same = _same(a, b) if a.shape == b.shape else np.zeros(b.shape, bool)
        E2E[key][0] += int(same.sum())
        E2E[key][1] += b.size
        if not same.all():
            NOTES.append(f"{label} e2e {key} output {k}: {int((~same).sum())}/{b.size} differ")


def check_model(label: str, model_bytes: bytes, rows: int, tflm: bool, lo=-4.0, hi=4.0,
                only=None, inputs=None, e2e: bool = True, keys=None) -> None:
    xs = inputs if inputs is not None else inputs_for(model_bytes, rows, lo, hi)
    for key in keys or (("REF", "TFLM") if tflm else ("REF",)):
        values, res = run(key, model_bytes, xs, label)
        if values is None:
            continue
        if res.batching == "per-row" and rows > 1:
            # Tensors joined row by row (a SHAPE result reads [N, 4]): check each row alone.
            for r in range(rows):
                row = [x[r:r + 1] for x in xs]
                v, rr = run(key, model_bytes, row, label)
                if v is not None:
                    check_nodes(key, model_bytes, v, label, only)
                    check_nodes(key, model_bytes, v, label, only,
                                flavor=TFLM if key == "REF" else TFLITE_REF)
                    if e2e:
                        check_e2e(key, model_bytes, row, rr, label)
            continue
        check_nodes(key, model_bytes, values, label, only)
        other = TFLM if key == "REF" else TFLITE_REF
        check_nodes(key, model_bytes, values, label, only, flavor=other)
        if e2e:
            check_e2e(key, model_bytes, xs, res, label)


# ------------------------------------------------------------------------------------------
# Keras models and conversion (cached with compare.zoo.cache)
# ------------------------------------------------------------------------------------------
def _keras_models():
    import keras
    import tensorflow as tf

    L = keras.layers
    out = {}
    a, b, c = keras.Input([6, 6, 4]), keras.Input([6, 6, 4]), keras.Input([1, 1, 4])
    out["binary"] = (keras.Model([a, b, c], [
        L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b]),
        a - c, a + c, L.ReLU()(a * c), c - a,
    ]), [(-2.0, 2.0), (-1.5, 1.0), (-0.5, 3.0)])
    x = keras.Input([8, 16])
    out["unary"] = (keras.Model(x, [
        L.LeakyReLU(negative_slope=0.2)(x), L.LeakyReLU(negative_slope=1.7)(x), L.ReLU()(x),
        L.ReLU(max_value=6.0)(x), L.Activation("sigmoid")(x), L.Activation("tanh")(x),
        L.Softmax()(x), L.Softmax()(x * 3.0),
    ]), [(-7.0, 9.0)])
    y = keras.Input([10, 10, 3])
    p1 = L.MaxPooling2D(2)(y)
    p2 = L.AveragePooling2D(3, strides=2, padding="same")(y * 2.0)
    out["layout"] = (keras.Model(y, [
        L.Concatenate()([p1, p2]), L.ZeroPadding2D(((1, 0), (2, 1)))(y), L.Reshape((5, 60))(y),
        L.GlobalAveragePooling2D()(y),
        L.Lambda(lambda t: tf.reduce_mean(t, axis=[3], keepdims=True))(y),
        L.Lambda(lambda t: tf.strided_slice(t, [0, 1, 9, 0], [0, 8, 0, 3], [1, 2, -2, 1],
                                            begin_mask=1, end_mask=1))(y),
        L.MaxPooling2D(3, strides=2, padding="same")(y),
    ]), [(-3.0, 4.0)])
    z = keras.Input([6, 5, 4])
    out["sum"] = (keras.Model(z, [  # LiteRT's reference int16 SUM is broken: TFLM only
        L.Lambda(lambda t: tf.reduce_sum(t, axis=[1, 2]))(z),
        L.Lambda(lambda t: tf.reduce_sum(t, axis=[3], keepdims=True))(z),
    ]), [(-0.2, 0.2)])
    d, e = keras.Input([5, 7]), keras.Input([5, 7])
    out["sub_leaky"] = (keras.Model([d, e], [
        L.Subtract()([d, e]), L.LeakyReLU(negative_slope=0.3)(d), e - d[:, :1, :],
    ]), [(-3.0, 3.0), (-1.0, 2.0)])
    return out


def _input_order(model) -> list[int]:
    import tensorflow as tf

    fm = load(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    sg = fm.subgraphs[0]
    names = [sg.tensors[i].name.decode() for i in sg.inputs]
    keras_names = [i.name for i in model.inputs]
    return [next(k for k, n in enumerate(keras_names) if f"_{n}:" in nm) for nm in names]


def _convert(params, progress):
    with contextlib.redirect_stdout(io_module.StringIO()):  # Keras export chatter
        return {"model.tflite": _convert_quietly(params)}


def _convert_quietly(params) -> bytes:
    import tensorflow as tf

    model, ranges = _keras_models()[params["model"]]
    order = _input_order(model)
    rng = np.random.default_rng(7)
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if params["recipe"] != "float32":
        c.optimizations = [tf.lite.Optimize.DEFAULT]

        def rep():
            for _ in range(48):
                yield [rng.uniform(*ranges[k], size=[1] + list(model.inputs[k].shape[1:]))
                       .astype(np.float32) for k in order]

        c.representative_dataset = rep
        if params["recipe"] == "16x8":
            c.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = {"int16": tf.int16, "int8": tf.int8, "float32": None}[params["io"]]
        if io is not None:
            c.inference_input_type = io
            c.inference_output_type = io
    return c.convert()


def converted(model: str, recipe: str = "16x8", io: str = "int16") -> bytes:
    params = {"model": model, "recipe": recipe, "io": io, "builder_version": 3}
    return get_or_build(f"dev-int16-{model}-{recipe}-{io}", _convert, params,
                        ["model.tflite"], progress=lambda m: None)["model.tflite"]


# ------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------
def section_keras(quick: bool, tflm: bool) -> None:
    rows = 4 if quick else 16
    specs = [(m, "16x8", io) for m in ("binary", "unary", "layout", "sub_leaky", "sum")
             for io in ("int16", "float32")]
    specs += [("sub_leaky", "int8", "int8"), ("sub_leaky", "int8", "float32"),
              ("sub_leaky", "float32", "float32")]
    for model, recipe, io in specs:
        label = f"keras {model}/{recipe}/{io}"
        if model == "sum":  # LiteRT REF int16 SUM has no reproducible result (mean.py)
            if tflm:
                check_model(label, converted(model, recipe, io), rows, False, lo=-0.3, hi=0.3,
                            keys=("TFLM",))
            continue
        check_model(label, converted(model, recipe, io), rows, tflm, lo=-8.0, hi=8.0)


def _edited(base: bytes, fn) -> bytes:
    m = load(base)
    fn(m)
    return pack(m)


def _log_uniform(lo: float, hi: float) -> float:
    return float(np.exp(RNG.uniform(np.log(lo), np.log(hi))))


def section_sweep(quick: bool, tflm: bool) -> None:
    n = 6 if quick else 30
    rows = 2 if quick else 4
    binary = converted("binary")
    for k in range(n):  # ADD / SUB / MUL int16: random input and output scales
        def edit(m):
            for _, op in ops_of(m, "ADD") + ops_of(m, "SUB") + ops_of(m, "MUL"):
                i1, i2, o = int(op.inputs[0]), int(op.inputs[1]), int(op.outputs[0])
                s1, s2 = _log_uniform(1e-5, 1e-3), _log_uniform(1e-5, 1e-3)
                for idx, s in ((i1, s1), (i2, s2)):
                    if scale_of(m, idx) != s:
                        set_quant(m, idx, s)
                if op_name(m, op) == "MUL":
                    set_quant(m, o, s1 * s2 * 32768 * RNG.uniform(0.3, 3.0))
                else:
                    set_quant(m, o, max(s1, s2) * RNG.uniform(0.6, 4.0))
        check_model(f"sweep binary #{k}", _edited(binary, edit), rows, tflm,
                    only=("ADD", "SUB", "MUL"), e2e=False)

    codes = np.arange(-32768, 32768, dtype=np.int16).reshape(-1, 8, 16)[:: (8 if quick else 1)]
    unary = converted("unary")
    for k in range(n):  # unary int16 ops over every code
        def edit(m):
            sg = m.subgraphs[0]
            s_in = _log_uniform(1e-5, 2e-3)
            if k % 5 == 4:
                s_in = 2.0 ** RNG.integers(-13, -9)  # POT input scales (LOGISTIC/TANH)
            set_quant(m, int(sg.inputs[0]), s_in)
            for _, op in ops_of(m, "LEAKY_RELU"):
                op.builtinOptions.alpha = float(RNG.choice([0.01, 0.2, 0.3, 1.7, -0.4, 3.1]))
                set_quant(m, int(op.outputs[0]), s_in * RNG.uniform(0.4, 3.0))
            for nm in ("RELU", "RELU6"):
                for _, op in ops_of(m, nm):
                    set_quant(m, int(op.outputs[0]), s_in * RNG.uniform(0.3, 2.0))
            for _, op in ops_of(m, "SOFTMAX"):
                op.builtinOptions.beta = float(RNG.choice([1.0, 0.5, 2.3, 0.1]))
        model = _edited(unary, edit)
        xs = [codes[: (64 if quick else 512)]] if k % 5 != 4 else [codes]
        check_model(f"sweep unary #{k}", model, len(xs[0]), tflm and k % 3 == 0,
                    inputs=xs, e2e=False)

    layout = converted("layout")
    for k in range(n // 2):  # MEAN / SUM / pooling / requantize with other output scales
        def edit(m):
            for nm in ("MEAN", "SUM", "QUANTIZE"):
                for _, op in ops_of(m, nm):
                    s = scale_of(m, int(op.inputs[0]))
                    set_quant(m, int(op.outputs[0]), s * _log_uniform(0.05, 20.0))
        check_model(f"sweep layout #{k}", _edited(layout, edit), rows, tflm,
                    only=("MEAN", "SUM", "QUANTIZE"), e2e=False)

    for k in range(n // 2):  # QUANTIZE int16 -> int8 and int8 -> int16 by op surgery
        for src, dst in ((INT16, INT8), (INT16, INT16), (INT8, INT16)):
            model = _lone_requantize(src, dst)
            check_model(f"requantize {src}->{dst} #{k}", model, rows, tflm, only=("QUANTIZE",),
                        e2e=False)


def _lone_requantize(src: int, dst: int) -> bytes:
    """The first LEAKY_RELU of sub_leaky turned into QUANTIZE src -> dst (random scales)."""
    base = converted("sub_leaky", *(("16x8", "int16") if src == INT16 else ("int8", "int8")))
    m = load(base)
    S = schema()
    node, op = ops_of(m, "LEAKY_RELU")[0]
    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.QUANTIZE
    code.version = 1
    m.operatorCodes.append(code)
    op.opcodeIndex = len(m.operatorCodes) - 1
    op.builtinOptionsType, op.builtinOptions = 0, None
    t_out = m.subgraphs[0].tensors[int(op.outputs[0])]
    t_out.type = dst
    s_in = scale_of(m, int(op.inputs[0]))
    zp = 0 if dst == INT16 else int(RNG.integers(-100, 100))
    set_quant(m, int(op.outputs[0]), s_in * _log_uniform(0.002, 300.0), zp)
    return pack(m)


def _padv2(value: int) -> bytes:
    """The layout model's PAD turned into PADV2 with an int16 constant (output's params).

    The 16x8 converter cannot make this itself: it leaves PADV2's constant float32, which
    both runtimes (and refimpl) refuse.
    """
    m = load(converted("layout"))
    S = schema()
    _, op = ops_of(m, "PAD")[0]
    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.PADV2
    code.version = 4
    m.operatorCodes.append(code)
    op.opcodeIndex = len(m.operatorCodes) - 1
    op.builtinOptionsType = S.BuiltinOptions.PadV2Options
    op.builtinOptions = S.PadV2OptionsT()
    buf = S.BufferT()
    buf.data = np.frombuffer(np.array([value], np.int16).tobytes(), np.uint8)
    m.buffers.append(buf)
    out_t = m.subgraphs[0].tensors[int(op.outputs[0])]
    t = S.TensorT()
    t.shape, t.type, t.name = np.array([1], np.int32), INT16, b"pad_value"
    t.buffer = len(m.buffers) - 1
    t.quantization = S.QuantizationParametersT()
    t.quantization.scale = np.array(out_t.quantization.scale, np.float32)
    t.quantization.zeroPoint = np.array(out_t.quantization.zeroPoint, np.int64)
    m.subgraphs[0].tensors.append(t)
    op.inputs = np.array(list(op.inputs) + [len(m.subgraphs[0].tensors) - 1], np.int32)
    return pack(m)


def section_special(quick: bool, tflm: bool) -> None:
    rows = 4
    for value in (0, 1234, -32768):
        check_model(f"padv2 int16 value {value}", _padv2(value), rows, tflm, only=("PADV2",))
    # int16 power-of-two ADD / SUB (LiteRT only: TFLM always takes the general path).
    # Same-shape ADD only: LiteRT's power-of-two ADD has no broadcasting kernel and aborts.
    for k, (ea, eb, ec, eo) in enumerate([(-10, -12, -10, -10), (-11, -11, -13, -11),
                                          (-9, -9, -9, -9), (-12, -10, -10, -10)]):
        def edit(m):
            sg = m.subgraphs[0]
            for idx in sg.inputs:  # the broadcast input c has shape [1, 1, 1, 4]
                shape = tuple(sg.tensors[int(idx)].shape)
                e = ec if shape == (1, 1, 1, 4) else (ea if idx == min(
                    i for i in sg.inputs if tuple(sg.tensors[int(i)].shape) != (1, 1, 1, 4)
                ) else eb)
                set_quant(m, int(idx), 2.0 ** e)
            for _, op in ops_of(m, "ADD") + ops_of(m, "SUB"):
                same = all(tuple(sg.tensors[int(i)].shape) == tuple(sg.tensors[int(op.inputs[0])]
                           .shape) for i in op.inputs)
                if op_name(m, op) == "SUB" or same:
                    op.builtinOptions.potScaleInt16 = True
                set_quant(m, int(op.outputs[0]), 2.0 ** eo)
            for _, op in ops_of(m, "MUL"):
                set_quant(m, int(op.outputs[0]), 2.0 ** eo)
        model = _edited(converted("binary"), edit)
        check_model(f"pot add/sub #{k}", model, rows, tflm, only=("ADD", "SUB"), e2e=False)
    # SUB whose real output multiplier exceeds one (same-shape and broadcasting SUB nodes)
    for ratio in (1.5, 3.7, 100.0, 5000.0):
        for base in (converted("sub_leaky"), converted("sub_leaky", "int8", "int8")):
            def edit(m):
                for _, op in ops_of(m, "SUB"):
                    s1, s2 = scale_of(m, int(op.inputs[0])), scale_of(m, int(op.inputs[1]))
                    ls = 15 if m.subgraphs[0].tensors[int(op.outputs[0])].type == INT16 else 20
                    set_quant(m, int(op.outputs[0]), 2 * max(s1, s2) / 2**ls / ratio)
            model = _edited(base, edit)
            label = f"sub multiplier>1 x{ratio}"
            xs = inputs_for(model, 3)
            values, res = run("REF", model, xs, label)
            if values is not None:
                check_nodes("REF", model, values, label, only=("SUB",))
            try:
                refimpl.Interpreter(model_content=model, flavor="tflm").run(*[x[:1] for x in xs])
                ours = "runs (unexpected)"
            except RefimplError as e:
                ours = f"refuses ({type(e).__name__})"
            if tflm:
                res = runtime("TFLM").run(model, [x[:1] for x in xs])
                theirs = f"{res.status}" if not res.ok else "ran (unexpected)"
                NOTES.append(f"{label}: TFLM {theirs}; refimpl flavour tflm {ours}")


def section_seanet(tflm: bool) -> None:
    models = [m for m in seanet_models()
              if re.match(r"seanet/(add|sub|leaky_relu|pad|quantize|strided_slice)\d", m.name)]
    per_op: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0, 0])
    leaky_multipliers_differ = leaky_models = 0
    for m in models:
        op = re.sub(r"\d+$", "", m.name.split("/")[1])
        it = refimpl.Interpreter(model_content=m.content)
        xs = shaped_inputs(m, it.get_input_details())
        got = it.run(*xs)[0].reshape(-1)
        tally = per_op[op]
        tally[0] += int(np.array_equal(got, m.golden))
        tally[1] += 1
        if not np.array_equal(got, m.golden):
            NOTES.append(f"{m.name}: refimpl != golden on {int((got != m.golden).sum())}")
        if not tflm:
            continue
        res = runtime("TFLM").run(m.content, xs)
        if not res.ok:
            NOTES.append(f"{m.name} TFLM: {res.status} {res.message[:200]}")
            continue
        ours = refimpl.Interpreter(model_content=m.content, flavor="tflm").run(*xs)[0]
        t = res.outputs[0].reshape(-1)
        tally[2] += int(np.array_equal(ours.reshape(-1), t))
        tally[3] += int(np.array_equal(t, m.golden))
        tally[4] += 1
        if op == "leaky_relu":
            leaky_multipliers_differ += int("f32" in _explain_leaky(m.content))
            leaky_models += 1
        if not np.array_equal(t, m.golden):
            bad = np.flatnonzero(t != m.golden)
            x = xs[0].reshape(-1)
            cases = ", ".join(f"input {int(x[i])}: golden {int(m.golden[i])} TFLM {int(t[i])}"
                              for i in bad[:4])
            NOTES.append(f"{m.name}: TFLM != golden on {bad.size}/{t.size} ({cases}); "
                         + _explain_leaky(m.content))
    print("\n== seanet corpus ==")
    print(f"{'op':14s} {'refimpl==golden':>16s} {'refimpl-tflm==TFLM':>19s} {'TFLM==golden':>13s}")
    for op, (g, n, rt, tg, nt) in sorted(per_op.items()):
        print(f"{op:14s} {g:>10d} / {n:<3d} {rt:>12d} / {nt:<3d} {tg:>7d} / {nt:<3d}")
    if leaky_models:
        print(f"LEAKY_RELU models whose float32 and float64 multipliers differ: "
              f"{leaky_multipliers_differ} / {leaky_models}")


def _explain_leaky(model_bytes: bytes) -> str:
    """The LEAKY_RELU multipliers in float32 (LiteRT, goldens) and float64 (TFLM wheel)."""
    m = load(model_bytes)
    found = ops_of(m, "LEAKY_RELU")
    if not found:
        return "not a LEAKY_RELU model"
    _, op = found[0]
    s_in, s_out = scale_of(m, int(op.inputs[0])), scale_of(m, int(op.outputs[0]))
    alpha = float(np.float32(op.builtinOptions.alpha))
    parts = []
    for what, k in (("alpha", 0), ("identity", 1)):
        r32 = leaky_relu_real_multipliers(s_in, alpha, s_out, Precision.F32)[k]
        r64 = leaky_relu_real_multipliers(s_in, alpha, s_out, Precision.F64)[k]
        q32, q64 = quantize_multiplier(r32), quantize_multiplier(r64)
        if q32 != q64:
            parts.append(f"{what} multiplier f32 {r32!r} -> {q32} vs f64 {r64!r} -> {q64}")
    return "; ".join(parts) or "multipliers agree (unexplained)"


def report() -> None:
    print("\n== per node: exact / total elements (REF: LiteRT BUILTIN_REF vs flavour "
          "tflite-ref; TFLM: TFLM vs flavour tflm) ==")
    for (key, name), (ok, total) in sorted(TALLY.items()):
        if "~" not in key:
            print(f"{key:5s} {name:16s} {ok:>10d} / {total:<10d} {'OK' if ok == total else 'DIFF'}")
    print("\n== the other flavour on the same runtime tensors (differences expected) ==")
    for (key, name), (ok, total) in sorted(TALLY.items()):
        if "~" in key:
            print(f"{key:16s} {name:12s} {total - ok:>8d} of {total:<8d} differ")
    print("\n== end to end (refimpl.Interpreter outputs vs runtime outputs) ==")
    for key, (ok, total) in sorted(E2E.items()):
        print(f"{key:5s} {ok:>10d} / {total:<10d} {'OK' if ok == total else 'DIFF'}")
    if NOTES:
        print("\n== notes ==")
        for n in NOTES:
            print(" -", n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-tflm", action="store_true")
    ap.add_argument("--only", nargs="*", default=["keras", "sweep", "special", "seanet"])
    a = ap.parse_args()
    tflm = not a.no_tflm
    try:
        if "keras" in a.only:
            section_keras(a.quick, tflm)
        if "sweep" in a.only:
            section_sweep(a.quick, tflm)
        if "special" in a.only:
            section_special(a.quick, tflm)
        if "seanet" in a.only:
            section_seanet(tflm)
        report()
    finally:
        shutdown_workers()


if __name__ == "__main__":
    main()
