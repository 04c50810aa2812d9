"""Converter modes of the zoo: which converter settings each mode applies (no TF)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from compare.zoo import converters

INT16X8 = "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"


def _fake_tf():
    """Just enough of ``tf`` for :func:`converters.configure`: enums as strings."""
    ops_set = SimpleNamespace(TFLITE_BUILTINS_INT8="BUILTINS_INT8", **{INT16X8: "INT16X8"})
    return SimpleNamespace(lite=SimpleNamespace(Optimize=SimpleNamespace(DEFAULT="DEFAULT"),
                                                OpsSet=ops_set),
                           float16="f16", int8="i8", uint8="u8", int16="i16")


def _configured(mode, representative=lambda: iter(())):
    converter = SimpleNamespace(target_spec=SimpleNamespace())
    converters.configure(_fake_tf(), converter, mode, representative)
    return converter


def _settings(converter):
    spec = vars(converter.target_spec)
    return (getattr(converter, "optimizations", None), spec.get("supported_ops"),
            spec.get("supported_types"), getattr(converter, "inference_input_type", None),
            getattr(converter, "inference_output_type", None),
            hasattr(converter, "representative_dataset"))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("float32", (None, None, None, None, None, False)),
        ("dynamic", (["DEFAULT"], None, None, None, None, False)),
        ("float16", (["DEFAULT"], None, ["f16"], None, None, False)),
        ("int8", (["DEFAULT"], ["BUILTINS_INT8"], None, "i8", "i8", True)),
        ("int8_float_io", (["DEFAULT"], ["BUILTINS_INT8"], None, None, None, True)),
        ("int8_uint8_io", (["DEFAULT"], ["BUILTINS_INT8"], None, "u8", "u8", True)),
        ("int16x8", (["DEFAULT"], ["INT16X8"], None, "i16", "i16", True)),
        ("int16x8_float_io", (["DEFAULT"], ["INT16X8"], None, None, None, True)),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_mode_sets_exactly_its_converter_options(mode, expected):
    assert _settings(_configured(mode)) == expected


def test_modes_table_and_all_modes_agree():
    assert converters.ALL_MODES == tuple(converters.CONVERTER_MODES)
    assert [m for m in converters.ALL_MODES
            if converters.CONVERTER_MODES[m].needs_representative] == \
        ["int8", "int8_float_io", "int8_uint8_io", "int16x8", "int16x8_float_io"]


def test_dynamic_range_mode_ignores_representative_data():
    # Dynamic range means *no* representative dataset: giving one must not turn it on.
    assert not hasattr(_configured("dynamic"), "representative_dataset")


def test_full_integer_mode_without_representative_data_is_an_error():
    with pytest.raises(ValueError, match="needs representative data"):
        _configured("int8", representative=None)


def test_unknown_mode_is_an_error_listing_the_modes():
    with pytest.raises(ValueError, match="unknown mode 'int4'.*float32"):
        _configured("int4")


def test_single_input_samples_feed_one_float32_sample_per_batch():
    samples = np.arange(6, dtype=np.float64).reshape(3, 2)
    batches = list(converters.single_input_samples(samples)())
    assert len(batches) == 3
    assert all(len(b) == 1 and b[0].shape == (1, 2) and b[0].dtype == np.float32
               for b in batches)
    np.testing.assert_array_equal(batches[2][0], [[4.0, 5.0]])


def test_signature_samples_feed_every_signature_by_input_name():
    samples = np.zeros((2, 3), np.float32)
    fed = list(converters.signature_samples(samples, {"a": "image", "b": "x"})())
    assert [key for key, _ in fed] == ["a", "b", "a", "b"]
    assert set(fed[1][1]) == {"x"} and fed[1][1]["x"].shape == (1, 3)
