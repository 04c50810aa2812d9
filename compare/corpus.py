"""The third-party corpus (../shared/corpus/tflm): models, inputs and golden outputs.

Data from tensorflow/tflite-micro (Apache-2.0), read in place, never copied into the
repository. Absent corpus → :func:`corpus_dir` returns None and tests skip.

* ``seanet/<op>/<op>N.tflite`` with ``<op>N_input<k>_<dtype>.csv`` and
  ``<op>N_golden_<dtype>.csv`` (flattened, comma-separated; goldens made upstream with
  LiteRT's reference kernels);
* the example and benchmark models (hello_world, micro_speech, mnist_lstm, person_detect,
  keyword_scrambled, simple_add, sine_float), for which inputs are generated (seeded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_CSV_DTYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
               "uint8": np.uint8, "float32": np.float32}


def corpus_dir() -> Path | None:
    """``../shared/corpus/tflm`` beside the repository, or None when absent."""
    path = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
    return path if path.is_dir() else None


@dataclass
class CorpusModel:
    """One corpus model; ``inputs``/``golden`` are set for seanet models only."""

    name: str
    path: Path
    inputs: list[np.ndarray] = field(default_factory=list)
    golden: np.ndarray | None = None

    @property
    def content(self) -> bytes:
        return self.path.read_bytes()


def _read_csv(path: Path) -> np.ndarray:
    dtype = _CSV_DTYPES[re.search(r"_([a-z]+\d+)\.csv$", path.name).group(1)]
    text = path.read_text().strip()
    values = [int(v) if dtype != np.float32 else float(v) for v in text.split(",") if v]
    return np.array(values, dtype=dtype)


def seanet_models() -> list[CorpusModel]:
    """Every seanet single-layer model with its input CSVs and golden CSV."""
    root = corpus_dir()
    if root is None:
        return []
    out = []
    for path in sorted((root / "integration_tests" / "seanet").glob("*/*.tflite")):
        stem = path.stem
        inputs = sorted(path.parent.glob(f"{stem}_input*_*.csv"),
                        key=lambda p: int(re.search(r"_input(\d+)_", p.name).group(1)))
        goldens = list(path.parent.glob(f"{stem}_golden_*.csv"))
        if not inputs or len(goldens) != 1:
            continue
        out.append(CorpusModel(f"seanet/{stem}", path, [_read_csv(p) for p in inputs],
                               _read_csv(goldens[0])))
    return out


def example_models() -> list[CorpusModel]:
    """The example / benchmark models (no golden data)."""
    root = corpus_dir()
    if root is None:
        return []
    names = [p for p in sorted(root.rglob("*.tflite")) if "integration_tests" not in p.parts]
    return [CorpusModel(p.stem, p) for p in names]


def shaped_inputs(model: CorpusModel, details: list[dict]) -> list[np.ndarray]:
    """Seanet CSV inputs reshaped to the model's input shapes."""
    out = []
    for flat, d in zip(model.inputs, details):
        out.append(flat.astype(d["dtype"]).reshape(tuple(int(s) for s in d["shape"])))
    return out


def random_inputs(details: list[dict], rows: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded inputs over each input's full range (integers) or N(0, 1) (floats).

    The batch dimension becomes ``rows`` when the model's batch is 1.
    """
    rng = np.random.default_rng(seed)
    out = []
    for d in details:
        shape = [int(s) for s in d["shape"]]
        if shape and shape[0] == 1:
            shape[0] = rows
        dt = np.dtype(d["dtype"])
        if dt.kind in "iu":
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max, shape, endpoint=True).astype(dt))
        elif dt.kind == "b":
            out.append(rng.integers(0, 2, shape).astype(bool))
        else:
            out.append(rng.standard_normal(shape).astype(dt))
    return out
