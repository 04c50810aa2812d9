"""The refimpl command line: inspect, run (atomic, never overwriting), errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from refimpl.cli import main

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
HELLO_INT8 = CORPUS / "examples" / "hello_world" / "models" / "hello_world_int8.tflite"


@pytest.fixture
def hello() -> Path:
    if not HELLO_INT8.exists():
        pytest.skip("../shared/corpus absent")
    return HELLO_INT8


def test_inspect_lists_ops_tensors_and_quantization(hello, capsys):
    assert main(["inspect", str(hello)]) == 0
    out = capsys.readouterr().out
    assert "FULLY_CONNECTED" in out
    assert "INT8" in out and "zp=" in out
    assert "per-axis" not in out or "axis=" in out


def test_run_quantizes_float_input_and_writes_output(hello, tmp_path, capsys):
    x = np.array([[0.0], [1.5]], np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "y.npy"
    assert main(["run", str(hello), "--input", str(tmp_path / "x.npy"), "--quantize",
                 "--output", str(out)]) == 0
    y = np.load(out)
    assert y.dtype == np.int8 and y.shape == (2, 1)
    # a second run must not overwrite the file unless asked
    before = out.read_bytes()
    assert main(["run", str(hello), "--input", str(tmp_path / "x.npy"), "--quantize",
                 "--output", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["run", str(hello), "--input", str(tmp_path / "x.npy"), "--quantize",
                 "--output", str(out), "--force"]) == 0
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind


def test_run_rejects_float_data_for_an_int_model_without_quantize(hello, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((1, 1), np.float32))
    assert main(["run", str(hello), "--input", str(tmp_path / "x.npy")]) == 2
    assert "expects int8" in capsys.readouterr().err


def test_corrupt_model_is_reported_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x10\x00\x00\x00TFL3" + bytes(40))
    np.save(tmp_path / "x.npy", np.zeros((1, 1), np.float32))
    assert main(["run", str(bad), "--input", str(tmp_path / "x.npy")]) == 2
    assert "cannot read model" in capsys.readouterr().err


def test_inspect_of_a_corrupt_model_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x10\x00\x00\x00TFL3" + bytes(40))
    assert main(["inspect", str(bad)]) == 2
    assert "cannot read model" in capsys.readouterr().err


def test_explain_with_a_bad_index_is_reported_not_a_traceback(hello, capsys):
    # hello_world's node 0 is FULLY_CONNECTED with output [1, 16]: [0, 99] is outside it
    assert main(["explain", str(hello), "--node", "0", "--index", "0,99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("refimpl: error:") and "outside output shape" in err
    assert main(["explain", str(hello), "--node", "42", "--index", "0"]) == 2
    assert "refimpl: error:" in capsys.readouterr().err
