"""``layerspeed sweep``: a grid of networks, each measured layer by layer, on any executor.

Locally it runs on worker processes (one BLAS thread each); with ``--scheduler`` on a Dask
cluster (the optional extra ``layerspeed[cluster]``). Parses, calls
:func:`layerspeed.pipeline.sweep`, prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from layerspeed.cli._app import cli, dataset_option, exit_status, offline_option, workers_option
from layerspeed.errors import BadInput, LayerspeedError, plural
from layerspeed.experiments.grid import CONFIRM_RUNS

CLUSTER_HINT = 'the Dask cluster runner needs the extra: pip install "layerspeed[cluster]"'


def _dask_executor(address: str) -> tuple[Any, Any]:
    """A ``distributed.Client`` connected to ``address`` and its concurrent.futures executor."""
    try:
        from distributed import Client
    except ImportError:
        raise LayerspeedError(f"--scheduler: {CLUSTER_HINT}") from None
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError, ValueError) as e:
        raise LayerspeedError(
            f"--scheduler: cannot reach the Dask scheduler at {address}: {e}"
        ) from None
    return client, client.get_executor()


@cli.command()
@click.argument("config", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--preset",
    type=click.Choice(["remedies", "modern", "depth", "chaos"]),
    default=None,
    help="A built-in sweep instead of CONFIG: remedies (activation x initializer on "
    "[784,30,30,30,30,10]), modern (batch norm, residual, LARS, ReLU + He, tanh at the edge of "
    "chaos beside the book's network; about 15 minutes on 2 cores), depth (1 to 30 hidden layers) or chaos "
    "(sigma_w x sigma_b for sigmoid and tanh at depth 10).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder [default: layerspeed-sweeps/<name>].",
)
@workers_option
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Run on this Dask scheduler's workers (needs layerspeed[cluster]).",
)
@click.option(
    "--quick", is_flag=True, help="The config's [quick] variant (for remedies: about 30 s)."
)
@click.option(
    "--yes",
    is_flag=True,
    help=f"Run a grid of more than {CONFIRM_RUNS:,} runs (else refused, with how to split it).",
)
@dataset_option(
    default=None,
    help="Run every grid point on this data set, over the grid's own dataset key "
    "[default: the grid's, else mnist; output in layerspeed-sweeps/<name>-<dataset>].",
)
@offline_option
def sweep(
    config: Path | None,
    preset: str | None,
    out: Path | None,
    workers: int | None,
    scheduler: str | None,
    quick: bool,
    yes: bool,
    dataset: str | None,
    offline: bool,
) -> int:
    """Run every point of a TOML grid of networks, over seeds, and sum it up.

    Each run gets its folder under OUT/runs/ (config.json, status.json, result.json with the
    per-epoch, per-layer measurements); a rerun resumes where the last one stopped. At the
    end OUT/summary.md, OUT/summary.json and OUT/figures/sweep.png sum up the speed spread
    and the accuracy of every grid point (mean and 95% interval over seeds).
    """
    from layerspeed import pipeline
    from layerspeed.console import progress
    from layerspeed.experiments.budget import check_run, run_bytes
    from layerspeed.experiments.datasets import with_dataset
    from layerspeed.experiments.grid import load_grid, load_preset
    from layerspeed.views.text.sweep import sweep_markdown

    if (config is None) == (preset is None):
        raise BadInput("give either a CONFIG.toml or --preset NAME, not both and not neither")
    max_runs = None if yes else CONFIRM_RUNS
    grid = load_preset(preset) if preset is not None else load_grid(config, max_runs=max_runs)  # type: ignore[arg-type]
    grid = with_dataset(grid, dataset)
    # The largest run must fit in memory on its own: refused now, not minutes in.
    planned = grid.with_quick() if quick else grid
    largest = max((p.config for s in planned.studies for p in s.points()), key=run_bytes)
    check_run(largest, f"{grid.name}: its largest run, {list(largest.sizes)},")
    if out is None:
        suffix = f"-{dataset}" if dataset not in (None, "mnist") else ""
        out = Path("layerspeed-sweeps") / f"{grid.name}{suffix}"
    where = f"the Dask scheduler {scheduler}" if scheduler else "local workers"

    def on_plan(to_run: int, done: int) -> None:
        click.echo(
            f"sweep {grid.name}: {plural(to_run + done, 'run')} in {out} on {where}", err=True
        )

    client = executor = None
    if scheduler is not None:
        client, executor = _dask_executor(scheduler)
    try:
        finished = pipeline.sweep(
            grid, out, quick=quick, executor=executor, workers=workers, progress=progress,
            offline=offline, on_plan=on_plan,
        )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    click.echo(sweep_markdown(finished.summary))
    click.echo("Wrote " + ", ".join(str(p) for p in finished.paths), err=True)
    return exit_status(finished.unfinished)
