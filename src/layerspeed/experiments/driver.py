"""The one driver that runs every experiment: the chapter's runs and the sweeps alike.

A kind of run supplies three things: a config (frozen, picklable, with ``kind`` and
``to_dict()``), a run folder (a task's ``run_dir``), and a pure, top-level
``compute(config, seed, data) -> (result, status, message)``. The driver does the rest:

1. :func:`pending`: skip the tasks whose folder :func:`is_current` (ended, same config and
   seed); the longest first, so that the workers end together;
2. :func:`run`: mark each task ``running`` as it is submitted (a driver killed now reruns it
   next time), send :func:`work` to any ``concurrent.futures.Executor``, and write each
   folder (``finish`` or ``fail``) as its result arrives.

The data is loaded once, by the driver, and shipped: once per worker through the initializer
of the default :class:`LocalPool` (one BLAS thread per worker), ``client.scatter(...,
broadcast=True)`` for Dask's ``Client.get_executor()``, as a plain argument to any other
executor. Workers never download, read a cache or write a file, so a cluster needs no file
system shared with the driver.

Images travel as :class:`DataSet`: uint8 grey levels, 8 times smaller than floats; a worker
turns them into ``k / 255`` float64 once (:func:`floats`), exactly as
:func:`layerspeed.data.load_mnist` does, so the numbers are those of the loaded MNIST.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from layerspeed.store import RunDir

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
Array = np.ndarray
# compute(config, seed, data) -> (the result.json body, "done" or "diverged", message)
Compute = Callable[[Any, int, Any], tuple[dict[str, Any], str, str | None]]


class Task(Protocol):
    """What the driver needs of a task: its config, seed and folder, a name to report."""

    @property
    def name(self) -> str: ...
    @property
    def config(self) -> Any: ...  # frozen and picklable, with `kind` and `to_dict()`
    @property
    def seed(self) -> int: ...
    @property
    def run_dir(self) -> str: ...  # absolute path of the run folder
    @property
    def extra(self) -> dict[str, Any]: ...  # written into result.json beside the result


@dataclass(frozen=True)
class Outcome:
    """What became of a task: ``done``, ``diverged`` or ``failed`` (with a message)."""

    task: Any  # the Task
    status: str
    message: str | None
    seconds: float


@dataclass(frozen=True)
class Computed:
    """What a worker sends back: the run's status, message, ``result.json`` body and time."""

    status: str  # "done", "diverged" or "failed"
    message: str | None
    result: dict[str, Any] | None  # None when failed
    seconds: float


# ---- the data, shipped to the workers ------------------------------------------------------


@dataclass(frozen=True)
class DataSet:
    """What the runs read: uint8 pixels (8x smaller to ship than floats) and labels.

    ``train_x`` (n_train, 784) and ``eval_x`` (n_eval, 784) are grey levels 0..255; the workers
    turn them into ``x / 255`` float64, exactly as :func:`layerspeed.data.load_mnist` does.
    """

    name: str  # "mnist" or "synthetic"
    train_x: Array  # (n_train, 784) uint8
    train_labels: Array  # (n_train,) int64
    eval_x: Array  # (n_eval, 784) uint8
    eval_labels: Array  # (n_eval,) int64
    key: str = ""  # a fingerprint of the arrays, for the workers' cache

    @classmethod
    def make(
        cls, name: str, train_x: Array, train_labels: Array, eval_x: Array, eval_labels: Array
    ) -> DataSet:
        h = hashlib.sha1(name.encode())
        for a in (train_x, train_labels, eval_x, eval_labels):
            h.update(np.ascontiguousarray(a).tobytes())
        return cls(name, train_x, train_labels, eval_x, eval_labels, h.hexdigest())

    @classmethod
    def from_mnist(cls, mnist: Any, n_train: int, n_eval: int) -> DataSet:
        """The first ``n_train`` training and ``n_eval`` validation images of a loaded MNIST."""
        # Back to the grey levels: x = k / 255 in float64, so rint(255 x) is k exactly.
        return cls.make(
            "mnist",
            np.rint(mnist.training.x[:n_train] * 255).astype(np.uint8),
            mnist.training.labels[:n_train],
            np.rint(mnist.validation.x[:n_eval] * 255).astype(np.uint8),
            mnist.validation.labels[:n_eval],
        )


_FLOATS: dict[str, tuple[Array, Array]] = {}


def floats(d: DataSet) -> tuple[Array, Array]:
    """``(train_x, eval_x)`` as float64 in [0, 1], converted once per worker and data set."""
    if d.key not in _FLOATS:
        if len(_FLOATS) > 2:
            _FLOATS.clear()
        _FLOATS[d.key] = (
            np.divide(d.train_x, 255.0, dtype=np.float64),  # (n_train, 784)
            np.divide(d.eval_x, 255.0, dtype=np.float64),  # (n_eval, 784)
        )
    return _FLOATS[d.key]


# ---- the workers -----------------------------------------------------------------------------

# A worker's own state: whether BLAS is down to one thread, and the data its pool installed.
_WORKER: dict[str, Any] = {}


def train_recorded(
    net: Any,
    x: Array,
    y: Array,
    config: Any,
    *,
    seed: int,
    evaluation: tuple[Array, Array] | None = None,
    callbacks: Sequence[Any] = (),
) -> tuple[list[dict[str, Any]], str, str | None]:
    """``sgd`` as every run trains: shuffles from ``default_rng([seed, 1])``, and a run
    that diverges recorded, not raised.

    Returns the epoch records so far, the status (``done`` or ``diverged``) and a message.
    """
    from layerspeed.errors import DivergenceError
    from layerspeed.nn import sgd

    records: list[dict[str, Any]] = []
    try:
        sgd(
            net,
            x,
            y,
            config,
            rng=np.random.default_rng([seed, 1]),
            evaluation=evaluation,
            callbacks=callbacks,
            on_epoch_end=records.append,
        )
    except DivergenceError as e:
        return records, "diverged", str(e)
    return records, "done", None


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


def _install(data: Any) -> None:
    """:class:`LocalPool`'s initializer: one BLAS thread, and the data, once per worker."""
    one_blas_thread()
    _WORKER["data"] = data


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Local worker processes started by "spawn", each with one BLAS thread (no data)."""
    return ProcessPoolExecutor(
        max_workers=workers or default_workers(),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=one_blas_thread,
    )


class LocalPool(ProcessPoolExecutor):
    """A process pool ("spawn", one BLAS thread each) whose workers hold ``data`` from their
    start: the data is pickled once per worker, not once per task."""

    def __init__(self, data: Any, workers: int | None = None) -> None:
        super().__init__(
            max_workers=workers or default_workers(),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_install,
            initargs=(data,),
        )
        self.data = data


def work(compute: Compute, task: Task, data: Any = None) -> Computed:
    """Run one task in a worker and return what to record; never raises, writes nothing.

    ``data`` None means the data the :class:`LocalPool` installed; a Dask future in its
    place is resolved by Dask before the call.
    """
    start = time.perf_counter()
    if not _WORKER.get("blas"):  # Dask's workers run no pool initializer
        one_blas_thread()
    try:
        shared = data if data is not None else _WORKER["data"]
        result, status, message = compute(task.config, task.seed, shared)
    except Exception as e:  # recorded in the folder by the driver
        return Computed("failed", f"{type(e).__name__}: {e}", None, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    return Computed(status, message, {**result, **task.extra, "seconds": seconds}, seconds)


# ---- the driver ------------------------------------------------------------------------------


def is_current(task: Task) -> bool:
    """Whether the task's folder holds its ended run (done or diverged) with this config.

    A folder left by a different config (a ``--quick`` run in the same place, say) does not
    count: that run is done again and its folder overwritten.
    """
    run = RunDir(Path(task.run_dir))
    if not run.is_ended():
        return False
    stored = run.config
    return (
        isinstance(stored, dict)
        and stored.get("config") == task.config.to_dict()
        and stored.get("seed") == task.seed
    )


def pending(tasks: Sequence[Task], cost: Callable[[Any], float] | None = None) -> list[Any]:
    """The tasks not yet ended (:func:`is_current`), the costliest first if ``cost`` is given."""
    todo = [t for t in tasks if not is_current(t)]
    if cost is not None:
        todo.sort(key=cost, reverse=True)  # longest first: the pool ends together
    return todo


def record(task: Task, computed: Computed) -> Outcome:
    """Write a computed run into its folder (status last, so ``done`` always has a result)."""
    folder = RunDir(Path(task.run_dir))
    if computed.result is None:
        folder.fail(computed.message or "failed")
    else:
        folder.finish(computed.result, status=computed.status, message=computed.message)
    return Outcome(task, computed.status, computed.message, computed.seconds)


def _dask_client(executor: Executor) -> Any | None:
    """The ``distributed.Client`` behind Dask's ``Client.get_executor()``, else None."""
    if type(executor).__module__.startswith("distributed"):
        return getattr(executor, "_client", None)  # ClientExecutor keeps its client here
    return None


def _ship(executor: Executor, data: Any) -> Any:
    """What to pass each task as its data: None where the pool's workers already hold it."""
    if isinstance(executor, LocalPool) and executor.data is data:
        return None
    client = _dask_client(executor)
    if client is not None:
        # Sent to every worker once; a future as an argument is resolved by Dask. In a list,
        # so that a dict is one object (a dict's keys would become Dask's keys).
        [shared] = client.scatter([data], broadcast=True)
        return shared
    return data


def run(
    tasks: Sequence[Task],
    compute: Compute,
    data: Any,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run every one of ``tasks`` (see :func:`pending`) and write its folder; return outcomes.

    ``compute``: a top-level function, so that it pickles by name. ``executor``: any
    ``concurrent.futures.Executor``; by default a :class:`LocalPool` of ``workers`` processes
    holding ``data``, shut down at the end. ``on_outcome`` is called after each run.
    """
    if not tasks:
        return []
    own = executor is None
    ex = executor if executor is not None else LocalPool(data, workers)
    outcomes: list[Outcome] = []
    try:
        shared = _ship(ex, data)
        futures: dict[Future[Computed], Task] = {}
        for t in tasks:
            # "running" from submission on: a driver killed now reruns it next time.
            RunDir(Path(t.run_dir)).start(t.config.to_dict(), seed=t.seed, kind=t.config.kind)
            futures[ex.submit(work, compute, t, shared)] = t
        for fut in as_completed(futures):
            try:
                computed = fut.result()
            except Exception as e:  # the worker died or the executor failed
                computed = Computed("failed", f"{type(e).__name__}: {e}", None, 0.0)
            outcome = record(futures[fut], computed)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    except BaseException:
        if own:
            ex.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        ex.shutdown(wait=True)
    return outcomes
