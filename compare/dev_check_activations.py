"""Differential check of SOFTMAX, LOGISTIC, TANH, MEAN and SUM against the real runtimes.

Builds tiny Keras models (Softmax, Activation('sigmoid'), Activation('tanh'),
GlobalAveragePooling2D, tf.reduce_mean / tf.reduce_sum with keepdims True/False over
several axes), converts them to float32 and to full int8 (TFLITE_BUILTINS_INT8, int8
I/O), runs them on LiteRT ``BUILTIN_REF`` and on TFLite Micro with every tensor kept,
and re-evaluates each node with refimpl's kernel from the runtime's own input tensor
(flavour ``tflite-ref`` resp. ``tflm``). Also: quantization-parameter sweeps (scales,
zero points and beta edited in the flatbuffer; all 256 int8 codes for the elementwise
ops), refimpl's LUT path vs its fixed-point path, and the conditions under which the
runtimes abort (run in child processes).

Usage::

    .venv/bin/python compare/dev_check_activations.py [--quick] [--no-tflm]

A development tool (needs tensorflow, ai-edge-litert, tflite-micro), not part of the
test suite. Prints exact / total per op and runtime, then notes on every mismatch.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import types
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from refimpl.context import OpContext, TensorInfo  # noqa: E402
from refimpl.errors import RefimplError  # noqa: E402
from refimpl.flavors import TFLITE_REF, TFLM, Flavor  # noqa: E402
from refimpl.kernels import logistic, mean, softmax, tanh  # noqa: E402

KERNELS = {
    "SOFTMAX": softmax.SOFTMAX,
    "LOGISTIC": logistic.LOGISTIC,
    "TANH": tanh.TANH,
    "MEAN": mean.MEAN,
    "SUM": mean.SUM,
}
TYPE_DTYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
FLAVORS = {"REF": TFLITE_REF, "TFLM": TFLM}
RNG = np.random.default_rng(20261122)

# TALLY[(runtime, op, kind)] = [exact, total]; kind is the input dtype name
TALLY: dict[tuple[str, str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
ULPS: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
NOTES: list[str] = []


# ------------------------------------------------------------------------------------------
# Flatbuffer plumbing (tensorflow's generated schema module, imported lazily)
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
    return types.SimpleNamespace(**{snake(k): v for k, v in vars(op.builtinOptions).items()})


def tensor_info(model_t, i: int, shape: tuple[int, ...], details: dict | None) -> TensorInfo:
    """A TensorInfo; quantization from the runtime's get_tensor_details() when given."""
    t = model_t.subgraphs[0].tensors[i]
    dtype = np.dtype(TYPE_DTYPES[t.type])
    buf = model_t.buffers[t.buffer].data
    data = None
    if buf is not None and len(buf) > 0:
        data = np.frombuffer(bytes(bytearray(buf)), dtype=dtype).reshape(list(t.shape))
    if details is not None:
        qp = details["quantization_parameters"]
        scale = np.asarray(qp["scales"], np.float32)
        zp = np.asarray(qp["zero_points"], np.int64)
    elif t.quantization is not None and t.quantization.scale is not None:
        scale = np.asarray(t.quantization.scale, np.float32)
        zp = np.asarray(t.quantization.zeroPoint, np.int64)
    else:
        scale, zp = np.zeros(0, np.float32), np.zeros(0, np.int64)
    name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
    return TensorInfo(i, name, dtype, tuple(shape), scale, zp, 0, data)


def edit(model_bytes: bytes, fn) -> bytes:
    m = load(model_bytes)
    fn(m)
    return pack(m)


def first_op(model_t, name: str):
    sg = model_t.subgraphs[0]
    return next(op for op in sg.operators if op_name(model_t, op) == name)


def set_quant(model_t, tensor_index: int, scale: float | None = None, zp: int | None = None):
    q = model_t.subgraphs[0].tensors[tensor_index].quantization
    if scale is not None:
        q.scale = [float(scale)]
    if zp is not None:
        q.zeroPoint = [int(zp)]


# ------------------------------------------------------------------------------------------
# Runtimes
# ------------------------------------------------------------------------------------------
def run_ref(model_bytes: bytes, x: np.ndarray):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_content=model_bytes,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    d = it.get_input_details()[0]
    if tuple(d["shape"]) != x.shape:
        it.resize_tensor_input(d["index"], list(x.shape))
    it.allocate_tensors()
    it.set_tensor(d["index"], x)
    it.invoke()
    values, details = {}, {}
    for td in it.get_tensor_details():
        details[td["index"]] = td
        try:
            values[td["index"]] = np.array(it.get_tensor(td["index"]))
        except ValueError:
            pass
    return values, details


def run_tflm(model_bytes: bytes, x: np.ndarray, n_tensors: int):
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(
        model_bytes, arena_size=8 << 20,
        intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
    )
    values = {}
    for row in x:  # TFLM keeps the converted batch of 1
        it.set_input(row[None], 0)
        it.invoke()
        for i in range(n_tensors):
            try:
                values.setdefault(i, []).append(np.array(it.GetTensor(i, 0)["tensor_data"]))
            except Exception:  # noqa: BLE001 - tensors TFLM does not keep
                pass
    return {i: np.concatenate(v, axis=0) if v[0].ndim else np.stack(v) for i, v in values.items()}


# ------------------------------------------------------------------------------------------
# Per-node comparison
# ------------------------------------------------------------------------------------------
def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def check_nodes(runtime: str, model_bytes: bytes, values: dict, details: dict | None, label: str):
    model_t = load(model_bytes)
    sg = model_t.subgraphs[0]
    flavor: Flavor = FLAVORS[runtime]
    for node, op in enumerate(sg.operators):
        name = op_name(model_t, op)
        if name not in KERNELS:
            continue
        ins = [int(i) for i in op.inputs]
        outs = [int(o) for o in op.outputs]
        if any(i not in values for i in ins[:1]) or any(o not in values for o in outs):
            NOTES.append(f"{label} {runtime} node {node} {name}: tensors not kept")
            continue

        def info(i):
            constant = model_t.buffers[sg.tensors[i].buffer].data is not None
            shape = values[i].shape if i in values and not constant else tuple(sg.tensors[i].shape)
            return tensor_info(model_t, i, shape, details.get(i) if details else None)

        ctx = OpContext(node, name, [info(i) for i in ins], [info(o) for o in outs],
                        options_ns(op), flavor)
        want = values[outs[0]]
        kind = np.dtype(want.dtype).name
        key = (runtime, name, kind)
        try:
            data = KERNELS[name].prepare(ctx)
            got = KERNELS[name].invoke(ctx, data, [values.get(i) for i in ins])[0]
        except RefimplError as e:
            NOTES.append(f"{label} {runtime} node {node} {name}: refimpl error: {e}")
            TALLY[key][1] += want.size
            continue
        if got.shape != want.shape or got.dtype != want.dtype:
            NOTES.append(f"{label} {runtime} {name}: shape/dtype {got.shape} {got.dtype} "
                         f"vs {want.shape} {want.dtype}")
            TALLY[key][1] += want.size
            continue
        if want.dtype == np.float32:
            same = (got == want) | (np.isnan(got) & np.isnan(want))
            ULPS[(runtime, name)].update(ulp_distance(got, want)[~same].tolist())
        else:
            same = got == want
        TALLY[key][0] += int(same.sum())
        TALLY[key][1] += int(same.size)
        if not same.all():
            bad = np.flatnonzero(~same.reshape(-1))[:4]
            msg = (f"{label} {runtime} node {node} {name}: "
                   f"{int((~same).sum())}/{same.size} differ; "
                   f"got {got.reshape(-1)[bad].tolist()} want {want.reshape(-1)[bad].tolist()}")
            if want.dtype != np.float32:
                NOTES.append(msg)


def check(label: str, model_bytes: bytes, x: np.ndarray, tflm: bool):
    try:
        values, details = run_ref(model_bytes, x)
        check_nodes("REF", model_bytes, values, details, label)
    except Exception as e:  # noqa: BLE001
        NOTES.append(f"{label}: REF failed: {type(e).__name__}: {str(e)[:200]}")
    if tflm:
        try:
            n = len(load(model_bytes).subgraphs[0].tensors)
            values = run_tflm(model_bytes, x, n)
            check_nodes("TFLM", model_bytes, values, None, label)
        except Exception as e:  # noqa: BLE001
            NOTES.append(f"{label}: TFLM failed: {type(e).__name__}: {str(e)[:200]}")


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------
def convert(model, shape, lo: float, hi: float, quantize: bool = True) -> bytes:
    import tensorflow as tf

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        def rep():
            for _ in range(64):
                yield [RNG.uniform(lo, hi, size=(1,) + tuple(shape)).astype(np.float32)]

        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.representative_dataset = rep
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
    return c.convert()


def keras_model(kind: str, shape, **kw):
    import tensorflow as tf

    L = tf.keras.layers
    inp = tf.keras.Input(shape=shape)
    if kind == "softmax":
        y = L.Softmax(axis=-1)(inp)
    elif kind in ("sigmoid", "tanh"):
        y = L.Activation(kind)(inp)
    elif kind == "gap":
        y = L.GlobalAveragePooling2D(keepdims=kw.get("keepdims", False))(inp)
    elif kind == "mean":
        y = L.Lambda(lambda t: tf.reduce_mean(t, axis=kw["axis"], keepdims=kw["keepdims"]))(inp)
    elif kind == "sum":
        y = L.Lambda(lambda t: tf.reduce_sum(t, axis=kw["axis"], keepdims=kw["keepdims"]))(inp)
    else:
        raise ValueError(kind)
    return tf.keras.Model(inp, y)


def random_input(model_bytes: bytes, batch: int, lo: float = -4, hi: float = 4) -> np.ndarray:
    m = load(model_bytes)
    t = m.subgraphs[0].tensors[m.subgraphs[0].inputs[0]]
    shape = (batch,) + tuple(t.shape[1:])
    if TYPE_DTYPES[t.type] == np.int8:
        return RNG.integers(-128, 128, size=shape).astype(np.int8)
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def all_codes(batch_rows: int = 1) -> np.ndarray:
    """All 256 int8 codes in one row of width 256 (batch of ``batch_rows`` permutations)."""
    codes = np.arange(-128, 128, dtype=np.int8)
    return np.stack([codes] + [RNG.permutation(codes) for _ in range(batch_rows - 1)])


# ------------------------------------------------------------------------------------------
# Sections
# ------------------------------------------------------------------------------------------
def section_keras(quick: bool, tflm: bool):
    """Converter-made models: int8 and float32, random data and all codes."""
    cases = [
        ("softmax10", "softmax", (10,), {}, (-4, 4)),
        ("softmax3d", "softmax", (4, 6, 20), {}, (-8, 8)),
        ("softmax_small", "softmax", (33,), {}, (-0.05, 0.05)),
        ("sigmoid", "sigmoid", (256,), {}, (-8, 8)),
        ("sigmoid_narrow", "sigmoid", (256,), {}, (-0.7, 2.5)),
        ("tanh", "tanh", (256,), {}, (-4, 4)),
        ("tanh_wide", "tanh", (256,), {}, (-30, 10)),
        ("gap", "gap", (5, 7, 3), {}, (-3, 3)),
        ("gap_keep", "gap", (6, 6, 8), {"keepdims": True}, (-1, 5)),
        ("mean_axis1", "mean", (9, 4), {"axis": 1, "keepdims": False}, (-2, 2)),
        ("mean_axis-1_keep", "mean", (3, 5, 7), {"axis": -1, "keepdims": True}, (-2, 6)),
        ("mean_12_keep", "mean", (4, 5, 6), {"axis": [1, 2], "keepdims": True}, (-5, 1)),
        ("mean_13", "mean", (4, 5, 6), {"axis": [1, 3], "keepdims": False}, (-5, 5)),
        ("mean_2", "mean", (4, 5, 6), {"axis": [2], "keepdims": False}, (0, 5)),
        ("mean_last", "mean", (3, 13), {"axis": [1], "keepdims": False}, (-1, 1)),
        ("sum_axis1", "sum", (9, 4), {"axis": 1, "keepdims": False}, (-2, 2)),
        ("sum_12_keep", "sum", (4, 5, 6), {"axis": [1, 2], "keepdims": True}, (-1, 1)),
    ]
    if quick:
        cases = cases[::3]
    for label, kind, shape, kw, (lo, hi) in cases:
        model = keras_model(kind, shape, **kw)
        for quantize in (True, False):
            mb = convert(model, shape, lo, hi, quantize)
            tag = f"{label}/{'int8' if quantize else 'f32'}"
            if kind in ("sigmoid", "tanh") and quantize:
                check(tag + "/codes", mb, all_codes(4), tflm)
            for batch in (1, 3) if not quick else (2,):
                x = random_input(mb, batch, lo * 1.2, hi * 1.2)
                check(tag, mb, x, tflm)


def sweep_elementwise(kind: str, n: int, tflm: bool, edit_output: bool = False):
    """LOGISTIC / TANH: random input scale and zero point, all 256 codes."""
    base = convert(keras_model(kind, (256,)), (256,), -4, 4)
    name = "LOGISTIC" if kind == "sigmoid" else "TANH"
    runtime_agree = [0, 0]
    for k in range(n):
        s_in = float(np.exp(RNG.uniform(np.log(1e-3), np.log(2.0))))
        zp_in = int(RNG.integers(-128, 128))
        out_scale = out_zp = None
        if edit_output:
            out_scale, out_zp = float(RNG.uniform(0.002, 0.02)), int(RNG.integers(-20, 20))

        def fn(m, s_in=s_in, zp_in=zp_in, out_scale=out_scale, out_zp=out_zp):
            op = first_op(m, name)
            set_quant(m, op.inputs[0], s_in, zp_in)
            if out_scale is not None:
                set_quant(m, op.outputs[0], out_scale, out_zp)

        mb = edit(base, fn)
        edited = " out-edited" if edit_output else ""
        label = f"sweep {name}{edited} #{k} s_in={s_in:.4g} zp={zp_in}"
        x = all_codes(1)
        check(label, mb, x, tflm)
        if tflm and not edit_output:
            ref, _ = run_ref(mb, x)
            micro = run_tflm(mb, x, len(load(mb).subgraphs[0].tensors))
            out = int(first_op(load(mb), name).outputs[0])
            runtime_agree[0] += int((ref[out] == micro[out]).sum())
            runtime_agree[1] += ref[out].size
    if tflm and not edit_output:
        NOTES.append(f"{name} runtime vs runtime (LiteRT LUT vs TFLM fixed point, all codes, "
                     f"{n} scales): {runtime_agree[0]}/{runtime_agree[1]} equal")


def sweep_softmax(n: int, tflm: bool):
    base = convert(keras_model("softmax", (16,)), (16,), -4, 4)
    for k in range(n):
        s_in = float(np.exp(RNG.uniform(np.log(1e-4), np.log(8.0))))
        zp_in = int(RNG.integers(-128, 128))
        beta = float(RNG.choice([1.0, RNG.uniform(0.05, 4.0)]))

        def fn(m, s_in=s_in, zp_in=zp_in, beta=beta):
            op = first_op(m, "SOFTMAX")
            set_quant(m, op.inputs[0], s_in, zp_in)
            op.builtinOptions.beta = beta

        mb = edit(base, fn)
        x = RNG.integers(-128, 128, size=(32, 16)).astype(np.int8)
        x[0] = 5  # all equal
        x[1] = -128
        x[1, 3] = 127  # one-hot
        x[2] = np.clip(np.arange(16) * 17 - 128, -128, 127)
        check(f"sweep SOFTMAX #{k} s_in={s_in:.4g} zp={zp_in} beta={beta:.3g}", mb, x, tflm)


def sweep_mean(n: int, tflm: bool):
    variants = [
        ("gap", (5, 7, 3), {}),
        ("mean", (4, 5, 6), {"axis": [1, 3], "keepdims": True}),
        ("mean", (300, 4), {"axis": [1], "keepdims": False}),
        ("sum", (4, 5, 6), {"axis": [1], "keepdims": False}),
    ]
    agree = collections.defaultdict(lambda: [0, 0])
    for kind, shape, kw in variants:
        base = convert(keras_model(kind, shape, **kw), shape, -3, 3)
        name = "SUM" if kind == "sum" else "MEAN"
        for k in range(n):
            s_in = float(np.exp(RNG.uniform(np.log(1e-3), np.log(1.0))))
            ratio = float(np.exp(RNG.uniform(np.log(0.05), np.log(20.0))))
            zps = [int(v) for v in RNG.integers(-128, 128, size=2)]

            def fn(m, s_in=s_in, ratio=ratio, zps=zps):
                op = first_op(m, name)
                set_quant(m, op.inputs[0], s_in, zps[0])
                set_quant(m, op.outputs[0], s_in / ratio, zps[1])

            mb = edit(base, fn)
            x = random_input(mb, 3)
            check(f"sweep {name} {shape} {kw} #{k} s_in={s_in:.3g} ratio={ratio:.3g} zp={zps}",
                  mb, x, tflm)
            if tflm:
                out = int(first_op(load(mb), name).outputs[0])
                ref, _ = run_ref(mb, x)
                micro = run_tflm(mb, x, len(load(mb).subgraphs[0].tensors))
                agree[name][0] += int((ref[out] == micro[out]).sum())
                agree[name][1] += ref[out].size
    for name, (same, total) in agree.items():
        NOTES.append(f"{name} int8 runtime vs runtime (LiteRT REF vs TFLM, sweep): "
                     f"{same}/{total} equal")


def refimpl_lut_vs_fixed_point(n: int):
    """refimpl's two int8 paths on all 256 codes (no runtime involved)."""
    from refimpl.kernels.logistic import LOGISTIC
    from refimpl.kernels.tanh import TANH

    for name, kernel, out_params in (("LOGISTIC", LOGISTIC, (1 / 256, -128)),
                                     ("TANH", TANH, (1 / 128, 0))):
        agree, total, worst = 0, 0, 0
        for _ in range(n):
            s_in = float(np.exp(RNG.uniform(np.log(1e-3), np.log(2.0))))
            zp_in = int(RNG.integers(-128, 128))
            outs = []
            for flavor in (TFLITE_REF, TFLM):
                t_in = TensorInfo(0, "x", np.dtype(np.int8), (256,), np.float32([s_in]),
                                  np.int64([zp_in]))
                t_out = TensorInfo(1, "y", np.dtype(np.int8), (256,),
                                   np.float32([out_params[0]]), np.int64([out_params[1]]))
                ctx = OpContext(0, name, [t_in], [t_out], None, flavor)
                codes = np.arange(-128, 128).astype(np.int8)
                outs.append(kernel.invoke(ctx, kernel.prepare(ctx), [codes])[0])
            agree += int((outs[0] == outs[1]).sum())
            total += 256
            worst = max(worst, int(np.abs(outs[0].astype(int) - outs[1].astype(int)).max()))
        NOTES.append(f"refimpl {name} LUT vs fixed point, {n} random scales x 256 codes: "
                     f"{agree}/{total} equal, max |diff| {worst}")


ABORT_CHILD = r"""
import sys, numpy as np
buf = open(sys.argv[2], "rb").read()
x = np.load(sys.argv[3])
if sys.argv[1] == "REF":
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=buf, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors(); print("prepared", flush=True)
    it.set_tensor(it.get_input_details()[0]["index"], x); it.invoke()
else:
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf, arena_size=1 << 22); print("prepared", flush=True)
    it.set_input(x, 0); it.invoke()
print("ok", flush=True)
"""


def section_aborts(tflm: bool):
    """Where the runtimes abort, and whether refimpl raises at the same stage."""
    import tempfile

    cases = []
    base = convert(keras_model("softmax", (10,)), (10,), -4, 4)
    for s in (1e-9, 2.0**-26, 1.49011e-8, 1.5e-8, 1.0, 64.0, 1e6):
        cases.append((f"softmax s_in={s:.6g}",
                      edit(base, lambda m, s=s: set_quant(m, first_op(m, "SOFTMAX").inputs[0], s)),
                      np.arange(10, dtype=np.int8)[None]))
    for depth in (511, 512, 600):
        mb = convert(keras_model("softmax", (depth,)), (depth,), -0.01, 0.01)
        cases.append((f"softmax depth {depth} all-equal", mb, np.zeros((1, depth), np.int8)))
    runtimes = ["REF", "TFLM"] if tflm else ["REF"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, mb, x in cases:
            path, xpath = os.path.join(tmp, "m.tflite"), os.path.join(tmp, "x.npy")
            open(path, "wb").write(mb)
            np.save(xpath, x)
            verdicts = []
            for rt in runtimes:
                r = subprocess.run([sys.executable, "-c", ABORT_CHILD, rt, path, xpath],
                                   capture_output=True, text=True)
                if "ok" in r.stdout:
                    verdicts.append(f"{rt}: rc={r.returncode} ok")
                else:
                    stage = "invoke" if "prepared" in r.stdout else "prepare"
                    verdicts.append(f"{rt}: rc={r.returncode} fails in {stage}")
            # refimpl
            model_t = load(mb)
            op = first_op(model_t, "SOFTMAX")
            ins, outs = int(op.inputs[0]), int(op.outputs[0])
            for name, flavor in FLAVORS.items():
                ctx = OpContext(0, "SOFTMAX", [tensor_info(model_t, ins, x.shape, None)],
                                [tensor_info(model_t, outs, x.shape, None)], options_ns(op), flavor)
                try:
                    data = softmax.SOFTMAX.prepare(ctx)
                except RefimplError:
                    verdicts.append(f"refimpl-{name}: error in prepare")
                    continue
                try:
                    softmax.SOFTMAX.invoke(ctx, data, [x])
                    verdicts.append(f"refimpl-{name}: ok")
                except RefimplError:
                    verdicts.append(f"refimpl-{name}: error in invoke")
            NOTES.append(f"abort probe {label}: " + "; ".join(verdicts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-tflm", action="store_true")
    args = ap.parse_args()
    tflm = not args.no_tflm
    n = 5 if args.quick else 40
    section_keras(args.quick, tflm)
    sweep_elementwise("sigmoid", n, tflm)
    sweep_elementwise("tanh", n, tflm)
    sweep_elementwise("tanh", max(n // 4, 2), tflm, edit_output=True)
    sweep_softmax(n, tflm)
    sweep_mean(max(n // 2, 3), tflm)
    refimpl_lut_vs_fixed_point(200 if not args.quick else 20)
    section_aborts(tflm)

    print(f"{'runtime':7} {'op':9} {'dtype':8} {'exact':>9} / {'total':<9}")
    for (rt, op, kind), (ok, total) in sorted(TALLY.items()):
        print(f"{rt:7} {op:9} {kind:8} {ok:9} / {total:<9} {'' if ok == total else '<-- differs'}")
    for (rt, op), counter in sorted(ULPS.items()):
        if counter:
            print(f"float ulp distances of mismatches {rt} {op}: {dict(sorted(counter.items()))}")
    print("\nNotes:")
    for note in NOTES:
        print(" ", note)


if __name__ == "__main__":
    main()
