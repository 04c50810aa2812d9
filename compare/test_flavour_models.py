"""Whole models under the optimized flavours: every zoo variant and every corpus model
through LiteRT's optimized kernels (``litert-builtin``) and XNNPACK (``litert-xnnpack``),
against refimpl under ``tflite-builtin`` and ``xnnpack``.

Integer arithmetic must be bit-exact on every output element. Float kernels in these two
runtimes sum in their own order (ruy / Eigen / XNNPACK micro-kernels, with FMA), which
refimpl does not reproduce; float outputs are therefore compared within
:data:`FLOAT_TOLERANCE`, whose reason and size are stated there. The same models under
``litert-ref`` / ``tflm`` are checked exactly by test_zoo.py and test_corpus.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from compare.corpus import corpus_dir, example_models, random_inputs, seanet_models, shaped_inputs
from compare.diff import compare_runs
from compare.runtimes import REFIMPL_FOR, get_runtime
from compare.zoo.registry import list_zoo, zoo_inputs, zoo_model

SAMPLES = 20
RUNTIMES = ("litert-builtin", "litert-xnnpack")

#: Relative bound on float outputs: |a - b| <= FLOAT_TOLERANCE * max(|b|) over the
#: output. Why not 0: a float32 network's outputs depend on each GEMM's summation order
#: (a sum of K float32 products is exact only up to ~K * 2^-24 relative to sum |terms|);
#: ruy, Eigen and XNNPACK block and vectorise differently from the reference loop.
#: Dynamic-range models keep small layers in float32 (the converter leaves them
#: unquantized), so they are held to the same bound; their hybrid / qd8 nodes are
#: exact on their own (single-op sweep, ``hybrid`` dtype).
#: Largest difference measured over the zoo (20 inputs each): 1.4e-6 relative
#: (cifar_cnn float16 on litert-builtin; 3.6e-7 on XNNPACK), so the bound leaves ~70x
#: margin and stays far below one quantization step.
FLOAT_TOLERANCE = 1e-4

#: LiteRT refuses these models at load time (see test_corpus.py).
LITERT_REFUSES = {"person_detect", "keyword_scrambled_8bit"}


def _compare(name, model, inputs, rt_name, float_tolerance=FLOAT_TOLERANCE):
    theirs = get_runtime(rt_name).run(model, inputs)
    if theirs.status != "ok":
        return theirs, None
    mine_name = REFIMPL_FOR[rt_name]
    ours = get_runtime(mine_name, isolate=False).run(model, inputs)
    assert ours.status == "ok", ours.message
    problems = []
    for k, (a, b) in enumerate(zip(ours.outputs, theirs.outputs)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (k, a.shape, b.shape, a.dtype, b.dtype)
        if a.dtype.kind == "f":
            scale = float(np.max(np.abs(b))) or 1.0
            err = float(np.max(np.abs(a.astype(np.float64) - b))) / scale
            if err > float_tolerance:
                problems.append(f"output {k}: relative max error {err:.3g} > {float_tolerance}")
        elif (a != b).any():
            report = compare_runs(name, model, mine_name, ours.outputs, rt_name, theirs.outputs)
            problems.append(report.to_markdown())
    return theirs, problems


@pytest.mark.parametrize("rt_name", RUNTIMES)
@pytest.mark.parametrize("name,variant", list_zoo(), ids=lambda v: str(v))
def test_zoo_variant_under_optimized_flavours(name, variant, rt_name):
    model = zoo_model(name, variant)
    x = zoo_inputs(name, variant, SAMPLES)
    theirs, problems = _compare(f"{name}/{variant}", model, x, rt_name)
    assert theirs.status == "ok", theirs.message
    assert not problems, "\n".join(problems)


def _corpus():
    if corpus_dir() is None:
        return []
    return [("example", m) for m in example_models()] + [("seanet", m) for m in seanet_models()]


@pytest.mark.skipif(corpus_dir() is None, reason="../shared/corpus absent")
@pytest.mark.parametrize("rt_name", RUNTIMES)
@pytest.mark.parametrize("kind,model", _corpus(), ids=lambda v: getattr(v, "name", str(v)))
def test_corpus_model_under_optimized_flavours(kind, model, rt_name):
    import refimpl

    details = refimpl.Interpreter(model_content=model.content).get_input_details()
    inputs = (shaped_inputs(model, details) if kind == "seanet"
              else random_inputs(details, 4, seed=len(model.name)))
    if model.name in LITERT_REFUSES:
        pytest.skip("LiteRT refuses or crashes on this model (asserted in test_corpus.py)")
    theirs, problems = _compare(model.name, model.content, inputs, rt_name)
    assert theirs.status == "ok", theirs.message
    assert not problems, "\n".join(problems)
