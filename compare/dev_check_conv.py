"""Dev tool: differential check of CONV_2D / DEPTHWISE_CONV_2D / pooling against LiteRT.

Not a unit test. For each case a one-layer Keras model is converted to a full-int8
TFLite model (representative dataset, ``TFLITE_BUILTINS_INT8``, int8 I/O; optionally
per-tensor weights) and to a float32 model; both run on LiteRT with
``OpResolverType.BUILTIN_REF`` on a batch of random inputs. The op's weights, bias,
quantization and builtin options are read back from the interpreter and the
flatbuffer, the refimpl kernel runs through a hand-built ``OpContext``, and the outputs
are compared element by element (integers exactly; floats bit-exactly, with the
largest absolute difference reported when not).

Run:  .venv/bin/python compare/dev_check_conv.py [--batch 100] [--seed 0] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import types
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from refimpl.context import Kernel, OpContext, TensorInfo  # noqa: E402
from refimpl.flavors import TFLITE_REF, Requant  # noqa: E402
from refimpl.kernels import conv_2d, depthwise_conv_2d, pooling  # noqa: E402

KERNELS: dict[str, Kernel] = {
    "CONV_2D": conv_2d.CONV_2D,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d.DEPTHWISE_CONV_2D,
    "MAX_POOL_2D": pooling.MAX_POOL_2D,
    "AVERAGE_POOL_2D": pooling.AVERAGE_POOL_2D,
}


@dataclass
class Case:
    name: str
    input_shape: tuple[int, int, int]  # H, W, C
    layer: Callable[[Any], Any]  # keras tensor -> keras tensor
    per_tensor: bool = False
    post: Callable[[Any], Any] | None = None
    #: edits the converted int8 ModelT in place (scales, weights, options); int8 only
    surgery: Callable[[Any, np.random.Generator], None] | None = None


@dataclass
class Tally:
    exact: int = 0
    total: int = 0
    cases: int = 0
    max_abs: float = 0.0
    notes: list[str] = field(default_factory=list)


def cases(quick: bool) -> list[Case]:
    import keras
    import tensorflow as tf

    L = keras.layers
    out: list[Case] = []

    def conv(f, k, s=1, p="same", d=1, act=None, bias=True, groups=1):
        return lambda t: L.Conv2D(f, k, strides=s, padding=p, dilation_rate=d, activation=act,
                                  use_bias=bias, groups=groups,
                                  bias_initializer="random_normal")(t)

    def dw(k, s=1, p="same", dm=1, d=1, act=None, bias=True):
        return lambda t: L.DepthwiseConv2D(k, strides=s, padding=p, depth_multiplier=dm,
                                           dilation_rate=d, activation=act, use_bias=bias,
                                           bias_initializer="random_normal")(t)

    def clip1(t):
        return L.Lambda(lambda v: tf.clip_by_value(v, -1.0, 1.0))(t)

    conv_specs = [
        ("conv3x3_s1_same", (9, 11, 3), conv(8, 3)),
        ("conv3x3_s2_same_relu", (12, 13, 4), conv(6, 3, s=2, act="relu")),
        ("conv3x3_s2_valid_relu6", (12, 13, 4), conv(6, 3, s=2, p="valid", act="relu6")),
        ("conv5x3_s3_same", (17, 10, 5), conv(7, (5, 3), s=(3, 2))),
        ("conv3x3_d2_same", (14, 14, 3), conv(5, 3, d=2)),
        ("conv3x3_d3_valid", (15, 16, 2), conv(4, 3, p="valid", d=(3, 2))),
        ("conv1x1", (8, 8, 16), conv(12, 1, act="relu")),
        ("conv2x2_s2_nobias", (10, 10, 3), conv(4, 2, s=2, bias=False)),
        ("conv4x4_s1_same_even", (7, 9, 3), conv(5, 4)),
        ("conv3x3_relu_n1_to_1", (9, 9, 3), conv(6, 3), False, clip1),
        ("conv_grouped_g2", (9, 9, 8), conv(6, 3, groups=2)),
        ("conv_big", (32, 32, 32), conv(32, 3, s=1, act="relu")),
    ]
    for name, shape, layer, *rest in conv_specs:
        post = rest[1] if len(rest) > 1 else None
        out.append(Case(name, shape, layer, False, post))
        if not quick and name in ("conv3x3_s1_same", "conv3x3_s2_same_relu", "conv3x3_d2_same",
                                  "conv1x1"):
            out.append(Case(name + "_pertensor", shape, layer, True, post))
    dw_specs = [
        ("dw3x3_s1_same", (9, 11, 4), dw(3)),
        ("dw3x3_s2_same_relu", (12, 13, 6), dw(3, s=2, act="relu")),
        ("dw3x3_s2_valid_relu6_dm2", (12, 13, 3), dw(3, s=2, p="valid", dm=2, act="relu6")),
        ("dw5x5_dm3", (10, 9, 2), dw(5, dm=3)),
        ("dw3x3_d2", (14, 13, 5), dw(3, d=2)),
        ("dw3x2_s3_nobias", (13, 11, 4), dw((3, 2), s=(3, 1), bias=False)),
        ("dw_big", (32, 32, 32), dw(3, act="relu")),
    ]
    for name, shape, layer in dw_specs:
        out.append(Case(name, shape, layer))
        if not quick and name in ("dw3x3_s1_same", "dw3x3_s2_valid_relu6_dm2"):
            out.append(Case(name + "_pertensor", shape, layer, True))
    pool_specs = [
        ("maxpool2x2_s2_valid", (10, 11, 3), lambda t: L.MaxPooling2D(2, 2, "valid")(t)),
        ("maxpool3x3_s2_same", (11, 10, 4), lambda t: L.MaxPooling2D(3, 2, "same")(t)),
        ("maxpool3x2_s1_same", (7, 8, 2), lambda t: L.MaxPooling2D((3, 2), 1, "same")(t)),
        ("avgpool2x2_s2_valid", (10, 11, 3), lambda t: L.AveragePooling2D(2, 2, "valid")(t)),
        ("avgpool3x3_s2_same", (11, 10, 4), lambda t: L.AveragePooling2D(3, 2, "same")(t)),
        ("avgpool3x3_s1_same", (7, 8, 5), lambda t: L.AveragePooling2D(3, 1, "same")(t)),
        ("avgpool5x4_s3_same", (13, 11, 2),
         lambda t: L.AveragePooling2D((5, 4), (3, 2), "same")(t)),
    ]
    out += [Case(n, s, f) for n, s, f in pool_specs]
    # Rounding ties (acc / 16 = k + 1/2) and fused activations on pools, by model surgery.
    out += [
        Case("conv3x3_ties", (9, 9, 4), conv(6, 3), surgery=tie_scales),
        Case("conv3x3_ties_pertensor", (9, 9, 4), conv(6, 3), True, surgery=tie_scales),
        Case("dw3x3_ties_dm2", (9, 9, 4), dw(3, dm=2), surgery=tie_scales),
        Case("maxpool3x3_relu6", (9, 9, 3), pool_specs[1][2], surgery=fuse(3)),
        Case("maxpool3x3_relu_n1_to_1", (9, 9, 3), pool_specs[1][2], surgery=fuse(2)),
        Case("avgpool3x3_relu", (9, 9, 3), pool_specs[4][2], surgery=fuse(1)),
        Case("avgpool3x3_relu6", (9, 9, 3), pool_specs[4][2], surgery=fuse(3)),
    ]
    return out


def _window_op(m):
    sg = m.subgraphs[0]
    ops = [op for op in sg.operators
           if max(m.operatorCodes[op.opcodeIndex].builtinCode,
                  m.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) in (1, 3, 4, 17)]
    assert len(ops) == 1
    return sg, ops[0]


def tie_scales(m, rng: np.random.Generator) -> None:
    """Make S_in * S_w / S_out = 2**-4 exactly, with small weights: acc / 16 hits .5 often.

    Separates rounding half away from zero (REF) from half up / half even.
    """
    sg, op = _window_op(m)
    x, w, y = (sg.tensors[i] for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    x.quantization.scale, x.quantization.zeroPoint = [0.5], [3]
    n = len(w.quantization.scale)
    w.quantization.scale = [0.125] * n
    y.quantization.scale, y.quantization.zeroPoint = [1.0], [-1]
    wbuf = m.buffers[w.buffer]
    wbuf.data = rng.integers(-2, 3, len(wbuf.data)).astype(np.int8).view(np.uint8)
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = sg.tensors[op.inputs[2]]
        b.quantization.scale = [0.0625] * n
        bbuf = m.buffers[b.buffer]
        bbuf.data = rng.integers(-40, 41, len(bbuf.data) // 4).astype(np.int32).view(np.uint8)


def fuse(activation: int) -> Callable[[Any, np.random.Generator], None]:
    """Set the op's fused activation (pools never get one from the converter)."""
    def edit(m, rng):
        _, op = _window_op(m)
        op.builtinOptions.fusedActivationFunction = activation
    return edit


def repack(m) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def build(case: Case):
    import keras

    inp = keras.Input(case.input_shape)
    y = case.layer(inp)
    if case.post is not None:
        y = case.post(y)
    return keras.Model(inp, y)


@contextlib.contextmanager
def _silenced():
    """Silence the converter's chatter (Python and C++ writes to fds 1 and 2)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def convert(model, case: Case, quantize: bool, rng: np.random.Generator) -> bytes:
    with _silenced():
        return _convert(model, case, quantize, rng)


def _convert(model, case: Case, quantize: bool, rng: np.random.Generator) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize:
        def rep():
            for _ in range(64):
                yield [rng.normal(0, 1, (1, *case.input_shape)).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        if case.per_tensor:
            conv._experimental_disable_per_channel = True
    return conv.convert()


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()


def builtin_options(model_bytes: bytes, op_index: int) -> types.SimpleNamespace | None:
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    opts = m.subgraphs[0].operators[op_index].builtinOptions
    if opts is None:
        return None
    return types.SimpleNamespace(**{_snake(k): v for k, v in vars(opts).items()})


def tensor_info(interp, index: int, data: bool) -> TensorInfo:
    """A TensorInfo from LiteRT's tensor details (with the contents for constants)."""
    d = next(t for t in interp.get_tensor_details() if t["index"] == index)
    q = d["quantization_parameters"]
    return TensorInfo(
        index=index, name=d["name"], dtype=np.dtype(d["dtype"]), shape=tuple(d["shape"]),
        scale=np.asarray(q["scales"], np.float32),
        zero_point=np.asarray(q["zero_points"], np.int64),
        quantized_dimension=int(q["quantized_dimension"]),
        data=interp.get_tensor(index) if data else None)


def run_case(case: Case, quantize: bool, batch: int, rng: np.random.Generator,
             tallies: dict[str, Tally]) -> None:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model_bytes = convert(build(case), case, quantize, rng)
    if case.surgery is not None:
        from tensorflow.lite.python import schema_py_generated as schema

        m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
        case.surgery(m, rng)
        model_bytes = repack(m)
    interp = Interpreter(model_content=model_bytes,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                         experimental_preserve_all_tensors=True)
    in_detail = interp.get_input_details()[0]
    interp.resize_tensor_input(in_detail["index"], [batch, *case.input_shape])
    interp.allocate_tensors()
    if quantize:
        x = rng.integers(-128, 128, (batch, *case.input_shape), dtype=np.int8)
    else:
        x = rng.normal(0, 1, (batch, *case.input_shape)).astype(np.float32)
    interp.set_tensor(in_detail["index"], x)
    interp.invoke()

    ops = [op for op in interp._get_ops_details() if op["op_name"] in KERNELS]
    if len(ops) != 1:
        names = [op["op_name"] for op in interp._get_ops_details()]
        raise RuntimeError(f"{case.name}: expected one window op, got {names}")
    op = ops[0]
    inputs = [int(i) for i in op["inputs"]]
    infos: list[TensorInfo | None] = []
    arrays: list[np.ndarray | None] = []
    for pos, idx in enumerate(inputs):
        if idx < 0:
            infos.append(None)
            arrays.append(None)
            continue
        is_const = pos > 0
        info = tensor_info(interp, idx, is_const)
        if pos == 0:
            info.shape = tuple(interp.get_tensor(idx).shape)
        infos.append(info)
        arrays.append(interp.get_tensor(idx))
    out_idx = int(op["outputs"][0])
    out_info = tensor_info(interp, out_idx, False)
    out_info.shape = (0,)
    ctx = OpContext(node_index=int(op["index"]), op_name=op["op_name"], inputs=infos,
                    outputs=[out_info], options=builtin_options(model_bytes, int(op["index"])),
                    flavor=TFLITE_REF)
    kernel = KERNELS[op["op_name"]]
    data = kernel.prepare(ctx)
    ours = kernel.invoke(ctx, data, arrays)[0]
    theirs = interp.get_tensor(out_idx)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, (
        case.name, ours.shape, theirs.shape, ours.dtype, theirs.dtype)
    if quantize:
        same = ours == theirs
    else:
        same = ours.view(np.uint32) == theirs.view(np.uint32)  # bit-exact
    kind = f"{op['op_name']} {'int8' if quantize else 'float32'}"
    t = tallies[kind]
    t.cases += 1
    t.exact += int(same.sum())
    t.total += same.size
    diff = float(np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64))))
    t.max_abs = max(t.max_abs, diff)
    status = "exact" if same.all() else f"{same.size - int(same.sum())} differ, max |d| {diff:.3g}"
    extra = f" act={getattr(ctx.options, 'fused_activation_function', '-')}"
    if op["op_name"] == "CONV_2D":
        extra += f" groups={data.groups} gemm={np.dtype(data.gemm_dtype).name}"
        extra += f" scales={infos[1].scale.size}" if quantize else ""
    elif op["op_name"] == "DEPTHWISE_CONV_2D":
        extra += f" dm={data.depth_multiplier} acc={np.dtype(data.accumulator_dtype).name}"
        extra += f" scales={infos[1].scale.size}" if quantize else ""
    if case.surgery is tie_scales:
        # Control: the same op with variant (D) rounding (half up on the final shift) must
        # differ from LiteRT on negative ties, or this case does not test rounding at all.
        neon_ctx = dataclasses.replace(ctx, flavor=dataclasses.replace(
            TFLITE_REF, name="neon-control", conv_requant=Requant.NEON))
        neon = kernel.invoke(neon_ctx, kernel.prepare(neon_ctx), arrays)[0]
        extra += f" [control: NEON rounding differs on {int((neon != theirs).sum())}]"
    print(f"  {case.name:28s} {kind:26s} {same.size:8d} elements: {status:8s}{extra}",
          flush=True)
    if not same.all():
        t.notes.append(f"{case.name}: {status}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="fewer cases")
    ap.add_argument("--no-float", action="store_true", help="skip the float32 models")
    args = ap.parse_args()
    import keras

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    tallies: dict[str, Tally] = defaultdict(Tally)
    for case in cases(args.quick):
        run_case(case, True, args.batch, rng, tallies)
        if not args.no_float and not case.per_tensor and case.surgery is None:
            run_case(case, False, args.batch, rng, tallies)
    print("\nSummary (exact elements / total):")
    for kind, t in sorted(tallies.items()):
        print(f"  {kind:28s} {t.cases:3d} models  {t.exact:10d} / {t.total:10d} exact"
              f"  ({100.0 * t.exact / max(t.total, 1):.4f}%)  max |diff| {t.max_abs:.3g}")


if __name__ == "__main__":
    main()
