"""FLOOR_DIV and FLOOR_MOD: division rounding toward -inf and the matching remainder,
element-wise with broadcasting (rank <= 6 here).

Types with a kernel: LiteRT FLOOR_DIV float32, int32, int16, int8; FLOOR_MOD the same
plus int64 (one kernel each, registered by both resolvers; XNNPACK takes neither). TFLM:
float32 only (other types fail its Eval with "Type ... is not supported").

Arithmetic
----------
FLOOR_DIV, every type (``reference_ops::FloorDiv``)::

    out = T( floor( double(a) / double(b) ) )

The double quotient of two int32 is never rounded onto an integer it is not (its
distance to one is at least 1/|b|, far above the double's spacing), so for integers
this is exact floor division: floor_div(-7, 2) = -4 (C's ``/`` would give -3). Only
``T_MIN / -1`` leaves the type, and the conversion of ``-T_MIN`` back to ``T`` is
undefined in C++. What x86 LiteRT 2.3.0 gives (measured):

* int32: INT32_MIN (``cvttsd2si`` / ``cvttpd2dq`` return the "integer indefinite").
* int8 / int16, same-shape inputs: the loop is vectorised 8 elements at a time and the
  vector path saturates (128 -> 127, 32768 -> 32767) while the scalar tail wraps (->
  -128 / -32768): element ``i`` of ``n`` saturates when ``i < 8 * (n // 8)``.
* int8 / int16, broadcast inputs (``BroadcastBinaryFunction4DSlow``, a function pointer
  per element): always wraps. (See ``KNOWN_BUGS``: the result depends on the position.)

float32: the quotient in double, floored, rounded to float32 (not ``np.floor_divide``,
which works from ``fmod``). Any zero in the divisor tensor (also ``-0.0``, also an
element broadcasting never reaches) fails the invoke with "Division by 0", for every
type, on LiteRT and TFLM; refimpl raises :class:`~refimpl.errors.OpError`.

FLOOR_MOD (``reference_ops::FloorMod``), a remainder with the divisor's sign::

    r   = a % b            (C: truncated; float32: std::fmod, exact)
    out = r + b   if r != 0 and (b < 0) != (r < 0)   else r

floor_mod(-7, 2) = 1, floor_mod(7, -2) = -1, floor_mod(7., -2.) = -1.; a zero remainder
keeps its sign (``fmod(-4., 2.) = -0.``). Integer divisors are checked for zero ("Division
by 0"); float32 ones are not (``fmod(x, 0) = NaN``). int32 / int64 ``T_MIN % -1``: x86
``idiv`` traps and the runtime process dies with SIGFPE (the true remainder is 0);
refimpl raises an OpError instead (``KNOWN_BUGS``). int8 / int16 promote to int: 0.

Mirrors: tflite/kernels/floor_div.cc, floor_mod.cc, internal/reference/floor_div.h,
floor_mod.h, binary_function.h; micro/kernels/floor_div.cc, floor_mod.cc.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import Kernel, OpContext
from .elementwise import broadcast_shape

_F32 = np.dtype(np.float32)
_INTS = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
#: types with a kernel, per op and runtime family
SUPPORTED = {
    ("FLOOR_DIV", "tflite"): (_F32, *_INTS[:3]),
    ("FLOOR_MOD", "tflite"): (_F32, *_INTS),
    ("FLOOR_DIV", "tflm"): (_F32,),
    ("FLOOR_MOD", "tflm"): (_F32,),
}
#: elements per vector step of the same-shape int8 / int16 FLOOR_DIV loop (measured)
FLOOR_DIV_VECTOR = 8


@dataclass(frozen=True)
class OpData:
    shape: tuple[int, ...]
    dtype: np.dtype
    broadcast: bool  # input shapes differ: the per-element function-pointer loop
    vector_saturates: bool  # int8/int16 FLOOR_DIV on LiteRT: see the module docstring


def _prepare(ctx: OpContext) -> OpData:
    a, b, out = ctx.input(0), ctx.input(1), ctx.output(0)
    dt = np.dtype(a.dtype)
    if not (dt == np.dtype(b.dtype) == np.dtype(out.dtype)):
        raise ctx.error(f"inputs {a.describe()}, {b.describe()} and output {out.describe()} "
                        "must share one type")
    allowed = SUPPORTED[(ctx.op_name, "tflm" if ctx.flavor.tflm else "tflite")]
    if dt not in allowed:
        raise ctx.unsupported(supported=", ".join(t.name for t in allowed))
    shape = broadcast_shape(ctx, a.shape, b.shape)
    ctx.set_output_shape(0, shape)
    broadcast = tuple(a.shape) != tuple(b.shape)
    saturates = (ctx.op_name == "FLOOR_DIV" and dt.itemsize <= 2 and dt.kind == "i"
                 and not ctx.flavor.tflm)
    return OpData(shape, dt, broadcast, saturates)


def _check_divisor(ctx: OpContext, b: np.ndarray, integers_only: bool) -> None:
    if integers_only and b.dtype.kind == "f":
        return
    if b.size and (b == 0).any():
        raise ctx.error(f"division by 0: the divisor '{ctx.input(1).name}' holds a zero "
                        f"(at flat index {int(np.argmax(b.reshape(-1) == 0))})")


def floor_div_invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    _check_divisor(ctx, b, integers_only=False)
    # floor(double(a) / double(b)): exact for integers (see the module docstring)
    with np.errstate(invalid="ignore", over="ignore"):  # inf / inf, NaN: as in C
        q = np.floor(a.astype(np.float64) / b.astype(np.float64))
        q = np.broadcast_to(q, data.shape)
        if data.dtype == _F32:
            return [q.astype(np.float32)]  # beyond FLT_MAX: inf, as x86 cvtsd2ss
    info = np.iinfo(data.dtype)
    over = q > info.max  # only T_MIN / -1, which gives -T_MIN
    if over.any():
        wrapped = np.where(over, info.min, q)
        if data.vector_saturates and not data.broadcast:
            vector_part = np.arange(q.size).reshape(q.shape) < (
                FLOOR_DIV_VECTOR * (q.size // FLOOR_DIV_VECTOR))
            q = np.where(over & vector_part, info.max, wrapped)
        else:
            q = wrapped
    return [q.astype(data.dtype)]


def floor_mod_invoke(ctx: OpContext, data: OpData, inputs: list) -> list[np.ndarray]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    _check_divisor(ctx, b, integers_only=True)
    a, b = np.broadcast_arrays(a, b)
    if data.dtype == _F32:
        with np.errstate(invalid="ignore"):
            r = np.fmod(a, b)  # exact, sign of a (C fmod)
            fix = (r != 0) & ((b < 0) != (r < 0))
            out = np.where(fix, (r + b).astype(np.float32), r)
        return [np.ascontiguousarray(out, dtype=np.float32)]
    if data.dtype.itemsize >= 4:
        info = np.iinfo(data.dtype)
        trap = (a == info.min) & (b == -1)
        if trap.any():
            raise ctx.error(f"{data.dtype.name} {info.min} % -1: x86 idiv traps and LiteRT "
                            "dies with SIGFPE (the remainder would be 0); refimpl refuses")
    r = np.fmod(a, b)  # integer fmod truncates like C's %, sign of a
    fix = (r != 0) & ((b < 0) != (r < 0))
    return [np.where(fix, r + b, r).astype(data.dtype)]


FLOOR_DIV = Kernel(_prepare, floor_div_invoke)
FLOOR_MOD = Kernel(_prepare, floor_mod_invoke)
