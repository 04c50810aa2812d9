"""TFLM's hello_world loop: refimpl and TFLM give identical integers over one period."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compare.hello_world import plot_hello_world, run_hello_world
from compare.zoo.cache import repo_root

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
UPSTREAM = {
    "hello_world_int8": CORPUS / "examples/hello_world/models/hello_world_int8.tflite",
    "hello_world_float": CORPUS / "examples/hello_world/models/hello_world_float.tflite",
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_upstream_hello_world_is_identical_in_refimpl_and_tflm(name):
    path = UPSTREAM[name]
    if not path.exists():
        pytest.skip("../shared/corpus absent")
    run = run_hello_world(path.read_bytes())
    assert run.identical, np.flatnonzero(run.y_refimpl != run.y_tflm)[:10]
    # it is a sine regressor: within 0.2 of sin(x) everywhere over the period
    assert np.abs(run.y_float - np.sin(run.x)).max() < 0.2
    if name.endswith("int8"):
        assert run.x_q.dtype == np.int8 and run.y_refimpl.dtype == np.int8
    plot = plot_hello_world({name: run}, repo_root() / "reports" / f"{name}.png")
    assert plot.stat().st_size > 10_000


def test_zoo_sine_model_is_identical_in_refimpl_and_tflm():
    from compare.zoo.registry import zoo_model

    runs = {}
    for variant in ("int8", "float32"):
        run = run_hello_world(zoo_model("sine", variant))
        assert run.identical, np.flatnonzero(run.y_refimpl != run.y_tflm)[:10]
        assert np.abs(run.y_float - np.sin(run.x)).max() < 0.35  # short training, noisy data
        runs[f"zoo sine {variant}"] = run
    upstream = UPSTREAM["hello_world_int8"]
    if upstream.exists():
        runs["upstream hello_world_int8"] = run_hello_world(upstream.read_bytes())
    plot = plot_hello_world(runs, repo_root() / "reports" / "hello_world_sine_models.png")
    assert plot.stat().st_size > 10_000
