"""The single-op sweep as a differential test: every case, on every runtime, must equal
refimpl under that runtime's flavour on every element.

``pytest compare/test_sweep.py`` runs the fast seeded subset; ``--sweep=full`` the whole
grid with more hypothesis draws (``--sweep-seed`` changes the draws). The session writes
``reports/sweep_coverage.md`` / ``.json`` (op x dtype x runtime). A failure prints op,
parameters, flavour, the first differing element with both values, and refimpl's OpData
under the runtime's flavour and under ``tflite-ref``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from compare.sweep import (KNOWN_BUGS, RUNTIME_NAMES, Outcome, all_cases, check,
                           run_refimpl, run_runtime, write_report)

_OUTCOMES: list[Outcome] = []
_T0 = time.perf_counter()
REPORTS = Path(__file__).resolve().parent.parent / "reports"


def pytest_generate_tests(metafunc):
    if "sweep_case" in metafunc.fixturenames:
        full = metafunc.config.getoption("--sweep") == "full"
        cases = all_cases(full, seed=metafunc.config.getoption("--sweep-seed"))
        metafunc.parametrize("sweep_case", cases, ids=[c.id for c in cases])


@pytest.fixture(scope="module", autouse=True)
def _coverage_report(request):
    yield
    if _OUTCOMES:
        mode = request.config.getoption("--sweep")
        write_report(_OUTCOMES, REPORTS, mode=mode, seconds=time.perf_counter() - _T0)


@pytest.mark.parametrize("runtime_name", RUNTIME_NAMES)
def test_case_equals_runtime_under_its_flavour(sweep_case, runtime_name):
    outcome = check(sweep_case, runtime_name)
    _OUTCOMES.append(outcome)
    assert outcome.passed, f"{outcome.status}: {outcome.detail}"


def _reproducers(bug):
    return [c for c in all_cases(False, ops=[bug.op])
            if c.dtype == bug.dtype and bug.cases in c.name]


_BUG_IDS = [f"{b.runtime}-{b.op}-{b.dtype}" for b in KNOWN_BUGS]
_XFAIL_BUGS = [b for b in KNOWN_BUGS if b.xfail]


@pytest.mark.parametrize("bug", KNOWN_BUGS, ids=_BUG_IDS)
def test_known_bug_has_reproducer_cases(bug):
    """Separately from the xfail below, so a lost reproducer cannot pass as an xfail."""
    if not bug.xfail:
        assert bug.reproducer and (bug.refused_when is not None or bug.differs_when is not None)
        return
    assert _reproducers(bug), f"no sweep case for {bug.op} {bug.dtype} {bug.cases!r}"


@pytest.mark.parametrize("bug", _XFAIL_BUGS,
                         ids=[f"{b.runtime}-{b.op}-{b.dtype}" for b in _XFAIL_BUGS])
@pytest.mark.xfail(strict=True, reason="a known runtime bug (see compare.sweep.KNOWN_BUGS)")
def test_known_runtime_bug_still_present(bug):
    """The runtime against the *correct* result: fails while the bug is there; an XPASS
    means the runtime was fixed and the entry (and refimpl's imitation) should go."""
    import numpy as np

    for case in _reproducers(bug):
        res = run_runtime(case, bug.runtime)
        if bug.correct is not None and bug.correct(case) is None:
            # the correct outcome is a refused invoke (e.g. an index out of range)
            assert not res.ok, f"{case.id}: {bug.reason}"
            continue
        assert res.ok, res.message
        if bug.correct is not None:
            right = bug.correct(case)
        else:
            right, why = run_refimpl(case, "tflite-ref")
            assert right is not None, why
        for a, b in zip(right, res.outputs):
            d = np.abs(np.asarray(a).astype(np.int64) - np.asarray(b).astype(np.int64))
            assert (d <= bug.lsb).all(), f"{case.id}: {bug.reason}"


def test_readme_table_lists_what_ran_and_marks_tflm_gaps():
    from compare.sweep import supported_ops_table

    table = {"ADD": {"int8": {"litert-ref": {"exact": 3}, "tflm": {"exact": 3}},
                     "float32": {"litert-ref": {"exact": 2}, "tflm": {"exact": 2}}},
             "POW": {"int32": {"litert-ref": {"exact": 1}, "tflm": {"no-kernel": 1}},
                     "int8": {"litert-ref": {"no-kernel": 1}, "tflm": {"no-kernel": 1}}}}
    assert supported_ops_table(table).splitlines()[2:] == [
        "| ADD | float32, int8 |",  # dtype order: float32 first
        "| POW | int32¹ |",        # TFLM has no kernel: ¹; int8 ran nowhere: left out
    ]
