"""Results on disk: one folder per run, written atomically, so a sweep can resume.

A run folder holds three JSON files::

    RUN/config.json   what was run: the config, the seed, the package version
    RUN/status.json   {"status": "running" | "done" | "diverged" | "failed", "message": ...,
                       "started": ISO time, "finished": ISO time or null}
    RUN/result.json   the measurements (present once the run has ended, also when diverged):
                      {"layerspeed_version", "config", "seed", "kind",
                       "layer_names": [one name per measured layer],
                       "epochs": [{"epoch": 0, "layer_speeds": [...], ...}, ...],
                       ...anything else the kind of run reports}

Every file is written through a temporary file in the same folder and ``os.replace``, so a
killed process leaves either the old file or the new one, never half of one (through a
symlink, at its target; a device, a FIFO or ``-`` is written directly, never replaced).
:func:`check_writable` proves an output can be written before any work starts. A run whose
status is ``done`` is finished and is never overwritten; anything else is run again.
The NumPy engine's runs, sweeps and the PyTorch probe all write this layout, and the report
reads it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import math
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from layerspeed import __version__
from layerspeed.errors import BadInput

STATUSES = ("running", "done", "diverged", "failed")
ENDED = ("done", "diverged")  # runs that need not run again


def _publish(f: Any, tmp: str, path: Path) -> None:
    """Make the finished temporary file durable and readable, then move it into place."""
    f.flush()
    os.fsync(f.fileno())
    # mkstemp creates the file 0600; results are for reading, like any other output.
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def finite(v: Any) -> Any:
    """``v`` with every NaN or infinite float replaced by None, so it is strict JSON."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [finite(x) for x in v]
    return v


STDOUT = "-"  # the output path that means standard output
STREAMS = "a file, a character device, a FIFO or - (stdout)"  # what an output may be


def _kind(path: Path) -> str:
    """What an output path names, through any symlinks: ``stdout``, ``new`` (nothing there
    yet), ``file``, ``stream`` (a character device or a FIFO), ``folder``, or the name of a
    special file that is never written (``block device``, ``socket``)."""
    if str(path) == STDOUT:
        return "stdout"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:  # also a symlink to nothing yet: the file is made at its target
        return "new"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream"
    if stat.S_ISDIR(mode):
        return "folder"
    special = {stat.S_IFBLK: "block device", stat.S_IFSOCK: "socket"}
    return special.get(stat.S_IFMT(mode), "special file")


def _target(path: Path) -> Path:
    """Where the file at ``path`` really is: a symlink's final target, so that the target is
    replaced and the link stays a link."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _refuse(name: str, kind: str) -> BadInput:
    if kind == "folder":
        return BadInput(f"{name} is a folder; give a file name")
    return BadInput(f"{name} is a {kind}; an output must be {STREAMS}")


@contextlib.contextmanager
def _direct(path: Path, *, binary: bool) -> Iterator[IO[Any]]:
    """Stdout, a character device or a FIFO, written in place: there is no file to replace,
    and a file renamed over a device would destroy it."""
    if str(path) == STDOUT:
        out: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield out
        out.flush()
        return
    with open(path, "wb") if binary else open(path, "w", encoding="utf-8") as f:
        yield f


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], *, binary: bool = False) -> Iterator[IO[Any]]:
    """Yield a file open for writing; on a clean exit it becomes ``path`` atomically.

    The bytes go to a temporary file in the target's folder, are flushed to disk and moved
    into place with ``os.replace``, so a killed process leaves either the old file or the
    new one, never half of one. On an exception the temporary file is removed and ``path``
    is left as it was. This is the one atomic writer of the package: every file it writes
    goes through here.

    A symlink is written through: its target is replaced atomically and the link stays. A
    character device, a FIFO and ``-`` (stdout) are written directly, never replaced; a
    folder, a block device or a socket raises :class:`BadInput`.
    """
    p = Path(path)
    kind = _kind(p)
    if kind in ("stdout", "stream"):
        with _direct(p, binary=binary) as stream:
            yield stream
        return
    if kind not in ("new", "file"):
        raise _refuse(str(p), kind)
    target = _target(p)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        f: IO[Any] = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")
        with f:
            yield f
            _publish(f, tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike[str], *, folder: bool = False, label: str = "") -> None:
    """Prove, before any work, that ``path`` can be written; raise :class:`BadInput` if not.

    A file (``folder=False``) may be new, a regular file (through any symlinks), a character
    device, a FIFO or ``-``. For a file, a probe is created and deleted in the folder that
    will hold it; a folder (``folder=True``) gets its probe inside. Missing folders are
    created. A device is opened for writing; a FIFO is only checked for permission, since
    opening it would wait for a reader or end the reader's stream. ``label`` (``--save``)
    starts the message.
    """
    p = Path(path)
    name = f"{label} {p}" if label else str(p)
    try:
        kind = _kind(p)
        if kind == "stream" and not folder:
            if stat.S_ISFIFO(os.stat(p).st_mode):
                if not os.access(p, os.W_OK):
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            else:
                os.close(os.open(p, os.O_WRONLY | os.O_NONBLOCK))
            return
    except OSError as e:
        raise BadInput(f"{name}: {e.strerror or e}; give another path") from None
    if folder and kind not in ("new", "folder"):
        what = {"stdout": "standard output", "stream": "a device or a FIFO"}
        raise BadInput(f"{name} is {what.get(kind, f'a {kind}')}, not a folder")
    if kind == "stdout":
        return
    if not folder and kind not in ("new", "file"):
        raise _refuse(name, kind)
    where = p if folder else _target(p).parent
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".layerspeed-probe-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or str(e)
        raise BadInput(f"{name}: cannot write in {where} ({reason}); give another path") from None


def write_json_atomic(
    path: str | os.PathLike[str], data: Any, *, indent: int | None = None
) -> None:
    """Write ``data`` as strict JSON (NaN and inf as null) to ``path``, atomically."""
    with atomic_writer(path) as f:
        json.dump(finite(data), f, indent=indent, allow_nan=False)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path``, atomically."""
    with atomic_writer(path) as f:
        f.write(text)


def read_json(path: str | os.PathLike[str]) -> Any | None:
    """The JSON in ``path``, or None where it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunDir:
    """A run's folder and what is in it."""

    path: Path

    @property
    def status(self) -> str | None:
        data = read_json(self.path / "status.json")
        return data.get("status") if isinstance(data, dict) else None

    @property
    def config(self) -> dict[str, Any] | None:
        return read_json(self.path / "config.json")

    @property
    def result(self) -> dict[str, Any] | None:
        return read_json(self.path / "result.json")

    def is_ended(self) -> bool:
        """Done or diverged, with its result on disk: nothing left to run."""
        return self.status in ENDED and isinstance(self.result, dict)

    def start(self, config: dict[str, Any], *, seed: int | None, kind: str) -> None:
        # The status first: killed between the two writes, the folder says "running" and is
        # run again, rather than pairing a new config with an old result.
        write_json_atomic(
            self.path / "status.json",
            {"status": "running", "message": None, "started": now(), "finished": None},
        )
        write_json_atomic(
            self.path / "config.json",
            {"layerspeed_version": __version__, "kind": kind, "seed": seed, "config": config},
            indent=2,
        )

    def finish(
        self, result: dict[str, Any], *, status: str = "done", message: str | None = None
    ) -> None:
        """Write the result, then the status: a ``done`` status always has its result."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        write_json_atomic(self.path / "result.json", result)
        self._set_status(status, message)

    def fail(self, message: str) -> None:
        self._set_status("failed", message)

    def _set_status(self, status: str, message: str | None) -> None:
        old = read_json(self.path / "status.json")
        started = old.get("started") if isinstance(old, dict) else None
        write_json_atomic(
            self.path / "status.json",
            {"status": status, "message": message, "started": started, "finished": now()},
        )


def result_record(
    config: dict[str, Any],
    *,
    seed: int | None,
    kind: str,
    epochs: list[dict[str, Any]],
    layer_names: list[str],
    **extra: Any,
) -> dict[str, Any]:
    """A ``result.json`` body with the fields every run records."""
    return {
        "layerspeed_version": __version__,
        "kind": kind,
        "seed": seed,
        "config": config,
        "layer_names": layer_names,
        "epochs": epochs,
        **extra,
    }


def iter_runs(root: str | os.PathLike[str]) -> Iterator[RunDir]:
    """Every run folder under ``root`` (``root`` itself included), in sorted order."""
    base = Path(root)
    for cfg in sorted(base.rglob("config.json")):
        yield RunDir(cfg.parent)


def remove_stale_temporaries(folder: str | os.PathLike[str], *, before: float) -> list[Path]:
    """Remove the temporary files :func:`atomic_writer` left in ``folder`` (``.NAME.*.tmp``,
    not in subfolders) last changed before ``before`` (a ``time.time()``); the paths removed.

    A writer killed mid-write leaves one behind. It is never read, but it piles up; the
    caller picks ``before`` so that no file still being written is removed. A missing
    folder has nothing to remove.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mtime >= before:
                continue
            os.unlink(entry.path)
        except OSError:  # gone already, or not ours to remove
            continue
        removed.append(Path(entry.path))
    return removed
