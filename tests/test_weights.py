"""refimpl.weights on hand-built models: zeros, unique counts per tensor and per channel."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from refimpl.weights import weight_stats

_spec = importlib.util.spec_from_file_location(
    "_tflite_builder_w", Path(__file__).parent / "schema" / "_builder.py")
builder = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = builder
_spec.loader.exec_module(builder)


def fc_model(w: np.ndarray) -> bytes:
    return builder.build_model(
        tensors=[builder.T("x", [1, w.shape[1]], builder.INT8, scale=[0.1], zero_point=[0]),
                 builder.T("w", list(w.shape), builder.INT8, buffer=1,
                           scale=[0.5] * w.shape[0], zero_point=[0] * w.shape[0]),
                 builder.T("y", [1, w.shape[0]], builder.INT8, scale=[0.2], zero_point=[0])],
        ops=[builder.Op(0, [0, 1, -1], [2])],
        codes=[builder.Code(builtin_code=9, version=4)],  # FULLY_CONNECTED
        buffers=[builder.Buf(), builder.Buf(data=w.astype(np.int8).tobytes())],
        inputs=[0], outputs=[2],
    )


def test_zero_fraction_and_unique_counts():
    # channel 0 holds {0, 3}, channel 1 holds {0, 1, 2}: tensor {0, 1, 2, 3}
    w = np.array([[0, 3, 0, 3], [0, 1, 2, 0]], np.int8)
    (s,) = weight_stats(fc_model(w))
    assert s.op == "FULLY_CONNECTED" and s.name == "w" and s.shape == (2, 4)
    assert s.zeros == 4 / 8
    assert s.unique == 4 and s.unique_per_channel_max == 3
    assert s.lut_bits_tensor == 2 and s.lut_bits_channel == 2
    assert s.bytes == 8 and s.gzip_bytes > 0


def test_clustered_channels_need_fewer_lut_bits_than_the_tensor():
    # 16 values per channel, but each channel its own 16: 32 per tensor (per-channel scales)
    w = np.stack([np.arange(16).repeat(4), -np.arange(1, 17).repeat(4)]).astype(np.int8)
    (s,) = weight_stats(fc_model(w))
    assert s.unique_per_channel_max == 16 and s.unique == 32
    assert s.lut_bits_channel == 4 and s.lut_bits_tensor == 5
