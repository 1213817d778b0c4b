"""The local worker processes of the driver: started by "spawn", one BLAS thread each, the
data installed once, and tied to the process that started them.

A worker must not outlive its parent: a driver killed with ``kill -9`` runs no clean-up,
and its workers, orphaned, would go on training runs nobody will record (about 200 MB
each). Each worker's initializer therefore asks the kernel to kill it when its parent dies
(Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)``), then checks that the parent is still the
one that started it, in case it died before that request; elsewhere a daemon thread
watches the parent's pid. The kernel sends the signal when the *thread* that started the
worker ends, so the pool is used from the thread that made it (the driver does).

The multiprocessing resource tracker, a helper process of the pool's semaphores, ends by
itself once its pipe is closed; the workers hold one end of that pipe, so it lingered
only as long as they did.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_S = 1.0  # how often a worker without prctl looks for its parent

# A worker's own state: whether BLAS is down to one thread, and the data its pool installed.
_WORKER: dict[str, Any] = {}
_NO_DATA = object()


def one_blas_thread() -> None:
    """Worker initializer: one BLAS thread, so N workers use N cores and no more."""
    for name in BLAS_ENV:
        os.environ[name] = "1"
    _WORKER["blas"] = True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables still reach any child process
        return
    threadpool_limits(1)


def ensure_one_blas_thread() -> None:
    """One BLAS thread in a worker no initializer ran in (Dask's)."""
    if not _WORKER.get("blas"):
        one_blas_thread()


def installed_data() -> Any:
    """The data a :class:`LocalPool` installed in this worker (KeyError if none)."""
    return _WORKER["data"]


def _kill_on_parent_death() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; whether it agreed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Make this process end when ``parent`` (the pid that started it) does."""
    tied = _kill_on_parent_death()
    if os.getppid() != parent:  # the parent died before the kernel was asked to watch it
        os._exit(1)
    if not tied:
        threading.Thread(target=_watch, args=(parent,), name="watch-parent", daemon=True).start()


def _start(parent: int, data: Any = _NO_DATA) -> None:
    """The pools' initializer: tied to the parent, one BLAS thread, the data (if any)."""
    die_with_parent(parent)
    one_blas_thread()
    if data is not _NO_DATA:
        _WORKER["data"] = data


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Local worker processes started by "spawn", each with one BLAS thread (no data), each
    ending with this process."""
    return ProcessPoolExecutor(
        max_workers=workers or default_workers(),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(os.getpid(),),
    )


class LocalPool(ProcessPoolExecutor):
    """A process pool ("spawn", one BLAS thread each, ending with this process) whose workers
    hold ``data`` from their start: the data is pickled once per worker, not once per task."""

    def __init__(self, data: Any, workers: int | None = None) -> None:
        super().__init__(
            max_workers=workers or default_workers(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(os.getpid(), data),
        )
        self.data = data
