"""``refimpl bench``: images per second on the seed CNN, refimpl against the runtimes.

One run measures all of them on the same inputs and prints ratios:

* refimpl, batched (one ``invoke`` on N images);
* LiteRT XNNPACK (``AUTO``), optimized ``BUILTIN`` (no default delegates) and
  ``BUILTIN_REF``: one image per ``invoke`` in a loop, 1 thread (how an application
  drives them), and also batched for XNNPACK;
* TFLM (x86 wheel): one image per ``invoke`` (it cannot resize inputs).

Times are the best of ``repeats`` runs (wall clock, ``time.perf_counter``). This is a
benchmark script, not a test: nothing asserts on time.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

import numpy as np

from .demo import model_inputs
from .zoo.seed_cnn import seed_cnn_heldout, seed_cnn_models


def _best(fn: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _driver(it, x: np.ndarray, batched: bool) -> Callable[[], None]:
    """A timed closure over a tf.lite-style interpreter: one batched invoke, or a loop."""
    i_in = it.get_input_details()[0]["index"]
    if batched:
        it.resize_tensor_input(i_in, list(x.shape))
    it.allocate_tensors()
    i_out = it.get_output_details()[0]["index"]

    def run() -> None:
        for rows in ([x] if batched else (r[None] for r in x)):
            it.set_tensor(i_in, rows)
            it.invoke()
            it.get_tensor(i_out)

    return run


def _litert(model: bytes, x: np.ndarray, resolver: str, batched: bool) -> Callable[[], None]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, num_threads=1,
                     experimental_op_resolver_type=getattr(OpResolverType, resolver))
    return _driver(it, x, batched)


def _refimpl_batched(model: bytes, x: np.ndarray) -> Callable[[], None]:
    from refimpl import Interpreter

    return _driver(Interpreter(model_content=model), x, batched=True)


def _tflm_loop(model: bytes, x: np.ndarray) -> Callable[[], None]:
    from micro_ref import MicroInterpreter

    return _driver(MicroInterpreter(model_content=model), x, batched=False)


def run_bench(batch: int = 300, repeats: int = 3, variant: str = "int8") -> int:
    models = seed_cnn_models(progress=lambda m: print(m, file=sys.stderr))
    model = models[variant]
    x_test, _ = seed_cnn_heldout()
    x = model_inputs(model, x_test[:batch])
    n = len(x)
    cases: list[tuple[str, Callable[[], Callable[[], None]]]] = [
        ("refimpl (batched)", lambda: _refimpl_batched(model, x)),
        ("LiteRT XNNPACK (per image)", lambda: _litert(model, x, "AUTO", False)),
        ("LiteRT XNNPACK (batched)", lambda: _litert(model, x, "AUTO", True)),
        ("LiteRT BUILTIN (per image)",
         lambda: _litert(model, x, "BUILTIN_WITHOUT_DEFAULT_DELEGATES", False)),
        ("LiteRT BUILTIN_REF (per image)", lambda: _litert(model, x, "BUILTIN_REF", False)),
        ("TFLM x86 (per image)", lambda: _tflm_loop(model, x)),
    ]
    results: list[tuple[str, float]] = []
    for name, make in cases:
        sys.stderr.write(f"timing {name} ...\n")
        try:
            fn = make()
            fn()  # warm-up
            results.append((name, n / _best(fn, repeats)))
        except Exception as e:  # a missing runtime should not hide the others
            results.append((name, float("nan")))
            sys.stderr.write(f"  {name} failed: {e}\n")
    ref = results[0][1]
    print(f"\nSeed CNN '{variant}', {n} images, best of {repeats}, 1 thread")
    print(f"{'runtime':<32} {'img/s':>10} {'refimpl / runtime':>18}")
    for name, ips in results:
        ratio = ref / ips if ips == ips and ips > 0 else float("nan")
        print(f"{name:<32} {ips:>10,.0f} {ratio:>17.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(run_bench())
