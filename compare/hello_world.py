"""TFLM's hello_world loop, in refimpl and in TFLite Micro, side by side.

The example's main loop, per step of one period of the sine::

    x   = 2π * step / steps
    x_q = round(x / input_scale) + input_zero_point      # quantize (int8 model)
    invoke
    y   = (y_q - output_zero_point) * output_scale       # dequantize

Both runtimes get the same ``x_q`` and must return the same ``y_q`` integers; the plot
shows ``y`` against ``sin(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from refimpl import Interpreter
from refimpl.arithmetic import dequantize, quantize


@dataclass
class HelloWorldRun:
    x: np.ndarray  # float32 [steps]
    x_q: np.ndarray  # model input dtype [steps]
    y_refimpl: np.ndarray  # model output dtype [steps]
    y_tflm: np.ndarray
    y_float: np.ndarray  # dequantized refimpl output

    @property
    def identical(self) -> bool:
        return self.y_refimpl.dtype == self.y_tflm.dtype and np.array_equal(
            self.y_refimpl, self.y_tflm)


def run_hello_world(model: bytes, steps: int = 200) -> HelloWorldRun:
    """One period through refimpl (flavour ``tflm``) and the TFLM runtime."""
    from micro_ref import MicroInterpreter

    ours = Interpreter(model_content=model, flavor="tflm")
    d_in = ours.get_input_details()[0]
    d_out = ours.get_output_details()[0]
    x = (2 * np.pi * np.arange(steps) / steps).astype(np.float32)
    if np.dtype(d_in["dtype"]).kind in "iu":
        s, zp = d_in["quantization"]
        x_q = quantize(x, s, zp, d_in["dtype"])
    else:
        x_q = x
    x_rows = x_q.reshape(steps, 1)
    y_ours = ours.run(x_rows)[0].reshape(steps)
    micro = MicroInterpreter(model_content=model)
    micro.allocate_tensors()
    i_in = micro.get_input_details()[0]["index"]
    i_out = micro.get_output_details()[0]["index"]
    y_micro = np.empty_like(y_ours)
    for k in range(steps):  # TFLM runs one sample per invoke, like the example
        micro.set_tensor(i_in, x_rows[k : k + 1])
        micro.invoke()
        y_micro[k] = micro.get_tensor(i_out).reshape(())
    if np.dtype(d_out["dtype"]).kind in "iu":
        s, zp = d_out["quantization"]
        y_float = dequantize(y_ours, s, zp)
    else:
        y_float = y_ours.astype(np.float32)
    return HelloWorldRun(x, x_q, y_ours, y_micro, y_float)


def plot_hello_world(runs: dict[str, HelloWorldRun], path: Path) -> Path:
    """PNG of predicted y against sin(x) for each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    first = next(iter(runs.values()))
    ax.plot(first.x, np.sin(first.x), "k-", lw=1, label="sin(x)")
    for name, r in runs.items():
        tag = "identical in TFLM" if r.identical else "DIFFERS from TFLM"
        ax.plot(r.x, r.y_float, ".", ms=3, label=f"{name} (refimpl; {tag})")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("hello_world: x → quantize → invoke → dequantize")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
