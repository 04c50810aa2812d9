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
                           run_refimpl, runtime, write_report)

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


@pytest.mark.parametrize("bug", KNOWN_BUGS, ids=[f"{b.runtime}-{b.op}-{b.dtype}" for b in KNOWN_BUGS])
@pytest.mark.xfail(strict=True, reason="a known runtime bug (see compare.sweep.KNOWN_BUGS)")
def test_known_runtime_bug_still_present(bug):
    """The runtime against the *correct* arithmetic (refimpl ``tflite-ref``): fails while
    the bug is there; an XPASS means the runtime was fixed and the entry should go."""
    cases = [c for c in all_cases(False, ops=[bug.op]) if c.dtype == bug.dtype]
    assert cases, f"no sweep case for {bug.op} {bug.dtype}"
    for case in cases:
        res = runtime(bug.runtime).run(case.model, list(case.inputs))
        assert res.ok, res.message
        ours, why = run_refimpl(case, "tflite-ref")
        assert ours is not None, why
        for a, b in zip(ours, res.outputs):
            assert (a == b).all(), f"{case.id}: {bug.reason}"
