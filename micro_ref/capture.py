"""Capture what C/C++ code prints on file descriptors 1 and 2.

TFLM reports its errors with ``MicroPrintf`` straight to the process's stderr
("Didn't find op for builtin opcode 'TOPK_V2'", "Failed to resize buffer. Requested:
...", "Node FULLY_CONNECTED (number 0) failed to prepare"), while the Python exception
only says "TFLM failed to allocate tensors". :func:`capture_fds` points descriptors 1 and
2 at a temporary file for the duration of a block, so that this text stays out of the
caller's output and can be put into the exception message instead.

File descriptors are process-wide: a lock serialises captures between threads, and a
capture nested in another one (same thread) simply joins the outer one.

The capture file is named ``micro_ref_capture_<pid>_*.log`` in the temporary directory
and deleted when the block ends. If the process dies inside the block (TFLM aborting),
the file stays: :func:`leftover_captures` lets whoever watched the process read it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

CAPTURE_PREFIX = "micro_ref_capture_"

_lock = threading.RLock()
_active = threading.local()  # .sink: the fd everything is redirected to, on this thread


class Captured:
    """Text written to fds 1/2 inside a :func:`capture_fds` block (set when it ends)."""

    def __init__(self) -> None:
        self.text = ""


def _flush_c_stdio() -> None:
    # C stdio buffers stdout when it is not a terminal; flush every FILE* so that text
    # printed inside the block lands in the capture file, not after the restore.
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no libc symbol table (unusual platforms)
        pass


def _flush_python() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass


def _read_since(fd: int, start: int) -> str:
    end = os.lseek(fd, 0, os.SEEK_CUR)
    return os.pread(fd, max(0, end - start), start).decode("utf-8", errors="replace")


@contextlib.contextmanager
def capture_fds() -> Iterator[Captured]:
    """Redirect fds 1 and 2 to a temporary file inside the block.

    Yields a :class:`Captured` whose ``text`` holds what was written inside this block
    (decoded as UTF-8 with replacement) once it has ended, also when it ends with an
    exception. A nested block shares the outer redirection and sees its own part.
    """
    captured = Captured()
    sink = getattr(_active, "sink", None)
    if sink is not None:  # nested on this thread: already redirected
        start = os.lseek(sink, 0, os.SEEK_CUR)
        try:
            yield captured
        finally:
            _flush_python()
            _flush_c_stdio()
            captured.text = _read_since(sink, start)
        return
    with _lock:
        _flush_python()
        _flush_c_stdio()
        fd, path = tempfile.mkstemp(prefix=f"{CAPTURE_PREFIX}{os.getpid()}_", suffix=".log")
        saved = [os.dup(1), os.dup(2)]
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            _active.sink = fd
            yield captured
        finally:
            _active.sink = None
            _flush_python()
            _flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            captured.text = _read_since(fd, 0)
            os.close(fd)
            os.unlink(path)


def leftover_captures(pid: int, *, remove: bool = True) -> str:
    """Text of the capture files a dead process ``pid`` left behind (then deleted)."""
    texts = []
    for path in sorted(Path(tempfile.gettempdir()).glob(f"{CAPTURE_PREFIX}{pid}_*.log")):
        try:
            texts.append(path.read_bytes().decode("utf-8", errors="replace"))
            if remove:
                path.unlink()
        except OSError:
            pass
    return "".join(texts)
