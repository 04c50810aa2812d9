"""The ``refimpl`` command line.

::

    refimpl demo                         # seed CNN through refimpl, LiteRT and TFLM: the table
    refimpl run MODEL --input x.npy [--output y.npy] [--flavor tflm]
    refimpl inspect MODEL                # ops, tensors, dtypes, scales, zero points, buffers
    refimpl bench [--batch 300]          # img/s against LiteRT and TFLM, as ratios

``run`` and ``inspect`` need only numpy + flatbuffers; ``demo`` and ``bench`` need the
``[all]`` extra (TensorFlow to build the models, the runtimes to compare with).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import RefimplError


def _write_atomic(path: Path, data: bytes, overwrite: bool) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``."""
    if path.exists() and not overwrite:
        raise RefimplError(f"{path} exists; pass --force to overwrite it")
    fd, tmp = tempfile.mkstemp(dir=path.parent or Path("."), prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from .interpreter import Interpreter

    interp = Interpreter(model_path=args.model, flavor=args.flavor)
    ins = interp.get_input_details()
    arrays = [np.load(p) for p in args.input]
    if len(arrays) != len(ins):
        raise RefimplError(f"model has {len(ins)} inputs, got {len(arrays)} --input files")
    for i, (d, a) in enumerate(zip(ins, arrays)):
        if a.dtype != d["dtype"]:
            if np.dtype(d["dtype"]).kind in "iu" and a.dtype.kind == "f" and args.quantize:
                from .arithmetic import quantize

                s, zp = d["quantization"]
                arrays[i] = quantize(a, s, zp, d["dtype"])
            else:
                raise RefimplError(
                    f"input {i} '{d['name']}' expects {np.dtype(d['dtype']).name}, file has "
                    f"{a.dtype.name} (pass --quantize to quantize float data with the input's "
                    "scale and zero point)"
                )
    outs = interp.run(*arrays)
    for d, y in zip(interp.get_output_details(), outs):
        print(f"{d['name']}: {y.dtype.name}{list(y.shape)}")
        with np.printoptions(threshold=20, edgeitems=4):
            print(y)
    if args.output:
        import io

        buf = io.BytesIO()
        np.save(buf, outs[0]) if len(outs) == 1 else np.savez(buf, *outs)
        _write_atomic(Path(args.output), buf.getvalue(), args.force)
        print(f"wrote {args.output}")
    return 0


# --------------------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------------------
def _fmt_q(t) -> str:
    q = t.quantization
    if q is None:
        return ""
    if q.scale.size == 1:
        zp = int(q.zero_point[0]) if q.zero_point.size else 0
        return f"s={float(q.scale[0]):.6g} zp={zp}"
    return (
        f"per-axis[{q.scale.size}] axis={q.quantized_dimension} "
        f"s∈[{float(q.scale.min()):.3g}, {float(q.scale.max()):.3g}] "
        f"zp∈{sorted(set(int(z) for z in q.zero_point))[:3]}"
    )


def cmd_inspect(args: argparse.Namespace) -> int:
    import tflite_schema as tfs

    data = Path(args.model).read_bytes()
    m = tfs.read_model(data)
    print(f"{args.model}: {len(data)} bytes, schema version {m.version}, "
          f"{len(m.subgraphs)} subgraph(s), {len(m.buffers)} buffers")
    if m.description:
        print(f"description: {m.description}")
    for s in m.signature_defs:
        print(f"signature '{s.signature_key}' (subgraph {s.subgraph_index}): "
              f"inputs {[t.name for t in s.inputs]} outputs {[t.name for t in s.outputs]}")
    for si, sg in enumerate(m.subgraphs):
        print(f"\nsubgraph {si} '{sg.name}': inputs {list(sg.inputs)} outputs {list(sg.outputs)}")
        print("\nops:")
        for op in sg.operators:
            code = m.operator_codes[op.opcode_index]
            act = getattr(op.builtin_options, "fused_activation_function", None)
            act_s = f" act={['NONE','RELU','RELU_N1_TO_1','RELU6','TANH','SIGN_BIT'][act]}" if act else ""
            print(f"  [{op.index:3d}] {code.name:<22} v{code.version} in {list(op.inputs)} "
                  f"out {list(op.outputs)}{act_s}")
        print("\ntensors:")
        print(f"  {'idx':>4} {'name':<44} {'type':<8} {'shape':<18} {'buffer bytes':>12}  quantization")
        for t in sg.tensors:
            nbytes = len(m.buffer_data(t.buffer)) if t.buffer < len(m.buffers) else 0
            name = t.name if len(t.name) <= 44 else "…" + t.name[-43:]
            print(f"  {t.index:>4} {name:<44} {t.type.name:<8} {str(list(t.shape)):<18} "
                  f"{nbytes if nbytes else '':>12}  {_fmt_q(t)}")
    return 0


# --------------------------------------------------------------------------------------
# demo and bench (need the [all] extra)
# --------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from compare.demo import run_demo

    return run_demo(batch=args.batch, runtimes=args.runtimes)


def cmd_bench(args: argparse.Namespace) -> int:
    from compare.bench import run_bench

    return run_bench(batch=args.batch, repeats=args.repeats, variant=args.variant)


def cmd_zoo(args: argparse.Namespace) -> int:
    from compare.zoo_report import main as zoo_main

    models = [m.strip() for m in args.models.split(",")] if args.models else None
    return zoo_main(models, args.samples)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="refimpl", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="seed CNN through refimpl, LiteRT and TFLM: accuracy, bit-exactness, speed")
    d.add_argument("--batch", type=int, default=300, help="held-out images to run")
    d.add_argument("--runtimes", default="refimpl,litert-ref,litert-xnnpack,tflm")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("run", help="run a model on .npy inputs")
    r.add_argument("model")
    r.add_argument("--input", action="append", required=True, help=".npy file (repeat per input)")
    r.add_argument("--output", help="write the output(s) to this .npy/.npz")
    r.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    r.add_argument("--flavor", default="tflite-ref")
    r.add_argument("--quantize", action="store_true", help="quantize float inputs for int models")
    r.set_defaults(func=cmd_run)

    i = sub.add_parser("inspect", help="ops, tensors, dtypes, quantization, buffer sizes")
    i.add_argument("model")
    i.set_defaults(func=cmd_inspect)

    b = sub.add_parser("bench", help="img/s of refimpl vs LiteRT and TFLM on the seed CNN")
    b.add_argument("--batch", type=int, default=300)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--variant", default="int8")
    b.set_defaults(func=cmd_bench)
    z = sub.add_parser("zoo", help="build the model zoo and write the seeds' table "
                       "(reports/zoo.md, .json, .png)")
    z.add_argument("--models", help="comma-separated zoo model names (default: all)")
    z.add_argument("--samples", type=int, default=100, help="held-out samples per variant")
    z.set_defaults(func=cmd_zoo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RefimplError as e:
        print(f"refimpl: error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        print(f"refimpl: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a schema error from inspect: still no traceback
        from tflite_schema import SchemaError

        if isinstance(e, SchemaError):
            print(f"refimpl: error: cannot read model: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
