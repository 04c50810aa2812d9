"""Dev tool: differential check of 16x8, hybrid and TRANSPOSE_CONV kernels.

Not a unit test. One-layer Keras models (Conv2D, DepthwiseConv2D, Dense,
Conv2DTranspose) are converted in several modes and run whole on refimpl and on the
real runtimes, comparing every output element (integers exactly, floats bit for bit).

Modes (converter settings):

* ``16x8``: Optimize.DEFAULT, representative data,
  EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8, int16 I/O (int64 bias);
* ``16x8_b32``: the same with ``_experimental_full_integer_quantization_bias_type`` =
  int32 (int32 bias, ``quantized_bias_type`` INT32);
* ``int8``: full int8, int8 I/O; ``float``: no optimisation;
* ``dynamic``: Optimize.DEFAULT without representative data (hybrid: weights with at
  least 1024 elements become int8, per channel);
* ``dynamic_pt``: the same with ``_experimental_disable_per_channel`` (per-tensor);
* ``dynamic_sym``: ``dynamic`` with FULLY_CONNECTED's ``asymmetric_quantize_inputs``
  switched off by model surgery.

Pairs compared: refimpl / litert-ref (BUILTIN_REF) for every mode; refimpl-tflm / tflm
for the integer and float modes (TFLM refuses hybrid models; the script checks that
both refuse); litert-ref / tflm for information (where the two real runtimes differ).

Inputs: integer models get uniform full-range integers; float models N(0, 1) rows, an
all-zero row, and "tie" rows on a half-integer grid whose range makes every quantized
value an exact .5 (they separate the input quantizers' rounding rules); hybrid
FULLY_CONNECTED also runs once on an all-zero batch (the short-circuit).

Models are cached with ``compare.zoo.cache.get_or_build``.

Run:  .venv/bin/python compare/dev_check_conv16_hybrid.py [--batch 24] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from compare.runtimes import get_runtime, shutdown_workers  # noqa: E402
from compare.zoo.cache import get_or_build  # noqa: E402

BUILDER_VERSION = 1

INT_MODES = ("16x8", "16x8_b32", "int8", "float")
HYBRID_MODES = ("dynamic", "dynamic_pt", "dynamic_sym")


@dataclass(frozen=True)
class Case:
    name: str
    input_shape: tuple[int, ...]
    layer: str  # a Python expression over `L` (keras.layers) building the layer
    modes: tuple[str, ...]
    #: build with batch size 1: a dilated conv then converts to one CONV_2D /
    #: DEPTHWISE_CONV_2D (a dynamic batch gives SPACE_TO_BATCH_ND + conv + BATCH_TO_SPACE_ND)
    fixed_batch: bool = False


def cases(quick: bool) -> list[Case]:
    conv_modes = ("16x8", "16x8_b32", "dynamic", "dynamic_pt")
    b = "bias_initializer='random_normal'"
    out = [
        Case("conv3x3_s1_same", (9, 9, 16), f"L.Conv2D(8, 3, padding='same', {b})", conv_modes),
        Case("conv3x3_s2_valid_relu", (12, 11, 16),
             f"L.Conv2D(8, 3, strides=2, activation='relu', {b})", conv_modes),
        Case("conv5x3_s2x1_same_relu6", (11, 10, 8),
             f"L.Conv2D(12, (5, 3), strides=(2, 1), padding='same', activation='relu6', {b})",
             ("16x8", "dynamic")),
        Case("conv1x1", (8, 8, 64), f"L.Conv2D(32, 1, {b})", conv_modes),
        Case("conv3x3_d2_same", (14, 14, 16),
             f"L.Conv2D(8, 3, padding='same', dilation_rate=2, {b})", ("16x8", "dynamic"),
             fixed_batch=True),
        Case("dw3x3_d2x3_same", (14, 13, 128),
             f"L.DepthwiseConv2D(3, padding='same', dilation_rate=(2, 3), {b})",
             ("16x8", "dynamic"), fixed_batch=True),
        Case("conv_grouped_g2", (9, 9, 16), f"L.Conv2D(16, 3, padding='same', groups=2, {b})",
             ("16x8", "dynamic")),
        Case("conv3x3_k576", (6, 6, 64), f"L.Conv2D(16, 3, padding='same', {b})",
             ("16x8", "16x8_b32", "dynamic")),
        Case("dw3x3_s1_same", (9, 9, 128), f"L.DepthwiseConv2D(3, padding='same', {b})",
             ("16x8", "dynamic")),
        Case("dw3x3_s2_valid_dm2_relu", (12, 11, 64),
             f"L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation='relu', {b})",
             ("16x8", "dynamic")),
        Case("dw5x5_s1_same_relu6", (10, 9, 48),
             f"L.DepthwiseConv2D(5, padding='same', activation='relu6', {b})",
             ("16x8", "dynamic")),
        Case("dense64x32", (64,), f"L.Dense(32, {b})", ("16x8", "16x8_b32") + HYBRID_MODES),
        Case("dense37x40_relu", (37,), f"L.Dense(40, activation='relu', {b})",
             ("16x8", "16x8_b32") + HYBRID_MODES),
        Case("dense96x16_relu6", (96,), f"L.Dense(16, activation='relu6', {b})",
             ("16x8", "dynamic", "dynamic_pt")),
        Case("tconv3x3_s2_same", (5, 5, 16),
             f"L.Conv2DTranspose(8, 3, strides=2, padding='same', {b})",
             ("16x8", "16x8_b32", "int8", "float")),
        Case("tconv3x3_s2_valid", (5, 6, 16),
             f"L.Conv2DTranspose(8, 3, strides=2, padding='valid', {b})",
             ("16x8", "int8", "float")),
        Case("tconv4x4_s2_same", (5, 5, 16),
             f"L.Conv2DTranspose(8, 4, strides=2, padding='same', {b})",
             ("16x8", "int8", "float")),
        Case("tconv3x4_s1x2_valid_relu", (4, 5, 16),
             f"L.Conv2DTranspose(8, (3, 4), strides=(1, 2), activation='relu', {b})",
             ("16x8", "int8", "float")),
        Case("tconv2x2_s3_same", (4, 4, 8),
             f"L.Conv2DTranspose(4, 2, strides=3, padding='same', {b})",
             ("16x8", "int8", "float")),
        Case("tconv1x1_s1", (6, 6, 16), f"L.Conv2DTranspose(8, 1, {b})", ("16x8", "int8", "float")),
    ]
    if quick:
        out = out[::3]
    return out


# --------------------------------------------------------------------------------------
# Building and converting (cached)
# --------------------------------------------------------------------------------------
def _build(params: Mapping[str, Any], progress: Callable[[str], None]) -> dict[str, bytes]:
    from compare.zoo.converters import import_tf, run_converter

    tf = import_tf()
    import keras

    L = keras.layers  # noqa: F841  (used by eval)
    keras.utils.set_random_seed(int(params["seed"]))
    shape = tuple(params["input_shape"])
    inp = keras.Input(shape, batch_size=1 if params["fixed_batch"] else None)
    model = keras.Model(inp, eval(params["layer"])(inp))  # noqa: S307 (our own strings)
    mode = params["mode"]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    rng = np.random.default_rng(int(params["seed"]))
    if mode != "float":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode in ("16x8", "16x8_b32", "int8"):
        def rep():
            for _ in range(32):
                yield [rng.normal(0, 1, (1, *shape)).astype(np.float32)]

        conv.representative_dataset = rep
        if mode == "int8":
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int8
        else:
            conv.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            conv.inference_input_type = conv.inference_output_type = tf.int16
            if mode == "16x8_b32":
                conv._experimental_full_integer_quantization_bias_type = tf.int32
    if mode == "dynamic_pt":
        conv._experimental_disable_per_channel = True
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    model_bytes = run_converter(conv)
    if mode == "dynamic_sym":
        model_bytes = _set_fc_symmetric(model_bytes)
    return {"model.tflite": model_bytes}


def _set_fc_symmetric(model_bytes: bytes) -> bytes:
    """Model surgery: ``asymmetric_quantize_inputs = False`` on every FULLY_CONNECTED."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model_bytes, 0))
    for op in m.subgraphs[0].operators:
        code = m.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == 9:  # FULLY_CONNECTED
            op.builtinOptions.asymmetricQuantizeInputs = False
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def model_for(case: Case, mode: str, seed: int) -> bytes:
    params = {"builder_version": BUILDER_VERSION, "case": case.name, "mode": mode,
              "input_shape": list(case.input_shape), "layer": case.layer, "seed": seed,
              "fixed_batch": case.fixed_batch}
    return get_or_build(f"devcheck16h-{case.name}-{mode}", _build, params,
                        ["model.tflite"], progress=lambda s: None)["model.tflite"]


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def make_inputs(shape: tuple[int, ...], dtype: np.dtype, batch: int,
                rng: np.random.Generator) -> list[np.ndarray]:
    """One or more input batches for a model input of ``shape`` (batch 1) and ``dtype``."""
    full = (batch, *shape[1:])
    if dtype == np.int16:
        return [rng.integers(-32768, 32768, full).astype(np.int16)]
    if dtype == np.int8:
        return [rng.integers(-128, 128, full).astype(np.int8)]
    if dtype == np.int32:
        raise ValueError("int32 model inputs are not generated here")
    x = rng.normal(0, 1, full).astype(np.float32)
    n = int(np.prod(full[1:]))
    flat = x.reshape(batch, n)
    flat[0] = 0.0  # an all-zero row
    for r in range(1, min(batch, 1 + batch // 3)):  # tie rows (see module docstring)
        grid = (rng.integers(-128, 127, n) + 0.5) / 16.0
        grid[rng.integers(n)] = -128 / 16.0
        grid[rng.integers(n)] = 127 / 16.0
        flat[r] = grid.astype(np.float32)
    batches = [x]
    return batches


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape != b.shape or a.dtype != b.dtype:
        raise AssertionError(f"shape/dtype {a.shape} {a.dtype} vs {b.shape} {b.dtype}")
    if a.dtype == np.float32:
        return a.view(np.uint32) == b.view(np.uint32)
    return a == b


@dataclass
class Tally:
    exact: int = 0
    total: int = 0
    models: int = 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="every third case only")
    args = ap.parse_args()
    import tflite_schema as tfs

    rt = {name: get_runtime(name) for name in ("refimpl", "refimpl-tflm", "litert-ref", "tflm")}
    rng = np.random.default_rng(args.seed)
    tallies: dict[tuple[str, str, str], Tally] = defaultdict(Tally)
    problems: list[str] = []
    try:
        for case in cases(args.quick):
            for mode in case.modes:
                model = model_for(case, mode, args.seed)
                m = tfs.read_model(model)
                sg = m.subgraphs[0]
                ops = [m.operator_codes[op.opcode_index].name for op in sg.operators]
                op_name = next(o for o in ops if o in ("CONV_2D", "DEPTHWISE_CONV_2D",
                                                       "FULLY_CONNECTED", "TRANSPOSE_CONV"))
                t_in = sg.tensors[sg.inputs[0]]
                dtype = np.dtype(t_in.type.numpy_dtype)
                hybrid = mode in HYBRID_MODES
                main_op = next(op for op in sg.operators
                               if m.operator_codes[op.opcode_index].name == op_name)
                w_type = sg.tensors[main_op.inputs[1]].type.name
                if hybrid and w_type != "INT8":
                    problems.append(f"{case.name}/{mode}: weights stayed {w_type}; skipped")
                    continue
                pairs = [("refimpl", "litert-ref")]
                if not hybrid:
                    pairs.append(("refimpl-tflm", "tflm"))
                    # for information: where the two real runtimes themselves disagree
                    pairs.append(("litert-ref", "tflm"))
                batch = args.batch * (8 if op_name == "FULLY_CONNECTED" else 1)
                batches = make_inputs(tuple(t_in.shape), dtype, batch, rng)
                if hybrid and op_name == "FULLY_CONNECTED":
                    batches.append(np.zeros_like(batches[0]))
                for x in batches:
                    results = {n: rt[n].run(model, [x]) for n in {p for pair in pairs
                                                                  for p in pair}}
                    for a, b in pairs:
                        ra, rb = results[a], results[b]
                        key = (op_name, mode, f"{a} vs {b}")
                        if not (ra.ok and rb.ok):
                            problems.append(f"{case.name}/{mode} {a}:{ra.status} "
                                            f"{b}:{rb.status} {ra.message[:300]} "
                                            f"{rb.message[:300]}")
                            continue
                        same = _same(ra.outputs[0], rb.outputs[0])
                        t = tallies[key]
                        t.models += 1
                        t.exact += int(same.sum())
                        t.total += same.size
                        status = "exact" if same.all() else f"{same.size - int(same.sum())} differ"
                        print(f"  {case.name:26s} {mode:11s} {op_name:18s} {a:>12s} vs {b:<10s} "
                              f"{same.size:7d}: {status}", flush=True)
                        if not same.all() and a.startswith("refimpl"):
                            d = np.abs(ra.outputs[0].astype(np.float64)
                                       - rb.outputs[0].astype(np.float64))
                            problems.append(f"{case.name}/{mode} {a} vs {b}: "
                                            f"{same.size - int(same.sum())} differ, "
                                            f"max |d| {d.max():.3g}")
                if hybrid:  # TFLM has no hybrid kernels; refimpl-tflm must refuse too
                    x = batches[0]
                    st = (rt["tflm"].run(model, [x]).status,
                          rt["refimpl-tflm"].run(model, [x]).status)
                    if st != ("unsupported", "unsupported"):
                        problems.append(f"{case.name}/{mode}: tflm / refimpl-tflm gave {st}")
    finally:
        shutdown_workers()
    print("\nSummary (exact elements / total):")
    for (op, mode, pair), t in sorted(tallies.items()):
        print(f"  {op:18s} {mode:11s} {pair:26s} {t.models:3d} runs  {t.exact:9d} / "
              f"{t.total:9d}  ({100.0 * t.exact / max(t.total, 1):.4f}%)")
    if problems:
        print("\nNotes:")
        for p in problems:
            print("  " + p)


if __name__ == "__main__":
    main()
