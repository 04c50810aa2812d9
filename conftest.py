"""Command-line options shared by both test trees (``tests/`` and ``compare/``)."""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("tflite-refimpl")
    group.addoption(
        "--sweep", choices=("fast", "full"), default="fast",
        help="single-op sweep size in compare/test_sweep.py: 'fast' (seeded subset, the "
             "default) or 'full' (every grid point, 60 hypothesis draws per op and dtype)")
    group.addoption("--sweep-seed", type=int, default=0,
                    help="seed of the sweep's hypothesis draws (default 0)")
