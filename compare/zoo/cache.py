"""On-disk cache of built models (training and conversion take a while).

Layout::

    <root>/<tensorflow version>/<name>-<artifact stem>-<key><artifact suffix>
    <root>/<tensorflow version>/<name>-<key>.json     # the parameters, for people
    <root>/<tensorflow version>/<name>-<key>.lock     # held while building

``<root>`` is ``$REFIMPL_CACHE_DIR`` when set, else ``<repo>/.cache/models`` (the repo
root is found from this file's location). ``<key>`` is a hash of the builder's
parameters, so changing any parameter (or bumping a ``builder_version`` entry) builds
anew beside the old files instead of reusing them. The TensorFlow version is part of
the path because the converter's output depends on it.

Every file is written atomically (a temporary file in the same directory, then
``os.replace``), so a reader sees either the old complete file or the new complete one,
never a partial write, even when several processes build at once. Building is
serialised by an advisory lock per (name, key), so parallel test workers train once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

try:  # POSIX only; elsewhere builds are simply not serialised.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

CACHE_ENV_VAR = "REFIMPL_CACHE_DIR"
KEY_LENGTH = 16  # hex digits of sha256 kept in file names

Progress = Callable[[str], None]
Builder = Callable[[Mapping[str, Any], Progress], Mapping[str, bytes]]


def repo_root() -> Path:
    """The repository root: two levels above this package (``compare/zoo/``)."""
    return Path(__file__).resolve().parents[2]


def tensorflow_version() -> str:
    """Installed TensorFlow version, read from package metadata (TF is not imported)."""
    try:
        return metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return "no-tensorflow"


def cache_dir() -> Path:
    """``$REFIMPL_CACHE_DIR/<tf version>`` or ``<repo>/.cache/models/<tf version>``."""
    override = os.environ.get(CACHE_ENV_VAR)
    root = Path(override).expanduser() if override else repo_root() / ".cache" / "models"
    return root / tensorflow_version()


def params_key(params: Mapping[str, Any]) -> str:
    """Stable hash of builder parameters (JSON with sorted keys, sha256, 16 hex digits).

    Values must be JSON-serialisable (str, int, float, bool, None, lists, dicts).
    """
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def _check_artifact_name(artifact: str) -> None:
    stem, dot, suffix = artifact.partition(".")
    if not stem or not dot or not suffix or "/" in artifact or os.sep in artifact:
        raise ValueError(f"artifact names look like 'float32.tflite', got {artifact!r}")


def artifact_path(name: str, artifact: str, key: str, directory: Path) -> Path:
    """Path of one artifact, e.g. ``seed_cnn-int8-<key>.tflite`` for ``'int8.tflite'``."""
    _check_artifact_name(artifact)
    stem, _, suffix = artifact.partition(".")
    return directory / f"{name}-{stem}-{key}.{suffix}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers never see a partial file.

    The bytes go to a temporary file in the same directory (same file system), are
    flushed to disk, and the file is renamed over ``path`` with ``os.replace``. On any
    error the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), 0o644)  # mkstemp creates 0600
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (created if needed) for the ``with`` body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def print_progress(message: str) -> None:
    """Default progress sink: one short line on stderr."""
    print(f"[zoo] {message}", file=sys.stderr, flush=True)


def _read_all(paths: Mapping[str, Path]) -> dict[str, bytes] | None:
    """Contents of every path, or None when any is missing."""
    out: dict[str, bytes] = {}
    for artifact, path in paths.items():
        try:
            out[artifact] = path.read_bytes()
        except FileNotFoundError:
            return None
    return out


def get_or_build(
    name: str,
    builder: Builder,
    params: Mapping[str, Any],
    artifacts: Iterable[str],
    *,
    directory: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, bytes]:
    """Return cached artifacts of model ``name``, building them first when any is missing.

    Parameters
    ----------
    name : str
        Model name, used in file names (e.g. ``"seed_cnn"``).
    builder : callable ``(params, progress) -> {artifact: bytes}``
        Builds every artifact of the model in one go (one training run gives all
        variants, so they stay consistent with each other and with the held-out data).
        It must return at least the requested artifacts; everything it returns is cached.
    params : mapping
        JSON-serialisable parameters passed to ``builder``; their hash keys the cache.
    artifacts : iterable of str
        File-like names of what is wanted, e.g. ``("float32.tflite", "heldout.npz")``.
    directory : Path, optional
        Cache directory; default :func:`cache_dir`.
    progress : callable ``(str) -> None``, optional
        Receives short progress lines while building; default :func:`print_progress`.

    Returns
    -------
    dict
        ``{artifact: bytes}`` for the requested artifacts, in the order asked.
    """
    wanted = list(dict.fromkeys(artifacts))
    if not wanted:
        raise ValueError("no artifacts requested")
    directory = cache_dir() if directory is None else Path(directory)
    key = params_key(params)
    paths = {artifact: artifact_path(name, artifact, key, directory) for artifact in wanted}

    cached = _read_all(paths)
    if cached is not None:
        return cached

    with _build_lock(directory / f"{name}-{key}.lock"):
        cached = _read_all(paths)  # another process may have built it while we waited
        if cached is not None:
            return cached
        report = progress or print_progress
        report(f"{name}: building (key {key}, cache {directory})")
        built = dict(builder(params, report))
        missing = [artifact for artifact in wanted if artifact not in built]
        if missing:
            raise ValueError(f"builder for {name!r} did not produce {missing}")
        for artifact, data in built.items():
            atomic_write_bytes(artifact_path(name, artifact, key, directory), bytes(data))
        params_text = json.dumps(dict(params), sort_keys=True, indent=1) + "\n"
        atomic_write_bytes(directory / f"{name}-{key}.json", params_text.encode("utf-8"))
    return {artifact: bytes(built[artifact]) for artifact in wanted}
