"""The ``refimpl`` command line.

::

    refimpl demo                         # seed CNN through refimpl, LiteRT and TFLM: the table
    refimpl run MODEL --input x.npy [--output y.npy] [--flavor tflm]
    refimpl inspect MODEL                # ops, tensors, dtypes, scales, zero points, buffers
    refimpl bench [--batch 300]          # img/s against LiteRT and TFLM, as ratios
    refimpl prune MODEL --sparsity 0.5 [--block 1x4 | --m-by-n 2:4] -o OUT
    refimpl cluster MODEL --clusters 16 [--per-channel] [--init kmeans++] -o OUT
    refimpl sizes MODEL [--before ORIG] [--format md|json] [--plot-tensor NAME --plot h.png]

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


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import audit
    from .fileio import atomic_write

    out_dir = Path(args.out) if args.out else None
    data = np.load(args.data) if args.data else None
    report = audit(args.model, float_model=args.float, data=data,
                   runtime=None if args.runtime == "none" else args.runtime,
                   with_tflm=not args.no_tflm, plot_dir=out_dir if args.float else None)
    text = report.to_json() if args.format == "json" else report.to_markdown()
    if out_dir is None:
        print(text)
    else:
        name = "audit." + ("json" if args.format == "json" else "md")
        try:
            atomic_write(out_dir / name, text, overwrite=args.force)
        except FileExistsError as e:
            raise RefimplError(f"{e}; pass --force to overwrite") from None
        print(f"wrote {out_dir / name}")
    return 0 if report.count("error") == 0 else 1


# --------------------------------------------------------------------------------------
# prune, cluster, sizes (numpy only; the plot needs matplotlib)
# --------------------------------------------------------------------------------------
def _check_output(args: argparse.Namespace) -> None:
    """Fail before any work: -o is the input, or exists without --force."""
    out, src = Path(args.output), Path(args.model)
    if out.resolve() == src.resolve() or (out.exists() and os.path.samefile(out, src)):
        raise RefimplError(f"refusing to overwrite the input model {src}")
    if out.exists() and not args.force:
        raise RefimplError(f"{out} exists; pass --force to overwrite it")


def _rewrite_output(args: argparse.Namespace, data: bytes) -> Path:
    """Save ``data`` to ``-o`` atomically: never onto the input, never onto an existing
    file without --force (checked again at the final, atomic step)."""
    import tflite_schema as tfs

    _check_output(args)
    out = Path(args.output)
    try:
        return tfs.save_model(data, out, overwrite=args.force)
    except FileExistsError:
        raise RefimplError(f"{out} exists; pass --force to overwrite it") from None


def _ops(args: argparse.Namespace) -> list[str] | None:
    return [o.strip() for o in args.ops.split(",") if o.strip()] if args.ops else None


def _report_rewrite(args: argparse.Namespace, result) -> int:
    from .compress.audit import gzip_bytes

    path = _rewrite_output(args, result.model)
    print(result.to_markdown())
    print(f"\nwrote {path}: {len(result.model)} bytes, gzip -9 {gzip_bytes(result.model)} "
          f"(input {Path(args.model).stat().st_size} bytes, gzip -9 "
          f"{gzip_bytes(Path(args.model).read_bytes())})")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from .compress.tflite import parse_block, parse_m_by_n, prune_model

    _check_output(args)
    try:
        result = prune_model(Path(args.model).read_bytes(), args.sparsity,
                             block_size=parse_block(args.block), block_pooling=args.pooling,
                             m_by_n=parse_m_by_n(args.m_by_n),
                             include_depthwise=args.include_depthwise, ops=_ops(args))
    except ValueError as e:
        raise RefimplError(str(e)) from None
    return _report_rewrite(args, result)


def cmd_cluster(args: argparse.Namespace) -> int:
    from .compress.tflite import cluster_model

    _check_output(args)
    try:
        result = cluster_model(Path(args.model).read_bytes(), args.clusters,
                               per_channel=args.per_channel, init=args.init, seed=args.seed,
                               preserve_sparsity=args.preserve_sparsity,
                               lloyd_iterations=args.lloyd,
                               include_depthwise=args.include_depthwise, ops=_ops(args))
    except ValueError as e:
        raise RefimplError(str(e)) from None
    return _report_rewrite(args, result)


def cmd_sizes(args: argparse.Namespace) -> int:
    import json

    from .compress.audit import audit_model, plot_histograms

    if bool(args.plot) != bool(args.plot_tensor):
        raise RefimplError("--plot and --plot-tensor go together")
    after_bytes = Path(args.model).read_bytes()
    after = audit_model(after_bytes, Path(args.model).name)
    before_bytes = Path(args.before).read_bytes() if args.before else None
    before = audit_model(before_bytes, Path(args.before).name) if before_bytes else None
    if args.format == "json":
        doc = after.to_dict() if before is None else {"before": before.to_dict(),
                                                      "after": after.to_dict()}
        print(json.dumps(doc, indent=2))
    else:
        print(after.to_markdown(before))
    if args.plot:
        models = ([(f"before ({Path(args.before).name})", before_bytes)] if before_bytes
                  else []) + [(f"after ({Path(args.model).name})" if before_bytes
                               else Path(args.model).name, after_bytes)]
        try:
            png = plot_histograms(models, args.plot_tensor)
        except KeyError as e:
            raise RefimplError(str(e.args[0])) from None
        _write_atomic(Path(args.plot), png, args.force)
        print(f"wrote {args.plot}", file=sys.stderr if args.format == "json" else sys.stdout)
    return 0


def _add_compress_parsers(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("model")
    common.add_argument("-o", "--output", required=True, help="the rewritten .tflite")
    common.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists (never the input)")
    common.add_argument("--include-depthwise", action="store_true",
                        help="also rewrite DEPTHWISE_CONV_2D filters (tfmot never does)")
    common.add_argument("--ops", help="comma-separated op kinds to rewrite (default: "
                        "CONV_2D,FULLY_CONNECTED,TRANSPOSE_CONV)")

    pr = sub.add_parser("prune", parents=[common], help="magnitude-prune the weight "
                        "tensors of a .tflite (tfmot's masks, post-training)")
    pr.add_argument("--sparsity", type=float, default=0.5, help="fraction of zeros per tensor")
    shape = pr.add_mutually_exclusive_group()
    shape.add_argument("--block", help="block sparsity RxC on the Keras (in, out) kernel, "
                       "e.g. 1x4 (FULLY_CONNECTED only, as tfmot)")
    shape.add_argument("--m-by-n", dest="m_by_n", help="structured sparsity, e.g. 2:4 "
                       "(2 zeros in every 4 input-channel weights)")
    pr.add_argument("--pooling", choices=("AVG", "MAX"), default="AVG",
                    help="block pooling type")
    pr.set_defaults(func=cmd_prune)

    cl = sub.add_parser("cluster", parents=[common], help="cluster the weight tensors of "
                        "a .tflite into k values (tfmot's centroids, post-training)")
    cl.add_argument("--clusters", type=int, default=16)
    cl.add_argument("--per-channel", action="store_true",
                    help="k centroids per output channel (int8: on the stored integers)")
    cl.add_argument("--init", choices=("kmeans++", "linear", "density", "random"),
                    default="kmeans++", help="centroid initialisation (tfmot's)")
    cl.add_argument("--seed", type=int, help="kmeans++: Philox seed (default 9, tfmot's); "
                    "random: NumPy seed (default 0)")
    cl.add_argument("--preserve-sparsity", action="store_true",
                    help="keep zeros at zero (a pinned zero centroid)")
    cl.add_argument("--lloyd", type=int, default=0, metavar="N",
                    help="Lloyd iterations after the initialisation (default 0 = tfmot "
                    "without fine-tuning)")
    cl.set_defaults(func=cmd_cluster)

    sz = sub.add_parser("sizes", help="compression audit: zeros, patterns, distinct values, "
                        "LUT bits, raw and gzip bytes per weight tensor and buffer")
    sz.add_argument("model")
    sz.add_argument("--before", help="the model before optimisation, for a comparison")
    sz.add_argument("--format", choices=("md", "json"), default="md")
    sz.add_argument("--plot-tensor", help="tensor name (or unique part of it) to plot")
    sz.add_argument("--plot", help="PNG histogram of that tensor (before and after)")
    sz.add_argument("--force", action="store_true", help="overwrite --plot if it exists")
    sz.set_defaults(func=cmd_sizes)


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
    a = sub.add_parser("audit", help="lint the quantization spec, predict runtime problems, "
                       "per-layer error against a float twin, memory estimate")
    a.add_argument("model")
    a.add_argument("--float", help="the float twin of MODEL (enables per-layer error)")
    a.add_argument("--data", help=".npy of float inputs for the error section")
    a.add_argument("--format", choices=("md", "json"), default="md")
    a.add_argument("--out", help="directory for audit.md/.json and the per-layer plots "
                   "(default: print the report)")
    a.add_argument("--force", action="store_true", help="overwrite an existing report")
    a.add_argument("--runtime", default="litert-builtin",
                   help="runtime for the implementation-error column, or 'none'")
    a.add_argument("--no-tflm", action="store_true", help="skip TFLM's arena measurement")
    a.set_defaults(func=cmd_audit)
    for name, text in _PASS_THROUGH.items():
        sub.add_parser(name, help=text, add_help=False)  # options: refimpl NAME --help
    _add_compress_parsers(sub)
    return p


#: Subcommands whose options live in a compare module (they need the [all] extra).
_PASS_THROUGH = {
    "explain": "one output element of one node, step by step (accumulator, multiplier, "
               "roundings, clamp) and the value under every flavour (refimpl.explain)",
    "sweep": "single-op sweep on every runtime under its flavour; writes "
             "reports/sweep_coverage.md/.json (compare.sweep)",
    "fingerprint": "detect which arithmetic each installed runtime uses per op; writes "
                   "the table shown in docs/fingerprint.md (compare.fingerprint)",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _PASS_THROUGH:
        import importlib

        package = "refimpl" if argv[0] == "explain" else "compare"
        module = importlib.import_module(f"{package}.{argv[0]}")
        run = lambda: int(module.main(argv[1:]) or 0)  # noqa: E731
    else:
        args = build_parser().parse_args(argv)
        run = lambda: int(args.func(args) or 0)  # noqa: E731
    try:
        return run()
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
