"""One runner for every experiment: plain task descriptions, any Executor, resumable folders.

A :class:`Task` is picklable data: an experiment name, a frozen run config, a seed and the run
folder. :func:`run_task`, a top-level function, runs one task and writes its folder through
:class:`layerspeed.store.RunDir`; it never raises for a run that fails or diverges, it records
it. :func:`run_all` submits every task whose folder is not yet ``done`` (or ``diverged``) to
a ``concurrent.futures.Executor``: by default a process pool with one BLAS thread per worker,
but a ``ThreadPoolExecutor`` or Dask's ``distributed.Client.get_executor()`` work the same.

Seeding follows ``layerspeed train``: the weights come from ``default_rng([seed, 0])`` and the
mini-batch shuffles from ``default_rng([seed, 1])``, so a run's result depends only on its
config and seed, not on the worker or the order, and ``layerspeed train --sizes X --seed N``
retraces the depth run of X with seed N. Workers read MNIST from the local cache with
``offline=True``: the driver makes sure it is there first, and a worker never downloads.
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

import numpy as np

from layerspeed.errors import DivergenceError
from layerspeed.experiments.chapter import (
    DepthRun,
    Experiment,
    InitialSpeeds,
    RunConfig,
    RunRecord,
    TrainingSpeeds,
)
from layerspeed.nn import Network, SGDConfig, accuracy, sgd
from layerspeed.probes import SpeedProbe, layer_speeds
from layerspeed.store import RunDir, read_json, result_record

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Task:
    """One run: what to run, with which seed, and where its folder is."""

    experiment: str
    config: RunConfig
    seed: int
    run_dir: str  # absolute path of the run folder
    data_dir: str | None = None  # the MNIST cache folder; None: layerspeed.data.data_dir()

    @property
    def name(self) -> str:
        return f"{self.experiment}/{self.config.label}/seed-{self.seed}"


@dataclass(frozen=True)
class Outcome:
    """What became of a task: ``done``, ``diverged`` or ``failed`` (with a message)."""

    task: Task
    status: str
    message: str | None
    seconds: float


def run_path(out: str | os.PathLike[str], experiment: str, label: str, seed: int) -> Path:
    """``OUT/runs/<experiment>/<label>/seed-<seed>``."""
    return Path(out) / "runs" / experiment / label / f"seed-{seed}"


def plan_tasks(
    experiments: Sequence[Experiment],
    out: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Task]:
    """Every (experiment, config, seed) as a task, in experiment order."""
    root = Path(out).resolve()
    dd = str(data_dir) if data_dir is not None else None
    return [
        Task(exp.name, cfg, seed, str(run_path(root, exp.name, cfg.label, seed)), dd)
        for exp in experiments
        for cfg in exp.configs
        for seed in exp.seeds
    ]


def _cost(task: Task) -> float:
    """A rough number of multiply-adds, to hand out the longest runs first."""
    c = task.config
    params = sum(a * b for a, b in zip(c.sizes[:-1], c.sizes[1:], strict=False))
    if isinstance(c, DepthRun):
        return 3.0 * params * c.epochs * c.n_train + params * c.epochs * 60_000
    if isinstance(c, TrainingSpeeds):
        return 5.0 * params * c.epochs * c.n_train
    return 3.0 * params * c.n_probe


# ---- the work of one run (in a worker) -------------------------------------------------------

_DATA: dict[str | None, Any] = {}


def load_data(data_dir: str | None) -> Any:
    """MNIST from the local cache, once per process; never from the network."""
    if data_dir not in _DATA:
        from layerspeed.data import load_mnist

        _DATA[data_dir] = load_mnist(offline=True, data_dir=data_dir)
    return _DATA[data_dir]


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(10)[labels]  # (n, 10)


def _network(cfg: RunConfig, seed: int) -> Network:
    # The same stream as `layerspeed train --seed`: weights from [seed, 0].
    return Network.create(
        cfg.sizes,
        rng=np.random.default_rng([seed, 0]),
        init=cfg.init,
        activation=cfg.activation,
        cost=cfg.cost,
    )


def _layer_names(cfg: RunConfig) -> list[str]:
    return [f"hidden {l + 1}" for l in range(len(cfg.sizes) - 2)]


def run_depth(cfg: DepthRun, seed: int, data: Any) -> tuple[dict[str, Any], str, str | None]:
    """Train for ``cfg.epochs`` and score the validation images after every epoch."""
    net = _network(cfg, seed)
    x = data.training.x[: cfg.n_train]  # (n, 784)
    y = _one_hot(data.training.labels[: cfg.n_train])  # (n, 10)
    records: list[dict[str, Any]] = []
    status, message = "done", None
    try:
        sgd(
            net,
            x,
            y,
            SGDConfig(cfg.epochs, cfg.mini_batch_size, cfg.eta, cfg.lmbda),
            rng=np.random.default_rng([seed, 1]),
            evaluation=(data.validation.x, data.validation.labels),
            on_epoch_end=records.append,
        )
    except DivergenceError as e:
        status, message = "diverged", str(e)
    acc = [r["evaluation_accuracy"] for r in records]
    result = result_record(
        cfg.to_dict(),
        seed=seed,
        kind=cfg.kind,
        epochs=records,
        layer_names=_layer_names(cfg),
        final_accuracy=acc[-1] if acc else None,
        best_accuracy=max(acc) if acc else None,
        best_epoch=int(np.argmax(acc)) if acc else None,
    )
    return result, status, message


def run_initial(cfg: InitialSpeeds, seed: int, data: Any) -> tuple[dict[str, Any], str, str | None]:
    """Speeds and per-neuron dC/db of the freshly initialized network on the probe set."""
    net = _network(cfg, seed)
    report = layer_speeds(
        net, data.training.x[: cfg.n_probe], _one_hot(data.training.labels[: cfg.n_probe])
    )
    result = result_record(
        cfg.to_dict(),
        seed=seed,
        kind=cfg.kind,
        epochs=[{"epoch": 0, **report.to_dict()}],
        layer_names=_layer_names(cfg),
        **report.to_dict(),
    )
    return result, "done", None


def run_training(
    cfg: TrainingSpeeds, seed: int, data: Any
) -> tuple[dict[str, Any], str, str | None]:
    """Full-batch descent; the probe reads each step's own gradient (no extra pass)."""
    net = _network(cfg, seed)
    x = data.training.x[: cfg.n_train]  # (n, 784), also the probe set
    labels = data.training.labels[: cfg.n_train]
    y = _one_hot(labels)
    probe = SpeedProbe(x, y)
    records: list[dict[str, Any]] = []
    status, message = "done", None
    try:
        sgd(
            net,
            x,
            y,
            SGDConfig(cfg.epochs, cfg.n_train, cfg.eta, cfg.lmbda),
            rng=np.random.default_rng([seed, 1]),
            callbacks=[probe],
            on_epoch_end=records.append,
        )
    except DivergenceError as e:
        status, message = "diverged", str(e)
    result = result_record(
        cfg.to_dict(),
        seed=seed,
        kind=cfg.kind,
        epochs=records,
        layer_names=_layer_names(cfg),
        final_training_accuracy=accuracy(net, x, labels) if status == "done" else None,
        extra_backward_passes=probe.backward_passes,
    )
    return result, status, message


RUNNERS: dict[str, Callable[[Any, int, Any], tuple[dict[str, Any], str, str | None]]] = {
    "depth": run_depth,
    "initial": run_initial,
    "training": run_training,
}


def is_current(task: Task) -> bool:
    """Whether the task's folder already holds its ended run, with this very config.

    A folder left by a different config (a ``--quick`` run in the same place, say) does not
    count: that run is done again and its folder overwritten.
    """
    run = RunDir(Path(task.run_dir))
    if not run.is_ended():
        return False
    stored = run.config
    return isinstance(stored, dict) and stored.get("config") == task.config.to_dict()


def run_task(task: Task) -> Outcome:
    """Run one task and write its folder; failures and divergence are recorded, not raised."""
    start = time.perf_counter()
    run = RunDir(Path(task.run_dir))
    if is_current(task):
        return Outcome(task, run.status or "done", None, 0.0)
    cfg = task.config
    run.start(cfg.to_dict(), seed=task.seed, kind=cfg.kind)
    try:
        data = load_data(task.data_dir)
        result, status, message = RUNNERS[cfg.kind](cfg, task.seed, data)
    except Exception as e:  # recorded in the folder and reported by the driver
        message = f"{type(e).__name__}: {e}"
        run.fail(message)
        return Outcome(task, "failed", message, time.perf_counter() - start)
    seconds = time.perf_counter() - start
    run.finish({**result, "seconds": seconds}, status=status, message=message)
    return Outcome(task, status, message, seconds)


# ---- the driver ------------------------------------------------------------------------------


def one_blas_thread() -> None:
    """Worker initializer: one BLAS thread, so N workers use N cores and no more."""
    for name in BLAS_ENV:
        os.environ[name] = "1"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables still reach any child process
        return
    threadpool_limits(1)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Local worker processes started by "spawn", each with one BLAS thread."""
    return ProcessPoolExecutor(
        max_workers=workers or default_workers(),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=one_blas_thread,
    )


def run_all(
    experiments: Sequence[Experiment],
    out: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Run every task of ``experiments`` not yet ended (:func:`is_current`); return outcomes.

    ``executor``: any ``concurrent.futures.Executor``; by default a :func:`process_pool` of
    ``workers`` processes, shut down at the end. ``on_plan(to_run, already_ended)`` is called
    once before the runs, ``on_outcome`` after each.
    """
    tasks = plan_tasks(experiments, out, data_dir=data_dir)
    pending = [t for t in tasks if not is_current(t)]
    pending.sort(key=_cost, reverse=True)  # longest first: the pool ends together
    if on_plan is not None:
        on_plan(len(pending), len(tasks) - len(pending))
    if not pending:
        return []
    own = executor is None
    ex = executor if executor is not None else process_pool(workers)
    outcomes: list[Outcome] = []
    try:
        futures: dict[Future[Outcome], Task] = {ex.submit(run_task, t): t for t in pending}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as e:  # a worker died: its folder still says "running"
                t = futures[fut]
                outcome = Outcome(t, "failed", f"{type(e).__name__}: {e}", 0.0)
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


def collect(experiments: Sequence[Experiment], out: str | os.PathLike[str]) -> list[RunRecord]:
    """What every planned run left on disk (also the runs never started, status None).

    A folder that ended under another config (an earlier ``--quick`` run in the same place)
    counts as not run: its numbers are not this plan's.
    """
    records = []
    for exp in experiments:
        for cfg in exp.configs:
            for seed in exp.seeds:
                path = run_path(out, exp.name, cfg.label, seed)
                run = RunDir(path)
                status_file = read_json(run.path / "status.json")
                message = status_file.get("message") if isinstance(status_file, dict) else None
                status = run.status
                current = is_current(Task(exp.name, cfg, seed, str(path)))
                if status in ("done", "diverged") and not current:
                    status, message = None, "left by another config; not run with this one"
                records.append(
                    RunRecord(
                        experiment=exp.name,
                        label=cfg.label,
                        seed=seed,
                        status=status,
                        message=message,
                        result=run.result if current else None,
                    )
                )
    return records
