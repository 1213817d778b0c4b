"""What the jobs share: the progress hook, the versions a result records, what a job
leaves (:class:`Finished`), and running a list of tasks on the one driver."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerspeed import __version__
from layerspeed.experiments.driver import STALE_AFTER_S, Outcome, RunRecord, Task, run_tasks
from layerspeed.store import remove_stale_temporaries

# progress(total, description) -> a context manager yielding advance(message)
Progress = Callable[[int, str], AbstractContextManager[Callable[[str], None]]]
VERSIONED = ("numpy", "scipy", "altair", "vl-convert-python", "jinja2")


@contextmanager
def _silent(total: int, description: str) -> Iterator[Callable[[str], None]]:
    def advance(message: str = "") -> None:
        return None

    yield advance


def versions() -> dict[str, str]:
    """The versions a result was made with: layerspeed's, Python's and the libraries'."""
    out = {"layerspeed_version": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class Finished:
    """What a job left: its summary, the files written, and the runs that did not finish."""

    summary: Mapping[str, Any]  # results.json (a reproduction) or summary.json (a sweep)
    paths: list[Path]
    unfinished: list[str]  # "name: status: message" of every run not done or diverged


def unfinished_runs(records: list[RunRecord]) -> list[str]:
    return [
        f"{r.task.name}: {r.status or 'not run'}: {r.message}"
        for r in records
        if r.status not in ("done", "diverged")
    ]


def run_jobs(
    tasks: list[Task],
    *,
    executor: Executor | None,
    workers: int | None,
    progress: Progress | None,
    description: str,
    offline: bool,
    on_plan: Callable[[int, int], None] | None,
) -> int:
    """Run the tasks not yet ended, with a progress display; how many ran.

    The driver decides once which tasks are left; the display opens when it says how many.
    """
    ran: list[int] = []
    advance: list[Callable[[str], None]] = []
    with ExitStack() as stack:

        def planned(to_run: int, done: int) -> None:
            if on_plan is not None:
                on_plan(to_run, done)
            ran.append(to_run)
            advance.append(stack.enter_context((progress or _silent)(to_run, description)))

        def report(outcome: Outcome) -> None:
            redone = f"; redone, as its {outcome.redone}" if outcome.redone else ""
            advance[0](f"{outcome.task.name} {outcome.status} ({outcome.seconds:.1f} s){redone}")

        run_tasks(tasks, executor=executor, workers=workers, on_plan=planned,
                  on_outcome=report, offline=offline)  # fmt: skip
    return ran[0]


def tidy(out: Path) -> None:
    """Remove what killed writers left in a job's output folders: temporary files untouched
    for an hour (the run folders are the driver's)."""
    before = time.time() - STALE_AFTER_S
    for folder in (out, out / "figures", out / "remedies", out / "remedies" / "figures"):
        remove_stale_temporaries(folder, before=before)
