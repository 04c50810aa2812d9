"""Differential check of the SVDF kernel (and its state handling) against real runtimes.

Four parts, each printing exact / total elements:

1. **Corpus, streaming**: keyword_scrambled (int16 state) and keyword_scrambled_8bit
   (int8 state, TFLM only) fed ``--frames`` consecutive seeded random frames with the
   state carried over. After every invoke, every output, SVDF output and SVDF state
   tensor of refimpl is compared with LiteRT ``BUILTIN_REF`` (flavour ``tflite-ref``) and
   with TFLite Micro (flavour ``tflm``). LiteRT and TFLM are driven directly
   (``ai_edge_litert`` / ``micro_ref.MicroInterpreter``), all tensors preserved.
2. **Corpus, node by node**: each SVDF node is re-evaluated with refimpl's kernel from
   the *runtime's* input tensor and the runtime's state before the invoke, so an
   upstream difference cannot hide or fake an SVDF one.
3. **Corpus, one invoke per row** through :mod:`compare.runtimes` (isolated runtimes,
   variables reset before each row), with intermediates: refimpl vs litert-ref and
   refimpl-tflm vs tflm; litert-ref on the int8-state model must crash and refimpl
   (tflite-ref) must refuse it with UnsupportedOpError.
4. **Synthetic single-op models**: random float32 / int16-state / int8-state SVDF models
   (sizes that are and are not multiples of 4, rank 1..6, batch 1..3, with and without
   bias, several activations and zero points), streamed over ``--frames`` invokes on
   LiteRT and TFLM.

Usage::

    .venv/bin/python compare/dev_check_svdf.py [--frames 8] [--rows 64] [--models 40]

A development tool (needs tensorflow, ai-edge-litert, tflite-micro), not part of the
test suite.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import flatbuffers  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import refimpl  # noqa: E402
import tflite_schema as tfs  # noqa: E402
from compare.diff import compare_runs  # noqa: E402
from compare.runtimes import get_runtime, shutdown_workers  # noqa: E402
from micro_ref import MicroInterpreter  # noqa: E402
from refimpl.errors import RefimplError, UnsupportedOpError  # noqa: E402

CORPUS = Path("/work/shared/corpus/tflm/models")
KEYWORD = CORPUS / "keyword_scrambled.tflite"
KEYWORD_8BIT = CORPUS / "keyword_scrambled_8bit.tflite"

# TALLY[(part, runtime, what)] = [exact elements, total elements]
TALLY: dict[tuple[str, str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
FIRST_DIFF: dict[tuple[str, str, str], str] = {}


def tally(key: tuple[str, str, str], mine: np.ndarray, theirs: np.ndarray, label: str) -> None:
    mine, theirs = np.asarray(mine), np.asarray(theirs)
    t = TALLY[key]
    if mine.shape != theirs.shape or mine.dtype != theirs.dtype:
        t[1] += theirs.size
        FIRST_DIFF.setdefault(key, f"{label}: {mine.dtype}{mine.shape} vs "
                                   f"{theirs.dtype}{theirs.shape}")
        return
    same = (mine == theirs) | (np.isnan(mine) & np.isnan(theirs)) if mine.dtype.kind == "f" \
        else mine == theirs
    if mine.dtype.kind == "f":  # bit-exact, sign of zero included
        same &= np.signbit(mine) == np.signbit(theirs)
    t[0] += int(same.sum())
    t[1] += same.size
    if not same.all() and key not in FIRST_DIFF:
        i = tuple(int(v) for v in np.argwhere(~same)[0])
        FIRST_DIFF[key] = f"{label} at {list(i)}: refimpl {mine[i]!r} vs runtime {theirs[i]!r}"


# ------------------------------------------------------------------------------------------
# Runtimes driven invoke by invoke
# ------------------------------------------------------------------------------------------
class Streamer:
    """One interpreter fed frame after frame; reads every (preserved) tensor after each."""

    def __init__(self, runtime: str, model: bytes):
        self.runtime = runtime
        if runtime == "litert":
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            self.it = Interpreter(model_content=model, num_threads=1,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                                  experimental_preserve_all_tensors=True)
        elif runtime == "tflm":
            self.it = MicroInterpreter(model_content=model, preserve_all_tensors=True)
        else:
            flavor = "tflm" if runtime == "refimpl-tflm" else "tflite-ref"
            self.it = refimpl.Interpreter(model_content=model, flavor=flavor)
        self.it.allocate_tensors()
        self.inputs = [d["index"] for d in self.it.get_input_details()]

    def step(self, frame: list[np.ndarray], indices: list[int]) -> dict[int, np.ndarray]:
        for i, x in zip(self.inputs, frame):
            self.it.set_tensor(i, x)
        self.it.invoke()
        return {i: np.array(self.it.get_tensor(i)) for i in indices}


def svdf_nodes(model: bytes) -> list[tfs.Operator]:
    m = tfs.read_model(model)
    return [op for op in m.subgraphs[0].operators
            if m.operator_codes[op.opcode_index].name == "SVDF"]


def random_frames(model: bytes, n: int, seed: int) -> list[list[np.ndarray]]:
    m = tfs.read_model(model)
    sg = m.subgraphs[0]
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        frame = []
        for i in sg.inputs:
            t = sg.tensors[i]
            dt = np.dtype(t.type.numpy_dtype)
            if dt.kind == "f":
                frame.append(rng.normal(0, 1, t.shape).astype(dt))
            else:
                info = np.iinfo(dt)
                lo, hi = (info.min, info.max) if dt.itemsize == 1 else (-12000, 12000)
                frame.append(rng.integers(lo, hi, t.shape, endpoint=True).astype(dt))
        frames.append(frame)
    return frames


def stream_compare(part: str, label: str, model: bytes, frames, runtime: str, mine: str,
                   *, node_level: bool) -> None:
    """Parts 1 (and 2 when ``node_level``): stream ``frames`` through both, compare."""
    m = tfs.read_model(model)
    sg = m.subgraphs[0]
    nodes = svdf_nodes(model)
    watch = sorted(set(sg.outputs) | {op.outputs[0] for op in nodes}
                   | {op.inputs[0] for op in nodes} | {op.inputs[4] for op in nodes})
    theirs, ours = Streamer(runtime, model), Streamer(mine, model)
    ref_it = ours.it  # refimpl interpreter: its prepared nodes re-evaluate single SVDFs
    # the runtime's own reset value of each state (0, or the int8 zero point)
    prev_state = {op.inputs[4]: np.array(theirs.it.get_tensor(op.inputs[4])) for op in nodes}
    for op in nodes:
        tally((part, runtime, f"{label} SVDF initial state"), ref_it.get_tensor(op.inputs[4]),
              prev_state[op.inputs[4]], f"node {op.index} initial state")
    for k, frame in enumerate(frames):
        a = ours.step(frame, watch)
        b = theirs.step(frame, watch)
        for i in sg.outputs:
            tally((part, runtime, f"{label} model output"), a[i], b[i], f"invoke {k} output {i}")
        for op in nodes:
            tally((part, runtime, f"{label} SVDF output"), a[op.outputs[0]], b[op.outputs[0]],
                  f"invoke {k} node {op.index} output")
            tally((part, runtime, f"{label} SVDF state"), a[op.inputs[4]], b[op.inputs[4]],
                  f"invoke {k} node {op.index} state")
        if node_level:
            for op in nodes:
                node = ref_it.nodes[op.index]
                xs = [None if i < 0 else ref_it.get_tensor(i) for i in op.inputs]
                xs[0] = b[op.inputs[0]]
                xs[4] = prev_state[op.inputs[4]]
                y, new_state = node.kernel.invoke(node.ctx, node.data, xs)
                tally(("node", runtime, f"{label} SVDF output"), y, b[op.outputs[0]],
                      f"invoke {k} node {op.index} output")
                tally(("node", runtime, f"{label} SVDF state"), new_state, b[op.inputs[4]],
                      f"invoke {k} node {op.index} state")
        prev_state = {op.inputs[4]: b[op.inputs[4]] for op in nodes}


# ------------------------------------------------------------------------------------------
# Part 3: compare.runtimes, one invoke per row
# ------------------------------------------------------------------------------------------
def per_row(label: str, model: bytes, rows: int) -> None:
    m = tfs.read_model(model)
    sg = m.subgraphs[0]
    [i] = sg.inputs
    t = sg.tensors[i]
    rng = np.random.default_rng(7)
    x = rng.integers(-12000, 12000, (rows, *t.shape[1:]), endpoint=True).astype(
        np.dtype(t.type.numpy_dtype))
    for mine, theirs in (("refimpl", "litert-ref"), ("refimpl-tflm", "tflm")):
        ra = get_runtime(mine).run(model, [x], intermediates=True)
        rb = get_runtime(theirs).run(model, [x], intermediates=True)
        key = ("per-row", theirs, f"{label} all tensors")
        if not (ra.ok and rb.ok):
            print(f"  {label}: {mine} {ra.status} ({ra.message.splitlines()[0][:160] if ra.message else ''})"
                  f" | {theirs} {rb.status} ({rb.message.splitlines()[0][:160] if rb.message else ''})")
            expected = (label.endswith("8bit") and theirs == "litert-ref"
                        and ra.status == "unsupported" and rb.status == "crashed")
            TALLY[("per-row", theirs, f"{label} refusal as expected")][0] += int(expected)
            TALLY[("per-row", theirs, f"{label} refusal as expected")][1] += 1
            continue
        rep = compare_runs(label, model, mine, ra.outputs, theirs, rb.outputs,
                           ra.tensors, rb.tensors)
        for td in rep.outputs + rep.intermediates:
            TALLY[key][0] += td.elements - td.differing if not td.note else 0
            TALLY[key][1] += td.elements
        if rep.first_divergence is not None:
            FIRST_DIFF.setdefault(key, str(rep.first_divergence))
        print(f"  {label}: {mine} vs {theirs}: batching {ra.batching}/{rb.batching}, "
              f"{'bit-exact' if rep.bit_exact else 'DIFFERS'}")


# ------------------------------------------------------------------------------------------
# Part 4: synthetic single-op models
# ------------------------------------------------------------------------------------------
@dataclass
class Spec:
    kind: str  # "float", "int16", "int8"
    batch: int
    input_size: int
    units: int
    rank: int
    memory: int
    bias: bool
    activation: int
    state_zp: int = 0
    seed: int = 0

    @property
    def filters(self) -> int:
        return self.units * self.rank


def _schema():
    from tensorflow.lite.python import schema_py_generated as schema

    return schema


def build_svdf(spec: Spec) -> bytes:
    """A one-op SVDF model (input -> SVDF -> output, state a variable tensor)."""
    s = _schema()
    rng = np.random.default_rng(spec.seed)
    b, n_in, n_f, n_m, n_u = spec.batch, spec.input_size, spec.filters, spec.memory, spec.units
    buffers = [s.BufferT()]
    tensors = []

    def add(name, ttype, shape, data=None, scale=None, zp=0, variable=False):
        t = s.TensorT()
        t.name, t.type, t.shape, t.isVariable = name, ttype, list(shape), variable
        t.buffer = 0
        if data is not None:
            buf = s.BufferT()
            buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            buffers.append(buf)
            t.buffer = len(buffers) - 1
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [float(scale)], [int(zp)]
            t.quantization = q
        tensors.append(t)
        return len(tensors) - 1

    T = s.TensorType
    if spec.kind == "float":
        wf = rng.normal(0, 1 / np.sqrt(n_in), (n_f, n_in)).astype(np.float32)
        wt = rng.normal(0, 0.5, (n_f, n_m)).astype(np.float32)
        bias = rng.normal(0, 0.3, n_u).astype(np.float32)
        ix = add("input", T.FLOAT32, (b, n_in))
        iwf = add("weights_feature", T.FLOAT32, wf.shape, wf)
        iwt = add("weights_time", T.FLOAT32, wt.shape, wt)
        ib = add("bias", T.FLOAT32, (n_u,), bias) if spec.bias else -1
        ist = add("state", T.FLOAT32, (b, n_m * n_f), variable=True)
        iy = add("output", T.FLOAT32, (b, n_u))
    else:
        state_t, state_np = (T.INT16, np.int16) if spec.kind == "int16" else (T.INT8, np.int8)
        smax = np.iinfo(state_np).max
        s_in = float(rng.uniform(0.01, 0.1))
        zp_in = int(rng.choice([-128, int(rng.integers(-128, 128))]))
        wf = rng.integers(-127, 128, (n_f, n_in)).astype(np.int8)
        s_wf = float(rng.uniform(0.002, 0.02))
        wt = rng.integers(-smax, smax + 1, (n_f, n_m)).astype(state_np)
        s_wt = float(rng.uniform(0.0005, 0.01))
        # state scale: the feature result spreads over a random part of the state range
        feat_std = 74.0 * np.sqrt(np.mean(wf.astype(float) ** 2)) * np.sqrt(n_in)
        state_std = smax * float(rng.uniform(0.05, 0.6))
        s_state = float(np.float32(s_in * s_wf * feat_std / state_std))
        time_std = np.sqrt(np.mean(wt.astype(float) ** 2)) * state_std * np.sqrt(n_m * spec.rank)
        out_std = float(rng.uniform(20, 90))
        s_out = float(np.float32(s_state * s_wt * time_std / out_std))
        s_bias = float(np.float32(np.float32(s_state) * np.float32(s_wt)))
        bias = rng.integers(-int(time_std), int(time_std) + 1, n_u).astype(np.int32)
        ix = add("input", T.INT8, (b, n_in), scale=s_in, zp=zp_in)
        iwf = add("weights_feature", T.INT8, wf.shape, wf, scale=s_wf)
        iwt = add("weights_time", state_t, wt.shape, wt, scale=s_wt)
        ib = add("bias", T.INT32, (n_u,), bias, scale=s_bias) if spec.bias else -1
        ist = add("state", state_t, (b, n_m * n_f), scale=s_state, zp=spec.state_zp,
                  variable=True)
        iy = add("output", T.INT8, (b, n_u), scale=s_out, zp=int(rng.integers(-128, 128)))

    opts = s.SVDFOptionsT()
    opts.rank, opts.fusedActivationFunction = spec.rank, spec.activation
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [ix, iwf, iwt, ib, ist], [iy]
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.SVDFOptions, opts
    sg = s.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators = tensors, [ix], [iy], [op]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.SVDF
    code.version = 1 if spec.kind == "float" else 3
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sg], buffers
    model.description = "svdf dev check"
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def random_specs(n: int, seed: int) -> list[Spec]:
    rng = np.random.default_rng(seed)
    specs = []
    sizes = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 31, 40, 96, 101]
    for k in range(n):
        kind = ("float", "int16", "int8")[k % 3]
        rank = int(rng.choice([1, 1, 2, 3, 4, 5, 6]))
        act = int(rng.integers(0, 4)) if kind == "float" else 1
        state_zp = int(rng.integers(-60, 61)) if kind == "int8" else 0
        specs.append(Spec(kind, int(rng.integers(1, 4)), int(rng.choice(sizes)),
                          int(rng.integers(1, 12)), rank, int(rng.choice([1, 2, 3, 4, 5, 8, 9, 32])),
                          bool(rng.random() < 0.8), act, state_zp, seed=1000 + k))
    # TFLM-only probes: integer activation NONE (not applied), int16 state with a zero point
    specs.append(Spec("int16", 2, 13, 5, 2, 9, True, 0, 0, seed=90001))
    specs.append(Spec("int16", 1, 20, 4, 1, 8, True, 1, 7, seed=90002))
    specs.append(Spec("int8", 2, 9, 3, 3, 5, True, 0, -20, seed=90003))
    return specs


def synthetic(n: int, frames: int) -> None:
    for spec in random_specs(n, 5):
        model = build_svdf(spec)
        inp = random_frames(model, frames, spec.seed)
        label = f"{spec.kind} state"
        tflm_only = spec.kind == "int8" or spec.activation != 1 and spec.kind != "float" \
            or spec.state_zp != 0
        pairs = [("tflm", "refimpl-tflm")] if tflm_only else \
            [("litert", "refimpl"), ("tflm", "refimpl-tflm")]
        if not spec.bias:  # TFLM segfaults without bias: check that refimpl-tflm refuses
            pairs = [p for p in pairs if p[0] != "tflm"]
            r = get_runtime("tflm").run(model, [inp[0][0]])
            try:
                refimpl.Interpreter(model_content=model, flavor="tflm").allocate_tensors()
                refused = False
            except UnsupportedOpError:
                refused = True
            key = ("synthetic", "tflm", "no bias: tflm crashes, refimpl refuses")
            TALLY[key][0] += int(refused and r.status == "crashed")
            TALLY[key][1] += 1
        for runtime, mine in pairs:
            try:
                stream_compare("synthetic", label, model, inp, runtime, mine, node_level=False)
            except RefimplError as e:
                print(f"  {spec}: refimpl refused: {e}")
                TALLY[("synthetic", runtime, f"{label} refused")][1] += 1
        if spec.kind == "int16" and spec.state_zp:  # LiteRT ignores the state zero point
            stream_compare("synthetic", "int16 state, zp ignored", model, inp, "litert",
                           "refimpl", node_level=False)


# ------------------------------------------------------------------------------------------
# Part 5: discriminators (multiplier precision, int8-state zero point)
# ------------------------------------------------------------------------------------------
def _pack(model_t) -> bytes:
    builder = flatbuffers.Builder(0)
    builder.Finish(model_t.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _multipliers(a: float, b: float, c: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """QuantizeMultiplier of a * b / c in float32 (LiteRT 2.3.0) and in double (TFLM)."""
    from refimpl.arithmetic import quantize_multiplier

    a32, b32, c32 = np.float32(a), np.float32(b), np.float32(c)
    return (quantize_multiplier(float(np.float32(np.float32(a32 * b32) / c32))),
            quantize_multiplier(float(a32) * float(b32) / float(c32)))


def discriminators(models: int) -> None:
    """Scales where the float32 and double effective scales round differently.

    Feature stage: one weight per filter (``w_f`` in column f), inputs ``x_f``, so the
    new state slot is ``mbqm(w_f * x_f)``; (w, x) pairs are picked where the two
    multipliers disagree. Output stage: zero time weights, so the output is
    ``mbqm(bias[u])``; biases picked where they disagree. The int8 state with zero point
    +-100 separates "clamp, then add the zero point (wrapping)" from "add, then clamp".
    """
    from refimpl.arithmetic import multiply_by_quantized_multiplier as mbqm

    s = _schema()
    rng = np.random.default_rng(11)
    n_f = 8
    w_grid, x_grid = np.arange(-127, 128), np.arange(-128, 128)
    acc_grid = w_grid[:, None] * x_grid[None, :]
    done = splits = 0
    while done < models:
        s_in, s_wf = np.float32(rng.uniform(0.01, 0.1)), np.float32(rng.uniform(0.002, 0.02))
        s_state = np.float32(s_in * s_wf / rng.uniform(0.3, 1.0))
        s_wt = np.float32(rng.uniform(1e-4, 1e-2))
        s_out = np.float32(s_state * s_wt / rng.uniform(0.3, 1.0))
        f1, d1 = _multipliers(s_in, s_wf, s_state)
        f2, d2 = _multipliers(s_state, s_wt, s_out)
        split1 = np.argwhere(mbqm(acc_grid, *f1) != mbqm(acc_grid, *d1))
        bias_grid = np.arange(-400, 401)
        split2 = np.flatnonzero(mbqm(bias_grid, *f2) != mbqm(bias_grid, *d2))
        if len(split1) < n_f or len(split2) < n_f:
            continue
        done += 1
        pick1 = split1[rng.choice(len(split1), n_f, replace=False)]
        bias = bias_grid[rng.choice(split2, n_f, replace=False)].astype(np.int32)
        splits += 2 * n_f
        spec = Spec("int16", 1, n_f, n_f, 1, 1, True, 1, 0, seed=int(rng.integers(1 << 30)))
        m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(build_svdf(spec), 0))
        sg = m.subgraphs[0]
        scales = {0: s_in, 1: s_wf, 2: s_wt, 3: np.float32(s_state * s_wt), 4: s_state, 5: s_out}
        for i, sc in scales.items():
            sg.tensors[i].quantization.scale = [float(sc)]
            sg.tensors[i].quantization.zeroPoint = [0]
        wf = np.zeros((n_f, n_f), np.int8)
        wf[np.arange(n_f), np.arange(n_f)] = w_grid[pick1[:, 0]]
        m.buffers[sg.tensors[1].buffer].data = np.frombuffer(wf.tobytes(), np.uint8)
        m.buffers[sg.tensors[2].buffer].data = np.zeros(2 * n_f, np.uint8)  # int16 zeros
        m.buffers[sg.tensors[3].buffer].data = np.frombuffer(bias.tobytes(), np.uint8)
        model = _pack(m)
        frames = [[x_grid[pick1[:, 1]].astype(np.int8)[None]]]
        for runtime, mine in (("litert", "refimpl"), ("tflm", "refimpl-tflm")):
            stream_compare("discrim", "multiplier", model, frames, runtime, mine,
                           node_level=False)
    print(f"  multiplier: {done} models, {splits} elements where float32 and double "
          "multipliers give different integers")
    for k in range(models):
        spec = Spec("int8", 2, 16, 8, 1, 2, True, 1, 100 if k % 2 else -100, seed=7000 + k)
        model = build_svdf(spec)
        stream_compare("discrim", "int8 state zp +-100", model,
                       random_frames(model, 4, k), "tflm", "refimpl-tflm", node_level=False)


# ------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8, help="consecutive invokes per stream")
    ap.add_argument("--rows", type=int, default=64, help="rows for the per-row part")
    ap.add_argument("--models", type=int, default=45, help="synthetic models")
    args = ap.parse_args()

    print("== 1+2. corpus streaming (state carried over), whole model and node by node ==")
    kw, kw8 = KEYWORD.read_bytes(), KEYWORD_8BIT.read_bytes()
    for seed in range(3):
        frames = random_frames(kw, args.frames, seed)
        stream_compare("stream", "keyword", kw, frames, "litert", "refimpl", node_level=True)
        stream_compare("stream", "keyword", kw, frames, "tflm", "refimpl-tflm", node_level=True)
        frames8 = random_frames(kw8, args.frames, seed)
        stream_compare("stream", "keyword_8bit", kw8, frames8, "tflm", "refimpl-tflm",
                       node_level=True)
    try:
        refimpl.Interpreter(model_content=kw8).allocate_tensors()
        print("  keyword_8bit under tflite-ref: NOT refused")
    except UnsupportedOpError as e:
        print(f"  keyword_8bit under tflite-ref: {type(e).__name__}: {e}")

    print("== 3. corpus, one invoke per row (compare.runtimes) ==")
    per_row("keyword", kw, args.rows)
    per_row("keyword_8bit", kw8, args.rows)
    shutdown_workers()

    print("== 4. synthetic single-op SVDF models, streamed ==")
    synthetic(args.models, args.frames)
    shutdown_workers()

    print("== 5. discriminators ==")
    discriminators(max(4, args.models // 4))

    print("\n== exact / total elements ==")
    for key in sorted(TALLY):
        exact, total = TALLY[key]
        mark = "" if exact == total else "   <-- " + FIRST_DIFF.get(key, "")
        print(f"{key[0]:>9} {key[1]:>7}  {key[2]:<34} {exact:>8} / {total:<8}{mark}")


if __name__ == "__main__":
    main()
