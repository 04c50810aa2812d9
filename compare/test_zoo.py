"""Every zoo variant through refimpl, LiteRT BUILTIN_REF and TFLite Micro.

* refimpl (default flavour) equals BUILTIN_REF on every output element of 50 held-out
  inputs — integer models and float ones alike (float32, float16 weights, dynamic
  range): refimpl follows the reference kernels' summation order and rounding, so no
  tolerance is used;
* refimpl (flavour ``tflm``) equals TFLM wherever TFLM runs the model;
* where TFLM cannot run a model the reason is recorded in reports/zoo_tflm.md, and the
  test checks it is one of the known gaps (float16 DEQUANTIZE, hybrid kernels).
"""

from __future__ import annotations

import pytest

from compare.diff import compare_runs
from compare.runtimes import get_runtime
from compare.zoo.cache import repo_root
from compare.zoo.registry import ZOO, list_zoo, zoo_inputs, zoo_model, zoo_variant

SAMPLES = 50
#: converter modes whose models TFLM cannot run (arithmetic.md §3, §4)
TFLM_GAPS = {"float16", "dynamic"}

_TFLM_NOTES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def _tflm_report():
    yield
    if _TFLM_NOTES:
        out = repo_root() / "reports"
        out.mkdir(exist_ok=True)
        lines = ["# Zoo: what TFLite Micro cannot run", "", "| model/variant | reason |",
                 "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in sorted(_TFLM_NOTES.items())]
        (out / "zoo_tflm.md").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def litert_ref():
    return get_runtime("litert-ref")


@pytest.fixture(scope="module")
def tflm():
    return get_runtime("tflm")


@pytest.mark.parametrize("name,variant", list_zoo(), ids=lambda v: str(v))
def test_zoo_variant_is_bit_exact(name, variant, litert_ref, tflm):
    model = zoo_model(name, variant)
    x = zoo_inputs(name, variant, SAMPLES)
    ours = get_runtime("refimpl", isolate=False).run(model, x)
    assert ours.status == "ok", ours.message
    ref = litert_ref.run(model, x)
    assert ref.status == "ok", ref.message
    report = compare_runs(f"{name}/{variant}", model, "refimpl", ours.outputs,
                          "litert-ref", ref.outputs)
    bad = [t.line() for t in report.outputs if not t.exact]
    assert not bad, "\n".join(bad)

    micro = tflm.run(model, x)
    mode = zoo_variant(name, variant).mode
    if micro.status != "ok":
        reason = (micro.message.strip().splitlines() or [micro.status])[0][:200].replace("|", "/")
        _TFLM_NOTES[f"{name}/{variant}"] = f"TFLM cannot run: {reason}"
        assert micro.status == "unsupported", micro.message
        assert mode in TFLM_GAPS, f"TFLM refused a {mode} model: {micro.message}"
        return
    mine = get_runtime("refimpl-tflm", isolate=False).run(model, x)
    report = compare_runs(f"{name}/{variant}", model, "refimpl-tflm", mine.outputs,
                          "tflm", micro.outputs)
    bad = [t.line() for t in report.outputs if not t.exact]
    assert not bad, "\n".join(bad)


def test_signature_model_runs_through_the_signature_runner():
    import numpy as np

    import refimpl

    name = "mnist_signatures"
    assert name in ZOO and ZOO[name].signature_keys
    variant = "int8" if "int8" in ZOO[name].variants else next(iter(ZOO[name].variants))
    model = zoo_model(name, variant)
    lite = pytest.importorskip("ai_edge_litert.interpreter")
    for key in ZOO[name].signature_keys:
        (x,) = zoo_inputs(name, variant, 8, signature=key)
        ours = refimpl.Interpreter(model_content=model).get_signature_list()[key]
        theirs = lite.Interpreter(model_content=model).get_signature_list()[key]
        assert ours == theirs
        runner = refimpl.Interpreter(model_content=model).get_signature_runner(key)
        out_ours = runner(**{ours["inputs"][0]: x})
        out_theirs = lite.Interpreter(model_content=model).get_signature_runner(key)(
            **{ours["inputs"][0]: x})
        for k in out_theirs:
            np.testing.assert_array_equal(out_ours[k], out_theirs[k])
