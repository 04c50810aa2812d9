"""Differential suite on the seed CNN: refimpl against LiteRT BUILTIN_REF and TFLM.

What is asserted
----------------
* int8 variants (int8 I/O, float I/O, uint8 I/O): refimpl (flavour ``tflite-ref``) equals
  LiteRT ``BUILTIN_REF`` on every element of the output *and of every intermediate
  tensor*, over all held-out images.
* float32: equal on every element as well. refimpl's float kernels sum in the reference
  kernels' order (``fy, fx, ic`` for conv, ``d`` for fully-connected) with float32
  rounding after every product and sum, so no tolerance is needed; the test says so by
  using ``atol=0``.
* TFLM: run on the same models; every element where TFLM and BUILTIN_REF disagree is
  reported with the first op where they diverge (written to reports/), and refimpl with
  flavour ``tflm`` must reproduce TFLM exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from compare.diff import compare_runs
from compare.runtimes import get_runtime
from compare.zoo.cache import repo_root

INT_VARIANTS = ("int8", "int8_float_io", "int8_uint8_io")
ALL_VARIANTS = ("float32",) + INT_VARIANTS


@pytest.fixture(scope="module")
def litert_ref():
    return get_runtime("litert-ref")


@pytest.fixture(scope="module")
def tflm():
    return get_runtime("tflm")


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_refimpl_equals_litert_reference_on_every_tensor(variant, seed_models, seed_inputs,
                                                         litert_ref):
    model = seed_models[variant]
    x = seed_inputs[variant]
    ours = get_runtime("refimpl", isolate=False).run(model, [x], intermediates=True)
    theirs = litert_ref.run(model, [x], intermediates=True)
    assert ours.status == "ok", ours.message
    assert theirs.status == "ok", theirs.message
    report = compare_runs(f"seed_cnn/{variant}", model, "refimpl", ours.outputs,
                          "litert-ref", theirs.outputs, ours.tensors, theirs.tensors)
    assert report.outputs[0].elements == len(x) * 10
    assert report.intermediates, "no intermediate tensors were compared"
    bad = [t.line() for t in report.outputs + report.intermediates if not t.exact]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("variant", INT_VARIANTS)
def test_tflm_divergences_are_reported_and_reproduced(variant, seed_models, seed_inputs,
                                                      litert_ref, tflm):
    model = seed_models[variant]
    x = seed_inputs[variant]
    ref = litert_ref.run(model, [x], intermediates=True)
    micro = tflm.run(model, [x], intermediates=True)
    assert micro.status == "ok", micro.message
    report = compare_runs(f"seed_cnn/{variant}", model, "tflm", micro.outputs,
                          "litert-ref", ref.outputs, micro.tensors, ref.tensors)
    out = repo_root() / "reports"
    out.mkdir(exist_ok=True)
    (out / f"seed_cnn_{variant}_tflm_vs_litert_ref.md").write_text(report.to_markdown() + "\n")
    if report.first_divergence is not None:
        # arithmetic.md §2.4: LiteRT's reference FULLY_CONNECTED requantizes in double,
        # TFLM in fixed point; every other op of this network is identical in both.
        assert report.first_divergence.op_name == "FULLY_CONNECTED", report.to_markdown()
    # ... and refimpl's tflm flavour reproduces TFLM on every element.
    ours = get_runtime("refimpl-tflm", isolate=False).run(model, [x], intermediates=True)
    mine = compare_runs(f"seed_cnn/{variant}", model, "refimpl-tflm", ours.outputs,
                        "tflm", micro.outputs, ours.tensors, micro.tensors)
    assert mine.first_divergence is None, mine.to_markdown()
    bad = [t.line() for t in mine.outputs if not t.exact]
    assert not bad, "\n".join(bad)
