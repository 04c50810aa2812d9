"""``refimpl zoo``: the seeds' table for every zoo variant, as Markdown, JSON and a plot.

One row per (model, variant): accuracy on held-out data per runtime (refimpl, LiteRT
BUILTIN_REF, TFLM; mean absolute error for the sine regressor), .tflite size and its
gzip -9 size (the seeds' "zipped" size), the fraction of zero weights, distinct values
per weight tensor and per channel (how much of pruning and clustering survived
conversion), and bit-exactness: refimpl (default flavour) against BUILTIN_REF and
refimpl (``tflm`` flavour) against TFLM, on every output element.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from refimpl.weights import model_zero_fraction, weight_stats

from .runtimes import get_runtime
from .zoo.cache import repo_root
from .zoo.registry import ZOO, build_all, gzip_size, zoo_inputs, zoo_labels, zoo_model

#: held-out samples per variant (the differential suite uses at least 50)
SAMPLES = 100


@dataclass
class ZooRow:
    model: str
    variant: str
    status: str
    size: int | None = None
    gzip_size: int | None = None
    zero_weights: float | None = None
    unique_per_tensor: str = ""
    unique_per_channel: str = ""
    metric: str = ""  # "accuracy" or "MAE"
    refimpl: float | None = None
    litert_ref: float | None = None
    tflm: float | None = None
    exact_vs_litert_ref: str = ""
    exact_vs_tflm: str = ""
    note: str = ""


def _output_quantization(model: bytes) -> tuple[float, int]:
    import tflite_schema as tfs

    sg = tfs.read_model(model).subgraphs[0]
    q = sg.tensors[sg.outputs[0]].quantization
    return (float(q.scale[0]), int(q.zero_point[0])) if q is not None else (1.0, 0)


def _score(task: str, outputs: list[np.ndarray], labels: np.ndarray,
           quant: tuple[float, int]) -> float:
    y = np.asarray(outputs[0])
    if np.dtype(y.dtype).kind in "iu":
        s, zp = quant
        y = s * (y.astype(np.float64) - zp)
    y = y.reshape(len(labels), -1)
    if task == "classification":
        return float((np.argmax(y, axis=1) == labels).mean())
    return float(np.abs(y[:, 0] - np.asarray(labels, np.float64).reshape(-1)).mean())


def _exact(a: list[np.ndarray], b: list[np.ndarray]) -> str:
    total = sum(x.size for x in a)
    if any(x.shape != y.shape or x.dtype != y.dtype for x, y in zip(a, b)):
        return "shape/dtype differ"
    same = sum(int((x == y).sum()) for x, y in zip(a, b))
    return "exact" if same == total else f"{total - same}/{total} differ"


def evaluate_variant(name: str, variant: str, samples: int = SAMPLES) -> ZooRow:
    """Run one variant through refimpl, LiteRT BUILTIN_REF and TFLM."""
    model = zoo_model(name, variant)
    task = ZOO[name].task
    x = zoo_inputs(name, variant, samples)
    labels = zoo_labels(name, samples)
    details = _output_quantization(model)
    stats = weight_stats(model)
    row = ZooRow(name, variant, "built", len(model), gzip_size(model),
                 round(model_zero_fraction(stats), 4) if stats else None,
                 " ".join(str(s.unique) for s in stats),
                 " ".join(str(s.unique_per_channel_max) for s in stats),
                 "accuracy" if task == "classification" else "MAE")
    results: dict[str, Any] = {}
    for rt in ("refimpl", "refimpl-tflm", "litert-ref", "tflm"):
        res = get_runtime(rt, isolate=None if rt.startswith("refimpl") else True).run(model, x)
        results[rt] = res
    ours = results["refimpl"]
    if ours.status != "ok":
        row.note = f"refimpl: {ours.status}: {ours.message[:120]}"
    else:
        row.refimpl = _score(task, ours.outputs, labels, details)
    ref = results["litert-ref"]
    if ref.status == "ok":
        row.litert_ref = _score(task, ref.outputs, labels, details)
        if ours.status == "ok":
            row.exact_vs_litert_ref = _exact(ours.outputs, ref.outputs)
    else:
        row.exact_vs_litert_ref = f"LiteRT: {ref.status}"
    micro = results["tflm"]
    if micro.status == "ok":
        row.tflm = _score(task, micro.outputs, labels, details)
        mine = results["refimpl-tflm"]
        row.exact_vs_tflm = (_exact(mine.outputs, micro.outputs) if mine.status == "ok"
                             else f"refimpl-tflm: {mine.status}")
    else:
        row.exact_vs_tflm = f"TFLM cannot run: {micro.message.splitlines()[0][:80]}" \
            if micro.message else f"TFLM: {micro.status}"
    return row


def run_zoo(models: list[str] | None = None, samples: int = SAMPLES,
            progress: Callable[[str], None] | None = None) -> list[ZooRow]:
    say = progress or (lambda m: sys.stderr.write(m + "\n"))
    rows = []
    lines = build_all(progress=say, models=models)
    t0 = time.perf_counter()
    for k, line in enumerate(lines, 1):
        say(f"[{k}/{len(lines)}] {line.model}/{line.variant} ({time.perf_counter() - t0:.0f} s)")
        if line.status != "built":
            rows.append(ZooRow(line.model, line.variant, line.status, note=line.reason or ""))
            continue
        try:
            rows.append(evaluate_variant(line.model, line.variant, samples))
        except Exception as exc:  # one broken variant must not hide the others
            rows.append(ZooRow(line.model, line.variant, "error", note=repr(exc)[:200]))
    return rows


def _fmt(v: float | None, metric: str) -> str:
    if v is None:
        return ""
    return f"{v:.3f}" if metric == "accuracy" else f"{v:.4f}"


def to_markdown(rows: list[ZooRow]) -> str:
    out = ["# Model zoo", "",
           "Accuracy (MAE for the sine regressor) on held-out data per runtime; sizes in "
           "bytes (gzip -9 is the seeds' zipped size); zero weights over all weight "
           "tensors; distinct values per weight tensor / max per channel, in op order; "
           "bit-exactness on every output element.", "",
           "| model | variant | refimpl | LiteRT REF | TFLM | size | gzip | zeros | unique/tensor "
           "| unique/channel | refimpl = LiteRT REF | refimpl(tflm) = TFLM | note |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        zeros = "" if r.zero_weights is None else f"{100 * r.zero_weights:.1f}%"
        out.append(
            f"| {r.model} | {r.variant} | {_fmt(r.refimpl, r.metric)} | "
            f"{_fmt(r.litert_ref, r.metric)} | {_fmt(r.tflm, r.metric)} | {r.size or ''} | "
            f"{r.gzip_size or ''} | {zeros} | {r.unique_per_tensor} | {r.unique_per_channel} | "
            f"{r.exact_vs_litert_ref} | {r.exact_vs_tflm} | {r.note} |")
    return "\n".join(out) + "\n"


def plot(rows: list[ZooRow], path: Path) -> Path:
    """Size (gzip) against accuracy: one panel per classification model, a point per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r.model for r in rows if r.metric == "accuracy" and r.refimpl is not None})
    cols = 2
    nrows = max(1, (len(models) + cols - 1) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 3.6 * nrows), squeeze=False)
    for ax, model in zip(axes.flat, models):
        pts = [r for r in rows if r.model == model and r.refimpl is not None and r.gzip_size]
        ax.scatter([r.gzip_size / 1024 for r in pts], [r.refimpl for r in pts], s=14)
        for r in pts:
            ax.annotate(r.variant, (r.gzip_size / 1024, r.refimpl), fontsize=6,
                        xytext=(3, 2), textcoords="offset points", rotation=20)
        ax.set_xscale("log")
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("gzip -9 size (KiB, log)", fontsize=8)
        ax.set_ylabel("held-out accuracy", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(models):]:
        ax.axis("off")
    fig.suptitle("Zoo variants: zipped size vs accuracy (refimpl)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_reports(rows: list[ZooRow], directory: Path | None = None) -> list[Path]:
    directory = directory or repo_root() / "reports"
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / "zoo.md"
    md.write_text(to_markdown(rows))
    js = directory / "zoo.json"
    js.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return [md, js, plot(rows, directory / "zoo.png")]


def main(models: list[str] | None = None, samples: int = SAMPLES) -> int:
    rows = run_zoo(models, samples)
    text = to_markdown(rows)
    if models is None or "seed_cnn" in models:
        from .optimisation_table import optimisation_table

        _, table = optimisation_table()
        text += "\n## The seeds' optimisation table, two ways\n\n" + table
    print(text)
    paths = write_reports(rows)
    paths[0].write_text(text)
    for p in paths:
        print(f"wrote {p}")
    return 0
