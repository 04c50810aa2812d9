"""PAD / PADV2: pad values per type, paddings validation."""

from __future__ import annotations

import numpy as np
import pytest

from _op_builders import ctx, run, tensor
from refimpl.errors import OpError, UnsupportedOpError
from refimpl.kernels.pad import PAD, PADV2

I8, U8, I16, F32 = np.int8, np.uint8, np.int16, np.float32


def paddings(values, dtype=np.int32):
    v = np.asarray(values)
    return tensor(dtype, list(v.shape), data=v, name="paddings")


def test_float_pad_with_zero_nhwc():
    c = ctx("PAD", [tensor(F32, [1, 2, 2, 1]), paddings([[0, 0], [1, 0], [0, 1], [0, 0]])],
            [tensor(F32, [1, 3, 3, 1])])  # fmt: skip
    got = run(PAD, c, [1, 2, 3, 4], None)[0]
    assert got.shape == (1, 3, 3, 1)
    assert got[0, :, :, 0].tolist() == [[0, 0, 0], [1, 2, 0], [3, 4, 0]]


def test_quantized_pad_uses_output_zero_point():
    c = ctx("PAD", [tensor(I8, [2], 0.1, -7), paddings([[2, 1]])], [tensor(I8, [5], 0.1, -7)])
    assert run(PAD, c, [5, 6], None)[0].tolist() == [-7, -7, 5, 6, -7]


def test_uint8_pad_uses_output_zero_point():
    inp, out = tensor(U8, [1], 0.1, 128), tensor(U8, [3], 0.1, 128)
    c = ctx("PAD", [inp, paddings([[1, 1]], np.int64)], [out])
    assert run(PAD, c, [9], None)[0].tolist() == [128, 9, 128]


def test_int16_and_batch_padding():
    inp, out = tensor(I16, [1, 2], 2.0**-10, 0), tensor(I16, [2, 2], 2.0**-10, 0)
    c = ctx("PAD", [inp, paddings([[1, 0], [0, 0]])], [out])
    assert run(PAD, c, [[3, 4]], None)[0].tolist() == [[0, 0], [3, 4]]


def test_padv2_float_constant():
    const = tensor(F32, [1], data=[-1.5], name="value")
    c = ctx("PADV2", [tensor(F32, [2]), paddings([[1, 2]]), const], [tensor(F32, [5])])
    assert run(PADV2, c, [1, 2], None, None)[0].tolist() == [-1.5, 1, 2, -1.5, -1.5]


def test_padv2_quantized_constant_is_the_raw_code():
    const = tensor(I8, [], 0.1, -7, data=100, name="value")
    inp, out = tensor(I8, [1], 0.1, -7), tensor(I8, [2], 0.1, -7)
    c = ctx("PADV2", [inp, paddings([[0, 1]]), const], [out])
    assert run(PADV2, c, [3], None, None)[0].tolist() == [3, 100]


def test_padv2_constant_with_other_quantization_is_error():
    const = tensor(I8, [], 0.2, -7, data=100, name="value")
    inp, out = tensor(I8, [1], 0.1, -7), tensor(I8, [2], 0.1, -7)
    c = ctx("PADV2", [inp, paddings([[0, 1]]), const], [out])
    with pytest.raises(OpError, match=r"node 7 \(PADV2\).*constant_values"):
        PADV2.prepare(c)


def test_negative_padding_is_error():
    c = ctx("PAD", [tensor(F32, [3]), paddings([[-1, 0]])], [tensor(F32, [2])])
    with pytest.raises(OpError, match=">= 0"):
        PAD.prepare(c)


def test_paddings_shape_must_match_rank():
    c = ctx("PAD", [tensor(F32, [2, 2]), paddings([[1, 1]])], [tensor(F32, [4, 2])])
    with pytest.raises(OpError, match=r"shape \[2, 2\]"):
        PAD.prepare(c)


def test_rank_6_is_unsupported():
    c = ctx("PAD", [tensor(F32, [1] * 6), paddings([[0, 0]] * 6)], [tensor(F32, [1] * 6)])
    with pytest.raises(UnsupportedOpError, match="rank"):
        PAD.prepare(c)


def test_runtime_paddings_are_unsupported():
    c = ctx("PAD", [tensor(F32, [2]), tensor(np.int32, [1, 2])], [tensor(F32, [4])])
    with pytest.raises(UnsupportedOpError, match="paddings"):
        PAD.prepare(c)
