"""Command line of the model zoo.

::

    python -m compare.zoo.build all [--model NAME ...] [--json FILE]   # build + report
    python -m compare.zoo.build list                                   # what exists
    python -m compare.zoo.build ops MODEL VARIANT                      # operators
    python -m compare.zoo.build tfmot-child DIR      # internal: tfmot variants (tf_keras)

``all`` builds every family that is not cached yet and prints one line per variant:
.tflite bytes, gzip -9 bytes, seconds (conversion, plus the fine-tune for tfmot
variants), or the reason a variant is unavailable. Progress goes to stderr.

This module imports no TensorFlow at import time, so ``tfmot-child`` can switch to
tf_keras (``TF_USE_LEGACY_KERAS=1``) before TensorFlow is first imported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict


def op_list(model: bytes) -> list[tuple[str, list[str]]]:
    """``[(subgraph name, [operator names in execution order])]``."""
    from tflite_schema import read_model

    parsed = read_model(model)
    return [(sg.name, [parsed.operator_codes[op.opcode_index].name for op in sg.operators])
            for sg in parsed.subgraphs]


def _all(args: argparse.Namespace) -> int:
    from compare.zoo.registry import build_all, format_report

    start = time.perf_counter()
    lines = build_all(models=args.model or None)
    total = time.perf_counter() - start
    print(format_report(lines))
    built = sum(line.status == "built" for line in lines)
    print(f"\n{built} built, {len(lines) - built} unavailable, {total:.1f} s in total")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"seconds": round(total, 1), "variants": [asdict(x) for x in lines]},
                      handle, indent=1)
    return 0


def _list(_: argparse.Namespace) -> int:
    from compare.zoo.registry import ZOO

    for model in ZOO.values():
        print(f"{model.name}: {model.description} [{model.task}]")
        for variant in model.variants.values():
            flag = " (unavailable)" if variant.known_unavailable else ""
            print(f"    {variant.name:<24} {variant.origin:<18} {variant.description}{flag}")
    return 0


def _ops(args: argparse.Namespace) -> int:
    from compare.zoo.registry import zoo_model

    for name, ops in op_list(zoo_model(args.model, args.variant)):
        print(f"{name}: {' '.join(ops)}")
    return 0


def _tfmot_child(args: argparse.Namespace) -> int:
    from compare.zoo.tfmot_variants import run_child

    run_child(args.directory)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compare.zoo.build",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    every = sub.add_parser("all", help="build every variant and print a report")
    every.add_argument("--model", action="append", help="only this model (repeatable)")
    every.add_argument("--json", help="also write the report as JSON to this file")
    every.set_defaults(run=_all)
    sub.add_parser("list", help="list models and variants").set_defaults(run=_list)
    ops = sub.add_parser("ops", help="operators of one variant")
    ops.add_argument("model")
    ops.add_argument("variant")
    ops.set_defaults(run=_ops)
    child = sub.add_parser("tfmot-child", help=argparse.SUPPRESS)
    child.add_argument("directory")
    child.set_defaults(run=_tfmot_child)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
