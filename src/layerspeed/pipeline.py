"""The two jobs end to end: a reproduction of the chapter and a sweep, from runs to report.

The command line calls these and prints; they plan the runs
(:mod:`layerspeed.experiments.grid`), run them on one driver
(:mod:`layerspeed.experiments.driver`), sum them up (:mod:`layerspeed.experiments.chapter`,
:mod:`layerspeed.experiments.summary`), put the verdicts and findings into words
(:mod:`layerspeed.views.text`), and write ``results.json`` / ``summary.json``, ``summary.md``,
the figures and ``report.html`` through :mod:`layerspeed.store`.

A reproduction is the ``chapter`` preset, the ``remedies`` preset (in ``OUT/remedies``) and
the single-neuron chain; both presets' runs share one pool of workers.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerspeed import __version__
from layerspeed.errors import BadInput, LayerspeedError
from layerspeed.experiments.chapter import aggregate
from layerspeed.experiments.config import RunConfig, check_value
from layerspeed.experiments.datasets import load_data, with_dataset
from layerspeed.experiments.driver import (
    STALE_AFTER_S,
    Outcome,
    RunRecord,
    Task,
    collect,
    default_workers,
    plan,
    run_tasks,
)
from layerspeed.experiments.grid import Grid, Study, load_preset
from layerspeed.experiments.run import RunResult, train_run
from layerspeed.experiments.schema import SCHEMA_VERSION, Results
from layerspeed.experiments.summary import summarize
from layerspeed.nn import Network
from layerspeed.store import (
    check_writable,
    remove_stale_temporaries,
    write_json_atomic,
    write_text_atomic,
)

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


def _unfinished(records: list[RunRecord]) -> list[str]:
    return [
        f"{r.task.name}: {r.status or 'not run'}: {r.message}"
        for r in records
        if r.status not in ("done", "diverged")
    ]


def _run(
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


def _tidy(out: Path) -> None:
    """Remove what killed writers left in a job's output folders: temporary files untouched
    for an hour (the run folders are the driver's)."""
    before = time.time() - STALE_AFTER_S
    for folder in (out, out / "figures", out / "remedies", out / "remedies" / "figures"):
        remove_stale_temporaries(folder, before=before)


# ---- a sweep -------------------------------------------------------------------------------


def sweep_summary(study: Study, records: list[RunRecord], **meta: Any) -> dict[str, Any]:
    """A study's summary with its findings in words and its ``meta``."""
    from layerspeed.views.text.sweep import findings

    summary = summarize(study, records)
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
    _tidy(out)
    start = time.perf_counter()
    study = (grid.with_quick() if quick else grid).studies[0]
    tasks = plan(Grid(grid.name, (study,), nested=False), out)
    ran = _run(tasks, executor=executor, workers=workers, progress=progress,
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
    return Finished(summary, write_sweep(summary, out), _unfinished(records))


# ---- a reproduction ------------------------------------------------------------------------


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
    _tidy(out)
    start = time.perf_counter()
    chapter, remedies_grid = (
        with_dataset(g, dataset) for g in chapter_grids(quick=quick, seeds=seeds)
    )
    chapter_tasks = plan(chapter, out)
    remedies_tasks = plan(remedies_grid, out / "remedies") if remedies else []
    later = plan_beyond(out, quick=quick, dataset=dataset, run=beyond)
    n_workers = workers or default_workers()
    ran = _run(chapter_tasks + remedies_tasks + later.tasks, executor=None, workers=n_workers,
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
    unfinished = _unfinished(records)
    paths: list[Path] = []
    if remedies:
        remedies_records = collect(remedies_tasks)
        summary = sweep_summary(remedies_grid.studies[0], remedies_records, quick=quick)
        paths += write_sweep(summary, out / "remedies")
        results["remedies"] = summary
        unfinished += _unfinished(remedies_records)
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


# ---- one network -----------------------------------------------------------------------------


def _loaded(load_path: Path, dtype: str = "float64") -> Network:
    net = Network.load(load_path).astype(dtype)
    check_value("sizes", net.sizes, where=f"the network in {load_path}")
    return net


def network_speeds(
    *,
    load_path: Path | None,
    sizes: tuple[int, ...] | None,
    seed: int = 0,
    init: str = "default",
    activation: str = "sigmoid",
    cost: str = "cross-entropy",
    n_probe: int = 1000,
    offline: bool = False,
    dataset: str = "mnist",
) -> dict[str, Any]:
    """The speeds of one network (saved, or fresh from ``seed``) on the first ``n_probe``
    training images: what ``layerspeed speeds`` prints."""
    net = _loaded(load_path) if load_path is not None else None  # read once
    config = RunConfig(
        net.sizes if net is not None else sizes,  # type: ignore[arg-type]
        init=init,
        activation=net.activation if net is not None else activation,
        cost=net.cost if net is not None else cost,
        epochs=0, n_train=n_probe, n_probe=n_probe, record=("speeds", "neurons"), dataset=dataset,
        norm=net.norm if net is not None else "none", residual=net is not None and net.residual,
    )  # fmt: skip
    result = train_run(config, seed, load_data([config], offline=offline), net=net)
    return {
        "sizes": list(config.sizes),
        "source": str(load_path) if load_path else {"seed": seed, "init": init},
        "n_probe": n_probe,
        "dataset": dataset,
        **{k: v for k, v in result.epochs[0].items() if k != "epoch"},
    }


def train_network(
    config: RunConfig,
    seed: int,
    *,
    load_path: Path | None = None,
    save_path: Path | None = None,
    history_path: Path | None = None,
    offline: bool = False,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """``layerspeed train``: one run, the network saved and its record written as a run
    folder's ``result.json`` is. Outputs are checked before training and written after; one
    that fails then is kept in the working folder or the data cache, and the error says
    where."""
    for label, path in (("--save", save_path), ("--history", history_path)):
        if path is not None:
            check_writable(path, label=label)
    if save_path is not None and history_path is not None and _same_file(save_path, history_path):
        raise BadInput(f"--save and --history both name {save_path}; give two different files")
    net = _loaded(load_path, config.dtype) if load_path is not None else None
    data = load_data([config], offline=offline)
    result = train_run(config, seed, data, net=net, on_epoch_end=on_epoch_end)
    if result.status != "done":
        raise LayerspeedError(result.message or "training diverged")
    lost = []
    if save_path is not None and result.net is not None:
        lost += _write_or_keep("--save", save_path, result.net.save, "network")
    if history_path is not None:
        body = result.to_dict(config, seed, "train") | {
            "load": str(load_path) if load_path else None
        }
        lost += _write_or_keep(
            "--history", history_path, lambda p: write_json_atomic(p, body), "history"
        )
    if lost:
        raise LayerspeedError("; ".join(lost))
    return result


def _same_file(a: Path, b: Path) -> bool:
    """Whether two output paths name one file, through symlinks (and hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _write_or_keep(label: str, path: Path, write: Callable[[Path], None], what: str) -> list[str]:
    """``write(path)``; if that fails after the work is done, write the work to the working
    folder or, failing that, beside the data cache. One phrase per failure, saying where."""
    try:
        write(path)
        return []
    except (OSError, LayerspeedError) as e:
        reason = (e.strerror if isinstance(e, OSError) else None) or str(e)
    from layerspeed.data import data_dir

    name = f"layerspeed-{what}-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}.json"
    for folder in (Path.cwd, data_dir):
        try:
            kept = folder() / name
            write(kept)
        except (OSError, LayerspeedError):
            continue
        return [f"could not write {label} {path} ({reason}); the {what} is kept in {kept}"]
    return [f"could not write {label} {path} ({reason}), nor keep the {what} anywhere"]
