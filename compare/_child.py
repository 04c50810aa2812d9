"""Both ends of the pipe to the child processes of :mod:`compare.runtimes` (``isolate=True``).

Parent side: :class:`Worker` starts ``python -m compare._child`` on first use, sends
requests, waits with a deadline, and reports a death (exit status, signal) or a timeout
instead of raising; the next request starts a new child. Child side: :func:`main`
serves requests until its stdin closes.

The child's stderr goes to an ``O_APPEND`` temporary file that the parent truncates
before each request, so after a crash it holds exactly what the runtime printed while
handling the request that killed it (plus what :func:`micro_ref.capture_fds` had
captured in the child when it died, see :func:`micro_ref.leftover_captures`).

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
``{"op": "abort", "message": m}`` / ``{"op": "sleep", "seconds": s}``
    -> the child prints ``m`` inside an fd capture and calls ``os.abort()`` / sleeps,
    then answers ``"slept"``: test hooks for crash and timeout reporting.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from micro_ref.capture import capture_fds, leftover_captures

STARTUP_TIMEOUT = 120.0  # extra seconds for a new child's imports, on its first request

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


# ------------------------------------------------------------------------------------
# Parent side
# ------------------------------------------------------------------------------------
def _repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


class Worker:
    """A long-lived ``python -m compare._child`` and the pipe protocol to talk to it."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None  # child's stderr (and C-level stdout): an O_APPEND temp file
        self._lock = threading.Lock()
        self.starts = 0

    def _spawn(self) -> None:
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile(mode="a+b")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_repo_root()), env.get("PYTHONPATH", "")) if p
        )
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "compare._child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            close_fds=True,
        )
        self.starts += 1

    def _read_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", errors="replace")

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        try:
            return proc.wait(timeout=10)
        finally:
            # What the runtime printed inside micro_ref's fd capture before dying.
            left = leftover_captures(proc.pid)
            if left and self._log is not None:
                self._log.write(left.encode("utf-8"))
                self._log.flush()
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Ask the child to exit (EOF on its stdin), then make sure it has."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def call(self, request: dict[str, Any], timeout: float) -> tuple[str, Any, str]:
        """Send one request; returns ``(kind, payload, log)``.

        ``kind`` is ``"reply"`` (payload: the child's answer), ``"died"`` (payload: the
        exit status, negative for a signal) or ``"timeout"`` (the child was killed).
        ``log`` is what the child printed while handling this request.
        """
        with self._lock:
            fresh = self._proc is None or self._proc.poll() is not None
            if fresh:
                self._kill()
                self._spawn()
            assert self._proc is not None and self._proc.stdin and self._proc.stdout
            self._log.truncate(0)
            deadline = time.monotonic() + timeout + (STARTUP_TIMEOUT if fresh else 0.0)
            try:
                write_frame(self._proc.stdin, request)
                reply = FrameReader(self._proc.stdout.fileno()).read(deadline)
            except TimeoutError:
                self._kill()
                return "timeout", None, self._read_log()
            except (BrokenPipeError, EOFError, ConnectionError):
                status = self._kill()
                return "died", status, self._read_log()
            return "reply", reply, self._read_log()


_WORKERS: dict[tuple[Any, ...], Worker] = {}
_WORKERS_LOCK = threading.Lock()


def worker_for(key: tuple[Any, ...]) -> Worker:
    """The worker for one runtime configuration, shared by every caller."""
    with _WORKERS_LOCK:
        if key not in _WORKERS:
            _WORKERS[key] = Worker()
        return _WORKERS[key]


@atexit.register
def shutdown_workers() -> None:
    """Stop every child process (also run at exit); a later request starts a new one.

    A child whose parent dies without this sees EOF on its stdin and exits by itself.
    """
    with _WORKERS_LOCK:
        workers = list(_WORKERS.values())
    for w in workers:
        w.close()


def signal_name(status: int | None) -> str:
    """'SIGABRT' for a Popen return code of -6, 'exit status 3' for 3."""
    if status is None:
        return "unknown exit"
    if status < 0:
        try:
            return signal.Signals(-status).name
        except ValueError:
            return f"signal {-status}"
    return f"exit status {status}"



# ------------------------------------------------------------------------------------
# Child side
# ------------------------------------------------------------------------------------
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
            with capture_fds():  # as a runtime would be when it aborts
                os.write(2, str(request.get("message", "")).encode())
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
