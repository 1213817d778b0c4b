"""The chapter's runs (depth, initial and training speeds) on the one driver.

A :class:`Task` is picklable data: an experiment name, a frozen run config, a seed and the run
folder. :func:`compute`, a top-level function, runs one config on the data and returns its
record; :func:`run_all` hands every task not yet ended to :mod:`layerspeed.experiments.driver`,
which runs them on any ``concurrent.futures.Executor`` (by default a process pool with one
BLAS thread per worker; a ``ThreadPoolExecutor`` or Dask's ``Client.get_executor()`` work the
same) and writes every run folder. A run that fails or diverges is recorded, never raised.

Seeding follows ``layerspeed train``: the weights come from ``default_rng([seed, 0])`` and the
mini-batch shuffles from ``default_rng([seed, 1])``, so a run's result depends only on its
config and seed, not on the worker or the order, and ``layerspeed train --sizes X --seed N``
retraces the depth run of X with seed N. The driver loads MNIST once and ships the images the
plan needs to the workers; a worker never reads the cache or the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from layerspeed.experiments.chapter import (
    DepthRun,
    Experiment,
    InitialSpeeds,
    RunConfig,
    RunRecord,
    TrainingSpeeds,
)
from layerspeed.experiments.driver import (
    DataSet,
    Outcome,
    default_workers,
    floats,
    is_current,
    one_blas_thread,
    pending,
    process_pool,
    train_recorded,
)
from layerspeed.experiments.driver import run as drive
from layerspeed.nn import Network, SGDConfig, accuracy
from layerspeed.probes import SpeedProbe, layer_speeds
from layerspeed.store import RunDir, read_json, result_record

__all__ = [
    "Outcome",
    "Task",
    "collect",
    "compute",
    "default_workers",
    "is_current",
    "load_data",
    "one_blas_thread",
    "plan_tasks",
    "process_pool",
    "run_all",
    "run_path",
]

N_EVAL = 10_000  # the depth runs score every validation image


@dataclass(frozen=True)
class Task:
    """One run: what to run, with which seed, and where its folder is."""

    experiment: str
    config: RunConfig
    seed: int
    run_dir: str  # absolute path of the run folder

    @property
    def name(self) -> str:
        return f"{self.experiment}/{self.config.label}/seed-{self.seed}"

    @property
    def extra(self) -> dict[str, Any]:
        return {}  # nothing beside the result in result.json


def run_path(out: str | os.PathLike[str], experiment: str, label: str, seed: int) -> Path:
    """``OUT/runs/<experiment>/<label>/seed-<seed>``."""
    return Path(out) / "runs" / experiment / label / f"seed-{seed}"


def plan_tasks(experiments: Sequence[Experiment], out: str | os.PathLike[str]) -> list[Task]:
    """Every (experiment, config, seed) as a task, in experiment order."""
    root = Path(out).resolve()
    return [
        Task(exp.name, cfg, seed, str(run_path(root, exp.name, cfg.label, seed)))
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


def _n_train(cfg: RunConfig) -> int:
    return cfg.n_probe if isinstance(cfg, InitialSpeeds) else cfg.n_train


def load_data(
    tasks: Sequence[Task],
    *,
    offline: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> DataSet:
    """The MNIST images the ``tasks`` read (in the driver), loaded as :func:`load_mnist` does."""
    from layerspeed.data import load_mnist

    mnist = load_mnist(offline=offline, data_dir=Path(data_dir) if data_dir else None)
    return DataSet.from_mnist(mnist, max(_n_train(t.config) for t in tasks), N_EVAL)


# ---- the work of one run (in a worker) -------------------------------------------------------
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


def run_depth(cfg: DepthRun, seed: int, data: DataSet) -> tuple[dict[str, Any], str, str | None]:
    """Train for ``cfg.epochs`` and score the validation images after every epoch."""
    net = _network(cfg, seed)
    train_x, eval_x = floats(data)
    x = train_x[: cfg.n_train]  # (n, 784)
    y = _one_hot(data.train_labels[: cfg.n_train])  # (n, 10)
    records, status, message = train_recorded(
        net,
        x,
        y,
        SGDConfig(cfg.epochs, cfg.mini_batch_size, cfg.eta, cfg.lmbda),
        seed=seed,
        evaluation=(eval_x, data.eval_labels),
    )
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


def run_initial(
    cfg: InitialSpeeds, seed: int, data: DataSet
) -> tuple[dict[str, Any], str, str | None]:
    """Speeds and per-neuron dC/db of the freshly initialized network on the probe set."""
    net = _network(cfg, seed)
    train_x, _ = floats(data)
    report = layer_speeds(net, train_x[: cfg.n_probe], _one_hot(data.train_labels[: cfg.n_probe]))
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
    cfg: TrainingSpeeds, seed: int, data: DataSet
) -> tuple[dict[str, Any], str, str | None]:
    """Full-batch descent; the probe reads each step's own gradient (no extra pass)."""
    net = _network(cfg, seed)
    x = floats(data)[0][: cfg.n_train]  # (n, 784), also the probe set
    labels = data.train_labels[: cfg.n_train]
    y = _one_hot(labels)
    probe = SpeedProbe(x, y)
    records, status, message = train_recorded(
        net, x, y, SGDConfig(cfg.epochs, cfg.n_train, cfg.eta, cfg.lmbda), seed=seed,
        callbacks=[probe],
    )  # fmt: skip
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


def compute(cfg: RunConfig, seed: int, data: DataSet) -> tuple[dict[str, Any], str, str | None]:
    """One run of any kind (in a worker): the ``result.json`` body, its status and a message."""
    return RUNNERS[cfg.kind](cfg, seed, data)


def run_all(
    experiments: Sequence[Experiment],
    out: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    workers: int | None = None,
    data: DataSet | None = None,
    offline: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Run every task of ``experiments`` not yet ended (:func:`is_current`); return outcomes.

    ``executor``: any ``concurrent.futures.Executor``; by default a local process pool of
    ``workers`` processes, shut down at the end. ``data``: the images to run on; None loads
    MNIST (:func:`load_data`, with ``offline`` and ``data_dir``), but only if a run is left.
    ``on_plan(to_run, already_ended)`` is called once before the runs, ``on_outcome`` after
    each.
    """
    tasks = plan_tasks(experiments, out)
    todo = pending(tasks, _cost)
    if on_plan is not None:
        on_plan(len(todo), len(tasks) - len(todo))
    if not todo:
        return []
    if data is None:
        data = load_data(todo, offline=offline, data_dir=data_dir)
    return drive(todo, compute, data, executor=executor, workers=workers, on_outcome=on_outcome)


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
