"""The chapter's experiments as declarative configs, and one driver for all of them.

:mod:`layerspeed.experiments.chapter` says what is run (and how the results are summed up);
:mod:`layerspeed.experiments.runner` supplies its runs, and :mod:`layerspeed.experiments.sweep`
the sweeps', to :mod:`layerspeed.experiments.driver`, which runs them on any
``concurrent.futures.Executor`` and writes every run folder.
"""

from layerspeed.experiments.chapter import (
    BOOK_DEPTH,
    BOOK_INITIAL,
    DepthRun,
    Experiment,
    InitialSpeeds,
    Plan,
    RunConfig,
    RunRecord,
    TrainingSpeeds,
    aggregate,
    chapter_experiments,
    config_from_dict,
    verdicts,
)
from layerspeed.experiments.runner import (
    Outcome,
    Task,
    collect,
    plan_tasks,
    process_pool,
    run_all,
)

__all__ = [
    "BOOK_DEPTH",
    "BOOK_INITIAL",
    "DepthRun",
    "Experiment",
    "InitialSpeeds",
    "Outcome",
    "Plan",
    "RunConfig",
    "RunRecord",
    "Task",
    "TrainingSpeeds",
    "aggregate",
    "chapter_experiments",
    "collect",
    "config_from_dict",
    "plan_tasks",
    "process_pool",
    "run_all",
    "verdicts",
]
