"""The one driver that runs every study: the chapter's, the remedies and a user's sweep.

1. :func:`plan`: every (grid point, seed) of a :class:`~layerspeed.experiments.grid.Grid` as
   a :class:`Task` with its run folder;
2. :func:`pending`: skip the tasks whose folder :func:`is_current` (ended, same config and
   seed); the longest first, so that the workers end together;
3. :func:`run`: mark each task ``running`` as it is submitted (a driver killed now reruns it
   next time), send :func:`work` (:func:`~layerspeed.experiments.run.train_run`) to any
   ``concurrent.futures.Executor``, and write each folder (``finish`` or ``fail``) as its
   result arrives;
4. :func:`collect`: what every planned run left on disk, for the aggregates.

The data is loaded once, by the driver, and shipped: once per worker through the initializer
of the default :class:`LocalPool` (one BLAS thread per worker), ``client.scatter(...,
broadcast=True)`` for Dask's ``Client.get_executor()``, as a plain argument to any other
executor. Workers never download, read a cache or write a file, so a cluster needs no file
system shared with the driver.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.datasets import Data, load_data
from layerspeed.experiments.grid import Grid
from layerspeed.experiments.run import train_run
from layerspeed.store import RunDir, read_json

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Task:
    """One (grid point, seed) of a study, and where its folder is."""

    study: str  # the study's name: "depth", "remedies", ...
    label: str  # the grid point's label: "784-30-10", "activation=relu,init=he"
    params: dict[str, Any]  # the grid axes' values at this point
    config: RunConfig
    seed: int
    run_dir: str  # absolute path of the run folder

    @property
    def name(self) -> str:
        return f"{self.study}/{self.label}/seed-{self.seed}"


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


# ---- the workers -----------------------------------------------------------------------------

# A worker's own state: whether BLAS is down to one thread, and the data its pool installed.
_WORKER: dict[str, Any] = {}


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


def work(task: Task, data: Data | None = None) -> Computed:
    """Run one task in a worker and return what to record; never raises, writes nothing.

    ``data`` None means the data the :class:`LocalPool` installed; a Dask future in its
    place is resolved by Dask before the call.
    """
    start = time.perf_counter()
    if not _WORKER.get("blas"):  # Dask's workers run no pool initializer
        one_blas_thread()
    try:
        shared = data if data is not None else _WORKER["data"]
        result = train_run(task.config, task.seed, shared)
    except Exception as e:  # recorded in the folder by the driver
        return Computed("failed", f"{type(e).__name__}: {e}", None, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    body = result.to_dict(task.config, task.seed, task.study)
    body |= {"params": task.params, "seconds": seconds}
    return Computed(result.status, result.message, body, seconds)


# ---- the driver ------------------------------------------------------------------------------


def plan(grid: Grid, out: str | os.PathLike[str]) -> list[Task]:
    """Every (grid point, seed) of ``grid`` as a task with its folder under ``out/runs``."""
    root = Path(out).resolve() / "runs"
    return [
        Task(study.name, p.label, p.params, p.config, seed,
             str((root / study.name if grid.nested else root) / p.label / f"seed-{seed}"))
        for study in grid.studies
        for p in study.points()
        for seed in study.seeds
    ]  # fmt: skip


@dataclass(frozen=True)
class RunRecord:
    """What a planned run left in its folder: its status (None: never started, or left by
    another config), message and result."""

    task: Task
    status: str | None  # "done", "diverged", "failed", "running" or None
    message: str | None
    result: dict[str, Any] | None  # the result.json body of an ended run with this config


def collect(tasks: Sequence[Task]) -> list[RunRecord]:
    """What every planned run left on disk (also the runs never started, status None).

    A folder that ended under another config (an earlier ``--quick`` run in the same place)
    counts as not run: its numbers are not this plan's.
    """
    out = []
    for t in tasks:
        folder = RunDir(Path(t.run_dir))
        status_file = read_json(folder.path / "status.json")
        message = status_file.get("message") if isinstance(status_file, dict) else None
        status = folder.status
        current = is_current(t)
        if status in ("done", "diverged") and not current:
            status, message = None, "left by another config; not run with this one"
        out.append(RunRecord(t, status, message, folder.result if current else None))
    return out


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


def pending(tasks: Sequence[Task]) -> list[Task]:
    """The tasks not yet ended (:func:`is_current`), the costliest first, so the pool ends
    together."""
    todo = [t for t in tasks if not is_current(t)]
    todo.sort(key=lambda t: t.config.cost_estimate(), reverse=True)
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
    data: Data,
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run every one of ``tasks`` (see :func:`pending`) and write its folder; return outcomes.

    ``executor``: any ``concurrent.futures.Executor``; by default a :class:`LocalPool` of
    ``workers`` processes holding ``data``, shut down at the end. ``on_outcome`` is called
    after each run.
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
            RunDir(Path(t.run_dir)).start(t.config.to_dict(), seed=t.seed, kind=t.study)
            futures[ex.submit(work, t, shared)] = t
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


def run_tasks(
    tasks: Sequence[Task],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    on_plan: Callable[[int, int], None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    offline: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Run every one of ``tasks`` not yet ended (see :func:`pending`), in one pool.

    The data is loaded only if a run is left. ``on_plan(to_run, already_ended)`` is called
    once before the runs, ``on_outcome`` after each.
    """
    todo = pending(tasks)
    if on_plan is not None:
        on_plan(len(todo), len(tasks) - len(todo))
    if todo:
        data = load_data((t.config for t in todo), offline=offline, data_dir=data_dir)
        run(todo, data, executor=executor, workers=workers, on_outcome=on_outcome)
