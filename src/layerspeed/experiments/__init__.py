"""The chapter's experiments as declarative configs, and one runner for all of them.

:mod:`layerspeed.experiments.chapter` says what is run (and how the results are summed up);
:mod:`layerspeed.experiments.runner` runs it on any ``concurrent.futures.Executor``.
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
    run_task,
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
    "run_task",
    "verdicts",
]
