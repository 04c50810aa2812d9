"""tfmot's pruning schedules as pure functions of the training step.

A schedule answers two questions for a step: *is a mask update due* and *at which
sparsity*. Both are vectorised over NumPy arrays of steps, and the sparsity is
computed in float32 with the same operations as TF runs them, so the values are
bit-identical to tfmot's inside a ``tf.function`` (``graph=True``, the default, as in
``model.fit``) or in eager execution (``graph=False``).

When is pruning applied? (``PruneLowMagnitude.call`` + ``UpdatePruningStep``)
--------------------------------------------------------------------------------
* The step counter starts at -1; the callback sets it to 0 at ``on_train_begin`` and
  every training call increments it *before* anything else, so the first training
  batch sees **step 1** (step 0 never occurs).
* At step ``t`` the mask is recomputed from the current (regrown) kernel when
  ``should_prune(t)`` holds, at sparsity ``sparsity(t)``; otherwise it is kept.
  With ``sparsity_m_by_n`` the schedule is ignored and the mask is computed only at
  step 1 (see :func:`refimpl.compress.pruning.update_mask`).
* ``ConstantSparsity(s, 0)`` has ``frequency=100``: a run shorter than 100 batches
  never prunes.

Formulas
--------
::

    should_prune(t) = t >= begin  and  (t <= end  or  end < 0)
                      and  (t - begin) mod frequency == 0          (floor mod)

    ConstantSparsity:  s(t) = float32(target)

    PolynomialDecay:   p    = clip(f32(t - begin) / f32(end - begin), 0, 1)
                       s(t) = f32(initial - final) * (1 - p) ** f32(power) + f32(final)
                       (graph mode reorders this slightly, see below)

Every operation of the PolynomialDecay line is one float32 rounding (no fused
multiply-add); ``initial - final`` is a Python double cast to float32 afterwards.

The power depends on how TF runs the schedule:

* **graph mode** (``graph=True``, the default: ``model.fit`` and any ``tf.function``
  training step): Grappler's arithmetic optimizer (``ConvertPowStage``) rewrites a
  ``Pow`` with a constant exponent on CPU: 3 -> ``x * square(x)``, 2 -> ``square(x)``,
  1 -> ``x``, 0.5 -> ``sqrt(x)``, 0 -> 1, -0.5 -> ``1 / sqrt(x)``, -1 -> ``1 / x``,
  each a float32 rounding; other exponents stay ``Pow`` (3, 2, 1.5 and 5 are
  checked against TF; the other rewrites follow Grappler's table). For the cube, constant
  folding then pushes the constant ``f32(initial - final)`` into the product, so the
  default schedule computes ``s = ((c * x) * (x * x)) + f32(final)`` with
  ``c = f32(initial - final)`` and ``x = 1 - p``;
* **eager mode** (``graph=False``, ``run_eagerly=True``): always the ``Pow`` kernel,
  ``s = (c * pow(x, power)) + f32(final)``.

In graph mode constant folding also turns the division by the constant
``end - begin`` into a multiplication by its float32 reciprocal, so
``p = clip(f32(t - begin) * (1 / f32(end - begin)), 0, 1)`` there.

``Pow`` on a float32 scalar is glibc's ``powf`` (not correctly rounded), evaluated by
:func:`refimpl.compress.glibc_powf.powf`. The two modes differ in the last bit for a
few percent of steps (e.g. (0.2, 0.8, 1000, 2000) at step 1001: 0.20179814 in graph
mode, 0.2017982 eagerly); within each mode the values are bit-exact.

Mirrors: ``tensorflow_model_optimization/python/core/sparsity/keras/
pruning_schedule.py`` (``ConstantSparsity``, ``PolynomialDecay``,
``_should_prune_in_step``), tfmot 0.8.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .glibc_powf import powf

__all__ = ["ConstantSparsity", "PolynomialDecay", "PruningSchedule", "should_prune"]

BoolOrArray = Union[bool, NDArray[np.bool_]]
F32OrArray = Union[np.float32, NDArray[np.float32]]


def _steps(step: ArrayLike) -> NDArray[np.int64]:
    steps = np.asarray(step)
    if steps.dtype.kind not in "iu":
        raise ValueError(f"steps must be integers, got dtype {steps.dtype}")
    return steps.astype(np.int64)


def _unwrap(value: NDArray[Any], like: ArrayLike) -> Any:
    """Return a NumPy scalar when the step was a scalar, else the array."""
    return value[()] if np.ndim(like) == 0 else value


def should_prune(step: ArrayLike, begin_step: int, end_step: int,
                 frequency: int) -> BoolOrArray:
    """``t >= begin and (t <= end or end < 0) and (t - begin) mod frequency == 0``.

    ``mod`` is a floor modulo (``tf.math.floormod``, same as Python's ``%``); steps
    before ``begin`` are excluded by the range test anyway.
    """
    t = _steps(step)
    in_range = (t >= begin_step) & ((t <= end_step) | (end_step < 0))
    turn = np.mod(t - begin_step, frequency) == 0
    out = in_range & turn
    return bool(out) if np.ndim(step) == 0 else out


def _validate_steps(begin_step: int, end_step: int, frequency: int,
                    allow_forever: bool) -> None:
    if begin_step < 0:
        raise ValueError("begin_step should be >= 0")
    if not allow_forever and end_step == -1:
        raise ValueError("end_step cannot be -1")
    if end_step != -1:
        if end_step < 0:
            raise ValueError("end_step can be -1 or >= 0")
        if end_step < begin_step:
            raise ValueError("begin_step should be <= end_step if end_step != -1")
    if frequency <= 0:
        raise ValueError("frequency should be > 0")


def _validate_sparsity(value: float, name: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in range [0,1)")


class PruningSchedule:
    """Protocol shared by the schedules: ``schedule(step) -> (should_prune, sparsity)``."""

    begin_step: int
    end_step: int
    frequency: int

    def should_prune(self, step: ArrayLike) -> BoolOrArray:
        """Whether the mask is recomputed at ``step`` (vectorised)."""
        return should_prune(step, self.begin_step, self.end_step, self.frequency)

    def sparsity(self, step: ArrayLike, *,
                 graph: bool = True) -> F32OrArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, step: ArrayLike, *, graph: bool = True
                 ) -> tuple[BoolOrArray, F32OrArray]:
        return self.should_prune(step), self.sparsity(step, graph=graph)

    def update_steps(self, last_step: int) -> NDArray[np.int64]:
        """The training steps in ``1..last_step`` at which the mask is recomputed."""
        steps = np.arange(1, last_step + 1, dtype=np.int64)
        return steps[self.should_prune(steps)]


@dataclass(frozen=True)
class ConstantSparsity(PruningSchedule):
    """Constant sparsity ``float32(target_sparsity)`` every ``frequency`` steps.

    Parameters
    ----------
    target_sparsity : float in [0, 1)
    begin_step : int >= 0
    end_step : int, -1 (prune forever) or >= begin_step
    frequency : int > 0 (tfmot's default 100)
    """

    target_sparsity: float
    begin_step: int
    end_step: int = -1
    frequency: int = 100

    def __post_init__(self) -> None:
        _validate_steps(self.begin_step, self.end_step, self.frequency, True)
        _validate_sparsity(self.target_sparsity, "target_sparsity")

    def sparsity(self, step: ArrayLike, *, graph: bool = True) -> F32OrArray:
        """``float32(target_sparsity)`` for every step (shape of ``step``); ``graph``
        makes no difference here."""
        t = _steps(step)
        return _unwrap(np.full(t.shape, self.target_sparsity, dtype=np.float32), step)


@dataclass(frozen=True)
class PolynomialDecay(PruningSchedule):
    """Sparsity rising from ``initial_sparsity`` to ``final_sparsity`` as a polynomial.

    ``s(t) = final + (initial - final) * (1 - p)**power``, ``p`` the clipped progress
    through ``[begin_step, end_step]`` (module docstring for the float32 details).

    Parameters
    ----------
    initial_sparsity, final_sparsity : float in [0, 1)
    begin_step : int >= 0
    end_step : int >= begin_step (-1 is rejected)
    power : float, default 3
    frequency : int > 0, default 100

    Notes
    -----
    tfmot divides by ``end_step - begin_step``; with ``end_step == begin_step`` that
    is 0/0 at the begin step. Here p is then NaN (NumPy's min/max propagate it); TF's
    value in that case was not checked.
    """

    initial_sparsity: float
    final_sparsity: float
    begin_step: int
    end_step: int
    power: float = 3
    frequency: int = 100

    def __post_init__(self) -> None:
        _validate_steps(self.begin_step, self.end_step, self.frequency, False)
        _validate_sparsity(self.initial_sparsity, "initial_sparsity")
        _validate_sparsity(self.final_sparsity, "final_sparsity")

    def sparsity(self, step: ArrayLike, *, graph: bool = True) -> F32OrArray:
        """float32 sparsity at ``step`` (vectorised), tfmot's operation order.

        ``graph=True`` reproduces a ``tf.function`` (Grappler's rewrite of the power),
        ``graph=False`` eager execution; see the module docstring.
        """
        t = _steps(step)
        elapsed = (t - self.begin_step).astype(np.float32)
        span = np.float32(self.end_step - self.begin_step)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Graph mode: Grappler turns x / const into x * (1 / const).
            ratio = elapsed * (np.float32(1.0) / span) if graph else elapsed / span
        # tf.minimum(1, tf.maximum(0, x)) propagates NaN (Eigen's scalar_min/max).
        p = np.minimum(np.float32(1.0), np.maximum(np.float32(0.0), ratio))
        base = np.float32(1.0) - p
        scale = np.float32(self.initial_sparsity - self.final_sparsity)  # double, then f32
        if graph and float(self.power) == 3:  # Mul(Mul(c, x), Square(x)) after Grappler
            decayed = (scale * base) * (base * base)
        elif graph:
            decayed = scale * _grappler_pow(base, float(self.power))
        else:
            decayed = scale * _powf(base, np.float32(self.power))
        out = np.asarray(decayed, dtype=np.float32) + np.float32(self.final_sparsity)
        return _unwrap(np.asarray(out, dtype=np.float32), step)


def _powf(base: NDArray[np.float32], exponent: np.float32) -> NDArray[np.float32]:
    """TF's scalar ``Pow`` kernel: glibc ``powf``."""
    return powf(base, exponent)


def _grappler_pow(base: NDArray[np.float32], exponent: float) -> NDArray[np.float32]:
    """``Pow`` after Grappler's ``ConvertPowStage`` (CPU): float32 ops per exponent."""
    base = np.asarray(base, dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if exponent == 3:
            return base * (base * base)
        if exponent == 2:
            return base * base
        if exponent == 1:
            return base.copy()
        if exponent == 0.5:
            return np.sqrt(base)
        if exponent == 0:
            return np.ones_like(base)
        if exponent == -0.5:
            return np.float32(1.0) / np.sqrt(base)
        if exponent == -1:
            return np.float32(1.0) / base
    return _powf(base, np.float32(exponent))
