"""UNIDIRECTIONAL_SEQUENCE_LSTM: hand-checkable cases, state, layouts, errors, the 16-bit
fixed-point and float32 helpers it relies on, and the real runtimes (when installed).

Golden values: hand arithmetic (saturated gates make every float exactly 0 or 1), the C
library (glibc ``tanhf``), upstream's published table, or LiteRT / TFLM themselves.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np
import pytest

import refimpl
from refimpl import arithmetic as ar
from refimpl import fixedpoint as fp
from refimpl.errors import OpError, UnsupportedOpError
from tflite_schema import ModelBuilder
from tflite_schema.options import UnidirectionalSequenceLSTMOptions

from compare.dev_check_lstm import CORPUS, Config, build, corpus_images, sample

FLAVORS = ["tflite-ref", "tflm"]
TANH_1 = 0.7615941559557649  # tanh(1)
ULP_BELOW_1 = 2.0**-24


# --------------------------------------------------------------------------------------
# A one-unit float LSTM with one input, written out by hand
# --------------------------------------------------------------------------------------
def one_unit_model(w: dict[str, float], b: dict[str, float], steps: int = 1,
                   cell_clip: float = 0.0) -> bytes:
    """input [1, steps, 1]; gate g = act(w[g] * x + b[g]) (recurrent weights 0)."""
    mb = ModelBuilder()
    x = mb.add_tensor("x", [1, steps, 1], "float32")
    ins: list = [x] + [None] * 23
    for k, g in enumerate("ifco"):
        ins[1 + k] = mb.add_tensor(f"w_{g}", data=np.full((1, 1), w[g], np.float32))
        ins[5 + k] = mb.add_tensor(f"r_{g}", data=np.zeros((1, 1), np.float32))
        ins[12 + k] = mb.add_tensor(f"b_{g}", data=np.full(1, b[g], np.float32))
    ins[18] = mb.add_tensor("h", [1, 1], "float32", is_variable=True)
    ins[19] = mb.add_tensor("c", [1, 1], "float32", is_variable=True)
    y = mb.add_tensor("y", [1, steps, 1], "float32")
    mb.add_operator("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [y], UnidirectionalSequenceLSTMOptions(
        fused_activation_function=4, cell_clip=cell_clip))
    mb.set_inputs([x])
    mb.set_outputs([y])
    return mb.to_bytes()


# Input 0 opens the input gate and closes the forget gate; input 1 does the opposite.
# +-300 saturates every sigmoid to exactly 0 or 1 in both runtimes (LiteRT's Eigen
# logistic returns 0 below -104 and 1 from 16.64; TFLM's expf(-300) underflows to 0).
SWITCH_W = {"i": -600.0, "f": 600.0, "c": 0.0, "o": 0.0}
SWITCH_B = {"i": 300.0, "f": -300.0, "c": 300.0, "o": 300.0}


def run(model: bytes, x: np.ndarray, flavor: str, interp=None):
    it = interp or refimpl.Interpreter(model_content=model, flavor=flavor)
    if interp is None:
        it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.asarray(x, np.float32))
    it.invoke()
    return it, it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("flavor", FLAVORS)
def test_open_input_gate_writes_the_cell_gate_into_the_cell(flavor):
    # x = 0: i = 1, f = 0, g = tanh(300) = 1, o = 1  ->  c = 0*0 + 1*1 = 1, h = tanh(1)
    it, y = run(one_unit_model(SWITCH_W, SWITCH_B), [[[0.0]]], flavor)
    c = it.get_tensor(_state_index(it, "c"))
    assert c[0, 0] == np.float32(1.0)
    assert abs(float(y[0, 0, 0]) - TANH_1) <= ULP_BELOW_1 * 2  # float32 rounding of tanh(1)


def _state_index(it, name: str) -> int:
    return next(d["index"] for d in it.get_tensor_details() if d["name"] == name)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_closed_gates_keep_the_cell_and_state_carries_across_invokes(flavor):
    model = one_unit_model(SWITCH_W, SWITCH_B)
    # x = 1 from zero state: i = 0, f = 1  ->  c = 1*0 + 0 = 0, h = 1 * tanh(0) = 0
    it, y = run(model, [[[1.0]]], flavor)
    assert y[0, 0, 0] == 0.0
    # x = 0 writes c = 1; then x = 1 keeps it: the second invoke starts from the first's c
    it.reset_all_variables()
    run(model, [[[0.0]]], flavor, interp=it)
    _, y = run(model, [[[1.0]]], flavor, interp=it)
    assert it.get_tensor(_state_index(it, "c"))[0, 0] == np.float32(1.0)
    assert abs(float(y[0, 0, 0]) - TANH_1) <= 2 * ULP_BELOW_1
    it.reset_all_variables()
    assert it.get_tensor(_state_index(it, "c"))[0, 0] == 0.0


@pytest.mark.parametrize("flavor", FLAVORS)
def test_cell_clip_bounds_the_cell_state(flavor):
    model = one_unit_model(SWITCH_W, SWITCH_B, steps=2, cell_clip=0.25)
    it, y = run(model, [[[0.0], [1.0]]], flavor)
    # c = clip(1, 0.25) = 0.25 at both steps; h = tanh(0.25) = 0.24491866...
    assert it.get_tensor(_state_index(it, "c"))[0, 0] == np.float32(0.25)
    np.testing.assert_allclose(y[0, :, 0], [0.24491866240370913] * 2, rtol=2**-22)


# --------------------------------------------------------------------------------------
# Sequences, state and layouts (random models, refimpl against itself)
# --------------------------------------------------------------------------------------
def _invoke_seq(model: bytes, x: np.ndarray, flavor: str, it=None):
    if it is None:
        it = refimpl.Interpreter(model_content=model, flavor=flavor)
        it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    return it, it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("kind", ["float", "int8"])
@pytest.mark.parametrize("flavor", FLAVORS)
def test_one_invoke_of_four_steps_equals_two_invokes_of_two_steps(kind, flavor):
    long = Config("t4", kind=kind, batch=2, time=4, zp_h=3, hidden_zp=3)
    short = Config("t2", kind=kind, batch=2, time=2, zp_h=3, hidden_zp=3)
    x = sample(long, 1, np.random.default_rng(1))[0]  # [2, 4, 6]
    _, y4 = _invoke_seq(build(long, 5), x, flavor)
    it, y_a = _invoke_seq(build(short, 5), np.ascontiguousarray(x[:, :2]), flavor)
    _, y_b = _invoke_seq(build(short, 5), np.ascontiguousarray(x[:, 2:]), flavor, it)
    np.testing.assert_array_equal(np.concatenate([y_a, y_b], axis=1), y4)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_int8_time_major_equals_batch_major_transposed(flavor):
    bm = Config("bm", kind="int8", batch=3, zp_in=-5, zp_h=2, hidden_zp=2)
    tm = Config("tm", kind="int8", batch=3, zp_in=-5, zp_h=2, hidden_zp=2, time_major=True)
    x = sample(bm, 1, np.random.default_rng(2))[0]  # [B, T, I]
    _, y_bm = _invoke_seq(build(bm, 9), x, flavor)
    _, y_tm = _invoke_seq(build(tm, 9), np.ascontiguousarray(x.transpose(1, 0, 2)), flavor)
    np.testing.assert_array_equal(y_tm.transpose(1, 0, 2), y_bm)


def test_int8_kernel_equals_a_per_element_loop_of_litert_step():
    """The vectorised LiteRT int8 step against plain Python loops in upstream's order."""
    cfg = Config("loop", kind="int8", batch=2, time=3, zp_in=4, zp_h=-3, hidden_zp=-3)
    model = build(cfg, 11)
    x = sample(cfg, 1, np.random.default_rng(3))[0]
    it, y = _invoke_seq(model, x, "tflite-ref")
    data = it.op_data(0)
    np.testing.assert_array_equal(y, _loop_oracle_int8_litert(data, x))


def _loop_oracle_int8_litert(data, x: np.ndarray) -> np.ndarray:
    s = data.integer
    gates = s.gates
    n_b, n_t = x.shape[:2]
    h = np.full((n_b, data.n_output), s.output_state_zero_point, np.int64)
    c = np.zeros((n_b, data.n_cell), np.int64)
    out = np.zeros((n_b, n_t, data.n_output), np.int64)

    def mbqm(v, m, sh):
        return int(ar.multiply_by_quantized_multiplier(np.int64(v), m, sh))

    for b in range(n_b):
        for t in range(n_t):
            act = {}
            for name, g in gates.items():
                z = []
                for u in range(data.n_cell):
                    acc = int(g.input_bias[u])
                    for k in range(data.n_input):
                        acc += int(x[b, t, k]) * int(g.input_weights[k, u])
                    v = max(-32768, min(32767, mbqm(acc, g.input_multiplier, g.input_shift)))
                    acc = int(g.recurrent_bias[u])
                    for k in range(data.n_output):
                        acc += int(h[b, k]) * int(g.recurrent_weights[k, u])
                    z.append(max(-32768, min(32767, mbqm(acc, g.recurrent_multiplier,
                                                         g.recurrent_shift) + v)))
                fn = fp.tanh16 if name == "c" else fp.logistic16
                act[name] = [int(fn(np.int64(v), 3)) for v in z]
            for u in range(data.n_cell):
                f, i, g, o = (act[k][u] for k in "fico")
                cu = int(ar.rounding_divide_by_pot(np.int64(f * int(c[b, u])), 15))
                cu += int(ar.rounding_divide_by_pot(np.int64(i * g), 30 + s.cell_scale_log2))
                c[b, u] = max(-32768, min(32767, cu))
                tc = int(fp.tanh16(np.int64(c[b, u]), 15 + s.cell_scale_log2))
                hu = mbqm(o * tc, s.hidden_multiplier, s.hidden_shift) + s.hidden_zero_point
                h[b, u] = max(-128, min(127, hu))
            out[b, t] = h[b]
    return out.astype(np.int8)


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------
def test_state_that_does_not_hold_the_batch_is_an_error():
    it = refimpl.Interpreter(model_content=build(Config("b1"), 1))
    it.resize_tensor_input(it.get_input_details()[0]["index"], [3, 5, 6])
    with pytest.raises(OpError, match="output_state .* must hold batch x n_output"):
        it.allocate_tensors()


def test_int8_without_its_five_intermediates_is_an_error():
    model = build(Config("q", kind="int8", intermediates=False), 1)
    with pytest.raises(OpError, match="5 intermediate tensors"):
        refimpl.Interpreter(model_content=model).allocate_tensors()


@pytest.mark.parametrize("cfg", [Config("cifg", cifg=True), Config("peephole", peephole=True),
                                 Config("projection", n_output=4), Config("ln", layer_norm=True),
                                 Config("relu", activation=1)], ids=lambda c: c.name)
def test_tflm_flavour_refuses_what_tflm_refuses(cfg):
    it = refimpl.Interpreter(model_content=build(cfg, 1), flavor="tflm")
    with pytest.raises(UnsupportedOpError):
        it.allocate_tensors()


# --------------------------------------------------------------------------------------
# Helpers in refimpl.fixedpoint used by the kernel
# --------------------------------------------------------------------------------------
def test_int16_logistic_and_tanh_hand_values():
    assert fp.logistic16(0, 3) == 16384  # 1/2 in Q0.15
    assert fp.tanh16(0, 3) == 0
    # logistic(1) = 0.7310585786 -> 23955.7 in Q0.15; tanh(1) -> 24956.0 (1.0 = 4096 in
    # Q3.12). 16-bit gemmlowp is only good to ~8 units (the C++ code gives the same).
    assert fp.logistic16(4096, 3) == 23952
    assert fp.tanh16(4096, 3) == 24964
    assert fp.tanh16(-4096, 3) == -fp.tanh16(4096, 3)


@pytest.mark.parametrize("bits", [0, 3, 6])
def test_int16_tanh_is_within_4e_4_of_tanh(bits):
    # (not monotonic: the negative side steps back by 12 units at ~600-1900 points)
    x = np.arange(-32768, 32768, dtype=np.int64)
    t = fp.tanh16(x, bits)
    exact = np.tanh(x / 2.0 ** (15 - bits)) * 32768
    assert np.abs(t - exact).max() < 12  # 11.8 units of 2**-15 at worst


def test_int16_logistic_is_within_2e_4_of_sigmoid():
    x = np.arange(-32768, 32768, dtype=np.int64)
    exact = 32768 / (1 + np.exp(-x / 4096.0))
    assert np.abs(fp.logistic16(x, 3) - exact).max() < 7  # 6.4 units at worst


def test_sigmoid_table_is_the_rounded_sigmoid_give_or_take_one():
    i = np.arange(256)
    exact = np.minimum(np.round(65536 / (1 + np.exp(-i / 24.0))), 65535)
    diff = fp.SIGMOID_TABLE_UINT16 - exact
    assert set(diff.tolist()) <= {0, 1} and diff.sum() == 44


def test_tflm_lut_sigmoid_and_tanh_at_zero_and_at_the_ends():
    # 0: (T[0] << 9 + 512) >> 10 = 16384;  tanh: (T[0] << 8 - 2**23 + 128) >> 8 = 0
    assert fp.sigmoid_lut16(np.int64(0)) == 16384 and fp.tanh_lut16(np.int64(0)) == 0
    # 32767 (~8.0): v = 98301 -> index 191, frac 509: (T[191] * 512 + 509 * 1 + 512) >> 10
    t191 = int(fp.SIGMOID_TABLE_UINT16[191])
    assert fp.sigmoid_lut16(np.int64(32767)) == (t191 * 512 + 509 + 512) >> 10 == 32757
    assert fp.sigmoid_lut16(np.int64(-32768)) == 11
    # tanh saturates past index 255: (0xFFFF00 - 2**23 + 128) >> 8 = 32767, and the
    # negative side floors (-8388225 >> 8) to -32767
    assert fp.tanh_lut16(np.int64(32767)) == 32767 and fp.tanh_lut16(np.int64(-32768)) == -32767


@pytest.mark.parametrize("x", [4, 16, 1024, 2**20, 3, 12345, 2**31 - 1])
def test_inverse_sqrt_multiplier_represents_one_over_sqrt(x):
    m, s = fp.inv_sqrt_quantized_multiplier_exp(np.array([x]), -1)
    assert abs(m[0] / 2**31 * 2.0 ** s[0] * np.sqrt(x) - 1) < 1e-6


@pytest.fixture(scope="module")
def c_tanhf():
    name = ctypes.util.find_library("m")
    if name is None:
        pytest.skip("no C math library found")
    libm = ctypes.CDLL(name)
    libm.tanhf.restype = ctypes.c_float
    libm.tanhf.argtypes = [ctypes.c_float]
    return np.frompyfunc(libm.tanhf, 1, 1)


@pytest.mark.parametrize("lo, hi", [(-25.0, 25.0), (-1.5, 1.5), (-1e-3, 1e-3)])
def test_tanhf_glibc_equals_the_c_library_bit_for_bit(c_tanhf, lo, hi):
    x = np.random.default_rng(int(100 * hi)).uniform(lo, hi, 40_000).astype(np.float32)
    theirs = c_tanhf(x).astype(np.float32)
    np.testing.assert_array_equal(fp.tanhf_glibc(x).view(np.int32), theirs.view(np.int32))


def test_eigen_functions_hand_values():
    assert fp.eigen_logistic_f32(np.float32(0)) == np.float32(0.5)
    assert fp.eigen_logistic_f32(np.float32(17)) == 1
    assert fp.eigen_logistic_f32(np.float32(-105)) == 0
    assert fp.eigen_tanh_f32(np.float32(0)) == 0 and fp.eigen_tanh_f32(np.float32(9)) == 1
    x = np.linspace(-6, 6, 1001, dtype=np.float32)
    assert np.abs(fp.eigen_tanh_f32(x) - np.tanh(x.astype(np.float64))).max() < 1e-6
    assert np.abs(fp.eigen_logistic_f32(x) - 1 / (1 + np.exp(-x.astype(np.float64)))).max() < 1e-6


# --------------------------------------------------------------------------------------
# Against the real runtimes (skipped when they are not installed)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def litert():
    mod = pytest.importorskip("ai_edge_litert.interpreter")

    def make(model: bytes, resolver: str = "BUILTIN_REF"):
        it = mod.Interpreter(model_content=model, num_threads=1,
                             experimental_op_resolver_type=getattr(mod.OpResolverType, resolver))
        it.allocate_tensors()
        return it

    return make


@pytest.mark.runtimes
def test_eigen_tanh_and_logistic_equal_litert_optimized_ops(litert):
    x = np.random.default_rng(4).uniform(-20, 20, (1, 20_000)).astype(np.float32)
    for op, ours in (("TANH", fp.eigen_tanh_f32), ("LOGISTIC", fp.eigen_logistic_f32)):
        mb = ModelBuilder()
        a = mb.add_tensor("a", list(x.shape), "float32")
        y = mb.add_tensor("y", list(x.shape), "float32")
        mb.add_operator(op, [a], [y])
        mb.set_inputs([a])
        mb.set_outputs([y])
        it = litert(mb.to_bytes(), "BUILTIN_WITHOUT_DEFAULT_DELEGATES")
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        np.testing.assert_array_equal(ours(x), it.get_tensor(it.get_output_details()[0]["index"]))


SINGLE_OP = [
    Config("float standard batch 2", batch=2),
    Config("float cifg peephole projection layer-norm", cifg=True, peephole=True, n_output=5,
           projection_bias=True, layer_norm=True, cell_clip=1.0, proj_clip=0.6),
    Config("float time-major small gemm", n_cell=2, n_input=12, batch=2, time_major=True),
    Config("float n_cell 5 (scalar sigmoid tails)", n_cell=5, n_input=7, batch=3),
    Config("float NONE diagonal zero inputs (stale buffer)", activation=0, diagonal=True,
           zero_steps=True, batch=2),
    Config("float 1 unit (Eigen dot product)", n_cell=1, n_input=21),
    Config("int8 zero points", kind="int8", batch=2, zp_in=-7, zp_h=5, hidden_zp=5),
    Config("int8 peephole projection", kind="int8", peephole=True, n_output=5,
           hidden_scale=1 / 60, hidden_zp=-3, proj_clip=0.4),
    Config("int8 layer norm", kind="int8", layer_norm=True, batch=2),
]


@pytest.mark.runtimes
@pytest.mark.parametrize("cfg", SINGLE_OP, ids=lambda c: c.name)
def test_single_op_model_equals_litert_reference(litert, cfg):
    model = build(cfg, 21)
    for x in sample(cfg, 2, np.random.default_rng(5)):
        it = litert(model)
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        ours = refimpl.Interpreter(model_content=model)
        ours.allocate_tensors()
        ours.set_tensor(ours.get_input_details()[0]["index"], x)
        ours.invoke()
        for d in it.get_tensor_details():
            if d["name"] in ("output", "h", "c"):
                np.testing.assert_array_equal(ours.get_tensor(d["index"]),
                                              it.get_tensor(d["index"]), err_msg=d["name"])


@pytest.mark.runtimes
@pytest.mark.parametrize("fname", ["trained_lstm.tflite", "trained_lstm_int8.tflite"])
@pytest.mark.parametrize("pair", [("refimpl", "litert-ref"), ("refimpl-tflm", "tflm")],
                         ids=["litert-ref", "tflm"])
def test_mnist_lstm_example_is_bit_exact_on_every_tensor(fname, pair):
    path = os.path.join(CORPUS, fname)
    if not os.path.exists(path):
        pytest.skip("../shared/corpus absent")
    pytest.importorskip("ai_edge_litert")
    from compare.runtimes import get_runtime

    model = open(path, "rb").read()
    x = corpus_images(3, "int8" in fname)
    ours, theirs = (get_runtime(name).run(model, [x], intermediates=True) for name in pair)
    assert ours.ok and theirs.ok, (ours.message, theirs.message)
    for a, b in zip(ours.outputs, theirs.outputs):
        np.testing.assert_array_equal(a, b)
    for name in set(ours.tensors) & set(theirs.tensors):
        np.testing.assert_array_equal(ours.tensors[name], theirs.tensors[name], err_msg=name)


@pytest.mark.runtimes
def test_tflm_gate_multipliers_use_double_products():
    """Image 44 of the seeded MNIST set: with multipliers from the float32 product
    ``fl32(S_x * S_w)`` (what tflite-micro's kernel_util.cc source reads as) unit 3's
    final cell state comes out 17169; the tflite-micro wheel gives 17168, as do the
    double products refimpl uses."""
    path = os.path.join(CORPUS, "trained_lstm_int8.tflite")
    if not os.path.exists(path):
        pytest.skip("../shared/corpus absent")
    pytest.importorskip("tflite_micro")
    from compare.runtimes import get_runtime

    model = open(path, "rb").read()
    x = corpus_images(100, True)[44:45]
    ours, theirs = (get_runtime(name).run(model, [x], intermediates=True)
                    for name in ("refimpl-tflm", "tflm"))
    cell = "tfl.pseudo_qconst1"
    assert theirs.tensors[cell][0, 3] == 17168
    np.testing.assert_array_equal(ours.tensors[cell], theirs.tensors[cell])
