"""A reproduction: the chapter preset, the remedies preset (``OUT/remedies``), the chain and,
with ``beyond``, the modern, depth and chaos presets, in one pool of workers; then the views."""

from __future__ import annotations

import datetime as _dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

from layerspeed.experiments.chapter import aggregate
from layerspeed.experiments.datasets import load_data, with_dataset
from layerspeed.experiments.driver import RunRecord, collect, default_workers, plan
from layerspeed.experiments.grid import Grid, load_preset
from layerspeed.experiments.schema import SCHEMA_VERSION, Results
from layerspeed.pipeline.common import Finished, Progress, run_jobs, tidy, unfinished_runs, versions
from layerspeed.pipeline.sweep import sweep_summary, write_sweep
from layerspeed.store import check_writable, write_json_atomic, write_text_atomic


def chapter_grids(*, quick: bool, seeds: int | None) -> tuple[Grid, Grid]:
    """The chapter and remedies presets at the size asked for."""
    chapter, remedies = load_preset("chapter"), load_preset("remedies")
    if quick:
        chapter, remedies = chapter.with_quick(), remedies.with_quick()
    if seeds is not None:
        chapter = chapter.with_seeds(seeds, quick=quick)
    return chapter, remedies


def reproduce(
    out: Path,
    *,
    quick: bool = False,
    seeds: int | None = None,
    remedies: bool = True,
    workers: int | None = None,
    progress: Progress | None = None,
    offline: bool = False,
    on_plan: Callable[[int, int], None] | None = None,
    dataset: str = "mnist",
    beyond: bool = False,
) -> Finished:
    """The chapter's experiments, the remedies sweep and the chain; then the views. ``dataset``:
    the real data set every run reads; ``beyond``: also the modern, depth and chaos presets."""
    from layerspeed.beyond import plan_beyond
    from layerspeed.chain import chapter_chain_results
    from layerspeed.views.text.verdicts import with_words

    check_writable(out, folder=True, label="--out")
    tidy(out)
    start = time.perf_counter()
    chapter, remedies_grid = (
        with_dataset(g, dataset) for g in chapter_grids(quick=quick, seeds=seeds)
    )
    chapter_tasks = plan(chapter, out)
    if remedies:
        check_writable(out / "remedies", folder=True, label=f"--out {out.name}/remedies")
    remedies_tasks = plan(remedies_grid, out / "remedies") if remedies else []
    later = plan_beyond(out, quick=quick, dataset=dataset, run=beyond)
    n_workers = workers or default_workers()
    ran = run_jobs(chapter_tasks + remedies_tasks + later.tasks, executor=None, workers=n_workers,
               progress=progress, description="runs", offline=offline, on_plan=on_plan)  # fmt: skip
    records = collect(chapter_tasks)
    results: Results = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            **versions(),
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "argv": list(sys.argv),
            "quick": quick,
            "dataset": dataset,
            "seeds": {s.name: len(s.seeds) for s in chapter.studies},
            "workers": n_workers,
            "runs_this_time": ran,  # the rest were already done
        },
    }
    results.update(aggregate(chapter, records))
    results.update(theory_part(chapter, records, offline=offline))
    results["chain"] = chapter_chain_results(seed=0, n_chains=10_000)
    unfinished = unfinished_runs(records)
    paths: list[Path] = []
    if remedies:
        remedies_records = collect(remedies_tasks)
        summary = sweep_summary(remedies_grid.studies[0], remedies_records, quick=quick)
        paths += write_sweep(summary, out / "remedies")
        results["remedies"] = summary
        unfinished += unfinished_runs(remedies_records)
    paths += later.finish(results, out, unfinished)  # OUT/modern, depth, chaos; results["beyond"]
    results["meta"]["elapsed_s"] = time.perf_counter() - start
    results = with_words(results)
    return Finished(results, paths + write_reproduction(results, out), unfinished)


def theory_part(chapter: Grid, records: list[RunRecord], *, offline: bool) -> Results:
    """``{"theory": ...}``: the mean-field prediction beside the initial speeds, where they ran."""
    from layerspeed.experiments.theory_check import aggregate_theory

    study = next((s for s in chapter.studies if s.name == "initial"), None)
    mine = [r for r in records if study is not None and r.task.study == study.name]
    if study is None or not any(r.status == "done" for r in mine):
        return {}
    data = load_data([p.config for p in study.points()], offline=offline)  # the probe images
    return {"theory": aggregate_theory(study, mine, data)}


def write_reproduction(results: Results, out: Path) -> list[Path]:
    """``results.json``, ``summary.md``, the figures and ``report.html``."""
    from layerspeed.views.figures import chapter_figures, save_figures
    from layerspeed.views.report import write_report
    from layerspeed.views.text.chapter import to_markdown
    from layerspeed.views.text.sweep import remedies_section

    paths = save_figures(chapter_figures(results), out / "figures")
    summary = to_markdown(results)
    if "theory" in results:
        from layerspeed.views.figures.theory import theory_figures
        from layerspeed.views.text.theory import theory_markdown

        paths += save_figures(theory_figures(results["theory"]), out / "figures")
        summary += "\n" + theory_markdown(results["theory"])
    if "remedies" in results:
        summary += "\n" + remedies_section(results["remedies"])
    write_json_atomic(out / "results.json", results, indent=1)
    write_text_atomic(out / "summary.md", summary)
    return [*paths, out / "results.json", out / "summary.md", write_report(out)]
