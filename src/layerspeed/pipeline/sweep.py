"""A sweep: every grid point and seed of one study, summed up, put into words and drawn."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any

from layerspeed.errors import BadInput, LayerspeedError
from layerspeed.experiments.datasets import load_data
from layerspeed.experiments.driver import RunRecord, collect, plan
from layerspeed.experiments.grid import Grid, Study
from layerspeed.experiments.summary import summarize
from layerspeed.pipeline.common import Finished, Progress, run_jobs, tidy, unfinished_runs
from layerspeed.store import check_writable, write_json_atomic, write_text_atomic


def sweep_summary(study: Study, records: list[RunRecord], **meta: Any) -> dict[str, Any]:
    """A study's summary with its findings in words and its ``meta``. The theory's first hidden
    layer starts from the probe images' mean square, read from the cache its runs were fed by."""
    from layerspeed.views.text.sweep import findings

    # The probe images alone (a config that only measures reads n_probe training images).
    probes = [replace(p.config, epochs=0, record=("speeds",)) for p in study.points()]
    try:
        data = load_data(probes, offline=True)
    except LayerspeedError:  # no cache (runs done elsewhere): the theory starts at q*
        data = None
    summary = summarize(study, records, data=data)
    summary["findings"] = findings(summary)
    summary["meta"] |= meta
    return summary


def write_sweep(summary: dict[str, Any], out: Path) -> list[Path]:
    """``out/summary.json``, ``out/summary.md`` and ``out/figures/sweep.{png,svg}``."""
    from layerspeed.views.figures import save_figures, sweep_figure
    from layerspeed.views.text.sweep import sweep_markdown

    write_json_atomic(out / "summary.json", summary, indent=1)
    write_text_atomic(out / "summary.md", sweep_markdown(summary))
    return [
        out / "summary.json",
        out / "summary.md",
        *save_figures({"sweep": sweep_figure(summary)}, out / "figures"),
    ]


def sweep(
    grid: Grid,
    out: Path,
    *,
    quick: bool = False,
    executor: Executor | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    offline: bool = False,
    on_plan: Callable[[int, int], None] | None = None,
) -> Finished:
    """Run every grid point and seed of a one-study grid not yet ended, then sum it up."""
    if grid.nested:
        raise BadInput(
            f"{grid.name}: a file of several studies is a reproduction, not a sweep; "
            "give a file with one [grid]"
        )
    check_writable(out, folder=True, label="--out")
    tidy(out)
    start = time.perf_counter()
    study = (grid.with_quick() if quick else grid).studies[0]
    tasks = plan(Grid(grid.name, (study,), nested=False), out)
    ran = run_jobs(tasks, executor=executor, workers=workers, progress=progress,
               description=f"sweep {study.name}", offline=offline, on_plan=on_plan)  # fmt: skip
    records = collect(tasks)
    summary = sweep_summary(
        study,
        records,
        elapsed_s=time.perf_counter() - start,
        ran=ran,
        executor=type(executor).__name__ if executor is not None else "local_pool",
        workers=workers,
        quick=quick,
    )
    return Finished(summary, write_sweep(summary, out), unfinished_runs(records))
