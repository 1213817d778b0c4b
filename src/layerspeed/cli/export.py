"""``layerspeed export DIR``: the runs in DIR as a tidy table (CSV, Parquet) and as
TensorBoard runs; see :mod:`layerspeed.export`."""

from __future__ import annotations

from pathlib import Path

import click

from layerspeed.cli._app import cli
from layerspeed.errors import plural
from layerspeed.export import export


@cli.command("export")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the long table here as CSV; - for stdout.",
)
@click.option(
    "--parquet",
    "parquet_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help='Write the long table here as Parquet (needs pyarrow: "layerspeed[pandas]").',
)
@click.option(
    "--tensorboard",
    "logdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write one TensorBoard run per run folder under this folder.",
)
def export_command(
    directory: Path, csv_path: Path | None, parquet_path: Path | None, logdir: Path | None
) -> int:
    """Export every run in DIRECTORY as one long table and/or as TensorBoard runs.

    DIRECTORY is what `reproduce --out` or `sweep --out` wrote, a folder the PyTorch probe
    saved, any folder of run folders, or a `train --history` file. The table has one row per
    number: run, study, dataset, the grid keys, seed, epoch, step, layer, neuron, metric,
    value. Then: tensorboard --logdir LOGDIR
    """
    done = export(directory, csv_path=csv_path, parquet_path=parquet_path, logdir=logdir)
    quiet = csv_path is not None and str(csv_path) == "-"  # the table is on stdout
    echo = (lambda s: click.echo(s, err=True)) if quiet else click.echo
    for path in (p for p in (csv_path, parquet_path) if p is not None and str(p) != "-"):
        echo(str(path))
    if logdir is not None:
        echo(f"{logdir} (tensorboard --logdir {logdir})")
    echo(f"{plural(done.rows, 'row')} from {plural(done.runs, 'run')}")
    return 0
