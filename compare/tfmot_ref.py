"""tfmot's own pruning masks, schedules and centroids, computed once in a child process.

tensorflow-model-optimization 0.8.1 needs Keras 2 (``tf_keras``): ``TF_USE_LEGACY_KERAS=1``
must be set before TensorFlow is first imported, which would break the Keras 3 that the
rest of the suite uses. So the references are computed by ``python -m compare.tfmot_ref
OUT.npz`` in a child with that environment, and the parent only reads the ``.npz``.

Parent side: :func:`tfmot_references` returns ``{key: ndarray}``, built on first use
and cached (``compare.zoo.cache``, directory ``<cache>/<tf version>/tfmot-<version>``,
keyed by the tfmot, tf_keras and TensorFlow versions and :data:`SPEC_VERSION`).

Child side (:func:`main`): builds the seed CNN (``compare.zoo.seed_cnn.build_keras_model``,
which gives a tf_keras model in the child) with Keras's seeded initialisation, derives
the weight variants below, and records for every case the inputs it used and tfmot's
outputs. A case that raises stores ``err/<case>`` (the message) instead.

Weight variants of the four kernels ``conv1`` (3,3,1,32), ``conv2`` (3,3,32,64),
``dense1`` (1600,100), ``dense2`` (100,10), stored as ``w/<variant>/<layer>``:

* ``init``: Keras's glorot-uniform draws after ``set_random_seed(0)``;
* ``tied``: ``init`` snapped to 1/16 of the largest magnitude (many exact ties);
* ``pruned``: ``init`` times tfmot's 50 % magnitude mask (input of sparsity-preserving
  clustering).

Keys (``<L>`` a layer, ``<V>`` a variant)
-----------------------------------------
``prune/<V>/<L>/s<S>``                 element-wise mask (and ``.../thr``)
``prune/<V>/<L>/b<H>x<W>_<POOL>/s<S>`` block mask, dense layers
``prune/<V>/<L>/mn<M>_<N>``            m-by-n mask
``prune/edge/<i>/{w,s,mask,thr}``      synthetic edge cases (ties, zeros, odd sizes)
``prune/wrapper/<mode>/<L>``           masks from ``prune_low_magnitude`` after one
                                       training call (``wrapper/<mode>/layers`` lists
                                       the layers that got a mask)
``sched/<i>/{steps,prune,sparsity}``   schedule outputs per scalar step in a tf.function
``sched/<i>/sparsity_eager``           the same with Grappler off (= eager kernels)
``sched/<i>/{probe,probe_eager}``      some steps evaluated eagerly, one call each
``cl/<case>/<L>/{c,idx,kernel}``       ``ClusterWeights`` centroids, pulling indices
                                       and the clustered kernel, fresh layer per case
``cl/skip``                            Conv2D skip-rule decisions (see SKIP_CASES)
``clapi/<case>/<L>``                   kernels after ``cluster_weights`` +
                                       ``strip_clustering`` on the whole model
``kpp/<i>/{x,k,seed,c}``               the raw k-means++ op on synthetic data
``init/<i>/{x,k,method,preserve,c}``   initialisers on synthetic data
``initch/<i>/{x,c}``                   per-channel initialisers (CHANNEL_INIT_CASES)
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

SPEC_VERSION = 3
CHILD_TIMEOUT = 900.0
LAYERS = ("conv1", "conv2", "dense1", "dense2")
DENSE_LAYERS = ("dense1", "dense2")
CONV_LAYERS = ("conv1", "conv2")
VARIANTS = ("init", "tied")
SPARSITIES = (0.3, 0.5, 0.8)
BLOCKS = ((1, 4), (4, 1), (2, 2))
POOLINGS = ("AVG", "MAX")
M_BY_N = ((2, 4), (1, 3))
WRAPPER_MODES = ("s0.5", "mn2_4")

# Schedules: (kind, kwargs, last step); evaluated at every step 0..last.
SCHEDULES: tuple[tuple[str, dict[str, Any], int], ...] = (
    ("poly", dict(initial_sparsity=0.2, final_sparsity=0.8, begin_step=1000,
                  end_step=2000, power=3, frequency=100), 2600),
    ("poly", dict(initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=1000,
                  power=3, frequency=10), 1200),
    ("poly", dict(initial_sparsity=0.1, final_sparsity=0.9, begin_step=7, end_step=1007,
                  power=2, frequency=1), 1100),
    ("poly", dict(initial_sparsity=0.05, final_sparsity=0.95, begin_step=3,
                  end_step=20003, power=1.5, frequency=7), 20100),
    ("poly", dict(initial_sparsity=0.25, final_sparsity=0.75, begin_step=0, end_step=333,
                  power=5, frequency=1), 400),
    ("const", dict(target_sparsity=0.5, begin_step=0), 500),
    ("const", dict(target_sparsity=0.3, begin_step=10, end_step=500, frequency=7), 600),
)

# Clustering cases: name -> (k, method, per_channel, preserve_sparsity, weight variant,
# layers). Per-channel cases cover the Conv2D layers only (tfmot clusters other layers
# per tensor). tfmot's DENSITY_BASED runs eager map_fn loops per channel (~10 s for the
# 64 channels of conv2), so conv2 is covered on 8 channels through the initialiser
# class instead (``initch/``).
CLUSTER_CASES: dict[str, tuple[int, str, bool, bool, str, tuple[str, ...]]] = {}
for _m in ("LINEAR", "DENSITY_BASED", "KMEANS_PLUS_PLUS"):
    _density = _m == "DENSITY_BASED"
    CLUSTER_CASES[f"{_m}_k16"] = (16, _m, False, False, "init", LAYERS)
    CLUSTER_CASES[f"{_m}_k8_channel"] = (8, _m, True, False, "init",
                                         ("conv1",) if _density else CONV_LAYERS)
    CLUSTER_CASES[f"{_m}_k8_sparse"] = (8, _m, False, True, "pruned", LAYERS)
    if not _density:
        CLUSTER_CASES[f"{_m}_k8_channel_sparse"] = (8, _m, True, True, "pruned", CONV_LAYERS)
CLUSTER_CASES["RANDOM_k16"] = (16, "RANDOM", False, False, "init", LAYERS)
CLUSTER_CASES["LINEAR_k16_tied"] = (16, "LINEAR", False, False, "tied", LAYERS)
CLUSTER_CASES["KMEANS_PLUS_PLUS_k16_tied"] = (16, "KMEANS_PLUS_PLUS", False, False, "tied",
                                              LAYERS)
# Per-channel initialiser on conv2[..., :8]: (method, preserve_sparsity, variant, k).
CHANNEL_INIT_CASES = tuple((m, p, "pruned" if p else "init", 8)
                           for m in ("DENSITY_BASED", "LINEAR") for p in (False, True))

# Whole-model cluster_weights + strip_clustering: name -> (k, method, per_channel).
CLUSTER_API_CASES = {"api_kmeans_k16": (16, "KMEANS_PLUS_PLUS", False),
                     "api_linear_k8_channel": (8, "LINEAR", True)}

# Conv2D skip rule: (layer, k, per_channel, use_bias).
SKIP_CASES = tuple((layer, k, per_channel, use_bias)
                   for layer in CONV_LAYERS for k in (8, 16, 300)
                   for per_channel in (False, True) for use_bias in (True, False))


def versions() -> dict[str, str]:
    """Installed versions of what the references depend on."""
    out = {}
    for package in ("tensorflow", "tf_keras", "tensorflow-model-optimization"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "missing"
    return out


# --------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------
def _build(params: dict[str, Any], progress: Callable[[str], None]) -> dict[str, bytes]:
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "refs.npz"
        progress(f"tfmot_ref: computing tfmot references in a child ({params})")
        proc = subprocess.run([sys.executable, "-m", "compare.tfmot_ref", str(out)],
                              cwd=repo, env=env, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"tfmot reference child failed (exit {proc.returncode}):\n"
                               f"{proc.stderr[-4000:]}")
        return {"refs.npz": out.read_bytes()}


def tfmot_references(progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """All references as ``{key: ndarray}`` (module docstring), cached per version."""
    from compare.zoo import cache

    info = versions()
    params = {"spec_version": SPEC_VERSION, **info}
    directory = cache.cache_dir() / f"tfmot-{info['tensorflow-model-optimization']}"
    got = cache.get_or_build("tfmot_ref", _build, params, ["refs.npz"],
                             directory=directory, progress=progress)
    with np.load(io.BytesIO(got["refs.npz"]), allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


# --------------------------------------------------------------------------------------
# Child side
# --------------------------------------------------------------------------------------
class _Recorder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, key: str, value: Any) -> None:
        self.arrays[key] = np.asarray(value)

    def attempt(self, key: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - recorded for the parent to compare
            self.arrays[f"err/{key}"] = np.asarray(f"{type(exc).__name__}: {exc}"[:500])


def _seed_weights(tf: Any) -> tuple[Any, dict[str, np.ndarray]]:
    from compare.zoo.seed_cnn import build_keras_model

    tf.keras.utils.set_random_seed(0)
    model = build_keras_model()
    kernels = [layer.kernel.numpy() for layer in model.layers if hasattr(layer, "kernel")]
    return model, dict(zip(LAYERS, kernels))


def _tied(w: np.ndarray) -> np.ndarray:
    unit = np.float32(np.abs(w).max() / 16)
    return (np.round(w / unit) * unit).astype(np.float32)


def _pruning(rec: _Recorder, tf: Any, weights: dict[str, dict[str, np.ndarray]]) -> None:
    from tensorflow_model_optimization.python.core.sparsity.keras import (
        pruning_impl,
        pruning_schedule,
    )

    def mask_of(w: np.ndarray, sparsity: float, block=(1, 1), pool="AVG", m_by_n=None):
        var = tf.Variable(w)
        impl = pruning_impl.Pruning(lambda: tf.constant(1, tf.int64), [(var, None, None)],
                                    pruning_schedule.ConstantSparsity(sparsity, 0),
                                    block, pool, m_by_n)
        thr, mask = impl._maybe_update_block_mask(var)
        return np.asarray(mask), np.asarray(thr)

    def record(key: str, *args: Any, **kwargs: Any) -> None:
        def run() -> None:
            mask, thr = mask_of(*args, **kwargs)
            rec.put(key, mask)
            rec.put(f"{key}/thr", thr)
        rec.attempt(key, run)

    for variant in VARIANTS:
        for layer in LAYERS:
            w = weights[variant][layer]
            for s in SPARSITIES:
                record(f"prune/{variant}/{layer}/s{s}", w, s)
            for m, n in M_BY_N:
                record(f"prune/{variant}/{layer}/mn{m}_{n}", w, 0.5, m_by_n=(m, n))
            if layer in DENSE_LAYERS:
                for (bh, bw) in BLOCKS:
                    for pool in POOLINGS:
                        for s in SPARSITIES:
                            record(f"prune/{variant}/{layer}/b{bh}x{bw}_{pool}/s{s}",
                                   w, s, (bh, bw), pool)
    rng = np.random.default_rng(7)
    edges: list[tuple[np.ndarray, float, tuple[int, int], str]] = [
        (np.zeros(12, np.float32), 0.5, (1, 1), "AVG"),
        (np.full((3, 4), 0.25, np.float32), 0.5, (1, 1), "AVG"),
        (rng.standard_normal(10).astype(np.float32), 0.25, (1, 1), "AVG"),  # 7.5 -> 8
        (rng.standard_normal(6).astype(np.float32), 0.25, (1, 1), "AVG"),   # 4.5 -> 4
        (rng.standard_normal(9).astype(np.float32), 0.5, (1, 1), "AVG"),    # 4.5 -> 4
        (rng.standard_normal(10).astype(np.float32), 0.3, (1, 1), "AVG"),
        (rng.standard_normal((2, 3, 5)).astype(np.float32), 0.5, (1, 1), "AVG"),
        (np.round(rng.standard_normal((7, 11)) * 2).astype(np.float32), 0.5, (1, 1), "AVG"),
        (np.round(rng.standard_normal((10, 7)) * 2).astype(np.float32), 0.5, (3, 2), "AVG"),
        (np.round(rng.standard_normal((10, 7)) * 2).astype(np.float32), 0.4, (3, 2), "MAX"),
        (rng.standard_normal((9, 13)).astype(np.float32), 0.5, (4, 5), "AVG"),
        (rng.standard_normal((9, 13)).astype(np.float32), 0.99, (2, 3), "MAX"),
        (rng.standard_normal((5, 8)).astype(np.float32) * 1e-30, 0.5, (1, 1), "AVG"),
        (rng.standard_normal((3, 16)).astype(np.float32), 0.5, (4, 4), "AVG"),  # 1 block row
    ]
    for i, (w, s, block, pool) in enumerate(edges):
        rec.put(f"prune/edge/{i}/w", w)
        rec.put(f"prune/edge/{i}/s", s)
        rec.put(f"prune/edge/{i}/block", np.asarray(block))
        rec.put(f"prune/edge/{i}/pool", pool)
        record(f"prune/edge/{i}/mask", w, s, block, pool)


def _pruning_wrapper(rec: _Recorder, tf: Any, tfmot: Any, model: Any) -> None:
    sparsity = tfmot.sparsity.keras
    names = dict(zip([layer.name for layer in model.layers if hasattr(layer, "kernel")],
                     LAYERS))
    x = np.zeros((1, 28, 28, 1), np.float32)
    initial = model.get_weights()
    for mode in WRAPPER_MODES:
        def run(mode: str = mode) -> None:
            model.set_weights(initial)  # the wrapper masks the shared kernels in place
            if mode == "s0.5":
                pruned = sparsity.prune_low_magnitude(
                    model, pruning_schedule=sparsity.ConstantSparsity(0.5, 0, frequency=1))
            else:
                pruned = sparsity.prune_low_magnitude(model, sparsity_m_by_n=(2, 4))
            got = []
            for wrapper in pruned.layers:
                if hasattr(wrapper, "pruning_step"):
                    wrapper.pruning_step.assign(0)  # UpdatePruningStep.on_train_begin
            pruned(x, training=True)  # step 1: masks from the unmasked kernels
            for wrapper in pruned.layers:
                for _, mask, _ in getattr(wrapper, "pruning_vars", []):
                    layer = names[wrapper.layer.name]
                    got.append(layer)
                    rec.put(f"prune/wrapper/{mode}/{layer}", mask.numpy())
            rec.put(f"prune/wrapper/{mode}/layers", np.asarray(got))
        rec.attempt(f"prune/wrapper/{mode}", run)
    model.set_weights(initial)
    # Which layer kinds get a prunable weight at all (registry check).
    layers = tf.keras.layers
    probe = {
        "DepthwiseConv2D": (layers.DepthwiseConv2D(3), (None, 8, 8, 4)),
        "SeparableConv2D": (layers.SeparableConv2D(4, 3), (None, 8, 8, 4)),
        "BatchNormalization": (layers.BatchNormalization(), (None, 8, 8, 4)),
        "Conv2DTranspose": (layers.Conv2DTranspose(4, 3), (None, 8, 8, 4)),
        "Conv1D": (layers.Conv1D(4, 3), (None, 8, 4)),
        "Embedding": (layers.Embedding(10, 4), (None, 3)),
        "LSTM": (layers.LSTM(4), (None, 3, 4)),
    }
    for kind, (layer, shape) in probe.items():
        def run_probe(kind: str = kind, layer: Any = layer, shape: Any = shape) -> None:
            wrapper = sparsity.prune_low_magnitude(layer)
            wrapper.build(shape)
            roles = [w.name.split("/")[-1].split(":")[0] for w, _, _ in wrapper.pruning_vars]
            rec.put(f"prune/registry/{kind}", np.asarray(roles, dtype=str))
        rec.attempt(f"prune/registry/{kind}", run_probe)


def _schedules(rec: _Recorder, tf: Any, tfmot: Any) -> None:
    sparsity = tfmot.sparsity.keras
    for i, (kind, kwargs, last) in enumerate(SCHEDULES):
        schedule = (sparsity.PolynomialDecay(**kwargs) if kind == "poly"
                    else sparsity.ConstantSparsity(**kwargs))
        steps = np.arange(0, last + 1, dtype=np.int64)

        def evaluate(t: Any, schedule: Any = schedule) -> Any:
            # map_fn: one scalar step per call, as in training (scalar kernels).
            return tf.map_fn(lambda s: schedule(s), t,
                             fn_output_signature=(tf.bool, tf.float32))

        # Graph mode as in model.fit (Grappler on), then as eager execution computes
        # it (the same kernels with Grappler off).
        prune, value = tf.function(evaluate)(tf.constant(steps))
        options = tf.config.optimizer.get_experimental_options()
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
        try:
            _, eager = tf.function(evaluate)(tf.constant(steps))
        finally:
            tf.config.optimizer.set_experimental_options(
                dict(options, disable_meta_optimizer=options.get(
                    "disable_meta_optimizer", False)))
        probe = steps[:: max(1, len(steps) // 20)]
        rec.put(f"sched/{i}/steps", steps)
        rec.put(f"sched/{i}/prune", prune.numpy())
        rec.put(f"sched/{i}/sparsity", value.numpy())
        rec.put(f"sched/{i}/sparsity_eager", eager.numpy())
        rec.put(f"sched/{i}/probe", probe)  # truly eager calls, one step at a time
        rec.put(f"sched/{i}/probe_eager",
                np.asarray([schedule(tf.constant(int(t), tf.int64))[1].numpy()
                            for t in probe], np.float32))


def _fresh_layer(tf: Any, template: Any, kernel: np.ndarray, bias: np.ndarray,
                 use_bias: bool = True) -> tuple[Any, tuple[Any, ...]]:
    config = dict(template.get_config(), use_bias=use_bias)
    config.pop("name", None)
    layer = type(template).from_config(config)
    shape = (None, 8, 8, kernel.shape[2]) if kernel.ndim == 4 else (None, kernel.shape[0])
    layer.build(shape)
    layer.set_weights([kernel, bias] if use_bias else [kernel])
    return layer, shape


def _clustering(rec: _Recorder, tf: Any, tfmot: Any, model: Any,
                weights: dict[str, dict[str, np.ndarray]]) -> None:
    from tensorflow_model_optimization.python.core.clustering.keras import (
        cluster,
        cluster_config,
        cluster_wrapper,
    )

    init = cluster_config.CentroidInitialization
    templates = dict(zip(LAYERS, [lay for lay in model.layers if hasattr(lay, "kernel")]))
    for case, (k, method, per_channel, preserve, variant, names) in CLUSTER_CASES.items():
        for name in names:
            template = templates[name]
            kernel = weights[variant][name]

            def run(case: str = case, name: str = name, template: Any = template,
                    kernel: np.ndarray = kernel, k: int = k, method: str = method,
                    per_channel: bool = per_channel, preserve: bool = preserve) -> None:
                tf.keras.utils.set_random_seed(1)  # RANDOM only
                bias = template.bias.numpy()
                layer, shape = _fresh_layer(tf, template, kernel, bias)
                wrapper = cluster_wrapper.ClusterWeights(
                    layer, k, getattr(init, method), preserve_sparsity=preserve,
                    cluster_per_channel=per_channel)
                wrapper.build(shape)
                rec.put(f"cl/{case}/{name}/c", wrapper.cluster_centroids["kernel"].numpy())
                rec.put(f"cl/{case}/{name}/idx", wrapper.pulling_indices["kernel"].numpy())
                wrapper.update_clustered_weights_associations()  # what strip does first
                rec.put(f"cl/{case}/{name}/kernel", np.asarray(wrapper.layer.kernel))
            rec.attempt(f"cl/{case}/{name}", run)
    skips = []
    for name, k, per_channel, use_bias in SKIP_CASES:
        template = templates[name]
        layer, _ = _fresh_layer(tf, template, weights["init"][name], template.bias.numpy(),
                                use_bias)
        skips.append(bool(cluster.layer_has_enough_weights_to_cluster(layer, k, per_channel)))
    rec.put("cl/skip", np.asarray(skips))
    for case, (k, method, per_channel) in CLUSTER_API_CASES.items():
        def run_api(case: str = case, k: int = k, method: str = method,
                    per_channel: bool = per_channel) -> None:
            # cluster_weights replaces the wrapped layers' kernel attribute: use a copy.
            fresh = tf.keras.models.clone_model(model)
            fresh.set_weights(model.get_weights())
            clustered = tfmot.clustering.keras.cluster_weights(
                fresh, k, getattr(init, method), cluster_per_channel=per_channel)
            stripped = tfmot.clustering.keras.strip_clustering(clustered)
            kernels = [lay.kernel.numpy() for lay in stripped.layers if hasattr(lay, "kernel")]
            for name, kernel in zip(LAYERS, kernels):
                rec.put(f"clapi/{case}/{name}", kernel)
        rec.attempt(f"clapi/{case}", run_api)


def _initialisers(rec: _Recorder, tf: Any,
                  weights: dict[str, dict[str, np.ndarray]]) -> None:
    from tensorflow.python.ops import clustering_ops
    from tensorflow_model_optimization.python.core.clustering.keras import (
        clustering_centroids as cc,
    )

    rng = np.random.default_rng(11)
    draws = [rng.standard_normal, rng.uniform, rng.laplace]
    for i in range(48):
        n = int(rng.choice([20, 33, 64, 100, 257, 1000, 4099, 11520]))
        k = int(rng.integers(2, 33))
        x = draws[i % 3](size=n).astype(np.float32) * np.float32(10.0 ** rng.integers(-3, 2))
        if i % 4 == 3:
            x = np.round(x * 8) / 8  # many duplicates
        if np.unique(x).size < k:
            k = int(np.unique(x).size)
        seed = 9 if i % 5 else int(rng.integers(0, 2**40))
        rec.put(f"kpp/{i}/x", x)
        rec.put(f"kpp/{i}/k", k)
        rec.put(f"kpp/{i}/seed", seed)
        out = clustering_ops.kmeans_plus_plus_initialization(
            x.reshape(-1, 1), k, seed, -1)
        rec.put(f"kpp/{i}/c", out.numpy().reshape(-1))
    classes = {"LINEAR": cc.LinearCentroidsInitialisation,
               "DENSITY_BASED": cc.DensityBasedCentroidsInitialisation}
    inputs = [
        np.linspace(-1, 1, 7, dtype=np.float32),
        np.full(10, 0.3, np.float32),
        np.round(rng.standard_normal(500) * 4).astype(np.float32) / 4,
        rng.laplace(size=2000).astype(np.float32) * np.float32(0.05),
        np.where(rng.random(300) < 0.6, 0, rng.standard_normal(300)).astype(np.float32),
        -np.abs(rng.standard_normal(50)).astype(np.float32),
        np.zeros(20, np.float32),
        rng.uniform(1e-4, 2e-4, 64).astype(np.float32),
    ]
    case = 0
    for x in inputs:
        for method, cls in classes.items():
            for k in (3, 16):
                for preserve in (False, True):
                    key = f"init/{case}"
                    rec.put(f"{key}/x", x)
                    rec.put(f"{key}/k", k)
                    rec.put(f"{key}/method", method)
                    rec.put(f"{key}/preserve", preserve)

                    def run(key: str = key, x: np.ndarray = x, cls: Any = cls, k: int = k,
                            preserve: bool = preserve) -> None:
                        got = cls(tf.constant(x), k, False, "channels_last", preserve)
                        rec.put(f"{key}/c", np.asarray(got.get_cluster_centroids()))
                    rec.attempt(key, run)
                    case += 1
    for i, (method, preserve, variant, k) in enumerate(CHANNEL_INIT_CASES):
        x = weights[variant]["conv2"][..., :8]
        got = classes[method](tf.constant(x), k, True, "channels_last", preserve)
        rec.put(f"initch/{i}/x", x)
        rec.put(f"initch/{i}/c", np.asarray(got.get_cluster_centroids()))


def main(argv: list[str]) -> int:
    """Child entry point: ``python -m compare.tfmot_ref OUT.npz``."""
    if len(argv) != 1:
        print("usage: python -m compare.tfmot_ref OUT.npz", file=sys.stderr)
        return 2
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras  # noqa: F401  (must precede tensorflow)
    import tensorflow as tf
    import tensorflow_model_optimization as tfmot

    import time
    import warnings

    warnings.simplefilter("ignore")  # tfmot's skip-rule UserWarnings
    start = time.perf_counter()

    def log(what: str) -> None:
        print(f"tfmot_ref: {what} done at {time.perf_counter() - start:.1f} s",
              file=sys.stderr, flush=True)

    rec = _Recorder()
    model, init = _seed_weights(tf)
    weights = {"init": init, "tied": {k: _tied(w) for k, w in init.items()}}
    for variant, layers in weights.items():
        for name, w in layers.items():
            rec.put(f"w/{variant}/{name}", w)
    _pruning(rec, tf, weights)
    weights["pruned"] = {name: init[name] * rec.arrays[f"prune/init/{name}/s0.5"]
                         for name in LAYERS}
    for name, w in weights["pruned"].items():
        rec.put(f"w/pruned/{name}", w)
    log("pruning masks")
    _pruning_wrapper(rec, tf, tfmot, model)
    log("pruning wrappers")
    _schedules(rec, tf, tfmot)
    log("schedules")
    _clustering(rec, tf, tfmot, model, weights)
    log("clustering")
    _initialisers(rec, tf, weights)
    log("initialisers")
    rec.put("versions", json.dumps(versions()))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **rec.arrays)
    Path(argv[0]).write_bytes(buffer.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
