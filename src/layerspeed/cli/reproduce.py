"""``layerspeed reproduce``: the whole section, the book beside the measurements.

Parses, calls :func:`layerspeed.pipeline.reproduce`, prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from layerspeed.cli._app import cli, dataset_option, exit_status, offline_option, workers_option
from layerspeed.console import progress, stdout
from layerspeed.errors import plural


@cli.command()
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder (runs/, figures/, summary.md, results.json) "
    "[default: layerspeed-results, or layerspeed-results/DATASET for another data set].",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Seeds for the depth and training-speed runs [default: 5, or 2 with --quick]; 4x as many (at least 20) for the cheap initial-speed runs.",
)
@workers_option
@click.option(
    "--quick",
    is_flag=True,
    help="A smoke run of about a minute: 2 epochs on 5000 images, 50 full-batch epochs.",
)
@click.option(
    "--no-remedies",
    is_flag=True,
    help="Only the book's experiments: skip the remedies sweep (activation x initializer).",
)
@click.option(
    "--beyond",
    is_flag=True,
    help="Also the presets beyond the book, in the same pool of workers: modern (batch norm, "
    "residual, LARS, ReLU + He, tanh at the edge of chaos; about 15 minutes on 2 cores, --quick seconds), "
    "depth (1 to 30 hidden layers) and chaos (the order-to-chaos line), into OUT/modern, "
    "OUT/depth and OUT/chaos, with a section of the report.",
)
@dataset_option(
    default="mnist",
    help="Run the chapter's experiments on this data set and say whether each of the book's "
    "claims still holds there (fashion-mnist: Fashion-MNIST, fetched on first use).",
)
@offline_option
def reproduce(
    out: Path | None,
    seeds: int | None,
    workers: int | None,
    quick: bool,
    no_remedies: bool,
    beyond: bool,
    dataset: str,
    offline: bool,
) -> int:
    """Reproduce the chapter's experiments: depth table, neuron bars, initial and training speeds.

    Then the single-neuron chain and the chapter's problems, and the remedies sweep
    (activation x initializer on [784,30,30,30,30,10]); at the end OUT/report.html.
    Rerunning skips the runs already done; a killed reproduction loses only the runs that
    were in progress.
    """
    from layerspeed import pipeline
    from layerspeed.data.catalog import title

    if out is None:
        out = Path("layerspeed-results")
        out = out / dataset if dataset != "mnist" else out
    where = out

    def on_plan(to_run: int, done: int) -> None:
        n = workers or pipeline.default_workers()
        click.echo(
            f"{plural(to_run + done, 'run')} on {title(dataset)} in {where}: {done} already "
            f"done, {to_run} to run on {n} worker{'s' * (n > 1)}" + (" (quick)" if quick else ""),
            err=True,
        )

    finished = pipeline.reproduce(
        out, quick=quick, seeds=seeds, remedies=not no_remedies, workers=workers,
        progress=progress, offline=offline, on_plan=on_plan, dataset=dataset, beyond=beyond,
    )  # fmt: skip
    _print_summary(finished.summary)
    click.echo(
        f"Wrote {out / 'summary.md'}, {out / 'results.json'} and {out / 'figures'}/", err=True
    )
    for problem in finished.unfinished:
        click.echo(f"layerspeed: {problem}", err=True)
    click.echo(f"The report: {(out / 'report.html').resolve()}")
    return exit_status(finished.unfinished)


def _print_summary(results: Mapping[str, Any]) -> None:
    from rich.table import Table

    from layerspeed.data.catalog import title
    from layerspeed.views.text.chapter import comparison_rows
    from layerspeed.views.text.verdicts import all_verdicts

    on = title(results.get("meta", {}).get("dataset", "mnist"))
    table = Table(title=f"The book against the measurements on {on}", show_lines=False)
    for name in ("experiment", "quantity", "book", "measured", "inside"):
        table.add_column(name, overflow="fold")
    for row in comparison_rows(results):
        table.add_row(*(c.replace("**", "") for c in row))
    stdout.print(table)
    claims = Table(title=f"The book's claims on {on}")
    for name in ("experiment", "claim", "holds", "evidence"):
        claims.add_column(name, overflow="fold")
    for name, v in all_verdicts(results):
        word = {True: "[green]yes[/]", False: "[red]no[/]", None: "undecided"}[v["holds"]]
        claims.add_row(name, v["claim"], word, v["evidence"])
    stdout.print(claims)
