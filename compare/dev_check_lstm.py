"""Dev tool: differential check of UNIDIRECTIONAL_SEQUENCE_LSTM against LiteRT and TFLM.

Not a unit test. Three parts:

1. **Corpus**: the TFLM ``mnist_lstm`` example (float and int8; MNIST read row by row,
   28 steps of 28 pixels, 20 units) on deterministic random images in [0, 1]. Every
   element of every non-constant tensor (LSTM output, h and c state, and the layers
   after it) is compared: refimpl (``tflite-ref``) vs LiteRT ``BUILTIN_REF`` and refimpl
   (``tflm``) vs TFLM, and LiteRT vs TFLM for the record.
2. **Single-op models** built with :class:`tflite_schema.ModelBuilder`: float and int8,
   standard / CIFG / peephole / projection (+ bias, clip) / layer norm / diagonal
   recurrent weights / cell clip / time-major / batch > 1 / sizes that are not multiples
   of 4 (Eigen's scalar tails) / one unit (Eigen's dot product) / small and large
   time-major GEMMs / other fused activations (NONE's stale-buffer quirk) / all-zero
   input rows / non-zero zero points / other cell-state scales / a hidden intermediate
   scale different from the output state's / int8 peephole with projection (LiteRT's
   output-width quirk). Each model runs on LiteRT (and on TFLM where TFLM accepts it);
   the output and both state tensors are compared element by element.
3. **State across invokes** (three invokes without reset) and **batch resizing**
   (whether LiteRT / refimpl accept a resized batch).

Run:  .venv/bin/python compare/dev_check_lstm.py [--images 100] [--cases 6] [--quick]

Prints ``exact/total`` per group; floats are compared bit for bit (the largest
absolute difference is printed when not exact).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import refimpl  # noqa: E402
from refimpl import arithmetic  # noqa: E402
from compare.runtimes import get_runtime  # noqa: E402
from tflite_schema import ModelBuilder  # noqa: E402
from tflite_schema.options import UnidirectionalSequenceLSTMOptions  # noqa: E402

CORPUS = "/work/shared/corpus/tflm/examples/mnist_lstm"
GATES = ("i", "f", "c", "o")


# ------------------------------------------------------------------------------------------
# Tallies
# ------------------------------------------------------------------------------------------
@dataclass
class Tally:
    exact: int = 0
    total: int = 0
    max_abs: float = 0.0

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        self.exact += int(same.sum())
        self.total += a.size
        if not same.all():
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            self.max_abs = max(self.max_abs, float(diff[~same].max()))

    def __str__(self) -> str:
        extra = "" if self.exact == self.total else f"  max |diff| {self.max_abs:.3g}"
        return f"{self.exact}/{self.total}{extra}"


TALLY: dict[tuple[str, str], Tally] = defaultdict(Tally)
NOTES: list[str] = []


def compare_results(group: str, pair: str, a, b, tensors: list[str] | None = None) -> None:
    """Every output, then every tensor both runs returned (or the named ones)."""
    for x, y in zip(a.outputs, b.outputs):
        TALLY[(group, pair)].add(x, y)
    names = sorted(set(a.tensors) & set(b.tensors)) if tensors is None else tensors
    for name in names:
        x, y = a.tensors[name], b.tensors[name]
        if x.size:
            TALLY[(group, pair + " tensors")].add(x, y)


# ------------------------------------------------------------------------------------------
# Single-op models
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    name: str
    kind: str = "float"  # or "int8"
    batch: int = 1
    time: int = 5
    n_input: int = 6
    n_cell: int = 8
    n_output: int | None = None  # projection size (None: n_cell, no projection)
    cifg: bool = False
    peephole: bool = False
    projection_bias: bool = False
    layer_norm: bool = False
    diagonal: bool = False
    time_major: bool = False
    activation: int = 4  # TANH
    cell_clip: float = 0.0
    proj_clip: float = 0.0
    zp_in: int = 0
    zp_h: int = 0
    cell_log2: int = -12
    hidden_scale: float | None = None  # intermediate 4 (None: the output state's)
    hidden_zp: int = 0
    weight_scale: float = 1.0  # float weights: std; int8: multiplies the scales
    intermediates: bool = True  # int8: write the operator's 5 intermediate tensors
    zero_steps: bool = False  # some all-zero input rows (LiteRT skips their GEMV)

    @property
    def projection(self) -> bool:
        return self.n_output is not None

    @property
    def units(self) -> int:
        return self.n_cell if self.n_output is None else self.n_output

    @property
    def tflm_ok(self) -> bool:
        return not (self.cifg or self.peephole or self.projection or self.layer_norm
                    or self.diagonal or self.activation != 4)


def build(cfg: Config, seed: int) -> bytes:
    """A one-op model: input -> UNIDIRECTIONAL_SEQUENCE_LSTM -> output (+ 2 variables)."""
    rng = np.random.default_rng(seed)
    mb = ModelBuilder()
    B, T, I, C, U = cfg.batch, cfg.time, cfg.n_input, cfg.n_cell, cfg.units
    in_shape = [T, B, I] if cfg.time_major else [B, T, I]
    out_shape = [T, B, U] if cfg.time_major else [B, T, U]
    q = cfg.kind == "int8"
    s_in, s_h = 1 / 128, 1 / 100
    s_c = 2.0**cfg.cell_log2
    if q:
        x = mb.add_tensor("input", in_shape, "int8", scale=s_in, zero_point=cfg.zp_in)
    else:
        x = mb.add_tensor("input", in_shape, "float32")
    inputs: list = [x] + [None] * 23

    def weights(name: str, shape: list[int]) -> int:
        if not q:
            return mb.add_tensor(name, data=(rng.standard_normal(shape) * 0.5 * cfg.weight_scale)
                                 .astype(np.float32))
        scale = float(rng.uniform(0.004, 0.012)) * cfg.weight_scale
        return mb.add_tensor(name, data=rng.integers(-127, 128, shape).astype(np.int8),
                             scale=scale)

    def vector(name: str, n: int, scale: float, dtype: str, lo: int, hi: int) -> int:
        if not q:
            return mb.add_tensor(name, data=(rng.standard_normal(n) * 0.5).astype(np.float32))
        return mb.add_tensor(name, data=rng.integers(lo, hi, n).astype(dtype), scale=scale)

    for k, g in enumerate(GATES):
        if g == "i" and cfg.cifg:
            continue
        inputs[1 + k] = weights(f"w_{g}", [C, I])
        inputs[5 + k] = weights(f"r_{g}", [C] if cfg.diagonal else [C, U])
        bias_scale = s_in * 0.01  # int32 biases: modest values in the accumulator's units
        inputs[12 + k] = vector(f"b_{g}", C, bias_scale, "int32", -3000, 3000)
        if cfg.peephole and g != "c":
            inputs[9 + {"i": 0, "f": 1, "o": 2}[g]] = vector(f"p_{g}", C, 0.004, "int16",
                                                              -4000, 4000)
        if cfg.layer_norm:
            if q:
                inputs[20 + k] = mb.add_tensor(f"ln_{g}", data=rng.integers(
                    8000, 24000, C).astype(np.int16), scale=1 / 16384)
            else:
                inputs[20 + k] = mb.add_tensor(f"ln_{g}", data=(1 + 0.3 * rng.standard_normal(C))
                                               .astype(np.float32))
    if cfg.projection:
        inputs[16] = weights("proj_w", [U, C])
        if cfg.projection_bias:
            inputs[17] = vector("proj_b", U, 0.0001, "int32", -2000, 2000)
    if q:
        inputs[18] = mb.add_tensor("h", [B, U], "int8", scale=s_h, zero_point=cfg.zp_h,
                                   is_variable=True)
        inputs[19] = mb.add_tensor("c", [B, C], "int16", scale=s_c, is_variable=True)
        y = mb.add_tensor("output", out_shape, "int8", scale=s_h, zero_point=cfg.zp_h)
    else:
        inputs[18] = mb.add_tensor("h", [B, U], "float32", is_variable=True)
        inputs[19] = mb.add_tensor("c", [B, C], "float32", is_variable=True)
        y = mb.add_tensor("output", out_shape, "float32")
    intermediates = []
    if q and cfg.intermediates:
        for k, g in enumerate(GATES):
            if cfg.layer_norm:
                intermediates.append(mb.add_tensor(f"gate_{g}", [0], "int16",
                                                   scale=float(2.0**rng.integers(-12, -9))))
            else:
                intermediates.append(mb.add_tensor(f"gate_{g}", [0], "float32"))
        hidden_scale = s_h if cfg.hidden_scale is None else cfg.hidden_scale
        intermediates.append(mb.add_tensor("hidden", [0], "int8", scale=hidden_scale,
                                           zero_point=cfg.hidden_zp))
    options = UnidirectionalSequenceLSTMOptions(
        fused_activation_function=cfg.activation, cell_clip=cfg.cell_clip,
        proj_clip=cfg.proj_clip, time_major=cfg.time_major)
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs, [y], options,
                    intermediates=intermediates)
    mb.set_inputs([x])
    mb.set_outputs([y])
    return mb.to_bytes()


def sample(cfg: Config, n: int, rng: np.random.Generator) -> np.ndarray:
    shape = (n, cfg.time, cfg.batch, cfg.n_input) if cfg.time_major else \
        (n, cfg.batch, cfg.time, cfg.n_input)
    if cfg.kind == "int8":
        return rng.integers(-128, 128, shape).astype(np.int8)
    x = (rng.standard_normal(shape) * 1.5).astype(np.float32)
    if cfg.zero_steps:  # even steps: all rows zero; odd steps: the first row zero
        if cfg.time_major:
            x[:, ::2] = 0
            x[:, 1::2, 0] = 0
        else:
            x[:, :, ::2] = 0
            x[:, 0, 1::2] = 0
    return x


def configs(quick: bool) -> list[Config]:
    f = [
        Config("float standard"),
        Config("float batch 3", batch=3),
        Config("float time-major batch 3", batch=3, time_major=True),
        Config("float time-major batch 1", time_major=True),
        Config("float n_cell 5, n_input 7", n_cell=5, n_input=7, batch=3),
        Config("float n_cell 7 time-major", n_cell=7, batch=2, time_major=True),
        Config("float cifg", cifg=True, batch=2),
        Config("float peephole", peephole=True),
        Config("float cifg + peephole", cifg=True, peephole=True, n_cell=5),
        Config("float projection", n_output=5, batch=2),
        Config("float projection + bias + clips", n_output=5, projection_bias=True,
               proj_clip=0.5, cell_clip=1.0),
        Config("float layer norm", layer_norm=True, batch=2),
        Config("float layer norm + cifg + peephole", layer_norm=True, cifg=True, peephole=True),
        Config("float diagonal recurrent", diagonal=True),
        Config("float cell clip", cell_clip=0.7, weight_scale=2.0),
        Config("float RELU", activation=1),
        Config("float RELU6", activation=3),
        Config("float NONE", activation=0),
        Config("float NONE zero inputs", activation=0, zero_steps=True, batch=2),
        Config("float NONE diagonal zero inputs", activation=0, diagonal=True,
               zero_steps=True, batch=2),
        Config("float NONE layer norm zero inputs", activation=0, layer_norm=True,
               zero_steps=True, batch=2),
        Config("float NONE time-major zero inputs", activation=0, zero_steps=True, batch=2,
               time_major=True),
        Config("float zero inputs", zero_steps=True, batch=2),
        Config("float big weights", weight_scale=4.0, n_input=13, n_cell=11, batch=2),
        Config("float 1 unit (dot product)", n_cell=1, n_input=21, batch=2),
        Config("float 1 unit time-major batch 3", n_cell=1, n_input=21, batch=3,
               time_major=True),
        Config("float time-major small GEMM", n_cell=2, n_input=12, batch=2, time_major=True),
        Config("float time-major large GEMM", n_cell=20, n_input=28, batch=3, time=3,
               time_major=True),
        Config("float time-major projection", n_cell=9, n_output=3, n_input=10, batch=2,
               time_major=True, projection_bias=True),
    ]
    i = [
        Config("int8 standard", kind="int8"),
        Config("int8 batch 3", kind="int8", batch=3),
        Config("int8 time-major batch 3", kind="int8", batch=3, time_major=True),
        Config("int8 zero points", kind="int8", zp_in=-7, zp_h=5, hidden_zp=5, batch=2),
        Config("int8 cell 2**-11", kind="int8", cell_log2=-11),
        Config("int8 cell 2**-15", kind="int8", cell_log2=-15),
        Config("int8 cell clip", kind="int8", cell_clip=0.3, weight_scale=3.0),
        Config("int8 hidden scale != output scale", kind="int8", hidden_scale=1 / 70,
               hidden_zp=2),
        Config("int8 big weights", kind="int8", weight_scale=5.0, n_input=13, n_cell=11),
        Config("int8 cifg", kind="int8", cifg=True),
        Config("int8 peephole", kind="int8", peephole=True),
        Config("int8 projection", kind="int8", n_output=5, hidden_scale=1 / 60, hidden_zp=-3),
        Config("int8 peephole + projection", kind="int8", peephole=True, n_output=5, batch=2),
        Config("int8 peephole + projection time-major", kind="int8", peephole=True, n_output=5,
               batch=3, time_major=True),
        Config("int8 projection + bias + clips", kind="int8", n_output=5, projection_bias=True,
               proj_clip=0.4, cell_clip=0.5, zp_h=4),
        Config("int8 layer norm", kind="int8", layer_norm=True, batch=2),
        Config("int8 layer norm + cifg", kind="int8", layer_norm=True, cifg=True, n_cell=4),
    ]
    if quick:
        return f[:3] + f[6:12] + [c for c in f if "zero" in c.name or "GEMM" in c.name] + \
            i[:3] + i[9:]
    return f + i


def run_config(cfg: Config, seed: int, samples: int, rng: np.random.Generator) -> None:
    model = build(cfg, seed)
    x = sample(cfg, samples, rng)
    names = ["output", "h", "c"]
    pairs = [("refimpl", "litert-ref")]
    if cfg.tflm_ok:
        pairs.append(("refimpl-tflm", "tflm"))
    for mine, theirs in pairs:
        for k in range(samples):  # one invoke per sample (the model has a fixed batch)
            a = get_runtime(mine).run(model, [x[k]], intermediates=True)
            b = get_runtime(theirs).run(model, [x[k]], intermediates=True)
            if not (a.ok and b.ok):
                NOTES.append(f"{cfg.name}: {mine} {a.status} {a.message[:300]} | "
                             f"{theirs} {b.status} {b.message[:300]}")
                break
            compare_results(cfg.name, f"{mine} vs {theirs}", a, b, names)


# ------------------------------------------------------------------------------------------
# Corpus
# ------------------------------------------------------------------------------------------
def corpus_images(n: int, int8: bool) -> np.ndarray:
    x = np.random.default_rng(20261122).random((n, 28, 28), dtype=np.float32)
    if not int8:
        return x
    # the model input: scale 1/255, zero point -128
    return arithmetic.quantize(x, np.float32(0.003921569), -128, np.int8)


def check_corpus(n: int) -> None:
    for fname in ("trained_lstm.tflite", "trained_lstm_int8.tflite"):
        path = os.path.join(CORPUS, fname)
        if not os.path.exists(path):
            NOTES.append(f"corpus model {path} missing: skipped")
            continue
        model = open(path, "rb").read()
        x = corpus_images(n, "int8" in fname)
        res = {rt: get_runtime(rt).run(model, [x], intermediates=True)
               for rt in ("litert-ref", "tflm", "refimpl", "refimpl-tflm")}
        for rt, r in res.items():
            if not r.ok:
                NOTES.append(f"{fname} {rt}: {r.status} {r.message[:400]}")
        if not all(r.ok for r in res.values()):
            continue
        for mine, theirs in (("refimpl", "litert-ref"), ("refimpl-tflm", "tflm"),
                             ("litert-ref", "tflm")):
            compare_results(fname, f"{mine} vs {theirs}", res[mine], res[theirs])
            lstm = "tfl.unidirectional_sequence_lstm"
            TALLY[(fname, f"{mine} vs {theirs} LSTM output")].add(
                res[mine].tensors[lstm], res[theirs].tensors[lstm])


# ------------------------------------------------------------------------------------------
# State across invokes, batch resizing
# ------------------------------------------------------------------------------------------
def _litert(model: bytes):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_content=model, num_threads=1,
                       experimental_op_resolver_type=OpResolverType.BUILTIN_REF)


def check_state_and_resize(rng: np.random.Generator) -> None:
    for cfg in (Config("state float", batch=2), Config("state int8", kind="int8", batch=2,
                                                        zp_h=3, hidden_zp=3)):
        model = build(cfg, 7)
        lit, ref = _litert(model), refimpl.Interpreter(model_content=model)
        for it in (lit, ref):
            it.allocate_tensors()
        xs = sample(cfg, 3, rng)
        for k in range(3):  # no reset between invokes: the state carries over
            outs = []
            for it in (lit, ref):
                it.set_tensor(it.get_input_details()[0]["index"], xs[k])
                it.invoke()
                outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
            TALLY[("state across 3 invokes", cfg.kind)].add(outs[1], outs[0])
    for fname in ("trained_lstm.tflite", "trained_lstm_int8.tflite"):
        path = os.path.join(CORPUS, fname)
        if not os.path.exists(path):
            continue
        model = open(path, "rb").read()
        for name, it in (("LiteRT", _litert(model)),
                         ("refimpl", refimpl.Interpreter(model_content=model))):
            try:
                it.resize_tensor_input(it.get_input_details()[0]["index"], [4, 28, 28])
                it.allocate_tensors()
                NOTES.append(f"resize {fname} to batch 4: {name} accepts it")
            except Exception as e:  # noqa: BLE001 - a refusal is the expected answer
                msg = str(e).strip().splitlines()
                NOTES.append(f"resize {fname} to batch 4: {name} refuses "
                             f"({type(e).__name__}: {' '.join(msg)[:160]})")


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=100, help="corpus images per model")
    ap.add_argument("--cases", type=int, default=6, help="samples per single-op config")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    check_corpus(args.images if not args.quick else 20)
    for k, cfg in enumerate(configs(args.quick)):
        run_config(cfg, 1000 + k, args.cases if not args.quick else 2, rng)
    check_state_and_resize(rng)
    width = max(len(g) + len(p) for g, p in TALLY) + 4
    for (group, pair), t in TALLY.items():
        print(f"{group} | {pair}".ljust(width), t)
    for note in NOTES:
        print("NOTE:", note)


if __name__ == "__main__":
    main()
