"""Run the single-op sweep: every case on every runtime, against refimpl under that
runtime's flavour; write the coverage report.

>>> python -m compare.sweep                      # fast subset, all runtimes
>>> python -m compare.sweep --full --ops CONV_2D,ADD --runtimes litert-xnnpack

Each (case, runtime) pair ends in one :class:`Outcome` status:

``exact``       every element equal (integers; floats bit for bit)
``tolerated``   float outputs within the case's stated :class:`~compare.cases._common.Tolerance`
``differs``     a difference — a failure, unless the pair is a :data:`KNOWN_BUGS` entry
``no-kernel``   the runtime refused the model (no kernel for this op / dtype)
``refused``     refimpl refused a model the runtime ran — a coverage gap, a failure
``aborts``      the runtime process died (a failed CHECK) and refimpl refused the model
                with a clear error: passes (refimpl predicts the abort)
``crashed``     the runtime process died and refimpl ran the model: a failure
``error``       anything else (an adapter bug, a bad case)

The report (``reports/sweep_coverage.md`` / ``.json``) is op x dtype x runtime: cases
run and % exact, or "no kernel".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .cases import case_modules
from .cases._common import Case, Tolerance

#: The real runtimes, each compared with refimpl under the flavour named here.
FLAVOR_OF_RUNTIME: dict[str, str] = {
    "litert-ref": "tflite-ref",
    "litert-builtin": "tflite-builtin",
    "litert-xnnpack": "xnnpack",
    "tflm": "tflm",
}
RUNTIME_NAMES: tuple[str, ...] = tuple(FLAVOR_OF_RUNTIME)

FAST_EXAMPLES = 4   # hypothesis draws per (op, dtype) in the default run
FULL_EXAMPLES = 60  # ... with --full / --sweep=full


@dataclass
class Outcome:
    """How one case went on one runtime."""

    case_id: str
    op: str
    dtype: str
    runtime: str
    flavor: str
    status: str
    detail: str = ""
    elements: int = 0
    differing: int = 0

    @property
    def passed(self) -> bool:
        return self.status in ("exact", "tolerated", "no-kernel", "aborts", "known-bug", "gap",
                               "open")


@dataclass(frozen=True)
class KnownBug:
    """A runtime bug the sweep reproduces: refimpl's flavour for that runtime mirrors it,
    so the sweep itself passes; ``compare/test_sweep.py`` then runs the runtime against
    the *correct* result as a strict xfail, so that a fix is noticed.

    ``cases`` selects the reproducer cases (a substring of the case name, "" = all of
    that op and dtype); ``correct`` computes the right outputs for a case (default:
    refimpl under ``tflite-ref``; None from it: the correct outcome is a failed invoke),
    and ``lsb`` is how far from them an integer output may be and still count as correct
    (for an ideal computed in float, 1).
    """

    runtime: str
    op: str
    dtype: str
    reason: str
    reproducer: str
    cases: str = ""
    correct: Any = None
    lsb: int = 0
    #: for bugs refimpl cannot imitate (undefined behaviour not characterised): a
    #: predicate on the case; refimpl refuses those cases and the sweep records
    #: "known-bug" instead of a failure
    refused_when: Any = None
    #: run the strict-xfail check (False when no fast-grid case shows the difference)
    xfail: bool = True
    #: "bug" (the runtime is wrong) or "gap" (a correct runtime variant refimpl does not
    #: reproduce yet; refimpl refuses those models with an error saying so, or computes
    #: them another way and ``differs_when`` selects them: recorded as "gap"), or "open"
    #: (refimpl computes the case but differs by one in rare elements, cause not yet found;
    #: ``differs_when`` selects those cases; they pass the suite as "open", shown in bold in
    #: the coverage report and listed in the issue — never a tolerance)
    kind: str = "bug"
    differs_when: Any = None


def _ideal_batch_matmul(case: Case) -> list[np.ndarray]:
    """BATCH_MATMUL computed in float64 from the real values, rounded once: the result a
    correct kernel approximates to within one step."""
    import tflite_schema as tfs

    m = tfs.read_model(case.model)
    g = m.subgraphs[0]
    op = g.operators[0]
    tx, ty, to = (g.tensors[op.inputs[0]], g.tensors[op.inputs[1]], g.tensors[op.outputs[0]])

    def real(t, q):
        return float(t.quantization.scale[0]) * (q.astype(np.float64)
                                                  - int(t.quantization.zero_point[0]))

    x = real(tx, case.inputs[0])
    yq = case.inputs[1] if len(case.inputs) > 1 else m.tensor_data(0, op.inputs[1])
    y = real(ty, np.asarray(yq))
    opts = op.builtin_options
    if opts is not None and getattr(opts, "adj_x", False):
        x = np.swapaxes(x, -1, -2)
    if opts is not None and getattr(opts, "adj_y", False):
        y = np.swapaxes(y, -1, -2)
    r = np.matmul(x, y) / float(to.quantization.scale[0]) + int(to.quantization.zero_point[0])
    info = np.iinfo(to.type.numpy_dtype)
    return [np.clip(np.round(r), info.min, info.max).astype(to.type.numpy_dtype)]


_BMM_SHIFT = ("16x8 BATCH_MATMUL with s_x*s_y/s_out >= 256 (shift >= 8): the int64 "
              "MultiplyByQuantizedMultiplier computes a right shift of 15 - shift < 8 bits "
              "as a negative count, which x86 masks to 6 bits, so outputs collapse to ~0; "
              "every runtime shares the reference kernel (refimpl mirrors it: "
              "arithmetic.multiply_by_quantized_multiplier_int64_x86)")
_RELU6 = ("TFLM's RELU6 does not requantize: it clamps the raw input to [zp_in, Q_in(6)] in "
          "the input's quantization and writes that as the output, ignoring the output "
          "scale and zero point (micro/kernels/activations_common.cc); LiteRT requantizes")

_SQRT = ("SqrtEvalQuantized converts sqrt(x)/s_out to int32 with a plain cast: on x86 a value "
         "beyond int32 becomes INT32_MIN, so outputs that should saturate at the maximum "
         "code come out as the minimum (with a negative output zero point the int32 sum "
         "wraps back to the maximum)")
_ELU = ("TFLM builds the int8 ELU table by casting y/s_out + zp to int32 with a plain cast: "
        "for s_in/s_out >= ~2^24 large positive outputs become -128 where LiteRT gives 127")
_HSWISH = ("gemmlowp's int16 rounding shift breaks for shifts >= 16 (s_in/128/s_out < 2^-15): "
           "it returns +-1 instead of 0, so outputs are the zero point +-1 instead of the "
           "zero point")


def _correct(module: str, name: str) -> Any:
    def f(case: Case) -> list[np.ndarray]:
        import importlib

        return getattr(importlib.import_module(f"compare.cases.{module}"), name)(case)
    return f


_MUL_WRAP = ("LiteRT's optimized int8 MUL narrows the rescaled product to int16 with "
             "saturation in its 16-element vector blocks, then adds the output zero point in "
             "int16, which wraps: products that should saturate at 127 come out as -128 (and "
             "vice versa); elements in the scalar tail of each run are right. Reachable when "
             "s1*s2/s_out is large enough for |rescaled product| > 32767 - |zp_out|")


_ADD_WRAP = ("LiteRT's optimized int8 / uint8 ADD narrows the rescaled sum to int16 with a "
             "truncating vmovn in its vector blocks (int8: 16 elements element-wise, 8 in "
             "scalar broadcasts; uint8: 8) and "
             "adds the output zero point in int16: sums beyond int16 wrap around, so outputs "
             "that should saturate come out at the other end; scalar tails are right")


_SUM16 = ("LiteRT's reference int16 SUM reads the int16 data as uint8 bytes and writes half "
          "of the output (the rest is stale memory): no reproducible result; refimpl refuses "
          "it under the LiteRT flavours (TFLM's int16 SUM is reproduced)")
_LITERT = ("litert-ref", "litert-builtin", "litert-xnnpack")
_FLOOR_DIV_MIN = ("int8 / int16 FLOOR_DIV of T_MIN by -1: the double quotient -T_MIN is "
                  "converted back to the type (undefined in C++); the same-shape loop is "
                  "vectorised 8 elements at a time and saturates there (127 / 32767) but "
                  "wraps in its scalar tail and in the broadcast loop (-128 / -32768), so the "
                  "result depends on the element's position (TensorFlow wraps everywhere)")
_FLOOR_MOD_MIN = ("int32 / int64 FLOOR_MOD of T_MIN by -1: C++'s % runs x86 idiv, which "
                  "traps: the runtime process dies with SIGFPE (the remainder is 0); "
                  "refimpl refuses the model instead")
_POW_INT_EXP = ("float32 POW with a one-element exponent within 1e-5 of an integer n >= 1 "
                "and a base of another shape runs optimized_ops::IntegerExponentPow (in the "
                "reference resolver too): repeated float32 multiplication, so 2.000001 is "
                "taken as 2, x**3 is rounded twice and an overflow clamps to FLT_MAX; the "
                "same values with same shapes go through powf")
_REVERSE_EMPTY = ("REVERSE_V2 with an empty axis tensor (TensorFlow: the identity): the "
                  "kernel reads axes[num_axes - 1] = axes[-1] and the process dies with "
                  "SIGSEGV, on LiteRT and TFLM; refimpl refuses the model")
_GATHER_ND_DEPTH0 = ("GATHER_ND with index depth 0 (indices [..., 0]: the whole params per "
                     "index row): LiteRT's empty index tensor has no data pointer and "
                     "reference_ops::GatherNd fails the invoke ('gather_nd index out of "
                     "bounds'); refimpl's LiteRT flavours refuse the model as unsupported")
_GATHER_ND_TFLM = ("TFLM's GATHER_ND checks only the flat position sum(index_j * stride_j), "
                   "not each coordinate: an index such as [0, 5] into params (3, 4) reads "
                   "params[1, 1] and [1, -1] reads params[0, 3] where LiteRT fails the "
                   "invoke; refimpl's tflm flavour reads the same elements")
KNOWN_BUGS: list[KnownBug] = [
    *(KnownBug(rt, "FLOOR_DIV", dt, _FLOOR_DIV_MIN,
               f"python -m compare.sweep --ops FLOOR_DIV --runtimes {rt}",
               cases="min-by-minus-one", correct=_correct("floor_div_mod", "correct_floor_div"))
      for rt in _LITERT for dt in ("int8", "int16")),
    *(KnownBug(rt, "FLOOR_MOD", dt, _FLOOR_MOD_MIN,
               f"python -m compare.sweep --ops FLOOR_MOD --runtimes {rt}",
               cases="min-by-minus-one", correct=_correct("floor_div_mod", "correct_floor_mod"))
      for rt in _LITERT for dt in ("int32", "int64")),
    *(KnownBug(rt, "POW", "float32", _POW_INT_EXP,
               f"python -m compare.sweep --ops POW --runtimes {rt}",
               cases="bcast-e2.000001", correct=_correct("pow", "correct_pow"))
      for rt in _LITERT),
    *(KnownBug(rt, "REVERSE_V2", "float32", _REVERSE_EMPTY,
               f"python -m compare.sweep --ops REVERSE_V2 --runtimes {rt}",
               cases="empty-axis", correct=_correct("reverse_v2", "correct_identity"))
      for rt in (*_LITERT, "tflm")),
    *(KnownBug(rt, "GATHER_ND", "float32", _GATHER_ND_DEPTH0,
               f"python -m compare.sweep --ops GATHER_ND --runtimes {rt}",
               cases="depth0", correct=_correct("gather_nd", "correct_depth0"))
      for rt in _LITERT),
    # the correct outcome is a failed invoke: ``correct`` returns None
    KnownBug("tflm", "GATHER_ND", "float32", _GATHER_ND_TFLM,
             "python -m compare.sweep --ops GATHER_ND --runtimes tflm",
             cases="oob-flat", correct=_correct("gather_nd", "correct_refused")),
    KnownBug("litert-ref", "SUM", "int16x8", _SUM16,
             "python -m compare.sweep --ops SUM --runtimes litert-ref",
             refused_when=lambda c: True, xfail=False),
    # XNNPACK takes scales in [2^-16, 256) itself; its fallback shows the bug from 256 on
    *(KnownBug(rt, "MUL", "int8", _MUL_WRAP,
               f"python -m compare.sweep --ops MUL --runtimes {rt}", cases=case)
      for rt, case in (("litert-builtin", "wrap16"), ("litert-xnnpack", "wrap16-x256"))),
    # the output scale of these cases is beyond XNNPACK's range: its fallback shows it too
    *(KnownBug(rt, "ADD", dt, _ADD_WRAP,
               f"python -m compare.sweep --ops ADD --runtimes {rt}", cases=case)
      for rt in ("litert-builtin", "litert-xnnpack")
      for dt, case in (("int8", "wrap16"), ("uint8", "u8-tinyout"))),
    KnownBug("litert-builtin", "MUL", "uint8", _MUL_WRAP + " (uint8: 8-element blocks; "
             "the scalar-broadcast body narrows with a truncating vmovn)",
             "python -m compare.sweep --ops MUL --runtimes litert-builtin", cases="u8-big"),
    *(KnownBug(rt, "SQRT", dt, _SQRT, f"python -m compare.sweep --ops SQRT --runtimes {rt}",
               cases="int32-overflow", correct=_correct("unary", "correct_sqrt"))
      for rt in ("litert-ref", "litert-builtin", "litert-xnnpack") for dt in ("int8", "int16x8")),
    KnownBug("tflm", "ELU", "int8", _ELU, "python -m compare.sweep --ops ELU --runtimes tflm",
             cases="int32-overflow", correct=_correct("elu", "correct_elu_int8")),
    *(KnownBug(rt, "HARD_SWISH", dt, _HSWISH,
               f"python -m compare.sweep --ops HARD_SWISH --runtimes {rt}",
               cases="tiny-multiplier", correct=_correct("hard_swish", "correct_hard_swish"))
      for rt in ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")
      for dt in ("int8", "uint8") if not (rt == "tflm" and dt == "uint8")),
    *(KnownBug(rt, "BATCH_MATMUL", "int16x8", _BMM_SHIFT,
               f"python -m compare.sweep --ops BATCH_MATMUL --runtimes {rt}",
               cases="multiplier-2e16", correct=_ideal_batch_matmul, lsb=1)
      for rt in ("litert-ref", "litert-builtin", "litert-xnnpack", "tflm")),
    *(KnownBug("tflm", "RELU6", dt, _RELU6, "python -m compare.sweep --ops RELU6 --runtimes tflm",
               cases="q0")
      for dt in ("int8", "int16x8")),
]


# ------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------
def drawn_cases(strategy: Any, n: int, seed: int) -> list[Case]:
    """``n`` cases drawn from a hypothesis strategy, reproducibly for a given seed.

    The strategy is run through ``@given`` with a fixed ``@seed`` and no example
    database, so the list is the same in every run and on every machine; duplicates
    (hypothesis likes to repeat its simplest example) are dropped by id.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    out: dict[str, Case] = {}

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(strategy)
    def collect(case: Case) -> None:
        out.setdefault(case.id, case)

    collect()
    return list(out.values())


def all_cases(full: bool = False, ops: Iterable[str] | None = None, seed: int = 0,
              examples: int | None = None) -> list[Case]:
    """Grid cases plus hypothesis-drawn ones, for every case module (or ``ops``)."""
    wanted = {o.upper() for o in ops} if ops else None
    n = examples if examples is not None else (FULL_EXAMPLES if full else FAST_EXAMPLES)
    cases: list[Case] = []
    for mod in case_modules():
        names = set(getattr(mod, "OPS", ())) | ({mod.OP} if hasattr(mod, "OP") else set())
        if wanted is not None and not names & wanted:
            continue
        cases.extend(mod.grid(full))
        strategies = getattr(mod, "strategies", None)
        if strategies is not None and n > 0:
            for dtype, strategy in sorted(strategies().items()):
                cases.extend(drawn_cases(strategy, n, seed + _stable_hash(f"{mod.__name__}/{dtype}")))
    if wanted is not None:
        cases = [c for c in cases if c.op in wanted]
    seen: dict[str, Case] = {}
    for c in cases:
        if c.id in seen:
            raise ValueError(f"duplicate sweep case id {c.id}")
        seen[c.id] = c
    return cases


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode()[:8].ljust(8, b"\0"), "little") % 100_003


# ------------------------------------------------------------------------------------
# Running and comparing
# ------------------------------------------------------------------------------------
_RUNTIMES: dict[str, Any] = {}


def runtime(name: str) -> Any:
    """One runtime object per name for the whole process (children are reused).

    Every real runtime runs in a child process here: generated parameters reach checks
    that abort the process (e.g. LiteRT's optimized ADD on extreme scale ratios), and a
    sweep must record that as "crashed" and go on.
    """
    if name not in _RUNTIMES:
        from .runtimes import get_runtime

        _RUNTIMES[name] = get_runtime(name, isolate=True)
    return _RUNTIMES[name]


_RESULTS: dict[tuple[str, str], Any] = {}


def run_runtime(case: Case, runtime_name: str) -> Any:
    """The runtime's :class:`~compare.runtimes.RunResult` for ``case``, memoised per
    process (the sweep and the fingerprint look at the same runs)."""
    key = (case.id, runtime_name)
    if key not in _RESULTS:
        _RESULTS[key] = runtime(runtime_name).run(case.model, list(case.inputs))
    return _RESULTS[key]


def run_refimpl(case: Case, flavor: str) -> tuple[list[np.ndarray] | None, str]:
    """refimpl's outputs under ``flavor``, or (None, why it refused)."""
    import refimpl
    from refimpl.errors import RefimplError

    try:
        interp = refimpl.Interpreter(model_content=case.model, flavor=flavor)
        interp.allocate_tensors()
        for detail, x in zip(interp.get_input_details(), case.inputs):
            interp.set_tensor(detail["index"], x)
        interp.invoke()
        return [interp.get_tensor(d["index"]) for d in interp.get_output_details()], ""
    except RefimplError as e:
        return None, f"{type(e).__name__}: {e}"


def op_data_text(case: Case, flavor: str) -> str:
    """refimpl's precomputed OpData of the case's operator under ``flavor``."""
    import refimpl

    try:
        interp = refimpl.Interpreter(model_content=case.model, flavor=flavor)
        interp.allocate_tensors()
        return repr(interp.op_data(0))
    except Exception as e:  # the text is for a failure message only
        return f"(no op data: {type(e).__name__}: {e})"


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance in float32 units in the last place (same-sign ordering of the bits)."""
    ia = a.astype(np.float32).view(np.int32).astype(np.int64)
    ib = b.astype(np.float32).view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(2**31) - ia, ia)
    ib = np.where(ib < 0, -(2**31) - ib, ib)
    return np.abs(ia - ib)


def compare_outputs(ours: Sequence[np.ndarray], theirs: Sequence[np.ndarray],
                    tol: Tolerance | None) -> tuple[str, str, int, int]:
    """(status, first-difference text, elements, differing) for two output lists."""
    if len(ours) != len(theirs):
        return "differs", f"{len(ours)} outputs vs {len(theirs)}", 0, 0
    total = differing = 0
    tolerated = False
    for k, (a, b) in enumerate(zip(ours, theirs)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return ("differs", f"output {k}: refimpl {a.dtype}{list(a.shape)} vs runtime "
                    f"{b.dtype}{list(b.shape)}", total, differing)
        total += a.size
        if a.dtype.kind == "f":
            same = (a == b) | (np.isnan(a) & np.isnan(b))
        else:
            same = a == b
        if same.all():
            continue
        bad = ~same
        if a.dtype.kind == "f" and tol is not None:
            with np.errstate(invalid="ignore"):  # inf - inf: decided by the ulp test
                ok = (np.abs(a.astype(np.float64) - b.astype(np.float64)) <= tol.atol) | (
                    _ulp_distance(a, b) <= tol.ulps)
            if (ok | same).all():
                tolerated = True
                continue
            bad = ~(ok | same)
        n_bad = int(bad.sum())
        differing += n_bad
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return ("differs", f"output {k}: {n_bad}/{a.size} elements differ; first at "
                f"{list(idx)}: refimpl {a[idx]!r} vs runtime {b[idx]!r}", total, differing)
    return ("tolerated" if tolerated else "exact"), "", total, differing


def check(case: Case, runtime_name: str) -> Outcome:
    """Run ``case`` on the runtime and on refimpl under its flavour; compare."""
    flavor = FLAVOR_OF_RUNTIME[runtime_name]
    out = Outcome(case.id, case.op, case.dtype, runtime_name, flavor, "error")
    if case.runtimes is not None and runtime_name not in case.runtimes:
        out.status, out.detail = "no-kernel", "case not meant for this runtime"
        return out
    res = run_runtime(case, runtime_name)
    if res.status == "unsupported":
        out.status, out.detail = "no-kernel", res.message.splitlines()[0] if res.message else ""
        return out
    if res.status == "crashed":
        # The runtime aborts the process (a failed CHECK in Prepare): refimpl must refuse
        # the model with a clear error instead of computing something.
        ours, why = run_refimpl(case, flavor)
        if ours is None:
            out.status = "aborts"
            out.detail = f"runtime: {res.message.splitlines()[0]}; refimpl: {why}"
        else:
            out.status, out.detail = "crashed", res.message + "\n(refimpl ran it)"
        return out
    if res.status == "error":
        # TFLM fails some unsupported types in Eval without saying so ("failed to invoke
        # with status 1"): when refimpl's flavour declines the same model, both refuse.
        ours, why = run_refimpl(case, flavor)
        if ours is None and why.startswith("UnsupportedOpError"):
            out.status, out.detail = "no-kernel", f"runtime: invoke failed; refimpl: {why}"
            return out
    if res.status != "ok":
        out.status, out.detail = res.status, res.message
        return out
    ours, why = run_refimpl(case, flavor)
    if ours is None:
        bug = known_bug(case, runtime_name)
        if bug is not None and bug.refused_when is not None and bug.refused_when(case):
            out.status = "known-bug" if bug.kind == "bug" else "gap"
            out.detail = f"{bug.reason} (refimpl refuses: {why})"
        else:
            out.status, out.detail = "refused", why
        return out
    status, text, out.elements, out.differing = compare_outputs(
        ours, res.outputs, case.tolerance.get(runtime_name))
    out.status = status
    bug = known_bug(case, runtime_name)
    if (status == "differs" and bug is not None and bug.kind in ("open", "gap")
            and bug.differs_when is not None and bug.differs_when(case)):
        out.status, out.detail = bug.kind, f"{bug.reason}: {text}"
        return out
    if status == "differs":
        out.detail = failure_text(case, runtime_name, text)
    elif status == "tolerated":
        out.detail = case.tolerance[runtime_name].reason
    return out


def failure_text(case: Case, runtime_name: str, first: str) -> str:
    """Everything needed to start debugging one differing case."""
    flavor = FLAVOR_OF_RUNTIME[runtime_name]
    lines = [
        f"{case.id} on {runtime_name} (refimpl flavor={flavor!r})",
        f"params: {dict(case.params)}",
        first,
        f"refimpl OpData ({flavor}): {op_data_text(case, flavor)}",
    ]
    if flavor != "tflite-ref":
        lines.append(f"refimpl OpData (tflite-ref): {op_data_text(case, 'tflite-ref')}")
    return "\n".join(lines)


def known_bug(case: Case, runtime_name: str) -> KnownBug | None:
    for bug in KNOWN_BUGS:
        if (bug.runtime, bug.op, bug.dtype) == (runtime_name, case.op, case.dtype):
            return bug
    return None


# ------------------------------------------------------------------------------------
# Coverage report
# ------------------------------------------------------------------------------------
def coverage(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """op -> dtype -> runtime -> counts; plus the list of op x dtype pairs covered."""
    table: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for o in outcomes:
        cell = table.setdefault(o.op, {}).setdefault(o.dtype, {}).setdefault(o.runtime, {})
        cell[o.status] = cell.get(o.status, 0) + 1
    pairs = sorted((op, dt) for op, d in table.items() for dt in d)
    return {"pairs": len(pairs), "table": table}


def _cell(counts: dict[str, int] | None) -> str:
    if not counts:
        return "–"
    run = sum(v for k, v in counts.items() if k not in ("no-kernel", "aborts"))
    if run == 0:
        return f"{counts['aborts']} abort (refimpl refuses)" if counts.get("aborts") else "no kernel"
    good = sum(counts.get(k, 0) for k in ("exact", "tolerated", "known-bug", "gap", "open"))
    text = f"{run}: {100.0 * counts.get('exact', 0) / run:.0f}% exact"
    if counts.get("tolerated"):
        text += f", {counts['tolerated']} within tolerance"
    if counts.get("aborts"):
        text += f", {counts['aborts']} abort (refimpl refuses)"
    if counts.get("known-bug"):
        text += f", {counts['known-bug']} known runtime bug"
    if counts.get("gap"):
        text += f", **{counts['gap']} not reproduced (known gap)**"
    if counts.get("open"):
        text += f", **{counts['open']} open divergence (±1, cause not found)**"
    if good < run:
        bad = {k: v for k, v in counts.items()
               if k not in ("exact", "tolerated", "no-kernel", "aborts", "known-bug", "gap",
                            "open")}
        text += " (" + ", ".join(f"{v} {k}" for k, v in sorted(bad.items())) + ")"
    return text


def write_report(outcomes: Sequence[Outcome], out_dir: Path, *, mode: str,
                 seconds: float) -> tuple[Path, Path]:
    """Write ``sweep_coverage.md`` and ``.json`` atomically into ``out_dir``."""
    from .zoo.cache import atomic_write_bytes

    cov = coverage(outcomes)
    runtimes = [r for r in RUNTIME_NAMES if any(o.runtime == r for o in outcomes)]
    lines = [
        "# Single-op sweep: coverage and bit-exactness",
        "",
        f"Mode: {mode}; {len({o.case_id for o in outcomes})} cases, {len(outcomes)} "
        f"(case, runtime) runs in {seconds:.0f} s; **{cov['pairs']} op x dtype pairs**.",
        "Each cell: cases the runtime ran, and the share equal to refimpl under that "
        "runtime's flavour on every element. \"no kernel\": the runtime refused every case.",
        "",
        "| op | dtype | " + " | ".join(f"{r} ({FLAVOR_OF_RUNTIME[r]})" for r in runtimes) + " |",
        "|---|---|" + "---|" * len(runtimes),
    ]
    for op in sorted(cov["table"]):
        for dt in sorted(cov["table"][op]):
            cells = [_cell(cov["table"][op][dt].get(r)) for r in runtimes]
            lines.append(f"| {op} | {dt} | " + " | ".join(cells) + " |")
    failures = [o for o in outcomes if not o.passed]
    if failures:
        lines += ["", "## Not passing", ""]
        for o in failures:
            bug = KNOWN_BUGS and known_bug_by_outcome(o)
            tag = f" — known runtime bug: {bug.reason}" if bug else ""
            lines.append(f"- `{o.case_id}` on {o.runtime}: {o.status}{tag}")
            lines += [f"    {line}" for line in o.detail.splitlines()[:6]]
    tolerated = sorted({(o.op, o.dtype, o.runtime, o.detail) for o in outcomes
                        if o.status == "tolerated"})
    if tolerated:
        lines += ["", "## Float tolerances in use (and why)", ""]
        lines += [f"- {op} {dt} on {rt}: {why}" for op, dt, rt, why in tolerated]
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "sweep_coverage.md"
    js = out_dir / "sweep_coverage.json"
    atomic_write_bytes(md, ("\n".join(lines) + "\n").encode())
    atomic_write_bytes(js, json.dumps({"mode": mode, "seconds": seconds, **cov,
                                       "outcomes": [asdict(o) for o in outcomes]},
                                      indent=1).encode())
    return md, js


#: order of the dtype labels in the README table
_DTYPE_ORDER = ("float32", "int8", "int8-pc", "int16x8", "hybrid", "uint8", "int16", "int32",
                "int64", "bool")
README_TABLE_HEADER = "| op | dtypes (sweep-verified) |"


def supported_ops_table(table: dict) -> str:
    """The README's supported-ops table from a sweep's coverage table.

    An (op, dtype) is listed when at least one runtime ran its cases (they then passed:
    the README is only rewritten from a sweep with nothing failing); ``¹`` marks the
    pairs TFLM has no kernel for.
    """
    def rank(dt: str) -> tuple[int, str]:
        return (_DTYPE_ORDER.index(dt) if dt in _DTYPE_ORDER else len(_DTYPE_ORDER), dt)

    rows = [README_TABLE_HEADER, "|---|---|"]
    for op in sorted(table):
        cells = []
        for dt in sorted(table[op], key=rank):
            per = table[op][dt]
            if all(set(counts) <= {"no-kernel"} for counts in per.values()):
                continue  # no runtime has a kernel for it
            tflm = per.get("tflm", {})
            cells.append(dt + ("¹" if tflm and set(tflm) == {"no-kernel"} else ""))
        if cells:
            rows.append(f"| {op} | {', '.join(cells)} |")
    return "\n".join(rows)


def rewrite_readme_table(readme: Path, table: dict) -> None:
    """Replace the table under :data:`README_TABLE_HEADER` in ``readme`` (atomically)."""
    from .zoo.cache import atomic_write_bytes

    text = readme.read_text()
    start = text.find(README_TABLE_HEADER)
    if start < 0:
        raise SystemExit(f"{readme}: no line {README_TABLE_HEADER!r} to replace")
    end = text.find("\n\n", start)
    end = len(text) if end < 0 else end
    atomic_write_bytes(readme, (text[:start] + supported_ops_table(table) + text[end:]).encode())


def known_bug_by_outcome(o: Outcome) -> KnownBug | None:
    for bug in KNOWN_BUGS:
        if (bug.runtime, bug.op, bug.dtype) == (o.runtime, o.op, o.dtype):
            return bug
    return None


def run_sweep(cases: Sequence[Case], runtimes: Sequence[str], *,
              progress: bool = True) -> list[Outcome]:
    """Check every case on every runtime, printing progress to stderr."""
    outcomes: list[Outcome] = []
    total = len(cases) * len(runtimes)
    t0 = time.perf_counter()
    for i, case in enumerate(cases):
        for rt in runtimes:
            outcomes.append(check(case, rt))
        if progress and (i % 10 == 9 or i == len(cases) - 1):
            done = (i + 1) * len(runtimes)
            bad = sum(not o.passed for o in outcomes)
            print(f"\r[sweep] {done}/{total} runs, {bad} not passing, "
                  f"{time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m compare.sweep", description=__doc__.split("\n")[0])
    p.add_argument("--full", action="store_true", help="the full sweep (default: fast subset)")
    p.add_argument("--ops", help="comma-separated op names (default: all)")
    p.add_argument("--runtimes", default=",".join(RUNTIME_NAMES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--examples", type=int, help="hypothesis draws per (op, dtype)")
    p.add_argument("--out", default="reports", help="report directory")
    p.add_argument("--readme", help="with --full over every op and runtime, and nothing "
                   "failing: rewrite the supported-ops table of this README")
    a = p.parse_args(argv)
    if a.readme and (not a.full or a.ops or a.runtimes != ",".join(RUNTIME_NAMES)):
        p.error("--readme needs --full over every op and runtime")
    cases = all_cases(a.full, a.ops.split(",") if a.ops else None, a.seed, a.examples)
    runtimes = [r.strip() for r in a.runtimes.split(",") if r.strip()]
    unknown = set(runtimes) - set(RUNTIME_NAMES)
    if unknown:
        p.error(f"unknown runtimes {sorted(unknown)}; known: {', '.join(RUNTIME_NAMES)}")
    t0 = time.perf_counter()
    outcomes = run_sweep(cases, runtimes)
    md, js = write_report(outcomes, Path(a.out), mode="full" if a.full else "fast",
                          seconds=time.perf_counter() - t0)
    bad = [o for o in outcomes if not o.passed and not known_bug_by_outcome(o)]
    print(f"{len(cases)} cases x {len(runtimes)} runtimes; {len(bad)} not passing; "
          f"report: {md}, {js}")
    if a.readme and not bad:
        rewrite_readme_table(Path(a.readme), coverage(outcomes)["table"])
        print(f"supported-ops table rewritten in {a.readme}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
