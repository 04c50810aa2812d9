"""Where the shared model corpus lives; tests skip cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

# /work/main/tests/schema/_corpus.py → /work/shared/corpus/tflm
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "tflm"


def corpus_file(relative: str) -> Path:
    """Path of a corpus model, or skip the test if the corpus (or the file) is missing."""
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"corpus model {relative} not found under {CORPUS}")
    return path


def all_corpus_models() -> list[str]:
    """Every .tflite in the corpus, relative to it (empty when the corpus is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.tflite"))
