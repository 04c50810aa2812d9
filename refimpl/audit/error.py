"""Per-layer error of a quantized model against its float twin, split in two.

Tensors are matched by name (the converter keeps the float model's names). For each
matched activation:

* **quantization error**: refimpl's integer arithmetic under ``tflite-ref`` (the ideal the
  runtimes implement), dequantized with the tensor's own scale and zero point, against
  the float model's tensor on the same inputs. It is what quantization costs, with no
  implementation in the way.
* **implementation error**: a real runtime's integers against refimpl's ideal ones, in
  units of the last place (LSB) — 0 everywhere when the runtime is bit-exact with
  ``tflite-ref``; otherwise the rounding differences of that runtime's kernels.

Metrics: RMSE in units of the tensor's scale, max |error| (real units), cosine
similarity and SNR = 10 log10(sum f^2 / sum (f - q)^2) dB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import tflite_schema as tfs


@dataclass(frozen=True)
class LayerError:
    name: str
    node: int
    op: str
    dtype: str
    scale: float
    rmse_over_scale: float
    max_abs_error: float
    cosine: float
    snr_db: float
    impl_runtime: str = ""
    impl_differing: int | None = None
    impl_elements: int | None = None
    impl_max_lsb: int | None = None
    plot: str = ""


def _run_all(content: bytes, inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    from ..interpreter import Interpreter

    it = Interpreter(model_content=content)
    it.run(*inputs)
    return it.intermediates()


def _model_inputs(model: tfs.Model, data: np.ndarray) -> list[np.ndarray]:
    """The float data as the model's input 0 (quantized with its parameters if needed)."""
    from ..arithmetic import quantize

    g = model.subgraphs[0]
    t = g.tensors[g.inputs[0]]
    x = np.asarray(data, dtype=np.float32)
    if t.type.name == "FLOAT32":
        return [x]
    q = t.quantization
    return [quantize(x, float(q.scale[0]), int(q.zero_point[0]), t.type.numpy_dtype)]


def _producers(model: tfs.Model) -> dict[int, tuple[int, str]]:
    g = model.subgraphs[0]
    out = {}
    for op in g.operators:
        for i in op.outputs:
            out[i] = (op.index, model.operator_codes[op.opcode_index].name)
    return out


def _impl_run(content: bytes, inputs: list[np.ndarray], runtime: str) -> dict[str, np.ndarray]:
    try:
        from compare.runtimes import get_runtime
    except ImportError:
        return {}
    res = get_runtime(runtime).run(content, inputs, intermediates=True)
    return res.tensors if res.ok else {}


def layer_errors(model: tfs.Model, float_model: tfs.Model, data: np.ndarray, *,
                 runtime: str | None = "litert-builtin", plot_dir: Path | None = None
                 ) -> list[LayerError]:
    """Per-layer quantization (and implementation) error, in execution order."""
    q_all = _run_all(bytes(model.data), _model_inputs(model, data))
    f_all = _run_all(bytes(float_model.data), _model_inputs(float_model, data))
    impl = _impl_run(bytes(model.data), _model_inputs(model, data), runtime) if runtime else {}
    g = model.subgraphs[0]
    prod = _producers(model)
    rows: list[LayerError] = []
    for i, t in enumerate(g.tensors):
        if i not in prod or t.quantization is None or t.name not in f_all or t.name not in q_all:
            continue
        if t.type.name not in ("INT8", "INT16", "UINT8"):
            continue
        q = q_all[t.name].astype(np.int64)
        f = f_all[t.name].astype(np.float64)
        if f.shape != q.shape:
            continue
        s = t.quantization.scale.astype(np.float64)
        zp = t.quantization.zero_point.astype(np.int64)
        if s.size > 1:  # per-channel activations are rare; broadcast along the axis
            shape = [1] * q.ndim
            shape[t.quantization.quantized_dimension] = s.size
            s, zp = s.reshape(shape), zp.reshape(shape)
        deq = s * (q - zp)
        err = deq - f
        sig = float(np.sum(f * f))
        noise = float(np.sum(err * err))
        denom = float(np.linalg.norm(f) * np.linalg.norm(deq))
        node, op = prod[i]
        row = dict(
            name=t.name, node=node, op=op, dtype=t.type.name.lower(), scale=float(s.flat[0]),
            rmse_over_scale=float(np.sqrt(np.mean(err**2)) / float(np.mean(s))),
            max_abs_error=float(np.max(np.abs(err))) if err.size else 0.0,
            cosine=float(np.sum(f * deq) / denom) if denom > 0 else 1.0,
            snr_db=float(10 * np.log10(sig / noise)) if noise > 0 and sig > 0 else float("inf"))
        theirs = impl.get(t.name)
        if theirs is not None and np.shape(theirs) == q.shape:
            d = np.abs(np.asarray(theirs).astype(np.int64) - q)
            row.update(impl_runtime=runtime or "", impl_differing=int((d > 0).sum()),
                       impl_elements=int(d.size), impl_max_lsb=int(d.max()) if d.size else 0)
        if plot_dir is not None:
            row["plot"] = _plot(plot_dir, node, t.name, f, deq)
        rows.append(LayerError(**row))
    return sorted(rows, key=lambda r: r.node)


def _plot(out: Path, node: int, name: str, f: np.ndarray, deq: np.ndarray) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..fileio import atomic_write

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.split(";")[0])[:60]
    path = out / f"layer_{node:03d}_{safe}.png"
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    n = min(f.size, 20000)
    idx = np.linspace(0, f.size - 1, n).astype(np.int64)
    a.scatter(f.reshape(-1)[idx], deq.reshape(-1)[idx], s=2, alpha=0.4)
    lo, hi = float(min(f.min(), deq.min())), float(max(f.max(), deq.max()))
    a.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    a.set_xlabel("float model")
    a.set_ylabel("quantized (dequantized)")
    b.hist((deq - f).reshape(-1), bins=80)
    b.set_xlabel("quantization error (real units)")
    fig.suptitle(f"node {node}: {name.split(';')[0]}", fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write(path, buf.getvalue(), overwrite=True)  # our own report directory
    return str(path)


def generated_data(model: tfs.Model, rows: int = 16, seed: int = 0) -> np.ndarray:
    """Deterministic float inputs inside the model input's quantized range (or [-1, 1])."""
    g = model.subgraphs[0]
    t = g.tensors[g.inputs[0]]
    rng = np.random.default_rng(seed)
    lo, hi = -1.0, 1.0
    if t.quantization is not None and t.type.name in ("INT8", "INT16", "UINT8"):
        info = np.iinfo(t.type.numpy_dtype)
        s, zp = float(t.quantization.scale[0]), int(t.quantization.zero_point[0])
        lo, hi = s * (info.min - zp), s * (info.max - zp)
    shape = (rows, *t.shape[1:]) if t.shape else (rows,)
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def to_dicts(rows: list[LayerError]) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(r) for r in rows]
