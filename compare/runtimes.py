"""One interface over every runtime refimpl is compared with.

>>> rt = get_runtime("litert-ref")                       # doctest: +SKIP
>>> res = rt.run(model_bytes, [x_batch], intermediates=True)
>>> res.status, res.outputs[0].shape, sorted(res.tensors)[:3], res.seconds

=================  ==========================================================  =========
name               what runs                                                   isolated
=================  ==========================================================  =========
refimpl            ``refimpl.Interpreter(flavor="tflite-ref")``                no
refimpl-tflm       ``refimpl.Interpreter(flavor="tflm")``                      no
refimpl-builtin    ``refimpl.Interpreter(flavor="tflite-builtin")``            no
refimpl-xnnpack    ``refimpl.Interpreter(flavor="xnnpack")``                   no
litert-ref         LiteRT, ``OpResolverType.BUILTIN_REF`` (reference kernels)  yes
litert-builtin     LiteRT, ``BUILTIN_WITHOUT_DEFAULT_DELEGATES`` (optimized)   no
litert-xnnpack     LiteRT, ``AUTO`` (optimized + XNNPACK delegate)             no
tflm               TFLM x86 via :mod:`micro_ref`                               yes
=================  ==========================================================  =========

Every runtime takes full batches: ``inputs[k]`` holds N rows for model input k. LiteRT
and refimpl resize a batch-1 model to N when the graph allows it (checked: each output
whose model batch is 1 must come back with batch N) and otherwise, like TFLM, invoke
once per row. Rows are independent: variable tensors are reset before each row.

Outcomes are data, not exceptions (:class:`RunResult.status`):

* ``ok``          outputs (and tensors, when asked) are filled in;
* ``unsupported`` the runtime refused the model while loading or preparing it (unknown
  op, hybrid model on TFLM, invalid quantization for LiteRT...); ``message`` says why;
* ``crashed``     the child process running the runtime died (SIGABRT from a failed
  ``TFLITE_CHECK``, SIGSEGV) or timed out; ``message`` names the signal and holds the
  tail of what the runtime printed;
* ``error``       anything else: bad inputs, an invoke failure, a bug in an adapter.

Isolation. LiteRT's reference kernels and TFLM abort the whole process on some models
the converter accepts (int8 SOFTMAX whose ``beta * input_scale * 2**26 <= 1`` fails
``TFLITE_CHECK_GT`` in ``QuantizeMultiplierGreaterThanOne``). Those runtimes therefore
run in a child process by default (``isolate=True``): one long-lived
``python -m compare._child`` per runtime configuration, fed pickled requests over a
pipe (see :mod:`compare._child`), restarted after a crash or a timeout. A subprocess with
an explicit protocol, rather than ``multiprocessing``, because it never forks a parent
that has TF/LiteRT threads running and never re-imports the caller's ``__main__``.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np

from micro_ref import ModelInfo, capture_fds, read_model_info

from ._child import shutdown_workers, signal_name, worker_for

__all__ = [
    "RUNTIMES",
    "REFIMPL_FOR",
    "ISOLATED_BY_DEFAULT",
    "get_runtime",
    "shutdown_workers",
    "Runtime",
    "RunResult",
    "Status",
    "LiteRTRuntime",
    "MicroRuntime",
    "RefimplRuntime",
    "IsolatedRuntime",
    "tensor_keys",
    "stack_rows",
]

Status = Literal["ok", "unsupported", "crashed", "error"]

DEFAULT_TIMEOUT = 600.0  # seconds per call, child start-up excluded
_LOG_TAIL = 4000  # characters of a runtime's output kept in messages


@dataclass
class RunResult:
    """What one :meth:`Runtime.run` call produced.

    Attributes
    ----------
    runtime : str
    status : ``"ok" | "unsupported" | "crashed" | "error"``
    outputs : list of np.ndarray
        One per model output, batch-first, in the output tensors' dtype.
    tensors : dict of str to np.ndarray
        With ``intermediates=True``: every non-constant tensor of subgraph 0 (inputs,
        activations, outputs, variables) keyed by :func:`tensor_keys`. Per-row runs
        join rows with :func:`stack_rows`, so a tensor without a batch dimension (a
        SHAPE result, say) reads ``[N, ...]`` there but once in a resized run.
    seconds : float
        Wall time inside the runtime (build, allocate, set, invoke, read), measured in
        the process that ran it; excludes child start-up and pipe transfer.
    wall_seconds : float
        Wall time of the whole call as the caller saw it.
    message : str
        Why, when the status is not ``ok``.
    log : str
        What the runtime printed on fds 1/2 during the call.
    batching : str
        ``"single"`` (inputs had the model's shapes), ``"resized"`` or ``"per-row"``.
    """

    runtime: str
    status: Status
    outputs: list[np.ndarray] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    wall_seconds: float = 0.0
    message: str = ""
    log: str = ""
    batching: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Runtime(Protocol):
    """A runtime that runs a .tflite model on a batch of inputs."""

    name: str

    def run(
        self, model: bytes, inputs: Sequence[np.ndarray], *, intermediates: bool = False
    ) -> RunResult: ...


# ------------------------------------------------------------------------------------
# Shared helpers
# ------------------------------------------------------------------------------------
def tensor_keys(info: Any) -> dict[int, str]:
    """Key of every tensor in :attr:`RunResult.tensors`: its name, made unique.

    ``info`` is anything with a ``tensors`` sequence of objects having ``index`` and
    ``name`` (micro_ref's ModelInfo, a ``tflite_schema`` SubGraph).
    An empty name becomes ``tensor#<index>``; a name used by several tensors becomes
    ``<name>#<index>`` for each of them. Every runtime uses this, so keys agree.
    """
    counts: dict[str, int] = {}
    for t in info.tensors:
        counts[t.name] = counts.get(t.name, 0) + 1
    keys = {}
    for t in info.tensors:
        if not t.name:
            keys[t.index] = f"tensor#{t.index}"
        elif counts[t.name] > 1:
            keys[t.index] = f"{t.name}#{t.index}"
        else:
            keys[t.index] = t.name
    return keys


def stack_rows(parts: Sequence[np.ndarray]) -> np.ndarray:
    """Join per-row results: along axis 0 when each has a leading 1, else on a new axis."""
    if all(p.ndim >= 1 and p.shape[0] == 1 for p in parts):
        return np.concatenate(parts, axis=0)
    return np.stack(parts, axis=0)


class _InputMismatch(Exception):
    """The arrays given cannot feed the model (count, shape)."""


class _LoadError(Exception):
    """Building or allocating the interpreter failed (the cause is chained)."""


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _LOG_TAIL else "..." + text[-_LOG_TAIL:]


def _batch_size(info: ModelInfo, inputs: Sequence[np.ndarray]) -> int:
    """N, when every array is its batch-1 model input with a leading N instead of 1."""
    counts = set()
    for k, (idx, x) in enumerate(zip(info.inputs, inputs)):
        shape = info.tensors[idx].shape
        if not (shape and shape[0] == 1 and x.ndim == len(shape) and x.shape[1:] == shape[1:]):
            raise _InputMismatch(
                f"input {k} '{info.tensors[idx].name}': model shape {list(shape)} cannot take "
                f"an array of shape {list(x.shape)}"
            )
        counts.add(x.shape[0])
    if len(counts) != 1:
        raise _InputMismatch(f"inputs disagree on the batch size: {sorted(counts)}")
    n = counts.pop()
    if n == 0:
        raise _InputMismatch("empty batch")
    return n


def _load(make: Callable[[], Any]) -> Any:
    try:
        it = make()
        it.allocate_tensors()
    except Exception as e:
        raise _LoadError(str(e)) from e
    return it


def _invoke_once(
    it: Any, info: ModelInfo, inputs: Sequence[np.ndarray], intermediates: bool
) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    for idx, x in zip(info.inputs, inputs):
        it.set_tensor(idx, x)
    it.invoke()
    outputs = [np.array(it.get_tensor(i)) for i in info.outputs]
    tensors: dict[int, np.ndarray] = {}
    if intermediates:
        for t in info.tensors:
            if t.is_constant:
                continue
            try:
                tensors[t.index] = np.array(it.get_tensor(t.index))
            except ValueError:  # LiteRT: "Tensor data is null" (optional, never written)
                pass
    return outputs, tensors


def _batched_correctly(info: ModelInfo, outputs: Sequence[np.ndarray], n: int) -> bool:
    """After a resize to batch n: every batch-1 output must have come back with batch n."""
    for idx, y in zip(info.outputs, outputs):
        shape = info.tensors[idx].shape
        if shape and shape[0] == 1 and y.shape != (n, *shape[1:]):
            return False
    return True


def _run_tf_api(
    make: Callable[[], Any],
    info: ModelInfo,
    inputs: Sequence[np.ndarray],
    *,
    intermediates: bool,
    can_resize: bool,
) -> tuple[list[np.ndarray], dict[int, np.ndarray], str]:
    """Run a batch through any interpreter with the ``tf.lite.Interpreter`` API.

    ``make()`` builds a fresh interpreter. Returns outputs, tensors by index (when
    ``intermediates``) and the batching used. Raises :class:`_LoadError` when building
    or allocating fails and :class:`_InputMismatch` when the arrays cannot feed the model;
    anything else propagates.
    """
    inputs = [np.asarray(x) for x in inputs]
    if len(inputs) != len(info.inputs):
        raise _InputMismatch(f"model has {len(info.inputs)} inputs, got {len(inputs)}")
    it = _load(make)
    if all(x.shape == info.tensors[i].shape for i, x in zip(info.inputs, inputs)):
        outputs, tensors = _invoke_once(it, info, inputs, intermediates)
        return outputs, tensors, "single"
    n = _batch_size(info, inputs)
    if can_resize:
        try:
            for idx, x in zip(info.inputs, inputs):
                it.resize_tensor_input(idx, list(x.shape), strict=False)
            it.allocate_tensors()
            outputs, tensors = _invoke_once(it, info, inputs, intermediates)
            if _batched_correctly(info, outputs, n):
                return outputs, tensors, "resized"
        except Exception:  # resizing is an optimisation; the per-row loop is the truth
            pass
        it = _load(make)  # a failed resize can leave the interpreter unusable
    has_state = any(t.is_variable for t in info.tensors)
    per_row: list[tuple[list[np.ndarray], dict[int, np.ndarray]]] = []
    for r in range(n):
        if has_state and hasattr(it, "reset_all_variables"):
            it.reset_all_variables()
        per_row.append(_invoke_once(it, info, [x[r : r + 1] for x in inputs], intermediates))
    outputs = [stack_rows([row[0][k] for row in per_row]) for k in range(len(info.outputs))]
    tensors = {}
    if intermediates:
        common = set.intersection(*(set(row[1]) for row in per_row))
        tensors = {i: stack_rows([row[1][i] for row in per_row]) for i in sorted(common)}
    return outputs, tensors, "per-row"


# ------------------------------------------------------------------------------------
# In-process adapters
# ------------------------------------------------------------------------------------
class _InProcess:
    """Common driver: read the model, run :func:`_run_tf_api`, turn exceptions into status."""

    name: str
    can_resize = True

    def _make(self, model: bytes, intermediates: bool) -> Callable[[], Any]:
        raise NotImplementedError

    def _load_status(self, exc: BaseException) -> Status:
        """Status of a failure while building/allocating (default: the model is refused)."""
        return "unsupported"

    def _invoke_status(self, exc: BaseException) -> Status:
        """Status of a failure after loading (default: an error, not a refusal)."""
        return "error"

    def run(
        self, model: bytes, inputs: Sequence[np.ndarray], *, intermediates: bool = False
    ) -> RunResult:
        t_call = time.perf_counter()
        result = RunResult(self.name, "error")
        with capture_fds() as cap:
            t0 = time.perf_counter()
            try:
                info = read_model_info(bytes(model))
                outputs, tensors, batching = _run_tf_api(
                    self._make(bytes(model), intermediates),
                    info,
                    inputs,
                    intermediates=intermediates,
                    can_resize=self.can_resize,
                )
                keys = tensor_keys(info)
                result = replace(
                    result,
                    status="ok",
                    outputs=outputs,
                    tensors={keys[i]: v for i, v in tensors.items()},
                    batching=batching,
                )
            except _LoadError as e:
                cause = e.__cause__ if e.__cause__ is not None else e
                result.status = self._load_status(cause)
                result.message = f"{type(cause).__name__}: {cause}"
            except _InputMismatch as e:
                result.message = f"inputs do not fit the model: {e}"
            except Exception as e:  # an invoke failure or an adapter bug: keep the trace
                result.status = self._invoke_status(e)
                result.message = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"
            result.seconds = time.perf_counter() - t0
        result.log = cap.text
        if result.status != "ok" and cap.text.strip():
            result.message += f"\n--- runtime output ---\n{_tail(cap.text)}"
        result.wall_seconds = time.perf_counter() - t_call
        return result


#: What TFLM's kernels print when Eval meets a type they have no code for.
_TFLM_TYPE_REFUSAL = re.compile(
    r"not (currently )?supported|currently not supported|supported currently|"
    r"is not supported|does not support type", re.IGNORECASE)


def _litert_invoke_status(self, exc: BaseException) -> Status:
    """LiteRT too checks some types only in Eval ("Only float32, uint8, int8 supported
    currently, got INT16"): a refusal, not an error."""
    return "unsupported" if _TFLM_TYPE_REFUSAL.search(str(exc)) else "error"


_LITERT_RESOLVERS = {
    "litert-ref": "BUILTIN_REF",
    "litert-builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "litert-xnnpack": "AUTO",
}


class LiteRTRuntime(_InProcess):
    """LiteRT's Python interpreter with one op resolver, single-threaded.

    ``experimental_preserve_all_tensors`` is set only when intermediates are asked for
    (it changes memory planning and is documented as a debugging aid).
    """

    _invoke_status = _litert_invoke_status

    def __init__(self, name: str):
        if name not in _LITERT_RESOLVERS:
            raise ValueError(f"unknown LiteRT runtime {name!r}; known: {list(_LITERT_RESOLVERS)}")
        self.name = name
        self.resolver = _LITERT_RESOLVERS[name]

    def _make(self, model: bytes, intermediates: bool) -> Callable[[], Any]:
        import warnings

        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = getattr(OpResolverType, self.resolver)

        def make() -> Any:
            with warnings.catch_warnings():  # "preserve_all_tensors is for debugging"
                warnings.simplefilter("ignore", UserWarning)
                return Interpreter(
                    model_content=model,
                    num_threads=1,
                    experimental_op_resolver_type=resolver,
                    experimental_preserve_all_tensors=intermediates,
                )

        return make


class MicroRuntime(_InProcess):
    """TFLM through :class:`micro_ref.MicroInterpreter` (fixed shapes: row by row)."""

    can_resize = False

    def __init__(self, name: str = "tflm", arena_size: int | None = None):
        self.name = name
        self.arena_size = arena_size

    def _make(self, model: bytes, intermediates: bool) -> Callable[[], Any]:
        from micro_ref import MicroInterpreter

        return lambda: MicroInterpreter(
            model_content=model, arena_size=self.arena_size, preserve_all_tensors=intermediates
        )

    def _load_status(self, exc: BaseException) -> Status:
        from micro_ref import MicroUnsupportedError

        return "unsupported" if isinstance(exc, MicroUnsupportedError) else "error"

    def _invoke_status(self, exc: BaseException) -> Status:
        """TFLM checks some input types only in Eval ("Type INT16 not currently supported",
        "Only float32 and int8 are supported currently"): that is a refusal too."""
        from micro_ref import MicroInvokeError

        if isinstance(exc, MicroInvokeError) and _TFLM_TYPE_REFUSAL.search(str(exc)):
            return "unsupported"
        return "error"


class RefimplRuntime(_InProcess):
    """refimpl's NumPy interpreter with one flavour (imported lazily)."""

    def __init__(self, name: str = "refimpl", flavor: str = "tflite-ref"):
        self.name = name
        self.flavor = flavor

    def _make(self, model: bytes, intermediates: bool) -> Callable[[], Any]:
        import refimpl

        return lambda: refimpl.Interpreter(model_content=model, flavor=self.flavor)

    def _load_status(self, exc: BaseException) -> Status:
        from refimpl.errors import UnsupportedOpError

        return "unsupported" if isinstance(exc, UnsupportedOpError) else "error"


# ------------------------------------------------------------------------------------
# Isolation: one child process per runtime configuration
# ------------------------------------------------------------------------------------
class IsolatedRuntime:
    """Runs another runtime in a reusable child process (see the module docstring).

    Parameters
    ----------
    name : str
        A key of :data:`RUNTIMES`; the child builds it with ``isolate=False``.
    options : dict
        Keyword arguments for that runtime's factory (must be picklable).
    timeout : float
        Seconds a call may take (the first call of a new child gets
        :data:`compare._child.STARTUP_TIMEOUT` more for its imports); on expiry the child
        is killed and the result is ``crashed``.
    """

    def __init__(self, name: str, options: dict[str, Any] | None = None, *, timeout: float):
        self.name = name
        self.options = dict(options or {})
        self.timeout = timeout
        self._worker = worker_for((name, tuple(sorted(self.options.items()))))

    def run(
        self, model: bytes, inputs: Sequence[np.ndarray], *, intermediates: bool = False
    ) -> RunResult:
        request = {
            "op": "run",
            "runtime": self.name,
            "options": self.options,
            "model": bytes(model),
            "inputs": [np.asarray(x) for x in inputs],
            "intermediates": intermediates,
        }
        return self._call(request)

    def _call(self, request: dict[str, Any]) -> RunResult:
        t0 = time.perf_counter()
        kind, payload, log = self._worker.call(request, self.timeout)
        wall = time.perf_counter() - t0
        if kind == "reply" and isinstance(payload, RunResult):
            payload.wall_seconds = wall
            if log.strip():
                payload.log = (payload.log + "\n" + log).strip()
            return payload
        if kind == "timeout":
            message = f"timed out after {self.timeout:g} s; child killed (SIGKILL)"
        elif kind == "died":
            message = f"runtime process died: {signal_name(payload)}"
        else:
            message = f"unexpected reply from the child: {payload!r:.200}"
        if log.strip():
            message += f"\n--- runtime output ---\n{_tail(log)}"
        status: Status = "crashed" if kind in ("timeout", "died") else "error"
        return RunResult(self.name, status, wall_seconds=wall, message=message, log=log)

    def close(self) -> None:
        """Stop this runtime's child process (the next call starts a new one)."""
        self._worker.close()


# ------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------
RUNTIMES: dict[str, Callable[..., Any]] = {
    "refimpl": lambda **kw: RefimplRuntime("refimpl", "tflite-ref", **kw),
    "refimpl-tflm": lambda **kw: RefimplRuntime("refimpl-tflm", "tflm", **kw),
    "refimpl-builtin": lambda **kw: RefimplRuntime("refimpl-builtin", "tflite-builtin", **kw),
    "refimpl-xnnpack": lambda **kw: RefimplRuntime("refimpl-xnnpack", "xnnpack", **kw),
    "litert-ref": lambda **kw: LiteRTRuntime("litert-ref", **kw),
    "litert-builtin": lambda **kw: LiteRTRuntime("litert-builtin", **kw),
    "litert-xnnpack": lambda **kw: LiteRTRuntime("litert-xnnpack", **kw),
    "tflm": lambda **kw: MicroRuntime("tflm", **kw),
}

#: The refimpl runtime that reproduces each real runtime, and back.
REFIMPL_FOR: dict[str, str] = {
    "litert-ref": "refimpl",
    "litert-builtin": "refimpl-builtin",
    "litert-xnnpack": "refimpl-xnnpack",
    "tflm": "refimpl-tflm",
}

# Runtimes that can abort the process on converter-valid models run in a child by default.
ISOLATED_BY_DEFAULT = frozenset({"litert-ref", "tflm"})


def get_runtime(
    name: str, *, isolate: bool | None = None, timeout: float = DEFAULT_TIMEOUT, **options: Any
) -> Runtime:
    """The runtime called ``name`` (a key of :data:`RUNTIMES`).

    Parameters
    ----------
    isolate : bool, optional
        Run in a child process; default True for ``litert-ref`` and ``tflm``. Children
        are shared by every runtime object with the same name and options.
    timeout : float
        Per-call limit for an isolated runtime, in seconds.
    **options
        Passed to the runtime's factory (``arena_size`` for ``tflm``).
    """
    if name not in RUNTIMES:
        raise KeyError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}")
    if isolate is None:
        isolate = name in ISOLATED_BY_DEFAULT
    if isolate:
        return IsolatedRuntime(name, options, timeout=timeout)
    return RUNTIMES[name](**options)
