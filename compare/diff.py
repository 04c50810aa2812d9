"""Diff reports between two runtimes' results on the same model and inputs.

For every output, and every intermediate tensor matched by name, a :class:`TensorDiff`
says: dtype, how many elements differ, the largest difference (in LSB for integer
tensors, absolute for floats), and the first differing index with both values.
Walking the ops in execution order gives the *first op where the runtimes diverge*:
everything before it agrees, so that op's arithmetic is where to look.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass
class TensorDiff:
    """Element-wise comparison of one tensor between runtime A and runtime B."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    elements: int
    differing: int
    max_abs_diff: float
    first_index: tuple[int, ...] | None = None
    a_value: float | None = None
    b_value: float | None = None
    note: str = ""
    #: every differing element as (index, A, B), up to MAX_LISTED
    listed: list[tuple[tuple[int, ...], float, float]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.differing == 0 and not self.note

    def line(self) -> str:
        if self.note:
            return f"{self.name}: {self.note}"
        if self.differing == 0:
            return f"{self.name}: {self.dtype}{list(self.shape)} identical ({self.elements} elements)"
        unit = " LSB" if self.dtype.startswith(("int", "uint")) else ""
        return (
            f"{self.name}: {self.dtype}{list(self.shape)} {self.differing}/{self.elements} differ, "
            f"max |diff| {self.max_abs_diff:g}{unit}, first at {list(self.first_index or ())}: "
            f"{self.a_value!r} vs {self.b_value!r}"
        )


def diff_arrays(name: str, a: np.ndarray, b: np.ndarray, *, atol: float = 0.0) -> TensorDiff:
    """Compare two arrays element by element (integers exactly, floats within ``atol``).

    Shape and dtype are checked first; a mismatch there is reported as a note and the
    values are not compared.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return TensorDiff(name, a.dtype.name, a.shape, a.size, a.size, float("inf"),
                          note=f"shape {list(a.shape)} vs {list(b.shape)}")
    if a.dtype != b.dtype:
        return TensorDiff(name, a.dtype.name, a.shape, a.size, a.size, float("inf"),
                          note=f"dtype {a.dtype.name} vs {b.dtype.name}")
    if a.dtype.kind in "iub":
        d = np.abs(a.astype(np.int64) - b.astype(np.int64))
        bad = d > 0
    else:
        af, bf = a.astype(np.float64), b.astype(np.float64)
        d = np.abs(af - bf)
        both_nan = np.isnan(af) & np.isnan(bf)
        d = np.where(both_nan, 0.0, d)
        bad = (d > atol) | (np.isnan(af) != np.isnan(bf))
    n = int(bad.sum())
    first = None
    av = bv = None
    listed = []
    if n:
        where = np.flatnonzero(bad.reshape(-1))
        first = tuple(int(i) for i in np.unravel_index(int(where[0]), a.shape))
        av, bv = a.reshape(-1)[where[0]].item(), b.reshape(-1)[where[0]].item()
        for flat in where[:MAX_LISTED]:
            idx = tuple(int(i) for i in np.unravel_index(int(flat), a.shape))
            listed.append((idx, a.reshape(-1)[flat].item(), b.reshape(-1)[flat].item()))
    return TensorDiff(name, a.dtype.name, tuple(a.shape), int(a.size), n,
                      float(d.max()) if d.size else 0.0, first, av, bv, listed=listed)


#: how many differing elements a TensorDiff lists one by one
MAX_LISTED = 1000


@dataclass
class Divergence:
    """The first op (in execution order) whose output differs between A and B."""

    node_index: int
    op_name: str
    tensor: str
    diff: TensorDiff


@dataclass
class DiffReport:
    """Outputs and intermediates of runtime A vs runtime B on one model and one batch."""

    model: str
    runtime_a: str
    runtime_b: str
    outputs: list[TensorDiff]
    intermediates: list[TensorDiff] = field(default_factory=list)
    first_divergence: Divergence | None = None

    @property
    def bit_exact(self) -> bool:
        return all(t.exact for t in self.outputs)

    def to_markdown(self) -> str:
        lines = [f"### {self.model}: {self.runtime_a} vs {self.runtime_b}", ""]
        verdict = "bit-exact" if self.bit_exact else "DIFFERENT"
        lines.append(f"Outputs: **{verdict}**")
        lines.append("")
        lines.append("| tensor | dtype | shape | differing | max abs diff | first index | A | B |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for t in self.outputs + self.intermediates:
            lines.append(
                f"| {t.name} | {t.dtype} | {list(t.shape)} | {t.differing}/{t.elements} "
                f"| {t.max_abs_diff:g} | {list(t.first_index) if t.first_index else ''} "
                f"| {'' if t.a_value is None else t.a_value} | {'' if t.b_value is None else t.b_value} |"
                + (f" {t.note}" if t.note else "")
            )
        if self.first_divergence:
            d = self.first_divergence
            lines += ["", f"First divergence: node {d.node_index} ({d.op_name}), tensor `{d.tensor}`"]
        for t in self.outputs:
            if t.listed:
                lines += ["", f"Every differing element of output `{t.name}`"
                          + (f" (first {len(t.listed)})" if t.differing > len(t.listed) else "")
                          + f": index, {self.runtime_a}, {self.runtime_b}", ""]
                lines += [f"- {list(i)}: {a} vs {b}" for i, a, b in t.listed]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_json_default, indent=1)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    return str(o)


def execution_order(model_bytes: bytes) -> list[tuple[int, str, list[str]]]:
    """``(node_index, op_name, [output tensor keys])`` for subgraph 0, in order.

    Keys are those of :func:`compare.runtimes.tensor_keys` (names, made unique).
    """
    import tflite_schema as tfs

    from .runtimes import tensor_keys

    m = tfs.read_model(model_bytes)
    sg = m.subgraphs[0]
    keys = tensor_keys(sg)
    return [
        (op.index, m.operator_codes[op.opcode_index].name, [keys[i] for i in op.outputs])
        for op in sg.operators
    ]


def compare_runs(
    model_name: str,
    model_bytes: bytes,
    name_a: str,
    outputs_a: Sequence[np.ndarray],
    name_b: str,
    outputs_b: Sequence[np.ndarray],
    tensors_a: dict[str, np.ndarray] | None = None,
    tensors_b: dict[str, np.ndarray] | None = None,
    *,
    atol: float = 0.0,
) -> DiffReport:
    """Build a :class:`DiffReport`; intermediates are compared when both sides give them."""
    import tflite_schema as tfs

    from .runtimes import tensor_keys

    m = tfs.read_model(model_bytes)
    sg = m.subgraphs[0]
    keys = tensor_keys(sg)
    out_names = [keys[i] for i in sg.outputs]
    outs = [diff_arrays(n, a, b, atol=atol) for n, a, b in zip(out_names, outputs_a, outputs_b)]
    report = DiffReport(model_name, name_a, name_b, outs)
    if tensors_a is None or tensors_b is None:
        return report
    for node_index, op_name, names in execution_order(model_bytes):
        for n in names:
            if n in tensors_a and n in tensors_b:
                td = diff_arrays(n, tensors_a[n], tensors_b[n], atol=atol)
                report.intermediates.append(td)
                if td.note.startswith("shape"):
                    # e.g. a SHAPE result of a per-row run ([1, ...]) against a batched
                    # run ([N, ...]): a different batching, not a different arithmetic
                    continue
                if not td.exact and report.first_divergence is None:
                    report.first_divergence = Divergence(node_index, op_name, n, td)
    return report


def assert_bit_exact(actual: np.ndarray, expected: np.ndarray, context: str = "") -> None:
    """Shape, then dtype, then every value; the failure names the first differing element."""
    td = diff_arrays(context or "tensor", actual, expected)
    if not td.exact:
        raise AssertionError(f"{context}: not bit-exact: {td.line()}")
