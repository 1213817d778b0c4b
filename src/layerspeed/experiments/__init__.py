"""Experiments: one run model, grids of runs in TOML, one driver, and the aggregates.

- :mod:`~layerspeed.experiments.config`: :class:`RunConfig`, what one run is, and the seeds'
  random streams;
- :mod:`~layerspeed.experiments.run`: :func:`train_run`, the one function that trains;
- :mod:`~layerspeed.experiments.grid` and ``presets/*.toml``: studies as grids, the chapter's
  and the remedies' among them;
- :mod:`~layerspeed.experiments.driver`: plans the runs, runs them on any
  ``concurrent.futures.Executor`` and writes every run folder;
- :mod:`~layerspeed.experiments.chapter` and :mod:`~layerspeed.experiments.summary`: the runs
  summed up over seeds, and the book's claims judged by numbers.
"""

from layerspeed.experiments.chapter import BOOK_DEPTH, BOOK_INITIAL, Verdict, aggregate
from layerspeed.experiments.config import RunConfig
from layerspeed.experiments.driver import (
    Outcome,
    RunRecord,
    Task,
    collect,
    plan,
    process_pool,
    run_tasks,
)
from layerspeed.experiments.grid import Grid, Study, load_grid, load_preset, parse_grid
from layerspeed.experiments.run import RunResult, train_run
from layerspeed.experiments.summary import summarize

__all__ = [
    "BOOK_DEPTH",
    "BOOK_INITIAL",
    "Grid",
    "Outcome",
    "RunConfig",
    "RunRecord",
    "RunResult",
    "Study",
    "Task",
    "Verdict",
    "aggregate",
    "collect",
    "load_grid",
    "load_preset",
    "parse_grid",
    "plan",
    "process_pool",
    "run_tasks",
    "summarize",
    "train_run",
]
