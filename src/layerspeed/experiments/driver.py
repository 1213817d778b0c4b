"""The one driver that runs every study: the chapter's, the remedies and a user's sweep.

1. :func:`plan`: every (grid point, seed) of a :class:`~layerspeed.experiments.grid.Grid` as
   a :class:`Task` with its run folder;
2. :func:`pending`: skip the tasks whose folder :func:`is_current` (ended, same config and
   seed, a result that passes :func:`~layerspeed.experiments.validate.result_problem`); the
   longest first, so that the workers end together;
3. :func:`run`: keep about two tasks per worker in flight, marking each ``running`` as it is
   submitted (a driver killed now reruns it next time); send :func:`work`
   (:func:`~layerspeed.experiments.run.train_run`) to any ``concurrent.futures.Executor``,
   and write each folder (``finish`` or ``fail``) as its result arrives;
4. :func:`collect`: what every planned run left on disk, for the aggregates.

A killed driver leaves temporary files of :func:`layerspeed.store.atomic_writer` behind;
they are never read, and the next driver removes them from the run folders it plans: all of
them in a folder it runs again, those untouched for an hour (:data:`STALE_AFTER_S`) in the rest.

The data is loaded once, by the driver, and shipped: once per worker through the initializer
of the default :class:`LocalPool` (one BLAS thread per worker), ``client.scatter(...,
broadcast=True)`` for Dask's ``Client.get_executor()``, as a plain argument to any other
executor. Workers never download, read a cache or write a file, so a cluster needs no file
system shared with the driver.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerspeed.experiments.config import REMEDY_DEFAULTS, RunConfig
from layerspeed.experiments.datasets import Data, load_data
from layerspeed.experiments.grid import Grid
from layerspeed.experiments.run import train_run
from layerspeed.experiments.validate import result_problem
from layerspeed.experiments.workers import (
    LocalPool,
    default_workers,
    ensure_one_blas_thread,
    installed_data,
)
from layerspeed.experiments.workers import process_pool as process_pool  # re-exported
from layerspeed.store import ENDED, RunDir, read_json, remove_stale_temporaries

STALE_AFTER_S = 3600.0  # a temporary file untouched this long is no write in progress


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
    redone: str | None = None  # why the result its folder held was not trusted, if it held one


@dataclass(frozen=True)
class Computed:
    """What a worker sends back: the run's status, message, ``result.json`` body and time."""

    status: str  # "done", "diverged" or "failed"
    message: str | None
    result: dict[str, Any] | None  # None when failed
    seconds: float


# ---- the workers (see :mod:`layerspeed.experiments.workers`) ------------------------------


def work(task: Task, data: Data | None = None) -> Computed:
    """Run one task in a worker and return what to record; never raises, writes nothing.

    ``data`` None means the data the :class:`LocalPool` installed; a Dask future in its
    place is resolved by Dask before the call.
    """
    start = time.perf_counter()
    ensure_one_blas_thread()  # Dask's workers run no pool initializer
    try:
        shared = data if data is not None else installed_data()
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

    A folder that ended under another config (an earlier ``--quick`` run in the same place),
    or whose result is not what its config writes, counts as not run: its numbers are not
    this plan's.
    """
    out = []
    for t in tasks:
        status_file = read_json(Path(t.run_dir) / "status.json")
        status = status_file.get("status") if isinstance(status_file, dict) else None
        message = status_file.get("message") if isinstance(status_file, dict) else None
        result, why, same_config = _ended(t, status)
        if status in ENDED and result is None:
            message = (
                f"{why}; run again to redo it"
                if same_config
                else "left by another config; not run with this one"
            )
            status = None
        out.append(RunRecord(t, status, message, result))
    return out


def stored_config(data: dict[str, Any]) -> dict[str, Any]:
    """A ``config.json``'s config as this version writes it: the keys added since the folder
    was written (the remedies and ``bias_gain``) take their defaults, which compute what a
    config without them computed, so the run still counts as done."""
    return {**REMEDY_DEFAULTS, **data}


def _ended(task: Task, status: Any) -> tuple[dict[str, Any] | None, str | None, bool]:
    """``(result, why, same_config)`` of the task's folder, given its status: the result of an
    ended run with this config and seed (else None), and why its result file is not trusted."""
    if status not in ENDED:
        return None, None, False
    run = RunDir(Path(task.run_dir))
    stored = run.config
    if not (
        isinstance(stored, dict)
        and isinstance(stored.get("config"), dict)
        and stored_config(stored["config"]) == task.config.to_dict()
        and stored.get("seed") == task.seed
    ):
        return None, None, False
    result = run.result
    why = result_problem(result, task.config, seed=task.seed, status=status)
    if why is not None:
        return None, f"result.json not valid: {why}", True
    return result, None, True


def is_current(task: Task) -> bool:
    """Whether the task's folder holds its ended run (done or diverged) with this config, and
    a result that is what this config writes.

    A folder left by a different config (a ``--quick`` run in the same place, say), or with
    a result of the wrong shape, does not count: that run is done again and its folder
    overwritten.
    """
    return _ended(task, RunDir(Path(task.run_dir)).status)[0] is not None


def not_trusted(task: Task) -> str | None:
    """Why the result in the task's folder, of an ended run with this config, is not
    trusted (see :func:`~layerspeed.experiments.validate.result_problem`); None otherwise."""
    return _ended(task, RunDir(Path(task.run_dir)).status)[1]


def pending(tasks: Sequence[Task]) -> list[Task]:
    """The tasks not yet ended (:func:`is_current`), the costliest first, so the pool ends
    together."""
    todo = [t for t in tasks if not is_current(t)]
    todo.sort(key=lambda t: t.config.cost_estimate(), reverse=True)
    return todo


def record(task: Task, computed: Computed, *, redone: str | None = None) -> Outcome:
    """Write a computed run into its folder (status last, so ``done`` always has a result)."""
    folder = RunDir(Path(task.run_dir))
    if computed.result is None:
        folder.fail(computed.message or "failed")
    else:
        folder.finish(computed.result, status=computed.status, message=computed.message)
    return Outcome(task, computed.status, computed.message, computed.seconds, redone)


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


def width(executor: Executor, workers: int | None = None) -> int:
    """How many tasks ``executor`` runs at once: its workers (Dask's threads), else
    ``workers``, else this machine's cores."""
    client = _dask_client(executor)
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # a client that cannot say: fall back on the count given
            return workers or default_workers()
    n = getattr(executor, "_max_workers", None)  # ProcessPool- and ThreadPoolExecutor's
    return n if isinstance(n, int) and n > 0 else workers or default_workers()


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
    ``workers`` processes holding ``data``, shut down at the end. At most two tasks per
    worker are in flight, so a grid of any size starts at once and only the runs submitted
    are marked running; ``on_outcome`` is called after each run, from the first on.
    """
    if not tasks:
        return []
    own = executor is None
    ex = executor if executor is not None else LocalPool(data, workers)
    outcomes: list[Outcome] = []
    queue = iter(tasks)
    window = 2 * width(ex, workers)
    try:
        shared = _ship(ex, data)
        futures: dict[Future[Computed], tuple[Task, str | None]] = {}

        def submit_next() -> bool:
            t = next(queue, None)
            if t is None:
                return False
            redone = not_trusted(t)
            folder = RunDir(Path(t.run_dir))
            remove_stale_temporaries(folder.path, before=time.time())  # only we write it
            # "running" from submission on: a driver killed now reruns it next time.
            folder.start(t.config.to_dict(), seed=t.seed, kind=t.study)
            futures[ex.submit(work, t, shared)] = (t, redone)
            return True

        while len(futures) < window and submit_next():
            pass
        while futures:
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for fut in finished:
                task, redone = futures.pop(fut)
                try:
                    computed = fut.result()
                except Exception as e:  # the worker died or the executor failed
                    computed = Computed("failed", f"{type(e).__name__}: {e}", None, 0.0)
                outcome = record(task, computed, redone=redone)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
                submit_next()
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
    again = {t.run_dir for t in todo}
    before = time.time() - STALE_AFTER_S
    for t in tasks:  # the folders run again are cleared as they start
        if t.run_dir not in again:
            remove_stale_temporaries(t.run_dir, before=before)
    if todo:
        data = load_data((t.config for t in todo), offline=offline, data_dir=data_dir)
        run(todo, data, executor=executor, workers=workers, on_outcome=on_outcome)
