"""``refimpl demo``: the seed CNN through refimpl, LiteRT and TFLM, in one table.

Builds (or loads from the cache) the seeds' Fashion-MNIST CNN in four converter modes,
runs the held-out images through every runtime, and prints per variant and runtime:
accuracy, throughput, and how many output values equal refimpl's — under the default
flavour (LiteRT reference arithmetic) and under the runtime's own flavour where refimpl
has one. Also writes the table as Markdown and JSON under reports/.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .zoo.cache import repo_root
from .zoo.seed_cnn import SEED_CNN_VARIANTS, quantize_input, seed_cnn_heldout, seed_cnn_models

#: runtime name -> refimpl flavour reproducing it (None: no flavour yet)
MATCHING_FLAVOR = {
    "refimpl": "tflite-ref",
    "litert-ref": "tflite-ref",
    "litert-builtin": None,
    "litert-xnnpack": None,
    "tflm": "tflm",
}


@dataclass
class Row:
    variant: str
    runtime: str
    status: str
    accuracy: float | None
    images_per_s: float | None
    equal_to_refimpl: str
    equal_to_own_flavor: str
    note: str = ""


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done, self.t0 = total, label, 0, time.perf_counter()

    def step(self, what: str) -> None:
        self.done += 1
        width = 24
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        el = time.perf_counter() - self.t0
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {el:5.1f}s {what:<40.40}")
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")


def model_inputs(model: bytes, x_float: np.ndarray) -> np.ndarray:
    """Held-out float images in the model's input dtype (quantized if needed)."""
    from refimpl import Interpreter

    details = Interpreter(model_content=model).get_input_details()[0]
    return quantize_input(x_float, details)


def _equal_count(a: list[np.ndarray], b: list[np.ndarray], float_atol: float) -> str:
    ya, yb = np.asarray(a[0]), np.asarray(b[0])
    if ya.shape != yb.shape:
        return f"shape {ya.shape} vs {yb.shape}"
    if ya.dtype.kind == "f":
        d = np.abs(ya.astype(np.float64) - yb.astype(np.float64))
        return f"max |diff| {d.max():.2g}"
    return f"{int((ya == yb).sum())}/{ya.size}"


def run_demo(batch: int = 300, runtimes: str = "refimpl,litert-ref,litert-xnnpack,tflm") -> int:
    from .runtimes import get_runtime
    from refimpl import Interpreter

    names = [r.strip() for r in runtimes.split(",") if r.strip()]
    sys.stderr.write("seed CNN models (built on first use, then cached)\n")
    models = seed_cnn_models(progress=lambda msg: sys.stderr.write(f"  {msg}\n"))
    x_test, y_test = seed_cnn_heldout()
    x_test, y_test = x_test[:batch], y_test[:batch]
    rows: list[Row] = []
    prog = Progress(len(SEED_CNN_VARIANTS) * (len(names) + 1), "running")
    for variant in SEED_CNN_VARIANTS:
        model = models[variant]
        x = model_inputs(model, x_test)
        ref_outs: dict[str, list[np.ndarray]] = {}
        for flavor in ("tflite-ref", "tflm"):
            ref_outs[flavor] = Interpreter(model_content=model, flavor=flavor).run(x)
        prog.step(f"{variant}: refimpl flavours")
        for rt_name in names:
            rt = get_runtime(rt_name)
            res = rt.run(model, [x])
            prog.step(f"{variant}: {rt_name}")
            if res.status != "ok":
                rows.append(Row(variant, rt_name, res.status, None, None, "", "", res.message[:80]))
                continue
            y = res.outputs[0]
            acc = float((np.argmax(y.reshape(len(x), -1), axis=1) == y_test).mean())
            eq_ref = _equal_count(res.outputs, ref_outs["tflite-ref"], 0)
            own = MATCHING_FLAVOR.get(rt_name)
            eq_own = _equal_count(res.outputs, ref_outs[own], 0) if own else "(no flavour yet)"
            ips = len(x) / res.seconds if res.seconds > 0 else float("nan")
            rows.append(Row(variant, rt_name, "ok", acc, ips, eq_ref, eq_own))
    _print_table(rows, batch)
    _write_reports(rows, batch)
    return 0


def _print_table(rows: list[Row], batch: int) -> None:
    head = (f"{'variant':<15} {'runtime':<15} {'accuracy':>8} {'img/s':>9}  "
            f"{'= refimpl (tflite-ref)':<24} {'= refimpl (own flavour)':<24}")
    print(f"\nSeed CNN, {batch} held-out images; 'equal' counts output values")
    print(head)
    print("-" * len(head))
    for r in rows:
        acc = f"{r.accuracy:.3f}" if r.accuracy is not None else r.status
        ips = f"{r.images_per_s:,.0f}" if r.images_per_s is not None else ""
        print(f"{r.variant:<15} {r.runtime:<15} {acc:>8} {ips:>9}  {r.equal_to_refimpl:<24} "
              f"{r.equal_to_own_flavor:<24} {r.note}")


def _write_reports(rows: list[Row], batch: int) -> None:
    out = repo_root() / "reports"
    out.mkdir(exist_ok=True)
    md = ["# refimpl demo: seed CNN", "", f"{batch} held-out images.", "",
          "| variant | runtime | accuracy | img/s | = refimpl (tflite-ref) | = refimpl (own flavour) | note |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r.variant} | {r.runtime} | {'' if r.accuracy is None else f'{r.accuracy:.3f}'} "
                  f"| {'' if r.images_per_s is None else f'{r.images_per_s:.0f}'} | {r.equal_to_refimpl} "
                  f"| {r.equal_to_own_flavor} | {r.note} |")
    (out / "demo.md").write_text("\n".join(md) + "\n")
    (out / "demo.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(f"\nwrote {out / 'demo.md'} and demo.json")


if __name__ == "__main__":
    sys.exit(run_demo())
