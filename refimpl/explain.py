"""``refimpl explain``: one output element of one node, computed step by step with the
model's own numbers.

>>> from refimpl.explain import explain                            # doctest: +SKIP
>>> e = explain("model_int8.tflite", node=0, index=(0, 5, 7, 3))
>>> print(e.to_text())

For CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED the steps are the receptive field
(inputs and weights with their zero points), the int32 accumulator (the sum of products,
the bias), the real multiplier and its ``(multiplier, shift)`` form, every rounding step
of the flavour's requantization with its intermediate value, the output zero point and
the clamp (float models: the float sum in the kernel's order). Pooling, QUANTIZE and
DEQUANTIZE have their own step lists; any other node (ADD, MUL, SOFTMAX, MEAN, LOGISTIC,
...) gets the values that feed the element, its OpData and its value per flavour. Every explanation
is checked: its final value must equal what the interpreter computed for that element
(a mismatch raises, it is a bug in refimpl).

``per_flavor`` holds the value each runtime flavour produces on the same inputs; where
they differ, ``first_difference`` names the first step at which the explanations part.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import arithmetic as ar
from .errors import InputError, RefimplError
from .flavors import FLAVORS, Requant

__all__ = ["Step", "Explanation", "explain"]


@dataclass(frozen=True)
class Step:
    """One step: its name, the value after it, and how it was computed."""

    name: str
    value: Any
    how: str = ""


@dataclass
class Explanation:
    node: int
    op: str
    index: tuple[int, ...]
    flavor: str
    steps: list[Step]
    value: Any
    per_flavor: dict[str, Any] = field(default_factory=dict)
    first_difference: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["steps"] = [{"name": s.name, "value": _jsonable(s.value), "how": s.how}
                      for s in self.steps]
        d["value"] = _jsonable(self.value)
        d["per_flavor"] = {k: _jsonable(v) for k, v in self.per_flavor.items()}
        return d

    def to_text(self) -> str:
        lines = [f"node {self.node} {self.op}, output element {list(self.index)}, "
                 f"flavour {self.flavor}"]
        width = max((len(s.name) for s in self.steps), default=0)
        for s in self.steps:
            v = _short(s.value)
            lines.append(f"  {s.name:<{width}} = {v}" + (f"    # {s.how}" if s.how else ""))
        lines.append(f"  => {_short(self.value)}")
        if self.per_flavor:
            vals = ", ".join(f"{k}: {_short(v)}" for k, v in self.per_flavor.items())
            lines.append(f"per flavour: {vals}")
        for f, step in self.first_difference.items():
            lines.append(f"  {f} parts from {self.flavor} at step: {step}")
        return "\n".join(lines)


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        flat = v.reshape(-1)
        body = ", ".join(str(x) for x in flat[:12].tolist())
        return f"[{body}{', ...' if flat.size > 12 else ''}] ({flat.size} values)"
    return str(_jsonable(v))


# ------------------------------------------------------------------------------------
# Requantization steps (the part where runtimes differ)
# ------------------------------------------------------------------------------------
def requant_steps(total: int, how: Requant, m: int, shift: int, real: float, xnn: float,
                  bits: int = 32) -> tuple[list[Step], int]:
    """Steps that scale the accumulator ``total`` (bias included) to the output grid."""
    steps = [Step("real multiplier", float(real), "s_in * s_w / s_out (float64)"),
             Step("(multiplier, shift)", (int(m), int(shift)),
                  f"real = {int(m)} * 2^({int(shift)} - 31)")]
    if bits == 64 and how is not Requant.FLOAT64:
        y = int(ar.multiply_by_quantized_multiplier_int64(np.int64(total), m, shift))
        rm = (m + (1 << 15)) >> 16 if m < 0x7FFF0000 else 0x7FFF
        steps.append(Step("int64 multiply", y, f"(acc * {rm} + 2^{14 - shift}) >> {15 - shift} "
                          "(15-bit multiplier, one rounding half up)"))
        return steps, y
    if how is Requant.FLOAT64:
        v = float(np.float64(total) * np.float64(real))
        y = int(ar.round_half_away(np.float64(v)))
        steps += [Step("acc * real (double)", v), Step("round half away from zero", y)]
        return steps, y
    if how is Requant.XNN_FP32:
        v = float(np.float32(np.float32(total) * np.float32(xnn)))
        y = int(np.rint(v))
        steps += [Step("float32 scale", float(np.float32(xnn)), "fl32(fl32(s_in*s_w)/s_out)"),
                  Step("acc * scale (float32)", v), Step("round half to even", y)]
        return steps, y
    ls, rs = max(int(shift), 0), max(-int(shift), 0)
    x = int(ar.wrap32(np.int64(total) << ls))
    if ls:
        steps.append(Step("left shift", x, f"acc << {ls} (int32)"))
    hi = int(ar.saturating_rounding_doubling_high_mul(np.int64(x), int(m)))
    steps.append(Step("SRDHM", hi, f"round((x * {int(m)}) / 2^31), ties up"))
    if how is Requant.NEON:
        y = (hi + (1 << (rs - 1))) >> rs if rs else hi
        steps.append(Step("rounding shift (half up)", y, f"(v + 2^{rs - 1}) >> {rs}"
                          if rs else "no right shift"))
    else:
        y = int(ar.rounding_divide_by_pot(np.int64(hi), rs))
        steps.append(Step("RDBPOT (half away from zero)", y, f"v / 2^{rs}, ties away from 0"
                          if rs else "no right shift"))
    return steps, y


def _finish(steps: list[Step], y: int, zp: int, lo: int, hi: int) -> int:
    steps.append(Step("+ output zero point", y + zp, f"+ {zp}"))
    out = int(min(max(y + zp, lo), hi))
    steps.append(Step("clamp", out, f"to [{lo}, {hi}]"))
    return out


# ------------------------------------------------------------------------------------
# Per-op explainers: (interp, node, index, tensors) -> (steps, value)
# ------------------------------------------------------------------------------------
def _conv_like(it, node, idx, x, depthwise: bool):
    ctx, d = node.ctx, node.data
    w = np.asarray(ctx.input(1).data).astype(np.int64)
    bias_t = ctx.optional_input(2)
    b, oy, ox, oc = idx
    win = d.window
    q = d.quant
    steps: list[Step] = []
    if q is None:
        return _float_conv(ctx, d, x, np.asarray(ctx.input(1).data, np.float32), idx, depthwise)
    if depthwise:
        dm = d.depth_multiplier
        chans = [oc // dm]
        wcol = lambda fy, fx: w[0, fy, fx, oc:oc + 1]  # noqa: E731
    else:
        fd = w.shape[3]
        g = oc // d.filters_per_group
        chans = list(range(g * fd, (g + 1) * fd))
        wcol = lambda fy, fx: w[oc, fy, fx, :]  # noqa: E731
    zp_in = -q.input_offset
    xs, ws = [], []
    for fy in range(win.filter_h):
        iy = oy * win.stride_h - win.padding.height + fy * win.dilation_h
        for fx in range(win.filter_w):
            ix = ox * win.stride_w - win.padding.width + fx * win.dilation_w
            if 0 <= iy < win.in_h and 0 <= ix < win.in_w:
                xs.extend(int(v) for v in x[b, iy, ix, chans])
                ws.extend(int(v) for v in wcol(fy, fx))
    xs_a, ws_a = np.array(xs, np.int64), np.array(ws, np.int64)
    steps += [Step("inputs q_x (receptive field)", xs_a, f"{len(xs)} in-image taps"),
              Step("input zero point", zp_in), Step("weights q_w", ws_a, "zero point 0")]
    acc = int(np.sum((xs_a - zp_in) * ws_a))
    steps.append(Step("acc = sum (q_x - zp_x) * q_w", acc,
                      f"= {int(np.sum(xs_a * ws_a))} - {zp_in} * {int(ws_a.sum())}"))
    bias = 0 if bias_t is None else int(np.asarray(bias_t.data).reshape(-1)[oc])
    total = acc + bias
    steps.append(Step("acc + bias", total, f"bias[{oc}] = {bias}"))
    rq = q.requantize
    if depthwise and getattr(d, "tail_channel", None) is not None and oc >= d.tail_channel:
        rq = d.tail_quant.requantize
        k = oc - d.tail_channel
    else:
        k = oc if rq.multiplier.size > 1 else 0
    rs, y = requant_steps(total, rq.how, int(rq.multiplier[k]), int(rq.shift[k]),
                          float(rq.real[k]), float(rq.xnn_scale[k]), q.accumulator_bits)
    steps += rs
    out = _finish(steps, y, q.output_offset, q.output_activation_min, q.output_activation_max)
    return steps, out


def _float_conv(ctx, d, x, w, idx, depthwise):
    b, oy, ox, oc = idx
    win = d.window
    total = np.float32(0)
    terms = 0
    for fy in range(win.filter_h):
        iy = oy * win.stride_h - win.padding.height + fy * win.dilation_h
        for fx in range(win.filter_w):
            ix = ox * win.stride_w - win.padding.width + fx * win.dilation_w
            if not (0 <= iy < win.in_h and 0 <= ix < win.in_w):
                continue
            if depthwise:
                pairs = [(x[b, iy, ix, oc // d.depth_multiplier], w[0, fy, fx, oc])]
            else:
                fd = w.shape[3]
                g = oc // d.filters_per_group
                pairs = zip(x[b, iy, ix, g * fd:(g + 1) * fd], w[oc, fy, fx, :])
            for xv, wv in pairs:
                total = np.float32(total + np.float32(np.float32(xv) * np.float32(wv)))
                terms += 1
    steps = [Step("float sum of products", float(total), f"{terms} terms, float32, in order")]
    bias_t = ctx.optional_input(2)
    if bias_t is not None:
        total = np.float32(total + np.float32(np.asarray(bias_t.data).reshape(-1)[oc]))
        steps.append(Step("+ bias", float(total)))
    out = np.float32(min(max(total, d.float_activation_min), d.float_activation_max))
    steps.append(Step("activation clamp", float(out)))
    return steps, out


def _fully_connected(it, node, idx, x, out_shape):
    ctx, d = node.ctx, node.data
    flat = int(np.ravel_multi_index(idx, out_shape))
    row, u = divmod(flat, d.units)
    xr = x.reshape(-1, d.depth)[row].astype(np.int64)
    w = np.asarray(ctx.input(1).data).astype(np.int64)[u]
    bias_t = ctx.optional_input(2)
    if d.requant is None:
        total = np.float32(0)
        xf = np.asarray(x, np.float32).reshape(-1, d.depth)[row]
        wf = np.asarray(ctx.input(1).data, np.float32)[u]
        for xv, wv in zip(xf, wf):
            total = np.float32(total + np.float32(np.float32(xv) * np.float32(wv)))
        steps = [Step("float sum of products", float(total), f"{d.depth} terms, in order")]
        if bias_t is not None:
            total = np.float32(total + np.float32(np.asarray(bias_t.data).reshape(-1)[u]))
            steps.append(Step("+ bias", float(total)))
        lo, hi = {1: (0.0, np.inf), 2: (-1.0, 1.0), 3: (0.0, 6.0)}.get(d.activation, (None, None))
        if lo is not None:
            total = np.float32(min(max(total, np.float32(lo)), np.float32(hi)))
            steps.append(Step("activation clamp", float(total)))
        return steps, total
    zp_in, zp_w = -d.input_offset, -d.filter_offset
    steps = [Step("inputs q_x (row)", xr, f"row {row}"), Step("input zero point", zp_in),
             Step("weights q_w (unit)", w, f"unit {u}, zero point {zp_w}")]
    acc = int(np.sum((xr - zp_in) * (w - zp_w)))
    steps.append(Step("acc = sum (q_x - zp_x) * (q_w - zp_w)", acc))
    bias = 0 if bias_t is None else int(np.asarray(bias_t.data).reshape(-1)[u])
    total = acc + bias
    steps.append(Step("acc + bias", total, f"bias[{u}] = {bias}"))
    rq = d.requant
    k = u if rq.multiplier.size > 1 else 0
    rs, y = requant_steps(total, rq.how, int(rq.multiplier[k]), int(rq.shift[k]),
                          float(rq.real[k]), float(rq.xnn_scale[k]), d.accumulator_bits)
    steps += rs
    out = _finish(steps, y, d.output_offset, d.act_min, d.act_max)
    return steps, out


def _pool(it, node, idx, x, op):
    d = node.data
    win = d.window
    b, oy, ox, c = idx
    vals = []
    for fy in range(win.filter_h):
        iy = oy * win.stride_h - win.padding.height + fy
        for fx in range(win.filter_w):
            ix = ox * win.stride_w - win.padding.width + fx
            if 0 <= iy < win.in_h and 0 <= ix < win.in_w:
                vals.append(x[b, iy, ix, c])
    v = np.array(vals)
    steps = [Step("window values (in image)", v, f"{v.size} taps; padding taps are skipped")]
    if op == "MAX_POOL_2D":
        out = v.max()
        steps.append(Step("max", out))
    elif d.is_float:
        total = np.float32(0)
        for t in v:
            total = np.float32(total + np.float32(t))
        out = np.float32(total / np.float32(v.size))
        steps += [Step("float sum", float(total)), Step("/ count", float(out))]
    else:
        s, n = int(v.astype(np.int64).sum()), v.size
        out = (s + n // 2) // n if s > 0 else -((-s + n // 2) // n)
        steps += [Step("sum", s), Step("divide by count, ties away from zero", out,
                                       f"({s} +- {n // 2}) / {n}, C truncation")]
    if not d.is_float:
        out = int(min(max(int(out), d.output_activation_min), d.output_activation_max))
        steps.append(Step("clamp", out, f"to [{d.output_activation_min}, {d.output_activation_max}]"))
    return steps, out


def _elementwise_inputs(ctx, tensors, idx, out_shape):
    """The value of each input that feeds output element ``idx`` (NumPy broadcasting)."""
    vals = []
    for t in ctx.inputs:
        if t is None:
            continue
        a = tensors.get(t.name) if t.data is None else np.asarray(t.data)
        if a is None:
            continue
        a = np.asarray(a)
        try:
            vals.append((t, np.broadcast_to(a, out_shape)[idx]))
        except ValueError:
            vals.append((t, a))
    return vals


def _generic(it, node, idx, tensors, out_shape):
    ctx = node.ctx
    steps = []
    for t, v in _elementwise_inputs(ctx, tensors, idx, out_shape):
        q = f" (scale {float(t.scale[0]):.6g}, zero point {int(t.zero_point[0])})" \
            if t.is_quantized and t.scale.size == 1 else ""
        steps.append(Step(f"input '{t.name.split(';')[0]}'", v, f"{t.dtype}{q}"))
    steps.append(Step("OpData", _opdata_text(node.data), "precomputed in prepare"))
    return steps, None


def _opdata_text(data) -> str:
    """``repr`` of an OpData with arrays abbreviated (weights would fill the screen)."""
    with np.printoptions(threshold=6, edgeitems=2, linewidth=10**6, precision=6):
        text = " ".join(repr(data).split())
    return text if len(text) <= 600 else text[:597] + "..."


def _quantize(it, node, idx, x):
    d = node.data
    v = x[idx]
    if d.kind == "quantize" and d.axis is None:
        s, zp = float(d.scale.flat[0]), int(d.zero_point.flat[0])
        q = float(np.float32(v) / np.float32(s))
        steps = [Step("x", float(v)), Step("x / scale (float32)", q, f"scale {s:.6g}")]
        if d.variant == "ref":
            r = int(ar.round_half_away(np.float64(q)))
            steps.append(Step("round half away from zero", r))
        elif d.variant == "xnn":
            r = int(np.rint(np.float32(np.float32(v) * np.float32(np.float32(1) / np.float32(s)))))
            steps.append(Step("x * (1/scale), round half to even", r, "XNNPACK"))
        else:
            steps.append(Step("optimized: vector body x * (1/s) rne, tail round(x/s)", None))
            return steps, None
        lo, hi = ar.qrange(d.output_dtype)
        return steps, _finish(steps, r, zp, lo, hi)
    return [Step("input", x[idx]), Step("OpData", _opdata_text(d))], None


def _dequantize(it, node, idx, x):
    d = node.data
    q = int(x[idx])
    if d.kind in ("affine", "optimized") and d.scale.size == 1:
        s, zp = float(d.scale.flat[0]), int(d.zero_point.flat[0])
        steps = [Step("q", q), Step("q - zero point", q - zp, f"zero point {zp}")]
        out = np.float32(np.float64(np.float32(s)) * (q - zp))
        steps.append(Step("scale * (q - zp)", float(out), f"scale {s:.9g}, one rounding"))
        return steps, out
    return [Step("q", q)], None


# ------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------
def _load(model: Any) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


def default_inputs(content: bytes, seed: int = 0) -> list[np.ndarray]:
    """Deterministic inputs inside each model input's range (uniform over the integer
    range for quantized inputs, [-1, 1) for float ones)."""
    from .interpreter import Interpreter

    rng = np.random.default_rng(seed)
    out = []
    for dt in Interpreter(model_content=content).get_input_details():
        shape, dtype = tuple(dt["shape"]), np.dtype(dt["dtype"])
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            out.append(rng.integers(info.min, int(info.max) + 1, size=shape).astype(dtype))
        else:
            out.append(rng.uniform(-1, 1, size=shape).astype(dtype))
    return out


def _run(content: bytes, inputs, flavor):
    from .interpreter import Interpreter

    it = Interpreter(model_content=content, flavor=flavor)
    it.run(*inputs)
    return it, it.intermediates()


def _explain_one(it, tensors, node_index: int, idx: tuple[int, ...]):
    node = it.nodes[node_index]
    op, ctx = node.op_name, node.ctx
    out_t = ctx.outputs[0]
    y = np.asarray(tensors[out_t.name])
    if len(idx) != y.ndim or any(not 0 <= i < n for i, n in zip(idx, y.shape)):
        raise InputError(f"index {list(idx)} is outside output shape {list(y.shape)} of node "
                         f"{node_index} ({op})")
    first = ctx.inputs[0]
    x = None
    if first is not None:
        x = np.asarray(first.data) if first.data is not None else np.asarray(tensors[first.name])
    if op in ("CONV_2D", "DEPTHWISE_CONV_2D") and getattr(node.data, "hybrid", None) is None \
            and getattr(node.data, "hybrid_filter_scale", None) is None:
        steps, val = _conv_like(it, node, idx, x, op == "DEPTHWISE_CONV_2D")
    elif op == "FULLY_CONNECTED" and node.data.hybrid is None:
        steps, val = _fully_connected(it, node, idx, x, y.shape)
    elif op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        steps, val = _pool(it, node, idx, x, op)
    elif op == "QUANTIZE":
        steps, val = _quantize(it, node, idx, x)
    elif op == "DEQUANTIZE" and node.data.constant_result is None:
        steps, val = _dequantize(it, node, idx, x)
    else:
        steps, val = _generic(it, node, idx, tensors, y.shape)
    actual = y[idx]
    if val is not None and not (np.asarray(val) == actual or (
            np.isnan(np.float64(actual)) and np.isnan(np.float64(val)))):
        raise RefimplError(f"explain: the steps give {val!r} but node {node_index} ({op}) "
                           f"computed {actual!r} at {list(idx)} — a bug in refimpl.explain")
    steps.append(Step("output (interpreter)", _jsonable(actual)))
    return op, steps, actual


def explain(model: Any, node: int, index: Sequence[int], inputs: Sequence[np.ndarray] | None = None,
            flavor: str = "tflite-ref", compare_flavors: bool = True) -> Explanation:
    """Explain output element ``index`` of node ``node`` (see the module docstring)."""
    content = _load(model)
    ins = list(inputs) if inputs is not None else default_inputs(content)
    idx = tuple(int(i) for i in index)
    it, tensors = _run(content, ins, flavor)
    if not 0 <= node < len(it.nodes):
        raise InputError(f"node {node} out of range (the model has {len(it.nodes)} nodes)")
    op, steps, value = _explain_one(it, tensors, node, idx)
    e = Explanation(node, op, idx, flavor, steps, _jsonable(value))
    if compare_flavors:
        for f in FLAVORS:
            try:
                it_f, t_f = _run(content, ins, f)
                _, steps_f, v_f = _explain_one(it_f, t_f, node, idx)
            except RefimplError as err:
                e.per_flavor[f] = f"refused: {err}"
                continue
            e.per_flavor[f] = _jsonable(v_f)
            if f != flavor and _jsonable(v_f) != e.value:
                for a, b in zip(steps, steps_f):
                    if a.name != b.name or _jsonable(a.value) != _jsonable(b.value):
                        e.first_difference[f] = (f"'{a.name}' ({_short(a.value)}) vs "
                                                 f"'{b.name}' ({_short(b.value)})")
                        break
    return e


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="refimpl explain", description=__doc__.split("\n")[0])
    p.add_argument("model")
    p.add_argument("--node", type=int, required=True)
    p.add_argument("--index", required=True, help="comma-separated output index, e.g. 0,5,7,3")
    p.add_argument("--input", action="append", help=".npy input (repeat per model input)")
    p.add_argument("--flavor", default="tflite-ref", choices=list(FLAVORS))
    p.add_argument("--format", choices=("text", "json"), default="text")
    a = p.parse_args(argv)
    ins = [np.load(f) for f in a.input] if a.input else None
    e = explain(a.model, a.node, [int(v) for v in a.index.split(",")], ins, a.flavor)
    print(json.dumps(e.to_dict(), indent=1) if a.format == "json" else e.to_text())
    return 0
