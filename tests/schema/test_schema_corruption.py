"""Truncated and corrupted files: either they parse or they raise SchemaError, quickly.

The claim under test: for any bytes, ``read_model`` (and the accessors of a model it
returns) raises nothing but ``SchemaError`` subclasses, allocates nothing sized by an
unchecked field, and terminates fast even when offsets share structure.
"""

from __future__ import annotations

import random
import struct
import time

import flatbuffers
import numpy as np
import pytest
from _builder import INT8, Buf, Code, Op, Sig, T, build_model
from _corpus import all_corpus_models, corpus_file

from tflite_schema import (OPTIONS_BY_NAME, CorruptError, SchemaError, TruncatedError,
                           read_model)

SLOW_PARSE_SECONDS = 1.0  # generous: real parses of these files take milliseconds


def _hand_built() -> bytes:
    conv = OPTIONS_BY_NAME["Conv2DOptions"](stride_w=2, stride_h=2, padding=1)
    return build_model(
        tensors=[T("in", [1, 4, 4, 2], type=INT8, scale=[0.5], zero_point=[-1]),
                 T("w", [3, 1, 1, 2], type=INT8, buffer=1, scale=[0.1, 0.2, 0.3],
                   zero_point=[0, 0, 0]),
                 T("out", [1, 2, 2, 3], type=INT8, scale=[0.25], zero_point=[3],
                   shape_signature=[-1, 2, 2, 3])],
        ops=[Op(0, [0, 1, -1], [2], options_type=1, options=conv, custom_options=b"xyz")],
        codes=[Code(builtin_code=3, deprecated_builtin_code=3, version=2)],
        buffers=[Buf(), Buf(external=bytes(range(6)))],
        inputs=[0], outputs=[2], signatures=[Sig("serve", [("in", 0)], [("out", 2)])],
        metadata=[("meta", 1)])


def _parses_or_schema_error(data: bytes) -> bool:
    """True if it parsed (and every accessor worked), False on SchemaError."""
    start = time.perf_counter()
    try:
        model = read_model(data)
        for si, sg in enumerate(model.subgraphs):
            for t in sg.tensors:
                try:
                    model.tensor_data(si, t.index)
                except SchemaError:
                    pass
        for b in model.buffers:
            model.buffer_data(b.index)
        repr(model)
        return True
    except SchemaError:
        return False
    finally:
        assert time.perf_counter() - start < SLOW_PARSE_SECONDS


def _mutations(data: bytes, count: int, seed: int):
    """Seeded corruptions: bit flips, huge / zero / random words, random bytes."""
    rng = random.Random(seed)
    words = [b"\xff\xff\xff\x7f", b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\x00\x00\x00\x00"]
    for _ in range(count):
        d = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 5])):
            mode, pos = rng.randrange(4), rng.randrange(len(d) - 4)
            if mode == 0:
                d[pos] ^= 1 << rng.randrange(8)
            elif mode == 1:
                d[pos : pos + 4] = rng.choice(words + [rng.randbytes(4)])
            elif mode == 2:
                d[pos : pos + 2] = rng.randbytes(2)
            else:
                d[pos] = rng.randrange(256)
        yield bytes(d)


# -- truncation --------------------------------------------------------------------------


def test_every_truncation_of_a_hand_built_model():
    data = _hand_built()
    assert _parses_or_schema_error(data)
    assert not any(_parses_or_schema_error(data[:n]) for n in range(len(data)))


@pytest.mark.parametrize("rel", ["examples/hello_world/models/hello_world_int8.tflite",
                                 "examples/memory_footprint/models/simple_add_model.tflite"])
def test_every_truncation_of_a_small_corpus_model(rel):
    data = corpus_file(rel).read_bytes()
    for n in range(len(data)):
        _parses_or_schema_error(data[:n])


def test_strided_truncations_of_every_corpus_model():
    models = all_corpus_models()
    if not models:
        pytest.skip("corpus not found")
    for rel in models:
        data = corpus_file(rel).read_bytes()
        for n in sorted({*range(0, len(data), max(1, len(data) // 40)), len(data) - 1}):
            _parses_or_schema_error(data[:n])


# -- random corruption -------------------------------------------------------------------


def test_random_corruptions_of_a_hand_built_model():
    outcomes = [_parses_or_schema_error(d) for d in _mutations(_hand_built(), 400, seed=1)]
    assert 0 < sum(outcomes) < len(outcomes)  # some parse, some fail


@pytest.mark.parametrize("rel", [
    "examples/hello_world/models/hello_world_int8.tflite",
    "examples/mnist_lstm/trained_lstm_int8.tflite",
    "integration_tests/seanet/conv/conv0.tflite",
    "models/person_detect.tflite",
], ids=lambda r: r.rsplit("/", 1)[-1])
def test_random_corruptions_of_corpus_models(rel):
    data = corpus_file(rel).read_bytes()
    for mutated in _mutations(data, 150, seed=len(data)):
        _parses_or_schema_error(mutated)


# -- targeted corruptions ------------------------------------------------------------------


def test_huge_vector_length_names_table_and_field():
    data = bytearray(build_model(tensors=[T("a", [1]), T("x", [1111, 2222, 3333])]))
    length_at = data.index(struct.pack("<3i", 1111, 2222, 3333)) - 4
    data[length_at : length_at + 4] = struct.pack("<I", 0x7FFFFFFF)
    with pytest.raises(TruncatedError, match=r"^Model\.subgraphs\[0\]\.tensors\[1\]\.shape: "
                                             r"vector of 2147483647 int .*past the end of the "
                                             r"file \(size \d+\)"):
        read_model(bytes(data))


def test_vtable_before_start_of_file_is_corrupt_error():
    data = bytearray(build_model(tensors=[T("x", [1])]))
    root = struct.unpack_from("<I", data, 0)[0]
    struct.pack_into("<i", data, root, 0x7FFFFFF0)
    with pytest.raises(CorruptError, match=r"^Model: vtable size: position -\d+ is before"):
        read_model(bytes(data))


def test_field_outside_its_table_is_corrupt_error():
    data = bytearray(build_model(tensors=[T("x", [1])]))
    root = struct.unpack_from("<I", data, 0)[0]
    vtable = root - struct.unpack_from("<i", data, root)[0]
    struct.pack_into("<H", data, vtable + 4, 0xFFF0)  # slot 0: Model.version
    with pytest.raises(CorruptError, match=r"^Model\.version: field at offset 65520"):
        read_model(bytes(data))


def _shared_structure_bomb(n: int) -> bytes:
    """A model whose n tensors all point at one tensor with an n-element shape.

    Decoding it naively would read n * n shape entries from a file of ~8n bytes.
    """
    b = flatbuffers.Builder(16 * n)
    shape = b.CreateNumpyVector(np.ones(n, dtype=np.int32))
    b.StartObject(3)
    b.PrependUOffsetTRelativeSlot(0, shape, 0)
    tensor = b.EndObject()
    b.StartVector(4, n, 4)
    for _ in range(n):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    subgraph = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs = b.EndVector()
    b.StartObject(3)
    empty_buffer = b.EndObject()
    b.StartVector(4, 1, 4)
    b.PrependUOffsetTRelative(empty_buffer)
    buffers = b.EndVector()
    b.StartObject(5)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    b.PrependUOffsetTRelativeSlot(4, buffers, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_shared_structure_is_bounded_by_the_decoding_budget():
    data = _shared_structure_bomb(20_000)
    start = time.perf_counter()
    with pytest.raises(CorruptError, match="visited more than"):
        read_model(data)
    assert time.perf_counter() - start < SLOW_PARSE_SECONDS


def test_modest_sharing_is_accepted():
    tensors = read_model(_shared_structure_bomb(20)).subgraphs[0].tensors
    assert len(tensors) == 20 and all(t.shape == (1,) * 20 for t in tensors)
