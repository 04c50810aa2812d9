"""The fingerprint table in docs/fingerprint.md is what the installed runtimes do today.

Regenerates the table from the sweep's fast grid (the runs are shared with
compare/test_sweep.py in the same session) and compares it with the committed one, so a
runtime upgrade that changes its arithmetic for any op shows up as a failing diff here —
then rerun ``refimpl fingerprint --out docs/fingerprint.md --force`` and read what moved.
Also checks the diagonal: each runtime is reproduced by its own flavour on every probe.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from compare.fingerprint import fingerprint, table_markdown
from compare.sweep import FLAVOR_OF_RUNTIME, all_cases

DOC = Path(__file__).resolve().parent.parent / "docs" / "fingerprint.md"


@pytest.fixture(scope="module")
def result():
    return fingerprint(all_cases(False, examples=0), progress=False)


def test_each_runtime_is_reproduced_by_its_own_flavour(result):
    bad = [f"{op} {dt} on {rt}: {c.matches[FLAVOR_OF_RUNTIME[rt]]}/{c.probes} probes"
           for (op, dt), row in sorted(result["cells"].items()) for rt, c in row.items()
           if c.probes and not c.reproduced_by(FLAVOR_OF_RUNTIME[rt])]
    assert not bad, "\n".join(bad)


def test_committed_table_matches_the_installed_runtimes(result):
    fresh = table_markdown(result)
    text = DOC.read_text()
    start = text.index("| op | dtype | probes |")
    committed = text[start:]
    if committed != fresh:
        diff = "\n".join(difflib.unified_diff(committed.splitlines(), fresh.splitlines(),
                                              "docs/fingerprint.md", "measured now", lineterm=""))
        pytest.fail("the runtimes' arithmetic differs from docs/fingerprint.md; rerun "
                    "`refimpl fingerprint --out docs/fingerprint.md --force`:\n" + diff)
