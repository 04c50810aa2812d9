"""Every ```pycon block of docs/tutorial/*.md runs as a doctest (one namespace per page, in
order), so the numbers in the tutorial stay those of the code and the models. Exact
output comparison: no ELLIPSIS, no whitespace normalisation."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

DOCS = sorted((Path(__file__).resolve().parent.parent / "docs" / "tutorial").glob("*.md"))
BLOCK = re.compile(r"```pycon\n(.*?)```", re.S)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_tutorial_page_runs(page):
    pytest.importorskip("tensorflow", reason="the tutorial uses the seed CNN (built with TF)")
    pytest.importorskip("ai_edge_litert")
    text = "\n".join(BLOCK.findall(page.read_text()))
    assert text.count(">>>") >= 5, "no doctest blocks found"
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=0)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {page.name}"


def test_tutorial_pages_exist():
    assert {p.name for p in DOCS} >= {"quantization-by-hand.md", "why-runtimes-differ.md"}
