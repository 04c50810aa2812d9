"""Child process that runs one runtime for :mod:`compare.runtimes` (``isolate=True``).

Started as ``python -m compare._child``; lives as long as its parent keeps stdin open.

Protocol: each message, in both directions, is one *frame*: an 8-byte little-endian
length followed by that many bytes of pickle. The parent sends request dicts on the
child's stdin; the child answers each with one frame on the stdout it inherited. Before
serving, the child moves fd 1 onto fd 2, so whatever C/C++ code prints (TFLM's
MicroPrintf, LiteRT's INFO lines, an abort message) lands in the parent's log file and
cannot corrupt the frames.

Requests
--------
``{"op": "run", "runtime", "options", "model", "inputs", "intermediates"}``
    -> a :class:`compare.runtimes.RunResult` (the runtime built with ``isolate=False``
    and kept for later requests with the same name and options).
``{"op": "ping"}``
    -> ``"pong"`` (measures the round trip).
``{"op": "abort"}`` / ``{"op": "sleep", "seconds": s}``
    -> the child calls ``os.abort()`` / sleeps, then answers ``"slept"``: test hooks for
    crash and timeout reporting.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import sys
import time
from typing import IO, Any

_HEADER = struct.Struct("<Q")


def write_frame(stream: IO[bytes], obj: Any) -> None:
    """Pickle ``obj`` and write it as one frame, then flush."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


class FrameReader:
    """Reads one frame from a raw file descriptor, with an optional deadline.

    Raises ``EOFError`` when the other side closed the pipe (for the parent: the child
    died) and ``TimeoutError`` when ``time.monotonic()`` passes the deadline.
    """

    def __init__(self, fd: int):
        self.fd = fd

    def _read_exact(self, n: int, deadline: float | None) -> bytes:
        chunks = []
        while n > 0:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read(self, deadline: float | None = None) -> Any:
        (length,) = _HEADER.unpack(self._read_exact(_HEADER.size, deadline))
        return pickle.loads(self._read_exact(length, deadline))


def main() -> int:
    reply_stream = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # C-level stdout joins stderr, away from the frames
    sys.stdout = sys.stderr
    requests = FrameReader(0)

    from compare.runtimes import RunResult, get_runtime

    runtimes: dict[tuple[Any, ...], Any] = {}
    while True:
        try:
            request = requests.read()
        except EOFError:
            return 0
        op = request.get("op")
        if op == "ping":
            write_frame(reply_stream, "pong")
        elif op == "abort":
            os.abort()
        elif op == "sleep":
            time.sleep(float(request["seconds"]))
            write_frame(reply_stream, "slept")
        elif op == "run":
            key = (request["runtime"], tuple(sorted(request["options"].items())))
            if key not in runtimes:
                runtimes[key] = get_runtime(
                    request["runtime"], isolate=False, **request["options"]
                )
            result = runtimes[key].run(
                request["model"], request["inputs"], intermediates=request["intermediates"]
            )
            try:
                write_frame(reply_stream, result)
            except (pickle.PicklingError, TypeError, AttributeError) as e:
                write_frame(
                    reply_stream,
                    RunResult(request["runtime"], "error", message=f"cannot send result: {e}"),
                )
        else:
            write_frame(reply_stream, RunResult("?", "error", message=f"unknown request {op!r}"))


if __name__ == "__main__":
    sys.exit(main())
