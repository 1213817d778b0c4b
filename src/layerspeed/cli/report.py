"""``layerspeed report DIR``: write ``DIR/report.html`` from the results in DIR.

The page comes from :func:`layerspeed.views.report.to_html`; this module only resolves paths,
writes it and prints where it is.
"""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from layerspeed.cli._app import cli
from layerspeed.errors import BadInput
from layerspeed.store import STDOUT
from layerspeed.views.report import write_report


@cli.command("report")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the page (default: DIR/report.html); - for stdout.",
)
@click.option("--open", "open_", is_flag=True, help="Open the page in a web browser afterwards.")
def report_command(directory: Path, out: Path | None, open_: bool) -> int:
    """Write a self-contained HTML report of the results and run folders in DIRECTORY.

    DIRECTORY is what `layerspeed reproduce --out` wrote, or any folder of run folders (the
    PyTorch probe's, sweeps'). The page needs no network: open it from disk.
    """
    if open_ and str(out) == STDOUT:
        raise BadInput("--open needs the page in a file, not on stdout (--out -)")
    path = write_report(directory, out)
    if str(path) != STDOUT:
        click.echo(str(path))
    if open_:
        webbrowser.open(path.resolve().as_uri())
    return 0
