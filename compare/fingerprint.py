"""Which arithmetic does each installed runtime use, op by op?

``refimpl fingerprint`` answers by experiment. For every (op, dtype) of the sweep it takes
the fast grid cases — built to separate the candidate formulas: rounding ties,
multipliers around powers of two, zero points at both ends, odd lengths for vector
tails — runs them on each real runtime and on refimpl under each of the four flavours,
and records which flavours reproduce the runtime on every element of every case.

Reading the table (``docs/fingerprint.md``):

* ``litert-builtin`` on CONV_2D int8 = ``tflite-builtin, xnnpack``: the optimized kernels
  round like refimpl's ``tflite-builtin`` flavour, and the probes could not tell it from
  the ``xnnpack`` flavour's fallback (XNNPACK refused those nodes, or its formula agreed);
* a runtime whose own flavour is *missing* from its cell changed its arithmetic (a new
  wheel): the sweep then fails too, and this table says which formula it moved to;
* "all" means the probes cannot separate the flavours for that op (the formulas agree
  there, e.g. a pure copy); "none" that no flavour reproduces the runtime;
* "no kernel": the runtime refused every probe;
* "≈": equal only within the float tolerance the case states (the runtime's own summation
  order or approximation; see the sweep report), so those probes cannot tell flavours apart.

The second table states, per op, which flavour pairs the probes proved different — the
"where they differ" map. CI runs :func:`test_fingerprint_matches_docs` in
``compare/test_fingerprint.py``, which regenerates the table and compares it with the
committed one, so a runtime upgrade that changes any cell is noticed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .cases._common import Case
from .sweep import (FLAVOR_OF_RUNTIME, RUNTIME_NAMES, all_cases, compare_outputs, known_bug,
                    run_refimpl, run_runtime)

FLAVORS: tuple[str, ...] = ("tflite-ref", "tflite-builtin", "xnnpack", "tflm")


@dataclass
class Cell:
    """One (op, dtype, runtime): which flavours reproduced all probes, out of how many."""

    probes: int = 0
    refused: int = 0
    matches: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FLAVORS})
    #: probes equal only within the case's stated float tolerance for this runtime
    near: dict[str, int] = field(default_factory=lambda: {f: 0 for f in FLAVORS})

    def reproduced_by(self, flavor: str) -> bool:
        return self.probes > 0 and self.matches[flavor] + self.near[flavor] == self.probes

    def text(self) -> str:
        if self.probes == 0:
            return "no kernel" if self.refused else "–"
        ok = [f for f in FLAVORS if self.matches[f] == self.probes]
        if len(ok) == len(FLAVORS):
            return "all"
        if all(self.reproduced_by(f) for f in FLAVORS):
            return "all ≈"
        approx = [f"{f} ≈" for f in FLAVORS
                  if f not in ok and self.reproduced_by(f)]
        return ", ".join(ok + approx) if ok or approx else "none"


def _equal(a: Sequence[np.ndarray] | None, b: Sequence[np.ndarray] | None) -> bool:
    if a is None or b is None or len(a) != len(b):
        return False
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        same = (x == y) | (np.isnan(x) & np.isnan(y)) if x.dtype.kind == "f" else x == y
        if not same.all():
            return False
    return True


def fingerprint(cases: Sequence[Case], runtimes: Sequence[str] = RUNTIME_NAMES,
                progress: bool = True) -> dict:
    """Run the probes; return ``{"cells": {(op, dtype): {runtime: Cell}}, "pairs": ...}``."""
    cells: dict[tuple[str, str], dict[str, Cell]] = {}
    differ: dict[tuple[str, str], set[tuple[str, str]]] = {}
    t0 = time.perf_counter()
    for i, case in enumerate(cases):
        key = (case.op, case.dtype)
        ours = {f: run_refimpl(case, f)[0] for f in FLAVORS}
        pairs = differ.setdefault(key, set())
        for a in range(len(FLAVORS)):
            for b in range(a + 1, len(FLAVORS)):
                fa, fb = FLAVORS[a], FLAVORS[b]
                if ours[fa] is not None and ours[fb] is not None and not _equal(ours[fa], ours[fb]):
                    pairs.add((fa, fb))
        row = cells.setdefault(key, {r: Cell() for r in runtimes})
        for rt in runtimes:
            if case.runtimes is not None and rt not in case.runtimes:
                continue
            bug = known_bug(case, rt)
            if bug is not None and any(f is not None and f(case) for f in
                                       (bug.refused_when, bug.differs_when)):
                continue  # a listed bug, gap or open divergence: not a probe of the formula
            res = run_runtime(case, rt)
            cell = row[rt]
            if res.status != "ok":
                cell.refused += 1
                continue
            cell.probes += 1
            tol = case.tolerance.get(rt)
            for f in FLAVORS:
                if _equal(ours[f], res.outputs):
                    cell.matches[f] += 1
                elif tol is not None and ours[f] is not None and compare_outputs(
                        ours[f], res.outputs, tol)[0] == "tolerated":
                    cell.near[f] += 1
        if progress and (i % 20 == 19 or i == len(cases) - 1):
            print(f"\r[fingerprint] {i + 1}/{len(cases)} probes, "
                  f"{time.perf_counter() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    return {"cells": cells, "differ": differ}


def table_markdown(result: dict, runtimes: Sequence[str] = RUNTIME_NAMES) -> str:
    """The two Markdown tables of ``docs/fingerprint.md`` (no timings: reproducible)."""
    cells, differ = result["cells"], result["differ"]
    lines = [
        "| op | dtype | probes | " + " | ".join(runtimes) + " |",
        "|---|---|---|" + "---|" * len(runtimes),
    ]
    for key in sorted(cells):
        row = cells[key]
        n = max((c.probes for c in row.values()), default=0)
        lines.append(f"| {key[0]} | {key[1]} | {n} | "
                     + " | ".join(row[r].text() for r in runtimes) + " |")
    lines += ["", "Where the flavours' arithmetic differs on these probes:", "",
              "| op | dtype | flavour pairs that differ |", "|---|---|---|"]
    for key in sorted(differ):
        pairs = sorted(differ[key])
        text = ", ".join(f"{a} ≠ {b}" for a, b in pairs) if pairs else "none (all agree)"
        lines.append(f"| {key[0]} | {key[1]} | {text} |")
    return "\n".join(lines) + "\n"


def versions() -> dict[str, str]:
    """Versions of the runtimes the table was measured on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("ai-edge-litert", "tflite-micro", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


HEADER = """# Runtime fingerprint: which arithmetic each runtime uses, per op

Generated by `refimpl fingerprint` (module `compare/fingerprint.py`; how to read it is in
its docstring). Each cell lists the refimpl flavours that reproduce that runtime on every
element of every probe case (the sweep's fast grid for that op and dtype: ties,
multipliers around powers of two, zero points at both ends, vector tails). A runtime's own
flavour missing from its cell means the runtime changed its arithmetic. "≈": equal within
the float tolerance stated by the case (a runtime's own summation order or approximation).
Cases listed as known runtime bugs, gaps or open divergences in `compare/sweep.py` are not
probes.

Measured on: {versions}.

"""


def render(result: dict) -> str:
    v = ", ".join(f"{k} {val}" for k, val in versions().items())
    return HEADER.format(versions=v) + table_markdown(result)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="refimpl fingerprint",
                                description="detect each installed runtime's arithmetic per op")
    p.add_argument("--ops", help="comma-separated ops (default: all in the sweep)")
    p.add_argument("--runtimes", default=",".join(RUNTIME_NAMES))
    p.add_argument("--out", default="reports/fingerprint.md",
                   help="Markdown output (a .json with the counts is written beside it)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    a = p.parse_args(argv)
    out = Path(a.out)
    if out.exists() and not a.force:
        p.error(f"{out} exists; pass --force to overwrite it")
    cases = all_cases(False, a.ops.split(",") if a.ops else None, examples=0)
    runtimes = [r.strip() for r in a.runtimes.split(",") if r.strip()]
    result = fingerprint(cases, runtimes)
    from .zoo.cache import atomic_write_bytes

    atomic_write_bytes(out, render(result).encode())
    js = {f"{op}/{dt}": {rt: {"probes": c.probes, "refused": c.refused, "matches": c.matches,
                              "within_tolerance": c.near}
                         for rt, c in row.items()}
          for (op, dt), row in result["cells"].items()}
    atomic_write_bytes(out.with_suffix(".json"), json.dumps(
        {"versions": versions(), "cells": js,
         "differ": {f"{op}/{dt}": sorted(map(list, v)) for (op, dt), v in result["differ"].items()}},
        indent=1).encode())
    bad = [(k, rt) for k, row in result["cells"].items() for rt, c in row.items()
           if c.probes and not c.reproduced_by(FLAVOR_OF_RUNTIME[rt])]
    print(f"{len(cases)} probes; table: {out}")
    for (op, dt), rt in bad:
        print(f"  {rt} is not reproduced by flavour {FLAVOR_OF_RUNTIME[rt]} on {op} {dt}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
