"""``refimpl audit``: what the converter emitted, checked before anything runs it.

>>> from refimpl.audit import audit                          # doctest: +SKIP
>>> report = audit("model_int8.tflite", float_model="model_float.tflite")
>>> print(report.to_markdown())

Four parts:

1. :mod:`~refimpl.audit.lint` — the quantization spec per op (symmetric int8 weights,
   bias type and scale, per-channel axis and count, ops that must keep their input's
   scale, fixed softmax/logistic/tanh output parameters, effective multipliers,
   float ops left in an integer model);
2. :mod:`~refimpl.audit.compat` — what TFLite Micro and XNNPACK cannot run, and
   Prepare-time failures predicted from the numbers (e.g. the int8 SOFTMAX that makes
   the reference kernels abort the process);
3. :mod:`~refimpl.audit.error` — with a float twin and data: per-layer quantization
   error and implementation error, with a plot per layer;
4. :mod:`~refimpl.audit.memory` — flash for weights and a greedy arena plan for
   activations, next to what TFLM allocates for the same model.

Every finding carries severity, node index, op, tensor and rule. A model is *clean* when
it has no error and no warning (infos remain: e.g. per-channel FULLY_CONNECTED).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tflite_schema as tfs

from .compat import compatibility
from .error import LayerError, generated_data, layer_errors
from .lint import ERROR, INFO, SEVERITY_ORDER, WARNING, Finding, lint
from .memory import MemoryEstimate, estimate

__all__ = ["audit", "AuditReport", "Finding", "ERROR", "WARNING", "INFO"]


@dataclass
class AuditReport:
    model: str
    findings: list[Finding]
    memory: MemoryEstimate | None = None
    layers: list[LayerError] = field(default_factory=list)
    float_model: str = ""

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)

    @property
    def clean(self) -> bool:
        return self.count(ERROR) == 0 and self.count(WARNING) == 0

    def rules(self, severity: str | None = None) -> set[str]:
        return {f.rule for f in self.findings if severity is None or f.severity == severity}

    def to_dict(self) -> dict[str, Any]:
        mem = None
        if self.memory is not None:
            mem = asdict(self.memory)
            mem["placements"] = len(self.memory.placements)
            mem["ratio_to_tflm"] = self.memory.ratio_to_tflm
        return {"model": self.model, "float_model": self.float_model, "clean": self.clean,
                "counts": {s: self.count(s) for s in (ERROR, WARNING, INFO)},
                "findings": [asdict(f) for f in self.findings], "memory": mem,
                "layers": [asdict(r) for r in self.layers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=_json_default)

    def to_markdown(self) -> str:
        c = {s: self.count(s) for s in (ERROR, WARNING, INFO)}
        lines = [f"# Audit of {self.model}", "",
                 f"**{'clean' if self.clean else 'not clean'}**: {c[ERROR]} error(s), "
                 f"{c[WARNING]} warning(s), {c[INFO]} info(s).", ""]
        if self.findings:
            lines += ["| severity | rule | node | op | tensor | finding |", "|---|---|---|---|---|---|"]
            for f in self.findings:
                node = "" if f.node is None else str(f.node)
                msg = f.message.replace("|", "/")
                lines.append(f"| {f.severity} | {f.rule} | {node} | {f.op} | "
                             f"`{f.tensor.split(';')[0]}` | {msg} |")
            lines.append("")
        if self.memory is not None:
            m = self.memory
            lines += ["## Memory", "",
                      f"- flash: {m.flash_weight_bytes:,} bytes of constant buffers "
                      f"(model file {m.model_bytes:,} bytes)",
                      f"- RAM: greedy arena plan {m.arena_bytes:,} bytes "
                      f"({len(m.placements)} tensors, largest {m.largest_tensor_bytes:,})"]
            if m.tflm_head_bytes:
                lines.append(f"- TFLM allocates {m.tflm_head_bytes:,} bytes for activations "
                             f"(arena head) + {m.tflm_tail_bytes or 0:,} persistent (tail); "
                             f"plan / TFLM head = {m.ratio_to_tflm:.3f}")
            elif m.tflm_note:
                lines.append(f"- TFLM: {m.tflm_note}")
            lines.append("")
        if self.layers:
            lines += [f"## Per-layer error against {self.float_model}", "",
                      "Quantization error: refimpl `tflite-ref` dequantized vs the float model. "
                      "Implementation error: the runtime's integers vs refimpl's.", "",
                      "| node | op | tensor | RMSE/scale | max abs | cosine | SNR dB | "
                      "implementation error |", "|---|---|---|---|---|---|---|---|"]
            for r in self.layers:
                impl = "–"
                if r.impl_differing is not None:
                    impl = (f"{r.impl_runtime}: {r.impl_differing}/{r.impl_elements} differ, "
                            f"max {r.impl_max_lsb} LSB")
                lines.append(f"| {r.node} | {r.op} | `{r.name.split(';')[0]}` | "
                             f"{r.rmse_over_scale:.3f} | {r.max_abs_error:.4g} | {r.cosine:.5f} | "
                             f"{r.snr_db:.1f} | {impl} |")
            lines.append("")
        return "\n".join(lines)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        v = float(o)
        return v if math.isfinite(v) else str(v)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _load(model: str | Path | bytes | tfs.Model) -> tuple[tfs.Model, str]:
    if isinstance(model, tfs.Model):
        return model, "<model>"
    if isinstance(model, (bytes, bytearray, memoryview)):
        return tfs.read_model(bytes(model)), "<bytes>"
    return tfs.load_model(model), str(model)


def audit(model: str | Path | bytes | tfs.Model, float_model: Any = None,
          data: np.ndarray | None = None, *, memory: bool = True, with_tflm: bool = True,
          runtime: str | None = "litert-builtin", plot_dir: Path | None = None) -> AuditReport:
    """Audit a model; see the module docstring.

    Parameters
    ----------
    float_model : path, bytes or Model, optional
        The float twin: enables the per-layer error section.
    data : array, optional
        Float inputs for the error section (default: 16 generated rows).
    runtime : str or None
        Runtime for the implementation-error column (``compare.runtimes`` name).
    plot_dir : Path, optional
        Where to write one PNG per layer.
    """
    m, name = _load(model)
    findings = list(lint(m)) + list(compatibility(m))
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.subgraph,
                                 -1 if f.node is None else f.node, f.rule))
    report = AuditReport(name, findings)
    if memory:
        report.memory = estimate(m, with_tflm=with_tflm)
    if float_model is not None:
        fm, fname = _load(float_model)
        report.float_model = fname
        x = generated_data(m) if data is None else np.asarray(data, dtype=np.float32)
        report.layers = layer_errors(m, fm, x, runtime=runtime, plot_dir=plot_dir)
    return report
