"""Post-training pruning / clustering of .tflite weights, the size audit, and their CLI.

Golden values are hand arithmetic on tiny hand-built models (shown next to each test);
the runtime checks on real models (LiteRT, TFLM) are in compare/test_compression.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tflite_schema as tfs
from refimpl import Interpreter
from refimpl.cli import main
from refimpl.compress.audit import audit_model, block_pattern, lut_bits, plot_histograms
from refimpl.compress.tflite import (cluster_model, find_weights, parse_block, parse_m_by_n,
                                     prune_model)

STRIDES = {"stride_w": 1, "stride_h": 1, "dilation_w_factor": 1, "dilation_h_factor": 1}
PERSON_DETECT = (Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "tflm"
                 / "models" / "person_detect.tflite")


# --------------------------------------------------------------------------------------
# Hand-built models
# --------------------------------------------------------------------------------------
def fc_float(weights, *, bias: bool = True) -> bytes:
    """x [1, in] float32 -> FULLY_CONNECTED(weights [out, in], bias) -> y [1, out]."""
    w = np.asarray(weights, np.float32)
    mb = tfs.ModelBuilder()
    x = mb.add_tensor("x", [1, w.shape[1]], "float32")
    wt = mb.add_tensor("w", data=w)
    b = mb.add_tensor("b", data=np.arange(w.shape[0], dtype=np.float32)) if bias else None
    y = mb.add_tensor("y", [1, w.shape[0]], "float32")
    mb.add_operator("FULLY_CONNECTED", [x, wt, b], [y])
    mb.set_inputs([x])
    mb.set_outputs([y])
    return mb.to_bytes()


def fc_int8(q, scales, *, zero_point=0, dtype="int8") -> bytes:
    """int8 FC with per-channel weight scales (bias scale = in_scale * w_scale)."""
    q = np.asarray(q)
    scales = np.asarray(scales, np.float32)
    mb = tfs.ModelBuilder()
    x = mb.add_tensor("x", [1, q.shape[1]], "int8", scale=0.5, zero_point=-1)
    wt = mb.add_tensor("w", q.shape, dtype, q, scale=scales,
                       zero_point=[zero_point] * scales.size)
    b = mb.add_tensor("b", [q.shape[0]], "int32", np.arange(q.shape[0]) * 7,
                      scale=0.5 * scales, zero_point=[0] * scales.size)
    y = mb.add_tensor("y", [1, q.shape[0]], "int8", scale=4.0, zero_point=3)
    mb.add_operator("FULLY_CONNECTED", [x, wt, b], [y])
    mb.set_inputs([x])
    mb.set_outputs([y])
    return mb.to_bytes()


def mixed_float(seed: int = 0) -> bytes:
    """x [1,4,4,2] -> CONV_2D 1x1 (3 out) -> DEPTHWISE 2x2 -> FC (27 -> 2), float32.

    The FC weights are also used by a second FC (shared tensor)."""
    rng = np.random.default_rng(seed)
    mb = tfs.ModelBuilder()
    x = mb.add_tensor("x", [1, 4, 4, 2], "float32")
    cw = mb.add_tensor("conv/w", data=rng.normal(size=(3, 1, 1, 2)).astype(np.float32))
    cb = mb.add_tensor("conv/b", data=np.ones(3, np.float32))
    c = mb.add_tensor("conv/y", [1, 4, 4, 3], "float32")
    mb.add_operator("CONV_2D", [x, cw, cb], [c], {"padding": 1, **STRIDES})
    dw = mb.add_tensor("dw/w", data=rng.normal(size=(1, 2, 2, 3)).astype(np.float32))
    db = mb.add_tensor("dw/b", data=np.zeros(3, np.float32))
    d = mb.add_tensor("dw/y", [1, 3, 3, 3], "float32")
    mb.add_operator("DEPTHWISE_CONV_2D", [c, dw, db], [d],
                    {"padding": 1, "depth_multiplier": 1, **STRIDES})
    fw = mb.add_tensor("fc/w", data=rng.normal(size=(2, 27)).astype(np.float32))
    y = mb.add_tensor("y", [1, 2], "float32")
    mb.add_operator("FULLY_CONNECTED", [d, fw, None], [y])
    y2 = mb.add_tensor("y2", [1, 2], "float32")
    mb.add_operator("FULLY_CONNECTED", [d, fw, None], [y2])
    mb.set_inputs([x])
    mb.set_outputs([y, y2])
    return mb.to_bytes()


def weights_of(model: bytes, name: str = "w") -> np.ndarray:
    spec = tfs.model_to_spec(model)
    index = next(i for i, t in enumerate(spec.subgraphs[0].tensors) if t.name == name)
    return spec.tensor_data(0, index)


# --------------------------------------------------------------------------------------
# Which tensors
# --------------------------------------------------------------------------------------
def test_weights_follow_tfmot_registry_no_bias_no_depthwise_shared_once():
    spec = tfs.model_to_spec(mixed_float())
    names = [t.name for t in find_weights(spec)]
    assert names == ["conv/w", "fc/w"]  # fc/w serves two ops: listed once
    with_dw = [t.name for t in find_weights(spec, include_depthwise=True)]
    assert with_dw == ["conv/w", "dw/w", "fc/w"]
    assert [t.name for t in find_weights(spec, ops=["FULLY_CONNECTED"])] == ["fc/w"]


def test_unknown_op_filter_is_an_error():
    with pytest.raises(ValueError, match="no weights"):
        find_weights(tfs.model_to_spec(mixed_float()), ops=["ADD"])


def test_float16_weights_are_followed_through_dequantize():
    mb = tfs.ModelBuilder()
    x = mb.add_tensor("x", [1, 4], "float32")
    w16 = mb.add_tensor("w16", data=np.array([[1, -2, 3, -4], [0.5, 6, -7, 8]], np.float16))
    w = mb.add_tensor("w", [2, 4], "float32")
    mb.add_operator("DEQUANTIZE", [w16], [w])
    y = mb.add_tensor("y", [1, 2], "float32")
    mb.add_operator("FULLY_CONNECTED", [x, w, None], [y])
    mb.set_inputs([x])
    mb.set_outputs([y])
    result = prune_model(mb.to_bytes(), 0.5)
    # |w| sorted: 8 7 6 4 | 3 2 1 0.5 -> keep 4, threshold 4
    np.testing.assert_array_equal(weights_of(result.model, "w16"),
                                  np.array([[0, 0, 0, -4], [0, 6, -7, 8]], np.float16))
    assert result.changes[0].dtype == "float16"


@pytest.mark.parametrize("dtype,zero_point,reason", [
    ("int8", 5, "asymmetric"), ("uint8", 128, "UINT8 weights are not supported")],
    ids=["int8-asymmetric", "uint8"])
def test_unsupported_weight_types_are_skipped_with_a_reason(dtype, zero_point, reason):
    model = fc_int8([[1, 2, 3, 4], [5, 6, 7, 8]], [0.1, 0.2], zero_point=zero_point,
                    dtype=dtype)
    result = prune_model(model, 0.5)
    assert result.changes[0].action == "skipped"
    assert reason in result.changes[0].reason
    np.testing.assert_array_equal(weights_of(result.model), weights_of(model))


# --------------------------------------------------------------------------------------
# Pruning
# --------------------------------------------------------------------------------------
def test_float_prune_keeps_the_k_largest_magnitudes_of_the_whole_tensor():
    w = [[0.1, -0.5, 0.3, -0.2], [0.05, 0.6, -0.4, 0.0]]
    result = prune_model(fc_float(w), 0.5)
    # n = 8, k = round(8 * 0.5) = 4: |w| 0.6 0.5 0.4 0.3 kept, threshold 0.3
    np.testing.assert_array_equal(weights_of(result.model),
                                  np.array([[0, -0.5, 0.3, 0], [0, 0.6, -0.4, 0]], np.float32))
    assert not np.signbit(weights_of(result.model)[0, 0])  # +0.0, never -0.0
    assert weights_of(result.model, "b").tolist() == [0.0, 1.0]  # bias untouched


def test_int8_prune_ranks_real_values_not_stored_integers():
    # ch0 scale 1: real 1 2 3 4; ch1 scale 0.01: real 1.00 1.10 1.20 1.27
    model = fc_int8([[1, 2, 3, 4], [100, 110, 120, 127]], [1.0, 0.01])
    result = prune_model(model, 0.5)
    # keep 4 of 8 real magnitudes: 4 3 2 1.27 (threshold 1.27)
    np.testing.assert_array_equal(weights_of(result.model), [[0, 2, 3, 4], [0, 0, 0, 127]])
    before, after = tfs.read_model(model), tfs.read_model(result.model)
    for t0, t1 in zip(before.subgraphs[0].tensors, after.subgraphs[0].tensors):
        assert (t0.quantization is None) == (t1.quantization is None)
        if t0.quantization is not None:
            np.testing.assert_array_equal(t0.quantization.scale, t1.quantization.scale)
            np.testing.assert_array_equal(t0.quantization.zero_point,
                                          t1.quantization.zero_point)


def test_two_four_groups_run_along_input_channels_lower_index_wins_ties():
    w = [[1, -4, 3, 2, 5, 0.5, -6, 7], [1, 1, 1, 1, 2, -2, 1, 1]]
    result = prune_model(fc_float(w), 0.5, m_by_n=(2, 4))
    expected = [[0, -4, 3, 0, 0, 0, -6, 7], [1, 1, 0, 0, 2, -2, 0, 0]]
    np.testing.assert_array_equal(weights_of(result.model), np.array(expected, np.float32))


def test_block_mask_uses_the_keras_in_out_kernel():
    # TFLite [out, in] = [[1, 3], [8, 9], [1, -1], [6, 2]] -> Keras (in, out) rows
    # [1, 8, 1, 6] and [3, 9, -1, 2]; 1x2 blocks along the outputs average
    # 4.5 3.5 / 6 1.5 -> keep 2 of 4 blocks (threshold 4.5): outputs 0 and 1.
    w = [[1, 3], [8, 9], [1, -1], [6, 2]]
    result = prune_model(fc_float(w), 0.5, block_size=(1, 2))
    np.testing.assert_array_equal(weights_of(result.model),
                                  np.array([[1, 3], [8, 9], [0, 0], [0, 0]], np.float32))


def test_block_pruning_of_a_conv_kernel_is_refused_like_tfmot():
    with pytest.raises(ValueError, match="--ops FULLY_CONNECTED"):
        prune_model(mixed_float(), 0.5, block_size=(1, 4))
    result = prune_model(mixed_float(), 0.5, block_size=(3, 1), ops=["FULLY_CONNECTED"])
    assert [c.name for c in result.changes] == ["fc/w"]


@pytest.mark.parametrize("text,value", [("1x4", (1, 4)), ("2X2", (2, 2)), (None, (1, 1))])
def test_parse_block(text, value):
    assert parse_block(text) == value


@pytest.mark.parametrize("text", ["2:2", "0:4", "x"])
def test_parse_m_by_n_rejects_bad_patterns(text):
    with pytest.raises(ValueError):
        parse_m_by_n(text)


def test_rewritten_model_keeps_every_other_byte_and_runs():
    model = mixed_float()
    result = prune_model(model, 0.5)
    a, b = tfs.model_to_spec(model), tfs.model_to_spec(result.model)
    for t0, t1 in zip(a.subgraphs[0].tensors, b.subgraphs[0].tensors):
        if t0.name not in ("conv/w", "fc/w"):
            assert a.buffers[t0.buffer].data == b.buffers[t1.buffer].data, t0.name
    x = np.random.default_rng(1).normal(size=(1, 4, 4, 2)).astype(np.float32)
    y, y2 = Interpreter(model_content=result.model).run(x)
    np.testing.assert_array_equal(y, y2)  # the shared FC weights were rewritten once


# --------------------------------------------------------------------------------------
# Clustering
# --------------------------------------------------------------------------------------
def test_int8_per_channel_clusters_integers_and_rounds_half_away():
    # LINEAR k=2 per channel, then Lloyd: ch0 [0,1,9,10] -> means 0.5, 9.5 -> 1, 10;
    # ch1 [-10,-9,-1,0] -> means -9.5, -0.5 -> -10, -1 (ties away from zero).
    model = fc_int8([[0, 1, 9, 10], [-10, -9, -1, 0]], [0.1, 0.2])
    result = cluster_model(model, 2, per_channel=True, init="linear", lloyd_iterations=10)
    np.testing.assert_array_equal(weights_of(result.model), [[1, 1, 10, 10], [-10, -10, -1, -1]])
    assert result.changes[0].unique_per_channel_after == 2


def test_int8_per_tensor_clusters_real_values_and_counts_clamped_values():
    # real: ch0 (scale 1) -100 -50 50 100; ch1 (scale 0.01) -1.27 -0.01 0.01 1.27.
    # LINEAR k=2 per tensor: centroids -100, 100; ch1 -> +-100 / 0.01 -> clamped to +-127.
    model = fc_int8([[-100, -50, 50, 100], [-127, -1, 1, 127]], [1.0, 0.01])
    result = cluster_model(model, 2, init="linear")
    np.testing.assert_array_equal(weights_of(result.model),
                                  [[-100, -100, 100, 100], [-127, -127, 127, 127]])
    assert result.changes[0].clamped == 4


def test_float_clustering_with_sparsity_preservation_keeps_zeros():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 40)).astype(np.float32)
    w[:, ::2] = 0.0
    result = cluster_model(fc_float(w), 5, preserve_sparsity=True, lloyd_iterations=5)
    new = weights_of(result.model)
    assert np.all(new[w == 0] == 0)  # pruned zeros stay; near-zero weights may join them
    assert np.unique(new).size <= 5 and 0.0 in new


@pytest.mark.parametrize("init", ["kmeans++", "linear", "density", "random"])
def test_each_initialisation_gives_at_most_k_values(init):
    w = np.random.default_rng(4).normal(size=(8, 30)).astype(np.float32)
    result = cluster_model(fc_float(w), 6, init=init, seed=1)
    assert np.unique(weights_of(result.model)).size <= 6
    assert result.changes[0].action == "clustered"


def test_tensors_with_too_few_weights_are_skipped_like_tfmot():
    w = [[1, 2, 3, 4], [5, 6, 7, 8]]  # 8 weights <= 16 clusters
    result = cluster_model(fc_float(w), 16)
    assert result.changes[0].action == "skipped"
    assert "tfmot's skip rule" in result.changes[0].reason
    np.testing.assert_array_equal(weights_of(result.model), np.array(w, np.float32))


@pytest.mark.parametrize("clusters", [1, 2.5, True])
def test_bad_cluster_counts_are_errors(clusters):
    with pytest.raises(ValueError):
        cluster_model(fc_float(np.ones((2, 30))), clusters)


# --------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("unique,bits", [(1, 1), (2, 1), (3, 2), (16, 4), (17, 5), (128, 7),
                                         (129, 8)])
def test_lut_bits_is_the_tflm_index_width(unique, bits):
    assert lut_bits(unique) == bits
    assert lut_bits(unique) == max(1, (unique - 1).bit_length())  # the compressor's rule


def test_block_pattern_detects_aligned_zero_blocks():
    k = np.arange(1, 33, dtype=np.float32).reshape(8, 4)
    k[:, 0:2] = 0  # 1x2 blocks in every row
    assert block_pattern(k) == "8x1"  # the largest shape whose zero blocks hold the zeros
    k = np.arange(1, 33, dtype=np.float32).reshape(8, 4)
    k[0, 0:4] = 0
    k[5, 0:4] = 0
    assert block_pattern(k) == "1x4"
    scattered = np.ones((8, 8), np.float32)
    scattered[np.arange(8), np.arange(8)] = 0
    assert block_pattern(scattered) is None


def test_audit_reports_zeros_patterns_uniques_lut_and_bytes():
    w = [[0, 1, 2, 0, 3, 0, 0, 4], [5, 0, 0, 6, 0, 0, 7, 7]]
    model = fc_int8(w, [0.1, 0.2])
    audit = audit_model(model, "hand")
    [t] = audit.weights
    assert t.name == "w" and t.zeros == 8 / 16
    assert t.two_four is True          # every 4 input weights hold <= 2 non-zeros
    assert t.unique == 8 and (t.unique_per_channel_min, t.unique_per_channel_max) == (4, 5)
    assert (t.lut_bits_tensor, t.lut_bits_channel) == (3, 3)
    assert t.lut_mode == "per channel"  # per-channel scales: what TFLM's kernel reads
    assert t.lut_bytes == 6 + 16 + 2 * 5  # 16 x 3 bits, DCM, 2 tables of 5 int8
    assert t.bytes == 16 and audit.model_bytes == len(model)
    assert {b.index for b in audit.buffers} >= {t.buffer}
    doc = json.loads(audit.to_json())
    assert doc["weights"][0]["name"] == "w"
    assert "| w | FULLY_CONNECTED | int8 | 2x8 | 50.0% |" in audit.to_markdown()


def test_histogram_png_of_a_tensor_before_and_after():
    pytest.importorskip("matplotlib")
    model = mixed_float()
    png = plot_histograms([("before", model), ("after", prune_model(model).model)], "fc/w")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------
@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "m.tflite"
    path.write_bytes(mixed_float())
    return path


def test_cli_prune_writes_once_and_never_overwrites_the_input(model_file, tmp_path, capsys):
    out = tmp_path / "pruned.tflite"
    assert main(["prune", str(model_file), "--sparsity", "0.5", "-o", str(out)]) == 0
    assert "pruned" in capsys.readouterr().out
    first = out.read_bytes()
    assert main(["prune", str(model_file), "--sparsity", "0.8", "-o", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_bytes() == first
    assert main(["prune", str(model_file), "--sparsity", "0.8", "-o", str(out),
                 "--force"]) == 0
    assert out.read_bytes() != first
    original = model_file.read_bytes()
    assert main(["prune", str(model_file), "-o", str(model_file), "--force"]) == 2
    assert "input" in capsys.readouterr().err and model_file.read_bytes() == original
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_cli_prune_m_by_n_and_block_are_exclusive(model_file, tmp_path):
    with pytest.raises(SystemExit):
        main(["prune", str(model_file), "--block", "1x4", "--m-by-n", "2:4",
              "-o", str(tmp_path / "x.tflite")])


def test_cli_block_on_a_conv_is_a_clean_error(model_file, tmp_path, capsys):
    assert main(["prune", str(model_file), "--block", "1x4", "-o",
                 str(tmp_path / "x.tflite")]) == 2
    assert "FULLY_CONNECTED" in capsys.readouterr().err
    assert not (tmp_path / "x.tflite").exists()


def test_cli_cluster_and_sizes(model_file, tmp_path, capsys):
    out = tmp_path / "c.tflite"
    assert main(["cluster", str(model_file), "--clusters", "4", "--init", "linear",
                 "--include-depthwise", "-o", str(out)]) == 0
    assert "clustered" in capsys.readouterr().out
    assert main(["sizes", str(out), "--before", str(model_file), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    after = {w["name"]: w for w in doc["after"]["weights"]}
    assert after["fc/w"]["unique"] <= 4 and doc["before"]["model_bytes"] > 0
    assert main(["sizes", str(out)]) == 0
    assert "### weight tensors" in capsys.readouterr().out


def test_cli_sizes_plot(model_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "p.tflite"
    assert main(["prune", str(model_file), "-o", str(out)]) == 0
    png = tmp_path / "h.png"
    assert main(["sizes", str(out), "--before", str(model_file), "--plot-tensor", "fc/w",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["sizes", str(out), "--plot-tensor", "nope", "--plot",
                 str(tmp_path / "n.png")]) == 2
    assert "0 tensors match" in capsys.readouterr().err


def test_cli_on_person_detect(tmp_path, capsys):
    if not PERSON_DETECT.exists():
        pytest.skip("../shared/corpus absent")
    pruned, clustered = tmp_path / "p.tflite", tmp_path / "c.tflite"
    assert main(["prune", str(PERSON_DETECT), "-o", str(pruned)]) == 0
    assert main(["cluster", str(PERSON_DETECT), "--per-channel", "--clusters", "8",
                 "-o", str(clustered)]) == 0
    for path in (pruned, clustered):
        Interpreter(model_path=str(path))  # prepares every op
    audit = audit_model(pruned.read_bytes())
    pointwise = [w for w in audit.weights if w.op == "CONV_2D"]
    assert pointwise and all(abs(w.zeros - 0.5) < 0.01 for w in pointwise)
    assert all(w.zeros < 0.1 for w in audit.weights if w.op == "DEPTHWISE_CONV_2D")
